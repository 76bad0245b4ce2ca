//! OpenD's WebSocket port: the simulator's side against a hand-written client (exact
//! frames, no ftapi client code), ws and wss (a certificate made at test time), pushes
//! across the TCP and WebSocket ports both ways.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use ftapi::codec::ws::{decode_reply, encode_request, key_md5_hex, WsReplyHeader, CMD_INIT};
use ftapi::codec::{decode_body, seal_message, FrameDecoder, PacketCipher};
use ftapi::pb::{
    self, init_connect, init_web_socket, trd_common, Protocol, PushProtocol, RequestEnvelope, ResponseEnvelope,
};
use ftapi::sim::SimServer;
use prost::Message as _;
use tungstenite::{Message, WebSocket};

const KEY: &str = "123456";
const PASSWORD_MD5: &str = "e10adc3949ba59abbe56e057f20f883e"; // the default trade password 123456
const HK_REAL: u64 = 281756478396547854;
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// A simulator builder on a free port in relaxed mode with every market open (market
/// orders at any hour, no minimum interval between orders).
fn sim_builder() -> ftapi::sim::SimServerBuilder {
    SimServer::builder().port(0).relaxed(true).clock(ftapi::sim::calendar::ClockSpec::Open)
}

/// A certificate for 127.0.0.1 and localhost (end-entity, self-signed): (cert PEM, key PEM).
fn test_cert() -> (String, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("generate a test certificate");
    (ck.cert.pem(), ck.key_pair.serialize_pem())
}

type C2s<P> = <<P as Protocol>::Request as RequestEnvelope>::C2s;
type S2c<P> = <<P as Protocol>::Response as ResponseEnvelope>::S2c;

/// The s2c of a successful reply body.
fn s2c<P: Protocol>(body: &[u8]) -> S2c<P> {
    let rsp: P::Response = decode_body(body).expect("a Response");
    assert_eq!(rsp.ret_type(), 0, "{}: {}", P::NAME, rsp.ret_msg());
    rsp.into_s2c().expect("s2c")
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

/// A bare WebSocket client of the simulator's port.
struct RawWs {
    ws: WebSocket<Box<dyn Stream>>,
    section: u64,
}

impl RawWs {
    fn connect(addr: SocketAddr, root_pem: Option<&str>) -> RawWs {
        let tcp = TcpStream::connect(addr).expect("connect to the WebSocket port");
        tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let (stream, url): (Box<dyn Stream>, String) = match root_pem {
            None => (Box::new(tcp), format!("ws://{addr}/")),
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(pem.as_bytes()) {
                    let cert: rustls_pki_types::CertificateDer<'static> = cert.unwrap();
                    roots.add(cert).unwrap();
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                let name = rustls_pki_types::ServerName::try_from(addr.ip().to_string()).unwrap();
                let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
                (Box::new(rustls::StreamOwned::new(conn, tcp)), format!("wss://{addr}/"))
            }
        };
        let (ws, _) = tungstenite::client(url, stream).expect("WebSocket handshake");
        RawWs { ws, section: 1 }
    }

    fn send(&mut self, cmd: u32, body: &[u8]) -> u64 {
        self.section += 1;
        self.ws.send(Message::Binary(encode_request(cmd, self.section, body).into())).expect("send");
        self.section
    }

    /// The next binary message, split into header and body.
    fn recv(&mut self) -> (WsReplyHeader, Vec<u8>) {
        loop {
            match self.ws.read().expect("read a message") {
                Message::Binary(data) => {
                    let (h, body) = decode_reply(&data).expect("a 44-byte header");
                    return (h, body.to_vec());
                }
                _ => continue,
            }
        }
    }

    /// The reply to `section` (pushes before it are skipped).
    fn reply_to(&mut self, section: u64) -> (WsReplyHeader, Vec<u8>) {
        loop {
            let (h, body) = self.recv();
            if h.section == section {
                return (h, body);
            }
        }
    }

    fn init_body(key: &str) -> Vec<u8> {
        init_web_socket::Request {
            c2s: Some(init_web_socket::C2s {
                websocket_key: Some(key_md5_hex(key)),
                programming_language: Some("JavaScript".into()),
                ..Default::default()
            }),
        }
        .encode_to_vec()
    }

    fn login(&mut self, key: &str) -> u64 {
        let s = self.send(CMD_INIT, &Self::init_body(key));
        let (h, body) = self.reply_to(s);
        assert_eq!((h.cmd, h.error), (CMD_INIT, 0));
        let rsp: init_web_socket::Response = decode_body(&body).unwrap();
        assert_eq!(rsp.ret_type, 0);
        rsp.s2c.and_then(|s| s.conn_id).expect("connID")
    }

    fn call<P: Protocol>(&mut self, c2s: C2s<P>) -> S2c<P> {
        let s = self.send(P::PROTO_ID, &P::Request::from_c2s(c2s).encode_to_vec());
        let (h, body) = self.reply_to(s);
        assert_eq!((h.cmd, h.error), (P::PROTO_ID, 0));
        s2c::<P>(&body)
    }
}

#[test]
fn init_frame_is_the_js_sdks_and_the_reply_carries_the_conn_id() {
    let sim = sim_builder().websocket(0, KEY).start().unwrap();
    let addr = sim.ws_addr().expect("a WebSocket port");
    // The JS SDK's first frame for key 123456 (WEBSOCKET.md §2): 68 bytes.
    let frame = encode_request(CMD_INIT, 2, &RawWs::init_body(KEY));
    assert_eq!(frame.len(), 68);
    assert_eq!(frame[..20], [0x66, 0x74, 0x2d, 0x76, 0x31, 0x2e, 0x30, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
    assert_eq!(frame[20..24], [0x0a, 0x2e, 0x22, 0x20]);
    assert_eq!(&frame[24..56], b"e10adc3949ba59abbe56e057f20f883e");

    let mut ws = RawWs::connect(addr, None);
    ws.ws.send(Message::Binary(frame.into())).unwrap();
    let (h, body) = ws.recv();
    assert_eq!((h.cmd, h.section, h.error, h.errmsg_text().as_str()), (CMD_INIT, 2, 0, ""));
    let rsp: init_web_socket::Response = decode_body(&body).unwrap();
    let conn_id = rsp.s2c.and_then(|s| s.conn_id).unwrap();
    let sessions = sim.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].conn_id, conn_id);
    assert!(sessions[0].initialized);
    // GetGlobalState goes through the shared router and reports the same connID.
    ws.section = 2;
    let state = ws.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 });
    assert_eq!(state.conn_id, Some(conn_id));
}

