//! Clients that do not read, and the simulator's other connection limits: a client that
//! subscribes to order and quote pushes and then stops reading (on the TCP port and on
//! the WebSocket port) delays no other client's pushes and is closed in the end; a
//! 129th connection is refused; a WebSocket that never logs in is closed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftapi::codec::ws::{encode_request, key_md5_hex, CMD_INIT};
use ftapi::codec::{decode_body, seal_packet, FrameDecoder, PacketCipher};
use ftapi::pb::{
    self, init_connect, init_web_socket, qot_common, trd_common, Protocol, PushProtocol, RequestEnvelope,
    ResponseEnvelope,
};
use ftapi::sim::accounts::{default_ids, BrokerConfig};
use ftapi::sim::calendar::ClockSpec;
use ftapi::sim::{Broker, QuoteConfig, SimServer};
use prost::Message as _;
use tungstenite::Message;

const KEY: &str = "123456";
const PASSWORD_MD5: &str = "e10adc3949ba59abbe56e057f20f883e"; // the default trade password 123456
const WAIT: Duration = Duration::from_secs(20);
/// How soon another client's push must arrive while one client does not read.
const PROMPT: Duration = Duration::from_secs(2);
/// Requests the non-reading client sends: their replies are far more than the socket
/// buffers hold (loopback buffers grow to several MiB each), so the server ends up
/// blocked writing to it.
const FILLER_REQUESTS: usize = 300_000;

type C2s<P> = <<P as Protocol>::Request as RequestEnvelope>::C2s;

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn request<P: Protocol>(c2s: C2s<P>, conn_id: u64, serial: u32) -> Vec<u8> {
    let mut req = P::Request::from_c2s(c2s);
    P::fill_packet_id(&mut req, conn_id, serial);
    req.encode_to_vec()
}

fn unlock() -> pb::trd_unlock_trade::C2s {
    pb::trd_unlock_trade::C2s { unlock: true, pwd_md5: Some(PASSWORD_MD5.into()), security_firm: None }
}

fn sub_acc_push() -> pb::trd_sub_acc_push::C2s {
    pb::trd_sub_acc_push::C2s { acc_id_list: vec![default_ids::HK_REAL] }
}

fn tencent() -> qot_common::Security {
    qot_common::Security { market: qot_common::QotMarket::HkSecurity as i32, code: "00700".into() }
}

/// Basic quotes of HK.00700, with their pushes.
fn sub_quote() -> pb::qot_sub::C2s {
    pb::qot_sub::C2s {
        security_list: vec![tencent()],
        sub_type_list: vec![qot_common::SubType::Basic as i32],
        is_sub_or_un_sub: true,
        is_reg_or_un_reg_push: Some(true),
        ..Default::default()
    }
}

fn market_buy(conn_id: u64, serial: u32) -> pb::trd_place_order::C2s {
    pb::trd_place_order::C2s {
        packet_id: pb::common::PacketId { conn_id, serial_no: serial },
        header: trd_common::TrdHeader {
            trd_env: trd_common::TrdEnv::Real as i32,
            acc_id: default_ids::HK_REAL,
            trd_market: trd_common::TrdMarket::Hk as i32,
            jp_acc_type: None,
        },
        trd_side: trd_common::TrdSide::Buy as i32,
        order_type: trd_common::OrderType::Market as i32,
        code: "00700".into(),
        qty: 100.0,
        sec_market: Some(trd_common::TrdSecMarket::Hk as i32),
        ..Default::default()
    }
}

/// A bare TCP client: plain InitConnect, requests, replies and pushes.
struct RawTcp {
    sock: TcpStream,
    dec: FrameDecoder,
    serial: u32,
    conn_id: u64,
}

impl RawTcp {
    fn connect(addr: SocketAddr) -> RawTcp {
        let sock = TcpStream::connect(addr).expect("connect");
        sock.set_read_timeout(Some(WAIT)).unwrap();
        let mut c = RawTcp { sock, dec: FrameDecoder::new(), serial: 0, conn_id: 0 };
        let init = init_connect::C2s {
            client_ver: 300,
            client_id: "slow-client-test".into(),
            recv_notify: Some(false),
            packet_enc_algo: Some(-1),
            push_proto_fmt: Some(0),
            programming_language: Some("Rust".into()),
            ai_type: None,
        };
        let (_, body) = c.call::<pb::proto::InitConnect>(init);
        let rsp: init_connect::Response = decode_body(&body).unwrap();
        c.conn_id = rsp.s2c.expect("InitConnect s2c").conn_id;
        c
    }

