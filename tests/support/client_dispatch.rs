//! The client's whole read path, dispatch included, driven through the public API: a
//! real [`TrdApi`] connects over loopback to a scripted "OpenD" that answers a valid
//! InitConnect, lets the client put a few requests in flight, then writes bytes built
//! from the fuzz input (raw bytes mixed with properly sealed replies to the pending
//! serials and pushes 1003/2208/2218 with fuzzed bodies) and closes.
//!
//! Shared (through `#[path]`) by the cargo-fuzz target `fuzz/fuzz_targets/client_dispatch.rs`,
//! the proptest in `tests/client_props.rs` and the replay in `tests/fuzz_regressions.rs`.
//!
//! What one run checks: nothing panics (not the harness, not the client's reader
//! thread), `on_init_connect` fires once with success, every request that returned a
//! serial gets exactly one answer (a reply, a refusal, an invalid-packet error,
//! `Timeout` or `Disconnected`) in the callback of its own protocol, errors name the
//! right protocol and serial, and `on_disconnect` fires exactly once (the connection
//! was up and the peer closed it). Every wait is bounded, so a hang fails the run.
//!
//! Input layout (missing bytes read as zero):
//! - byte 0, the selector: bits 0..=1 the session cipher (0 and 3 plain, 1 AES-CBC,
//!   2 FTAES-ECB; the encrypted ones run an RSA InitConnect with the test-only key);
//!   bits 2..=3: the request timeout, 3 = zero (every request times out at once),
//!   2 = 200 ms (replies race the timeout), else [`WAIT`] (nothing times out, so the
//!   outcome does not depend on scheduling); bits 4..=6: 1 + that many requests; bit 7:
//!   the script is written in 7-byte pieces instead of one write;
//! - one byte per request: which request ([`REQUESTS`], modulo its length);
//! - the script: a sequence of operations, see [`Op`].
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock};
use std::time::{Duration, Instant};

use ftapi::codec::{seal_message, seal_packet, sha1_digest, FrameDecoder, FrameHeader, PacketCipher, RsaKey};
use ftapi::pb::{self, Protocol, PushProtocol};
use ftapi::{ConnConfig, ConnSpi, Error, TrdApi, TrdSpi};

/// The test-only RSA key of `tests/data/fuzz/` (never use it outside tests).
const TEST_RSA_PEM: &str = include_str!("../data/fuzz/rsa1024_test_only.pem");
/// AES key the scripted OpenD hands out.
pub const AES_KEY: &str = "0123456789abcdef";
/// CBC IV the scripted OpenD hands out.
pub const AES_IV: &str = "fedcba9876543210";
/// `connID` of every scripted connection.
pub const CONN_ID: u64 = 7_000_000_000_001;
/// Bound on every wait of one run; a run that needs it has found a hang.
pub const WAIT: Duration = Duration::from_secs(10);
/// The short request timeout a selector can ask for.
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(200);
/// Largest body the client accepts in this harness.
pub const MAX_BODY: u32 = 1 << 20;

/// The requests a run can put in flight, by protocol id (the selector bytes index it).
pub const REQUESTS: &[u32] = &[
    pb::proto::GetAccList::PROTO_ID,
    pb::proto::UnlockTrade::PROTO_ID,
    pb::proto::SubAccPush::PROTO_ID,
    pb::proto::GetFunds::PROTO_ID,
    pb::proto::GetPositionList::PROTO_ID,
    pb::proto::GetMaxTrdQtys::PROTO_ID,
    pb::proto::GetComboMaxTrdQtys::PROTO_ID,
    pb::proto::GetOrderList::PROTO_ID,
    pb::proto::PlaceOrder::PROTO_ID,
    pb::proto::ModifyOrder::PROTO_ID,
    pb::proto::GetOrderFillList::PROTO_ID,
    pb::proto::GetHistoryOrderList::PROTO_ID,
    pb::proto::GetHistoryOrderFillList::PROTO_ID,
    pb::proto::GetMarginRatio::PROTO_ID,
    pb::proto::GetOrderFee::PROTO_ID,
    pb::proto::FlowSummary::PROTO_ID,
    pb::proto::PlaceComboOrder::PROTO_ID,
    pb::proto::GetGlobalState::PROTO_ID,
];

