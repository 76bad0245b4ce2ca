//! The one dispatch of every context: handlers run on the connection's callback thread
//! (pushes) or on the context's reconnect thread (connection events), never on a thread
//! of their own, so the connection's push queue is the only flow control.
//!
//! A handler is cloned out of its slot before it runs (no lock is held while user code
//! runs), and a panic in it is caught and logged: it costs that one call only.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::pb;
use crate::types::{
    AccountRef, BrokerQueue, KLType, KLine, Order, OrderBook, OrderFill, Quote, RehabType, RtData, Ticker,
};

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

/// A K-line push (Qot_UpdateKL, 3007): the new or changed K-lines of one security.
#[derive(Debug, Clone, PartialEq)]
pub struct KLineUpdate {
    /// `MARKET.CODE`.
    pub code: String,
    /// The period.
    pub kl_type: KLType,
    /// The price adjustment.
    pub rehab_type: RehabType,
    /// The K-lines.
    pub klines: Vec<KLine>,
}

/// One handler slot: empty, or the user's handler of `&T`.
pub(crate) struct Handler<T: ?Sized>(RwLock<Option<HandlerFn<T>>>);

/// A user handler of `&T`.
type HandlerFn<T> = Arc<dyn Fn(&T) + Send + Sync>;

impl<T: ?Sized> Default for Handler<T> {
    fn default() -> Self {
        Handler(RwLock::new(None))
    }
}

impl<T: ?Sized> Handler<T> {
    /// Installs (replaces) the handler.
    pub(crate) fn set(&self, h: impl Fn(&T) + Send + Sync + 'static) {
        *self.0.write() = Some(Arc::new(h));
    }

    /// Removes the handler.
    pub(crate) fn clear(&self) {
        *self.0.write() = None;
    }

    /// Whether a handler is installed (to skip converting a push nobody handles).
    pub(crate) fn is_set(&self) -> bool {
        self.0.read().is_some()
    }

    /// Runs the handler, if any, on the calling thread with no lock held; a panic is
    /// caught and logged.
    pub(crate) fn deliver(&self, what: &str, v: &T) {
        let h = self.0.read().clone();
        if let Some(h) = h {
            if catch_unwind(AssertUnwindSafe(|| h(v))).is_err() {
                log::error!("the {what} handler panicked; the panic was caught and the context goes on");
            }
        }
    }
}

/// The push handlers of a trade context.
#[derive(Default)]
pub(crate) struct TradeHandlers {
    pub order: Handler<OrderUpdate>,
    pub fill: Handler<FillUpdate>,
    pub notify: Handler<pb::notify::S2c>,
}

impl TradeHandlers {
    pub(crate) fn clear(&self) {
        self.order.clear();
        self.fill.clear();
        self.notify.clear();
    }
}

/// The user's push handlers of a quote context.
#[derive(Default)]
pub(crate) struct QuoteHandlers {
    pub quote: Handler<Quote>,
    pub order_book: Handler<OrderBook>,
    pub ticker: Handler<[Ticker]>,
    pub rt: Handler<[RtData]>,
    pub kline: Handler<KLineUpdate>,
    pub broker: Handler<BrokerQueue>,
    pub reminder: Handler<pb::qot_update_price_reminder::S2c>,
    pub notify: Handler<pb::notify::S2c>,
}

impl QuoteHandlers {
    pub(crate) fn clear(&self) {
        self.quote.clear();
        self.order_book.clear();
        self.ticker.clear();
        self.rt.clear();
        self.kline.clear();
        self.broker.clear();
        self.reminder.clear();
        self.notify.clear();
    }
}
