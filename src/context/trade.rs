//! The trade context: account cache, account selection, typed calls, unlock memory,
//! push subscription and the threads behind them.

use std::marker::PhantomData;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::builder::{BuilderKind, ContextBuilder, ContextKind, Futures, Securities};
use super::core::{self, ContextPart, Core};
use super::dispatch::{FillUpdate, OrderUpdate, TradeHandlers};
use super::rate_limit::{LimitKind, RateLimiter};
use super::requests::{
    history_window, today_utc, AccSel, CancelAll, CashFlowQuery, CodeFilter, ComboMaxQtyQuery, ComboOrder, DealQuery,
    FundsQuery, HistoryDealQuery, HistoryOrderQuery, MaxQtyQuery, ModifyOrder, OrderFeeQuery, OrderQuery, PlaceOrder,
    PositionQuery,
};
use super::session::{C2s, ConnectionEvent, ConnectionState, S2c};
use crate::api::decode_push;
use crate::error::{Error, Result};
use crate::pb::{self, proto, Protocol};
use crate::types::{
    adopt_security_firm, check_trd_env, filter_accounts, market_env_enabled, select_account, trd_market_for_code,
    Account, AccountRef, CashFlow, ComboMaxTrdQtys, Funds, MarginRatio, MaxTrdQtys, ModifyOrderOp, Order, OrderFee,
    OrderFill, Position, SecurityCode, SecurityFirm, SelectError, TradePassword, TrdCategory, TrdEnv, TrdMarket,
};

/// The fixed facts of a context kind, as values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KindInfo {
    pub name: &'static str,
    pub category: TrdCategory,
    pub need_general_sec_account: bool,
    pub futures: bool,
    pub market: TrdMarket,
}

/// What `place_order` and `place_combo_order` return.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedOrder {
    /// The account, environment and header market the order was sent with.
    pub account: AccountRef,
    /// OpenD's numeric order ID (absent for combo orders).
    pub order_id: Option<u64>,
    /// OpenD's order ID string (the Python SDK's `order_id`); use it to modify, cancel
    /// or query the order.
    pub order_id_ex: String,
    /// The order as read back from the order list right after placing it (as the
    /// Python SDK does); `None` if it could not be read back. The order was placed
    /// either way.
    pub order: Option<Order>,
}

/// What `modify_order` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifiedOrder {
    /// The account, environment and header market.
    pub account: AccountRef,
    /// OpenD's numeric order ID.
    pub order_id: u64,
    /// OpenD's order ID string.
    pub order_id_ex: String,
}

/// The trade part of a context, above the shared [`Core`]. The handle
/// ([`TradeContext`]) owns the close.
pub(crate) struct Inner {
    pub info: KindInfo,
    pub core: Core,
    pub handlers: TradeHandlers,
    pub limiter: RateLimiter,
    /// The environment of requests that do not choose one.
    default_env: TrdEnv,
    /// The filtered account list (docs/protocol.md 6.2), in OpenD's order.
    accounts: RwLock<Vec<Account>>,
    /// The context's firm; `Unknown` until adopted from the first real account.
    firm: Mutex<SecurityFirm>,
    /// `(conn_id, acc_ids)` of the last successful Trd_SubAccPush.
    sub: Mutex<Option<(u64, Vec<u64>)>>,
    /// The password of the last successful unlock, for re-unlocking after a reconnect.
    password: Mutex<Option<TradePassword>>,
}

impl BuilderKind for Securities {
    const NAME: &'static str = "SecTradeContext";
    const CLIENT_ID: &'static str = "ftapi-ctx";
    type Context = TradeContext<Securities>;
    fn open(builder: ContextBuilder<Self>) -> Result<Self::Context> {
        self::open(builder)
    }
}

impl BuilderKind for Futures {
    const NAME: &'static str = "FutureTradeContext";
    const CLIENT_ID: &'static str = "ftapi-ctx";
    type Context = TradeContext<Futures>;
    fn open(builder: ContextBuilder<Self>) -> Result<Self::Context> {
        self::open(builder)
    }
}

/// A trade context for securities accounts (Python `OpenSecTradeContext`).
#[doc(alias = "OpenSecTradeContext")]
pub type SecTradeContext = TradeContext<Securities>;

/// A trade context for futures accounts (Python `OpenFutureTradeContext`).
#[doc(alias = "OpenFutureTradeContext")]
pub type FutureTradeContext = TradeContext<Futures>;

impl TradeContext<Securities> {
    /// A builder with the Python SDK's defaults (127.0.0.1:11111, market HK).
    pub fn builder() -> ContextBuilder<Securities> {
        ContextBuilder::new()
    }
}

impl TradeContext<Futures> {
    /// A builder with the Python SDK's defaults (127.0.0.1:11111, market FUTURES).
    pub fn builder() -> ContextBuilder<Futures> {
        ContextBuilder::new()
    }
}

/// Opens a trade context (see [`ContextBuilder::open`]).
pub(crate) fn open<K: ContextKind>(mut b: ContextBuilder<K>) -> Result<TradeContext<K>> {
    let market = b.market.unwrap_or_else(K::default_market);
    if K::CATEGORY == TrdCategory::Security && market == TrdMarket::Futures {
        return Err(Error::InvalidArgument(
            "a securities trade context cannot filter by market FUTURES; use FutureTradeContext".into(),
        ));
    }
    let settings = b.session_settings()?;
    let info = KindInfo {
        name: K::NAME,
        category: K::CATEGORY,
        need_general_sec_account: K::NEED_GENERAL_SEC_ACCOUNT,
        futures: K::FUTURES,
        market,
    };
    let inner = Arc::new(Inner {
        info,
        core: Core::new(K::NAME, settings, std::mem::take(&mut b.state_handler)),
        handlers: std::mem::take(&mut b.trade_handlers),
        limiter: RateLimiter::new(b.rate_limits),
        default_env: b.trd_env,
        accounts: RwLock::new(Vec::new()),
        firm: Mutex::new(b.firm),
        sub: Mutex::new(None),
        password: Mutex::new(None),
    });
    // The handle owns the close from here on: an early return closes everything.
    let ctx = TradeContext::<K> { inner: inner.clone(), _kind: PhantomData };
    core::start(&inner)?;
    Ok(ctx)
}

