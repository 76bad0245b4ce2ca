//! The connection core over the in-memory transport: no socket, a scripted peer. The
//! fault cases that do not depend on TCP framing or ciphers live here (timeouts, late
//! replies, a peer that closes, a corrupt stream, dead links, failed sends, slow and
//! panicking callbacks, push floods, closing while opening, serial numbers across
//! connections); the TCP-specific ones stay in tests/faults.rs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ftapi::conn::memory::{MemoryPeer, MemoryTransport, PeerRequest};
use ftapi::conn::{ConnFailure, FailKind, InitFailKind, InitInfo, Liveness, SocketFailKind};
use ftapi::pb::{self, Protocol, PushProtocol};
use ftapi::{ConnConfig, ConnSpi, ConnState, Error, TrdApi, TrdSpi};

/// Bound on every wait.
const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug)]
enum Ev {
    Init(i64, String),
    Disconnect(i64, String),
    GlobalState(u32, Result<pb::get_global_state::S2c, Error>),
    Notify(i32),
}

type Hook = Box<dyn Fn(&TrdApi, i32) + Send + Sync>;

struct Rec {
    tx: Sender<Ev>,
    /// Runs inside `on_push_notify` before the event is recorded.
    on_notify: Option<Hook>,
}

impl ConnSpi for Rec {
    fn on_init_connect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
        let _ = self.tx.send(Ev::Init(err_code, desc.to_string()));
    }
    fn on_disconnect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
        let _ = self.tx.send(Ev::Disconnect(err_code, desc.to_string()));
    }
}

