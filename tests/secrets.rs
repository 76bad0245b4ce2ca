//! Secrets hygiene: the trade password, its MD5, the RSA key and the AES key never show
//! up in logs (checked with a capturing logger at the most verbose level) or in `Debug`
//! output.

mod common;

use std::sync::{Arc, OnceLock};

use common::*;
use ftapi::codec::PacketCipher;
use ftapi::pb::{self, Protocol};
use ftapi::sim::{ConnInfo, TradeHandler};
use ftapi::TradePassword;
use parking_lot::Mutex;
use prost::Message;

struct Capture {
    lines: Mutex<Vec<String>>,
}

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        self.lines.lock().push(format!("{} {} {}", record.level(), record.target(), record.args()));
    }
    fn flush(&self) {}
}

fn capture() -> &'static Capture {
    static C: OnceLock<&'static Capture> = OnceLock::new();
    C.get_or_init(|| {
        let c: &'static Capture = Box::leak(Box::new(Capture { lines: Mutex::new(Vec::new()) }));
        log::set_logger(c).expect("install the capturing logger");
        log::set_max_level(log::LevelFilter::Trace);
        c
    })
}

/// Accepts Trd_UnlockTrade when the MD5 matches, and records what it saw.
struct Unlocker {
    expected_md5: String,
}
impl TradeHandler for Unlocker {
    fn handle(&self, _conn: &ConnInfo, proto_id: u32, body: &[u8]) -> Option<Vec<u8>> {
        if proto_id != pb::proto::UnlockTrade::PROTO_ID {
            return None;
        }
        let req = pb::trd_unlock_trade::Request::decode(body).ok()?;
        let ok = req.c2s.pwd_md5.as_deref() == Some(self.expected_md5.as_str());
        let rsp = pb::trd_unlock_trade::Response {
            ret_type: if ok { 0 } else { -1 },
            ret_msg: (!ok).then(|| "wrong password".to_string()),
            err_code: None,
            s2c: Some(pb::trd_unlock_trade::S2c {}),
        };
        Some(rsp.encode_to_vec())
    }
    fn disconnected(&self, _conn_id: u64) {}
}

const PASSWORD: &str = "s3cret-Trade-Pass";

#[test]
fn secrets_stay_out_of_logs_and_debug_output() {
    let log = capture();
    let password = TradePassword::plain(PASSWORD);
    let md5 = password.pwd_md5().to_string();
    let key = key1024();
    let pem = key.to_pkcs1_pem().expect("pem");
    let pem_line = pem.lines().nth(3).expect("a PEM body line").to_string();

    for mode in [Mode::Cbc, Mode::Ecb] {
        let handler = Arc::new(Unlocker { expected_md5: md5.clone() });
        let sim = sim_with(mode, |b| b.trade_handler(handler));
        let (api, rx) = recorded_api(mode);
        connect(&api, &rx, &sim, mode);
        let c2s = pb::trd_unlock_trade::C2s { unlock: true, pwd_md5: Some(md5.clone()), security_firm: Some(1) };
        assert!(!format!("{c2s:?}").contains(&md5), "unlock request Debug leaks the MD5");
        api.call::<pb::proto::UnlockTrade>(c2s).expect("unlock accepted");
        let wrong = pb::trd_unlock_trade::C2s { unlock: true, pwd_md5: Some("0".repeat(32)), security_firm: None };
        assert!(api.call::<pb::proto::UnlockTrade>(wrong).is_err());
        assert!(!format!("{api:?}").contains(&md5));
        api.close();
    }

    // Debug output of everything that holds a secret.
    let debug = [
        format!("{password:?}"),
        format!("{key:?}"),
        format!("{:?}", PacketCipher::aes_cbc(b"0123456789abcdef", b"fedcba9876543210").unwrap()),
        format!("{:?}", PacketCipher::ft_aes_ecb(b"0123456789abcdef").unwrap()),
        format!("{:?}", PacketCipher::Rsa(key.clone())),
        format!(
            "{:?}",
            pb::init_connect::S2c {
                conn_aes_key: "0123456789abcdef".into(),
                aes_cb_civ: Some("fedcba9876543210".into()),
                ..Default::default()
            }
        ),
    ];
    for d in &debug {
        for secret in [PASSWORD, md5.as_str(), pem_line.as_str(), "0123456789abcdef", "fedcba9876543210"] {
            assert!(!d.contains(secret), "Debug output {d:?} contains a secret");
        }
    }

    let lines = log.lines.lock();
    assert!(!lines.is_empty(), "the logger captured something");
    for line in lines.iter() {
        for secret in [PASSWORD, md5.as_str(), pem_line.as_str()] {
            assert!(!line.contains(secret), "log line leaks a secret: {line}");
        }
    }
}

#[test]
fn a_downgrade_to_plaintext_is_refused() {
    // The client asks for encryption; this OpenD has no RSA key and answers in plaintext.
    let sim = sim(Mode::Plain);
    let (api, rx) = recorded_api(Mode::Cbc);
    let addr = sim.local_addr();
    assert!(api.init_connect(&addr.ip().to_string(), addr.port(), true));
    let (code, desc) = wait_init(&rx);
    assert_ne!(code, 0);
    assert!(desc.contains("answered without encryption"), "{desc}");
    assert!(!api.is_connected());
}
