//! Property test of the one context core over the in-memory transport (no socket): a
//! `QuoteContext` (the same core, session, dispatch and close as the trade contexts)
//! meets random interleavings of quote pushes, blocking calls from other threads,
//! replies, refusals and silence from the peer, slow handlers, blocking calls made from
//! the handler, disconnects (with reconnects), and `close()` from the handler, from
//! another thread and from the test thread. Every call returns exactly one answer,
//! every close returns in bounded time, and no thread of the connection or the context
//! panics. Fixed seed and a small budget; a longer run:
//! `PROPTEST_CASES=500 PROPTEST_RNG_SEED=$RANDOM cargo test --test context_props`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock, Weak};
use std::time::{Duration, Instant};

use ftapi::conn::memory::{MemoryPeer, MemoryTransport};
use ftapi::conn::InitInfo;
use ftapi::context::{QuoteContext, ReconnectPolicy};
use ftapi::pb;
use ftapi::Error;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

const SEED: u64 = 0x0c7c_c0de_2026_0017;
const BOUND: Duration = Duration::from_secs(5);

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if matches!(std::thread::current().name(), Some("ftapi-reader" | "ftapi-callback" | "ftapi-ctx-reconnect"))
            {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

#[derive(Debug, Clone)]
enum Op {
    /// This many quote pushes.
    Push(u8),
    /// A blocking call from a new thread.
    Call,
    /// The handler sleeps this long per push from now on.
    SlowHandler(u8),
    /// The next handler call makes a blocking call.
    CallFromHandler,
    /// The next handler call closes the context.
    CloseFromHandler,
    /// Another thread closes the context.
    CloseFromThread,
    /// The peer closes the link (the context reconnects).
    Disconnect,
    /// The peer answers requests: 0 replies, 1 refuses, 2 stays silent.
    PeerMode(u8),
    /// Let time pass.
    Sleep(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..40).prop_map(Op::Push),
        4 => Just(Op::Call),
        2 => (0u8..20).prop_map(Op::SlowHandler),
        2 => Just(Op::CallFromHandler),
        1 => Just(Op::CloseFromHandler),
        1 => Just(Op::CloseFromThread),
        2 => Just(Op::Disconnect),
        2 => (0u8..3).prop_map(Op::PeerMode),
        2 => (0u8..30).prop_map(Op::Sleep),
    ]
}

/// The scripted OpenD: accepts every connection the context makes and answers its
/// requests per the current mode.
struct Peer {
    current: Mutex<Option<Arc<MemoryPeer>>>,
    mode: AtomicUsize,
    stop: AtomicBool,
    next_conn: AtomicU64,
}

impl Peer {
    fn serve(self: Arc<Self>, peers: crossbeam_channel::Receiver<MemoryPeer>) {
        while !self.stop.load(Ordering::SeqCst) {
            if let Ok(p) = peers.try_recv() {
                if p.wait_open(Duration::from_secs(2)) {
                    p.accept(InitInfo::new(self.next_conn.fetch_add(1, Ordering::SeqCst)));
                }
                *self.current.lock().unwrap() = Some(Arc::new(p));
            }
            let peer = self.current.lock().unwrap().clone();
            let Some(peer) = peer else {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            };
            if let Some(req) = peer.recv_request(Duration::from_millis(2)) {
                match self.mode.load(Ordering::SeqCst) {
                    0 => peer.reply::<pb::proto::GetGlobalState>(
                        req.serial,
                        pb::get_global_state::S2c { server_ver: 900, ..Default::default() },
                    ),
                    1 => peer.reply_error::<pb::proto::GetGlobalState>(req.serial, -1, "refused", 7),
                    _ => {}
                }
            }
        }
    }

    fn push_quotes(&self, n: u8) {
        let peer = self.current.lock().unwrap().clone();
        if let Some(peer) = peer {
            for _ in 0..n {
                peer.push::<pb::proto::UpdateBasicQot>(pb::qot_update_basic_qot::S2c {
                    basic_qot_list: vec![Default::default()],
                });
            }
        }
    }
}

fn timed_close(ctx: &QuoteContext) {
    let started = Instant::now();
    ctx.close();
    assert!(started.elapsed() < BOUND, "close took {:?}", started.elapsed());
}