impl TrdSpi for Rec {
    fn on_reply_get_global_state(&self, _api: &TrdApi, serial: u32, r: Result<pb::get_global_state::S2c, Error>) {
        let _ = self.tx.send(Ev::GlobalState(serial, r));
    }
    fn on_push_notify(&self, api: &TrdApi, push: pb::notify::S2c) {
        if let Some(h) = &self.on_notify {
            h(api, push.r#type);
        }
        let _ = self.tx.send(Ev::Notify(push.r#type));
    }
}

fn config() -> ConnConfig {
    ConnConfig::builder()
        .request_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(10))
        .tick(Duration::from_millis(10))
        .build()
}

fn api_with(config: ConnConfig, on_notify: Option<Hook>) -> (TrdApi, Receiver<Ev>) {
    let api = TrdApi::with_config(config);
    let (tx, rx) = crossbeam_channel::unbounded();
    let rec = Arc::new(Rec { tx, on_notify });
    api.set_conn_spi(rec.clone());
    api.set_trd_spi(rec);
    (api, rx)
}

fn next<T>(rx: &Receiver<Ev>, what: &str, mut f: impl FnMut(Ev) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(ev) => {
                if let Some(t) = f(ev) {
                    return t;
                }
            }
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

fn wait_init(rx: &Receiver<Ev>) -> (i64, String) {
    next(rx, "on_init_connect", |e| match e {
        Ev::Init(c, d) => Some((c, d)),
        _ => None,
    })
}

fn wait_disconnect(rx: &Receiver<Ev>) -> (i64, String) {
    next(rx, "on_disconnect", |e| match e {
        Ev::Disconnect(c, d) => Some((c, d)),
        _ => None,
    })
}

/// Connects `api` over a fresh memory pair with `info`.
fn open(api: &TrdApi, rx: &Receiver<Ev>, info: InitInfo) -> MemoryPeer {
    let (transport, peer) = MemoryTransport::pair();
    assert!(api.init_connect_with(Box::new(transport)));
    assert!(peer.wait_open(WAIT), "the client starts opening");
    peer.accept(info);
    assert_eq!(wait_init(rx), (0, String::new()));
    assert!(api.is_connected());
    peer
}

fn connected(config: ConnConfig) -> (TrdApi, Receiver<Ev>, MemoryPeer) {
    let (api, rx) = api_with(config, None);
    let peer = open(&api, &rx, InitInfo::new(77));
    (api, rx, peer)
}

fn request(peer: &MemoryPeer, proto_id: u32) -> PeerRequest {
    loop {
        let r = peer.recv_request(WAIT).expect("a request reaches the peer");
        if r.proto_id == proto_id {
            return r;
        }
    }
}

fn global_state_reply(rx: &Receiver<Ev>, serial: u32) -> Result<pb::get_global_state::S2c, Error> {
    next(rx, "the GetGlobalState answer", |e| match e {
        Ev::GlobalState(s, r) if s == serial => Some(r),
        _ => None,
    })
}

fn gs(ver: i32) -> pb::get_global_state::S2c {
    pb::get_global_state::S2c { server_ver: ver, ..Default::default() }
}

fn notify(n: i32) -> pb::notify::S2c {
    pb::notify::S2c { r#type: n, ..Default::default() }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn replies_and_pushes_round_trip_without_a_socket() {
    let (api, rx, peer) = connected(config());
    assert_eq!(api.get_connect_id(), 77);
    let serial = api.get_global_state();
    assert_ne!(serial, 0);
    let req = request(&peer, pb::proto::GetGlobalState::PROTO_ID);
    assert_eq!(req.serial, serial);
    assert!(req.decode::<pb::proto::GetGlobalState>().is_some(), "the request decodes");
    peer.reply::<pb::proto::GetGlobalState>(serial, gs(901));
    assert_eq!(global_state_reply(&rx, serial).expect("reply").server_ver, 901);
    peer.push::<pb::proto::Notify>(notify(5));
    assert_eq!(next(&rx, "the push", |e| if let Ev::Notify(n) = e { Some(n) } else { None }), 5);
    // OpenD's refusal keeps retType, retMsg and errCode.
    let serial = api.get_global_state();
    peer.reply_error::<pb::proto::GetGlobalState>(request(&peer, 1002).serial, -1, "nope", 7);
    let e = global_state_reply(&rx, serial).expect_err("refused");
    assert!(matches!(e, Error::Server { ret_type: -1, err_code: 7, ref ret_msg, .. } if ret_msg == "nope"), "{e:?}");
    api.close();
    assert!(peer.is_shut_down());
}

#[test]
fn a_refused_login_reports_the_official_composite_code() {
    let (api, rx) = api_with(config(), None);
    let (transport, peer) = MemoryTransport::pair();
    assert!(api.init_connect_with(Box::new(transport)));
    assert!(peer.wait_open(WAIT));
    peer.refuse(ConnFailure::rejected(-1, "no login"));
    let (code, desc) = wait_init(&rx);
    assert_eq!(code, (100 << 32) | 5, "FTAPI_InitFail / OpenDReject");
    assert_eq!(desc, "no login");
    let f = ConnFailure::from_err_code(code).unwrap();
    assert_eq!(f.kind(), FailKind::Init(InitFailKind::OpenDRejected));
    let typed = api.last_conn_failure().unwrap();
    assert_eq!((typed.ret_type(), typed.ret_msg()), (Some(-1), Some("no login")));
    assert_eq!(api.state(), ConnState::Closed);
}

#[test]
fn a_login_without_an_answer_times_out_as_init_timeout() {
    let (api, rx) = api_with(config().to_builder().connect_timeout(Duration::from_millis(200)).build(), None);
    let (transport, _peer) = MemoryTransport::pair();
    assert!(api.init_connect_with(Box::new(transport)));
    let (code, _) = wait_init(&rx);
    assert_eq!(code, (100 << 32) | 1, "FTAPI_InitFail / Timeout");
}

#[test]
fn composite_codes_decode_and_encode() {
    assert!(ConnFailure::from_err_code(0).is_none(), "0 is success");
    for kind in [-1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] {
        let code = (i64::from(kind) << 32) | 104;
        let f = ConnFailure::from_err_code(code).unwrap();
        assert_eq!(f.err_code(), code, "kind {kind} round-trips");
        assert_eq!(f.os_error(), Some(104));
        assert!(matches!(f.kind(), FailKind::Socket(k) if k.code() == kind));
    }
    for (low, kind) in [
        (0, InitFailKind::Unknown),
        (1, InitFailKind::Timeout),
        (3, InitFailKind::Disconnected),
        (4, InitFailKind::SendFailed),
        (5, InitFailKind::OpenDRejected),
    ] {
        let f = ConnFailure::from_err_code((100 << 32) | low).unwrap();
        assert_eq!(f.kind(), FailKind::Init(kind));
        assert_eq!(f.err_code(), (100 << 32) | low);
        assert_eq!(f.os_error(), None);
    }
    // An unknown kind still decodes (as Unknown) and is never "success".
    let f = ConnFailure::from_err_code(42 << 32).unwrap();
    assert_eq!(f.kind(), FailKind::Socket(SocketFailKind::Unknown));
    assert_ne!(ConnFailure::socket(SocketFailKind::RecvFailed, "x").err_code(), 0);
}

#[test]
fn an_unanswered_request_times_out_and_a_late_reply_is_dropped() {
    let (api, rx, peer) = connected(config().to_builder().request_timeout(Duration::from_millis(100)).build());
    let serial = api.get_global_state();
    let req = request(&peer, 1002);
    let e = global_state_reply(&rx, serial).expect_err("times out");
    assert!(matches!(e, Error::Timeout { proto_id: 1002, .. }), "{e:?}");
    assert_eq!(e.ret_type(), -100);
    // The late reply is dropped: no second answer, and the connection goes on.
    peer.reply::<pb::proto::GetGlobalState>(req.serial, gs(1));
    let serial2 = api.get_global_state();
    peer.reply::<pb::proto::GetGlobalState>(request(&peer, 1002).serial, gs(2));
    let next_answer = next(&rx, "an answer", |e| match e {
        Ev::GlobalState(s, r) => Some((s, r)),
        _ => None,
    });
    assert_eq!(next_answer.0, serial2, "only the new request is answered");
    assert_eq!(next_answer.1.unwrap().server_ver, 2);
    assert!(api.is_connected());
}

#[test]
fn a_reply_that_cannot_be_opened_fails_only_its_request() {
    let (api, rx, peer) = connected(config());
    let serial = api.get_global_state();
    let req = request(&peer, 1002);
    peer.send_failed(req.proto_id, req.serial, Error::Codec(ftapi::codec::CodecError::Decrypt("simulated".into())));
    let e = global_state_reply(&rx, serial).expect_err("fails");
    assert_eq!(e.ret_type(), -500, "{e:?}");
    // Garbage bodies: an undecodable reply fails its request, an undecodable push is dropped.
    let serial = api.get_global_state();
    peer.send_packet(1002, request(&peer, 1002).serial, vec![0xff, 0xff, 0xff]);
    assert!(global_state_reply(&rx, serial).is_err());
    peer.send_packet(pb::proto::Notify::PROTO_ID, 0, vec![0xff, 0xff]);
    peer.push::<pb::proto::Notify>(notify(9));
    assert_eq!(next(&rx, "the good push", |e| if let Ev::Notify(n) = e { Some(n) } else { None }), 9);
    // A reply to nothing is dropped.
    peer.reply::<pb::proto::GetGlobalState>(123_456, gs(0));
    let serial = api.get_global_state();
    peer.reply::<pb::proto::GetGlobalState>(request(&peer, 1002).serial, gs(3));
    assert_eq!(global_state_reply(&rx, serial).unwrap().server_ver, 3);
    assert!(api.is_connected());
}

fn assert_lost(rx: &Receiver<Ev>, serial: u32, text: &str) {
    let mut answered = false;
    let mut lost = 0;
    while !(answered && lost == 1) {
        next(rx, "the answer and on_disconnect", |e| match e {
            Ev::GlobalState(s, r) if s == serial => {
                let e = r.expect_err("the pending request fails");
                assert!(matches!(e, Error::Disconnected { proto_id: 1002, .. }), "{e:?}");
                assert!(!answered, "answered once");
                answered = true;
                Some(())
            }
            Ev::Disconnect(code, desc) => {
                assert!(answered, "pending requests are answered before on_disconnect");
                assert_eq!(code >> 32, 11, "RecvFailed: {code:#x}");
                assert!(desc.contains(text), "{desc:?} should mention {text:?}");
                lost += 1;
                Some(())
            }
            _ => None,
        });
    }
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "nothing after on_disconnect");
}

#[test]
fn a_peer_that_closes_answers_pending_requests_then_fires_on_disconnect_once() {
    let (api, rx, peer) = connected(config());
    let serial = api.get_global_state();
    request(&peer, 1002);
    peer.close();
    assert_lost(&rx, serial, "closed by peer");
    assert_eq!(api.state(), ConnState::Closed);
    assert_eq!(api.last_conn_failure().map(|f| f.kind()), Some(FailKind::Socket(SocketFailKind::RecvFailed)));
}

#[test]
fn a_corrupt_stream_drops_the_connection() {
    let (api, rx, peer) = connected(config());
    let serial = api.get_global_state();
    request(&peer, 1002);
    peer.corrupt("bad header magic");
    assert_lost(&rx, serial, "corrupt data");
}

#[test]
fn a_silent_peer_is_detected_as_dead_and_an_answering_one_is_not() {
    let liveness = Liveness::KeepAlive { every: Duration::from_millis(50), dead_after: Duration::from_millis(300) };
    let mut info = InitInfo::new(1);
    info.liveness = liveness;
    // KeepAlive answered by the transport: the link stays up well past `dead_after`.
    let (api, rx) = api_with(config(), None);
    let peer = open(&api, &rx, info.clone());
    std::thread::sleep(Duration::from_millis(900));
    assert!(api.is_connected(), "answered keepalives keep the link up");
    assert!(peer.sent_count() >= 3, "keepalives were sent: {}", peer.sent_count());
    api.close();
    // Unanswered: dead after `dead_after`.
    let (api, rx) = api_with(config(), None);
    let (transport, peer) = MemoryTransport::pair();
    peer.answer_keepalive(false);
    assert!(api.init_connect_with(Box::new(transport)));
    assert!(peer.wait_open(WAIT));
    peer.accept(info);
    assert_eq!(wait_init(&rx).0, 0);
    let (code, desc) = wait_disconnect(&rx);
    assert_eq!(code >> 32, 11, "{code:#x}");
    assert!(desc.contains("keepalive timeout"), "{desc}");
}

#[test]
fn a_failed_send_fails_the_call_and_drops_the_connection() {
    let (api, rx, peer) = connected(config());
    peer.fail_sends(true);
    let r = api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 });
    assert!(matches!(r, Err(Error::Io(_))), "{r:?}");
    let (code, _) = wait_disconnect(&rx);
    assert!(ConnFailure::from_err_code(code).is_some());
    assert_eq!(api.state(), ConnState::Closed);
}

#[test]
fn serial_numbers_keep_counting_across_connections() {
    let (api, rx, peer) = connected(config());
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(api.get_global_state());
        request(&peer, 1002);
    }
    api.close();
    drop(peer);
    let peer = open(&api, &rx, InitInfo::new(78));
    for _ in 0..3 {
        seen.push(api.get_global_state());
        request(&peer, 1002);
    }
    assert!(seen.iter().all(|&s| s != 0));
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "never reused, never reset: {seen:?}");
}

