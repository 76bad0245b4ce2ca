//! The simulator's market data: quotes, order books, tickers, time-sharing data,
//! K-lines of every type (live and history, with rehab factors), the HK broker queue,
//! static info, market state and trading days, subscriptions with OpenD's quota and
//! one-minute unsubscribe rule, and the pushes of every subscribed type.
//!
//! [`MarketData`] is the [`QuoteHandler`] the server hands every
//! `Qot_*` request to.
//!
//! # One model of market data
//!
//! Everything it says about an instrument's trading comes from one [`Tape`] (bars over
//! simulated time, [`tape`]) read at the market clock's now ([`tape::tape_time`]): the
//! history (minute bars, and daily bars of the same model), the live day (which starts
//! as the tape's bars of the current trading day so far, [`live`]), the volume of every
//! trade (the tape's volume since the sample before) and, through the broker, the
//! price: the broker's market reads the same tape on every tick, so the price an order
//! fills at is the quote's last price. The broker's `set_price` is an override on top
//! of the tape ([`crate::sim::matching`] documents the rule). No reply contains a bar
//! from after now: history ends at the live day, and the live day at now.
//!
//! The default tape is [`history::SeededTape`] (generated from the seed). A second tape
//! (e.g. a replay of recorded bars) plugs in at one place: give it to the broker with
//! `Broker::set_tape(tape)` before building the market data over that broker
//! ([`MarketData::with_broker`] reads the broker's tape through
//! [`PriceSource::tape`]); without a broker, [`MarketData::with_tape`] takes it directly.
//! Listing dates, dividends and rehab factors come from the seeded model of the
//! instrument whatever the tape.
//!
//! Prices are sampled on [`MarketData::step`], run every `tick_ms` by a thread of its
//! own (or by hand in tests), and before every request that reads a price, so a
//! request always sees the source's current price. Each step sends the pushes of every
//! subscription registered for pushes (3005, 3007, 3009, 3011, 3013, 3015), outside the
//! state lock and in order.
//!
//! ```
//! use std::sync::Arc;
//! use ftapi::sim::market::{MarketData, QuoteConfig};
//! use ftapi::sim::{Broker, SimServer};
//! let broker = Arc::new(Broker::with_default_accounts());
//! let market = Arc::new(MarketData::with_broker(broker.clone(), QuoteConfig::default()).unwrap());
//! broker.set_price("HK.00700", 400.0).unwrap();
//! assert_eq!(market.last_price("HK.00700"), Some(400.0));
//! let server = SimServer::builder().port(0).trade_handler(broker).quote_handler(market).start().unwrap();
//! # drop(server);
//! ```

mod derivative_requests;
pub mod derivatives;
mod flows;
mod handlers;
mod lists;
pub mod live;
pub mod more;
mod reference;
mod requests;
mod screen;
mod state;
mod subs;

/// The tape model and its calendar and seeded history live in [`crate::sim::tape`]; these
/// names keep their paths under `market`.
pub use crate::sim::tape::{self, clock, history};

pub use self::state::{QuoteConfig, DEFAULT_HISTORY_KL_QUOTA, DEFAULT_SUB_QUOTA, DEFAULT_UNSUB_MIN};

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, RecvTimeoutError, Sender};
use parking_lot::Mutex;

use super::broker::Broker;
use super::matching::{sec_market, split_full_code, Instrument, Market};
use super::{ConnInfo, QuoteHandler};

use self::live::Live;
use self::state::{Entry, Inner, More, State};
use self::subs::Subs;
use crate::sim::calendar::MarketClock;
use crate::sim::tape::clock::Calendar;
use crate::sim::tape::history::{fnv1a, History, SeededTape};
use crate::sim::tape::{tape_time, Tape};

pub use super::PriceSource;

/// A market of its own (no broker): reads its tape (if it has one, see
/// [`Market::with_seeded_tape`]) once per [`PriceSource::advance`], else moves one
/// random-walk step.
#[derive(Debug)]
pub struct OwnMarket(pub Mutex<Market>);

