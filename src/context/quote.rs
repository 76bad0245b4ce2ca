//! The quote context: the Python SDK's `OpenQuoteContext` in Rust.
//!
//! It runs on the same context core as the trade contexts ([`Core`]: one reconnecting
//! session, the open gate, the reconnect thread, the one close), is built by the same
//! [`ContextBuilder`], and runs its handlers the same way (on the connection's callback
//! thread). What it adds is the market-data state: its subscriptions (re-made after a
//! reconnect), the client-side rules of [`super::quote_rules`], typed results and one
//! handler per push type.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::builder::{BuilderKind, ContextBuilder, Quotes};
use super::core::{self, ContextPart, Core};
use super::dispatch::{KLineUpdate, QuoteHandlers};
use super::quote_rules::{HistoryQuota, QuoteRateLimits, SubKey, Subscriptions};
use super::rate_limit::RateLimiter;
use super::session::{C2s, ConnectionEvent, ConnectionState, S2c};
use crate::api::{decode_push, TrdApi};
use crate::error::{Error, Result};
use crate::pb::{self, proto, Protocol};
use crate::types::{
    BrokerQueue, HistoryKlQuota, KLType, KLine, KLinePage, Market, OrderBook, Quote, RehabType, RtData, SecurityCode,
    SecurityType, Snapshot, StockBasicInfo, SubType, SubscriptionInfo, Ticker,
};

/// The market of [`QuoteContext::request_trading_days`] (`Qot_Common.TradeDateMarket`).
/// A [`Market`] converts into it (`Market::Hk` is `Hk`, `Sh`/`Sz` are `Cn`), so a
/// caller who wants "HK" passes `Market::Hk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TradeDateMarket {
    /// Unknown (OpenD refuses it).
    Unknown = 0,
    /// Hong Kong.
    Hk = 1,
    /// United States.
    Us = 2,
    /// Mainland China (Shanghai and Shenzhen).
    Cn = 3,
    /// Northbound (Stock Connect into the mainland).
    Nt = 4,
    /// Southbound (Stock Connect into Hong Kong).
    St = 5,
    /// Japanese futures.
    JpFuture = 6,
    /// Singapore futures.
    SgFuture = 7,
    /// Singapore.
    Sg = 8,
    /// Malaysia.
    My = 9,
    /// Japan.
    Jp = 10,
}

impl From<Market> for TradeDateMarket {
    fn from(m: Market) -> Self {
        match m {
            Market::Hk => TradeDateMarket::Hk,
            Market::Us => TradeDateMarket::Us,
            Market::Sh | Market::Sz => TradeDateMarket::Cn,
            Market::Sg => TradeDateMarket::Sg,
            Market::My => TradeDateMarket::My,
            Market::Jp => TradeDateMarket::Jp,
            _ => TradeDateMarket::Unknown,
        }
    }
}

/// The plate class of [`QuoteContext::get_plate_list`] (`Qot_Common.PlateSetType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PlateClass {
    /// Every plate.
    #[default]
    All = 0,
    /// Industry plates.
    Industry = 1,
    /// Region plates.
    Region = 2,
    /// Concept plates.
    Concept = 3,
    /// Other plates.
    Other = 4,
}

/// The period of [`QuoteContext::get_capital_flow`] (`Qot_Common.PeriodType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CapitalFlowPeriod {
    /// Today, minute by minute.
    #[default]
    Intraday = 1,
    /// Daily.
    Day = 2,
    /// Weekly.
    Week = 3,
    /// Monthly.
    Month = 4,
}

/// Options of [`QuoteContext::subscribe_with`] (the Python `subscribe` keywords).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// Push the current data right after subscribing (`is_first_push`, default true).
    pub is_first_push: bool,
    /// Register for pushes of these sub types (`subscribe_push`, default true); with
    /// `false` the data is only read with `get_*`.
    pub subscribe_push: bool,
    /// Detailed order book (`is_detailed_orderbook`, SF quote right; default false).
    pub is_detailed_orderbook: bool,
    /// Pre/after-market data for US securities (`extended_time`, default false).
    pub extended_time: bool,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            is_first_push: true,
            subscribe_push: true,
            is_detailed_orderbook: false,
            extended_time: false,
        }
    }
}

/// A `request_history_kline` query (Python `request_history_kline` keywords).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryKlQuery {
    /// `MARKET.CODE`.
    pub code: String,
    /// First day or time, `yyyy-MM-dd` or `yyyy-MM-dd HH:mm:ss`.
    pub start: String,
    /// Last day or time.
    pub end: String,
    /// Period (default `K_DAY`).
    pub ktype: KLType,
    /// Adjustment (default forward, `qfq`).
    pub autype: RehabType,
    /// K-lines per page (default 1000, as in the Python SDK).
    pub max_count: i32,
    /// The key of the page to read: `None` for the first page, then the previous page's
    /// [`KLinePage::page_req_key`].
    pub page_req_key: Option<Vec<u8>>,
    /// Pre/after-market K-lines for US securities.
    pub extended_time: bool,
}

impl HistoryKlQuery {
    /// Daily, forward-adjusted K-lines of `code` from `start` to `end`, 1000 per page.
    pub fn new(code: impl Into<String>, start: impl Into<String>, end: impl Into<String>) -> Self {
        HistoryKlQuery {
            code: code.into(),
            start: start.into(),
            end: end.into(),
            ktype: KLType::Day,
            autype: RehabType::Forward,
            max_count: 1000,
            page_req_key: None,
            extended_time: false,
        }
    }

    /// Sets the period.
    pub fn ktype(mut self, ktype: KLType) -> Self {
        self.ktype = ktype;
        self
    }