#[test]
fn close_is_prompt_while_the_login_is_in_progress() {
    // The peer never accepts: the open is in progress until the (long) connect timeout.
    let (api, rx) = api_with(config().to_builder().connect_timeout(Duration::from_secs(60)).build(), None);
    let (transport, peer) = MemoryTransport::pair();
    assert!(api.init_connect_with(Box::new(transport)));
    assert!(peer.wait_open(WAIT));
    assert_eq!(api.state(), ConnState::Connecting);
    let t0 = Instant::now();
    api.close();
    let took = t0.elapsed();
    eprintln!("close while the login is in progress took {took:?}");
    // The bound is generous for a loaded machine; the point is that close does not wait
    // for the 60 s connect timeout.
    assert!(took < Duration::from_secs(5), "close took {took:?}");
    assert_eq!(api.state(), ConnState::Closed);
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "no on_init_connect after close");
    // Dropping while opening is prompt too.
    let (api, _rx) = api_with(config().to_builder().connect_timeout(Duration::from_secs(60)).build(), None);
    let (transport, peer) = MemoryTransport::pair();
    assert!(api.init_connect_with(Box::new(transport)));
    assert!(peer.wait_open(WAIT));
    let t0 = Instant::now();
    drop(api);
    eprintln!("drop while the login is in progress took {:?}", t0.elapsed());
    assert!(t0.elapsed() < Duration::from_secs(5), "drop took {:?}", t0.elapsed());
}

