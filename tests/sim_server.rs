//! The simulator's protocol server, driven by a tiny raw client built from the codec
//! (never the SDK's own client): InitConnect in every encryption mode, KeepAlive,
//! GetGlobalState, Notify, the trade-handler seam, every fault, malformed input and
//! many concurrent connections. Loopback only; every wait is bounded.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ftapi::codec::{
    decode_body, open_frame, seal_message, seal_packet, AesMode, CodecError, Frame, FrameDecoder, FrameHeader,
    PacketCipher, RsaKey, HEADER_LEN,
};
use ftapi::pb::{get_global_state, init_connect, keep_alive, notify, trd_get_acc_list, trd_update_order};
use ftapi::sim::{BadCipher, ConnInfo, FaultPlan, FaultRule, PacketFault, SimServer, SimServerBuilder, TradeHandler};
use prost::Message;

/// Upper bound for any single wait in these tests.
const WAIT: Duration = Duration::from_secs(10);

fn key1024() -> &'static RsaKey {
    static K: OnceLock<RsaKey> = OnceLock::new();
    K.get_or_init(|| RsaKey::generate(1024).expect("generate 1024-bit key"))
}

fn key2048() -> &'static RsaKey {
    static K: OnceLock<RsaKey> = OnceLock::new();
    K.get_or_init(|| RsaKey::generate(2048).expect("generate 2048-bit key"))
}

fn server() -> SimServerBuilder {
    SimServer::builder().port(0).no_trade_handler()
}

/// Polls `cond` until it holds; fails the test after [`WAIT`].
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn init_c2s(packet_enc_algo: Option<i32>, recv_notify: bool) -> init_connect::C2s {
    init_connect::C2s {
        client_ver: 300,
        client_id: "RawTest".into(),
        recv_notify: Some(recv_notify),
        packet_enc_algo,
        push_proto_fmt: Some(0),
        programming_language: Some("Rust".into()),
        ai_type: Some(0),
    }
}

fn keepalive_req() -> keep_alive::Request {
    keep_alive::Request { c2s: keep_alive::C2s { time: 1_700_000_000 } }
}

/// A minimal OpenD client: one socket, one decoder, one cipher.
struct Client {
    stream: TcpStream,
    dec: FrameDecoder,
    cipher: PacketCipher,
    serial: u32,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_write_timeout(Some(WAIT)).unwrap();
        Client { stream, dec: FrameDecoder::with_max_body_len(1 << 20), cipher: PacketCipher::Plain, serial: 100 }
    }

    fn next_serial(&mut self) -> u32 {
        self.serial += 1;
        self.serial
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends `msg` sealed with `cipher`; returns the serial number used.
    fn send_with<M: Message>(&mut self, proto_id: u32, msg: &M, cipher: &PacketCipher) -> u32 {
        let serial = self.next_serial();
        let bytes = seal_message(proto_id, serial, msg, cipher).expect("seal");
        self.send_bytes(&bytes);
        serial
    }

    fn send<M: Message>(&mut self, proto_id: u32, msg: &M) -> u32 {
        let cipher = self.cipher.clone();
        self.send_with(proto_id, msg, &cipher)
    }

    /// The next frame; `Ok(None)` on end of stream, `Err` on decode errors or a
    /// connection reset. A read timeout panics (the server failed to answer).
    fn try_frame(&mut self) -> Result<Option<Frame>, String> {
        loop {
            match self.dec.next_frame() {
                Ok(Some(f)) => return Ok(Some(f)),
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
            match self.dec.read_from(&mut self.stream, 64 * 1024) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    panic!("no data from the server within {WAIT:?}")
                }
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    fn frame(&mut self) -> Frame {
        match self.try_frame() {
            Ok(Some(f)) => f,
            Ok(None) => panic!("connection closed, expected a frame"),
            Err(e) => panic!("expected a frame: {e}"),
        }
    }

    /// The next frame, decrypted with the client's cipher and decoded as `R`.
    fn recv<R: Message + Default>(&mut self) -> (FrameHeader, R) {
        let f = self.frame();
        let h = f.header;
        let plain = open_frame(f, &self.cipher).expect("open frame");
        (h, decode_body(&plain).expect("decode body"))
    }

    /// Reads raw bytes until the server closes the connection.
    fn read_to_close(&mut self) -> Vec<u8> {
        assert_eq!(self.dec.buffered(), 0, "decoder still holds bytes");
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted) => {
                    return all
                }
                Err(e) => panic!("expected the server to close the connection: {e}"),
            }
        }
    }

    fn read_exact_raw(&mut self, n: usize) -> Vec<u8> {
        assert_eq!(self.dec.buffered(), 0, "decoder still holds bytes");
        let mut v = vec![0u8; n];
        self.stream.read_exact(&mut v).expect("read raw bytes");
        v
    }

    fn expect_closed(&mut self) {
        match self.try_frame() {
            Ok(None) => {}
            Err(e) if e.starts_with("read:") => {}
            Ok(Some(f)) => panic!("expected the connection to close, got proto {}", f.header.proto_id),
            Err(e) => panic!("expected a clean close, got {e}"),
        }
    }

    /// Sends InitConnect (RSA-encrypted with `rsa` if given) and reads the reply,
    /// RSA-decrypting it when the server should have encrypted it. On success with
    /// encryption, switches the client to the AES cipher from the reply.
    fn init_with(&mut self, rsa: Option<&RsaKey>, algo: Option<i32>, recv_notify: bool) -> init_connect::Response {
        let req = init_connect::Request { c2s: init_c2s(algo, recv_notify) };
        let send_cipher = rsa.map_or(PacketCipher::Plain, |k| PacketCipher::Rsa(k.clone()));
        let serial = self.send_with(1001, &req, &send_cipher);
        let f = self.frame();
        assert_eq!((f.header.proto_id, f.header.serial_no), (1001, serial));
        let encrypted = rsa.is_some() && algo != Some(-1);
        let reply_cipher = if encrypted { send_cipher } else { PacketCipher::Plain };
        let plain = open_frame(f, &reply_cipher).expect("open InitConnect reply");
        let rsp: init_connect::Response = decode_body(&plain).expect("decode InitConnect reply");
        if let (true, 0, Some(s2c)) = (encrypted, rsp.ret_type, &rsp.s2c) {
            self.cipher =
                PacketCipher::from_init_connect(&s2c.conn_aes_key, s2c.aes_cb_civ.as_deref()).expect("cipher");
        }
        rsp
    }

    fn init_plain(&mut self) -> init_connect::S2c {
        let rsp = self.init_with(None, Some(-1), true);
        assert_eq!(rsp.ret_type, 0, "InitConnect failed: {:?}", rsp.ret_msg);
        rsp.s2c.expect("s2c")
    }

    fn keepalive(&mut self) -> keep_alive::Response {
        let serial = self.send(1004, &keepalive_req());
        let (h, rsp) = self.recv::<keep_alive::Response>();
        assert_eq!((h.proto_id, h.serial_no), (1004, serial));
        rsp
    }
}