/// The push protocols with a `TrdSpi` callback.
pub const PUSHES: [u32; 3] =
    [pb::proto::Notify::PROTO_ID, pb::proto::UpdateOrder::PROTO_ID, pb::proto::UpdateOrderFill::PROTO_ID];

/// Script operations: the low three bits of an op byte pick the kind, the high five
/// bits (`p`) a parameter. "chunk" is a 2-byte little-endian length and that many bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// 0: a chunk written raw (may desynchronise the stream).
    Raw = 0,
    /// 1: a sealed reply to pending request `p % n` whose body is a chunk.
    Reply = 1,
    /// 2: a sealed reply to pending request `p % n`: a Response envelope with the
    /// retType of the next byte (as i8) and a chunk as `s2c`.
    ReplyEnvelope = 2,
    /// 3: a sealed push `PUSHES[p % 3]`, serial from the next byte: a Response envelope
    /// with retType 0 and a chunk as `s2c`.
    PushEnvelope = 3,
    /// 4: a sealed push `PUSHES[p % 3]` whose body is a chunk.
    Push = 4,
    /// 5: a sealed packet with a 4-byte proto id, a 4-byte serial and a chunk as body.
    Packet = 5,
    /// 6: a broken reply to pending request `p % n` (a chunk as body), by `(p / 8) % 4`:
    /// SHA-1 flipped, body format 1 (JSON), sealed with the wrong cipher, or a header
    /// claiming a body over the limit.
    Broken = 6,
    /// 7: the previous sealed packet again (a duplicate reply must be dropped).
    Repeat = 7,
}

/// How a request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A reply with retType 0, decoded.
    Reply,
    /// OpenD's refusal ([`Error::Server`]).
    Refused,
    /// [`Error::Timeout`].
    Timeout,
    /// [`Error::Disconnected`].
    Disconnected,
    /// The reply could not be decrypted, verified or decoded ([`Error::Codec`]).
    Invalid,
}

/// What one run saw (for sanity checks of the harness).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Requests put in flight.
    pub requests: usize,
    /// Answers by kind: reply, refused, timeout, disconnected, invalid.
    pub replies: usize,
    /// See [`Outcome::replies`].
    pub refused: usize,
    /// See [`Outcome::replies`].
    pub timeouts: usize,
    /// See [`Outcome::replies`].
    pub disconnected: usize,
    /// See [`Outcome::replies`].
    pub invalid: usize,
    /// Pushes delivered to a `TrdSpi` callback.
    pub pushes: usize,
    /// Bytes of script written.
    pub script_len: usize,
}

/// Panics on the client's reader threads, counted by a process-wide panic hook.
static READER_PANICS: AtomicUsize = AtomicUsize::new(0);

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The connection's I/O thread, or its callback thread (which catches a
            // panicking callback and goes on, so the hook is where it shows).
            if matches!(std::thread::current().name(), Some("ftapi-reader" | "ftapi-callback")) {
                READER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// One run at a time: the listener is shared by the whole process.
fn run_lock() -> MutexGuard<'static, ()> {
    static RUN: Mutex<()> = Mutex::new(());
    RUN.lock().unwrap_or_else(|e| e.into_inner())
}

fn listener() -> &'static TcpListener {
    static L: OnceLock<TcpListener> = OnceLock::new();
    L.get_or_init(|| {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
        l.set_nonblocking(true).expect("nonblocking listener");
        l
    })
}

