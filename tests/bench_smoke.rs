//! The simulator's `--push-flood`, `--quote-flood` and `--reply-delay-us` behaviour, and
//! a small untimed run of examples/bench.rs (its argument parsing and that its JSON
//! carries every pinned key). Nothing here asserts a timing beyond loose bounds (a reply
//! delay is at least the delay; pipelined delayed replies are not serialized).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftapi::pb;
use ftapi::sim::SimServer;
use ftapi::{ConnSpi, QotApi, QotSpi, TrdApi, TrdSpi};

#[allow(dead_code)]
#[path = "../examples/bench.rs"]
mod bench;

struct Ready(crossbeam_channel::Sender<i64>);
impl ConnSpi for Ready {
    fn on_init_connect(&self, _api: &TrdApi, err_code: i64, _desc: &str) {
        let _ = self.0.send(err_code);
    }
}

struct Orders {
    seen: AtomicUsize,
    bad: AtomicUsize,
    acc_id: u64,
    tx: crossbeam_channel::Sender<()>,
    target: usize,
}
impl TrdSpi for Orders {
    fn on_push_update_order(&self, _api: &TrdApi, push: pb::trd_update_order::S2c) {
        if push.header.acc_id != self.acc_id || push.order.code.is_empty() {
            self.bad.fetch_add(1, Ordering::Relaxed);
        }
        if self.seen.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            let _ = self.tx.send(());
        }
    }
}

fn connect(server: &SimServer, spi: Option<Arc<dyn TrdSpi>>) -> TrdApi {
    let api = TrdApi::new();
    let (tx, rx) = crossbeam_channel::bounded(1);
    api.set_conn_spi(Arc::new(Ready(tx)));
    if let Some(s) = spi {
        api.set_trd_spi(s);
    }
    assert!(api.init_connect("127.0.0.1", server.local_addr().port(), false));
    assert_eq!(rx.recv_timeout(Duration::from_secs(20)).unwrap(), 0);
    api
}

#[test]
fn push_flood_follows_a_successful_sub_acc_push_then_the_session_carries_on() {
    const N: usize = 3000;
    let server = SimServer::builder().port(0).push_flood(N).start().unwrap();

    // A connection that never subscribes gets nothing.
    let quiet = connect(&server, None);
    quiet.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }).unwrap();

    let probe = connect(&server, None);
    let accs = probe
        .call::<pb::proto::GetAccList>(pb::trd_get_acc_list::C2s {
            user_id: probe.get_login_user_id(),
            trd_category: None,
            need_general_sec_account: Some(true),
        })
        .unwrap();
    assert!(accs.acc_list.len() >= 2, "the default broker has several accounts");
    let (first, second) = (accs.acc_list[1].acc_id, accs.acc_list[0].acc_id);
    probe.close();

    let (tx, rx) = crossbeam_channel::bounded(1);
    let orders = Arc::new(Orders { seen: AtomicUsize::new(0), bad: AtomicUsize::new(0), acc_id: first, tx, target: N });
    let api = connect(&server, Some(orders.clone()));
    // A refused subscription (unknown account) floods nothing.
    assert!(api.call::<pb::proto::SubAccPush>(pb::trd_sub_acc_push::C2s { acc_id_list: vec![42] }).is_err());
    api.call::<pb::proto::SubAccPush>(pb::trd_sub_acc_push::C2s { acc_id_list: vec![first, second] }).unwrap();
    rx.recv_timeout(Duration::from_secs(60)).expect("all flood pushes arrive");
    // Normal service afterwards, on the same connection.
    let state = api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }).unwrap();
    assert_eq!(state.conn_id, Some(api.get_connect_id()));
    assert_eq!(orders.seen.load(Ordering::Relaxed), N, "exactly N pushes");
    assert_eq!(orders.bad.load(Ordering::Relaxed), 0, "every push is for the first subscribed account");
    assert_eq!(server.stats().pushes_sent, N as u64);
    api.close();
    quiet.close();
}

struct QotReady(crossbeam_channel::Sender<i64>);
impl ConnSpi<QotApi> for QotReady {
    fn on_init_connect(&self, _api: &QotApi, err_code: i64, _desc: &str) {
        let _ = self.0.send(err_code);
    }
}

struct Quotes {
    seen: AtomicUsize,
    bad: AtomicUsize,
    tx: crossbeam_channel::Sender<()>,
    target: usize,
}
impl QotSpi for Quotes {
    fn on_push_update_basic_qot(&self, _api: &QotApi, push: pb::qot_update_basic_qot::S2c) {
        if push.basic_qot_list.len() != 1 || push.basic_qot_list[0].security.code != "00700" {
            self.bad.fetch_add(1, Ordering::Relaxed);
        }
        if self.seen.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            let _ = self.tx.send(());
        }
    }
}

fn qot_sub(types: Vec<i32>, reg_push: Option<bool>) -> pb::qot_sub::C2s {
    pb::qot_sub::C2s {
        security_list: vec![pb::qot_common::Security { market: 1, code: "00700".into() }],
        sub_type_list: types,
        is_sub_or_un_sub: true,
        is_reg_or_un_reg_push: reg_push,
        is_first_push: Some(false),
        ..Default::default()
    }
}