impl Inner {
    fn session(&self) -> &super::session::Session {
        &self.core.session
    }

    /// The environment a request means: its own, else the context's default.
    fn env_of(&self, acc: &AccSel) -> TrdEnv {
        acc.env.unwrap_or(self.default_env)
    }

    /// A gated blocking call: waits (bounded) for the connection, then sends. Writes
    /// that lose the connection say that their outcome is unknown.
    fn call<P: Protocol>(&self, c2s: C2s<P>) -> Result<S2c<P>> {
        let r = self.core.call::<P>(c2s);
        if P::IS_WRITE {
            r.map_err(|e| match e {
                Error::Disconnected { .. } => unknown_outcome::<P>(e),
                Error::Server { proto_id, ret_msg, .. } if says_locked(&ret_msg) => {
                    Error::NotUnlocked { proto_id, ret_msg }
                }
                other => other,
            })
        } else {
            r
        }
    }

    fn rate_limit(&self, kind: LimitKind, key: u64) -> Result<()> {
        self.limiter.acquire(kind, key, &|| self.session().check_open())
    }

    /// OpenD's 10-per-30-s limit of some queries (see `rate_limit.rs`).
    fn query_limit(&self, proto_id: u32, refresh_cache: bool, account: u64) -> Result<()> {
        self.limiter.acquire_query(proto_id, refresh_cache, account, &|| self.session().check_open())
    }

    /// Reads the account list (2001), adopts the firm if none was given, filters.
    fn fetch_accounts(&self) -> Result<Vec<Account>> {
        let c2s = pb::trd_get_acc_list::C2s {
            user_id: self.session().api().get_login_user_id(),
            trd_category: Some(self.info.category.value()),
            need_general_sec_account: Some(self.info.need_general_sec_account),
        };
        let s2c = self.session().call_now::<proto::GetAccList>(c2s)?;
        let all: Vec<Account> = s2c.acc_list.iter().map(Account::from).collect();
        let firm = {
            let mut firm = self.firm.lock();
            if *firm == SecurityFirm::Unknown {
                let by_market = filter_accounts(&all, self.info.market, SecurityFirm::Unknown, self.info.futures);
                if let Some(adopted) = adopt_security_firm(&by_market) {
                    log::info!("{}: adopting security firm {adopted} from the first real account", self.info.name);
                    *firm = adopted;
                }
            }
            *firm
        };
        let filtered = filter_accounts(&all, self.info.market, firm, self.info.futures);
        log::debug!("{}: {} of {} accounts kept", self.info.name, filtered.len(), all.len());
        *self.accounts.write() = filtered.clone();
        Ok(filtered)
    }

    /// Sends Trd_SubAccPush for the context's accounts unless exactly that list is
    /// already subscribed on this connection.
    fn ensure_subscribed(&self) -> Result<()> {
        let conn_id = self.session().api().get_connect_id();
        let mut ids: Vec<u64> = Vec::new();
        for a in self.accounts.read().iter() {
            if !ids.contains(&a.acc_id) {
                ids.push(a.acc_id);
            }
        }
        let mut sub = self.sub.lock();
        let same_conn = sub.as_ref().is_some_and(|(c, _)| *c == conn_id);
        if same_conn && sub.as_ref().is_some_and(|(_, prev)| *prev == ids) {
            return Ok(());
        }
        if !same_conn && ids.is_empty() {
            // Nothing to subscribe on a fresh connection.
            *sub = Some((conn_id, ids));
            return Ok(());
        }
        self.session().call_now::<proto::SubAccPush>(pb::trd_sub_acc_push::C2s { acc_id_list: ids.clone() })?;
        log::debug!("{}: subscribed pushes of {ids:?} on connection {conn_id}", self.info.name);
        *sub = Some((conn_id, ids));
        Ok(())
    }

    fn send_unlock(&self, password: Option<&TradePassword>, unlock: bool) -> Result<()> {
        let pwd_md5 = match (unlock, password) {
            (true, Some(p)) => Some(p.pwd_md5().to_string()),
            (true, None) => return Err(Error::InvalidArgument("unlocking needs the trade password".into())),
            (false, _) => Some(String::new()),
        };
        let firm = *self.firm.lock();
        let c2s = pb::trd_unlock_trade::C2s { unlock, pwd_md5, security_firm: Some(firm.value()) };
        self.session().call_now::<proto::UnlockTrade>(c2s).map(|_| ())
    }

    fn select(&self, acc: &AccSel) -> Result<Account> {
        check_trd_env(self.info.category, self.info.market, self.env_of(acc))?;
        self.select_unchecked(acc)
    }

    fn select_unchecked(&self, acc: &AccSel) -> Result<Account> {
        let accounts = self.accounts.read();
        Ok(select_account(&accounts, self.env_of(acc), acc.acc_id, acc.acc_index).cloned()?)
    }

    /// Header with the account's first market (queries, modify, fees, cash flow).
    fn query_header(&self, acc: &AccSel) -> Result<AccountRef> {
        Ok(self.select(acc)?.default_ref())
    }

    /// Header with the market derived from a code (place, max qty, margin, combo).
    fn code_header(&self, acc: &AccSel, code: &SecurityCode) -> Result<AccountRef> {
        let a = self.select(acc)?;
        let env = self.env_of(acc);
        Ok(AccountRef::new(env, a.acc_id, trd_market_for_code(code, self.info.category, env)))
    }

