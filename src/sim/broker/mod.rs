//! The simulated broker behind `opend-sim`: accounts, unlock state, push
//! subscriptions, orders, fills, funds, positions and cash flows, answering every
//! `Trd_*` protocol through the [`TradeHandler`] seam.
//!
//! The broker never sees a socket. The server hands it the plaintext request body and
//! the [`ConnInfo`] of the connection; the broker returns the plaintext `Response` body
//! and sends order (2208) and fill (2218) pushes through `ConnInfo::sink` of every
//! connection whose latest Trd_SubAccPush named the account.
//!
//! Two modes (docs/simulator.md has the full list of rules and their sources):
//! - **OpenD's rules** (the default): the reply to a request comes first; the pushes it
//!   caused are held until the session reports [`TradeHandler::replied`]. An order is
//!   SUBMITTING in the reply, then pushed SUBMITTED, then filled after the fill delay
//!   by the scheduler thread (a marketable order completely, whatever its size). Orders
//!   trade only while their market is in session on the [`MarketClock`]; paper accounts
//!   have the paper-trading limits; minimum intervals and query limits apply.
//! - **Relaxed** ([`BrokerConfig::relaxed()`]): every market open, orders matched inside
//!   the request (pushes before the reply: `Submitted`, then `Filled_Part` /
//!   `Filled_All`, then the fill), none of the paper, interval or query limits.
//!
//! Rules in both modes:
//! - the TrdHeader must name a known account, with its environment and one of its
//!   markets;
//! - writes (2202, 2205, 2227) must carry `packetID.connID` equal to the connection id
//!   and a `serialNo` not used before on that connection;
//! - REAL-environment writes need OpenD to be unlocked (2005, MD5 of the trade
//!   password, hex in either case); the unlock is OpenD-wide: any connection unlocks or
//!   locks for all, and a closing connection locks nothing;
//! - rate limits per 30 s: 15 place and 20 modify requests per account, 10 unlocks
//!   (switchable off in [`BrokerConfig::rate_limits`]);
//! - quantities are whole lots, limit prices on the price tick (or snapped with
//!   `adjustPrice`), remarks at most 64 bytes.
//!
//! Pushes are delivered after the broker's state lock is released but in state-change
//! order (a second, delivery lock is handed over). A [`PushSink`](super::PushSink)
//! must therefore not call back into the broker from `push`, and must not block: the
//! server's sinks only queue the push for the connection's own writer (a bounded
//! queue per connection), so a client that does not read delays no other push.
//!
//! ```
//! use ftapi::sim::broker::Broker;
//! let broker = Broker::relaxed_default();
//! broker.set_price("HK.00700", 400.0).unwrap();
//! assert_eq!(broker.price("HK.00700"), Some(400.0));
//! broker.tick();
//! assert!(broker.price("HK.00700").unwrap() > 0.0);
//! ```

mod clock;
mod handlers;
mod state;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, RecvTimeoutError, Sender};
use parking_lot::{Condvar, Mutex};
use prost::Message;

use self::state::{Event, Push, Reject, Res, State};
use super::accounts::{BrokerConfig, ConfigError};
use super::calendar::MarketClock;
use super::matching::{self, split_full_code};
use super::{ConnInfo, PriceSource, TradeHandler};
use crate::pb::{proto, Protocol, RequestEnvelope, ResponseEnvelope};

pub use super::accounts::default_ids;

/// Short currency name for messages.
pub(crate) fn currency_name(ccy: i32) -> &'static str {
    match crate::types::Currency::from_value(ccy) {
        crate::types::Currency::Other(_) | crate::types::Currency::Unknown => "",
        c => c.as_str(),
    }
}

/// How often the scheduler looks for markets that opened.
const SESSION_WATCH: Duration = Duration::from_millis(250);
/// Pushes held for a reply that nobody reports (a handler used without a session)
/// are released after this long.
const GATE_TIMEOUT: Duration = Duration::from_millis(500);

/// A piece of deferred work.
enum Job {
    Push(Push),
    Event(Event),
}

/// The scheduler's queue (OpenD-rules mode).
#[derive(Default)]
struct Sched {
    /// Due jobs by (due time, sequence number).
    queue: BTreeMap<(Instant, u64), Job>,
    seq: u64,
    /// Jobs a request caused, held until its reply is written: conn id -> (since, jobs).
    gated: HashMap<u64, (Instant, Vec<(Duration, Job)>)>,
    stop: bool,
}