/// The test-only RSA key, parsed once.
pub fn test_rsa_key() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| RsaKey::from_pem(TEST_RSA_PEM).expect("the bundled test key parses"))
}

/// Reads input bytes; past the end everything is zero.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        &self.data[start..end]
    }
    fn chunk(&mut self) -> &'a [u8] {
        let n = u16::from_le_bytes([self.byte(), self.byte()]);
        self.take(usize::from(n))
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A Response envelope (retType = 1, errCode = 3, s2c = 4) around raw `s2c` bytes.
pub fn envelope(ret_type: i32, err_code: Option<i32>, s2c: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s2c.len() + 24);
    out.push(0x08);
    put_varint(&mut out, ret_type as i64 as u64);
    if let Some(e) = err_code {
        out.push(0x18);
        put_varint(&mut out, e as i64 as u64);
    }
    out.push(0x22);
    put_varint(&mut out, s2c.len() as u64);
    out.extend_from_slice(s2c);
    out
}

/// Records every callback.
struct Recorder {
    answers: Mutex<Vec<(u32, u32, Answer)>>,
    pushes: AtomicUsize,
    inits: Mutex<Vec<i64>>,
    disconnects: AtomicUsize,
    init_tx: Mutex<mpsc::Sender<i64>>,
    disc_tx: Mutex<mpsc::Sender<()>>,
}

impl Recorder {
    fn answer<T>(&self, proto_id: u32, serial: u32, result: Result<T, Error>, typed: impl FnOnce(&T)) {
        let a = match &result {
            Ok(s2c) => {
                // The conversions the blocking contexts apply; they see hostile data too.
                typed(s2c);
                Answer::Reply
            }
            Err(Error::Server { proto_id: p, .. }) => {
                assert_eq!(*p, proto_id, "refusal names the wrong protocol");
                Answer::Refused
            }
            Err(Error::Timeout { proto_id: p, serial: s, .. }) => {
                assert_eq!((*p, *s), (proto_id, serial), "timeout names the wrong request");
                Answer::Timeout
            }
            Err(Error::Disconnected { proto_id: p, serial: s, .. }) => {
                assert_eq!((*p, *s), (proto_id, serial), "disconnect names the wrong request");
                Answer::Disconnected
            }
            Err(Error::Codec(_)) => Answer::Invalid,
            Err(e) => panic!("proto {proto_id} serial {serial}: unexpected answer {e:?}"),
        };
        self.answers.lock().unwrap_or_else(|e| e.into_inner()).push((proto_id, serial, a));
    }
}

fn funds(f: &pb::trd_common::Funds) {
    let _ = ftapi::types::Funds::from(f);
}

macro_rules! replies {
    ($( $method:ident => $proto:ident, $m:ident, |$s:ident| $typed:expr; )*) => {
        impl TrdSpi for Recorder {
            $(
                fn $method(&self, _api: &TrdApi, serial: u32, result: Result<pb::$m::S2c, Error>) {
                    self.answer(pb::proto::$proto::PROTO_ID, serial, result, |$s: &pb::$m::S2c| {
                        let _ = $typed;
                    });
                }
            )*

            fn on_push_update_order(&self, _api: &TrdApi, push: pb::trd_update_order::S2c) {
                let _ = ftapi::types::AccountRef::from(&push.header);
                let _ = ftapi::types::Order::from(&push.order);
                self.pushes.fetch_add(1, Ordering::SeqCst);
            }

            fn on_push_update_order_fill(&self, _api: &TrdApi, push: pb::trd_update_order_fill::S2c) {
                let _ = ftapi::types::OrderFill::from(&push.order_fill);
                self.pushes.fetch_add(1, Ordering::SeqCst);
            }

            fn on_push_notify(&self, _api: &TrdApi, push: pb::notify::S2c) {
                let _ = format!("{push:?}");
                self.pushes.fetch_add(1, Ordering::SeqCst);
            }
        }
    };
}

