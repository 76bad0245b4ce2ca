//! The callback API against the simulator: connect in every mode, replies, pushes,
//! keepalive, timeouts, disconnects, closing from callbacks, and resource cleanup.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ftapi::codec::AesMode;
use ftapi::conn::{ConnFailure, FailKind, InitFailKind, SocketFailKind};
use ftapi::pb::{self, Protocol};
use ftapi::sim::{ConnInfo, FaultPlan, FaultRule, PacketFault, TradeHandler};
use ftapi::{ConnConfig, ConnSpi, ConnState, Error, TrdApi};
use parking_lot::Mutex;
use prost::Message;

fn global_state(api: &TrdApi) -> Result<pb::get_global_state::S2c, Error> {
    api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: api.get_login_user_id() })
}

#[test]
fn connects_and_answers_in_every_mode() {
    for mode in ALL_MODES {
        let sim = sim(mode);
        let (api, rx) = recorded_api(mode);
        connect(&api, &rx, &sim, mode);
        let info = api.init_info().expect("init info");
        assert_ne!(info.conn_id, 0);
        assert_eq!(api.get_connect_id(), info.conn_id);
        assert_ne!(api.get_login_user_id(), 0);
        let expected = match mode {
            Mode::Plain => None,
            Mode::Cbc => Some(AesMode::Cbc),
            Mode::Ecb => Some(AesMode::FtAesEcb),
        };
        assert_eq!(info.aes_mode, expected, "{mode:?}");
        let state = global_state(&api).expect("GetGlobalState");
        assert!(state.trd_logined && state.qot_logined);
        api.close();
        assert_eq!(api.state(), ConnState::Closed);
        assert_eq!(api.get_connect_id(), 0);
    }
}

#[test]
fn a_2048_bit_key_works() {
    let key = key2048();
    let sim = SimServerBuilderExt::start_with_key(key.clone(), AesMode::Cbc);
    let (api, rx) = recorded_api(Mode::Plain);
    api.set_rsa_key(key);
    let addr = sim.local_addr();
    assert!(api.init_connect(&addr.ip().to_string(), addr.port(), true));
    assert_eq!(wait_init(&rx), (0, String::new()));
    global_state(&api).expect("GetGlobalState over a 2048-bit handshake");
}

struct SimServerBuilderExt;
impl SimServerBuilderExt {
    fn start_with_key(key: ftapi::codec::RsaKey, mode: AesMode) -> ftapi::sim::SimServer {
        ftapi::sim::SimServer::builder().port(0).rsa_key(key).aes_mode(mode).start().expect("start simulator")
    }
}

#[test]
fn replies_reach_the_spi_with_their_serial() {
    let sim = sim(Mode::Cbc);
    let (api, rx) = recorded_api(Mode::Cbc);
    connect(&api, &rx, &sim, Mode::Cbc);
    let s1 = api.get_global_state();
    let s2 = api.get_global_state();
    assert!(s1 != 0 && s2 > s1, "serials increase: {s1} {s2}");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let (serial, ok) = wait_for(&rx, "GetGlobalState replies", |e| match e {
            Event::GlobalState(serial, r) => Some((serial, r.is_ok())),
            _ => None,
        });
        assert!(ok);
        seen.push(serial);
    }
    seen.sort();
    assert_eq!(seen, vec![s1, s2]);
}

#[test]
fn requests_before_connect_are_not_sent() {
    let (api, _rx) = recorded_api(Mode::Plain);
    assert_eq!(api.get_global_state(), 0);
    assert!(matches!(global_state(&api), Err(Error::NotConnected(_))));
}

#[test]
fn keepalives_are_sent() {
    let sim = sim_with(Mode::Ecb, |b| b.keepalive_interval(1));
    let (api, rx) = recorded_api(Mode::Ecb);
    connect(&api, &rx, &sim, Mode::Ecb);
    wait_until("the simulator has received 2 keepalives", || sim.keepalives_received() >= 2);
    assert!(api.is_connected());
}