#[test]
fn a_slow_callback_does_not_stop_keepalive_or_other_calls_timeouts() {
    let interval = Duration::from_millis(100);
    let mut info = InitInfo::new(3);
    info.liveness = Liveness::KeepAlive { every: interval, dead_after: interval * 3 };
    let sleeping = Arc::new(AtomicUsize::new(0));
    let s = sleeping.clone();
    let hook: Hook = Box::new(move |_api, _n| {
        s.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(interval * 6);
        s.fetch_sub(1, Ordering::SeqCst);
    });
    let (api, rx) = api_with(config(), Some(hook));
    let peer = open(&api, &rx, info);
    peer.push::<pb::proto::Notify>(notify(1));
    wait_until("the callback is sleeping", || sleeping.load(Ordering::SeqCst) == 1);
    let sent_before = peer.sent_count();
    // A call from another thread, unanswered by the peer, times out on time although the
    // callback thread is busy.
    let r = api.call_request::<pb::proto::GetGlobalState>(
        pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: 0 } },
        Some(Duration::from_millis(100)),
    );
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert_eq!(sleeping.load(Ordering::SeqCst), 1, "the callback was still sleeping");
    wait_until("the callback returned", || sleeping.load(Ordering::SeqCst) == 0);
    assert!(peer.sent_count() > sent_before + 1, "keepalives went on during the callback");
    assert!(api.is_connected(), "the link survived a callback six times longer than dead_after");
    assert_eq!(next(&rx, "the push", |e| if let Ev::Notify(n) = e { Some(n) } else { None }), 1);
}