replies! {
    on_reply_get_global_state => GetGlobalState, get_global_state, |s| s.server_ver;
    on_reply_get_acc_list => GetAccList, trd_get_acc_list,
        |s| s.acc_list.iter().map(ftapi::types::Account::from).count();
    on_reply_unlock_trade => UnlockTrade, trd_unlock_trade, |s| format!("{s:?}");
    on_reply_sub_acc_push => SubAccPush, trd_sub_acc_push, |s| format!("{s:?}");
    on_reply_get_funds => GetFunds, trd_get_funds, |s| s.funds.as_ref().map(funds);
    on_reply_get_position_list => GetPositionList, trd_get_position_list,
        |s| s.position_list.iter().map(ftapi::types::Position::from).count();
    on_reply_get_max_trd_qtys => GetMaxTrdQtys, trd_get_max_trd_qtys,
        |s| s.max_trd_qtys.as_ref().map(ftapi::types::MaxTrdQtys::from);
    on_reply_get_combo_max_trd_qtys => GetComboMaxTrdQtys, trd_get_combo_max_trd_qtys,
        |s| s.max_trd_qtys.as_ref().map(ftapi::types::ComboMaxTrdQtys::from);
    on_reply_get_order_list => GetOrderList, trd_get_order_list,
        |s| s.order_list.iter().map(ftapi::types::Order::from).count();
    on_reply_place_order => PlaceOrder, trd_place_order, |s| ftapi::types::AccountRef::from(&s.header);
    on_reply_modify_order => ModifyOrder, trd_modify_order, |s| ftapi::types::AccountRef::from(&s.header);
    on_reply_get_order_fill_list => GetOrderFillList, trd_get_order_fill_list,
        |s| s.order_fill_list.iter().map(ftapi::types::OrderFill::from).count();
    on_reply_get_history_order_list => GetHistoryOrderList, trd_get_history_order_list,
        |s| s.order_list.iter().map(ftapi::types::Order::from).count();
    on_reply_get_history_order_fill_list => GetHistoryOrderFillList, trd_get_history_order_fill_list,
        |s| s.order_fill_list.iter().map(ftapi::types::OrderFill::from).count();
    on_reply_get_margin_ratio => GetMarginRatio, trd_get_margin_ratio,
        |s| s.margin_ratio_info_list.iter().map(ftapi::types::MarginRatio::from).count();
    on_reply_get_order_fee => GetOrderFee, trd_get_order_fee,
        |s| s.order_fee_list.iter().map(ftapi::types::OrderFee::from).count();
    on_reply_get_flow_summary => FlowSummary, trd_flow_summary,
        |s| s.flow_summary_info_list.iter().map(ftapi::types::CashFlow::from).count();
    on_reply_place_combo_order => PlaceComboOrder, trd_place_combo_order, |s| format!("{s:?}");
}

impl ConnSpi for Recorder {
    fn on_init_connect(&self, _api: &TrdApi, err_code: i64, _desc: &str) {
        self.inits.lock().unwrap_or_else(|e| e.into_inner()).push(err_code);
        let _ = self.init_tx.lock().unwrap_or_else(|e| e.into_inner()).send(err_code);
    }

    fn on_disconnect(&self, _api: &TrdApi, err_code: i64, _desc: &str) {
        // A socket failure kind (FTAPI_ConnectFailType RecvFailed = 11, or SendFailed = 10)
        // in the high 32 bits of the official composite code.
        assert!(matches!(err_code >> 32, 10 | 11), "on_disconnect carries a socket failure code: {err_code:#x}");
        self.disconnects.fetch_add(1, Ordering::SeqCst);
        let _ = self.disc_tx.lock().unwrap_or_else(|e| e.into_inner()).send(());
    }
}