    /// Sets the adjustment.
    pub fn autype(mut self, autype: RehabType) -> Self {
        self.autype = autype;
        self
    }

    /// Sets the page size.
    pub fn max_count(mut self, n: i32) -> Self {
        self.max_count = n;
        self
    }

    /// Sets the page key (from the previous page).
    pub fn page_req_key(mut self, key: Option<Vec<u8>>) -> Self {
        self.page_req_key = key;
        self
    }
}

struct Inner {
    core: Core,
    handlers: QuoteHandlers,
    limiter: RateLimiter<QuoteRateLimits>,
    subs: Mutex<Subscriptions>,
    /// Serializes subscribe/unsubscribe (check, send, record), so that two threads
    /// cannot both pass the quota check. Never held while a user handler runs.
    sub_op: Mutex<()>,
    /// Units subscribed without push registration (`subscribe_push = false`).
    no_push: Mutex<HashSet<SubKey>>,
    history: Mutex<HistoryQuota>,
    /// Whether the quota was given by the builder (else learned at open).
    quota_fixed: bool,
}

/// Builds and opens a [`QuoteContext`]: the one [`ContextBuilder`] of every context,
/// for market data. Defaults follow the Python SDK: host `127.0.0.1`, port 11111,
/// encryption from the process-wide default. `open` gives up after the connect timeout
/// instead of retrying forever.
///
/// ```no_run
/// use std::time::Duration;
/// use ftapi::context::QuoteContext;
/// let ctx = QuoteContext::builder()
///     .host("127.0.0.1")
///     .port(11111)
///     .subscription_quota(Some(100))
///     .connect_timeout(Duration::from_secs(5))
///     .open()?;
/// # Ok::<(), ftapi::Error>(())
/// ```
pub type QuoteContextBuilder = ContextBuilder<Quotes>;

impl BuilderKind for Quotes {
    const NAME: &'static str = "QuoteContext";
    const CLIENT_ID: &'static str = "ftapi-quote";
    type Context = QuoteContext;
    fn open(builder: ContextBuilder<Self>) -> Result<Self::Context> {
        self::open(builder)
    }
}

/// Opens a quote context (see [`ContextBuilder::open`]).
pub(crate) fn open(mut b: ContextBuilder<Quotes>) -> Result<QuoteContext> {
    let settings = b.session_settings()?;
    let inner = Arc::new(Inner {
        core: Core::new("QuoteContext", settings, std::mem::take(&mut b.state_handler)),
        handlers: std::mem::take(&mut b.quote_handlers),
        limiter: RateLimiter::new(b.quote_limits.clone()),
        subs: Mutex::new(Subscriptions::new(b.quota.flatten(), b.unsubscribe_min_age)),
        sub_op: Mutex::new(()),
        no_push: Mutex::new(HashSet::new()),
        history: Mutex::new(HistoryQuota::default()),
        quota_fixed: b.quota.is_some(),
    });
    // The handle owns the close from here on: an early return closes everything.
    let ctx = QuoteContext { inner: inner.clone() };
    core::start(&inner)?;
    Ok(ctx)
}

fn parse_code(code: &str) -> Result<SecurityCode> {
    Ok(code.trim().parse::<SecurityCode>()?)
}

fn parse_codes<I, S>(codes: I) -> Result<Vec<SecurityCode>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out: Vec<SecurityCode> = Vec::new();
    for c in codes {
        let code = parse_code(c.as_ref())?;
        if !out.contains(&code) {
            out.push(code);
        }
    }
    Ok(out)
}

fn securities(codes: &[SecurityCode]) -> Vec<pb::qot_common::Security> {
    codes.iter().map(|c| c.to_pb_security()).collect()
}

/// `codes` parsed, de-duplicated and in the wire's form, for a request's `security_list`.
fn security_list<I, S>(codes: I) -> Result<Vec<pb::qot_common::Security>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    Ok(securities(&parse_codes(codes)?))
}

/// A reply's static infos, converted.
fn basic_infos(list: &[pb::qot_common::SecurityStaticInfo]) -> Vec<StockBasicInfo> {
    list.iter().map(StockBasicInfo::from).collect()
}

