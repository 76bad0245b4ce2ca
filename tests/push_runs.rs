//! Pushes that arrive together (one read brings many) are delivered one by one: a
//! callback that panics costs only its own push, and a close inside a callback stops
//! the delivery at once.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ftapi::{pb, TrdApi, TrdSpi};

const PUSHES: usize = 2_000;

/// Panics on every tenth push it sees.
#[derive(Default)]
struct Panicky {
    seen: AtomicUsize,
}

impl TrdSpi for Panicky {
    fn on_push_notify(&self, _api: &TrdApi, _push: pb::notify::S2c) {
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if n % 10 == 0 {
            panic!("push {n}: a panicking callback (expected by the test)");
        }
    }
}

#[test]
fn a_panicking_push_callback_costs_only_its_own_push() {
    let sim = sim(Mode::Plain);
    let (api, rx) = recorded_api(Mode::Plain);
    connect(&api, &rx, &sim, Mode::Plain);
    let spi = Arc::new(Panicky::default());
    api.set_trd_spi(spi.clone());
    assert_eq!(sim.push_flood(Some(api.get_connect_id()), PUSHES), PUSHES);
    wait_until("every push reached the callback", || spi.seen.load(Ordering::SeqCst) == PUSHES);
    // The connection is still up and answers.
    assert!(api.is_connected());
    api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }).expect("a call after the panics");
}

/// Closes the connection from inside the first push callback.
#[derive(Default)]
struct Closer {
    seen: AtomicUsize,
}

impl TrdSpi for Closer {
    fn on_push_notify(&self, api: &TrdApi, _push: pb::notify::S2c) {
        if self.seen.fetch_add(1, Ordering::SeqCst) == 0 {
            api.close();
        }
    }
}

#[test]
fn closing_inside_a_push_callback_stops_the_pushes_that_came_with_it() {
    for mode in ALL_MODES {
        let sim = sim(mode);
        let (api, rx) = recorded_api(mode);
        connect(&api, &rx, &sim, mode);
        let spi = Arc::new(Closer::default());
        api.set_trd_spi(spi.clone());
        // Written in large batches: the first read brings many pushes at once.
        sim.push_flood(Some(api.get_connect_id()), PUSHES);
        wait_until("the first push", || spi.seen.load(Ordering::SeqCst) > 0);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(spi.seen.load(Ordering::SeqCst), 1, "{mode:?}: pushes were delivered after close");
        assert!(!api.is_connected());
    }
}

/// Makes a blocking call from inside every 500th push callback.
#[derive(Default)]
struct Caller {
    seen: AtomicUsize,
    calls: AtomicUsize,
}

impl TrdSpi for Caller {
    fn on_push_notify(&self, api: &TrdApi, _push: pb::notify::S2c) {
        if self.seen.fetch_add(1, Ordering::SeqCst) % 500 == 0 {
            api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 })
                .expect("a call from inside a push callback");
            self.calls.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_push_queue_of_one_still_takes_whole_reads_and_calls_from_callbacks() {
    // One read brings hundreds of pushes, far more than the queue's capacity of one: the
    // read is admitted whole once the queue is empty, and a callback's blocking call still
    // gets its reply while pushes wait behind it.
    let sim = sim(Mode::Cbc);
    let api = TrdApi::with_config(ftapi::ConnConfig::builder().push_queue_capacity(1).build());
    api.set_rsa_key(key1024());
    let (tx, rx) = crossbeam_channel::unbounded();
    api.set_conn_spi(Arc::new(Recorder { tx }));
    connect(&api, &rx, &sim, Mode::Cbc);
    let spi = Arc::new(Caller::default());
    api.set_trd_spi(spi.clone());
    assert_eq!(sim.push_flood(Some(api.get_connect_id()), PUSHES), PUSHES);
    wait_until("every push reached the callback", || spi.seen.load(Ordering::SeqCst) == PUSHES);
    assert_eq!(spi.calls.load(Ordering::SeqCst), PUSHES / 500);
    assert!(api.is_connected());
}