#[test]
fn a_server_drop_fires_on_disconnect_once_and_answers_pending_requests() {
    for mode in ALL_MODES {
        let sim = sim_with(mode, |b| b.faults(FaultPlan::none().rule(FaultRule::new(PacketFault::Drop).proto(1002))));
        let (api, rx) = recorded_api(mode);
        connect(&api, &rx, &sim, mode);
        let serial = api.get_global_state();
        assert_ne!(serial, 0);
        wait_until("the request is pending", || api.pending_requests() == 1);
        assert_eq!(sim.kill_connections(), 1);
        let mut disconnects = 0;
        let mut answered = false;
        while !(answered && disconnects == 1) {
            wait_for(&rx, "disconnect and the pending answer", |e| match e {
                Event::Disconnect(code, _) => {
                    // RecvFailed (FTAPI_ConnectFailType 11) in the high 32 bits.
                    assert_eq!(code >> 32, 11, "{code:#x}");
                    assert_eq!(
                        ConnFailure::from_err_code(code).unwrap().kind(),
                        FailKind::Socket(SocketFailKind::RecvFailed)
                    );
                    disconnects += 1;
                    Some(())
                }
                Event::GlobalState(s, r) => {
                    assert_eq!(s, serial);
                    let e = r.expect_err("the pending request fails");
                    assert!(matches!(e, Error::Disconnected { .. }), "{e:?}");
                    assert_eq!(e.ret_type(), -200);
                    answered = true;
                    Some(())
                }
                _ => None,
            });
        }
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "no second callback");
        assert_eq!(api.state(), ConnState::Closed);
    }
}

#[test]
fn init_connect_failure_carries_opends_message() {
    let plan =
        FaultPlan::none().rule(FaultRule::new(PacketFault::InitFail { message: "simulated: login failed".into() }));
    let sim = sim_with(Mode::Plain, |b| b.faults(plan));
    let (api, rx) = recorded_api(Mode::Plain);
    let addr = sim.local_addr();
    assert!(api.init_connect(&addr.ip().to_string(), addr.port(), false));
    // FTAPI_InitFail (100) in the high 32 bits, OpenDReject (5) in the low ones; the
    // description is OpenD's retMsg.
    assert_eq!(wait_init(&rx), ((100 << 32) | 5, "simulated: login failed".to_string()));
    assert_eq!(api.state(), ConnState::Closed);
    let f = api.last_conn_failure().expect("typed failure");
    assert_eq!(f.kind(), FailKind::Init(InitFailKind::OpenDRejected));
    assert_eq!((f.ret_type(), f.ret_msg()), (Some(-1), Some("simulated: login failed")));
}

#[test]
fn connection_refused_is_reported() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (api, rx) = recorded_api(Mode::Plain);
    assert!(api.init_connect("127.0.0.1", port, false));
    let (code, desc) = wait_init(&rx);
    // ConnectFailed (6) in the high 32 bits, the OS error number in the low ones.
    let f = ConnFailure::from_err_code(code).expect("a failure");
    assert_eq!(f.kind(), FailKind::Socket(SocketFailKind::ConnectFailed), "{code:#x}");
    #[cfg(target_os = "linux")]
    assert_eq!(f.os_error(), Some(111), "ECONNREFUSED");
    assert!(desc.to_lowercase().contains("refused"), "{desc}");
    assert_eq!(api.last_conn_failure().map(|f| f.err_code()), Some(code));
}

#[test]
fn encrypting_without_a_key_is_reported() {
    let sim = sim(Mode::Cbc);
    let (api, rx) = recorded_api(Mode::Plain);
    let addr = sim.local_addr();
    assert!(api.init_connect(&addr.ip().to_string(), addr.port(), true));
    let (code, desc) = wait_init(&rx);
    assert_ne!(code, 0);
    assert!(desc.contains("RSA key not set"), "{desc}");
}