fn sub_keys(codes: &[SecurityCode], types: &[SubType]) -> Vec<SubKey> {
    let mut keys = Vec::new();
    for c in codes {
        for t in types {
            let k = (c.to_string(), *t);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

impl Inner {
    fn session(&self) -> &super::session::Session {
        &self.core.session
    }

    /// The quote pushes, decoded and given to their handler on the calling thread (the
    /// connection's callback thread). A push nobody handles is not decoded.
    fn deliver_push(&self, proto_id: u32, body: &[u8]) {
        use pb::PushProtocol;
        let h = &self.handlers;
        match proto_id {
            proto::UpdateBasicQot::PROTO_ID if h.quote.is_set() => {
                if let Some(s) = decode_push::<pb::qot_update_basic_qot::Response>(proto_id, body) {
                    for q in &s.basic_qot_list {
                        h.quote.deliver("quote", &Quote::from(q));
                    }
                }
            }
            proto::UpdateOrderBook::PROTO_ID if h.order_book.is_set() => {
                if let Some(s) = decode_push::<pb::qot_update_order_book::Response>(proto_id, body) {
                    h.order_book.deliver("order book", &OrderBook::from(&s));
                }
            }
            proto::UpdateTicker::PROTO_ID if h.ticker.is_set() => {
                if let Some(s) = decode_push::<pb::qot_update_ticker::Response>(proto_id, body) {
                    h.ticker.deliver("ticker", &Ticker::list(&s.security, &s.ticker_list));
                }
            }
            proto::UpdateRT::PROTO_ID if h.rt.is_set() => {
                if let Some(s) = decode_push::<pb::qot_update_rt::Response>(proto_id, body) {
                    h.rt.deliver("rt", &RtData::list(&s.security, &s.rt_list));
                }
            }
            proto::UpdateKL::PROTO_ID if h.kline.is_set() => {
                if let Some(s) = decode_push::<pb::qot_update_kl::Response>(proto_id, body) {
                    let k = KLineUpdate {
                        code: SecurityCode::from_pb_security(&s.security).to_string(),
                        kl_type: KLType::from(s.kl_type),
                        rehab_type: RehabType::from(s.rehab_type),
                        klines: KLine::list(&s.security, &s.kl_list),
                    };
                    h.kline.deliver("kline", &k);
                }
            }
            proto::UpdateBroker::PROTO_ID if h.broker.is_set() => {
                if let Some(s) = decode_push::<pb::qot_update_broker::Response>(proto_id, body) {
                    let b = BrokerQueue::from_parts(&s.security, &s.broker_bid_list, &s.broker_ask_list);
                    h.broker.deliver("broker", &b);
                }
            }
            proto::UpdatePriceReminder::PROTO_ID if h.reminder.is_set() => {
                if let Some(s) = decode_push::<pb::qot_update_price_reminder::Response>(proto_id, body) {
                    h.reminder.deliver("price reminder", &s);
                }
            }
            proto::Notify::PROTO_ID if h.notify.is_set() => {
                if let Some(s) = decode_push::<pb::notify::Response>(proto_id, body) {
                    h.notify.deliver("notify", &s);
                }
            }
            other => log::trace!("quote context: push {other} not handled"),
        }
    }

    /// A gated blocking call with the protocol's frequency limit.
    fn call<P: Protocol>(&self, c2s: C2s<P>) -> Result<S2c<P>> {
        self.call_limited::<P>(c2s, true)
    }

    fn call_limited<P: Protocol>(&self, c2s: C2s<P>, limited: bool) -> Result<S2c<P>> {
        if limited {
            self.session().wait_ready()?;
            self.limiter.acquire(P::PROTO_ID, 0, &|| self.session().check_open())?;
        }
        self.core.call::<P>(c2s)
    }

    fn send_sub(&self, keys: &[SubKey], sub: bool, opts: SubscribeOptions, now_call: bool) -> Result<()> {
        // One Qot_Sub per sub type set: group the units by code.
        let mut codes: Vec<SecurityCode> = Vec::new();
        let mut types: Vec<SubType> = Vec::new();
        for (c, t) in keys {
            let code = parse_code(c)?;
            if !codes.contains(&code) {
                codes.push(code);
            }
            if !types.contains(t) {
                types.push(*t);
            }
        }
        if codes.is_empty() {
            return Ok(());
        }
        let c2s = pb::qot_sub::C2s {
            security_list: securities(&codes),
            sub_type_list: types.iter().map(|t| t.value()).collect(),
            is_sub_or_un_sub: sub,
            is_reg_or_un_reg_push: Some(if sub { opts.subscribe_push } else { true }),
            reg_push_rehab_type_list: if sub && opts.subscribe_push {
                vec![RehabType::Forward.value()]
            } else {
                vec![]
            },
            is_first_push: Some(opts.is_first_push),
            is_unsub_all: None,
            is_sub_order_book_detail: Some(opts.is_detailed_orderbook),
            extended_time: Some(opts.extended_time),
            session: None,
            header: None,
        };
        if now_call {
            self.session().call_now::<proto::Sub>(c2s).map(|_| ())
        } else {
            self.call_limited::<proto::Sub>(c2s, false).map(|_| ())
        }
    }
}

impl ContextPart for Inner {
    fn core(&self) -> &Core {
        &self.core
    }

    fn on_push(&self, proto_id: u32, body: &[u8]) {
        self.deliver_push(proto_id, body);
    }

    /// First connection: learn the subscription quota (unless the builder gave one).
    fn on_open(&self) -> Result<()> {
        if self.quota_fixed {
            return Ok(());
        }
        match self.session().call_now::<proto::GetSubInfo>(pb::qot_get_sub_info::C2s::default()) {
            Ok(s) => {
                let total = (s.total_used_quota.max(0) + s.remain_quota.max(0)) as u32;
                // OpenD's quota is shared by its connections; this context may use
                // what is left plus what it holds itself (nothing yet).
                self.subs.lock().quota = Some(s.remain_quota.max(0) as u32);
                log::debug!("quote context: subscription quota {total}, {} left", s.remain_quota);
            }
            Err(e) if e.is_connection_lost() => return Err(e),
            Err(e) => log::warn!("quote context: could not read the subscription quota: {e}"),
        }
        Ok(())
    }

    fn on_close(&self) {
        self.handlers.clear();
    }

    fn restore(&self) -> Result<Vec<(&'static str, Error)>> {
        let all = self.subs.lock().all();
        let no_push = self.no_push.lock().clone();
        let (quiet, pushed): (Vec<SubKey>, Vec<SubKey>) = all.into_iter().partition(|k| no_push.contains(k));
        let mut failures = Vec::new();
        for (keys, push) in [(pushed, true), (quiet, false)] {
            if keys.is_empty() {
                continue;
            }
            // Group by sub type so that each Qot_Sub asks exactly the units it had.
            let mut types: Vec<SubType> = keys.iter().map(|(_, t)| *t).collect();
            types.dedup();
            let mut by_type: Vec<(SubType, Vec<SubKey>)> = Vec::new();
            for k in keys {
                match by_type.iter_mut().find(|(t, _)| *t == k.1) {
                    Some((_, v)) => v.push(k),
                    None => by_type.push((k.1, vec![k])),
                }
            }
            for (_, group) in by_type {
                let opts =
                    SubscribeOptions { is_first_push: false, subscribe_push: push, ..SubscribeOptions::default() };
                match self.send_sub(&group, true, opts, true) {
                    Ok(()) => {}
                    Err(e) if e.is_connection_lost() => return Err(e),
                    Err(e) => failures.push(("subscribe", e)),
                }
            }
        }
        Ok(failures)
    }
}

/// A blocking market-data context (Python `OpenQuoteContext`).
///
/// Open one with [`QuoteContext::builder`]. Calls block for OpenD's reply (bounded by
/// the request timeout) and return typed results; the rarer queries return the
/// protocol's `s2c` message from [`crate::pb`] as is. Subscriptions are remembered and
/// made again after an automatic reconnect (without first pushes). Pushes of the
/// subscribed data go to one handler per push type, on the connection's callback thread.
///
/// Before sending, the context applies OpenD's rules and fails with a typed error
/// instead of a refusal: the subscription quota and the one-minute unsubscribe rule
/// ([`Error::QuoteRule`]), the history K-line quota ([`Error::QuoteRule`]) and the
/// documented request frequencies ([`Error::RateLimited`] after a bounded wait; see
/// [`QuoteRateLimits`]).
///
/// ```no_run
/// use ftapi::context::{HistoryKlQuery, QuoteContext};
/// use ftapi::types::SubType;
///
/// let ctx = QuoteContext::builder().host("127.0.0.1").port(11111).open()?;
/// ctx.set_quote_handler(|q| println!("push {} last={}", q.code, q.last_price));
/// ctx.subscribe(["HK.00700"], [SubType::Quote, SubType::OrderBook])?;
/// let q = &ctx.get_stock_quote(["HK.00700"])?[0];
/// println!("{} last={} open={} high={} low={}", q.code, q.last_price, q.open_price, q.high_price, q.low_price);
/// let book = ctx.get_order_book("HK.00700", 10)?;
/// println!("best bid {:?} best ask {:?}", book.bid.first(), book.ask.first());
/// let mut page = ctx.request_history_kline(HistoryKlQuery::new("HK.00700", "2026-10-01", "2026-10-31"))?;
/// while let Some(key) = page.page_req_key.clone() {
///     page = ctx.request_history_kline(HistoryKlQuery::new("HK.00700", "2026-10-01", "2026-10-31").page_req_key(Some(key)))?;
/// }
/// # Ok::<(), ftapi::Error>(())
/// ```
pub struct QuoteContext {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for QuoteContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuoteContext")
            .field("state", &self.inner.session().state())
            .field("subscriptions", &self.inner.subs.lock().used())
            .finish()
    }
}

impl Drop for QuoteContext {
    fn drop(&mut self) {
        self.inner.core.close(&*self.inner);
    }
}

impl QuoteContext {
    /// A builder with the Python SDK's defaults (127.0.0.1:11111).
    pub fn builder() -> QuoteContextBuilder {
        ContextBuilder::new()
    }

    // ----- connection -----

    /// The connection state.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.session().state()
    }

    /// Whether the context is connected.
    pub fn is_connected(&self) -> bool {
        matches!(self.inner.session().state(), ConnectionState::Connected { .. })
    }

    /// OpenD's id of the current connection (0 while disconnected).
    pub fn conn_id(&self) -> u64 {
        self.inner.session().api().get_connect_id()
    }

    /// Pushes read from the connection but not yet handled (the connection's push
    /// queue; see [`ContextBuilder::push_queue_capacity`]).
    pub fn queued_pushes(&self) -> usize {
        self.inner.core.queued_pushes()
    }

    /// Closes the context now (also done on drop): stops reconnecting, closes the
    /// connection (calls in flight fail with [`Error::Disconnected`]; pushes still
    /// queued are dropped, with a log line), removes the handlers and joins the
    /// context's threads. Returns promptly from any thread, including from inside a
    /// handler: it does not wait for a handler running on another thread.
    pub fn close(&self) {
        self.inner.core.close(&*self.inner);
    }

    /// The connection engine, for protocols without a method here: any request goes
    /// through [`QuoteContext::call`].
    pub fn trd_api(&self) -> &TrdApi {
        self.inner.session().api()
    }

    /// Any request/reply protocol, gated and rate-limited like the methods (e.g.
    /// `ctx.call::<pb::proto::GetWarrant>(c2s)`).
    pub fn call<P: Protocol>(&self, c2s: C2s<P>) -> Result<S2c<P>> {
        self.inner.call::<P>(c2s)
    }

    // ----- handlers -----

    /// Handles basic quote pushes (3005, Python `StockQuoteHandlerBase`), one call per
    /// quote. Push handlers run on the connection's callback thread in arrival order and
    /// may call the context (and close it); one that blocks holds up the pushes behind
    /// it (once the push queue is full the connection stops reading; nothing is
    /// dropped), never the replies to blocking calls.
    pub fn set_quote_handler(&self, handler: impl Fn(&Quote) + Send + Sync + 'static) {
        self.inner.handlers.quote.set(handler);
    }

    /// Handles order book pushes (3013, Python `OrderBookHandlerBase`).
    pub fn set_order_book_handler(&self, handler: impl Fn(&OrderBook) + Send + Sync + 'static) {
        self.inner.handlers.order_book.set(handler);
    }

    /// Handles ticker pushes (3011, Python `TickerHandlerBase`), one call per push.
    pub fn set_ticker_handler(&self, handler: impl Fn(&[Ticker]) + Send + Sync + 'static) {
        self.inner.handlers.ticker.set(handler);
    }

    /// Handles time-sharing pushes (3009, Python `RTDataHandlerBase`).
    pub fn set_rt_data_handler(&self, handler: impl Fn(&[RtData]) + Send + Sync + 'static) {
        self.inner.handlers.rt.set(handler);
    }

    /// Handles K-line pushes (3007, Python `CurKlineHandlerBase`).
    pub fn set_kline_handler(&self, handler: impl Fn(&KLineUpdate) + Send + Sync + 'static) {
        self.inner.handlers.kline.set(handler);
    }

    /// Handles broker queue pushes (3015, Python `BrokerHandlerBase`).
    pub fn set_broker_handler(&self, handler: impl Fn(&BrokerQueue) + Send + Sync + 'static) {
        self.inner.handlers.broker.set(handler);
    }

    /// Handles price reminder pushes (3019, Python `PriceReminderHandlerBase`).
    pub fn set_price_reminder_handler(
        &self,
        handler: impl Fn(&pb::qot_update_price_reminder::S2c) + Send + Sync + 'static,
    ) {
        self.inner.handlers.reminder.set(handler);
    }

    /// Handles OpenD's system notifications (1003).
    pub fn set_notify_handler(&self, handler: impl Fn(&pb::notify::S2c) + Send + Sync + 'static) {
        self.inner.handlers.notify.set(handler);
    }

    /// Handles connection events (disconnect, reconnect, restore failures), on the
    /// context's reconnect thread.
    pub fn set_connection_handler(&self, handler: impl Fn(&ConnectionEvent) + Send + Sync + 'static) {
        self.inner.core.state_handler.set(handler);
    }

    // ----- subscriptions -----

    /// Subscribes `codes` to `sub_types` with the default options (first push on, push
    /// registration on; Python `subscribe(code_list, subtype_list)`).
    pub fn subscribe<I, S, T>(&self, codes: I, sub_types: T) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        T: IntoIterator<Item = SubType>,
    {
        self.subscribe_with(codes, sub_types, SubscribeOptions::default())
    }

    /// [`subscribe`](QuoteContext::subscribe) with options (`is_first_push`,
    /// `subscribe_push`, ...). Fails with [`Error::QuoteRule`] (`SubscriptionQuota`)
    /// without sending when the new units exceed the quota (each code and sub type pair
    /// is one unit; the quota is the builder's, or what OpenD said was left at open).
    pub fn subscribe_with<I, S, T>(&self, codes: I, sub_types: T, opts: SubscribeOptions) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        T: IntoIterator<Item = SubType>,
    {
        let codes = parse_codes(codes)?;
        let types: Vec<SubType> = sub_types.into_iter().collect();
        if codes.is_empty() || types.is_empty() {
            return Err(Error::InvalidArgument("subscribe needs codes and sub types".into()));
        }
        let keys = sub_keys(&codes, &types);
        let _op = self.inner.sub_op.lock();
        self.inner.subs.lock().check_subscribe(&keys)?;
        self.inner.send_sub(&keys, true, opts, false)?;
        self.inner.subs.lock().record_subscribe(&keys, Instant::now());
        let mut no_push = self.inner.no_push.lock();
        for k in &keys {
            if opts.subscribe_push {
                no_push.remove(k);
            } else {
                no_push.insert(k.clone());
            }
        }
        Ok(())
    }

    /// Unsubscribes (Python `unsubscribe`). Fails with [`Error::QuoteRule`]
    /// (`UnsubscribeTooEarly`) without sending if a unit was subscribed less than the
    /// minimum age ago (OpenD: one minute; see
    /// [`QuoteContextBuilder::unsubscribe_min_age`]).
    pub fn unsubscribe<I, S, T>(&self, codes: I, sub_types: T) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        T: IntoIterator<Item = SubType>,
    {
        let codes = parse_codes(codes)?;
        let types: Vec<SubType> = sub_types.into_iter().collect();
        let keys = sub_keys(&codes, &types);
        let _op = self.inner.sub_op.lock();
        self.inner.subs.lock().check_unsubscribe(&keys, Instant::now())?;
        self.inner.send_sub(&keys, false, SubscribeOptions::default(), false)?;
        self.inner.subs.lock().record_unsubscribe(&keys);
        let mut no_push = self.inner.no_push.lock();
        for k in &keys {
            no_push.remove(k);
        }
        Ok(())
    }

    /// Unsubscribes everything this context subscribed (Python `unsubscribe_all`), under
    /// the same one-minute rule.
    pub fn unsubscribe_all(&self) -> Result<()> {
        let _op = self.inner.sub_op.lock();
        let keys = self.inner.subs.lock().all();
        self.inner.subs.lock().check_unsubscribe(&keys, Instant::now())?;
        let c2s = pb::qot_sub::C2s { is_sub_or_un_sub: false, is_unsub_all: Some(true), ..Default::default() };
        self.inner.call_limited::<proto::Sub>(c2s, false)?;
        self.inner.subs.lock().record_unsubscribe(&keys);
        self.inner.no_push.lock().clear();
        Ok(())
    }

    /// The subscriptions (Python `query_subscription`): this connection's, or with
    /// `is_all_conn` every connection's.
    pub fn query_subscription(&self, is_all_conn: bool) -> Result<SubscriptionInfo> {
        let s2c = self.inner.call::<proto::GetSubInfo>(pb::qot_get_sub_info::C2s {
            is_req_all_conn: Some(is_all_conn),
            header: None,
        })?;
        Ok(SubscriptionInfo::from(&s2c))
    }

    /// The units this context holds (code, sub type), as it will re-subscribe them after
    /// a reconnect.
    pub fn subscriptions(&self) -> Vec<(String, SubType)> {
        self.inner.subs.lock().all()
    }

    // ----- subscribed data -----

    /// Basic quotes (Python `get_stock_quote`; 3004). Needs `SubType::Quote`.
    pub fn get_stock_quote<I, S>(&self, codes: I) -> Result<Vec<Quote>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let s2c = self.inner.call::<proto::GetBasicQot>(pb::qot_get_basic_qot::C2s {
            security_list: security_list(codes)?,
            header: None,
        })?;
        Ok(s2c.basic_qot_list.iter().map(Quote::from).collect())
    }

    /// The order book, `num` levels a side (Python `get_order_book`; 3012). Needs
    /// `SubType::OrderBook`.
    pub fn get_order_book(&self, code: &str, num: i32) -> Result<OrderBook> {
        let c = parse_code(code)?;
        let s2c = self.inner.call::<proto::GetOrderBook>(pb::qot_get_order_book::C2s {
            security: c.to_pb_security(),
            num,
            ..Default::default()
        })?;
        Ok(OrderBook::from(&s2c))
    }

    /// The latest `num` tickers (Python `get_rt_ticker`; 3010). Needs `SubType::Ticker`.
    pub fn get_rt_ticker(&self, code: &str, num: i32) -> Result<Vec<Ticker>> {
        let c = parse_code(code)?;
        let s2c = self.inner.call::<proto::GetTicker>(pb::qot_get_ticker::C2s {
            security: c.to_pb_security(),
            max_ret_num: num,
            header: None,
        })?;
        Ok(Ticker::list(&s2c.security, &s2c.ticker_list))
    }

    /// Today's time-sharing data (Python `get_rt_data`; 3008). Needs `SubType::RtData`.
    pub fn get_rt_data(&self, code: &str) -> Result<Vec<RtData>> {
        let c = parse_code(code)?;
        let s2c =
            self.inner.call::<proto::GetRT>(pb::qot_get_rt::C2s { security: c.to_pb_security(), header: None })?;
        Ok(RtData::list(&s2c.security, &s2c.rt_list))
    }

    /// The latest `num` K-lines (Python `get_cur_kline`; 3006). Needs the K-line sub type
    /// of `ktype` (e.g. `SubType::KDay`).
    pub fn get_cur_kline(&self, code: &str, num: i32, ktype: KLType, autype: RehabType) -> Result<Vec<KLine>> {
        let c = parse_code(code)?;
        let s2c = self.inner.call::<proto::GetKL>(pb::qot_get_kl::C2s {
            rehab_type: autype.value(),
            kl_type: ktype.value(),
            security: c.to_pb_security(),
            req_num: num,
            header: None,
        })?;
        Ok(KLine::list(&s2c.security, &s2c.kl_list))
    }

    /// The HK broker queue (Python `get_broker_queue`; 3014). Needs `SubType::Broker`.
    pub fn get_broker_queue(&self, code: &str) -> Result<BrokerQueue> {
        let c = parse_code(code)?;
        let s2c = self
            .inner
            .call::<proto::GetBroker>(pb::qot_get_broker::C2s { security: c.to_pb_security(), header: None })?;
        Ok(BrokerQueue::from_parts(&s2c.security, &s2c.broker_bid_list, &s2c.broker_ask_list))
    }

    /// Snapshots, no subscription needed (Python `get_market_snapshot`; 3203;
    /// OpenD: 60 requests per 30 s, up to 400 codes each).
    pub fn get_market_snapshot<I, S>(&self, codes: I) -> Result<Vec<Snapshot>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let s2c = self.inner.call::<proto::GetSecuritySnapshot>(pb::qot_get_security_snapshot::C2s {
            security_list: security_list(codes)?,
            header: None,
        })?;
        Ok(s2c.snapshot_list.iter().map(Snapshot::from).collect())
    }

    // ----- history -----

    /// One page of history K-lines (Python `request_history_kline`; 3103). Pass the
    /// returned `page_req_key` in the next query to read the next page. A first page of
    /// a security not pulled in the last 30 days uses one unit of the history K-line
    /// quota; with none left it fails with [`Error::QuoteRule`] (`HistoryKlQuota`)
    /// without sending. First pages count against OpenD's 60 per 30 s.
    pub fn request_history_kline(&self, q: HistoryKlQuery) -> Result<KLinePage> {
        let c = parse_code(&q.code)?;
        let code = c.to_string();
        let first_page = q.page_req_key.is_none();
        if first_page {
            self.ensure_history_quota_known()?;
            self.inner.history.lock().check(&code)?;
        }
        let c2s = pb::qot_request_history_kl::C2s {
            rehab_type: q.autype.value(),
            kl_type: q.ktype.value(),
            security: c.to_pb_security(),
            begin_time: q.start.clone(),
            end_time: q.end.clone(),
            max_ack_kl_num: Some(q.max_count),
            need_kl_fields_flag: None,
            next_req_key: q.page_req_key.clone(),
            extended_time: Some(q.extended_time),
            ..Default::default()
        };
        let s2c = self.inner.call_limited::<proto::RequestHistoryKL>(c2s, first_page)?;
        if first_page {
            self.inner.history.lock().record(&code);
        }
        Ok(KLinePage {
            klines: KLine::list(&s2c.security, &s2c.kl_list),
            page_req_key: s2c.next_req_key.filter(|k| !k.is_empty()),
        })
    }

    /// Every page of a history query, concatenated (at most `max_pages` pages).
    pub fn request_history_kline_all(&self, q: HistoryKlQuery, max_pages: usize) -> Result<Vec<KLine>> {
        let mut out = Vec::new();
        let mut query = q;
        for _ in 0..max_pages.max(1) {
            let page = self.request_history_kline(query.clone())?;
            out.extend(page.klines);
            match page.page_req_key {
                Some(k) => query.page_req_key = Some(k),
                None => return Ok(out),
            }
        }
        Ok(out)
    }

    fn ensure_history_quota_known(&self) -> Result<()> {
        if self.inner.history.lock().known.is_some() {
            return Ok(());
        }
        let q = self.get_history_kl_quota(true)?;
        let codes = q.detail_list.into_iter().map(|(code, _, _)| code).collect();
        let mut h = self.inner.history.lock();
        if h.known.is_none() {
            h.known = Some((codes, q.remain_quota));
        }
        Ok(())
    }

    /// The history K-line quota (Python `get_history_kl_quota`; 3104).
    pub fn get_history_kl_quota(&self, get_detail: bool) -> Result<HistoryKlQuota> {
        let s2c = self.inner.call::<proto::RequestHistoryKLQuota>(pb::qot_request_history_kl_quota::C2s {
            b_get_detail: Some(get_detail),
            header: None,
        })?;
        Ok(HistoryKlQuota::from(&s2c))
    }

    /// Rehab (adjustment) factors (Python `get_rehab`; 3105), as OpenD sends them.
    pub fn get_rehab(&self, code: &str) -> Result<pb::qot_request_rehab::S2c> {
        let c = parse_code(code)?;
        self.inner
            .call::<proto::RequestRehab>(pb::qot_request_rehab::C2s { security: c.to_pb_security(), header: None })
    }

    // ----- reference data -----

    /// Static information (Python `get_stock_basicinfo`; 3202): of `codes` when given,
    /// else of every security of `market` and `stock_type`.
    pub fn get_stock_basicinfo<I, S>(
        &self,
        market: Market,
        stock_type: SecurityType,
        codes: I,
    ) -> Result<Vec<StockBasicInfo>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let c2s = pb::qot_get_static_info::C2s {
            market: Some(market.qot_market().value()),
            sec_type: Some(stock_type.value()),
            security_list: security_list(codes)?,
            header: None,
        };
        let s2c = self.inner.call::<proto::GetStaticInfo>(c2s)?;
        Ok(basic_infos(&s2c.static_info_list))
    }

    /// Market states of securities (Python `get_market_state`; 3223).
    pub fn get_market_state<I, S>(&self, codes: I) -> Result<pb::qot_get_market_state::S2c>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.inner.call::<proto::GetMarketState>(pb::qot_get_market_state::C2s {
            security_list: security_list(codes)?,
            header: None,
        })
    }

    /// Trading days (Python `request_trading_days`; 3219) of a market: a [`Market`]
    /// (`Market::Hk`) or a [`TradeDateMarket`] (for Stock Connect and futures markets);
    /// `code` narrows it to one security.
    pub fn request_trading_days(
        &self,
        market: impl Into<TradeDateMarket>,
        start: &str,
        end: &str,
        code: Option<&str>,
    ) -> Result<pb::qot_request_trade_date::S2c> {
        let security = code.map(parse_code).transpose()?.map(|c| c.to_pb_security());
        self.inner.call::<proto::RequestTradeDate>(pb::qot_request_trade_date::C2s {
            market: market.into() as i32,
            begin_time: start.into(),
            end_time: end.into(),
            security,
            header: None,
        })
    }

    /// Plates of a market (Python `get_plate_list`; 3204) of one class.
    pub fn get_plate_list(&self, market: Market, plate_class: PlateClass) -> Result<Vec<pb::qot_common::PlateInfo>> {
        let s2c = self.inner.call::<proto::GetPlateSet>(pb::qot_get_plate_set::C2s {
            market: market.qot_market().value(),
            plate_set_type: plate_class as i32,
            header: None,
        })?;
        Ok(s2c.plate_info_list)
    }

    /// Securities of a plate (Python `get_plate_stock`; 3205), e.g. `"HK.BK1001"`.
    pub fn get_plate_stock(&self, plate_code: &str) -> Result<Vec<StockBasicInfo>> {
        let c = parse_code(plate_code)?;
        let s2c = self.inner.call::<proto::GetPlateSecurity>(pb::qot_get_plate_security::C2s {
            plate: c.to_pb_security(),
            ..Default::default()
        })?;
        Ok(basic_infos(&s2c.static_info_list))
    }

    /// Plates the securities belong to (Python `get_owner_plate`; 3207).
    pub fn get_owner_plate<I, S>(&self, codes: I) -> Result<pb::qot_get_owner_plate::S2c>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.inner.call::<proto::GetOwnerPlate>(pb::qot_get_owner_plate::C2s {
            security_list: security_list(codes)?,
            header: None,
        })
    }

    /// The option chain of an underlying (Python `get_option_chain`; 3209) between two
    /// expiry dates (`yyyy-MM-dd`). Filters go in `c2s` through
    /// [`call`](QuoteContext::call) when needed.
    pub fn get_option_chain(&self, code: &str, start: &str, end: &str) -> Result<pb::qot_get_option_chain::S2c> {
        let c = parse_code(code)?;
        self.inner.call::<proto::GetOptionChain>(pb::qot_get_option_chain::C2s {
            owner: c.to_pb_security(),
            begin_time: start.into(),
            end_time: end.into(),
            ..Default::default()
        })
    }

    /// Option expiry dates of an underlying (Python `get_option_expiration_date`; 3224).
    pub fn get_option_expiration_date(&self, code: &str) -> Result<pb::qot_get_option_expiration_date::S2c> {
        let c = parse_code(code)?;
        self.inner.call::<proto::GetOptionExpirationDate>(pb::qot_get_option_expiration_date::C2s {
            owner: c.to_pb_security(),
            ..Default::default()
        })
    }

    /// Related securities (Python `get_referencestock_list`; 3206). `reference_type` is a
    /// `Qot_GetReference.ReferenceType` value (1 warrants, 2 futures).
    pub fn get_referencestock_list(&self, code: &str, reference_type: i32) -> Result<Vec<StockBasicInfo>> {
        let c = parse_code(code)?;
        let s2c = self.inner.call::<proto::GetReference>(pb::qot_get_reference::C2s {
            security: c.to_pb_security(),
            reference_type,
            header: None,
        })?;
        Ok(basic_infos(&s2c.static_info_list))
    }

    /// Future contract details (Python `get_future_info`; 3218).
    pub fn get_future_info<I, S>(&self, codes: I) -> Result<pb::qot_get_future_info::S2c>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.inner.call::<proto::GetFutureInfo>(pb::qot_get_future_info::C2s {
            security_list: security_list(codes)?,
            header: None,
        })
    }

    /// IPOs of a market (Python `get_ipo_list`; 3217).
    pub fn get_ipo_list(&self, market: Market) -> Result<pb::qot_get_ipo_list::S2c> {
        self.inner
            .call::<proto::GetIpoList>(pb::qot_get_ipo_list::C2s { market: market.qot_market().value(), header: None })
    }

    /// Capital flow (Python `get_capital_flow`; 3211) of one period; `start`/`end`
    /// bound the non-intraday periods.
    pub fn get_capital_flow(
        &self,
        code: &str,
        period_type: CapitalFlowPeriod,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<pb::qot_get_capital_flow::S2c> {
        let c = parse_code(code)?;
        self.inner.call::<proto::GetCapitalFlow>(pb::qot_get_capital_flow::C2s {
            security: c.to_pb_security(),
            period_type: Some(period_type as i32),
            begin_time: start.map(String::from),
            end_time: end.map(String::from),
            header: None,
        })
    }

    /// Capital distribution (Python `get_capital_distribution`; 3212).
    pub fn get_capital_distribution(&self, code: &str) -> Result<pb::qot_get_capital_distribution::S2c> {
        let c = parse_code(code)?;
        self.inner.call::<proto::GetCapitalDistribution>(pb::qot_get_capital_distribution::C2s {
            security: c.to_pb_security(),
            header: None,
        })
    }

    // ----- user data and reminders -----

    /// Securities of a watchlist group (Python `get_user_security`; 3213).
    pub fn get_user_security(&self, group_name: &str) -> Result<Vec<StockBasicInfo>> {
        let s2c = self.inner.call::<proto::GetUserSecurity>(pb::qot_get_user_security::C2s {
            group_name: group_name.into(),
            header: None,
        })?;
        Ok(basic_infos(&s2c.static_info_list))
    }

    /// Adds to, removes from or moves out of a watchlist group (Python
    /// `modify_user_security`; 3214). `op` is a `Qot_ModifyUserSecurity.ModifyUserSecurityOp`
    /// value (1 add, 2 delete, 3 move out).
    pub fn modify_user_security<I, S>(&self, group_name: &str, op: i32, codes: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.inner
            .call::<proto::ModifyUserSecurity>(pb::qot_modify_user_security::C2s {
                group_name: group_name.into(),
                op,
                security_list: security_list(codes)?,
                header: None,
            })
            .map(|_| ())
    }

    /// Stock screening (Python `get_stock_filter`; 3215). The filters are many; build the
    /// `c2s` (`begin`, `num`, `market`, the filter lists) directly.
    pub fn get_stock_filter(&self, c2s: pb::qot_stock_filter::C2s) -> Result<pb::qot_stock_filter::S2c> {
        self.inner.call::<proto::StockFilter>(c2s)
    }

    /// Price reminders of a security, or of a whole market when `code` is `None` (Python
    /// `get_price_reminder`; 3221).
    pub fn get_price_reminder(
        &self,
        code: Option<&str>,
        market: Option<Market>,
    ) -> Result<pb::qot_get_price_reminder::S2c> {
        let security = code.map(parse_code).transpose()?.map(|c| c.to_pb_security());
        self.inner.call::<proto::GetPriceReminder>(pb::qot_get_price_reminder::C2s {
            security,
            market: market.map(|m| m.qot_market().value()),
            header: None,
        })
    }

    /// Adds, modifies, enables, disables or deletes a price reminder (Python
    /// `set_price_reminder`; 3220); returns the reminder's key. Build the `c2s` (`op`,
    /// `key`, `type`, `freq`, `value`, `note`) directly.
    pub fn set_price_reminder(&self, c2s: pb::qot_set_price_reminder::C2s) -> Result<i64> {
        Ok(self.inner.call::<proto::SetPriceReminder>(c2s)?.key)
    }

    /// OpenD's global state (Python `get_global_state`; 1002).
    pub fn get_global_state(&self) -> Result<pb::get_global_state::S2c> {
        let user_id = self.inner.session().api().get_login_user_id();
        self.inner.call::<proto::GetGlobalState>(pb::get_global_state::C2s { user_id })
    }
}
