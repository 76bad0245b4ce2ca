//! Delivery of pushes and connection events to the user's handlers, on one dispatch
//! thread per context.
//!
//! The connection's reader thread only converts a push to its typed form and queues it;
//! the dispatch thread runs the handlers with no lock held. No push is ever dropped:
//! when `capacity` pushes are waiting (a handler is too slow), the reader thread waits
//! for the handler, so it stops reading and TCP pushes back on OpenD ([`Flow`]). The
//! one exception keeps handlers free to call the context: while a handler is inside a
//! context call, whose reply the reader must read, the reader queues beyond the
//! capacity instead of waiting. Connection events are queued without waiting.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Condvar, Mutex, RwLock};

use super::session::ConnectionEvent;
use crate::api::{TrdApi, TrdSpi};
use crate::pb;
use crate::types::{AccountRef, Order, OrderFill};

/// An order of one of the context's accounts changed (Trd_UpdateOrder, 2208).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderUpdate {
    /// The account, environment and market from the push header (the Python SDK drops
    /// the account; it is kept here).
    pub account: AccountRef,
    /// The order as it is now.
    pub order: Order,
}

impl From<&pb::trd_update_order::S2c> for OrderUpdate {
    fn from(s: &pb::trd_update_order::S2c) -> Self {
        OrderUpdate { account: AccountRef::from(&s.header), order: Order::from(&s.order) }
    }
}

/// A fill of one of the context's accounts (Trd_UpdateOrderFill, 2218).
#[derive(Debug, Clone, PartialEq)]
pub struct FillUpdate {
    /// The account, environment and market from the push header.
    pub account: AccountRef,
    /// The fill.
    pub fill: OrderFill,
}

impl From<&pb::trd_update_order_fill::S2c> for FillUpdate {
    fn from(s: &pb::trd_update_order_fill::S2c) -> Self {
        FillUpdate { account: AccountRef::from(&s.header), fill: OrderFill::from(&s.order_fill) }
    }
}

pub(crate) type OrderHandler = Arc<dyn Fn(&OrderUpdate) + Send + Sync>;
pub(crate) type FillHandler = Arc<dyn Fn(&FillUpdate) + Send + Sync>;
pub(crate) type StateHandler = Arc<dyn Fn(&ConnectionEvent) + Send + Sync>;

/// The user's handlers. Each is cloned out of its lock before it is called.
#[derive(Default)]
pub(crate) struct Handlers {
    pub order: RwLock<Option<OrderHandler>>,
    pub fill: RwLock<Option<FillHandler>>,
    pub state: RwLock<Option<StateHandler>>,
}

impl Handlers {
    pub(crate) fn clear(&self) {
        *self.order.write() = None;
        *self.fill.write() = None;
        *self.state.write() = None;
    }
}

/// One item for the dispatch thread.
pub(crate) enum Item {
    Order(OrderUpdate),
    Fill(FillUpdate),
    State(ConnectionEvent),
}

/// Flow control between the connection's reader thread and the dispatch thread.
pub(crate) struct Flow {
    queued: Mutex<usize>,
    cv: Condvar,
    capacity: usize,
    /// Handlers currently inside a context call (on the dispatch thread).
    in_call: AtomicUsize,
    dispatch_thread: OnceLock<ThreadId>,
    closed: AtomicBool,
}

impl Flow {
    pub(crate) fn new(capacity: usize) -> Flow {
        Flow {
            queued: Mutex::new(0),
            cv: Condvar::new(),
            capacity: capacity.max(1),
            in_call: AtomicUsize::new(0),
            dispatch_thread: OnceLock::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// Waits for room for one more push (see the module docs), then counts it.
    pub(crate) fn acquire(&self) {
        let mut queued = self.queued.lock();
        while *queued >= self.capacity
            && self.in_call.load(Ordering::Acquire) == 0
            && !self.closed.load(Ordering::Acquire)
        {
            self.cv.wait_for(&mut queued, Duration::from_millis(100));
        }
        *queued += 1;
    }

    /// One queued push was handled.
    pub(crate) fn release(&self) {
        let mut queued = self.queued.lock();
        *queued = queued.saturating_sub(1);
        self.cv.notify_all();
    }

    /// Records the calling thread as the dispatch thread (for [`Flow::enter_call`]).
    pub(crate) fn set_dispatch_thread(&self) {
        let _ = self.dispatch_thread.set(std::thread::current().id());
    }

    /// Pushes waiting for the handlers.
    pub(crate) fn queued(&self) -> usize {
        *self.queued.lock()
    }

    /// Marks a context call made from a handler, so the reader does not wait for the
    /// handler while the handler waits for the reader. No-op on other threads.
    pub(crate) fn enter_call(self: &Arc<Self>) -> Option<CallGuard> {
        if self.dispatch_thread.get() != Some(&std::thread::current().id()) {
            return None;
        }
        self.in_call.fetch_add(1, Ordering::AcqRel);
        let _g = self.queued.lock();
        self.cv.notify_all();
        Some(CallGuard(self.clone()))
    }

    /// Stops all waiting for good (the context is closing).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let _g = self.queued.lock();
        self.cv.notify_all();
    }
}

/// Ends a handler's context call (see [`Flow::enter_call`]).
pub(crate) struct CallGuard(Arc<Flow>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.in_call.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The [`TrdSpi`] of a context's connection: converts pushes and queues them.
pub(crate) struct PushForwarder {
    pub tx: Sender<Item>,
    pub flow: Arc<Flow>,
}

impl PushForwarder {
    fn forward(&self, item: Item, what: &str) {
        self.flow.acquire();
        if self.tx.send(item).is_err() {
            self.flow.release();
            log::debug!("{what} push after the context closed");
        }
    }
}

impl TrdSpi for PushForwarder {
    fn on_push_update_order(&self, _api: &TrdApi, push: pb::trd_update_order::S2c) {
        self.forward(Item::Order(OrderUpdate::from(&push)), "order");
    }

    fn on_push_update_order_fill(&self, _api: &TrdApi, push: pb::trd_update_order_fill::S2c) {
        self.forward(Item::Fill(FillUpdate::from(&push)), "fill");
    }
}

/// Queues a connection event (never waits: events are few).
pub(crate) fn send_state(tx: &Sender<Item>, event: ConnectionEvent) {
    if tx.send(Item::State(event)).is_err() {
        log::debug!("connection event after the context closed");
    }
}

pub(crate) fn guarded(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        log::error!("{what} handler panicked; the panic was caught and the dispatch thread goes on");
    }
}

/// The dispatch thread's body: delivers items until `shutdown` is closed. Items still
/// queued at shutdown are discarded.
pub(crate) fn run(handlers: Arc<Handlers>, flow: Arc<Flow>, rx: Receiver<Item>, shutdown: Receiver<()>) {
    let _ = flow.dispatch_thread.set(std::thread::current().id());
    loop {
        let item = crossbeam_channel::select_biased! {
            recv(shutdown) -> _ => return,
            recv(rx) -> item => match item {
                Ok(item) => item,
                Err(_) => return,
            },
        };
        match item {
            Item::Order(u) => {
                let h = handlers.order.read().clone();
                if let Some(h) = h {
                    guarded("order", || h(&u));
                }
                flow.release();
            }
            Item::Fill(u) => {
                let h = handlers.fill.read().clone();
                if let Some(h) = h {
                    guarded("fill", || h(&u));
                }
                flow.release();
            }
            Item::State(e) => {
                let h = handlers.state.read().clone();
                if let Some(h) = h {
                    guarded("connection", || h(&e));
                }
            }
        }
    }
}