    fn send<P: Protocol>(&mut self, c2s: C2s<P>) -> u32 {
        self.serial += 1;
        let body = request::<P>(c2s, self.conn_id, self.serial);
        let packet = seal_packet(P::PROTO_ID, self.serial, &body, &PacketCipher::Plain).unwrap();
        self.sock.write_all(&packet).expect("send");
        self.serial
    }

    /// The next packet: (proto id, serial, plain body).
    fn next_packet(&mut self) -> (u32, u32, Vec<u8>) {
        loop {
            if let Some(f) = self.dec.next_frame().unwrap() {
                let h = f.header;
                let body = ftapi::codec::open_frame(f, &PacketCipher::Plain).unwrap();
                return (h.proto_id, h.serial_no, body);
            }
            let mut buf = [0u8; 65536];
            let n = self.sock.read(&mut buf).expect("read from the simulator");
            assert!(n > 0, "the simulator closed the connection");
            self.dec.push(&buf[..n]);
        }
    }

    /// Sends a request and returns its reply (retType checked) and the pushes before it.
    fn call<P: Protocol>(&mut self, c2s: C2s<P>) -> (Vec<(u32, Vec<u8>)>, Vec<u8>) {
        let serial = self.send::<P>(c2s);
        let mut pushes = Vec::new();
        loop {
            let (id, s, body) = self.next_packet();
            if id == P::PROTO_ID && s == serial {
                let rsp: P::Response = decode_body(&body).unwrap();
                assert_eq!(rsp.ret_type(), 0, "{}: {}", P::NAME, rsp.ret_msg());
                return (pushes, body);
            }
            pushes.push((id, body));
        }
    }

    /// Waits for the first push of `proto_id` that `f` accepts.
    fn push_where(&mut self, proto_id: u32, mut f: impl FnMut(&[u8]) -> bool) {
        loop {
            let (id, _, body) = self.next_packet();
            if id == proto_id && f(&body) {
                return;
            }
        }
    }
}

/// Which port the client that stops reading uses.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Port {
    Tcp,
    Ws,
}

/// Connects a client on `port` that subscribes to HK_REAL's order pushes and to
/// HK.00700's quotes, then sends requests without ever reading again (on a thread of
/// its own; the socket stays open until the server closes it).
fn start_non_reader(sim: &SimServer, port: Port) -> std::thread::JoinHandle<()> {
    match port {
        Port::Tcp => {
            let mut c = RawTcp::connect(sim.local_addr());
            c.call::<pb::proto::UnlockTrade>(unlock());
            c.call::<pb::proto::SubAccPush>(sub_acc_push());
            c.call::<pb::proto::Sub>(sub_quote());
            let conn_id = c.conn_id;
            std::thread::spawn(move || {
                let mut all = Vec::new();
                for i in 0..FILLER_REQUESTS {
                    let serial = 1000 + i as u32;
                    let body =
                        request::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }, conn_id, serial);
                    let p = seal_packet(pb::proto::GetGlobalState::PROTO_ID, serial, &body, &PacketCipher::Plain);
                    all.extend_from_slice(&p.unwrap());
                }
                c.sock.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
                let _ = c.sock.write_all(&all);
                // Keep the socket open, unread, until the server closes it.
                let mut one = [0u8; 1];
                c.sock.set_read_timeout(None).unwrap();
                std::thread::sleep(Duration::from_secs(60));
                let _ = c.sock.read(&mut one);
            })
        }
        Port::Ws => {
            let addr = sim.ws_addr().expect("a WebSocket port");
            let tcp = TcpStream::connect(addr).unwrap();
            tcp.set_read_timeout(Some(WAIT)).unwrap();
            let (mut ws, _) = tungstenite::client(format!("ws://{addr}/"), tcp).expect("WebSocket handshake");
            let mut section = 1u64;
            let mut call = |ws: &mut tungstenite::WebSocket<TcpStream>, cmd: u32, body: Vec<u8>| {
                section += 1;
                ws.send(Message::Binary(encode_request(cmd, section, &body).into())).unwrap();
                loop {
                    if let Message::Binary(data) = ws.read().expect("a reply") {
                        let (h, _) = ftapi::codec::ws::decode_reply(&data).unwrap();
                        if h.section == section {
                            return;
                        }
                    }
                }
            };
            let init = init_web_socket::Request {
                c2s: Some(init_web_socket::C2s { websocket_key: Some(key_md5_hex(KEY)), ..Default::default() }),
            };
            call(&mut ws, CMD_INIT, init.encode_to_vec());
            call(&mut ws, pb::proto::UnlockTrade::PROTO_ID, request::<pb::proto::UnlockTrade>(unlock(), 0, 0));
            call(&mut ws, pb::proto::SubAccPush::PROTO_ID, request::<pb::proto::SubAccPush>(sub_acc_push(), 0, 0));
            call(&mut ws, pb::proto::Sub::PROTO_ID, request::<pb::proto::Sub>(sub_quote(), 0, 0));
            std::thread::spawn(move || {
                ws.get_mut().set_write_timeout(Some(Duration::from_secs(60))).unwrap();
                let body = request::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }, 0, 0);
                for i in 0..FILLER_REQUESTS as u64 {
                    let msg = encode_request(pb::proto::GetGlobalState::PROTO_ID, 1000 + i, &body);
                    if ws.send(Message::Binary(msg.into())).is_err() {
                        break;
                    }
                }
                std::thread::sleep(Duration::from_secs(60));
            })
        }
    }
}

