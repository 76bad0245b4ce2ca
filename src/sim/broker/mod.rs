//! The simulated broker behind `opend-sim`: accounts, unlock state, push
//! subscriptions, orders, fills, funds, positions and cash flows, answering every
//! `Trd_*` protocol through the [`TradeHandler`] seam.
//!
//! The broker never sees a socket. The server hands it the plaintext request body and
//! the [`ConnInfo`] of the connection; the broker returns the plaintext `Response` body
//! and sends order (2208) and fill (2218) pushes through `ConnInfo::sink` of every
//! connection whose latest Trd_SubAccPush named the account. Pushes caused by a request
//! go out before the request's reply, in a real broker's order: `Submitted`, then
//! `Filled_Part` / `Filled_All`, then the fill.
//!
//! Rules the broker enforces, as OpenD does:
//! - the TrdHeader must name a known account, with its environment and one of its
//!   markets;
//! - writes (2202, 2205, 2227) must carry `packetID.connID` equal to the connection id
//!   and a `serialNo` not used before on that connection;
//! - REAL-environment writes need the connection to be unlocked (2005, MD5 of the trade
//!   password, hex in either case); unlock state is per connection and forgotten on
//!   disconnect;
//! - rate limits per 30 s: 15 place and 20 modify requests per account, 10 unlocks
//!   (switchable off in [`BrokerConfig::rate_limits`]);
//! - quantities are whole lots, limit prices on the price tick (or snapped with
//!   `adjustPrice`), remarks at most 64 bytes.
//!
//! Pushes are delivered after the broker's state lock is released but in state-change
//! order (a second, delivery lock is handed over). A [`PushSink`](super::PushSink)
//! must therefore not call back into the broker from `push`, and should not block for
//! long: a slow sink delays every other push.
//!
//! ```
//! use ftapi::sim::broker::Broker;
//! let broker = Broker::with_default_accounts();
//! broker.set_price("HK.00700", 400.0).unwrap();
//! assert_eq!(broker.price("HK.00700"), Some(400.0));
//! broker.tick();
//! assert!(broker.price("HK.00700").unwrap() > 0.0);
//! ```

mod clock;
mod handlers;
mod state;

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use prost::Message;

use self::state::{Push, Reject, Res, State};
use super::accounts::{BrokerConfig, ConfigError};
use super::matching::{self, split_full_code};
use super::{ConnInfo, TradeHandler};
use crate::pb::{proto, Protocol, RequestEnvelope, ResponseEnvelope};

pub use super::accounts::default_ids;

/// Short currency name for messages.
pub(crate) fn currency_name(ccy: i32) -> &'static str {
    match ccy {
        1 => "HKD",
        2 => "USD",
        3 => "CNH",
        4 => "JPY",
        5 => "SGD",
        _ => "",
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
}

impl Inner {
    /// Runs `f` on the state, then delivers the pushes it queued (outside the state
    /// lock, in order).
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut st = self.state.lock();
        let r = f(&mut st);
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
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").field("ticker", &self.ticker.is_some()).finish_non_exhaustive()
    }
}

impl Broker {
    /// A broker over `config` (positions and some history seeded). Starts the ticker
    /// thread if `config.tick_interval_ms > 0`.
    pub fn new(config: BrokerConfig) -> Result<Broker, ConfigError> {
        let state = State::new(&config)?;
        let inner = Arc::new(Inner { state: Mutex::new(state), delivery: Mutex::new(()) });
        let ticker = if config.tick_interval_ms > 0 {
            Some(spawn_ticker(Arc::downgrade(&inner), Duration::from_millis(config.tick_interval_ms))?)
        } else {
            None
        };
        Ok(Broker { inner, ticker })
    }

    /// A broker over the default account set ([`BrokerConfig::default`]), no ticker.
    pub fn with_default_accounts() -> Broker {
        match Broker::new(BrokerConfig::default()) {
            Ok(b) => b,
            // The default configuration is validated by the unit tests.
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

    /// Cash of an account in its base currency.
    pub fn cash(&self, acc_id: u64) -> Option<f64> {
        let st = self.inner.state.lock();
        st.account_index(acc_id).map(|i| st.accounts[i].cash)
    }

    /// Whether connection `conn_id` is unlocked for REAL trading (any firm).
    pub fn is_unlocked(&self, conn_id: u64) -> bool {
        self.inner.state.lock().conns.get(&conn_id).is_some_and(|c| !c.unlocked.is_empty())
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
        let result = self.inner.with_state(|st| {
            st.touch_conn(conn.conn_id, &conn.sink);
            f(st, conn, req.c2s())
        });
        let resp = match result {
            Ok(s2c) => P::Response::build(0, Some(String::new()), Some(0), Some(s2c)),
            Err(Reject(msg)) => {
                log::debug!("{} refused for conn {}: {msg}", P::NAME, conn.conn_id);
                P::Response::build(-1, Some(msg), Some(-1), None)
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
        self.inner.state.lock().conns.remove(&conn_id);
    }

    fn price_source(self: Arc<Self>) -> Option<Arc<dyn super::market::PriceSource>> {
        Some(self)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
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