    fn read_back(&self, header: &AccountRef, order_id_ex: &str) -> Option<Order> {
        for _ in 0..3 {
            let c2s = pb::trd_get_order_list::C2s {
                header: header_for_query(self, header),
                filter_conditions: Some(pb::trd_common::TrdFilterConditions {
                    order_id_ex_list: vec![order_id_ex.to_string()],
                    filter_market: Some(0),
                    ..Default::default()
                }),
                filter_status_list: Vec::new(),
                refresh_cache: None,
            };
            match self.call::<proto::GetOrderList>(c2s) {
                Ok(s2c) => {
                    if let Some(o) = s2c.order_list.iter().find(|o| o.order_id_ex == order_id_ex) {
                        return Some(Order::from(o));
                    }
                }
                Err(e) => {
                    log::warn!("order {order_id_ex} was placed but could not be read back: {e}");
                    return None;
                }
            }
        }
        None
    }
}

/// The query header of the account `header` names (its first market), falling back
/// to `header` itself.
fn header_for_query(inner: &Inner, header: &AccountRef) -> pb::trd_common::TrdHeader {
    let accounts = inner.accounts.read();
    match accounts.iter().find(|a| a.acc_id == header.acc_id && a.env == header.env) {
        Some(a) => a.default_ref().to_pb_header(),
        None => header.to_pb_header(),
    }
}

impl ContextPart for Inner {
    fn core(&self) -> &Core {
        &self.core
    }

    fn on_push(&self, proto_id: u32, body: &[u8]) {
        use pb::PushProtocol;
        let h = &self.handlers;
        match proto_id {
            proto::UpdateOrder::PROTO_ID if h.order.is_set() => {
                if let Some(s) = decode_push::<pb::trd_update_order::Response>(proto_id, body) {
                    h.order.deliver("order", &OrderUpdate::from(&s));
                }
            }
            proto::UpdateOrderFill::PROTO_ID if h.fill.is_set() => {
                if let Some(s) = decode_push::<pb::trd_update_order_fill::Response>(proto_id, body) {
                    h.fill.deliver("fill", &FillUpdate::from(&s));
                }
            }
            proto::Notify::PROTO_ID if h.notify.is_set() => {
                if let Some(s) = decode_push::<pb::notify::Response>(proto_id, body) {
                    h.notify.deliver("notify", &s);
                }
            }
            other => log::trace!("{}: push {other} not handled", self.info.name),
        }
    }

    /// First connection: read the accounts, subscribe to their pushes.
    fn on_open(&self) -> Result<()> {
        self.fetch_accounts()?;
        self.ensure_subscribed()
    }

    fn on_close(&self) {
        self.handlers.clear();
        *self.password.lock() = None;
    }

    fn restore(&self) -> Result<Vec<(&'static str, Error)>> {
        // A subscription belongs to the connection that made it; connection ids are not
        // unique across OpenD restarts, so never trust the old one.
        *self.sub.lock() = None;
        let mut failures = Vec::new();
        let mut step = |name: &'static str, r: Result<()>| -> Result<()> {
            match r {
                Ok(()) => Ok(()),
                Err(e) if e.is_connection_lost() => Err(e),
                Err(e) => {
                    failures.push((name, e));
                    Ok(())
                }
            }
        };
        step("get_acc_list", self.fetch_accounts().map(|_| ()))?;
        let password = self.password.lock().clone();
        if let Some(p) = password {
            step("unlock_trade", self.send_unlock(Some(&p), true))?;
        }
        step("sub_acc_push", self.ensure_subscribed())?;
        Ok(failures)
    }
}

/// Whether OpenD's `retMsg` for a refused order says that trading is locked. Futu
/// documents no `errCode` for it (the official docs call `errCode` informational and
/// list no trading codes; the simulator's 1002 is its own number, not OpenD's), so this
/// is the one place that reads the message: English ("unlock") or Chinese ("解锁"),
/// ignoring case. Replace it with a code check once OpenD documents one.
fn says_locked(ret_msg: &str) -> bool {
    ret_msg.to_ascii_lowercase().contains("unlock") || ret_msg.contains("解锁")
}

/// A write's [`Error::Disconnected`], saying that its outcome is unknown.
fn unknown_outcome<P: Protocol>(e: Error) -> Error {
    match e {
        Error::Disconnected { proto_id, serial, failure } => Error::Disconnected {
            proto_id,
            serial,
            failure: failure.context(&format!(
                "the outcome of this {} is unknown and it is not re-sent \
                 (check the order list before retrying)",
                P::NAME
            )),
        },
        other => other,
    }
}

/// Parses a `MARKET.CODE`.
fn parse_code(code: &str) -> Result<SecurityCode> {
    Ok(code.trim().parse::<SecurityCode>()?)
}

/// Filter conditions for a [`CodeFilter`]: its codes in its market (`Unknown` = all).
fn code_filter(filter: &CodeFilter) -> Result<pb::trd_common::TrdFilterConditions> {
    Ok(pb::trd_common::TrdFilterConditions {
        code_list: filter_codes(&filter.codes)?,
        filter_market: Some(filter.market.value()),
        ..Default::default()
    })
}

/// The bare symbols for a code filter: `MARKET.CODE` is stripped to `CODE`; a string
/// without a dot is taken as a bare symbol (as the Python SDK does).
fn filter_codes(codes: &[String]) -> Result<Vec<String>> {
    codes
        .iter()
        .map(|c| if c.contains('.') { parse_code(c).map(|s| s.code) } else { Ok(c.trim().to_string()) })
        .collect()
}

fn check_remark(remark: Option<&str>) -> Result<()> {
    match remark {
        Some(r) if r.len() > 64 => {
            Err(Error::InvalidArgument(format!("remark is {} bytes; at most 64 bytes (UTF-8) are allowed", r.len())))
        }
        _ => Ok(()),
    }
}

fn adjust(adjust_limit: f64) -> (Option<bool>, Option<f64>) {
    (Some(adjust_limit != 0.0), Some(adjust_limit))
}