#[test]
fn a_push_flood_into_a_slow_callback_is_delivered_in_order_with_a_bounded_queue() {
    let cfg = config().to_builder().push_queue_capacity(8).build();
    let delivered = Arc::new(AtomicUsize::new(0));
    let d = delivered.clone();
    let hook: Hook = Box::new(move |_api, _n| {
        d.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_micros(200));
    });
    let (api, rx) = api_with(cfg, Some(hook));
    let peer = open(&api, &rx, InitInfo::new(4));
    const N: i32 = 2000;
    for n in 0..N {
        peer.push::<pb::proto::Notify>(notify(n));
    }
    // Calls from other threads still get their replies during the flood.
    let serial = api.get_global_state();
    peer.reply::<pb::proto::GetGlobalState>(request(&peer, 1002).serial, gs(7));
    let mut expect = 0;
    let mut replied = false;
    while expect < N || !replied {
        next(&rx, "pushes in order", |e| match e {
            Ev::Notify(n) => {
                assert_eq!(n, expect, "wire order");
                expect += 1;
                Some(())
            }
            Ev::GlobalState(s, r) if s == serial => {
                assert_eq!(r.unwrap().server_ver, 7);
                replied = true;
                Some(())
            }
            _ => None,
        });
    }
    assert_eq!(delivered.load(Ordering::SeqCst), N as usize, "no push dropped");
}

#[test]
fn a_blocking_call_from_a_callback_works_even_with_a_full_push_queue() {
    let cfg = config().to_builder().push_queue_capacity(1).build();
    let (res_tx, res_rx) = crossbeam_channel::unbounded();
    let hook: Hook = Box::new(move |api, n| {
        if n == 0 {
            let r = api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 });
            let _ = res_tx.send(r.map(|s| s.server_ver));
        }
    });
    let (api, rx) = api_with(cfg, Some(hook));
    let peer = open(&api, &rx, InitInfo::new(5));
    for n in 0..50 {
        peer.push::<pb::proto::Notify>(notify(n));
    }
    let req = request(&peer, 1002);
    peer.reply::<pb::proto::GetGlobalState>(req.serial, gs(11));
    let r = res_rx.recv_timeout(WAIT).expect("the call returned");
    assert!(matches!(r, Ok(11)), "{r:?}");
    for n in 0..50 {
        assert_eq!(next(&rx, "push", |e| if let Ev::Notify(n) = e { Some(n) } else { None }), n);
    }
}

#[test]
fn a_panicking_callback_does_not_stop_the_connection() {
    let hook: Hook = Box::new(|_api, n| {
        if n == 1 {
            panic!("callback panics on purpose");
        }
    });
    let (api, rx) = api_with(config(), Some(hook));
    let peer = open(&api, &rx, InitInfo::new(6));
    peer.push::<pb::proto::Notify>(notify(1));
    peer.push::<pb::proto::Notify>(notify(2));
    assert_eq!(next(&rx, "the second push", |e| if let Ev::Notify(n) = e { Some(n) } else { None }), 2);
    assert!(api.is_connected());
}

#[test]
fn close_and_drop_from_inside_a_callback_do_not_deadlock() {
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let hook: Hook = Box::new(move |api, _n| {
        api.close();
        let _ = done_tx.send(api.state());
    });
    let (api, rx) = api_with(config(), Some(hook));
    let peer = open(&api, &rx, InitInfo::new(8));
    let serial = api.get_global_state();
    request(&peer, 1002);
    peer.push::<pb::proto::Notify>(notify(1));
    assert_eq!(done_rx.recv_timeout(WAIT).unwrap(), ConnState::Closed);
    // The pending request is answered once, and no on_disconnect follows a user close.
    let e = global_state_reply(&rx, serial).expect_err("disconnected");
    assert!(matches!(e, Error::Disconnected { .. }), "{e:?}");
    assert!(peer.is_shut_down());

    // The owning handle dropped inside a callback.
    let slot: Arc<parking_lot::Mutex<Option<TrdApi>>> = Arc::new(parking_lot::Mutex::new(None));
    let s = slot.clone();
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let hook: Hook = Box::new(move |_api, _n| {
        drop(s.lock().take());
        let _ = done_tx.send(());
    });
    let (api, rx) = api_with(config(), Some(hook));
    let peer = open(&api, &rx, InitInfo::new(9));
    *slot.lock() = Some(api);
    peer.push::<pb::proto::Notify>(notify(1));
    done_rx.recv_timeout(WAIT).expect("the callback returned");
    wait_until("the link is shut down", || peer.is_shut_down());
}