#[test]
fn a_wrong_key_gets_no_init_reply() {
    let sim = sim_builder().websocket(0, KEY).start().unwrap();
    let mut ws = RawWs::connect(sim.ws_addr().unwrap(), None);
    let init = ws.send(CMD_INIT, &RawWs::init_body("not-the-key"));
    // A request after it is answered (not logged in); nothing answered the Init first.
    let probe = ws.send(pb::proto::GetGlobalState::PROTO_ID, &[]);
    let (h, body) = ws.recv();
    assert_ne!(h.section, init, "the wrong key was answered");
    assert_eq!((h.cmd, h.section), (pb::proto::GetGlobalState::PROTO_ID, probe));
    let rsp: pb::keep_alive::Response = decode_body(&body).unwrap();
    assert_eq!((rsp.ret_type, rsp.ret_msg.as_deref()), (-1, Some("Init required first")));
    assert!(!sim.sessions()[0].initialized);
    // The right key still works on the same connection.
    ws.login(KEY);
}

#[test]
fn malformed_packets_close_the_connection_and_text_is_ignored() {
    let sim = sim_builder().websocket(0, "").start().unwrap();
    let mut ws = RawWs::connect(sim.ws_addr().unwrap(), None);
    ws.ws.send(Message::Text("hello".into())).unwrap();
    ws.login(""); // an empty key matches an empty configured key
    ws.ws.send(Message::Binary(b"ft-v1.0\0short".to_vec().into())).unwrap();
    let mut closed = false;
    for _ in 0..10 {
        match ws.ws.read() {
            Ok(Message::Binary(_)) | Ok(Message::Ping(_)) | Ok(Message::Pong(_)) => continue,
            _ => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed);
    assert_eq!(sim.stats().malformed_closed, 1);
}

/// A bare TCP client: plain InitConnect, then request/reply and pushes.
struct RawTcp {
    sock: TcpStream,
    dec: FrameDecoder,
    serial: u32,
    conn_id: u64,
}

impl RawTcp {
    fn connect(addr: SocketAddr) -> RawTcp {
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let mut c = RawTcp { sock, dec: FrameDecoder::new(), serial: 0, conn_id: 0 };
        let s2c = c.call::<pb::proto::InitConnect>(init_connect::C2s {
            client_ver: 300,
            client_id: "raw".into(),
            recv_notify: Some(false),
            packet_enc_algo: Some(-1),
            push_proto_fmt: Some(0),
            programming_language: Some("Rust".into()),
            ai_type: None,
        });
        c.conn_id = s2c.conn_id;
        c
    }

    fn next_packet(&mut self) -> (u32, u32, Vec<u8>) {
        loop {
            if let Some(f) = self.dec.next_frame().unwrap() {
                let h = f.header;
                let body = ftapi::codec::open_frame(f, &PacketCipher::Plain).unwrap();
                return (h.proto_id, h.serial_no, body);
            }
            let mut buf = [0u8; 65536];
            let n = self.sock.read(&mut buf).expect("read from the simulator");
            assert!(n > 0, "the simulator closed the TCP connection");
            self.dec.push(&buf[..n]);
        }
    }

    fn call<P: Protocol>(&mut self, c2s: C2s<P>) -> S2c<P> {
        self.serial += 1;
        let mut req = P::Request::from_c2s(c2s);
        P::fill_packet_id(&mut req, self.conn_id, self.serial);
        self.sock.write_all(&seal_message(P::PROTO_ID, self.serial, &req, &PacketCipher::Plain).unwrap()).unwrap();
        loop {
            let (id, serial, body) = self.next_packet();
            if id == P::PROTO_ID && serial == self.serial {
                return s2c::<P>(&body);
            }
        }
    }

    /// The next order push.
    fn order_push(&mut self) -> pb::trd_update_order::S2c {
        loop {
            let (id, _, body) = self.next_packet();
            if id == pb::proto::UpdateOrder::PROTO_ID {
                let rsp: pb::trd_update_order::Response = decode_body(&body).unwrap();
                return rsp.s2c.unwrap();
            }
        }
    }
}

fn hk_header() -> trd_common::TrdHeader {
    trd_common::TrdHeader { trd_env: 1, acc_id: HK_REAL, trd_market: 1, jp_acc_type: None }
}

fn market_buy(conn_id: u64, serial: u32, remark: &str) -> pb::trd_place_order::C2s {
    pb::trd_place_order::C2s {
        packet_id: pb::common::PacketId { conn_id, serial_no: serial },
        header: hk_header(),
        trd_side: 1,
        order_type: 2,
        code: "00700".into(),
        qty: 100.0,
        sec_market: Some(1),
        remark: Some(remark.into()),
        ..Default::default()
    }
}

fn unlock_and_subscribe_ws(ws: &mut RawWs) {
    ws.call::<pb::proto::UnlockTrade>(pb::trd_unlock_trade::C2s {
        unlock: true,
        pwd_md5: Some(PASSWORD_MD5.into()),
        security_firm: None,
    });
    ws.call::<pb::proto::SubAccPush>(pb::trd_sub_acc_push::C2s { acc_id_list: vec![HK_REAL] });
}

fn cross_port_pushes(root_pem: Option<&str>, sim: &SimServer) {
    let mut ws = RawWs::connect(sim.ws_addr().unwrap(), root_pem);
    let ws_conn = ws.login(KEY);
    unlock_and_subscribe_ws(&mut ws);
    let mut tcp = RawTcp::connect(sim.local_addr());
    assert_ne!(tcp.conn_id, ws_conn, "the two ports share one sequence of connection ids");
    tcp.call::<pb::proto::UnlockTrade>(pb::trd_unlock_trade::C2s {
        unlock: true,
        pwd_md5: Some(PASSWORD_MD5.into()),
        security_firm: None,
    });
    tcp.call::<pb::proto::SubAccPush>(pb::trd_sub_acc_push::C2s { acc_id_list: vec![HK_REAL] });

    // TCP places, the WebSocket subscriber gets the push (section 0).
    let conn_id = tcp.conn_id;
    let placed = tcp.call::<pb::proto::PlaceOrder>(market_buy(conn_id, 100, "from tcp"));
    let order_id = placed.order_id.unwrap();
    let push = loop {
        let (h, body) = ws.recv();
        if h.cmd == pb::proto::UpdateOrder::PROTO_ID {
            assert_eq!((h.section, h.error), (0, 0));
            let rsp: pb::trd_update_order::Response = decode_body(&body).unwrap();
            let s2c = rsp.s2c.unwrap();
            if s2c.order.order_id == order_id {
                break s2c;
            }
        }
    };
    assert_eq!(push.header.acc_id, HK_REAL);

    // The WebSocket places, the TCP subscriber gets the push.
    let ws_placed = ws.call::<pb::proto::PlaceOrder>(market_buy(ws_conn, 7, "from ws"));
    let ws_order = ws_placed.order_id.unwrap();
    loop {
        if tcp.order_push().order.order_id == ws_order {
            break;
        }
    }
    // The order placed over the WebSocket is listed over TCP.
    let list =
        tcp.call::<pb::proto::GetOrderList>(pb::trd_get_order_list::C2s { header: hk_header(), ..Default::default() });
    assert!(list.order_list.iter().any(|o| o.order_id == ws_order && o.remark.as_deref() == Some("from ws")));
}

#[test]
fn pushes_cross_ports_both_ways_over_ws() {
    let sim = sim_builder().websocket(0, KEY).start().unwrap();
    cross_port_pushes(None, &sim);
}

#[test]
fn pushes_cross_ports_both_ways_over_wss() {
    let (cert, key) = test_cert();
    let sim = sim_builder().websocket(0, KEY).websocket_tls_pem(&cert, &key).start().unwrap();
    cross_port_pushes(Some(&cert), &sim);
}

#[test]
fn kill_connections_and_shutdown_cover_the_websocket_port() {
    let sim = sim_builder().websocket(0, KEY).start().unwrap();
    let mut ws = RawWs::connect(sim.ws_addr().unwrap(), None);
    ws.login(KEY);
    assert_eq!(sim.connection_count(), 1);
    assert_eq!(sim.kill_connections(), 1);
    assert!(ws.ws.read().is_err() || ws.ws.read().is_err());
    sim.shutdown();
    assert_eq!(sim.connection_count(), 0);
}

// ---------------------------------------------------------------------------------------
// The client transport (TrdApi over ws and wss)
// ---------------------------------------------------------------------------------------

mod client {
    use super::*;

    use std::net::TcpListener;
    use std::path::PathBuf;

    use crossbeam_channel::{Receiver, Sender};
    use ftapi::conn::ws::WsTransport;
    use ftapi::conn::{ConnFailure, FailKind, InitFailKind};
    use ftapi::{ConnConfig, ConnSpi, ConnState, Error, TrdApi, TrdSpi};

    const WAIT: Duration = Duration::from_secs(20);

    /// What the callbacks saw.
    #[derive(Debug)]
    enum Ev {
        Init(i64, String),
        Lost(i64, String),
        Order(Box<pb::trd_update_order::S2c>),
        Notify,
    }

    struct Rec(Sender<Ev>);

    impl ConnSpi for Rec {
        fn on_init_connect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
            let _ = self.0.send(Ev::Init(err_code, desc.to_string()));
        }
        fn on_disconnect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
            let _ = self.0.send(Ev::Lost(err_code, desc.to_string()));
        }
    }

    impl TrdSpi for Rec {
        fn on_push_update_order(&self, _api: &TrdApi, push: pb::trd_update_order::S2c) {
            let _ = self.0.send(Ev::Order(Box::new(push)));
        }
        fn on_push_notify(&self, _api: &TrdApi, _push: pb::notify::S2c) {
            let _ = self.0.send(Ev::Notify);
        }
    }

    fn api() -> (TrdApi, Receiver<Ev>) {
        let api = TrdApi::new();
        let (tx, rx) = crossbeam_channel::unbounded();
        let rec = Arc::new(Rec(tx));
        api.set_conn_spi(rec.clone());
        api.set_trd_spi(rec);
        (api, rx)
    }

    fn init_result(rx: &Receiver<Ev>) -> (i64, String) {
        loop {
            match rx.recv_timeout(WAIT).expect("on_init_connect") {
                Ev::Init(code, desc) => return (code, desc),
                _ => continue,
            }
        }
    }

    /// A temporary PEM file, removed on drop.
    struct PemFile(PathBuf);

    impl PemFile {
        fn new(pem: &str) -> PemFile {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("ftapi-ws-test-{}-{n}.pem", std::process::id()));
            std::fs::write(&path, pem).unwrap();
            PemFile(path)
        }
    }

    impl Drop for PemFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Connect, accounts, unlock, subscribe, place (PacketID filled by the client),
    /// the order push, the order list, close.
    fn trade_flow(sim: &SimServer, transport: WsTransport) {
        let (api, rx) = api();
        assert!(api.init_connect_with(Box::new(transport)));
        let (code, desc) = init_result(&rx);
        assert_eq!(code, 0, "{desc}");
        let conn_id = api.get_connect_id();
        assert_ne!(conn_id, 0);
        assert_eq!(sim.sessions().iter().filter(|s| s.conn_id == conn_id && s.initialized).count(), 1);

        let state = api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }).unwrap();
        assert_eq!(state.conn_id, Some(conn_id));
        let accs = api
            .call::<pb::proto::GetAccList>(pb::trd_get_acc_list::C2s {
                user_id: api.get_login_user_id(),
                trd_category: Some(1),
                need_general_sec_account: Some(true),
            })
            .unwrap();
        assert!(accs.acc_list.iter().any(|a| a.acc_id == HK_REAL));
        let wrong = api.call::<pb::proto::UnlockTrade>(pb::trd_unlock_trade::C2s {
            unlock: true,
            pwd_md5: Some(key_md5_hex("wrong")),
            security_firm: None,
        });
        assert!(matches!(wrong, Err(Error::Server { .. })), "{wrong:?}");
        api.call::<pb::proto::UnlockTrade>(pb::trd_unlock_trade::C2s {
            unlock: true,
            pwd_md5: Some(PASSWORD_MD5.into()),
            security_firm: None,
        })
        .unwrap();
        api.call::<pb::proto::SubAccPush>(pb::trd_sub_acc_push::C2s { acc_id_list: vec![HK_REAL] }).unwrap();
        // PacketID left empty: the client fills it with the connID and the serial.
        let placed = api.call::<pb::proto::PlaceOrder>(market_buy(0, 0, "over ws")).unwrap();
        let order_id = placed.order_id.unwrap();
        loop {
            match rx.recv_timeout(WAIT).expect("the order push") {
                Ev::Order(p) if p.order.order_id == order_id => break,
                Ev::Lost(code, desc) => panic!("lost: {code} {desc}"),
                _ => continue,
            }
        }
        let list = api
            .call::<pb::proto::GetOrderList>(pb::trd_get_order_list::C2s { header: hk_header(), ..Default::default() })
            .unwrap();
        assert!(list.order_list.iter().any(|o| o.order_id == order_id));
        api.close();
        assert_eq!(api.state(), ConnState::Closed);
        assert!(rx.try_iter().all(|e| !matches!(e, Ev::Lost(..))), "close fired on_disconnect");
    }

    #[test]
    fn init_connect_ws_trades_over_ws() {
        let sim = sim_builder().websocket(0, KEY).start().unwrap();
        let addr = sim.ws_addr().unwrap();
        // The plain entry point first.
        let (api, rx) = api();
        assert!(api.init_connect_ws("127.0.0.1", addr.port(), false, KEY));
        assert_eq!(init_result(&rx).0, 0);
        api.close();
        trade_flow(&sim, WsTransport::new("127.0.0.1", addr.port(), false, KEY));
    }

    #[test]
    fn trades_over_wss_with_a_ca_file() {
        let (cert, key) = test_cert();
        let sim = sim_builder().websocket(0, KEY).websocket_tls_pem(&cert, &key).start().unwrap();
        let ca = PemFile::new(&cert);
        let port = sim.ws_addr().unwrap().port();
        trade_flow(&sim, WsTransport::new("127.0.0.1", port, true, KEY).ca_file(&ca.0));
        // A host name works as well as an IP address.
        trade_flow(&sim, WsTransport::new("localhost", port, true, KEY).ca_file(&ca.0));
    }

    #[test]
    fn wss_refuses_an_untrusted_certificate_unless_insecure() {
        let (cert, key) = test_cert();
        let sim = sim_builder().websocket(0, KEY).websocket_tls_pem(&cert, &key).start().unwrap();
        let port = sim.ws_addr().unwrap().port();
        let (api, rx) = api();
        // The system roots do not know the test certificate.
        assert!(api.init_connect_with(Box::new(WsTransport::new("127.0.0.1", port, true, KEY))));
        let (code, desc) = init_result(&rx);
        assert_ne!(code, 0);
        assert!(desc.contains("TLS"), "{desc}");
        // Another CA: refused too.
        let (other, _) = test_cert();
        let other = PemFile::new(&other);
        let (api, rx) = self::api();
        api.init_connect_with(Box::new(WsTransport::new("127.0.0.1", port, true, KEY).ca_file(&other.0)));
        assert_ne!(init_result(&rx).0, 0);
        // The explicit opt-in accepts it.
        trade_flow(&sim, WsTransport::new("127.0.0.1", port, true, KEY).insecure(true));
    }

    #[test]
    fn a_wrong_key_fails_with_an_init_timeout() {
        let sim = sim_builder().websocket(0, KEY).start().unwrap();
        let port = sim.ws_addr().unwrap().port();
        let (api, rx) = api();
        let t = WsTransport::new("127.0.0.1", port, false, "wrong").login_timeout(Duration::from_millis(300));
        assert!(api.init_connect_with(Box::new(t)));
        let (code, desc) = init_result(&rx);
        let failure = ConnFailure::from_err_code(code).expect("a failure");
        assert_eq!(failure.kind(), FailKind::Init(InitFailKind::Timeout), "{desc}");
        assert!(desc.contains("wrong key"), "{desc}");
        assert_eq!(api.state(), ConnState::Closed);
        assert_eq!(sim.stats().init_connects_ok, 0);
    }

    #[test]
    fn pending_requests_fail_with_disconnected_when_the_server_drops() {
        let blocker = Arc::new(Blocker::default());
        let sim = sim_builder().websocket(0, KEY).trade_handler(blocker.clone()).start().unwrap();
        let (api, rx) = api();
        api.init_connect_ws("127.0.0.1", sim.ws_addr().unwrap().port(), false, KEY);
        assert_eq!(init_result(&rx).0, 0);
        std::thread::scope(|scope| {
            let call = scope.spawn(|| {
                api.call::<pb::proto::GetFunds>(pb::trd_get_funds::C2s { header: hk_header(), ..Default::default() })
            });
            blocker.entered.recv_timeout(WAIT).expect("the request reached the simulator");
            assert_eq!(sim.kill_connections(), 1);
            let r = call.join().unwrap();
            assert!(matches!(r, Err(Error::Disconnected { .. })), "{r:?}");
        });
        loop {
            if let Ev::Lost(code, _) = rx.recv_timeout(WAIT).expect("on_disconnect") {
                assert_ne!(code, 0);
                break;
            }
        }
        drop(blocker.release.lock().take());
    }

    /// A trade handler whose GetFunds waits until released.
    struct Blocker {
        entered: Receiver<()>,
        entered_tx: Sender<()>,
        release: parking_lot::Mutex<Option<Sender<()>>>,
        released: Receiver<()>,
    }

    impl Default for Blocker {
        fn default() -> Self {
            let (entered_tx, entered) = crossbeam_channel::unbounded();
            let (release, released) = crossbeam_channel::bounded(0);
            Blocker { entered, entered_tx, release: parking_lot::Mutex::new(Some(release)), released }
        }
    }

    impl ftapi::sim::TradeHandler for Blocker {
        fn handle(&self, _conn: &ftapi::sim::ConnInfo, proto_id: u32, _body: &[u8]) -> Option<Vec<u8>> {
            let _ = self.entered_tx.send(());
            let _ = self.released.recv();
            let _ = proto_id;
            None
        }
        fn disconnected(&self, _conn_id: u64) {}
    }

    /// A securities context over the WebSocket port: accounts, unlock, a market order,
    /// its push, the order list; then a killed connection is restored.
    fn sec_context_flow(
        sim: &SimServer,
        edit: impl FnOnce(
            ftapi::context::ContextBuilder<ftapi::context::Securities>,
        ) -> ftapi::context::ContextBuilder<ftapi::context::Securities>,
    ) {
        use ftapi::context::{OrderQuery, SecTradeContext};
        use ftapi::{PlaceOrder, TrdMarket, TrdSide};
        let port = sim.ws_addr().unwrap().port();
        let builder = SecTradeContext::builder().host("127.0.0.1").port(port).filter_trdmarket(TrdMarket::Hk);
        let ctx = edit(builder).open().expect("open over the WebSocket port");
        let conn_id = ctx.conn_id();
        assert!(sim.sessions().iter().any(|s| s.conn_id == conn_id && s.initialized));
        let accounts = ctx.get_acc_list().unwrap();
        assert!(accounts.iter().any(|a| a.acc_id == HK_REAL));
        ctx.unlock_trade("123456", true).unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        ctx.set_order_handler(move |u| {
            let _ = tx.send(u.order.order_id);
        });
        let placed = ctx.place_order(PlaceOrder::market("HK.00700", TrdSide::Buy, 100.0).acc_id(HK_REAL)).unwrap();
        let order_id = placed.order_id.unwrap();
        while rx.recv_timeout(WAIT).expect("the order push") != order_id {}
        let orders = ctx.order_list_query(OrderQuery::new().acc_id(HK_REAL)).unwrap();
        assert!(orders.iter().any(|o| o.order_id == order_id));
        // A lost connection is restored over the WebSocket port too.
        assert_eq!(sim.kill_connections(), 1);
        let mut restored = false;
        for _ in 0..200 {
            if ctx.get_acc_list().is_ok() && ctx.conn_id() != conn_id {
                restored = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(restored, "the context did not reconnect");
        ctx.close();
    }

    #[test]
    fn sec_context_over_ws() {
        let sim = sim_builder().websocket(0, KEY).start().unwrap();
        sec_context_flow(&sim, |b| b.websocket(false, KEY));
    }

    #[test]
    fn sec_context_over_wss() {
        let (cert, key) = test_cert();
        let sim = sim_builder().websocket(0, KEY).websocket_tls_pem(&cert, &key).start().unwrap();
        let ca = PemFile::new(&cert);
        sec_context_flow(&sim, |b| b.websocket(true, KEY).websocket_ca_file(&ca.0));
    }

    /// A quote context over the WebSocket port: opens through the one builder, answers
    /// calls, closes promptly.
    fn quote_context_flow(
        sim: &SimServer,
        edit: impl FnOnce(ftapi::context::QuoteContextBuilder) -> ftapi::context::QuoteContextBuilder,
    ) {
        use ftapi::context::QuoteContext;
        let port = sim.ws_addr().unwrap().port();
        let ctx =
            edit(QuoteContext::builder().host("127.0.0.1").port(port)).open().expect("open over the WebSocket port");
        let conn_id = ctx.conn_id();
        assert!(conn_id != 0);
        assert!(sim.sessions().iter().any(|s| s.conn_id == conn_id && s.initialized));
        let state = ctx.get_global_state().expect("GetGlobalState over the WebSocket port");
        assert!(state.server_ver > 0, "{state:?}");
        ctx.query_subscription(false).expect("Qot_GetSubInfo over the WebSocket port");
        let started = std::time::Instant::now();
        ctx.close();
        assert!(started.elapsed() < Duration::from_secs(2), "close took {:?}", started.elapsed());
    }

    #[test]
    fn quote_context_over_ws() {
        let sim = sim_builder().websocket(0, KEY).start().unwrap();
        quote_context_flow(&sim, |b| b.websocket(false, KEY));
    }

    #[test]
    fn quote_context_over_wss() {
        let (cert, key) = test_cert();
        let sim = sim_builder().websocket(0, KEY).websocket_tls_pem(&cert, &key).start().unwrap();
        let ca = PemFile::new(&cert);
        quote_context_flow(&sim, |b| b.websocket(true, KEY).websocket_ca_file(&ca.0));
    }

    #[test]
    fn a_context_with_a_wrong_key_fails_to_open() {
        let sim = sim_builder().websocket(0, KEY).start().unwrap();
        let port = sim.ws_addr().unwrap().port();
        let r = ftapi::context::SecTradeContext::builder()
            .host("127.0.0.1")
            .port(port)
            .websocket(false, "wrong")
            .connect_timeout(Duration::from_secs(1))
            .open();
        // The default login timeout (20 s) applies: OpenD does not answer a wrong key.
        let Err(e) = r else { panic!("opened with a wrong key") };
        assert!(e.to_string().contains("wrong key"), "{e}");
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let secret = "s3cret-ws-key";
        let t = WsTransport::new("127.0.0.1", 1, true, secret).ca_file("/nonexistent.pem");
        let sim_config = ftapi::sim::SimConfig {
            websocket: Some(ftapi::sim::WsSettings::new(0, secret).with_tls_pem("cert", "private key")),
            ..Default::default()
        };
        let cfg = ftapi::context::SecTradeContext::builder().websocket(true, secret);
        for text in [format!("{t:?}"), format!("{sim_config:?}"), format!("{cfg:?}")] {
            assert!(!text.contains(secret) && !text.contains(&key_md5_hex(secret)), "{text}");
        }
    }

    // ---- a scripted WebSocket server, for what the simulator never does ----

    /// Accepts one client, answers its Init with connID 77, then hands every request to
    /// `script` with a way to answer.
    fn scripted_server(script: impl FnOnce(&mut ServerSide) + Send + 'static) -> (u16, std::thread::JoinHandle<()>) {
        scripted_server_tls(None, script)
    }

    /// [`scripted_server`] over TLS with `(cert PEM, key PEM)`.
    fn scripted_server_tls(
        tls: Option<(String, String)>,
        script: impl FnOnce(&mut ServerSide) + Send + 'static,
    ) -> (u16, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(WAIT)).unwrap();
            let stream: Box<dyn Stream + Send> = match tls {
                None => Box::new(sock),
                Some((cert, key)) => {
                    use rustls_pki_types::pem::PemObject;
                    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(cert.as_bytes())
                        .collect::<Result<Vec<_>, _>>()
                        .unwrap();
                    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
                    let provider = Arc::new(rustls::crypto::ring::default_provider());
                    let config = rustls::ServerConfig::builder_with_provider(provider)
                        .with_safe_default_protocol_versions()
                        .unwrap()
                        .with_no_client_auth()
                        .with_single_cert(certs, key)
                        .unwrap();
                    let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
                    Box::new(rustls::StreamOwned::new(conn, sock))
                }
            };
            let ws = tungstenite::accept(stream).unwrap();
            let mut side = ServerSide { ws };
            let (cmd, section, _) = side.request();
            assert_eq!(cmd, CMD_INIT);
            let rsp = init_web_socket::Response {
                ret_type: 0,
                ret_msg: None,
                err_code: None,
                s2c: Some(init_web_socket::S2c { server_time: Some(0), conn_id: Some(77) }),
            };
            side.answer(&WsReplyHeader::new(CMD_INIT, section), &rsp.encode_to_vec());
            script(&mut side);
        });
        (port, handle)
    }

    struct ServerSide {
        ws: WebSocket<Box<dyn Stream + Send>>,
    }

    /// A hostile server whose Init "success" lacks what a session needs: `s2c` is
    /// `s2c`, sent as is.
    fn bogus_login_server(s2c: Option<init_web_socket::S2c>) -> (u16, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(WAIT)).unwrap();
            let stream: Box<dyn Stream + Send> = Box::new(sock);
            let mut side = ServerSide { ws: tungstenite::accept(stream).unwrap() };
            let (cmd, section, _) = side.request();
            assert_eq!(cmd, CMD_INIT);
            let rsp = init_web_socket::Response { ret_type: 0, ret_msg: None, err_code: None, s2c };
            side.answer(&WsReplyHeader::new(CMD_INIT, section), &rsp.encode_to_vec());
            // Hold the link until the client gives up on it.
            while side.ws.read().is_ok() {}
        });
        (port, handle)
    }

    #[test]
    fn a_bogus_websocket_login_is_refused() {
        let cases = [
            ("connID 0", Some(init_web_socket::S2c { server_time: Some(0), conn_id: Some(0) })),
            ("no connID", Some(init_web_socket::S2c { server_time: Some(0), conn_id: None })),
            ("no s2c", None),
        ];
        for (what, s2c) in cases {
            let (port, server) = bogus_login_server(s2c);
            let (api, rx) = api();
            api.init_connect_ws("127.0.0.1", port, false, "");
            let (code, desc) = init_result(&rx);
            assert_ne!(code, 0, "{what}: a bogus login was accepted");
            assert_eq!(code, (100i64 << 32), "{what}: FTAPI_InitFail / unknown: {desc}");
            let f = api.last_conn_failure().expect("the failure is kept");
            assert_eq!(f.kind(), FailKind::Init(InitFailKind::Unknown), "{what}");
            assert!(f.is_refusal(), "{what}: a refused login");
            assert_eq!(api.state(), ConnState::Closed, "{what}");
            assert_eq!(api.get_connect_id(), 0, "{what}");
            drop(api);
            server.join().unwrap();
        }
    }

    #[test]
    fn a_refused_websocket_upgrade_is_a_refusal() {
        // An HTTP server that answers the upgrade with 403.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(WAIT)).unwrap();
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut buf).unwrap();
                assert!(n > 0, "the client hung up");
                got.extend_from_slice(&buf[..n]);
            }
            let _ = sock.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        });
        let (api, rx) = api();
        api.init_connect_ws("127.0.0.1", port, false, "");
        let (code, desc) = init_result(&rx);
        assert_ne!(code, 0);
        let f = api.last_conn_failure().expect("the failure is kept");
        assert!(f.is_refusal(), "{f:?}");
        assert_eq!(f.ret_type(), Some(403), "{desc}");
        assert!(!Error::Connect(f).is_connection_lost());
        server.join().unwrap();
    }

    impl ServerSide {
        /// The next request (pings are answered by tungstenite).
        fn request(&mut self) -> (u32, u64, Vec<u8>) {
            loop {
                match self.ws.read() {
                    Ok(Message::Binary(data)) => {
                        let (h, body) = ftapi::codec::ws::decode_request(&data).unwrap();
                        return (h.cmd, h.section, body.to_vec());
                    }
                    Ok(_) => continue,
                    Err(e) => panic!("scripted server: {e}"),
                }
            }
        }

        fn answer(&mut self, h: &WsReplyHeader, body: &[u8]) {
            self.ws.send(Message::Binary(ftapi::codec::ws::encode_reply(h, body).into())).unwrap();
        }
    }

    fn ok_state_body() -> Vec<u8> {
        pb::get_global_state::Response {
            ret_type: 0,
            ret_msg: None,
            err_code: None,
            s2c: Some(pb::get_global_state::S2c { conn_id: Some(77), ..Default::default() }),
        }
        .encode_to_vec()
    }

    #[test]
    fn empty_bodies_errors_and_late_replies() {
        let (port, server) = scripted_server(|side| {
            // 1: an empty body.
            let (cmd, s1, _) = side.request();
            side.answer(&WsReplyHeader::new(cmd, s1), &[]);
            // 2: a transport error whose text is multi-byte (7 characters, 21 bytes: cut to 6).
            let (cmd, s2, _) = side.request();
            side.answer(&WsReplyHeader::with_error(cmd, s2, 1, "超时超时超时超"), &[]);
            // 3: not answered until request 4 arrives (the client has given up on it by then).
            let (cmd3, s3, _) = side.request();
            let (cmd4, s4, _) = side.request();
            side.answer(&WsReplyHeader::new(cmd3, s3), &ok_state_body());
            side.answer(&WsReplyHeader::new(cmd4, s4), &ok_state_body());
            // 5: answered normally, then the server closes.
            let (cmd, s5, _) = side.request();
            side.answer(&WsReplyHeader::new(cmd, s5), &ok_state_body());
            let _ = side.ws.close(None);
            let _ = side.ws.flush();
        });
        let (api, rx) = api();
        api.set_config(ConnConfig::builder().request_timeout(Duration::from_millis(300)).build());
        api.init_connect_ws("127.0.0.1", port, false, "");
        assert_eq!(init_result(&rx).0, 0);
        assert_eq!(api.get_connect_id(), 77);
        let state = |api: &TrdApi| api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 });
        // 1: the empty body settles the request: an empty Response is retType -400.
        let r = state(&api);
        assert!(matches!(r, Err(Error::Server { ret_type: -400, .. }) | Err(Error::Codec(_))), "{r:?}");
        // 2: the header error fails the request with its text, read as bytes: a refusal
        // by the WebSocket service (its code kept), not an I/O error.
        match state(&api) {
            Err(e @ Error::Server { err_code: 1, .. }) => {
                assert!(e.ret_msg().contains("error 1: 超时超时超时"), "{e}");
                assert!(!e.is_connection_lost(), "{e}");
            }
            other => panic!("{other:?}"),
        }
        // 3 times out; its late reply is dropped, 4 gets its own reply.
        assert!(matches!(state(&api), Err(Error::Timeout { .. })));
        assert_eq!(state(&api).unwrap().conn_id, Some(77));
        assert_eq!(state(&api).unwrap().conn_id, Some(77));
        server.join().unwrap();
        match rx.recv_timeout(WAIT).expect("on_disconnect") {
            Ev::Lost(code, _) => assert_ne!(code, 0),
            Ev::Notify | Ev::Order(_) => panic!("a late reply was delivered as a push"),
            Ev::Init(..) => panic!("a second init"),
        }
    }

    /// A reply of `len` bytes: retType -1 with a long retMsg.
    fn big_body(len: usize) -> Vec<u8> {
        pb::get_global_state::Response { ret_type: -1, ret_msg: Some("x".repeat(len)), err_code: None, s2c: None }
            .encode_to_vec()
    }

    #[test]
    fn wss_carries_big_messages_and_enforces_the_size_limit() {
        let (cert, key) = test_cert();
        let ca = PemFile::new(&cert);
        let (port, server) = scripted_server_tls(Some((cert, key)), |side| {
            for len in [3 << 20, 100_000, 2 << 20] {
                let (cmd, section, _) = side.request();
                side.answer(&WsReplyHeader::new(cmd, section), &big_body(len));
            }
        });
        let (api, rx) = api();
        let t = WsTransport::new("127.0.0.1", port, true, "").ca_file(&ca.0).max_message_size(1 << 21);
        api.init_connect_with(Box::new(t));
        assert_eq!(init_result(&rx).0, 0);
        let state = |api: &TrdApi| api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 });
        // 3 MiB is over the 2 MiB limit: the link is closed and the request fails.
        let r = state(&api);
        assert!(matches!(r, Err(Error::Disconnected { .. })), "{:?}", r.map(|_| ()));
        server.join().unwrap_err(); // the server saw the client go away
                                    // Within the limit, many TLS records make one message.
        let (cert, key) = test_cert();
        let ca = PemFile::new(&cert);
        let (port, server) = scripted_server_tls(Some((cert, key)), |side| {
            for len in [100_000, 3 << 20] {
                let (cmd, section, _) = side.request();
                side.answer(&WsReplyHeader::new(cmd, section), &big_body(len));
            }
            // A big request arrives whole too.
            let (cmd, section, body) = side.request();
            let req = pb::trd_place_order::Request::decode(body.as_slice()).unwrap();
            assert_eq!(req.c2s.remark.map(|r| r.len()), Some(300_000));
            side.answer(&WsReplyHeader::new(cmd, section), &big_body(10));
        });
        let (api, rx) = self::api();
        api.init_connect_with(Box::new(WsTransport::new("127.0.0.1", port, true, "").ca_file(&ca.0)));
        assert_eq!(init_result(&rx).0, 0);
        for len in [100_000, 3 << 20] {
            match state(&api) {
                Err(Error::Server { ret_type: -1, ret_msg, .. }) => assert_eq!(ret_msg.len(), len),
                other => panic!("{:?}", other.map(|_| ())),
            }
        }
        let big = pb::trd_place_order::C2s { remark: Some("r".repeat(300_000)), ..market_buy(0, 0, "") };
        let r = api.call::<pb::proto::PlaceOrder>(big);
        assert!(matches!(r, Err(Error::Server { ret_type: -1, .. })), "{:?}", r.map(|_| ()));
        server.join().unwrap();
    }

    #[test]
    fn a_link_that_stops_answering_pings_is_declared_dead() {
        // The server logs the client in, then never reads again: pings go unanswered.
        let (port, server) = scripted_server(|side| {
            std::thread::sleep(Duration::from_secs(3));
            let _ = side;
        });
        let (api, rx) = api();
        let t = WsTransport::new("127.0.0.1", port, false, "")
            .ping_interval(Duration::from_millis(100))
            .dead_after(Duration::from_millis(500));
        api.init_connect_with(Box::new(t));
        assert_eq!(init_result(&rx).0, 0);
        loop {
            if let Ev::Lost(code, desc) = rx.recv_timeout(WAIT).expect("on_disconnect") {
                assert_ne!(code, 0);
                assert!(desc.contains("received"), "{desc}");
                break;
            }
        }
        server.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// The opend-sim command line
// ---------------------------------------------------------------------------------------

mod cli {
    use super::*;

    use std::io::BufRead;
    use std::process::{Command, Stdio};

    /// Kills the child on drop.
    struct Child(std::process::Child);

    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn opend_sim_serves_wss_from_pem_files() {
        let (cert, key) = test_cert();
        let dir = std::env::temp_dir().join(format!("ftapi-ws-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, &cert).unwrap();
        std::fs::write(&key_path, &key).unwrap();
        let mut child = Child(
            Command::new(env!("CARGO_BIN_EXE_opend-sim"))
                .args(["--port", "0", "--ws-port", "0", "--ws-key", KEY, "--ws-cert"])
                .arg(&cert_path)
                .arg("--ws-private-key")
                .arg(&key_path)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let mut lines = std::io::BufReader::new(child.0.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let second = lines.next().unwrap().unwrap();
        assert!(first.starts_with("listening on 127.0.0.1:"), "{first}");
        let addr: SocketAddr = second.strip_prefix("websocket on ").expect(&second).parse().unwrap();
        let mut ws = RawWs::connect(addr, Some(&cert));
        assert_ne!(ws.login(KEY), 0);
        drop(child);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn opend_sim_refuses_incomplete_websocket_flags() {
        for args in [&["--ws-key", "k"][..], &["--ws-port", "0", "--ws-cert", "c.pem"][..]] {
            let out = Command::new(env!("CARGO_BIN_EXE_opend-sim")).args(args).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert!(out.stdout.is_empty());
        }
        let help = Command::new(env!("CARGO_BIN_EXE_opend-sim")).arg("--help").output().unwrap();
        let help = String::from_utf8(help.stdout).unwrap();
        assert!(help.contains("--ws-port P") && help.contains("websocket on <ip>:<port>"));
    }
}
