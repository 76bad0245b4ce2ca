//! Prints request/reply figures against OpenD or the built-in simulator: the blocking
//! round-trip time and the throughput of pipelined requests.
//!
//! ```text
//! cargo run --release --example latency -- [--host H --port P] [--encrypt --rsa-key FILE] [--n 2000]
//! ```

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftapi::{pb, ConnSpi, TrdApi};

struct Ready(crossbeam_channel::Sender<(i64, String)>);
impl ConnSpi for Ready {
    fn on_init_connect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
        let _ = self.0.send((err_code, desc.to_string()));
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = common::Args::parse(&["encrypt"])?;
    let encrypt = args.flag("encrypt");
    let n: usize = args.parse_or("n", 2000)?;
    let target = common::target(&args, encrypt)?;
    let api = TrdApi::new();
    if let Some(k) = &target.rsa_key {
        api.set_rsa_key(k.clone());
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    api.set_conn_spi(Arc::new(Ready(tx)));
    api.init_connect(&target.host, target.port, encrypt);
    let (code, desc) = rx.recv_timeout(Duration::from_secs(30)).map_err(|_| "no on_init_connect".to_string())?;
    if code != 0 {
        return Err(format!("InitConnect failed: {code} {desc}"));
    }
    let c2s = || pb::get_global_state::C2s { user_id: api.get_login_user_id() };
    for _ in 0..100 {
        api.call::<pb::proto::GetGlobalState>(c2s()).map_err(|e| e.to_string())?;
    }
    let t = Instant::now();
    for _ in 0..n {
        api.call::<pb::proto::GetGlobalState>(c2s()).map_err(|e| e.to_string())?;
    }
    let rtt = t.elapsed() / n as u32;
    println!("blocking round trip: {:.1} us ({n} GetGlobalState calls)", rtt.as_secs_f64() * 1e6);

    let done = Arc::new(AtomicUsize::new(0));
    let (dtx, drx) = crossbeam_channel::bounded(1);
    let t = Instant::now();
    for _ in 0..n {
        let (done, dtx) = (done.clone(), dtx.clone());
        api.send::<pb::proto::GetGlobalState>(pb::get_global_state::Request { c2s: c2s() }, move |_, _, r| {
            if r.is_ok() && done.fetch_add(1, Ordering::Relaxed) + 1 == n {
                let _ = dtx.send(());
            }
        })
        .map_err(|e| e.to_string())?;
    }
    drx.recv_timeout(Duration::from_secs(60)).map_err(|_| "pipelined replies did not all arrive".to_string())?;
    let secs = t.elapsed().as_secs_f64();
    println!("pipelined: {n} requests in {:.1} ms, {:.0} requests/s", secs * 1e3, n as f64 / secs);
    api.close();
    Ok(())
}