#[test]
fn close_is_prompt_while_the_tcp_connect_hangs() {
    // A loopback listener that never accepts, with its accept queue filled: further
    // SYNs are dropped, so a connect hangs until its timeout.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    let hangs = loop {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => break true,
        }
        if fillers.len() > 4096 {
            break false;
        }
    };
    assert!(hangs, "could not make a loopback connect hang (accept queue never filled)");
    // (It lives in this file because the abandoned connect attempt ends on its own only
    // at the connect timeout, which would upset the thread counts of tests/client.rs.)
    let api = TrdApi::with_config(ConnConfig::builder().connect_timeout(Duration::from_secs(10)).build());
    assert!(api.init_connect("127.0.0.1", addr.port(), false));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(api.state(), ConnState::Connecting);
    let t0 = std::time::Instant::now();
    drop(api);
    eprintln!("drop while the TCP connect hangs took {:?}", t0.elapsed());
    // Generous for a loaded machine; the point is that drop does not wait 10 s.
    assert!(t0.elapsed() < Duration::from_secs(5), "drop took {:?}", t0.elapsed());
    drop(listener);
}

// ---- issue 17: the connection core's promises under slow consumers, huge timeouts,
// panicking transports, chatty peers and closes from other threads.

/// A Notify push whose body also carries `extra` bytes of an unknown field (skipped by
/// the decoder), to make pushes as large as wanted.
fn big_notify(n: i32, extra: usize) -> Vec<u8> {
    use prost::Message as _;
    let rsp = pb::notify::Response { ret_type: 0, ret_msg: None, err_code: None, s2c: Some(notify(n)) };
    let mut body = rsp.encode_to_vec();
    prost::encoding::encode_key(1000, prost::encoding::WireType::LengthDelimited, &mut body);
    prost::encoding::encode_varint(extra as u64, &mut body);
    body.resize(body.len() + extra, 0xa5);
    body
}

#[test]
fn replies_do_not_wait_behind_pushes_to_a_slow_consumer() {
    // The consumer takes 1 ms per push; 20,000 pushes are ahead of the reply (20 s of
    // work, five times the old count bound). The reply must not wait for them.
    let hook: Hook = Box::new(|_api, _n| std::thread::sleep(Duration::from_millis(1)));
    let (api, rx) = api_with(config(), Some(hook));
    let peer = open(&api, &rx, InitInfo::new(21));
    const N: i32 = 20_000;
    for n in 0..N {
        peer.push::<pb::proto::Notify>(notify(n));
    }
    let api = Arc::new(api);
    let a = api.clone();
    let caller = std::thread::spawn(move || {
        let req = pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: 0 } };
        a.call_request::<pb::proto::GetGlobalState>(req, Some(Duration::from_secs(3)))
    });
    let req = request(&peer, 1002);
    let t0 = Instant::now();
    peer.reply::<pb::proto::GetGlobalState>(req.serial, gs(5));
    let r = caller.join().expect("the caller returned");
    let took = t0.elapsed();
    eprintln!("the reply behind {N} pushes reached its caller after {took:?}");
    assert_eq!(r.expect("answered, not timed out").server_ver, 5);
    assert!(took < Duration::from_secs(2), "the reply took {took:?}");
    let stats = api.push_queue_stats();
    assert!(stats.pushes > 0, "the consumer is still behind: {stats:?}");
    assert!(stats.peak_bytes <= ConnConfig::default().push_queue_bytes, "{stats:?}");
    // Closing with the queue full is prompt and drops what is queued.
    let t0 = Instant::now();
    api.close();
    assert!(t0.elapsed() < Duration::from_secs(2), "close took {:?}", t0.elapsed());
}

#[test]
fn the_push_queue_is_bounded_by_bytes_and_drops_nothing() {
    const BOUND: usize = 256 << 10;
    const EXTRA: usize = 4096;
    let cfg = config().to_builder().push_queue_bytes(BOUND).build();
    let hook: Hook = Box::new(|_api, _n| std::thread::sleep(Duration::from_micros(300)));
    let (api, rx) = api_with(cfg, Some(hook));
    let peer = open(&api, &rx, InitInfo::new(22));
    const N: i32 = 600; // 2.4 MiB of pushes, ten times the bound
    for n in 0..N {
        peer.send_packet(pb::proto::Notify::PROTO_ID, 0, big_notify(n, EXTRA));
    }
    // The memory transport hands over one packet per read: the bound may be passed by
    // one read (one push and its bookkeeping).
    let one_read = 2 * EXTRA + 1024;
    for n in 0..N {
        assert_eq!(next(&rx, "push in order", |e| if let Ev::Notify(n) = e { Some(n) } else { None }), n);
        let s = api.push_queue_stats();
        assert!(s.bytes <= BOUND + one_read, "queued {s:?}");
    }
    let s = api.push_queue_stats();
    eprintln!("push queue after the flood: {s:?}");
    assert!(s.peak_bytes > BOUND / 2, "the flood did fill the queue: {s:?}");
    assert!(s.peak_bytes <= BOUND + one_read, "peak {s:?} beyond the bound {BOUND}");
    assert!(api.is_connected());
}