impl PriceSource for OwnMarket {
    fn instruments(&self) -> Vec<Instrument> {
        self.0.lock().instruments().cloned().collect()
    }

    fn price(&self, sec: i32, code: &str) -> Option<f64> {
        self.0.lock().price(sec, code)
    }

    fn advance(&self) {
        self.0.lock().tick();
    }

    fn market_clock(&self) -> Option<MarketClock> {
        self.0.lock().clock()
    }

    fn tape(&self) -> Option<Arc<dyn Tape>> {
        self.0.lock().tape()
    }
}

/// The market-data side of the simulator (a [`QuoteHandler`]). Cheap to share behind an
/// `Arc`; dropping it stops its ticker thread.
pub struct MarketData {
    inner: Arc<Inner>,
    ticker: Option<(Sender<()>, JoinHandle<()>)>,
}

impl std::fmt::Debug for MarketData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketData").field("ticker", &self.ticker.is_some()).finish_non_exhaustive()
    }
}

impl MarketData {
    /// Market data over `source`, reading the source's tape ([`PriceSource::tape`]) or,
    /// if it has none, the seeded tape of its instruments. Starts the ticker thread if
    /// `cfg.tick_ms > 0`.
    pub fn new(source: Arc<dyn PriceSource>, cfg: QuoteConfig) -> std::io::Result<MarketData> {
        let tape = match source.tape() {
            Some(t) => t,
            None => {
                let clock = source.market_clock();
                let instruments = source.instruments();
                Arc::new(SeededTape::new(&instruments, cfg.seed, |i| {
                    tape_time(clock.as_ref(), Calendar::of(i.sec_market))
                }))
            }
        };
        MarketData::with_tape(source, tape, cfg)
    }

    /// Market data over `source`'s prices and instruments whose bars, volumes and live
    /// day come from `tape` (the place a tape plugs into the market data; the broker's
    /// prices should read the same tape, see the module docs).
    pub fn with_tape(
        source: Arc<dyn PriceSource>,
        tape: Arc<dyn Tape>,
        cfg: QuoteConfig,
    ) -> std::io::Result<MarketData> {
        let (source, derivs) = derivatives::with_derivatives(source);
        let clock = source.market_clock();
        let instruments = source.instruments();
        let mut entries = Vec::with_capacity(instruments.len());
        for (n, instrument) in instruments.iter().enumerate() {
            let now = tape_time(clock.as_ref(), Calendar::of(instrument.sec_market));
            let history = History::anchored(instrument, cfg.seed, now);
            let key = cfg.seed ^ fnv1a(&instrument.full_code()) ^ 0x5eed;
            let price = source.price(instrument.sec_market, &instrument.code);
            let live = Live::start(instrument, key, &*tape, now, price);
            entries.push(Entry {
                qot_market: qot_market_of(instrument),
                instrument: instrument.clone(),
                history,
                live,
                id: 1_000_000 + n as i64,
                tape: tape.clone(),
            });
        }
        let tick_ms = cfg.tick_ms;
        let state = State { subs: Subs::default(), cfg, entries, more: More::new(derivs), clock };
        let inner = Arc::new(Inner { state: Mutex::new(state), delivery: Mutex::new(()), source });
        let ticker = if tick_ms > 0 {
            Some(spawn_ticker(Arc::downgrade(&inner), Duration::from_millis(tick_ms))?)
        } else {
            None
        };
        Ok(MarketData { inner, ticker })
    }

    /// Market data over the prices of `broker` (the consistent choice: an order fills at
    /// the quote's last price).
    pub fn with_broker(broker: Arc<Broker>, cfg: QuoteConfig) -> std::io::Result<MarketData> {
        MarketData::new(broker, cfg)
    }

    /// Market data over a market of its own (the built-in instruments on the seeded
    /// tape of `cfg.seed`, read on `cfg.clock`), for a simulator without a broker.
    pub fn standalone(cfg: QuoteConfig) -> std::io::Result<MarketData> {
        let market = Market::new(Market::default_instruments(), cfg.seed)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?
            .with_seeded_tape(cfg.seed, MarketClock::new(cfg.clock));
        MarketData::new(Arc::new(OwnMarket(Mutex::new(market))), cfg)
    }

