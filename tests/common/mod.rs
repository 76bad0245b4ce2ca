//! Helpers shared by the integration tests: simulator start-up, a recording SPI, and
//! bounded waits.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ftapi::codec::{AesMode, RsaKey};
use ftapi::pb;
use ftapi::sim::SimServer;
use ftapi::{ConnSpi, Error, TrdApi, TrdSpi};

/// How long any test waits for an event before failing.
pub const WAIT: Duration = Duration::from_secs(20);

/// A 1024-bit key generated once per test binary.
pub fn key1024() -> RsaKey {
    static K: OnceLock<RsaKey> = OnceLock::new();
    K.get_or_init(|| RsaKey::generate(1024).expect("generate 1024-bit key")).clone()
}

/// A 2048-bit key generated once per test binary.
pub fn key2048() -> RsaKey {
    static K: OnceLock<RsaKey> = OnceLock::new();
    K.get_or_init(|| RsaKey::generate(2048).expect("generate 2048-bit key")).clone()
}

/// Which encryption a test runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Cbc,
    Ecb,
}

pub const ALL_MODES: [Mode; 3] = [Mode::Plain, Mode::Cbc, Mode::Ecb];

/// A simulator on a free loopback port, configured for `mode`.
pub fn sim(mode: Mode) -> SimServer {
    sim_with(mode, |b| b)
}

/// Like [`sim`], with extra builder settings.
pub fn sim_with(
    mode: Mode,
    edit: impl FnOnce(ftapi::sim::SimServerBuilder) -> ftapi::sim::SimServerBuilder,
) -> SimServer {
    // The existing tests predate OpenD's rules (market hours, asynchronous fills...):
    // they run in relaxed mode, which also holds every market open.
    let mut b = SimServer::builder().port(0).relaxed(true).clock(ftapi::sim::calendar::ClockSpec::Open);
    match mode {
        Mode::Plain => {}
        Mode::Cbc => b = b.rsa_key(key1024()).aes_mode(AesMode::Cbc),
        Mode::Ecb => b = b.rsa_key(key1024()).aes_mode(AesMode::FtAesEcb),
    }
    edit(b).start().expect("start simulator")
}

/// A simulator for `mode` serving `broker`, which the caller keeps to move prices
/// (`set_price`, `tick`) and to look at its state.
pub fn sim_with_broker(mode: Mode, broker: Arc<ftapi::sim::Broker>) -> SimServer {
    sim_with(mode, |b| b.trade_handler(broker))
}

/// A fresh broker over `config` and a simulator for `mode` serving it.
pub fn sim_and_broker(mode: Mode, config: ftapi::sim::accounts::BrokerConfig) -> (SimServer, Arc<ftapi::sim::Broker>) {
    let broker = Arc::new(ftapi::sim::Broker::new(config).expect("broker configuration"));
    (sim_with_broker(mode, broker.clone()), broker)
}

/// Everything a [`TrdApi`] reported, as channel messages.
#[derive(Debug)]
pub enum Event {
    Init(i64, String),
    Disconnect(i64, String),
    GlobalState(u32, Result<pb::get_global_state::S2c, Error>),
    Notify(pb::notify::S2c),
    Order(pb::trd_update_order::S2c),
    Fill(pb::trd_update_order_fill::S2c),
    Reply(&'static str, u32, Result<(), Error>),
}

/// An SPI that forwards every callback to a channel.
pub struct Recorder {
    pub tx: Sender<Event>,
}

impl ConnSpi for Recorder {
    fn on_init_connect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
        let _ = self.tx.send(Event::Init(err_code, desc.to_string()));
    }
    fn on_disconnect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
        let _ = self.tx.send(Event::Disconnect(err_code, desc.to_string()));
    }
}

impl TrdSpi for Recorder {
    fn on_reply_get_global_state(&self, _api: &TrdApi, serial: u32, r: Result<pb::get_global_state::S2c, Error>) {
        let _ = self.tx.send(Event::GlobalState(serial, r));
    }
    fn on_push_notify(&self, _api: &TrdApi, push: pb::notify::S2c) {
        let _ = self.tx.send(Event::Notify(push));
    }
    fn on_push_update_order(&self, _api: &TrdApi, push: pb::trd_update_order::S2c) {
        let _ = self.tx.send(Event::Order(push));
    }
    fn on_push_update_order_fill(&self, _api: &TrdApi, push: pb::trd_update_order_fill::S2c) {
        let _ = self.tx.send(Event::Fill(push));
    }
    fn on_reply_place_order(&self, _api: &TrdApi, serial: u32, r: Result<pb::trd_place_order::S2c, Error>) {
        let _ = self.tx.send(Event::Reply("place_order", serial, r.map(|_| ())));
    }
    fn on_reply_get_acc_list(&self, _api: &TrdApi, serial: u32, r: Result<pb::trd_get_acc_list::S2c, Error>) {
        let _ = self.tx.send(Event::Reply("get_acc_list", serial, r.map(|_| ())));
    }
}

/// A `TrdApi` with a [`Recorder`] installed, and the receiving end.
pub fn recorded_api(mode: Mode) -> (TrdApi, Receiver<Event>) {
    let api = TrdApi::new();
    if mode != Mode::Plain {
        api.set_rsa_key(key1024());
    }
    let (tx, rx) = crossbeam_channel::unbounded();
    let spi = Arc::new(Recorder { tx });
    api.set_conn_spi(spi.clone());
    api.set_trd_spi(spi);
    (api, rx)
}

/// Waits for the next `Init` event.
pub fn wait_init(rx: &Receiver<Event>) -> (i64, String) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Event::Init(code, desc)) => return (code, desc),
            Ok(_) => continue,
            Err(_) => panic!("no on_init_connect within {WAIT:?}"),
        }
    }
}

/// Connects `api` to `sim` and asserts success.
pub fn connect(api: &TrdApi, rx: &Receiver<Event>, sim: &SimServer, mode: Mode) {
    let addr = sim.local_addr();
    assert!(api.init_connect(&addr.ip().to_string(), addr.port(), mode != Mode::Plain));
    let (code, desc) = wait_init(rx);
    assert_eq!((code, desc.as_str()), (0, ""), "InitConnect in {mode:?} mode");
}

/// Waits for the first event matching `f`, failing after [`WAIT`].
pub fn wait_for<T>(rx: &Receiver<Event>, what: &str, mut f: impl FnMut(Event) -> Option<T>) -> T {
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

/// Polls `cond` until it holds, failing after [`WAIT`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Number of threads of this process.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

/// Number of open file descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}