#[test]
fn an_unanswered_request_times_out() {
    let sim =
        sim_with(Mode::Plain, |b| b.faults(FaultPlan::none().rule(FaultRule::new(PacketFault::Drop).proto(1002))));
    let (api, rx) = recorded_api(Mode::Plain);
    api.set_config(api.config().to_builder().request_timeout(Duration::from_millis(300)).build());
    connect(&api, &rx, &sim, Mode::Plain);
    let serial = api.get_global_state();
    let err = wait_for(&rx, "the timeout", |e| match e {
        Event::GlobalState(s, r) if s == serial => Some(r.expect_err("times out")),
        _ => None,
    });
    assert!(matches!(err, Error::Timeout { proto_id: 1002, .. }), "{err:?}");
    assert_eq!(err.ret_type(), -100);
    // The blocking form times out too, and the connection stays usable.
    assert!(matches!(global_state(&api), Err(Error::Timeout { .. })));
    assert!(api.is_connected());
}

#[test]
fn notify_pushes_reach_the_callback() {
    let sim = sim(Mode::Cbc);
    let (api, rx) = recorded_api(Mode::Cbc);
    connect(&api, &rx, &sim, Mode::Cbc);
    assert_eq!(sim.push_gtw_event(14, "trade password changed"), 1);
    let push = wait_for(&rx, "a Notify push", |e| match e {
        Event::Notify(n) => Some(n),
        _ => None,
    });
    let event = push.event.expect("GtwEvent");
    assert_eq!((event.event_type, event.desc.as_str()), (14, "trade password changed"));
}

struct CloseInCallback {
    done: crossbeam_channel::Sender<ConnState>,
}
impl ConnSpi for CloseInCallback {
    fn on_init_connect(&self, api: &TrdApi, err_code: i64, _desc: &str) {
        assert_eq!(err_code, 0);
        api.close();
        api.close();
        let _ = self.done.send(api.state());
    }
}

#[test]
fn close_from_inside_a_callback_does_not_deadlock() {
    let sim = sim(Mode::Plain);
    let api = TrdApi::new();
    let (tx, rx) = crossbeam_channel::bounded(1);
    api.set_conn_spi(Arc::new(CloseInCallback { done: tx }));
    let addr = sim.local_addr();
    assert!(api.init_connect(&addr.ip().to_string(), addr.port(), false));
    assert_eq!(rx.recv_timeout(WAIT).expect("callback ran"), ConnState::Closed);
    api.close();
}

struct DropInCallback {
    holder: Mutex<Option<Arc<TrdApi>>>,
    done: crossbeam_channel::Sender<()>,
}
impl ConnSpi for DropInCallback {
    fn on_init_connect(&self, _api: &TrdApi, _err_code: i64, _desc: &str) {
        // The last owner of the TrdApi goes away on the reader thread itself.
        drop(self.holder.lock().take());
        let _ = self.done.send(());
    }
}

#[test]
fn dropping_the_last_handle_inside_a_callback_does_not_deadlock() {
    let sim = sim(Mode::Plain);
    let api = Arc::new(TrdApi::new());
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spi = Arc::new(DropInCallback { holder: Mutex::new(Some(api.clone())), done: tx });
    api.set_conn_spi(spi.clone());
    let addr = sim.local_addr();
    assert!(api.init_connect(&addr.ip().to_string(), addr.port(), false));
    drop(api);
    rx.recv_timeout(WAIT).expect("callback ran and returned");
    wait_until("the simulator sees the connection closed", || sim.connection_count() == 0);
}

struct BlockingInCallback {
    done: crossbeam_channel::Sender<Result<pb::get_global_state::S2c, Error>>,
}
impl ConnSpi for BlockingInCallback {
    fn on_init_connect(&self, api: &TrdApi, _err_code: i64, _desc: &str) {
        let _ = self.done.send(global_state(api));
    }
}