/// Waits until the server has stopped taking requests (it is blocked writing replies
/// to the client that does not read).
fn wait_stalled(sim: &SimServer) {
    let deadline = Instant::now() + WAIT;
    let mut last = sim.stats().requests_received;
    let mut since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = sim.stats().requests_received;
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= Duration::from_millis(500) {
            assert!(last < FILLER_REQUESTS as u64, "every filler request was answered: the client read them?");
            return;
        }
        assert!(Instant::now() < deadline, "the server kept taking requests");
    }
}

fn slow_client_delays_no_one(port: Port) {
    let broker = Arc::new(Broker::new(BrokerConfig { clock: ClockSpec::Open, ..Default::default() }).unwrap());
    let sim = SimServer::builder()
        .port(0)
        .websocket(0, KEY)
        .trade_handler(broker.clone())
        .quote_config(QuoteConfig { tick_ms: 20, ..Default::default() })
        .write_timeout(Duration::from_secs(10))
        .start()
        .unwrap();

    // The reading client subscribes to the same account and quote.
    let mut reader = RawTcp::connect(sim.local_addr());
    reader.call::<pb::proto::UnlockTrade>(unlock());
    reader.call::<pb::proto::SubAccPush>(sub_acc_push());
    reader.call::<pb::proto::Sub>(sub_quote());

    let filler = start_non_reader(&sim, port);
    wait_stalled(&sim);
    assert_eq!(sim.connection_count(), 2);

    // Its own order: the reply, then the order push, promptly.
    let conn_id = reader.conn_id;
    let serial = reader.serial + 1;
    reader.call::<pb::proto::PlaceOrder>(market_buy(conn_id, serial));
    let t = Instant::now();
    reader.push_where(pb::proto::UpdateOrder::PROTO_ID, |_| true);
    let order_push = t.elapsed();

    // A new price: the quote push, promptly.
    let price = broker.set_price("HK.00700", broker.price("HK.00700").unwrap() + 1.0).unwrap();
    let t = Instant::now();
    reader.push_where(pb::proto::UpdateBasicQot::PROTO_ID, |body| {
        let rsp: pb::qot_update_basic_qot::Response = decode_body(body).unwrap();
        rsp.s2c.is_some_and(|s| s.basic_qot_list.iter().any(|q| (q.cur_price - price).abs() < 1e-6))
    });
    let quote_push = t.elapsed();
    assert_eq!(sim.connection_count(), 2, "the non-reading client was closed before the pushes were checked");
    assert!(order_push < PROMPT, "{port:?}: the order push took {order_push:?}");
    assert!(quote_push < PROMPT, "{port:?}: the quote push took {quote_push:?}");

    // The client that does not read is closed (its write misses the deadline); the
    // other stays.
    wait_until("the non-reading client is closed", || sim.connection_count() == 1);
    assert!(sim.stats().slow_closed >= 1);
    reader.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 });
    drop(filler);
}

