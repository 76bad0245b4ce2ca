//! Property test of the connection core over the in-memory transport (no socket): a
//! `TrdApi` with requests in flight meets an arbitrary sequence of replies (valid,
//! refused, undecodable, duplicated, for unknown serials), pushes (valid and garbage),
//! broken packets and liveness signals, slow push consumers, and a blocking call from
//! another thread without a timeout, then the peer closes, corrupts the stream, or
//! the user closes (from the test thread or from another thread, while a callback may
//! be sleeping). Every request is answered exactly once, close returns in bounded
//! time, `on_disconnect` fires once exactly when the peer ended the link, and nothing
//! on the connection's threads panics.
//! Fixed seed and a small budget; a longer run:
//! `PROPTEST_CASES=2000 PROPTEST_RNG_SEED=$RANDOM cargo test --test core_props`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use ftapi::conn::memory::MemoryTransport;
use ftapi::conn::{InitInfo, Liveness};
use ftapi::pb::{self, Protocol, PushProtocol};
use ftapi::{ConnConfig, ConnSpi, Error, TrdApi, TrdSpi};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

const SEED: u64 = 0x0f7a_c0de_2026_0009;
const WAIT: Duration = Duration::from_secs(20);

static CORE_PANICS: AtomicUsize = AtomicUsize::new(0);

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if matches!(std::thread::current().name(), Some("ftapi-reader" | "ftapi-callback")) {
                CORE_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

#[derive(Debug, Clone)]
enum Op {
    /// A success reply with this `server_ver` to pending request `target`.
    Reply(u8, i32),
    /// OpenD's refusal of request `target`.
    Refuse(u8, i8),
    /// A reply to `target` whose body is these bytes.
    RawReply(u8, Vec<u8>),
    /// A broken packet for `target` (the link stays up).
    Broken(u8),
    /// A reply for a serial nobody waits for.
    Stray(u32),
    /// A Notify push with this type.
    Push(i32),
    /// A Notify push whose callback sleeps this many milliseconds (a slow consumer).
    SlowPush(u8),
    /// A push whose body is these bytes.
    RawPush(Vec<u8>),
    /// Bytes without a whole packet.
    Alive,
    /// A pause of this many milliseconds.
    Pause(u8),
}

#[derive(Debug, Clone, Copy)]
enum End {
    PeerCloses,
    Corrupt,
    UserCloses,
    /// The user closes from another thread.
    UserClosesElsewhere,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), any::<i32>()).prop_map(|(t, v)| Op::Reply(t, v)),
        1 => (any::<u8>(), any::<i8>()).prop_map(|(t, r)| Op::Refuse(t, r)),
        2 => (any::<u8>(), prop::collection::vec(any::<u8>(), 0..48)).prop_map(|(t, b)| Op::RawReply(t, b)),
        1 => any::<u8>().prop_map(Op::Broken),
        1 => any::<u32>().prop_map(Op::Stray),
        3 => any::<i32>().prop_map(|n| Op::Push(n.max(0))),
        1 => (0u8..8).prop_map(Op::SlowPush),
        1 => prop::collection::vec(any::<u8>(), 0..48).prop_map(Op::RawPush),
        1 => Just(Op::Alive),
        1 => (0u8..6).prop_map(Op::Pause),
    ]
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![Just(End::PeerCloses), Just(End::Corrupt), Just(End::UserCloses), Just(End::UserClosesElsewhere)]
}

#[derive(Default)]
struct Seen {
    answers: Mutex<HashMap<u32, usize>>,
    disconnects: AtomicUsize,
}

struct Spi(Arc<Seen>, crossbeam_channel::Sender<()>);

impl ConnSpi for Spi {
    fn on_disconnect(&self, _api: &TrdApi, _err_code: i64, _desc: &str) {
        self.0.disconnects.fetch_add(1, Ordering::SeqCst);
        let _ = self.1.send(());
    }
}