impl Sched {
    fn enqueue(&mut self, now: Instant, delay: Duration, job: Job) {
        self.seq += 1;
        self.queue.insert((now + delay, self.seq), job);
    }

    fn release(&mut self, conn_id: u64, now: Instant) {
        if let Some((_, jobs)) = self.gated.remove(&conn_id) {
            for (d, j) in jobs {
                self.enqueue(now, d, j);
            }
        }
    }
}

/// A protocol handler on the state: decoded C2S in, S2C or a refusal out.
type HandlerFn<P> = fn(
    &mut State,
    &ConnInfo,
    &<<P as Protocol>::Request as RequestEnvelope>::C2s,
) -> Res<<<P as Protocol>::Response as ResponseEnvelope>::S2c>;

struct Inner {
    state: Mutex<State>,
    /// Held while pushes are delivered, taken before the state lock is released, so
    /// pushes leave in the order the state changed.
    delivery: Mutex<()>,
    sched: Mutex<Sched>,
    wake: Condvar,
    clock: MarketClock,
}

impl Inner {
    /// Runs `f` on the state, then delivers the pushes it queued (outside the state
    /// lock, in order) and queues the events it scheduled.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut st = self.state.lock();
        let r = f(&mut st);
        let events = std::mem::take(&mut st.events);
        if !events.is_empty() {
            let now = Instant::now();
            let mut g = self.sched.lock();
            for (d, ev) in events {
                g.enqueue(now, d, Job::Event(ev));
            }
            drop(g);
            self.wake.notify_one();
        }
        let pushes = std::mem::take(&mut st.outbox);
        if pushes.is_empty() {
            return r;
        }
        let gate = self.delivery.lock();
        drop(st);
        deliver(pushes);
        drop(gate);
        r
    }
}

impl Inner {
    /// Runs a request on the state (OpenD-rules mode): its pushes and events wait
    /// until the reply has been written ([`TradeHandler::replied`]).
    fn with_request<R>(&self, conn_id: u64, f: impl FnOnce(&mut State) -> R) -> R {
        let mut st = self.state.lock();
        let r = f(&mut st);
        let pushes = std::mem::take(&mut st.outbox);
        let events = std::mem::take(&mut st.events);
        if pushes.is_empty() && events.is_empty() {
            return r;
        }
        let mut g = self.sched.lock();
        drop(st);
        let entry = g.gated.entry(conn_id).or_insert_with(|| (Instant::now(), Vec::new()));
        entry.1.extend(pushes.into_iter().map(|p| (Duration::ZERO, Job::Push(p))));
        entry.1.extend(events.into_iter().map(|(d, e)| (d, Job::Event(e))));
        r
    }
}

fn deliver(pushes: Vec<Push>) {
    for p in pushes {
        if !p.sink.push(p.proto_id, p.body) {
            log::debug!("push {} dropped: connection gone", p.proto_id);
        }
    }
}

/// The simulated broker. Cheap to share behind an `Arc`; all methods take `&self`.
///
/// Dropping the broker stops its ticker thread (if any).
pub struct Broker {
    inner: Arc<Inner>,
    ticker: Option<(Sender<()>, JoinHandle<()>)>,
    scheduler: Option<JoinHandle<()>>,
    relaxed: bool,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").field("ticker", &self.ticker.is_some()).finish_non_exhaustive()
    }
}

impl Broker {
    /// A broker over `config` (positions and some history seeded). Starts the ticker
    /// thread if `config.tick_interval_ms > 0`.
    ///
    /// Unless `config.relaxed`, it also starts the scheduler thread that delivers
    /// status and fill pushes after the replies, fills orders after the fill delay and
    /// matches resting orders when their market opens.
    pub fn new(config: BrokerConfig) -> Result<Broker, ConfigError> {
        let clock = MarketClock::new(config.clock);
        Self::with_clock(config, clock)
    }

    /// Like [`Broker::new`], on a given market clock (`config.clock` is ignored): the
    /// simulator shares one clock between GetGlobalState and the broker.
    pub fn with_clock(config: BrokerConfig, clock: MarketClock) -> Result<Broker, ConfigError> {
        let state = State::new(&config, clock)?;
        let inner = Arc::new(Inner {
            state: Mutex::new(state),
            delivery: Mutex::new(()),
            sched: Mutex::new(Sched::default()),
            wake: Condvar::new(),
            clock,
        });
        let ticker = if config.tick_interval_ms > 0 {
            Some(spawn_ticker(Arc::downgrade(&inner), Duration::from_millis(config.tick_interval_ms))?)
        } else {
            None
        };
        let scheduler = if config.relaxed { None } else { Some(spawn_scheduler(Arc::downgrade(&inner))?) };
        Ok(Broker { inner, ticker, scheduler, relaxed: config.relaxed })
    }