// ---------------------------------------------------------------- basics

#[test]
fn plain_init_connect_keepalive_and_global_state() {
    let srv = server().login_user_id(4242).keepalive_interval(7).first_conn_id(500).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    let s2c = c.init_plain();
    assert_eq!(s2c.conn_id, 500);
    assert_eq!(s2c.login_user_id, 4242);
    assert_eq!(s2c.keep_alive_interval, 7);
    assert_eq!(s2c.conn_aes_key.len(), 16);
    assert!(s2c.conn_aes_key.is_ascii());
    assert_eq!(s2c.aes_cb_civ.as_ref().map(|s| s.len()), Some(16), "CBC is the default mode");
    assert!(s2c.user_attribution.is_some());

    for _ in 0..3 {
        let rsp = c.keepalive();
        assert_eq!(rsp.ret_type, 0);
        assert!(rsp.s2c.expect("keepalive s2c").time > 1_600_000_000);
    }
    assert_eq!(srv.keepalives_received(), 3);
    let sessions = srv.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].conn_id, 500);
    assert_eq!(sessions[0].keepalives, 3);
    assert!(sessions[0].initialized && !sessions[0].encrypted && sessions[0].recv_notify);

    let serial = c.send(1002, &get_global_state::Request { c2s: get_global_state::C2s { user_id: 4242 } });
    let (h, rsp) = c.recv::<get_global_state::Response>();
    assert_eq!((h.proto_id, h.serial_no, rsp.ret_type), (1002, serial, 0));
    let gs = rsp.s2c.expect("global state");
    assert!(gs.qot_logined && gs.trd_logined);
    assert_eq!(gs.conn_id, Some(500));
    assert_eq!(gs.program_status.map(|p| p.r#type), Some(10), "ProgramStatusType_Ready");
    assert!(gs.time > 1_600_000_000);
    assert!(gs.local_time.is_some());
    let stats = srv.stats();
    assert_eq!((stats.connections_accepted, stats.init_connects_ok, stats.requests_received), (1, 1, 4));
}

#[test]
fn conn_ids_increase_per_connection() {
    let srv = server().first_conn_id(9).start().unwrap();
    let mut a = Client::connect(srv.local_addr());
    let mut b = Client::connect(srv.local_addr());
    let ida = a.init_plain().conn_id;
    let idb = b.init_plain().conn_id;
    let mut ids = [ida, idb];
    ids.sort();
    assert_eq!(ids, [9, 10]);
    assert_eq!(srv.connection_count(), 2);
}

#[test]
fn request_before_init_connect_is_refused() {
    let srv = server().start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    let serial = c.send(1004, &keepalive_req());
    let (h, rsp) = c.recv::<keep_alive::Response>();
    assert_eq!((h.proto_id, h.serial_no), (1004, serial));
    assert_eq!(rsp.ret_type, -1);
    assert_eq!(rsp.ret_msg.as_deref(), Some("InitConnect required first"));
    assert_eq!(srv.keepalives_received(), 0);
    // The connection is still usable.
    c.init_plain();
    assert_eq!(c.keepalive().ret_type, 0);
}

#[test]
fn unknown_protocols_without_a_handler() {
    let srv = server().start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    for id in [2001u32, 2202, 3004, 9999] {
        let serial = c.send(id, &keepalive_req());
        let (h, rsp) = c.recv::<keep_alive::Response>();
        assert_eq!((h.proto_id, h.serial_no, rsp.ret_type), (id, serial, -1));
        assert_eq!(rsp.ret_msg, Some(format!("unknown protocol id {id}")));
    }
    let serial = c.send(1001, &init_connect::Request { c2s: init_c2s(Some(-1), true) });
    let (h, rsp) = c.recv::<init_connect::Response>();
    assert_eq!((h.serial_no, rsp.ret_type), (serial, -1), "a second InitConnect is refused");
}

/// A stand-in for the broker: answers 2001 (pushing an order update first), knows
/// nothing else, records disconnects.
#[derive(Default)]
struct StubHandler {
    seen: Mutex<Vec<(u64, u32)>>,
    disconnected: Mutex<Vec<u64>>,
}

impl TradeHandler for StubHandler {
    fn handle(&self, conn: &ConnInfo, proto_id: u32, _body: &[u8]) -> Option<Vec<u8>> {
        self.seen.lock().unwrap().push((conn.conn_id, proto_id));
        if proto_id != 2001 {
            return None;
        }
        let push =
            trd_update_order::Response { ret_type: 0, ret_msg: Some("pushed".into()), err_code: None, s2c: None };
        assert!(conn.sink.push(2208, push.encode_to_vec()));
        let rsp = trd_get_acc_list::Response {
            ret_type: 0,
            ret_msg: None,
            err_code: None,
            s2c: Some(trd_get_acc_list::S2c { acc_list: vec![] }),
        };
        Some(rsp.encode_to_vec())
    }

    fn disconnected(&self, conn_id: u64) {
        self.disconnected.lock().unwrap().push(conn_id);
    }
}

#[test]
fn trade_handler_gets_trd_requests_and_disconnects() {
    let stub = Arc::new(StubHandler::default());
    let srv = server().trade_handler(stub.clone()).first_conn_id(77).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    let serial = c.send(2001, &keepalive_req());
    let (h, push) = c.recv::<trd_update_order::Response>();
    assert_eq!((h.proto_id, push.ret_msg.as_deref()), (2208, Some("pushed")), "the push comes before the reply");
    let (h, rsp) = c.recv::<trd_get_acc_list::Response>();
    assert_eq!((h.proto_id, h.serial_no, rsp.ret_type), (2001, serial, 0));
    let serial = c.send(2202, &keepalive_req());
    let (h, rsp) = c.recv::<keep_alive::Response>();
    assert_eq!((h.proto_id, h.serial_no, rsp.ret_type), (2202, serial, -1));
    assert_eq!(rsp.ret_msg.as_deref(), Some("unknown protocol id 2202"));
    // KeepAlive and GetGlobalState never reach the handler.
    c.keepalive();
    assert_eq!(*stub.seen.lock().unwrap(), vec![(77, 2001), (77, 2202)]);
    drop(c);
    wait_until("disconnect callback", || stub.disconnected.lock().unwrap().as_slice() == [77]);
    // A push to a dead session fails.
    assert!(!srv.push(77, 2208, vec![8, 0]));
}

// ---------------------------------------------------------------- encryption

fn encrypted_roundtrip(key: &RsaKey, mode: AesMode) {
    let srv = server().rsa_key(key.clone()).aes_mode(mode).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    let rsp = c.init_with(Some(key), Some(2), true);
    assert_eq!(rsp.ret_type, 0, "{:?}", rsp.ret_msg);
    let s2c = rsp.s2c.unwrap();
    assert_eq!(s2c.conn_aes_key.len(), 16);
    match mode {
        AesMode::Cbc => {
            assert_eq!(s2c.aes_cb_civ.as_ref().map(|s| s.len()), Some(16));
            assert!(matches!(c.cipher, PacketCipher::AesCbc { .. }));
        }
        AesMode::FtAesEcb => {
            assert_eq!(s2c.aes_cb_civ, None);
            assert!(matches!(c.cipher, PacketCipher::FtAesEcb { .. }));
        }
    }
    assert!(srv.sessions()[0].encrypted);
    // Every later body is AES in both directions.
    for _ in 0..2 {
        let serial = c.send(1004, &keepalive_req());
        let f = c.frame();
        assert_eq!((f.header.proto_id, f.header.serial_no), (1004, serial));
        assert_eq!(f.body.len() % 16, 0, "an AES body");
        assert!(open_frame(f.clone(), &PacketCipher::Plain).is_err(), "not readable as plain");
        let rsp: keep_alive::Response = decode_body(&open_frame(f, &c.cipher).unwrap()).unwrap();
        assert_eq!(rsp.ret_type, 0);
    }
    assert_eq!(srv.keepalives_received(), 2);
    // Notify pushes are encrypted too.
    assert_eq!(srv.push_gtw_event(14, "trade password changed"), 1);
    let (h, n) = c.recv::<notify::Response>();
    assert_eq!(h.proto_id, 1003);
    assert_eq!(n.s2c.unwrap().event.unwrap().event_type, 14);
}

#[test]
fn rsa1024_with_aes_cbc() {
    encrypted_roundtrip(key1024(), AesMode::Cbc);
}

#[test]
fn rsa1024_with_ftaes_ecb() {
    encrypted_roundtrip(key1024(), AesMode::FtAesEcb);
}

#[test]
fn rsa2048_with_aes_cbc() {
    encrypted_roundtrip(key2048(), AesMode::Cbc);
}

#[test]
fn rsa2048_with_ftaes_ecb() {
    encrypted_roundtrip(key2048(), AesMode::FtAesEcb);
}

#[test]
fn rsa_request_opting_out_gets_plain_reply_and_plain_session() {
    // The official SDK RSA-encrypts InitConnect whenever a key file is set, even for an
    // unencrypted context (packetEncAlgo -1), and then expects a plain reply.
    let srv = server().rsa_key(key1024().clone()).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    let rsp = c.init_with(Some(key1024()), Some(-1), true);
    assert_eq!(rsp.ret_type, 0);
    assert!(c.cipher.is_plain());
    assert!(!srv.sessions()[0].encrypted);
    assert_eq!(c.keepalive().ret_type, 0);
}

#[test]
fn plain_request_asking_for_encryption_gets_plain_reply_then_aes() {
    let srv = server().rsa_key(key1024().clone()).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    let rsp = c.init_with(None, Some(2), true);
    assert_eq!(rsp.ret_type, 0);
    let s2c = rsp.s2c.unwrap();
    assert!(srv.sessions()[0].encrypted);
    c.cipher = PacketCipher::from_init_connect(&s2c.conn_aes_key, s2c.aes_cb_civ.as_deref()).unwrap();
    assert_eq!(c.keepalive().ret_type, 0);
}

#[test]
fn rsa_request_to_a_server_without_key_is_answered_plain() {
    let srv = server().start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    let serial = c.send_with(
        1001,
        &init_connect::Request { c2s: init_c2s(Some(2), true) },
        &PacketCipher::Rsa(key1024().clone()),
    );
    let (h, rsp) = c.recv::<init_connect::Response>();
    assert_eq!((h.serial_no, rsp.ret_type), (serial, -1));
    assert_eq!(
        rsp.ret_msg.as_deref(),
        Some("InitConnect could not be decoded (encrypted, but this OpenD has no RSA key?)")
    );
}

#[test]
fn rsa_request_with_the_wrong_key_is_refused() {
    let srv = server().rsa_key(key1024().clone()).start().unwrap();
    let other = RsaKey::generate(1024).unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.send_with(1001, &init_connect::Request { c2s: init_c2s(Some(2), true) }, &PacketCipher::Rsa(other));
    let (_, rsp) = c.recv::<init_connect::Response>();
    assert_eq!(rsp.ret_type, -1);
    assert!(rsp.ret_msg.unwrap().contains("could not be decoded"));
}

// ---------------------------------------------------------------- pushes

#[test]
fn notify_goes_only_to_connections_that_asked() {
    let srv = server().start().unwrap();
    let mut yes = Client::connect(srv.local_addr());
    let mut no = Client::connect(srv.local_addr());
    let mut fresh = Client::connect(srv.local_addr()); // never initialized
    assert_eq!(yes.init_with(None, Some(-1), true).ret_type, 0);
    assert_eq!(no.init_with(None, Some(-1), false).ret_type, 0);
    wait_until("three connections", || srv.connection_count() == 3);
    assert_eq!(srv.push_gtw_event(7, "kicked out"), 1);
    let (h, n) = yes.recv::<notify::Response>();
    assert_eq!((h.proto_id, n.ret_type), (1003, 0));
    let s2c = n.s2c.unwrap();
    assert_eq!(s2c.r#type, 1);
    let ev = s2c.event.unwrap();
    assert_eq!((ev.event_type, ev.desc.as_str()), (7, "kicked out"));
    // The others got nothing: their next frame is the answer to their own request.
    assert_eq!(no.keepalive().ret_type, 0);
    let serial = fresh.send(1004, &keepalive_req());
    let (h, _) = fresh.recv::<keep_alive::Response>();
    assert_eq!(h.serial_no, serial);
}

// ---------------------------------------------------------------- faults

#[test]
fn fault_drop_after_init() {
    let srv = server().faults(FaultPlan::none().drop_after_init(Duration::from_millis(100))).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    c.expect_closed();
    wait_until("session gone", || srv.connection_count() == 0);
}

#[test]
fn fault_never_answer_one_proto() {
    let srv = server().faults(FaultPlan::none().rule(FaultRule::new(PacketFault::Drop).proto(1002))).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    c.send(1002, &get_global_state::Request { c2s: get_global_state::C2s { user_id: 0 } });
    // Replies keep their order, so the KeepAlive reply being next proves 1002 was dropped.
    assert_eq!(c.keepalive().ret_type, 0);
}

#[test]
fn fault_silent_then_recovered() {
    let srv = server().start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    // Silent for exactly two packets (a push and the keepalive's reply): the plan is empty
    // once both were swallowed, which the counter of keepalives read cannot tell (the
    // reply is decided after the request is counted).
    srv.set_faults(FaultPlan::none().rule(FaultRule::new(PacketFault::Drop).times(2)));
    c.send(1004, &keepalive_req());
    assert_eq!(srv.push_gtw_event(0, "swallowed"), 1, "a push is accepted and then dropped");
    wait_until("the keepalive's reply to be swallowed", || srv.faults().is_empty());
    assert_eq!(srv.keepalives_received(), 1);
    assert_eq!(srv.connection_count(), 1, "silent keeps the connection open");
    srv.set_faults(FaultPlan::none());
    // Only the second keepalive is answered; nothing else arrived in between.
    assert_eq!(c.keepalive().ret_type, 0);
}

#[test]
fn fault_corrupt_sha1() {
    let srv =
        server().faults(FaultPlan::none().rule(FaultRule::new(PacketFault::CorruptSha1).proto(1004))).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    c.send(1004, &keepalive_req());
    let f = c.frame();
    assert!(matches!(open_frame(f, &c.cipher), Err(CodecError::Sha1Mismatch { proto_id: 1004, .. })));
    // Other protocols are unaffected.
    let serial = c.send(1002, &get_global_state::Request { c2s: get_global_state::C2s { user_id: 0 } });
    let (h, rsp) = c.recv::<get_global_state::Response>();
    assert_eq!((h.serial_no, rsp.ret_type), (serial, 0));
}

#[test]
fn fault_garbage_instead_of_reply() {
    let srv = server()
        .faults(FaultPlan::none().rule(FaultRule::new(PacketFault::Garbage { len: 64 }).proto(1004)))
        .start()
        .unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    c.send(1004, &keepalive_req());
    let junk = c.read_exact_raw(64);
    assert_ne!(&junk[..2], b"FT");
    let mut dec = FrameDecoder::new();
    dec.push(&junk);
    assert!(matches!(dec.next_frame(), Err(CodecError::BadMagic(_))));
}

#[test]
fn fault_huge_body_length() {
    let plan = FaultPlan::none().rule(FaultRule::new(PacketFault::HugeBodyLen { body_len: u32::MAX }).proto(1004));
    let srv = server().faults(plan).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    c.send(1004, &keepalive_req());
    let head = c.read_exact_raw(HEADER_LEN);
    let h = FrameHeader::parse(&head).unwrap();
    assert_eq!((h.proto_id, h.body_len), (1004, u32::MAX));
    let mut dec = FrameDecoder::with_max_body_len(1 << 20);
    dec.push(&head);
    assert!(matches!(dec.next_frame(), Err(CodecError::BodyTooLong { .. })));
}

#[test]
fn fault_byte_by_byte() {
    let plan =
        FaultPlan::none().rule(FaultRule::new(PacketFault::ByteByByte { pause: Duration::from_millis(1) }).proto(1002));
    let srv = server().faults(plan).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    let serial = c.send(1002, &get_global_state::Request { c2s: get_global_state::C2s { user_id: 0 } });
    let (h, rsp) = c.recv::<get_global_state::Response>();
    assert_eq!((h.serial_no, rsp.ret_type), (serial, 0), "a slow reply still arrives intact");
    assert_eq!(c.keepalive().ret_type, 0);
}

#[test]
fn fault_close_before_init_connect_reply() {
    let srv = server().faults(FaultPlan::none().rule(FaultRule::new(PacketFault::Close).proto(1001))).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.send(1001, &init_connect::Request { c2s: init_c2s(Some(-1), true) });
    assert!(c.read_to_close().is_empty());
}

#[test]
fn fault_close_mid_header() {
    let srv = server()
        .faults(FaultPlan::none().rule(FaultRule::new(PacketFault::CloseMidHeader).proto(1004)))
        .start()
        .unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    c.send(1004, &keepalive_req());
    let got = c.read_to_close();
    assert!(!got.is_empty() && got.len() < HEADER_LEN, "got {} bytes", got.len());
    assert_eq!(&got[..2], b"FT");
}

#[test]
fn fault_close_mid_body() {
    let srv =
        server().faults(FaultPlan::none().rule(FaultRule::new(PacketFault::CloseMidBody).proto(1002))).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    c.send(1002, &get_global_state::Request { c2s: get_global_state::C2s { user_id: 0 } });
    let got = c.read_to_close();
    assert!(got.len() > HEADER_LEN);
    let h = FrameHeader::parse(&got).unwrap();
    assert!(got.len() < HEADER_LEN + h.body_len as usize);
}

#[test]
fn fault_bad_magic() {
    let srv =
        server().faults(FaultPlan::none().rule(FaultRule::new(PacketFault::BadMagic).proto(1004))).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    c.send(1004, &keepalive_req());
    let head = c.read_exact_raw(HEADER_LEN);
    assert_eq!(&head[..2], b"XX");
    assert!(matches!(FrameHeader::parse(&head), Err(CodecError::BadMagic(_))));
}

#[test]
fn fault_init_connect_fails_once_then_succeeds() {
    let plan = FaultPlan::none()
        .rule(FaultRule::new(PacketFault::InitFail { message: "OpenD is not logged in".into() }).times(1));
    let srv = server().faults(plan).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    let rsp = c.init_with(None, Some(-1), true);
    assert_eq!((rsp.ret_type, rsp.ret_msg.as_deref()), (-1, Some("OpenD is not logged in")));
    assert!(rsp.s2c.is_none());
    // Not initialized: requests are refused.
    let (_, ka) = {
        c.send(1004, &keepalive_req());
        c.recv::<keep_alive::Response>()
    };
    assert_eq!(ka.ret_msg.as_deref(), Some("InitConnect required first"));
    assert!(srv.faults().rules.is_empty(), "the rule was used up");
    c.init_plain();
    assert_eq!(c.keepalive().ret_type, 0);
}

#[test]
fn fault_init_connect_without_s2c() {
    let srv = server().faults(FaultPlan::none().rule(FaultRule::new(PacketFault::InitNoS2c))).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    let rsp = c.init_with(None, Some(-1), true);
    assert_eq!(rsp.ret_type, 0);
    assert!(rsp.s2c.is_none());
    assert!(!srv.sessions()[0].initialized);
    // Other replies are unaffected by an InitConnect-only fault.
    c.send(1004, &keepalive_req());
    assert_eq!(c.recv::<keep_alive::Response>().1.ret_type, -1);
}

#[test]
fn fault_init_connect_bad_key_and_iv_lengths() {
    for (fault, key_len, iv_len) in [(PacketFault::InitBadAesKey, 15, 16), (PacketFault::InitBadIv, 16, 15)] {
        let srv =
            server().rsa_key(key1024().clone()).faults(FaultPlan::none().rule(FaultRule::new(fault))).start().unwrap();
        let mut c = Client::connect(srv.local_addr());
        let req = init_connect::Request { c2s: init_c2s(Some(2), true) };
        c.send_with(1001, &req, &PacketCipher::Rsa(key1024().clone()));
        let f = c.frame();
        let rsp: init_connect::Response =
            decode_body(&open_frame(f, &PacketCipher::Rsa(key1024().clone())).unwrap()).unwrap();
        let s2c = rsp.s2c.unwrap();
        assert_eq!(s2c.conn_aes_key.len(), key_len);
        assert_eq!(s2c.aes_cb_civ.map(|s| s.len()), Some(iv_len));
        assert!(!srv.sessions()[0].initialized);
    }
}

fn undecryptable(mode: Option<AesMode>, how: BadCipher) {
    let plan = FaultPlan::none().rule(FaultRule::new(PacketFault::Undecryptable(how)).proto(1004));
    let mut b = server().faults(plan);
    if let Some(m) = mode {
        b = b.rsa_key(key1024().clone()).aes_mode(m);
    }
    let srv = b.start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    let rsp = match mode {
        Some(_) => c.init_with(Some(key1024()), Some(2), true),
        None => c.init_with(None, Some(-1), true),
    };
    assert_eq!(rsp.ret_type, 0);
    c.send(1004, &keepalive_req());
    let f = c.frame();
    assert_eq!(f.header.proto_id, 1004);
    let err = open_frame(f, &c.cipher).expect_err("the body must not open");
    match mode {
        Some(_) => assert!(matches!(err, CodecError::Decrypt(_)), "{how:?} {mode:?}: {err}"),
        None => assert!(matches!(err, CodecError::Sha1Mismatch { .. }), "{err}"),
    }
}

#[test]
fn fault_undecryptable_bodies() {
    for how in [BadCipher::WrongLength, BadCipher::BadPadding] {
        undecryptable(Some(AesMode::Cbc), how);
        undecryptable(Some(AesMode::FtAesEcb), how);
        undecryptable(None, how);
    }
}

#[test]
fn fault_undecryptable_rsa_init_connect_reply() {
    let plan = FaultPlan::none().rule(FaultRule::new(PacketFault::Undecryptable(BadCipher::BadPadding)).proto(1001));
    let srv = server().rsa_key(key1024().clone()).faults(plan).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.send_with(1001, &init_connect::Request { c2s: init_c2s(Some(2), true) }, &PacketCipher::Rsa(key1024().clone()));
    let f = c.frame();
    assert_eq!(f.body.len(), 128);
    assert!(matches!(open_frame(f, &PacketCipher::Rsa(key1024().clone())), Err(CodecError::Decrypt(_))));
}

#[test]
fn fault_push_flood_after_init() {
    let srv = server().faults(FaultPlan::none().push_flood_after_init(500)).start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.init_plain();
    for i in 0..500 {
        let (h, n) = c.recv::<notify::Response>();
        assert_eq!(h.proto_id, 1003, "push {i}");
        assert_eq!(n.s2c.unwrap().r#type, 2);
    }
    assert_eq!(c.keepalive().ret_type, 0, "the flood is over; requests are answered");
    assert_eq!(srv.stats().pushes_sent, 500);
}

#[test]
fn push_flood_on_demand() {
    let srv = server().start().unwrap();
    let mut c = Client::connect(srv.local_addr());
    let conn_id = c.init_plain().conn_id;
    let reader = std::thread::spawn(move || {
        for _ in 0..300 {
            let (h, _) = c.recv::<notify::Response>();
            assert_eq!(h.proto_id, 1003);
        }
        c
    });
    assert_eq!(srv.push_flood(Some(conn_id), 300), 300);
    let mut c = reader.join().unwrap();
    assert_eq!(c.keepalive().ret_type, 0);
    assert_eq!(srv.push_flood(Some(conn_id + 1000), 5), 0, "no such connection");
}

#[test]
fn faults_scoped_to_one_connection() {
    let srv = server().start().unwrap();
    let mut a = Client::connect(srv.local_addr());
    let mut b = Client::connect(srv.local_addr());
    let ida = a.init_plain().conn_id;
    b.init_plain();
    srv.update_faults(|p| p.rules.push(FaultRule::new(PacketFault::CorruptSha1).conn(ida).replies_only()));
    a.send(1004, &keepalive_req());
    assert!(open_frame(a.frame(), &PacketCipher::Plain).is_err());
    assert_eq!(b.keepalive().ret_type, 0);
}

#[test]
fn kill_connections_drops_everyone_and_keeps_accepting() {
    let stub = Arc::new(StubHandler::default());
    let srv = server().trade_handler(stub.clone()).start().unwrap();
    let mut a = Client::connect(srv.local_addr());
    let mut b = Client::connect(srv.local_addr());
    a.init_plain();
    b.init_plain();
    assert_eq!(srv.kill_connections(), 2);
    a.expect_closed();
    b.expect_closed();
    wait_until("no live connection", || srv.connection_count() == 0);
    wait_until("two disconnect callbacks", || stub.disconnected.lock().unwrap().len() == 2);
    let mut c = Client::connect(srv.local_addr());
    let id = c.init_plain().conn_id;
    assert!(srv.kill_connection(id));
    c.expect_closed();
}

// ---------------------------------------------------------------- malformed input

fn assert_second_connection_unaffected(srv: &SimServer, bad: impl FnOnce(&mut Client)) {
    let mut good = Client::connect(srv.local_addr());
    good.init_plain();
    let mut evil = Client::connect(srv.local_addr());
    bad(&mut evil);
    evil.expect_closed();
    assert_eq!(good.keepalive().ret_type, 0);
}

#[test]
fn malformed_input_closes_only_that_connection() {
    let srv = server().max_body_len(4096).start().unwrap();
    // Bad magic before InitConnect.
    assert_second_connection_unaffected(&srv, |c| c.send_bytes(&[b'G'; 64]));
    // Garbage after InitConnect.
    assert_second_connection_unaffected(&srv, |c| {
        c.init_plain();
        c.send_bytes(b"GET / HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n");
    });
    // Body length over the limit.
    assert_second_connection_unaffected(&srv, |c| {
        let h = FrameHeader { proto_id: 1004, body_len: 1 << 30, ..Default::default() };
        c.send_bytes(&h.to_bytes());
    });
    // SHA-1 mismatch after InitConnect.
    assert_second_connection_unaffected(&srv, |c| {
        c.init_plain();
        let mut p = seal_message(1004, 1, &keepalive_req(), &PacketCipher::Plain).expect("seal");
        p[20] ^= 1;
        c.send_bytes(&p);
    });
    assert!(srv.stats().malformed_closed >= 4);
}

#[test]
fn undecryptable_request_closes_only_that_connection() {
    let srv = server().rsa_key(key1024().clone()).start().unwrap();
    let mut good = Client::connect(srv.local_addr());
    assert_eq!(good.init_with(Some(key1024()), Some(2), true).ret_type, 0);
    let mut evil = Client::connect(srv.local_addr());
    assert_eq!(evil.init_with(Some(key1024()), Some(2), true).ret_type, 0);
    // A body of 15 bytes cannot be AES-CBC.
    let body = [7u8; 15];
    let h = FrameHeader {
        proto_id: 1004,
        serial_no: 9,
        body_len: 15,
        body_sha1: ftapi::codec::sha1_digest(&body),
        ..Default::default()
    };
    evil.send_bytes(&h.to_bytes());
    evil.send_bytes(&body);
    evil.expect_closed();
    // Plain bytes on an encrypted connection do not decrypt either.
    let mut evil2 = Client::connect(srv.local_addr());
    assert_eq!(evil2.init_with(Some(key1024()), Some(2), true).ret_type, 0);
    evil2.send_bytes(&seal_packet(1004, 3, &keepalive_req().encode_to_vec(), &PacketCipher::Plain).expect("seal"));
    evil2.expect_closed();
    assert_eq!(good.keepalive().ret_type, 0);
}

// ---------------------------------------------------------------- scale and lifecycle

#[test]
fn many_concurrent_connections() {
    const N: usize = 128;
    let srv = server().start().unwrap();
    let addr = srv.local_addr();
    let (ready_tx, ready_rx) = mpsc::channel::<u64>();
    let mut go = Vec::new();
    let mut threads = Vec::new();
    for _ in 0..N {
        let ready_tx = ready_tx.clone();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        go.push(go_tx);
        threads.push(std::thread::spawn(move || {
            let mut c = Client::connect(addr);
            let id = c.init_plain().conn_id;
            assert_eq!(c.keepalive().ret_type, 0);
            ready_tx.send(id).unwrap();
            go_rx.recv_timeout(Duration::from_secs(60)).expect("go signal");
            assert_eq!(c.keepalive().ret_type, 0);
        }));
    }
    let mut ids: Vec<u64> =
        (0..N).map(|_| ready_rx.recv_timeout(Duration::from_secs(60)).expect("client ready")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "every connection has its own id");
    assert_eq!(srv.connection_count(), N);
    for g in go {
        g.send(()).unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(srv.keepalives_received(), 2 * N as u64);
    wait_until("all sessions to end", || srv.connection_count() == 0);
}

#[test]
fn shutdown_closes_everything_and_is_idempotent() {
    let srv = server().start().unwrap();
    let addr = srv.local_addr();
    let mut a = Client::connect(addr);
    a.init_plain();
    let mut b = Client::connect(addr); // not initialized
    b.send_bytes(b"FT"); // half a header
    wait_until("two connections", || srv.connection_count() == 2);
    srv.shutdown();
    assert_eq!(srv.connection_count(), 0);
    a.expect_closed();
    b.expect_closed();
    srv.shutdown();
    drop(srv);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(), "no longer listening");
}

#[test]
fn opend_sim_binary_prints_its_address_and_serves() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_opend-sim"))
        .args(["--port", "0", "--keepalive", "3", "--user-id", "31337", "--aes", "ecb"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn opend-sim");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30));
    let result = std::panic::catch_unwind(|| {
        let line = line.expect("first line from opend-sim");
        let addr = line.trim_end().strip_prefix("listening on ").expect("listening line").to_owned();
        let addr: SocketAddr = addr.parse().expect("an address");
        assert_eq!(addr.ip().to_string(), "127.0.0.1");
        assert_ne!(addr.port(), 0);
        let mut c = Client::connect(addr);
        let s2c = c.init_plain();
        assert_eq!((s2c.keep_alive_interval, s2c.login_user_id, s2c.aes_cb_civ), (3, 31337, None));
        assert_eq!(c.keepalive().ret_type, 0);
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn opend_sim_binary_help_and_bad_arguments() {
    use std::process::Command;
    let out = Command::new(env!("CARGO_BIN_EXE_opend-sim")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for opt in [
        "--ip",
        "--port",
        "--rsa-key",
        "--aes",
        "--keepalive",
        "--user-id",
        "--accounts",
        "--password",
        "--tick-ms",
        "--no-rate-limits",
        "--verbose",
        "--help",
    ] {
        assert!(help.contains(opt), "--help documents {opt}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_opend-sim")).args(["--aes", "ctr"]).output().unwrap();
    assert!(!out.status.success());
    let out =
        Command::new(env!("CARGO_BIN_EXE_opend-sim")).args(["--rsa-key", "/nonexistent/key.pem"]).output().unwrap();
    assert!(!out.status.success());
}
