//! The one close of every context: prompt from any thread, from inside any handler,
//! whatever the queues hold (each of these hung before the contexts ran their handlers
//! on the connection's callback thread), and blocking calls from handlers during a flood.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use ftapi::context::{ConnectionEvent, QuoteContext, SecTradeContext};
use ftapi::pb::{self, PushProtocol};
use ftapi::sim::{Broker, SimServer};
use ftapi::Error;
use prost::Message;

/// Well under a second on an idle machine; generous for a loaded CI box.
const PROMPT: Duration = Duration::from_secs(3);
const WAIT: Duration = Duration::from_secs(20);

fn sim() -> SimServer {
    SimServer::builder()
        .port(0)
        .keepalive_interval(60)
        .trade_handler(Arc::new(Broker::relaxed_default()))
        .start()
        .expect("simulator starts")
}

fn order_push_body() -> Vec<u8> {
    pb::trd_update_order::Response {
        ret_type: 0,
        ret_msg: None,
        err_code: None,
        s2c: Some(pb::trd_update_order::S2c::default()),
    }
    .encode_to_vec()
}

fn quote_push_body() -> Vec<u8> {
    pb::qot_update_basic_qot::Response {
        ret_type: 0,
        ret_msg: None,
        err_code: None,
        s2c: Some(pb::qot_update_basic_qot::S2c { basic_qot_list: vec![Default::default()] }),
    }
    .encode_to_vec()
}

/// Pushes `body` to `conn_id` `count` times from another thread, as fast as the socket
/// takes them (stops when the connection is gone).
fn flood(
    sim: &Arc<SimServer>,
    conn_id: u64,
    proto_id: u32,
    body: Vec<u8>,
    count: usize,
) -> std::thread::JoinHandle<()> {
    let sim = sim.clone();
    std::thread::spawn(move || {
        for _ in 0..count {
            if !sim.push(conn_id, proto_id, body.clone()) {
                return;
            }
        }
    })
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Hang (a): a trade context with a push queue of 16, a flood of order pushes, an order
/// handler taking 2 ms that closes the context on the 200th push.
#[test]
fn closing_a_trade_context_from_a_slow_order_handler_during_a_flood_returns() {
    let sim = Arc::new(sim());
    let ctx = Arc::new(
        SecTradeContext::builder()
            .port(sim.local_addr().port())
            .encrypt(Some(false))
            .push_queue_capacity(16)
            .open()
            .expect("open"),
    );
    let me: Arc<OnceLock<Weak<SecTradeContext>>> = Arc::new(OnceLock::new());
    let _ = me.set(Arc::downgrade(&ctx));
    let seen = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = crossbeam_channel::bounded::<Duration>(1);
    {
        let (me, seen) = (me.clone(), seen.clone());
        ctx.set_order_handler(move |_| {
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            std::thread::sleep(Duration::from_millis(2));
            if n == 200 {
                if let Some(ctx) = me.get().and_then(Weak::upgrade) {
                    let started = Instant::now();
                    ctx.close();
                    let _ = done_tx.send(started.elapsed());
                }
            }
        });
    }
    let pusher = flood(&sim, ctx.conn_id(), pb::proto::UpdateOrder::PROTO_ID, order_push_body(), 5_000);
    let took = done_rx.recv_timeout(WAIT).expect("close() from the handler returned");
    assert!(took < PROMPT, "close from the handler took {took:?}");
    std::thread::sleep(Duration::from_millis(50));
    let after = seen.load(Ordering::SeqCst);
    assert_eq!(after, 200, "no handler runs after close (saw {after})");
    assert!(matches!(ctx.get_acc_list(), Err(Error::NotConnected(_))));
    let started = Instant::now();
    drop(ctx);
    assert!(started.elapsed() < PROMPT, "drop took {:?}", started.elapsed());
    let _ = pusher.join();
}

/// Hang (b): a quote context with a push queue of 4, fast quote pushes, a quote handler
/// taking 50 ms that closes the context.
#[test]
fn closing_a_quote_context_from_a_slow_quote_handler_returns() {
    let sim = Arc::new(sim());
    let ctx = Arc::new(
        QuoteContext::builder()
            .port(sim.local_addr().port())
            .encrypt(Some(false))
            .subscription_quota(Some(100))
            .push_queue_capacity(4)
            .open()
            .expect("open"),
    );
    let me: Arc<OnceLock<Weak<QuoteContext>>> = Arc::new(OnceLock::new());
    let _ = me.set(Arc::downgrade(&ctx));
    let seen = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = crossbeam_channel::bounded::<Duration>(1);
    {
        let (me, seen) = (me.clone(), seen.clone());
        ctx.set_quote_handler(move |_| {
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            std::thread::sleep(Duration::from_millis(50));
            if n == 10 {
                if let Some(ctx) = me.get().and_then(Weak::upgrade) {
                    let started = Instant::now();
                    ctx.close();
                    let _ = done_tx.send(started.elapsed());
                }
            }
        });
    }
    let pusher = flood(&sim, ctx.conn_id(), pb::proto::UpdateBasicQot::PROTO_ID, quote_push_body(), 500);
    let took = done_rx.recv_timeout(WAIT).expect("close() from the handler returned");
    assert!(took < PROMPT, "close from the handler took {took:?}");
    let started = Instant::now();
    drop(ctx);
    assert!(started.elapsed() < PROMPT, "drop took {:?}", started.elapsed());
    let _ = pusher.join();
}

/// close() from another thread does not wait for a handler that is running (here one
/// that sleeps 4 s); no handler runs after it.
#[test]
fn closing_from_another_thread_does_not_wait_for_a_running_handler() {
    let sim = Arc::new(sim());
    let ctx = SecTradeContext::builder().port(sim.local_addr().port()).encrypt(Some(false)).open().expect("open");
    let entered = Arc::new(AtomicUsize::new(0));
    {
        let entered = entered.clone();
        ctx.set_order_handler(move |_| {
            entered.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(4));
        });
    }
    let pusher = flood(&sim, ctx.conn_id(), pb::proto::UpdateOrder::PROTO_ID, order_push_body(), 20);
    wait_until("the handler runs", || entered.load(Ordering::SeqCst) == 1);
    let started = Instant::now();
    ctx.close();
    assert!(started.elapsed() < PROMPT, "close took {:?}", started.elapsed());
    drop(ctx);
    std::thread::sleep(Duration::from_millis(4_200));
    assert_eq!(entered.load(Ordering::SeqCst), 1, "a handler ran after close");
    let _ = pusher.join();
}