    /// The broker's market clock.
    pub fn clock(&self) -> MarketClock {
        self.inner.clock
    }

    /// Whether the broker runs in relaxed mode.
    pub fn is_relaxed(&self) -> bool {
        self.relaxed
    }

    /// A broker over the default account set ([`BrokerConfig::default`]: OpenD's rules
    /// on the wall clock), no ticker.
    pub fn with_default_accounts() -> Broker {
        match Broker::new(BrokerConfig::default()) {
            Ok(b) => b,
            // The default configuration is validated by the unit tests.
            Err(e) => unreachable!("default broker configuration is invalid: {e}"),
        }
    }

    /// The default accounts in relaxed mode ([`BrokerConfig::relaxed()`]), no ticker: the
    /// quick broker for tests that do not exercise OpenD's rules.
    pub fn relaxed_default() -> Broker {
        match Broker::new(BrokerConfig::relaxed()) {
            Ok(b) => b,
            Err(e) => unreachable!("default broker configuration is invalid: {e}"),
        }
    }

    /// Advances every price by one step and runs one matching round (fills and pushes).
    pub fn tick(&self) {
        self.inner.with_state(|st| {
            st.market.tick();
            st.match_all();
        });
    }

    /// Sets the price of `code` (`"HK.00700"`), snapped down to the price tick, and
    /// runs one matching round at once. Returns the price set. The price must be in
    /// (0, 1e9].
    pub fn set_price(&self, code: &str, price: f64) -> Result<f64, String> {
        let (sec, bare) = split_full_code(code).ok_or_else(|| format!("{code:?} is not of the form MARKET.CODE"))?;
        self.inner.with_state(|st| {
            let p = st
                .market
                .set_price(sec, bare, price)
                .ok_or_else(|| format!("unknown instrument {code} or invalid price {price}"))?;
            st.match_all();
            Ok(p)
        })
    }

    /// Replay (`opend-sim --history`): the broker's prices (and the market data built
    /// over this broker afterwards) read `tape` for its codes, in front of the tape
    /// they read before, with no override of the tape's prices; orders on its codes
    /// trade against its recorded path ([`crate::sim::replay::fill`]). Call it before
    /// building the market data, like [`Broker::set_tape`].
    pub fn set_replay_tape(&self, tape: Arc<crate::sim::replay::ReplayTape>) {
        let clock = self.inner.clock;
        let mut st = self.inner.state.lock();
        let layered = crate::sim::replay::tape::LayeredTape::new(tape.clone(), st.market.tape());
        st.market.set_tape(Arc::new(layered), clock);
        st.market.clear_overrides();
        st.market.tick();
        st.replay = Some(crate::sim::replay::fill::PathFills::new(tape));
    }

    /// The broker's record of accounts, orders and fills (what a replay's report is
    /// built from).
    pub fn trade_log(&self) -> crate::sim::replay::report::TradeLog {
        self.inner.state.lock().trade_log()
    }

    /// The tape the broker's prices are read from (the seeded market unless
    /// [`Broker::set_tape`] replaced it).
    pub fn tape(&self) -> Option<Arc<dyn super::tape::Tape>> {
        self.inner.state.lock().market.tape()
    }

    /// Feeds the broker's prices (and the market data built over this broker) from
    /// `tape`, read on the broker's clock: the one place a replayed tape plugs in. Call
    /// it before building the market data ([`super::market::MarketData::with_broker`]).
    pub fn set_tape(&self, tape: Arc<dyn super::tape::Tape>) {
        let clock = self.inner.clock;
        self.inner.state.lock().market.set_tape(tape, clock);
    }

    /// Current price of `code` (`"US.AAPL"`).
    pub fn price(&self, code: &str) -> Option<f64> {
        self.inner.state.lock().market.price_of(code)
    }

    /// Every known instrument (the built-in table plus configured ones).
    pub fn instruments(&self) -> Vec<matching::Instrument> {
        self.inner.state.lock().market.instruments().cloned().collect()
    }

    /// The account ids, in configuration order.
    pub fn account_ids(&self) -> Vec<u64> {
        self.inner.state.lock().accounts.iter().map(|a| a.acc_id).collect()
    }

    /// Cash of an account, all currencies converted to its base currency.
    pub fn cash(&self, acc_id: u64) -> Option<f64> {
        let st = self.inner.state.lock();
        st.account_index(acc_id).map(|i| st.accounts[i].cash_total())
    }