impl TrdSpi for Spi {
    fn on_push_notify(&self, _api: &TrdApi, push: pb::notify::S2c) {
        // Negative types are the slow pushes: sleep that many milliseconds.
        if push.r#type < 0 {
            std::thread::sleep(Duration::from_millis(u64::from(push.r#type.unsigned_abs())));
        }
    }

    fn on_reply_get_global_state(&self, _api: &TrdApi, serial: u32, _r: Result<pb::get_global_state::S2c, Error>) {
        *self.0.answers.lock().unwrap().entry(serial).or_default() += 1;
    }
}

fn run(n_requests: usize, short_timeout: bool, blocking: bool, ops: &[Op], end: End) {
    install_panic_hook();
    let panics_before = CORE_PANICS.load(Ordering::SeqCst);
    let seen = Arc::new(Seen::default());
    let (lost_tx, lost_rx) = crossbeam_channel::unbounded();
    let request_timeout = if short_timeout { Duration::from_millis(20) } else { WAIT };
    let api = TrdApi::with_config(
        ConnConfig::builder()
            .tick(Duration::from_millis(2))
            .request_timeout(request_timeout)
            .push_queue_capacity(4)
            .build(),
    );
    let spi = Arc::new(Spi(seen.clone(), lost_tx));
    api.set_conn_spi(spi.clone());
    api.set_trd_spi(spi);
    let (transport, peer) = MemoryTransport::pair();
    assert!(api.init_connect_with(Box::new(transport)));
    assert!(peer.wait_open(WAIT));
    let mut info = InitInfo::new(1);
    info.liveness = Liveness::KeepAlive { every: Duration::from_millis(5), dead_after: Duration::from_secs(30) };
    peer.accept(info);
    let t0 = Instant::now();
    while !api.is_connected() {
        assert!(t0.elapsed() < WAIT, "connected");
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut serials = Vec::new();
    for _ in 0..n_requests {
        let s = api.get_global_state();
        assert_ne!(s, 0);
        serials.push(s);
    }
    for _ in 0..n_requests {
        peer.recv_request(WAIT).expect("the request reaches the peer");
    }
    let api = Arc::new(api);
    // A blocking call without a timeout from another thread: answered by the end.
    let caller = blocking.then(|| {
        let a = api.clone();
        let c = std::thread::spawn(move || {
            let req = pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: 0 } };
            a.call_request::<pb::proto::GetGlobalState>(req, Some(Duration::MAX))
        });
        peer.recv_request(WAIT).expect("the blocking call reaches the peer");
        c
    });
    let pick = |t: u8| serials[usize::from(t) % serials.len()];
    let id = pb::proto::GetGlobalState::PROTO_ID;
    for op in ops {
        match op {
            Op::Reply(t, v) => peer.reply::<pb::proto::GetGlobalState>(
                pick(*t),
                pb::get_global_state::S2c { server_ver: *v, ..Default::default() },
            ),
            Op::Refuse(t, r) => peer.reply_error::<pb::proto::GetGlobalState>(pick(*t), i32::from(*r), "no", 1),
            Op::RawReply(t, b) => peer.send_packet(id, pick(*t), b.clone()),
            Op::Broken(t) => peer.send_failed(id, pick(*t), Error::InvalidArgument("broken".into())),
            Op::Stray(s) => peer.send_packet(id, *s, Vec::new()),
            Op::Push(n) => peer.push::<pb::proto::Notify>(pb::notify::S2c { r#type: *n, ..Default::default() }),
            Op::SlowPush(ms) => {
                peer.push::<pb::proto::Notify>(pb::notify::S2c { r#type: -i32::from(*ms), ..Default::default() })
            }
            Op::RawPush(b) => peer.send_packet(pb::proto::Notify::PROTO_ID, 0, b.clone()),
            Op::Alive => peer.alive(),
            Op::Pause(ms) => std::thread::sleep(Duration::from_millis(u64::from(*ms))),
        }
    }
    let user_closes = matches!(end, End::UserCloses | End::UserClosesElsewhere);
    let closing = Instant::now();
    match end {
        End::PeerCloses => peer.close(),
        End::Corrupt => peer.corrupt("fuzzed"),
        End::UserCloses => api.close(),
        End::UserClosesElsewhere => {
            let a = api.clone();
            std::thread::spawn(move || a.close()).join().expect("close from another thread");
        }
    }
    if user_closes {
        // Close never waits for a callback (slow pushes sleep at most 7 ms each, but
        // there may be many queued: they are dropped, not run).
        assert!(closing.elapsed() < Duration::from_secs(5), "close took {:?}", closing.elapsed());
    } else {
        lost_rx.recv_timeout(WAIT).expect("on_disconnect after the peer ended the link");
        api.close();
    }
    if let Some(c) = caller {
        let r = c.join().expect("the blocking caller returned");
        assert!(matches!(r, Err(Error::Disconnected { .. }) | Ok(_)), "{r:?}");
    }
    drop(api);
    // The answers owed may still be on their way from a callback thread that close did
    // not wait for.
    let t0 = Instant::now();
    while seen.answers.lock().unwrap().len() < serials.len() && t0.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(CORE_PANICS.load(Ordering::SeqCst), panics_before, "a connection thread panicked");
    let expected_lost = usize::from(!user_closes);
    assert_eq!(seen.disconnects.load(Ordering::SeqCst), expected_lost, "on_disconnect count");
    let answers = seen.answers.lock().unwrap();
    for s in &serials {
        assert_eq!(answers.get(s).copied(), Some(1), "serial {s} answered exactly once: {answers:?}");
    }
    assert_eq!(answers.len(), serials.len(), "no answer for a serial that was not sent");
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: env_or("PROPTEST_CASES", 48) as u32,
        rng_seed: RngSeed::Fixed(env_or("PROPTEST_RNG_SEED", SEED)),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_request_is_answered_once_whatever_the_peer_does(
        n in 1usize..8,
        short in any::<bool>(),
        blocking in any::<bool>(),
        ops in prop::collection::vec(op(), 0..40),
        end in end(),
    ) {
        run(n, short, blocking, &ops, end);
    }
}