/// Sends request `REQUESTS[kind % len]`; returns its protocol id and serial.
fn send_request(api: &TrdApi, kind: u8) -> (u32, u32) {
    use pb::proto::*;
    let proto = REQUESTS[usize::from(kind) % REQUESTS.len()];
    let serial = match proto {
        GetAccList::PROTO_ID => api.get_acc_list(Default::default()),
        UnlockTrade::PROTO_ID => api.unlock_trade(Default::default()),
        SubAccPush::PROTO_ID => api.sub_acc_push(Default::default()),
        GetFunds::PROTO_ID => api.get_funds(Default::default()),
        GetPositionList::PROTO_ID => api.get_position_list(Default::default()),
        GetMaxTrdQtys::PROTO_ID => api.get_max_trd_qtys(Default::default()),
        GetComboMaxTrdQtys::PROTO_ID => api.get_combo_max_trd_qtys(Default::default()),
        GetOrderList::PROTO_ID => api.get_order_list(Default::default()),
        PlaceOrder::PROTO_ID => api.place_order(Default::default()),
        ModifyOrder::PROTO_ID => api.modify_order(Default::default()),
        GetOrderFillList::PROTO_ID => api.get_order_fill_list(Default::default()),
        GetHistoryOrderList::PROTO_ID => api.get_history_order_list(Default::default()),
        GetHistoryOrderFillList::PROTO_ID => api.get_history_order_fill_list(Default::default()),
        GetMarginRatio::PROTO_ID => api.get_margin_ratio(Default::default()),
        GetOrderFee::PROTO_ID => api.get_order_fee(Default::default()),
        FlowSummary::PROTO_ID => api.get_flow_summary(Default::default()),
        PlaceComboOrder::PROTO_ID => api.place_combo_order(Default::default()),
        _ => api.get_global_state(),
    };
    (proto, serial)
}

fn accept(deadline: Instant) -> TcpStream {
    loop {
        match listener().accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).expect("blocking socket");
                s.set_read_timeout(Some(WAIT)).expect("read timeout");
                s.set_write_timeout(Some(WAIT)).expect("write timeout");
                s.set_nodelay(true).expect("nodelay");
                return s;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                assert!(Instant::now() < deadline, "the client never connected");
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => panic!("accept failed: {e}"),
        }
    }
}

/// Reads the client's first packet (InitConnect) and returns its header.
fn read_init(sock: &mut TcpStream) -> FrameHeader {
    let mut dec = FrameDecoder::with_max_body_len(MAX_BODY);
    loop {
        if let Some(f) = dec.next_frame().expect("the client sends a valid stream") {
            return f.header;
        }
        match dec.read_from(sock, 4096) {
            Ok(0) => panic!("the client closed before sending InitConnect"),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the client's InitConnect: {e}"),
        }
    }
}

fn init_reply(mode: u8) -> pb::init_connect::Response {
    pb::init_connect::Response {
        ret_type: 0,
        ret_msg: Some(String::new()),
        err_code: Some(0),
        s2c: Some(pb::init_connect::S2c {
            server_ver: 1011,
            login_user_id: 10_000_001,
            conn_id: CONN_ID,
            conn_aes_key: AES_KEY.into(),
            keep_alive_interval: 10,
            aes_cb_civ: (mode == 1).then(|| AES_IV.into()),
            user_attribution: Some(1),
        }),
    }
}

/// The session cipher of a selector's mode, and the "wrong" one for [`Op::Broken`].
fn ciphers(mode: u8) -> (PacketCipher, PacketCipher) {
    let cbc = || PacketCipher::from_init_connect(AES_KEY, Some(AES_IV)).expect("valid key and IV");
    match mode {
        1 => (cbc(), PacketCipher::Plain),
        2 => (PacketCipher::from_init_connect(AES_KEY, None).expect("valid key"), cbc()),
        _ => (PacketCipher::Plain, cbc()),
    }
}