#[test]
fn a_blocking_call_inside_a_callback_works() {
    let sim = sim(Mode::Plain);
    let api = TrdApi::new();
    let (tx, rx) = crossbeam_channel::bounded(1);
    api.set_conn_spi(Arc::new(BlockingInCallback { done: tx }));
    let addr = sim.local_addr();
    assert!(api.init_connect(&addr.ip().to_string(), addr.port(), false));
    // Callbacks run on the callback thread and replies are read by the I/O thread, so
    // a blocking call from a callback gets its reply.
    let r = rx.recv_timeout(WAIT).expect("callback ran");
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn init_connect_is_refused_while_connected_and_allowed_after_a_disconnect() {
    let sim = sim(Mode::Plain);
    let (api, rx) = recorded_api(Mode::Plain);
    connect(&api, &rx, &sim, Mode::Plain);
    let first = api.get_connect_id();
    let addr = sim.local_addr();
    assert!(!api.init_connect(&addr.ip().to_string(), addr.port(), false));
    sim.kill_connections();
    wait_for(&rx, "the disconnect", |e| matches!(e, Event::Disconnect(..)).then_some(()));
    connect(&api, &rx, &sim, Mode::Plain);
    assert_ne!(api.get_connect_id(), first, "a new connection gets a new id");
    global_state(&api).expect("the new connection works");
}

#[test]
fn init_and_close_cycles_leave_no_thread_or_socket_behind() {
    let sim = sim(Mode::Plain);
    let addr = sim.local_addr();
    // Warm up once so lazily created process-wide resources are not counted.
    {
        let (api, rx) = recorded_api(Mode::Plain);
        connect(&api, &rx, &sim, Mode::Plain);
        api.close();
    }
    wait_until("the warm-up session is gone", || sim.connection_count() == 0);
    let (threads, fds) = (thread_count(), fd_count());
    for _ in 0..200 {
        let (api, rx) = recorded_api(Mode::Plain);
        assert!(api.init_connect(&addr.ip().to_string(), addr.port(), false));
        assert_eq!(wait_init(&rx).0, 0);
        api.close();
    }
    wait_until("the simulator's sessions are gone", || sim.connection_count() == 0);
    wait_until("threads are back to the baseline", || thread_count() <= threads);
    wait_until("file descriptors are back to the baseline", || fd_count() <= fds);
}

/// Answers Trd_PlaceOrder with the PacketID it received: orderID = serialNo,
/// orderIDEx = connID.
struct EchoPacketId;
impl TradeHandler for EchoPacketId {
    fn handle(&self, _conn: &ConnInfo, proto_id: u32, body: &[u8]) -> Option<Vec<u8>> {
        if proto_id != pb::proto::PlaceOrder::PROTO_ID {
            return None;
        }
        let req = pb::trd_place_order::Request::decode(body).ok()?;
        let p = req.c2s.packet_id;
        let rsp = pb::trd_place_order::Response {
            ret_type: 0,
            ret_msg: None,
            err_code: None,
            s2c: Some(pb::trd_place_order::S2c {
                header: req.c2s.header,
                order_id: Some(p.serial_no as u64),
                order_id_ex: Some(p.conn_id.to_string()),
            }),
        };
        Some(rsp.encode_to_vec())
    }
    fn disconnected(&self, _conn_id: u64) {}
}

#[test]
fn write_requests_get_their_packet_id_filled() {
    let sim = sim_with(Mode::Cbc, |b| b.trade_handler(Arc::new(EchoPacketId)));
    let (api, rx) = recorded_api(Mode::Cbc);
    connect(&api, &rx, &sim, Mode::Cbc);
    let (tx, replies) = crossbeam_channel::unbounded();
    let req = pb::trd_place_order::Request::default();
    let tx2 = tx.clone();
    let serial = api
        .send::<pb::proto::PlaceOrder>(req.clone(), move |_api, serial, r| {
            let _ = tx2.send((serial, r));
        })
        .expect("sent");
    let (s, r) = replies.recv_timeout(WAIT).expect("reply");
    let s2c = r.expect("ok");
    assert_eq!(s, serial);
    assert_eq!(s2c.order_id, Some(serial as u64), "packetID.serialNo = header serial");
    assert_eq!(s2c.order_id_ex, Some(api.get_connect_id().to_string()), "packetID.connID = conn id");

    // A PacketID set by the caller is kept.
    let mut mine = req;
    mine.c2s.packet_id = pb::common::PacketId { conn_id: 7, serial_no: 99 };
    api.send::<pb::proto::PlaceOrder>(mine, move |_api, serial, r| {
        let _ = tx.send((serial, r));
    })
    .expect("sent");
    let (_, r) = replies.recv_timeout(WAIT).expect("reply");
    let s2c = r.expect("ok");
    assert_eq!((s2c.order_id, s2c.order_id_ex.as_deref()), (Some(99), Some("7")));

    // Unknown protocols come back as OpenD errors with retType -1.
    let err = api
        .call::<pb::proto::GetFunds>(pb::trd_get_funds::C2s::default())
        .expect_err("the echo handler knows no GetFunds");
    assert_eq!(err.ret_type(), -1);
}

#[test]
fn the_config_is_applied() {
    let api = TrdApi::with_config(ConnConfig::builder().request_timeout(Duration::from_secs(3)).build());
    api.set_client_info("tester", 7);
    let cfg = api.config();
    assert_eq!((cfg.client_id.as_str(), cfg.client_ver, cfg.request_timeout), ("tester", 7, Duration::from_secs(3)));
}

/// Sleeps in `on_push_notify` for `nap`, flagging while it sleeps.
struct SleepyNotify {
    nap: Duration,
    sleeping: Arc<std::sync::atomic::AtomicBool>,
    woke: crossbeam_channel::Sender<()>,
}

impl ftapi::TrdSpi for SleepyNotify {
    fn on_push_notify(&self, _api: &TrdApi, _push: pb::notify::S2c) {
        self.sleeping.store(true, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(self.nap);
        self.sleeping.store(false, std::sync::atomic::Ordering::SeqCst);
        let _ = self.woke.send(());
    }
}

#[test]
fn a_callback_sleeping_three_keepalive_intervals_costs_neither_the_link_nor_other_timeouts() {
    // OpenD's keepalive interval is 1 s here: the client sends KeepAlive every 0.8 s and
    // declares the link dead after 3 s without data.
    let sim = sim_with(Mode::Plain, |b| {
        b.keepalive_interval(1).faults(FaultPlan::none().rule(FaultRule::new(PacketFault::Drop).proto(1002)))
    });
    let (api, rx) = recorded_api(Mode::Plain);
    let sleeping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (woke_tx, woke_rx) = crossbeam_channel::bounded(1);
    api.set_trd_spi(Arc::new(SleepyNotify {
        nap: Duration::from_millis(3500),
        sleeping: sleeping.clone(),
        woke: woke_tx,
    }));
    connect(&api, &rx, &sim, Mode::Plain);
    assert_eq!(sim.push_gtw_event(14, "wake the sleepy callback"), 1);
    wait_until("the callback sleeps", || sleeping.load(std::sync::atomic::Ordering::SeqCst));
    let keepalives_before = sim.keepalives_received();
    // A call from another thread (the simulator drops GetGlobalState) times out with its
    // own short timeout while the callback thread is asleep.
    let r = api.call_request::<pb::proto::GetGlobalState>(
        pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: 0 } },
        Some(Duration::from_millis(300)),
    );
    assert!(matches!(r, Err(Error::Timeout { proto_id: 1002, .. })), "{r:?}");
    assert!(sleeping.load(std::sync::atomic::Ordering::SeqCst), "it timed out while the callback slept");
    woke_rx.recv_timeout(WAIT).expect("the callback returned");
    assert!(sim.keepalives_received() > keepalives_before, "KeepAlive went on during the callback");
    assert!(api.is_connected(), "the link survived");
    assert!(!rx.try_iter().any(|e| matches!(e, Event::Disconnect(..))), "no on_disconnect while the callback slept");
}

#[test]
fn close_is_prompt_while_initconnect_is_unanswered() {
    // A loopback listener that accepts and never answers: InitConnect is in progress
    // until the (long) connect timeout.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let api = TrdApi::with_config(ConnConfig::builder().connect_timeout(Duration::from_secs(60)).build());
    assert!(api.init_connect("127.0.0.1", port, false));
    let _server_side = held.join().unwrap().expect("accepted");
    assert_eq!(api.state(), ConnState::Connecting);
    let t0 = std::time::Instant::now();
    api.close();
    eprintln!("close while InitConnect is unanswered took {:?}", t0.elapsed());
    // Generous for a loaded machine; the point is that close does not wait 60 s.
    assert!(t0.elapsed() < Duration::from_secs(5), "close took {:?}", t0.elapsed());
    assert_eq!(api.state(), ConnState::Closed);
}
