//! Delivery of pushes and connection events to the user's handlers, on one dispatch
//! thread per context.
//!
//! The connection's reader thread only converts a push to its typed form and puts it
//! in a bounded queue; the dispatch thread runs the handlers with no lock held. A
//! handler may therefore call the context (blocking calls included) without
//! deadlocking the reader. If the queue is full (a handler is far too slow), further
//! pushes are dropped with a warning and counted (`dropped_pushes`), rather than
//! stalling the connection; connection events are never dropped for that reason.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::RwLock;

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

/// The [`TrdSpi`] of a context's connection: converts pushes and queues them.
pub(crate) struct PushForwarder {
    pub tx: Sender<Item>,
    pub dropped: Arc<AtomicU64>,
}

impl PushForwarder {
    fn forward(&self, item: Item, what: &str) {
        match self.tx.try_send(item) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                log::warn!("push queue full (handlers too slow): {what} push dropped ({n} dropped so far)");
            }
            Err(TrySendError::Disconnected(_)) => log::debug!("{what} push after the context closed"),
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

/// Queues a connection event. Waits (bounded) if the queue is full, so events are not
/// lost to a burst of pushes.
pub(crate) fn send_state(tx: &Sender<Item>, event: ConnectionEvent) {
    if let Err(e) = tx.send_timeout(Item::State(event), Duration::from_secs(5)) {
        log::warn!("connection event not delivered: {e}");
    }
}

fn guarded(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        log::error!("{what} handler panicked; the panic was caught and the dispatch thread goes on");
    }
}

/// The dispatch thread's body: delivers items until `shutdown` is closed. Items still
/// queued at shutdown are discarded.
pub(crate) fn run(handlers: Arc<Handlers>, rx: Receiver<Item>, shutdown: Receiver<()>) {
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
            }
            Item::Fill(u) => {
                let h = handlers.fill.read().clone();
                if let Some(h) = h {
                    guarded("fill", || h(&u));
                }
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
