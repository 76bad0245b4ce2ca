//! Client round trips against the in-process simulator over loopback: one blocking
//! request at a time (latency), and 1000 requests in flight (throughput), in plain and
//! AES-CBC modes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ftapi::codec::{AesMode, RsaKey};
use ftapi::sim::SimServer;
use ftapi::{pb, ConnSpi, TrdApi};

struct Ready(crossbeam_channel::Sender<i64>);
impl ConnSpi for Ready {
    fn on_init_connect(&self, _api: &TrdApi, err_code: i64, _desc: &str) {
        let _ = self.0.send(err_code);
    }
}

fn connected(encrypt: bool, key: &RsaKey) -> (SimServer, TrdApi) {
    let mut b = SimServer::builder().port(0);
    if encrypt {
        b = b.rsa_key(key.clone()).aes_mode(AesMode::Cbc);
    }
    let sim = b.start().expect("simulator");
    let api = TrdApi::new();
    api.set_rsa_key(key.clone());
    let (tx, rx) = crossbeam_channel::bounded(1);
    api.set_conn_spi(Arc::new(Ready(tx)));
    let addr = sim.local_addr();
    api.init_connect(&addr.ip().to_string(), addr.port(), encrypt);
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).expect("connected"), 0);
    (sim, api)
}

fn state() -> pb::get_global_state::C2s {
    pb::get_global_state::C2s { user_id: 0 }
}

fn bench(c: &mut Criterion) {
    let key = RsaKey::generate(1024).expect("key");
    for (name, encrypt) in [("plain", false), ("cbc", true)] {
        let (_sim, api) = connected(encrypt, &key);
        let mut g = c.benchmark_group(format!("roundtrip_{name}"));
        g.bench_function("blocking_get_global_state", |b| {
            b.iter(|| api.call::<pb::proto::GetGlobalState>(state()).expect("reply"))
        });
        g.throughput(Throughput::Elements(1000));
        g.bench_function("1000_in_flight", |b| {
            b.iter(|| {
                let done = Arc::new(AtomicUsize::new(0));
                let (tx, rx) = crossbeam_channel::bounded(1);
                for _ in 0..1000 {
                    let (done, tx) = (done.clone(), tx.clone());
                    api.send::<pb::proto::GetGlobalState>(
                        pb::get_global_state::Request { c2s: state() },
                        move |_, _, r| {
                            r.expect("reply");
                            if done.fetch_add(1, Ordering::Relaxed) + 1 == 1000 {
                                let _ = tx.send(());
                            }
                        },
                    )
                    .expect("sent");
                }
                rx.recv_timeout(Duration::from_secs(30)).expect("all replies");
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