#[test]
fn duration_max_means_no_timeout() {
    let cfg = config().to_builder().request_timeout(Duration::MAX).connect_timeout(Duration::MAX).build();
    let (api, rx) = api_with(cfg, None);
    let peer = open(&api, &rx, InitInfo::new(23));
    let api = Arc::new(api);
    let a = api.clone();
    let caller = std::thread::spawn(move || {
        let req = pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: 0 } };
        a.call_request::<pb::proto::GetGlobalState>(req, Some(Duration::MAX))
    });
    let req = request(&peer, 1002);
    std::thread::sleep(Duration::from_millis(50));
    peer.reply::<pb::proto::GetGlobalState>(req.serial, gs(8));
    assert_eq!(caller.join().expect("no panic").expect("answered").server_ver, 8);
    // The default timeout (Duration::MAX) too, then a huge one that is not MAX.
    let serial = api.get_global_state();
    let req = request(&peer, 1002);
    peer.reply::<pb::proto::GetGlobalState>(req.serial, gs(9));
    assert_eq!(global_state_reply(&rx, serial).expect("answered").server_ver, 9);
    let a = api.clone();
    let caller = std::thread::spawn(move || {
        let req = pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: 0 } };
        a.call_request::<pb::proto::GetGlobalState>(req, Some(Duration::from_secs(u64::MAX / 2)))
    });
    request(&peer, 1002);
    // Unanswered: the close answers it.
    std::thread::sleep(Duration::from_millis(50));
    api.close();
    let r = caller.join().expect("no panic");
    assert!(matches!(r, Err(Error::Disconnected { .. })), "{r:?}");
}

/// A transport that panics while opening, or whose receiver panics once `armed`.
struct Panicky {
    inner: MemoryTransport,
    in_open: bool,
    armed: Arc<std::sync::atomic::AtomicBool>,
}

struct PanickyReceiver {
    inner: Box<dyn ftapi::conn::PacketReceiver>,
    armed: Arc<std::sync::atomic::AtomicBool>,
}

impl ftapi::conn::PacketReceiver for PanickyReceiver {
    fn recv(&mut self) -> Result<ftapi::conn::Incoming, ConnFailure> {
        if self.armed.load(Ordering::SeqCst) {
            panic!("the transport's receiver panics on purpose");
        }
        self.inner.recv()
    }
}

impl ftapi::conn::Transport for Panicky {
    fn peer(&self) -> String {
        "panicky".into()
    }
    fn open(self: Box<Self>, ctx: &ftapi::conn::OpenContext) -> Result<ftapi::conn::Link, ConnFailure> {
        if self.in_open {
            panic!("the transport's open panics on purpose");
        }
        let inner: Box<dyn ftapi::conn::Transport> = Box::new(self.inner);
        let mut link = inner.open(ctx)?;
        link.receiver = Box::new(PanickyReceiver { inner: link.receiver, armed: self.armed });
        Ok(link)
    }
}

#[test]
fn a_panicking_transport_becomes_a_typed_teardown() {
    // Panicking while opening: on_init_connect reports it.
    let (api, rx) = api_with(config(), None);
    let (inner, _peer) = MemoryTransport::pair();
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    assert!(api.init_connect_with(Box::new(Panicky { inner, in_open: true, armed: armed.clone() })));
    let (code, desc) = wait_init(&rx);
    assert_ne!(code, 0);
    assert!(desc.contains("panicked"), "{desc}");
    wait_until("closed", || api.state() == ConnState::Closed);
    // Panicking while reading: every pending request is answered, on_disconnect comes.
    let (api, rx) = api_with(config(), None);
    let (inner, peer) = MemoryTransport::pair();
    assert!(api.init_connect_with(Box::new(Panicky { inner, in_open: false, armed: armed.clone() })));
    assert!(peer.wait_open(WAIT));
    peer.accept(InitInfo::new(24));
    assert_eq!(wait_init(&rx).0, 0);
    let api = Arc::new(api);
    let a = api.clone();
    let caller = std::thread::spawn(move || {
        let req = pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: 0 } };
        a.call_request::<pb::proto::GetGlobalState>(req, Some(Duration::MAX))
    });
    let serial = api.get_global_state();
    request(&peer, 1002);
    request(&peer, 1002);
    armed.store(true, Ordering::SeqCst);
    let r = caller.join().expect("the caller returned");
    let e = r.expect_err("the link is gone");
    assert!(matches!(e, Error::Disconnected { .. }), "{e:?}");
    assert!(e.conn_failure().is_some_and(|f| f.message().contains("panicked")), "{e:?}");
    assert!(matches!(global_state_reply(&rx, serial), Err(Error::Disconnected { .. })));
    let (code, desc) = wait_disconnect(&rx);
    assert_ne!(code, 0);
    assert!(desc.contains("panicked"), "{desc}");
    assert_eq!(api.state(), ConnState::Closed);
}