    /// Samples every price once (a trade per instrument) and sends the pushes of every
    /// subscription registered for them. The ticker thread calls this every `tick_ms`.
    pub fn step(&self) {
        step(&self.inner);
    }

    /// The live state of `code` (`"HK.00700"`) after sampling the source: (live day,
    /// previous close, day volume, last price).
    pub fn live_day(&self, code: &str) -> Option<(i64, f64, i64, f64)> {
        let (sec, bare) = split_full_code(code)?;
        self.inner.with_state(|st, src| {
            let i = st.entries.iter().position(|e| e.instrument.sec_market == sec && e.instrument.code == bare);
            let r = i.map(|i| {
                requests::sync(st, src, i);
                let l = &st.entries[i].live;
                (l.day, l.prev_close, l.volume, l.last)
            });
            (r, Vec::new())
        })
    }

    /// The quote's last price of `code` (`"HK.00700"`), after sampling the source.
    pub fn last_price(&self, code: &str) -> Option<f64> {
        let (sec, bare) = split_full_code(code)?;
        self.inner.with_state(|st, src| {
            let i = st.entries.iter().position(|e| e.instrument.sec_market == sec && e.instrument.code == bare);
            let p = i.map(|i| {
                requests::sync(st, src, i);
                st.entries[i].live.last
            });
            (p, Vec::new())
        })
    }

    /// Subscriptions in use (over all connections).
    pub fn used_quota(&self) -> i32 {
        self.inner.state.lock().subs.used()
    }

    /// Changes the unsubscribe rule's duration at run time.
    pub fn set_unsub_min(&self, d: Duration) {
        self.inner.state.lock().cfg.unsub_min = d;
    }
}

impl QuoteHandler for MarketData {
    fn handle(&self, conn: &ConnInfo, proto_id: u32, body: &[u8]) -> Option<Vec<u8>> {
        handlers::handle(&self.inner, conn, proto_id, body)
    }

    fn disconnected(&self, conn_id: u64) {
        let mut st = self.inner.state.lock();
        st.subs.forget(conn_id);
        st.more.forget(conn_id);
    }
}

impl Drop for MarketData {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            let _ = stop.send(());
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

fn spawn_ticker(weak: Weak<Inner>, interval: Duration) -> std::io::Result<(Sender<()>, JoinHandle<()>)> {
    let (tx, rx) = bounded::<()>(1);
    let handle = std::thread::Builder::new().name("opend-sim-quotes".into()).spawn(move || {
        while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
            let Some(inner) = weak.upgrade() else { break };
            step(&inner);
        }
    })?;
    Ok((tx, handle))
}

/// The `Qot_Common.QotMarket` of an instrument (HK 1, US 11, SH 21, SZ 22, SG 31, JP 41).
pub fn qot_market_of(i: &Instrument) -> i32 {
    match i.sec_market {
        sec_market::US => 11,
        sec_market::CN_SH => 21,
        sec_market::CN_SZ => 22,
        sec_market::SG => 31,
        sec_market::JP => 41,
        _ => 1,
    }
}

/// The server's default market data: over the trade handler's prices when it has some.
pub(crate) fn default_for(prices: Option<Arc<dyn PriceSource>>, cfg: QuoteConfig) -> std::io::Result<MarketData> {
    match prices {
        Some(p) => MarketData::new(p, cfg),
        None => MarketData::standalone(cfg),
    }
}

/// One market-data step: moves the source, samples every instrument and delivers the
/// pushes.
fn step(inner: &Inner) {
    inner.source.advance();
    inner.with_state(|st, src| {
        let clock = st.clock;
        let mut moved = Vec::with_capacity(st.entries.len());
        for (i, e) in st.entries.iter_mut().enumerate() {
            if let Some(tick) = e.advance(src, clock.as_ref(), true) {
                moved.push((i, tick));
            }
        }
        let mut pushes = handlers::step_pushes(st, &moved);
        pushes.extend(lists::reminder_pushes(st));
        ((), pushes)
    });
}