/// A blocking trade context: one connection to OpenD with an account list, typed
/// calls, push handlers and automatic reconnect. Use the aliases
/// [`SecTradeContext`](super::SecTradeContext) and
/// [`FutureTradeContext`](super::FutureTradeContext); see the [module
/// documentation](super) for an overview and the Python name table.
///
/// `TradeContext` is `Send + Sync`: share it with `Arc` between threads. Dropping it
/// (or [`close`](TradeContext::close)) closes the connection, stops reconnecting and
/// joins the threads it started.
pub struct TradeContext<K: ContextKind> {
    inner: Arc<Inner>,
    _kind: PhantomData<fn() -> K>,
}

impl<K: ContextKind> std::fmt::Debug for TradeContext<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(self.inner.info.name)
            .field("market", &self.inner.info.market)
            .field("firm", &*self.inner.firm.lock())
            .field("state", &self.inner.session().state())
            .finish()
    }
}

impl<K: ContextKind> Drop for TradeContext<K> {
    fn drop(&mut self) {
        self.inner.core.close(&*self.inner);
    }
}

impl<K: ContextKind> TradeContext<K> {
    // ----- connection -----

    /// The connection state.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.session().state()
    }

    /// Whether the context is connected (not reconnecting, not closed).
    pub fn is_connected(&self) -> bool {
        matches!(self.inner.session().state(), ConnectionState::Connected { .. })
    }

    /// OpenD's id of the current connection (0 while disconnected).
    #[doc(alias = "GetConnectID")]
    #[doc(alias = "get_connect_id")]
    pub fn conn_id(&self) -> u64 {
        self.inner.session().api().get_connect_id()
    }

    /// The user id OpenD is logged in with (its InitConnect reply's `loginUserID`; 0
    /// before the first connection).
    #[doc(alias = "get_login_user_id")]
    #[doc(alias = "GetLoginUserID")]
    pub fn login_user_id(&self) -> u64 {
        self.inner.session().api().get_login_user_id()
    }

    /// OpenD's global state (GetGlobalState, 1002: market states, whether OpenD is
    /// logged in to the quote and trade servers, server time ...), as the Python SDK's
    /// `get_global_state`. Gated like every call: waits (bounded) while reconnecting.
    #[doc(alias = "GetGlobalState")]
    #[doc(alias = "getGlobalState")]
    pub fn get_global_state(&self) -> Result<pb::get_global_state::S2c> {
        let user_id = self.inner.session().api().get_login_user_id();
        self.inner.call::<proto::GetGlobalState>(pb::get_global_state::C2s { user_id })
    }

    /// Sends any request and waits for its reply, through the context's connection and
    /// under the context's rules (waits, bounded, while reconnecting; may be called
    /// from a handler). For the protocols the context does not wrap; the request goes
    /// out exactly as given (no account selection, no rate limit).
    ///
    /// ```no_run
    /// # fn f(ctx: &ftapi::SecTradeContext) -> ftapi::Result<()> {
    /// use ftapi::pb;
    /// let s2c = ctx.call::<pb::proto::GetAccList>(pb::trd_get_acc_list::C2s {
    ///     user_id: ctx.login_user_id(),
    ///     trd_category: None,
    ///     need_general_sec_account: Some(true),
    /// })?;
    /// println!("{} accounts, unfiltered", s2c.acc_list.len());
    /// # Ok(()) }
    /// ```
    pub fn call<P: Protocol>(
        &self,
        c2s: <P::Request as pb::RequestEnvelope>::C2s,
    ) -> Result<<P::Response as pb::ResponseEnvelope>::S2c> {
        self.inner.call::<P>(c2s)
    }

    /// The context's own [`TrdApi`](crate::TrdApi) (the same one across reconnections),
    /// for what neither the context nor [`call`](Self::call) offers, e.g.
    /// [`TrdApi::call_request`](crate::TrdApi::call_request) with its own timeout. Its
    /// SPIs are the context's: replies to the non-blocking requests (`place_order` and
    /// so on, which return a serial) are not delivered anywhere, so use blocking calls.
    /// Do not replace its SPIs or close it; close the context instead.
    pub fn trd_api(&self) -> &crate::TrdApi {
        self.inner.session().api()
    }

    /// The market the context filters accounts by.
    pub fn market(&self) -> TrdMarket {
        self.inner.info.market
    }

    /// The context's security firm: as given to the builder, or adopted from the first
    /// real account when none was given (`Unknown` if there was none to adopt).
    pub fn security_firm(&self) -> SecurityFirm {
        *self.inner.firm.lock()
    }

    /// Whether a successful `unlock_trade` is remembered (and will be repeated after a
    /// reconnect).
    pub fn is_unlocked(&self) -> bool {
        self.inner.password.lock().is_some()
    }

    /// Pushes read from the connection but not yet handled (the connection's push
    /// queue; see
    /// [`ContextBuilder::push_queue_capacity`](super::ContextBuilder::push_queue_capacity)).
    pub fn queued_pushes(&self) -> usize {
        self.inner.core.queued_pushes()
    }

    /// Closes the context now (also done on drop): stops reconnecting, closes the
    /// connection (calls in flight fail with [`Error::Disconnected`]; pushes still
    /// queued are dropped, with a log line), removes the handlers, forgets the trade
    /// password and joins the context's threads. Later calls fail with
    /// [`Error::NotConnected`]. Returns promptly from any thread, including from inside
    /// a handler: it does not wait for a handler that is running on another thread
    /// (that call finishes on its own; no handler is called after it).
    pub fn close(&self) {
        self.inner.core.close(&*self.inner);
    }

    // ----- handlers -----

    /// Handles order pushes (Trd_UpdateOrder) of the context's accounts; replaces the
    /// previous handler. Runs on the connection's callback thread, one push at a time in
    /// arrival order, and may call the context (blocking calls included: their replies
    /// do not wait behind pushes) and [`close`](TradeContext::close) it. A handler that
    /// blocks holds up the pushes behind it (once the push queue is full the connection
    /// stops reading, so OpenD is slowed down; nothing is dropped). A handler that
    /// captures the context itself (an `Arc<TradeContext>`) keeps it alive: capture a
    /// `Weak`, or call [`close`](TradeContext::close).
    #[doc(alias = "set_handler")]
    #[doc(alias = "TradeOrderHandlerBase")]
    pub fn set_order_handler(&self, handler: impl Fn(&OrderUpdate) + Send + Sync + 'static) {
        self.inner.handlers.order.set(handler);
    }

    /// Handles fill pushes (Trd_UpdateOrderFill); as [`set_order_handler`](Self::set_order_handler).
    ///
    /// OpenD sends no fill pushes for paper (SIMULATE) accounts, so for them this handler
    /// never fires: follow paper orders through the order handler (the order's `fill_qty`
    /// and `fill_avg_price`).
    #[doc(alias = "set_handler")]
    #[doc(alias = "TradeDealHandlerBase")]
    pub fn set_fill_handler(&self, handler: impl Fn(&FillUpdate) + Send + Sync + 'static) {
        self.inner.handlers.fill.set(handler);
    }

    /// Handles connection changes (disconnected, reconnect attempts, reconnected,
    /// restore failures); on the context's reconnect thread, one event at a time. It may
    /// call the context and close it.
    pub fn set_connection_handler(&self, handler: impl Fn(&ConnectionEvent) + Send + Sync + 'static) {
        self.inner.core.state_handler.set(handler);
    }

    /// Handles OpenD's system notifications (Notify, 1003: program status, login
    /// state, quote rights, API quota and the like; the Python SDK's
    /// `SysNotifyHandlerBase`); replaces the previous handler. Runs on the callback
    /// thread in order with the order and fill pushes, under the same rules as
    /// [`set_order_handler`](Self::set_order_handler). Without a handler these pushes
    /// are dropped.
    #[doc(alias = "SysNotifyHandlerBase")]
    #[doc(alias = "OnPush_Notify")]
    pub fn set_notify_handler(&self, handler: impl Fn(&pb::notify::S2c) + Send + Sync + 'static) {
        self.inner.handlers.notify.set(handler);
    }

    /// Removes every handler.
    pub fn clear_handlers(&self) {
        self.inner.handlers.clear();
        self.inner.core.state_handler.clear();
    }

    // ----- accounts -----

    /// The context's accounts (Python `get_acc_list`), filtered by market and firm
    /// (docs/protocol.md 6.2), from the cache: read at open and after every reconnect, and
    /// by [`refresh_acc_list`](Self::refresh_acc_list). No request is sent.
    pub fn get_acc_list(&self) -> Result<Vec<Account>> {
        self.inner.session().check_open()?;
        Ok(self.inner.accounts.read().clone())
    }

    /// Reads the account list from OpenD again (Trd_GetAccList), updates the cache and
    /// the push subscription, and returns the filtered list.
    pub fn refresh_acc_list(&self) -> Result<Vec<Account>> {
        self.inner.session().wait_ready()?;
        let accounts = self.inner.fetch_accounts()?;
        self.inner.ensure_subscribed()?;
        Ok(accounts)
    }

    // ----- unlock -----

    /// Unlocks (or with `unlock = false` locks) real trading with the plain trade
    /// password (Python `unlock_trade(password, is_unlock=...)`). After a successful
    /// unlock the password is kept in memory (wiped on drop) to unlock again after a
    /// reconnect; a successful lock forgets it. Paper trading needs no unlock.
    ///
    /// As in the Python SDK, a context whose market has no real trading returns `Ok`
    /// without sending anything, and a context without a REAL account fails.
    #[doc(alias = "UnlockTrade")]
    pub fn unlock_trade(&self, password: &str, unlock: bool) -> Result<()> {
        self.unlock_trade_with(TradePassword::plain(password), unlock)
    }

    /// [`unlock_trade`](Self::unlock_trade) with the MD5 of the password (Python
    /// `password_md5`): 32 hex characters.
    #[doc(alias = "password_md5")]
    pub fn unlock_trade_md5(&self, password_md5: &str, unlock: bool) -> Result<()> {
        self.unlock_trade_with(TradePassword::md5(password_md5)?, unlock)
    }

    /// [`unlock_trade`](Self::unlock_trade) with a [`TradePassword`].
    pub fn unlock_trade_with(&self, password: TradePassword, unlock: bool) -> Result<()> {
        let inner = &self.inner;
        inner.session().check_open()?;
        if unlock && !market_env_enabled(inner.info.market, TrdEnv::Real) {
            log::info!("{}: market {} has no real trading; no need to unlock", inner.info.name, inner.info.market);
            return Ok(());
        }
        if !inner.accounts.read().iter().any(|a| a.is_real()) {
            log::debug!(
                "{}: no REAL account (market {}, firm {}): nothing to unlock",
                inner.info.name,
                inner.info.market,
                self.security_firm()
            );
            return Err(SelectError::NoAccount { env: TrdEnv::Real }.into());
        }
        inner.session().wait_ready()?;
        inner.rate_limit(LimitKind::Unlock, 0)?;
        inner.session().wait_ready()?;
        inner.send_unlock(Some(&password), unlock)?;
        *inner.password.lock() = if unlock { Some(password) } else { None };
        Ok(())
    }

    // ----- orders -----

    /// Places an order (Python `place_order`; Trd_PlaceOrder), then reads it back from
    /// the order list. Waits for a rate-limit slot first (15 per 30 s per account by
    /// default).
    ///
    /// If the connection is lost before OpenD answers, the error is
    /// [`Error::Disconnected`] and says that the outcome is unknown: the order is not
    /// re-sent, so check the order list before placing it again. An
    /// [`Error::Timeout`] leaves the outcome unknown in the same way.
    #[doc(alias = "PlaceOrder")]
    pub fn place_order(&self, order: PlaceOrder) -> Result<PlacedOrder> {
        let inner = &self.inner;
        let code = parse_code(&order.code)?;
        check_remark(order.remark.as_deref())?;
        let mut account = inner.code_header(&order.acc, &code)?;
        account.jp_acc_type = order.jp_acc_type;
        let (adjust_price, adjust_side_and_limit) = adjust(order.adjust_limit);
        let c2s = pb::trd_place_order::C2s {
            packet_id: pb::common::PacketId::default(),
            header: account.to_pb_header(),
            trd_side: order.trd_side.value(),
            order_type: order.order_type.value(),
            code: code.code.clone(),
            qty: order.qty,
            price: Some(order.price),
            adjust_price,
            adjust_side_and_limit,
            sec_market: Some(code.sec_market().value()),
            remark: order.remark.clone(),
            time_in_force: Some(order.time_in_force.value()),
            fill_outside_rth: Some(order.fill_outside_rth),
            aux_price: order.aux_price,
            trail_type: order.trail_type.map(|t| t.value()),
            trail_value: order.trail_value,
            trail_spread: order.trail_spread,
            session: Some(order.session.value()),
            position_id: order.position_id,
            expire_time: order.expire_time.clone(),
            amount: order.amount,
            pred_side: order.pred_side.map(|p| p.value()),
        };
        inner.rate_limit(LimitKind::Place, account.acc_id)?;
        let s2c = inner.call::<proto::PlaceOrder>(c2s)?;
        let order_id_ex = s2c.order_id_ex.unwrap_or_default();
        let read = if order_id_ex.is_empty() { None } else { inner.read_back(&account, &order_id_ex) };
        Ok(PlacedOrder { account, order_id: s2c.order_id, order_id_ex, order: read })
    }

    /// Modifies, cancels, disables, enables or deletes an order (Python `modify_order`
    /// and `change_order`; Trd_ModifyOrder). Waits for a rate-limit slot first (20 per
    /// 30 s per account by default). A lost connection leaves the outcome unknown, as
    /// for [`place_order`](Self::place_order).
    #[doc(alias = "ModifyOrder")]
    #[doc(alias = "change_order")]
    pub fn modify_order(&self, m: ModifyOrder) -> Result<ModifiedOrder> {
        let inner = &self.inner;
        if m.order_id.trim().is_empty() {
            return Err(Error::InvalidArgument("modify_order needs the order's order_id_ex".into()));
        }
        let account = inner.query_header(&m.acc)?;
        let normal = m.op == ModifyOrderOp::Normal;
        let (adjust_price, adjust_side_and_limit) = adjust(m.adjust_limit);
        let c2s = pb::trd_modify_order::C2s {
            packet_id: pb::common::PacketId::default(),
            header: account.to_pb_header(),
            order_id: 0,
            modify_order_op: m.op.value(),
            for_all: Some(false),
            trd_market: None,
            qty: normal.then_some(m.qty),
            price: normal.then_some(m.price),
            adjust_price: if normal { adjust_price } else { None },
            adjust_side_and_limit: if normal { adjust_side_and_limit } else { None },
            aux_price: m.aux_price,
            trail_type: m.trail_type.map(|t| t.value()),
            trail_value: m.trail_value,
            trail_spread: m.trail_spread,
            order_id_ex: Some(m.order_id.trim().to_string()),
        };
        inner.rate_limit(LimitKind::Modify, account.acc_id)?;
        let s2c = inner.call::<proto::ModifyOrder>(c2s)?;
        Ok(ModifiedOrder {
            account,
            order_id: s2c.order_id,
            order_id_ex: s2c.order_id_ex.unwrap_or_else(|| m.order_id.trim().to_string()),
        })
    }

    /// Cancels every order of the account, optionally of one market only (Python
    /// `cancel_all_order`; Trd_ModifyOrder with `forAll`). Counts against the modify
    /// rate limit.
    pub fn cancel_all_order(&self, c: CancelAll) -> Result<()> {
        let inner = &self.inner;
        let account = inner.query_header(&c.acc)?;
        let c2s = pb::trd_modify_order::C2s {
            packet_id: pb::common::PacketId::default(),
            header: account.to_pb_header(),
            order_id: 0,
            modify_order_op: ModifyOrderOp::Cancel.value(),
            for_all: Some(true),
            trd_market: Some(c.market.value()),
            ..Default::default()
        };
        inner.rate_limit(LimitKind::Modify, account.acc_id)?;
        inner.call::<proto::ModifyOrder>(c2s).map(|_| ())
    }

    /// Places an option or event-contract combination order (Python
    /// `place_combo_order`; Trd_PlaceComboOrder), then reads it back. Counts against
    /// the place rate limit.
    pub fn place_combo_order(&self, order: ComboOrder) -> Result<PlacedOrder> {
        let inner = &self.inner;
        let first =
            order.legs.first().ok_or_else(|| Error::InvalidArgument("a combo order needs at least one leg".into()))?;
        check_remark(Some(&order.remark))?;
        let account = inner.code_header(&order.acc, &first.code)?;
        let c2s = pb::trd_place_combo_order::C2s {
            packet_id: pb::common::PacketId::default(),
            header: account.to_pb_header(),
            combo_legs: order.legs.iter().map(|l| l.to_pb()).collect(),
            qty: order.qty,
            price: order.price,
            order_type: order.order_type.value(),
            time_in_force: Some(order.time_in_force.value()),
            expire_time: order.expire_time.clone(),
            remark: Some(order.remark.clone()),
            quote_id: order.quote_id.clone(),
        };
        inner.rate_limit(LimitKind::Place, account.acc_id)?;
        let s2c = inner.call::<proto::PlaceComboOrder>(c2s)?;
        let order_id_ex = s2c.order_id_ex.unwrap_or_default();
        let read = if order_id_ex.is_empty() { None } else { inner.read_back(&account, &order_id_ex) };
        Ok(PlacedOrder { account, order_id: None, order_id_ex, order: read })
    }

    // ----- queries -----

    /// Today's orders (Python `order_list_query`; Trd_GetOrderList).
    pub fn order_list_query(&self, q: OrderQuery) -> Result<Vec<Order>> {
        let inner = &self.inner;
        let account = inner.query_header(&q.acc)?;
        inner.query_limit(proto::GetOrderList::PROTO_ID, q.refresh_cache, account.acc_id)?;
        let c2s = pb::trd_get_order_list::C2s {
            header: account.to_pb_header(),
            filter_conditions: Some(pb::trd_common::TrdFilterConditions {
                order_id_ex_list: q.order_ids.clone(),
                begin_time: q.window.start.clone().filter(|s| !s.is_empty()),
                end_time: q.window.end.clone().filter(|s| !s.is_empty()),
                ..code_filter(&q.filter)?
            }),
            filter_status_list: q.status_filter.iter().map(|s| s.value()).collect(),
            refresh_cache: q.refresh_cache.then_some(true),
        };
        Ok(inner.call::<proto::GetOrderList>(c2s)?.order_list.iter().map(Order::from).collect())
    }

    /// Orders of past days (Python `history_order_list_query`;
    /// Trd_GetHistoryOrderList); 90-day default window.
    pub fn history_order_list_query(&self, q: HistoryOrderQuery) -> Result<Vec<Order>> {
        let inner = &self.inner;
        let account = inner.query_header(&q.acc)?;
        inner.query_limit(proto::GetHistoryOrderList::PROTO_ID, false, account.acc_id)?;
        let (begin, end) = history_window(q.window.start.as_deref(), q.window.end.as_deref(), today_utc());
        let c2s = pb::trd_get_history_order_list::C2s {
            header: account.to_pb_header(),
            filter_conditions: pb::trd_common::TrdFilterConditions {
                begin_time: Some(begin),
                end_time: Some(end),
                ..code_filter(&q.filter)?
            },
            filter_status_list: q.status_filter.iter().map(|s| s.value()).collect(),
        };
        Ok(inner.call::<proto::GetHistoryOrderList>(c2s)?.order_list.iter().map(Order::from).collect())
    }

    /// Today's fills (Python `deal_list_query`; Trd_GetOrderFillList).
    ///
    /// Paper (SIMULATE) accounts have no fill queries: OpenD refuses them (the simulator
    /// with errCode 1003); use [`order_list_query`](Self::order_list_query) and the
    /// orders' `fill_qty` / `fill_avg_price`.
    pub fn deal_list_query(&self, q: DealQuery) -> Result<Vec<OrderFill>> {
        let inner = &self.inner;
        let account = inner.query_header(&q.acc)?;
        inner.query_limit(proto::GetOrderFillList::PROTO_ID, q.refresh_cache, account.acc_id)?;
        let c2s = pb::trd_get_order_fill_list::C2s {
            header: account.to_pb_header(),
            filter_conditions: Some(code_filter(&q.filter)?),
            refresh_cache: q.refresh_cache.then_some(true),
        };
        Ok(inner.call::<proto::GetOrderFillList>(c2s)?.order_fill_list.iter().map(OrderFill::from).collect())
    }

    /// Fills of past days (Python `history_deal_list_query`;
    /// Trd_GetHistoryOrderFillList); 90-day default window. Refused for paper (SIMULATE)
    /// accounts, like [`deal_list_query`](Self::deal_list_query).
    pub fn history_deal_list_query(&self, q: HistoryDealQuery) -> Result<Vec<OrderFill>> {
        let inner = &self.inner;
        let account = inner.query_header(&q.acc)?;
        inner.query_limit(proto::GetHistoryOrderFillList::PROTO_ID, false, account.acc_id)?;
        let (begin, end) = history_window(q.window.start.as_deref(), q.window.end.as_deref(), today_utc());
        let c2s = pb::trd_get_history_order_fill_list::C2s {
            header: account.to_pb_header(),
            filter_conditions: pb::trd_common::TrdFilterConditions {
                begin_time: Some(begin),
                end_time: Some(end),
                ..code_filter(&q.filter)?
            },
        };
        Ok(inner.call::<proto::GetHistoryOrderFillList>(c2s)?.order_fill_list.iter().map(OrderFill::from).collect())
    }

    /// Positions (Python `position_list_query`; Trd_GetPositionList).
    pub fn position_list_query(&self, q: PositionQuery) -> Result<Vec<Position>> {
        let inner = &self.inner;
        let account = inner.query_header(&q.acc)?;
        inner.query_limit(proto::GetPositionList::PROTO_ID, q.refresh_cache, account.acc_id)?;
        let c2s = pb::trd_get_position_list::C2s {
            header: account.to_pb_header(),
            filter_conditions: Some(code_filter(&q.filter)?),
            filter_pl_ratio_min: q.pl_ratio_min.map(|p| p / 100.0),
            filter_pl_ratio_max: q.pl_ratio_max.map(|p| p / 100.0),
            refresh_cache: q.refresh_cache.then_some(true),
            asset_category: q.asset_category.map(|a| a.value()),
            currency: Some(q.currency.value()),
            option_strategy_view: Some(q.option_strategy_view),
        };
        Ok(inner.call::<proto::GetPositionList>(c2s)?.position_list.iter().map(Position::from).collect())
    }

    /// Funds of an account (Python `accinfo_query`; Trd_GetFunds). If OpenD's answer
    /// carries no funds, all numbers are zero (as in the Python SDK).
    pub fn accinfo_query(&self, q: FundsQuery) -> Result<Funds> {
        let inner = &self.inner;
        let account = inner.query_header(&q.acc)?;
        inner.query_limit(proto::GetFunds::PROTO_ID, q.refresh_cache, account.acc_id)?;
        let c2s = pb::trd_get_funds::C2s {
            header: account.to_pb_header(),
            refresh_cache: q.refresh_cache.then_some(true),
            currency: Some(q.currency.value()),
            asset_category: Some(q.asset_category.value()),
        };
        let s2c = inner.call::<proto::GetFunds>(c2s)?;
        Ok(Funds::from(&s2c.funds.unwrap_or_default()))
    }

    /// Maximum quantities to buy or sell (Python `acctradinginfo_query`;
    /// Trd_GetMaxTrdQtys).
    pub fn acctradinginfo_query(&self, q: MaxQtyQuery) -> Result<MaxTrdQtys> {
        let inner = &self.inner;
        let code = parse_code(&q.code)?;
        let mut account = inner.code_header(&q.acc, &code)?;
        account.jp_acc_type = q.jp_acc_type;
        inner.query_limit(proto::GetMaxTrdQtys::PROTO_ID, false, account.acc_id)?;
        let adjusting = q.adjust_limit != 0.0;
        let c2s = pb::trd_get_max_trd_qtys::C2s {
            header: account.to_pb_header(),
            order_type: q.order_type.value(),
            code: code.code.clone(),
            price: q.price,
            order_id: None,
            adjust_price: Some(adjusting),
            adjust_side_and_limit: adjusting.then_some(q.adjust_limit),
            sec_market: Some(code.sec_market().value()),
            order_id_ex: q.order_id.clone().filter(|s| !s.is_empty()),
            session: Some(q.session.value()),
            position_id: q.position_id,
        };
        let s2c = inner.call::<proto::GetMaxTrdQtys>(c2s)?;
        Ok(MaxTrdQtys::from(&s2c.max_trd_qtys.unwrap_or_default()))
    }

    /// Maximum quantities for a combination order (Python
    /// `comboorder_tradinginfo_query`; Trd_GetComboMaxTrdQtys).
    pub fn comboorder_tradinginfo_query(&self, q: ComboMaxQtyQuery) -> Result<ComboMaxTrdQtys> {
        let inner = &self.inner;
        let first =
            q.legs.first().ok_or_else(|| Error::InvalidArgument("a combo order needs at least one leg".into()))?;
        let account = inner.code_header(&q.acc, &first.code)?;
        let c2s = pb::trd_get_combo_max_trd_qtys::C2s {
            header: account.to_pb_header(),
            combo_legs: q.legs.iter().map(|l| l.to_pb()).collect(),
            qty: q.qty,
            price: q.price,
            order_type: q.order_type.value(),
            order_id_ex: q.order_id.clone().filter(|s| !s.is_empty()),
        };
        let s2c = inner.call::<proto::GetComboMaxTrdQtys>(c2s)?;
        Ok(ComboMaxTrdQtys::from(&s2c.max_trd_qtys.unwrap_or_default()))
    }

    /// Margin ratios of securities (Python `get_margin_ratio`; Trd_GetMarginRatio),
    /// asked with the first REAL account and the market of the first code, as the
    /// Python SDK does.
    pub fn get_margin_ratio<I, S>(&self, codes: I) -> Result<Vec<MarginRatio>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let inner = &self.inner;
        let mut parsed: Vec<SecurityCode> = Vec::new();
        for c in codes {
            let code = parse_code(c.as_ref())?;
            if !parsed.contains(&code) {
                parsed.push(code);
            }
        }
        let first = parsed.first().ok_or_else(|| Error::InvalidArgument("get_margin_ratio needs codes".into()))?;
        let acc = AccSel::env(TrdEnv::Real);
        let a = inner.select_unchecked(&acc)?;
        let account =
            AccountRef::new(TrdEnv::Real, a.acc_id, trd_market_for_code(first, inner.info.category, TrdEnv::Real));
        let c2s = pb::trd_get_margin_ratio::C2s {
            header: account.to_pb_header(),
            security_list: parsed.iter().map(|c| c.to_pb_security()).collect(),
        };
        let s2c = inner.call::<proto::GetMarginRatio>(c2s)?;
        Ok(s2c.margin_ratio_info_list.iter().map(MarginRatio::from).collect())
    }

    /// Fees of orders (Python `order_fee_query`; Trd_GetOrderFee).
    pub fn order_fee_query(&self, q: OrderFeeQuery) -> Result<Vec<OrderFee>> {
        let inner = &self.inner;
        let account = inner.query_header(&q.acc)?;
        inner.query_limit(proto::GetOrderFee::PROTO_ID, false, account.acc_id)?;
        let c2s = pb::trd_get_order_fee::C2s { header: account.to_pb_header(), order_id_ex_list: q.order_ids.clone() };
        Ok(inner.call::<proto::GetOrderFee>(c2s)?.order_fee_list.iter().map(OrderFee::from).collect())
    }

    /// Cash flow of a clearing date (Python `get_acc_cash_flow`; Trd_FlowSummary). As
    /// in the Python SDK the market/environment table is not checked for this call.
    pub fn get_acc_cash_flow(&self, q: CashFlowQuery) -> Result<Vec<CashFlow>> {
        let inner = &self.inner;
        let account = inner.select_unchecked(&q.acc)?.default_ref();
        let c2s = pb::trd_flow_summary::C2s {
            header: account.to_pb_header(),
            clearing_date: q.clearing_date.clone(),
            cash_flow_direction: Some(q.direction.value()),
            start_create_date: q.window.start.clone(),
            end_create_date: q.window.end.clone(),
        };
        Ok(inner.call::<proto::FlowSummary>(c2s)?.flow_summary_info_list.iter().map(CashFlow::from).collect())
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<TradeContext<Securities>>();
    check::<TradeContext<Futures>>();
}
