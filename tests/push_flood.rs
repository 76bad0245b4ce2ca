//! A push flood into a slow callback keeps memory bounded: the reader only reads as
//! fast as callbacks return, so TCP pushes back on the sender instead of a queue growing.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ftapi::{pb, TrdApi, TrdSpi};

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

struct Slow {
    seen: AtomicUsize,
}
impl TrdSpi for Slow {
    fn on_push_notify(&self, _api: &TrdApi, _push: pb::notify::S2c) {
        self.seen.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn a_push_flood_into_a_slow_callback_keeps_memory_bounded() {
    const PUSHES: usize = 20_000;
    let sim = Arc::new(sim(Mode::Cbc));
    let (api, rx) = recorded_api(Mode::Cbc);
    connect(&api, &rx, &sim, Mode::Cbc);
    let slow = Arc::new(Slow { seen: AtomicUsize::new(0) });
    api.set_trd_spi(slow.clone());
    let before = peak_rss_kib();
    let conn_id = api.get_connect_id();
    let flooder = {
        let sim = sim.clone();
        std::thread::spawn(move || sim.push_flood(Some(conn_id), PUSHES))
    };
    wait_until("every push delivered", || slow.seen.load(Ordering::Relaxed) == PUSHES);
    assert_eq!(flooder.join().expect("flood thread"), PUSHES);
    let peak = peak_rss_kib();
    println!("push flood: {PUSHES} pushes into a 200 us callback; peak RSS {before} KiB before, {peak} KiB after");
    // Queueing 20k pushes without bound would still be small; the point is the shape:
    // the reader holds at most one read chunk plus one packet at a time.
    assert!(peak < before + 64 * 1024, "peak RSS grew by more than 64 MiB: {before} -> {peak} KiB");
    assert!(api.is_connected());
}