/// Builds the bytes the scripted OpenD writes after the requests are in flight.
pub fn build_script(ops: &[u8], mode: u8, pending: &[(u32, u32)]) -> Vec<u8> {
    let (cipher, wrong) = ciphers(mode);
    let mut cur = Cursor { data: ops, pos: 0 };
    let mut out = Vec::new();
    let mut last: Option<Vec<u8>> = None;
    let target = |p: u8| pending.get(usize::from(p) % pending.len().max(1)).copied().unwrap_or((0, 0));
    while !cur.done() {
        let op = cur.byte();
        let p = op >> 3;
        let packet = match op & 7 {
            0 => {
                out.extend_from_slice(cur.chunk());
                None
            }
            1 => {
                let (proto, serial) = target(p);
                Some(seal_packet(proto, serial, cur.chunk(), &cipher).expect("seal"))
            }
            2 => {
                let (proto, serial) = target(p);
                let ret = i32::from(cur.byte() as i8);
                let body = envelope(ret, (ret != 0).then_some(ret), cur.chunk());
                Some(seal_packet(proto, serial, &body, &cipher).expect("seal"))
            }
            3 => {
                let serial = u32::from(cur.byte());
                let body = envelope(0, None, cur.chunk());
                Some(seal_packet(PUSHES[usize::from(p) % 3], serial, &body, &cipher).expect("seal"))
            }
            4 => {
                let serial = u32::from(cur.byte());
                Some(seal_packet(PUSHES[usize::from(p) % 3], serial, cur.chunk(), &cipher).expect("seal"))
            }
            5 => {
                let proto = cur.u32();
                let serial = cur.u32();
                Some(seal_packet(proto, serial, cur.chunk(), &cipher).expect("seal"))
            }
            6 => {
                let (proto, serial) = target(p);
                let body = cur.chunk();
                Some(match (p >> 3) % 4 {
                    0 => {
                        let mut pk = seal_packet(proto, serial, body, &cipher).expect("seal");
                        pk[16] ^= 0x5a;
                        pk
                    }
                    1 => {
                        let mut pk = seal_packet(proto, serial, body, &cipher).expect("seal");
                        pk[6] = 1;
                        pk
                    }
                    2 => {
                        let mut pk = seal_packet(proto, serial, body, &wrong).expect("seal");
                        // Keep the SHA-1 of the plaintext, as a confused peer would.
                        pk[16..36].copy_from_slice(&sha1_digest(body));
                        pk
                    }
                    _ => {
                        let h = FrameHeader {
                            proto_id: proto,
                            serial_no: serial,
                            body_len: u32::MAX,
                            ..Default::default()
                        };
                        h.to_bytes().to_vec()
                    }
                })
            }
            _ => last.clone(),
        };
        if let Some(pk) = packet {
            out.extend_from_slice(&pk);
            last = Some(pk);
        }
    }
    out
}