    /// Cash of an account per currency (`Trd_Common.Currency` number, amount). A
    /// universal account keeps each currency apart.
    pub fn cash_by_currency(&self, acc_id: u64) -> Option<Vec<(i32, f64)>> {
        let st = self.inner.state.lock();
        st.account_index(acc_id).map(|i| st.accounts[i].cash.clone())
    }

    /// Whether REAL trading is unlocked (any firm). Unlocking is OpenD-wide, so the
    /// answer is the same for every connection; `conn_id` is kept for compatibility.
    pub fn is_unlocked(&self, conn_id: u64) -> bool {
        let _ = conn_id;
        !self.inner.state.lock().unlocked.is_empty()
    }

    /// The accounts connection `conn_id` receives pushes for.
    pub fn subscriptions(&self, conn_id: u64) -> Vec<u64> {
        self.inner.state.lock().conns.get(&conn_id).map(|c| c.subs.clone()).unwrap_or_default()
    }

    /// Turns the rate limits on or off at run time.
    pub fn set_rate_limits_enabled(&self, enabled: bool) {
        self.inner.state.lock().limits.enabled = enabled;
    }

    fn call<P: Protocol>(&self, conn: &ConnInfo, body: &[u8], f: HandlerFn<P>) -> Vec<u8> {
        let req = match <P::Request as Message>::decode(body) {
            Ok(r) => r,
            Err(e) => {
                log::debug!("{}: undecodable request from conn {}: {e}", P::NAME, conn.conn_id);
                let msg = format!("Failed to parse the {} request: {e}", P::NAME);
                return P::Response::build(-1, Some(msg), None, None).encode_to_vec();
            }
        };
        let run = |st: &mut State| {
            st.touch_conn(conn.conn_id, &conn.sink);
            f(st, conn, req.c2s())
        };
        let result = if self.relaxed { self.inner.with_state(run) } else { self.inner.with_request(conn.conn_id, run) };
        let resp = match result {
            Ok(s2c) => P::Response::build(0, Some(String::new()), Some(0), Some(s2c)),
            Err(Reject(msg, code)) => {
                log::debug!("{} refused for conn {}: {msg} (errCode {code})", P::NAME, conn.conn_id);
                P::Response::build(-1, Some(msg), Some(code), None)
            }
        };
        resp.encode_to_vec()
    }
}

impl TradeHandler for Broker {
    fn handle(&self, conn: &ConnInfo, proto_id: u32, body: &[u8]) -> Option<Vec<u8>> {
        use proto::*;
        let out = match proto_id {
            GetAccList::PROTO_ID => self.call::<GetAccList>(conn, body, State::get_acc_list),
            UnlockTrade::PROTO_ID => self.call::<UnlockTrade>(conn, body, State::unlock_trade),
            SubAccPush::PROTO_ID => self.call::<SubAccPush>(conn, body, State::sub_acc_push),
            GetFunds::PROTO_ID => self.call::<GetFunds>(conn, body, State::get_funds),
            GetPositionList::PROTO_ID => self.call::<GetPositionList>(conn, body, State::get_position_list),
            GetMaxTrdQtys::PROTO_ID => self.call::<GetMaxTrdQtys>(conn, body, State::get_max_trd_qtys),
            GetComboMaxTrdQtys::PROTO_ID => self.call::<GetComboMaxTrdQtys>(conn, body, State::get_combo_max_trd_qtys),
            GetOrderList::PROTO_ID => self.call::<GetOrderList>(conn, body, State::get_order_list),
            PlaceOrder::PROTO_ID => self.call::<PlaceOrder>(conn, body, State::place_order),
            ModifyOrder::PROTO_ID => self.call::<ModifyOrder>(conn, body, State::modify_order),
            GetOrderFillList::PROTO_ID => self.call::<GetOrderFillList>(conn, body, State::get_order_fill_list),
            GetHistoryOrderList::PROTO_ID => {
                self.call::<GetHistoryOrderList>(conn, body, State::get_history_order_list)
            }
            GetHistoryOrderFillList::PROTO_ID => {
                self.call::<GetHistoryOrderFillList>(conn, body, State::get_history_order_fill_list)
            }
            GetMarginRatio::PROTO_ID => self.call::<GetMarginRatio>(conn, body, State::get_margin_ratio),
            GetOrderFee::PROTO_ID => self.call::<GetOrderFee>(conn, body, State::get_order_fee),
            FlowSummary::PROTO_ID => self.call::<FlowSummary>(conn, body, State::flow_summary),
            PlaceComboOrder::PROTO_ID => self.call::<PlaceComboOrder>(conn, body, State::place_combo_order),
            _ => return None,
        };
        Some(out)
    }