fn run_case(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (peer_tx, peer_rx) = crossbeam_channel::unbounded();
    let peer = Arc::new(Peer {
        current: Mutex::new(None),
        mode: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        next_conn: AtomicU64::new(1),
    });
    let server = {
        let peer = peer.clone();
        std::thread::spawn(move || peer.serve(peer_rx))
    };
    let ctx = QuoteContext::builder()
        .transport(move || {
            let (t, p) = MemoryTransport::pair();
            let _ = peer_tx.send(p);
            Box::new(t)
        })
        .subscription_quota(Some(10))
        .push_queue_capacity(4)
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_millis(300))
        .reconnect(
            ReconnectPolicy::default().initial_delay(Duration::from_millis(10)).max_delay(Duration::from_millis(40)),
        )
        .open()
        .expect("open over the memory transport");
    let ctx = Arc::new(ctx);
    let me: Arc<OnceLock<Weak<QuoteContext>>> = Arc::new(OnceLock::new());
    let _ = me.set(Arc::downgrade(&ctx));
    let slow_ms = Arc::new(AtomicUsize::new(0));
    let call_next = Arc::new(AtomicBool::new(false));
    let close_next = Arc::new(AtomicBool::new(false));
    let handler_answers = Arc::new(AtomicUsize::new(0));
    let handler_calls = Arc::new(AtomicUsize::new(0));
    {
        let (me, slow_ms, call_next, close_next) = (me.clone(), slow_ms.clone(), call_next.clone(), close_next.clone());
        let (handler_answers, handler_calls) = (handler_answers.clone(), handler_calls.clone());
        ctx.set_quote_handler(move |_| {
            let ms = slow_ms.load(Ordering::SeqCst);
            if ms > 0 {
                std::thread::sleep(Duration::from_millis(ms as u64));
            }
            let Some(ctx) = me.get().and_then(Weak::upgrade) else { return };
            if call_next.swap(false, Ordering::SeqCst) {
                handler_calls.fetch_add(1, Ordering::SeqCst);
                let _ = ctx.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 });
                handler_answers.fetch_add(1, Ordering::SeqCst);
            }
            if close_next.swap(false, Ordering::SeqCst) {
                timed_close(&ctx);
            }
        });
    }
    let mut callers = Vec::new();
    let mut closers = Vec::new();
    for op in ops {
        match op {
            Op::Push(n) => peer.push_quotes(n),
            Op::Call => {
                let ctx = ctx.clone();
                callers.push(std::thread::spawn(move || {
                    let r = ctx.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 });
                    match r {
                        Ok(_)
                        | Err(Error::Server { .. } | Error::Timeout { .. })
                        | Err(Error::Disconnected { .. } | Error::NotConnected(_) | Error::Io(_)) => {}
                        Err(e) => panic!("unexpected answer {e:?}"),
                    }
                }));
            }
            Op::SlowHandler(ms) => slow_ms.store(ms as usize, Ordering::SeqCst),
            Op::CallFromHandler => call_next.store(true, Ordering::SeqCst),
            Op::CloseFromHandler => close_next.store(true, Ordering::SeqCst),
            Op::CloseFromThread => {
                let ctx = ctx.clone();
                closers.push(std::thread::spawn(move || timed_close(&ctx)));
            }
            Op::Disconnect => {
                let p = peer.current.lock().unwrap().take();
                if let Some(p) = p {
                    p.close();
                }
            }
            Op::PeerMode(m) => peer.mode.store(m as usize, Ordering::SeqCst),
            Op::Sleep(ms) => std::thread::sleep(Duration::from_millis(ms as u64)),
        }
    }
    timed_close(&ctx);
    // Every call returns (one answer each) within the bound once the context is closed.
    let deadline = Instant::now() + BOUND * 2;
    for h in callers.into_iter().chain(closers) {
        while !h.is_finished() {
            prop_assert!(Instant::now() < deadline, "a call or a close did not return");
            std::thread::sleep(Duration::from_millis(2));
        }
        prop_assert!(h.join().is_ok(), "a caller panicked");
    }
    // A handler's blocking call that started has returned too.
    let deadline = Instant::now() + BOUND;
    while handler_answers.load(Ordering::SeqCst) != handler_calls.load(Ordering::SeqCst) {
        prop_assert!(Instant::now() < deadline, "a call from the handler did not return");
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(ctx);
    peer.stop.store(true, Ordering::SeqCst);
    let _ = server.join();
    prop_assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a connection or context thread panicked");
    Ok(())
}

#[test]
fn contexts_answer_every_call_once_and_close_promptly_under_any_interleaving() {
    install_panic_hook();
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let seed = std::env::var("PROPTEST_RNG_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(SEED);
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    });
    runner.run(&proptest::collection::vec(op(), 1..40), run_case).unwrap();
}
