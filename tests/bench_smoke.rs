//! The simulator's `--push-flood` behaviour, and a small untimed run of
//! examples/bench.rs (its argument parsing and that its JSON carries every pinned key).
//! Nothing here asserts a timing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ftapi::pb;
use ftapi::sim::SimServer;
use ftapi::{ConnSpi, TrdApi, TrdSpi};

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

#[test]
fn bench_arguments_parse() {
    let args = |a: &[&str]| bench::Opts::parse(a.iter().map(|s| s.to_string()));
    let o = args(&["--host", "127.0.0.1", "--port", "11111", "--encrypt", "--rsa-key", "k.pem", "--n", "50"]).unwrap();
    assert_eq!((o.port, o.encrypt, o.n, o.pushes), (Some(11111), true, 50, 1_000_000));
    assert_eq!(o.rsa_key.as_deref(), Some(std::path::Path::new("k.pem")));
    assert!(args(&["--pushes", "many"]).is_err());
    assert!(args(&["--only", "floor,nonsense"]).is_err());
    assert!(args(&["--port"]).is_err());
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
    ] {
        assert!(obj.get(key).is_some_and(|v| v.as_f64().is_some()), "{key} missing or null in {json}");
    }
    assert_eq!(obj["mode"], "plain");
}