/// Runs one input. Panics if the client misbehaves (see the module documentation).
pub fn client_dispatch(data: &[u8]) -> Outcome {
    let _guard = run_lock();
    install_panic_hook();
    let panics_before = READER_PANICS.load(Ordering::SeqCst);
    let deadline = Instant::now() + WAIT;

    let mut cur = Cursor { data, pos: 0 };
    let selector = cur.byte();
    let mode = selector & 3;
    let encrypted = mode == 1 || mode == 2;
    let request_timeout = match (selector >> 2) & 3 {
        3 => Duration::ZERO,
        2 => REQUEST_TIMEOUT,
        _ => WAIT,
    };
    let chunked = selector & 0x80 != 0;
    let n_requests = 1 + usize::from((selector >> 4) & 7);
    let kinds: Vec<u8> = (0..n_requests).map(|_| cur.byte()).collect();
    let ops = data.get(cur.pos..).unwrap_or(&[]);

    let (init_tx, init_rx) = mpsc::channel();
    let (disc_tx, disc_rx) = mpsc::channel();
    let rec = Arc::new(Recorder {
        answers: Mutex::new(Vec::new()),
        pushes: AtomicUsize::new(0),
        inits: Mutex::new(Vec::new()),
        disconnects: AtomicUsize::new(0),
        init_tx: Mutex::new(init_tx),
        disc_tx: Mutex::new(disc_tx),
    });
    let config = ConnConfig::builder()
        .connect_timeout(WAIT)
        .request_timeout(request_timeout)
        .tick(Duration::from_millis(10))
        .write_timeout(WAIT)
        .max_body_len(MAX_BODY)
        .build();
    let api = TrdApi::with_config(config);
    api.set_conn_spi(rec.clone());
    api.set_trd_spi(rec.clone());
    if encrypted {
        api.set_rsa_key(test_rsa_key().clone());
    }
    let port = match listener().local_addr() {
        Ok(SocketAddr::V4(a)) => a.port(),
        other => panic!("listener address {other:?}"),
    };
    assert!(api.init_connect("127.0.0.1", port, encrypted), "init_connect refused to start");

    // The scripted OpenD: a valid InitConnect reply.
    let mut sock = accept(deadline);
    let init = read_init(&mut sock);
    assert_eq!(init.proto_id, pb::proto::InitConnect::PROTO_ID, "first packet is InitConnect");
    let init_cipher = if encrypted { PacketCipher::Rsa(test_rsa_key().clone()) } else { PacketCipher::Plain };
    let reply = seal_message(init.proto_id, init.serial_no, &init_reply(mode), &init_cipher).expect("seal");
    sock.write_all(&reply).expect("write the InitConnect reply");
    let code = init_rx.recv_timeout(WAIT).expect("on_init_connect within the bound");
    assert_eq!(code, 0, "InitConnect failed");

    // Requests in flight.
    let pending: Vec<(u32, u32)> = kinds.iter().map(|&k| send_request(&api, k)).collect();
    for &(proto, serial) in &pending {
        assert_ne!(serial, 0, "request {proto} was not sent on a ready connection");
    }

    // The fuzzed stream, then close our side.
    let script = build_script(ops, mode, &pending);
    let written = if chunked { script.chunks(7).try_for_each(|c| sock.write_all(c)) } else { sock.write_all(&script) };
    // The client may have closed first (corrupt stream): a failed write is fine.
    let _ = written;
    let _ = sock.shutdown(Shutdown::Write);

    disc_rx.recv_timeout(WAIT).expect("on_disconnect after the server closed");
    // Drain until the client's close, so that our close is a clean FIN.
    let mut sink = [0u8; 4096];
    while Instant::now() < deadline + WAIT {
        match sock.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    api.close();
    drop(api);

    // Every check runs after the reader thread has been joined.
    assert_eq!(READER_PANICS.load(Ordering::SeqCst), panics_before, "the client's reader thread panicked");
    let inits = rec.inits.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(inits, vec![0], "on_init_connect must fire once");
    assert_eq!(rec.disconnects.load(Ordering::SeqCst), 1, "on_disconnect must fire exactly once");
    let answers = rec.answers.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut out = Outcome { requests: pending.len(), script_len: script.len(), ..Default::default() };
    for &(proto, serial) in &pending {
        let mine: Vec<&(u32, u32, Answer)> = answers.iter().filter(|a| a.1 == serial).collect();
        assert_eq!(mine.len(), 1, "request {proto} serial {serial} answered {} times: {mine:?}", mine.len());
        assert_eq!(mine[0].0, proto, "serial {serial} answered in the callback of another protocol");
        match mine[0].2 {
            Answer::Reply => out.replies += 1,
            Answer::Refused => out.refused += 1,
            Answer::Timeout => out.timeouts += 1,
            Answer::Disconnected => out.disconnected += 1,
            Answer::Invalid => out.invalid += 1,
        }
    }
    assert_eq!(answers.len(), pending.len(), "answers to requests never made: {answers:?}");
    out.pushes = rec.pushes.load(Ordering::SeqCst);
    out
}

/// One script operation with its data, for building inputs (seeds, property tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOp {
    /// [`Op::Raw`].
    Raw(Vec<u8>),
    /// [`Op::Reply`] to pending request `target`.
    Reply {
        /// Index of the pending request (modulo their number).
        target: u8,
        /// The reply body.
        body: Vec<u8>,
    },
    /// [`Op::ReplyEnvelope`].
    ReplyEnvelope {
        /// Index of the pending request.
        target: u8,
        /// retType.
        ret_type: i8,
        /// The `s2c` bytes.
        s2c: Vec<u8>,
    },
    /// [`Op::PushEnvelope`] of `PUSHES[which % 3]`.
    PushEnvelope {
        /// Which push protocol.
        which: u8,
        /// Push serial.
        serial: u8,
        /// The `s2c` bytes.
        s2c: Vec<u8>,
    },
    /// [`Op::Push`] of `PUSHES[which % 3]`.
    Push {
        /// Which push protocol.
        which: u8,
        /// Push serial.
        serial: u8,
        /// The body.
        body: Vec<u8>,
    },
    /// [`Op::Packet`].
    Packet {
        /// Protocol id.
        proto_id: u32,
        /// Serial.
        serial: u32,
        /// The body.
        body: Vec<u8>,
    },
    /// [`Op::Broken`], `how` in 0..4.
    Broken {
        /// Index of the pending request (0..8).
        target: u8,
        /// What is broken.
        how: u8,
        /// The body.
        body: Vec<u8>,
    },
    /// [`Op::Repeat`].
    Repeat,
}