#[test]
fn a_tcp_client_that_does_not_read_delays_no_one_and_is_closed() {
    slow_client_delays_no_one(Port::Tcp);
}

#[test]
fn a_websocket_client_that_does_not_read_delays_no_one_and_is_closed() {
    slow_client_delays_no_one(Port::Ws);
}

#[test]
fn a_full_outgoing_queue_closes_the_connection() {
    let broker = Arc::new(Broker::new(BrokerConfig { clock: ClockSpec::Open, ..Default::default() }).unwrap());
    let sim = SimServer::builder()
        .port(0)
        .trade_handler(broker.clone())
        .quote_config(QuoteConfig { tick_ms: 10, ..Default::default() })
        .out_queue_bytes(16 * 1024)
        .write_timeout(Duration::from_secs(120))
        .start()
        .unwrap();
    let _filler = start_non_reader(&sim, Port::Tcp);
    wait_stalled(&sim);
    // Quote pushes pile up in its queue until it overflows (long before the write
    // timeout).
    let deadline = Instant::now() + WAIT;
    let mut price = broker.price("HK.00700").unwrap();
    while sim.connection_count() > 0 {
        assert!(Instant::now() < deadline, "the connection was not closed");
        price = if price > 500.0 { price - 1.0 } else { price + 1.0 };
        broker.set_price("HK.00700", price).unwrap();
        std::thread::sleep(Duration::from_millis(15));
    }
    assert!(sim.stats().slow_closed >= 1);
}

#[test]
fn the_129th_connection_is_refused() {
    let sim = SimServer::builder().port(0).start().unwrap();
    assert_eq!(sim.config().max_connections, 128);
    let addr = sim.local_addr();
    let mut open: Vec<TcpStream> = (0..128).map(|_| TcpStream::connect(addr).unwrap()).collect();
    wait_until("128 connections", || sim.connection_count() == 128);

    let mut extra = TcpStream::connect(addr).unwrap();
    extra.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 16];
    match extra.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the 129th connection was not closed: {other:?}"),
    }
    assert_eq!(sim.stats().connections_refused, 1);
    assert_eq!(sim.connection_count(), 128);

    // Once one has gone, a newcomer is served.
    open.pop();
    wait_until("127 connections", || sim.connection_count() == 127);
    let mut c = RawTcp::connect(addr);
    c.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 });
    drop(open);
}

#[test]
fn a_websocket_that_never_logs_in_is_closed_after_the_login_timeout() {
    let sim =
        SimServer::builder().port(0).websocket(0, KEY).ws_login_timeout(Duration::from_millis(500)).start().unwrap();
    let addr = sim.ws_addr().unwrap();

    // Logged in: stays open past the timeout.
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let (mut good, _) = tungstenite::client(format!("ws://{addr}/"), tcp).unwrap();
    let init = init_web_socket::Request {
        c2s: Some(init_web_socket::C2s { websocket_key: Some(key_md5_hex(KEY)), ..Default::default() }),
    };
    good.send(Message::Binary(encode_request(CMD_INIT, 1, &init.encode_to_vec()).into())).unwrap();
    assert!(matches!(good.read().unwrap(), Message::Binary(_)), "the Init reply");

    // Upgraded, never logged in: closed.
    let t = Instant::now();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let (mut idle, _) = tungstenite::client(format!("ws://{addr}/"), tcp).unwrap();
    match idle.read() {
        Ok(Message::Close(_)) | Err(_) => {}
        Ok(other) => panic!("unexpected message {other:?}"),
    }
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(400), "closed after {waited:?}, before the timeout");
    wait_until("only the logged-in session left", || sim.connection_count() == 1);

    let body = request::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }, 0, 0);
    good.send(Message::Binary(encode_request(pb::proto::GetGlobalState::PROTO_ID, 2, &body).into())).unwrap();
    assert!(matches!(good.read().unwrap(), Message::Binary(_)), "the logged-in session still answers");
}