    fn disconnected(&self, conn_id: u64) {
        // Unlocking is OpenD-wide: a closing connection locks nothing.
        self.inner.state.lock().conns.remove(&conn_id);
        let mut g = self.inner.sched.lock();
        g.release(conn_id, Instant::now());
        drop(g);
        self.inner.wake.notify_one();
    }

    fn replied(&self, conn: &ConnInfo, _proto_id: u32) {
        if self.relaxed {
            return;
        }
        let mut g = self.inner.sched.lock();
        if g.gated.contains_key(&conn.conn_id) {
            g.release(conn.conn_id, Instant::now());
            drop(g);
            self.inner.wake.notify_one();
        }
    }

    fn market_clock(&self) -> Option<MarketClock> {
        Some(self.inner.clock)
    }

    fn price_source(self: Arc<Self>) -> Option<Arc<dyn PriceSource>> {
        Some(self)
    }
}

/// The market data quotes the broker's prices, so an order fills at the quote's last
/// price.
impl PriceSource for Broker {
    fn instruments(&self) -> Vec<matching::Instrument> {
        Broker::instruments(self)
    }

    fn price(&self, sec: i32, code: &str) -> Option<f64> {
        let prefix = matching::sec_market_prefix(sec)?;
        Broker::price(self, &format!("{prefix}.{code}"))
    }

    fn market_clock(&self) -> Option<MarketClock> {
        Some(self.clock())
    }

    fn tape(&self) -> Option<std::sync::Arc<dyn crate::sim::tape::Tape>> {
        Broker::tape(self)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.inner.sched.lock().stop = true;
        self.inner.wake.notify_all();
        if let Some(handle) = self.scheduler.take() {
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
        if let Some((stop, handle)) = self.ticker.take() {
            let _ = stop.send(());
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

fn spawn_ticker(weak: Weak<Inner>, interval: Duration) -> Result<(Sender<()>, JoinHandle<()>), ConfigError> {
    let (tx, rx) = bounded::<()>(1);
    let handle = std::thread::Builder::new()
        .name("opend-sim-ticker".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
                let Some(inner) = weak.upgrade() else { break };
                inner.with_state(|st| {
                    st.market.tick();
                    st.match_all();
                });
            }
        })
        .map_err(|e| ConfigError::Invalid(format!("cannot start the ticker thread: {e}")))?;
    Ok((tx, handle))
}

fn spawn_scheduler(weak: Weak<Inner>) -> Result<JoinHandle<()>, ConfigError> {
    std::thread::Builder::new()
        .name("opend-sim-broker".into())
        .spawn(move || {
            let mut last_watch: Option<Instant> = None;
            loop {
                let Some(inner) = weak.upgrade() else { break };
                let now = Instant::now();
                let jobs = {
                    let mut g = inner.sched.lock();
                    if g.stop {
                        break;
                    }
                    let stale: Vec<u64> = g
                        .gated
                        .iter()
                        .filter(|(_, (since, _))| now.duration_since(*since) >= GATE_TIMEOUT)
                        .map(|(c, _)| *c)
                        .collect();
                    for c in stale {
                        g.release(c, now);
                    }
                    let mut due = Vec::new();
                    while let Some(entry) = g.queue.first_entry() {
                        if entry.key().0 > now {
                            break;
                        }
                        due.push(entry.remove());
                    }
                    if due.is_empty() && last_watch.is_some_and(|t| now.duration_since(t) < SESSION_WATCH) {
                        let mut until = now + SESSION_WATCH.min(GATE_TIMEOUT);
                        if let Some(((t, _), _)) = g.queue.first_key_value() {
                            until = until.min(*t);
                        }
                        inner.wake.wait_until(&mut g, until);
                        continue;
                    }
                    due
                };
                for job in jobs {
                    match job {
                        Job::Push(p) => {
                            let gate = inner.delivery.lock();
                            deliver(vec![p]);
                            drop(gate);
                        }
                        Job::Event(ev) => inner.with_state(|st| st.run_event(ev)),
                    }
                }
                if last_watch.is_none_or(|t| now.duration_since(t) >= SESSION_WATCH) {
                    last_watch = Some(now);
                    inner.with_state(|st| st.session_watch());
                }
            }
        })
        .map_err(|e| ConfigError::Invalid(format!("cannot start the broker's scheduler thread: {e}")))
}