#[test]
fn quote_flood_follows_a_qot_sub_for_quotes_with_pushes_then_the_session_carries_on() {
    const N: usize = 3000;
    let server = SimServer::builder().port(0).quote_flood(N).start().unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let quotes = Arc::new(Quotes { seen: AtomicUsize::new(0), bad: AtomicUsize::new(0), tx, target: N });
    let api = QotApi::new();
    let (rtx, rrx) = crossbeam_channel::bounded(1);
    api.set_conn_spi(Arc::new(QotReady(rtx)));
    api.set_qot_spi(quotes.clone());
    assert!(api.init_connect("127.0.0.1", server.local_addr().port(), false));
    assert_eq!(rrx.recv_timeout(Duration::from_secs(20)).unwrap(), 0);
    let state = || api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }).unwrap();

    // Neither another sub type nor quotes without push registration flood (the flood is
    // written before the next request is read, so the next reply settles it).
    api.call::<pb::proto::Sub>(qot_sub(vec![2], Some(true))).unwrap();
    api.call::<pb::proto::Sub>(qot_sub(vec![1], None)).unwrap();
    state();
    assert_eq!(server.stats().pushes_sent, 0);

    api.call::<pb::proto::Sub>(qot_sub(vec![1], Some(true))).unwrap();
    rx.recv_timeout(Duration::from_secs(60)).expect("all quote flood pushes arrive");
    state();
    assert_eq!(quotes.seen.load(Ordering::Relaxed), N, "exactly N quote pushes");
    assert_eq!(quotes.bad.load(Ordering::Relaxed), 0, "every push is the subscribed security's quote");
    assert_eq!(server.stats().pushes_sent, N as u64);
    api.close();
}

#[test]
fn reply_delay_delays_every_reply_without_serializing_pipelined_requests() {
    let delay = Duration::from_secs(1);
    let server = SimServer::builder().port(0).reply_delay(delay).start().unwrap();
    let api = connect(&server, None);
    let t = Instant::now();
    let state = api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }).unwrap();
    assert!(t.elapsed() >= delay, "a reply comes no earlier than the delay");
    assert_eq!(state.conn_id, Some(api.get_connect_id()));
    // Ten requests at once: answered in order, about one delay later, not ten.
    const K: usize = 10;
    let (tx, rx) = crossbeam_channel::unbounded();
    let t = Instant::now();
    let serials: Vec<u32> = (0..K)
        .map(|_| {
            let tx = tx.clone();
            let req = pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: 0 } };
            api.send::<pb::proto::GetGlobalState>(req, move |_, serial, r| {
                let _ = tx.send((serial, r.is_ok()));
            })
            .unwrap()
        })
        .collect();
    let got: Vec<(u32, bool)> = (0..K).map(|_| rx.recv_timeout(Duration::from_secs(30)).unwrap()).collect();
    assert_eq!(got, serials.iter().map(|s| (*s, true)).collect::<Vec<_>>(), "every reply, in order");
    assert!(t.elapsed() >= delay);
    assert!(t.elapsed() < delay * (K as u32) / 2, "pipelined delayed replies are not serialized");
    api.close();
}

#[test]
fn bench_arguments_parse() {
    let args = |a: &[&str]| bench::Opts::parse(a.iter().map(|s| s.to_string()));
    let o = args(&["--host", "127.0.0.1", "--port", "11111", "--encrypt", "--rsa-key", "k.pem", "--n", "50"]).unwrap();
    assert_eq!((o.port, o.encrypt, o.n, o.pushes), (Some(11111), true, 50, 1_000_000));
    assert_eq!(o.rsa_key.as_deref(), Some(std::path::Path::new("k.pem")));
    assert!(args(&["--pushes", "many"]).is_err());
    assert!(args(&["--only", "floor,nonsense"]).is_err());
    assert!(args(&["--port"]).is_err());
    let o = args(&["--slow-port", "11113", "--reply-delay-us", "250", "--only", "quote,slow"]).unwrap();
    assert_eq!((o.slow_port, o.reply_delay_us), (Some(11113), 250));
    assert_eq!(args(&[]).unwrap().reply_delay_us, 1000);
}

#[test]
fn bench_smoke_run_prints_every_key() {
    let opts = bench::Opts {
        n: 50,
        pushes: 1000,
        connects: 1,
        in_flight: 16,
        sim: Some(env!("CARGO_BIN_EXE_opend-sim").into()),
        ..bench::Opts::parse(std::iter::empty()).unwrap()
    };
    let json = bench::run(&opts).expect("the bench runs");
    let obj = json.as_object().unwrap();
    for key in [
        "floor_p50_us",
        "floor_p99_us",
        "rtt_p50_us",
        "rtt_p99_us",
        "pipelined_per_s",
        "context_rtt_p50_us",
        "pushes_per_s",
        "context_pushes_per_s",
        "connect_rsa1024_ms",
        "connect_rsa2048_ms",
        "peak_rss_mib",
        "sim_flood_per_s",
        "qot_pushes_per_s",
        "quote_context_pushes_per_s",
        "quote_rtt_p50_us",
        "quote_rtt_p99_us",
        "cpu_us_per_call",
        "cpu_us_per_call_slow",
        "rtt_p50_slow_us",
    ] {
        assert!(obj.get(key).is_some_and(|v| v.as_f64().is_some()), "{key} missing or null in {json}");
    }
    assert_eq!(obj["mode"], "plain");
}
