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

    /// The reply to `section` (pushes before it are returned too).
    fn reply_to(&mut self, section: u64) -> (WsReplyHeader, Vec<u8>, Vec<(WsReplyHeader, Vec<u8>)>) {
        let mut pushes = Vec::new();
        loop {
            let (h, body) = self.recv();
            if h.section == section {
                return (h, body, pushes);
            }
            pushes.push((h, body));
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
        let (h, body, _) = self.reply_to(s);
        assert_eq!((h.cmd, h.error), (CMD_INIT, 0));
        let rsp: init_web_socket::Response = decode_body(&body).unwrap();
        assert_eq!(rsp.ret_type, 0);
        rsp.s2c.and_then(|s| s.conn_id).expect("connID")
    }

    fn call<P: Protocol>(&mut self, c2s: C2s<P>) -> S2c<P> {
        let s = self.send(P::PROTO_ID, &P::Request::from_c2s(c2s).encode_to_vec());
        let (h, body, _) = self.reply_to(s);
        assert_eq!((h.cmd, h.error), (P::PROTO_ID, 0));
        s2c::<P>(&body)
    }
}

#[test]
fn init_frame_is_the_js_sdks_and_the_reply_carries_the_conn_id() {
    let sim = SimServer::builder().port(0).websocket(0, KEY).start().unwrap();
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
    let sim = SimServer::builder().port(0).websocket(0, KEY).start().unwrap();
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
    let sim = SimServer::builder().port(0).websocket(0, "").start().unwrap();
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
        self.sock.write_all(&seal_message(P::PROTO_ID, self.serial, &req, &PacketCipher::Plain)).unwrap();
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
    let sim = SimServer::builder().port(0).websocket(0, KEY).start().unwrap();
    cross_port_pushes(None, &sim);
}

#[test]
fn pushes_cross_ports_both_ways_over_wss() {
    let (cert, key) = test_cert();
    let sim = SimServer::builder().port(0).websocket(0, KEY).websocket_tls_pem(&cert, &key).start().unwrap();
    cross_port_pushes(Some(&cert), &sim);
}

#[test]
fn kill_connections_and_shutdown_cover_the_websocket_port() {
    let sim = SimServer::builder().port(0).websocket(0, KEY).start().unwrap();
    let mut ws = RawWs::connect(sim.ws_addr().unwrap(), None);
    ws.login(KEY);
    assert_eq!(sim.connection_count(), 1);
    assert_eq!(sim.kill_connections(), 1);
    assert!(ws.ws.read().is_err() || ws.ws.read().is_err());
    sim.shutdown();
    assert_eq!(sim.connection_count(), 0);
}