/// close() from inside the connection handler (on the reconnect thread) returns.
#[test]
fn closing_from_the_connection_handler_returns() {
    let sim = Arc::new(sim());
    let slot: Arc<OnceLock<Weak<SecTradeContext>>> = Arc::new(OnceLock::new());
    let (tx, rx) = crossbeam_channel::bounded::<Duration>(1);
    let s2 = slot.clone();
    let ctx = Arc::new(
        SecTradeContext::builder()
            .port(sim.local_addr().port())
            .encrypt(Some(false))
            .connection_handler(move |e| {
                if let ConnectionEvent::Disconnected { .. } = e {
                    if let Some(ctx) = s2.get().and_then(Weak::upgrade) {
                        let started = Instant::now();
                        ctx.close();
                        let _ = tx.send(started.elapsed());
                    }
                }
            })
            .open()
            .expect("open"),
    );
    let _ = slot.set(Arc::downgrade(&ctx));
    sim.kill_connections();
    let took = rx.recv_timeout(WAIT).expect("close() from the connection handler returned");
    assert!(took < PROMPT, "close took {took:?}");
    assert!(matches!(ctx.get_acc_list(), Err(Error::NotConnected(_))));
}

/// A handler's blocking call is answered during a flood into a queue of one, and every
/// call made from another thread meanwhile is answered too.
#[test]
fn blocking_calls_from_a_handler_and_from_other_threads_during_a_flood() {
    let sim = Arc::new(sim());
    let ctx = Arc::new(
        SecTradeContext::builder()
            .port(sim.local_addr().port())
            .encrypt(Some(false))
            .push_queue_capacity(1)
            .open()
            .expect("open"),
    );
    let answers = Arc::new(Mutex::new(Vec::new()));
    {
        let (weak, answers) = (Arc::downgrade(&ctx), answers.clone());
        ctx.set_order_handler(move |_| {
            if let Some(ctx) = weak.upgrade() {
                if answers.lock().unwrap().len() < 20 {
                    let r = ctx.get_global_state().map(|_| ());
                    answers.lock().unwrap().push(r);
                }
            }
        });
    }
    let pusher = flood(&sim, ctx.conn_id(), pb::proto::UpdateOrder::PROTO_ID, order_push_body(), 3_000);
    for _ in 0..20 {
        let started = Instant::now();
        ctx.get_global_state().expect("a call from another thread during the flood");
        assert!(started.elapsed() < PROMPT, "a call took {:?}", started.elapsed());
    }
    wait_until("20 calls from the handler", || answers.lock().unwrap().len() >= 20);
    assert!(answers.lock().unwrap().iter().all(|r| r.is_ok()), "{:?}", answers.lock().unwrap());
    let started = Instant::now();
    ctx.close();
    assert!(started.elapsed() < PROMPT, "close took {:?}", started.elapsed());
    let _ = pusher.join();
}