fn put_chunk(out: &mut Vec<u8>, data: &[u8]) {
    let data = &data[..data.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&(data.len() as u16).to_le_bytes());
    out.extend_from_slice(data);
}

impl ScriptOp {
    /// Appends the operation in the input layout.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let op = |kind: Op, p: u8| (kind as u8) | ((p & 31) << 3);
        match self {
            ScriptOp::Raw(d) => {
                out.push(op(Op::Raw, 0));
                put_chunk(out, d);
            }
            ScriptOp::Reply { target, body } => {
                out.push(op(Op::Reply, *target));
                put_chunk(out, body);
            }
            ScriptOp::ReplyEnvelope { target, ret_type, s2c } => {
                out.push(op(Op::ReplyEnvelope, *target));
                out.push(*ret_type as u8);
                put_chunk(out, s2c);
            }
            ScriptOp::PushEnvelope { which, serial, s2c } => {
                out.push(op(Op::PushEnvelope, *which));
                out.push(*serial);
                put_chunk(out, s2c);
            }
            ScriptOp::Push { which, serial, body } => {
                out.push(op(Op::Push, *which));
                out.push(*serial);
                put_chunk(out, body);
            }
            ScriptOp::Packet { proto_id, serial, body } => {
                out.push(op(Op::Packet, 0));
                out.extend_from_slice(&proto_id.to_le_bytes());
                out.extend_from_slice(&serial.to_le_bytes());
                put_chunk(out, body);
            }
            ScriptOp::Broken { target, how, body } => {
                out.push(op(Op::Broken, (target & 7) | ((how & 3) << 3)));
                put_chunk(out, body);
            }
            ScriptOp::Repeat => out.push(op(Op::Repeat, 0)),
        }
    }
}

/// A whole input: the selector, one byte per request kind (at most 8), the script.
pub fn encode_input(selector: u8, kinds: &[u8], script: &[ScriptOp]) -> Vec<u8> {
    let kinds = &kinds[..kinds.len().clamp(1, 8)];
    let selector = (selector & 0x8f) | (((kinds.len() - 1) as u8) << 4);
    let mut out = vec![selector];
    out.extend_from_slice(kinds);
    for op in script {
        op.encode(&mut out);
    }
    out
}