#[test]
fn a_chatty_peer_that_never_answers_pings_is_declared_dead() {
    let liveness = Liveness::Ping { every: Duration::from_millis(50), dead_after: Duration::from_millis(300) };
    let mut info = InitInfo::new(25);
    info.liveness = liveness;
    // Pings answered: alive, also when nothing else comes.
    let (api, rx) = api_with(config(), None);
    let _peer = open(&api, &rx, info.clone());
    std::thread::sleep(Duration::from_millis(900));
    assert!(api.is_connected(), "answered pings keep the link up");
    api.close();
    // Pings never answered, but pushes keep coming: dead all the same.
    let (api, rx) = api_with(config(), None);
    let (transport, peer) = MemoryTransport::pair();
    peer.answer_keepalive(false);
    assert!(api.init_connect_with(Box::new(transport)));
    assert!(peer.wait_open(WAIT));
    peer.accept(info);
    assert_eq!(wait_init(&rx).0, 0);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let chatter = std::thread::spawn(move || {
        let mut n = 0;
        while !s.load(Ordering::SeqCst) && n < 2000 {
            peer.push::<pb::proto::Notify>(notify(n));
            peer.alive();
            n += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let (code, desc) = next(&rx, "on_disconnect", |e| if let Ev::Disconnect(c, d) = e { Some((c, d)) } else { None });
    stop.store(true, Ordering::SeqCst);
    chatter.join().unwrap();
    assert_eq!(code >> 32, 11, "{code:#x}");
    assert!(desc.contains("keepalive timeout"), "{desc}");
}

#[test]
fn close_does_not_wait_for_a_sleeping_callback() {
    let sleeping = Arc::new(AtomicUsize::new(0));
    let s = sleeping.clone();
    let hook: Hook = Box::new(move |_api, _n| {
        s.store(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(4));
        s.store(2, Ordering::SeqCst);
    });
    let (api, rx) = api_with(config(), Some(hook));
    let peer = open(&api, &rx, InitInfo::new(26));
    let serial = api.get_global_state();
    request(&peer, 1002);
    peer.push::<pb::proto::Notify>(notify(1));
    peer.push::<pb::proto::Notify>(notify(2));
    wait_until("the callback sleeps", || sleeping.load(Ordering::SeqCst) == 1);
    let t0 = Instant::now();
    api.close();
    let took = t0.elapsed();
    eprintln!("close while a callback sleeps took {took:?}");
    assert!(took < Duration::from_secs(2), "close took {took:?}");
    assert_eq!(api.state(), ConnState::Closed);
    assert_eq!(sleeping.load(Ordering::SeqCst), 1, "the callback still runs on its own thread");
    // It finishes on its own; then only the answer owed is delivered (no second push).
    let e = global_state_reply(&rx, serial).expect_err("disconnected");
    assert!(matches!(e, Error::Disconnected { .. }), "{e:?}");
    assert!(e.conn_failure().is_some_and(|f| f.is_local()), "{e:?}");
    assert_eq!(sleeping.load(Ordering::SeqCst), 2);
    std::thread::sleep(Duration::from_millis(100));
    while let Ok(ev) = rx.try_recv() {
        assert!(!matches!(ev, Ev::Notify(2) | Ev::Disconnect(..)), "{ev:?} after close");
    }
    // Drop from another thread is as prompt.
    let s = sleeping.clone();
    let hook: Hook = Box::new(move |_api, _n| {
        s.store(3, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(4));
    });
    let (api, rx) = api_with(config(), Some(hook));
    let peer = open(&api, &rx, InitInfo::new(27));
    peer.push::<pb::proto::Notify>(notify(1));
    wait_until("the callback sleeps", || sleeping.load(Ordering::SeqCst) == 3);
    let t0 = Instant::now();
    drop(api);
    assert!(t0.elapsed() < Duration::from_secs(2), "drop took {:?}", t0.elapsed());
}
