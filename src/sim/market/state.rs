//! The market data's state (everything behind the state lock) and its settings.
//!
//! Below every request file of the market data: they all read and change this state,
//! and this file imports none of them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::pb::qot_common as qc;
use crate::sim::calendar::{ClockSpec, MarketClock};
use crate::sim::instrument::Instrument;
use crate::sim::tape::history::History;
use crate::sim::tape::{tape_time, Tape};
use crate::sim::{ConnInfo, PriceSource, PushSink};

use super::derivatives::Derivatives;
use super::live::{self, Live};
use super::subs::Subs;

/// `Result` with OpenD's refusal message.
pub(crate) type Res<T> = Result<T, String>;

/// Default subscription quota (OpenD's depends on the account's level).
pub const DEFAULT_SUB_QUOTA: i32 = 1000;

/// Default history K-line quota (distinct securities per 30 days).
pub const DEFAULT_HISTORY_KL_QUOTA: i32 = 300;

/// OpenD's rule: a subscription can be cancelled only after it has lasted this long.
pub const DEFAULT_UNSUB_MIN: Duration = Duration::from_secs(60);

/// Settings of the market-data side.
#[derive(Debug, Clone)]
pub struct QuoteConfig {
    /// Seed of the generated history and of the live volumes (default: the default
    /// broker's seed, 20240101).
    pub seed: u64,
    /// Sample prices and push every this many milliseconds (0 = only on
    /// [`MarketData::step`](super::MarketData::step)).
    pub tick_ms: u64,
    /// Subscription quota: (security, SubType) pairs over all connections.
    pub sub_quota: i32,
    /// History K-line quota: distinct securities whose history was requested in the
    /// last 30 days.
    pub history_kl_quota: i32,
    /// How long a subscription must last before it may be cancelled (OpenD: one minute).
    pub unsub_min: Duration,
    /// The market clock of a [`MarketData::standalone`](super::MarketData::standalone) market (a market over a
    /// broker uses the broker's). Default: wall time.
    pub clock: ClockSpec,
}

impl Default for QuoteConfig {
    fn default() -> Self {
        QuoteConfig {
            seed: 20240101,
            tick_ms: 0,
            sub_quota: DEFAULT_SUB_QUOTA,
            history_kl_quota: DEFAULT_HISTORY_KL_QUOTA,
            unsub_min: DEFAULT_UNSUB_MIN,
            clock: ClockSpec::Real,
        }
    }
}

/// One instrument's data.
pub(crate) struct Entry {
    pub(crate) instrument: Instrument,
    pub(crate) qot_market: i32,
    pub(crate) history: History,
    pub(crate) live: Live,
    pub(crate) id: i64,
    pub(crate) tape: Arc<dyn Tape>,
}

impl Entry {
    /// The tape's time for this instrument now.
    pub(crate) fn now(&self, clock: Option<&MarketClock>) -> f64 {
        tape_time(clock, self.live.cal)
    }

    /// Samples the tape and `src` now (see [`Live::advance`]; `force`: a step).
    pub(crate) fn advance(
        &mut self,
        src: &dyn PriceSource,
        clock: Option<&MarketClock>,
        force: bool,
    ) -> Option<live::Tick> {
        let now = self.now(clock);
        let price = src.price(self.instrument.sec_market, &self.instrument.code);
        self.live.advance(&*self.tape, price, now, force)
    }
}

/// Everything behind the state lock.
pub(crate) struct State {
    pub(crate) cfg: QuoteConfig,
    pub(crate) entries: Vec<Entry>,
    pub(crate) subs: Subs,
    /// The state of the reference, derivative, screening and list requests (`more.rs`).
    pub(crate) more: More,
    /// The market clock (the source's), `None`: wall time.
    pub(crate) clock: Option<MarketClock>,
}

/// A push waiting to be delivered.
pub(crate) struct Push {
    pub(crate) sink: Arc<dyn PushSink>,
    pub(crate) proto_id: u32,
    pub(crate) body: Vec<u8>,
}

/// The market data's shared state: the state lock, the delivery gate and the source.
pub(crate) struct Inner {
    pub(crate) state: Mutex<State>,
    pub(crate) delivery: Mutex<()>,
    pub(crate) source: Arc<dyn PriceSource>,
}

impl Inner {
    /// Runs `f` on the state and delivers the pushes it returns, outside the state lock
    /// and in order.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State, &dyn PriceSource) -> (R, Vec<Push>)) -> R {
        let mut st = self.state.lock();
        let (r, pushes) = f(&mut st, &*self.source);
        if pushes.is_empty() {
            return r;
        }
        let gate = self.delivery.lock();
        drop(st);
        for p in pushes {
            if !p.sink.push(p.proto_id, p.body) {
                log::debug!("quote push {} dropped: connection gone", p.proto_id);
            }
        }
        drop(gate);
        r
    }
}

/// The window of the frequency limits.
pub const FREQUENCY_WINDOW: Duration = Duration::from_secs(30);

/// The state kept by the reference, derivative, screening and list requests (`more.rs`).
#[derive(Default)]
pub(crate) struct More {
    /// Request times per (connection, protocol), for the frequency limits.
    pub(crate) calls: HashMap<(u64, u32), VecDeque<Instant>>,
    /// Every connection that used these requests (the price reminder pushes go there too).
    pub(crate) sinks: HashMap<u64, Arc<dyn PushSink>>,
    /// Price reminders and the watchlist (simulator-wide, like an OpenD login's).
    pub(crate) lists: Lists,
    /// The options and warrants listed by the simulator.
    pub(crate) derivs: Arc<Derivatives>,
}

impl More {
    /// The state at start, over the simulator's derivatives.
    pub(crate) fn new(derivs: Arc<Derivatives>) -> More {
        More { derivs, ..More::default() }
    }

    /// Counts one request of `conn`, refusing it beyond OpenD's frequency limit.
    pub(crate) fn admit(&mut self, conn: &ConnInfo, proto_id: u32, name: &str) -> Res<()> {
        self.sinks.entry(conn.conn_id).or_insert_with(|| conn.sink.clone());
        let Some(limit) = crate::pb::quote_frequency_limit(proto_id) else {
            return Ok(());
        };
        let now = Instant::now();
        let q = self.calls.entry((conn.conn_id, proto_id)).or_default();
        while q.front().is_some_and(|t| now.saturating_duration_since(*t) >= FREQUENCY_WINDOW) {
            q.pop_front();
        }
        if q.len() >= limit as usize {
            return Err(format!(
                "Request frequency too high: at most {limit} {name} requests in any 30 seconds; retry later"
            ));
        }
        q.push_back(now);
        Ok(())
    }

    /// Forgets a closed connection.
    pub(crate) fn forget(&mut self, conn_id: u64) {
        self.calls.retain(|(c, _), _| *c != conn_id);
        self.sinks.remove(&conn_id);
    }
}

/// The custom group the watchlist starts with.
pub const DEFAULT_GROUP: &str = "Simulator";

/// One price reminder.
#[derive(Debug, Clone)]
pub(crate) struct Reminder {
    pub(crate) key: i64,
    pub(crate) entry: usize,
    pub(crate) security: qc::Security,
    pub(crate) kind: i32,
    pub(crate) value: f64,
    pub(crate) note: String,
    pub(crate) freq: i32,
    pub(crate) enabled: bool,
    pub(crate) sessions: Vec<i32>,
    /// The condition at the last check.
    pub(crate) was_true: bool,
    /// The local day it last fired.
    pub(crate) fired_day: Option<i64>,
}

/// Reminders and the watchlist.
#[derive(Debug)]
pub(crate) struct Lists {
    pub(crate) reminders: Vec<Reminder>,
    pub(crate) next_key: i64,
    /// Custom groups: name -> codes (`MARKET.CODE`), in insertion order.
    pub(crate) groups: BTreeMap<String, Vec<String>>,
}

impl Default for Lists {
    fn default() -> Self {
        let mut groups = BTreeMap::new();
        groups.insert(DEFAULT_GROUP.to_string(), vec!["HK.00700".to_string(), "US.AAPL".to_string()]);
        Lists { reminders: Vec::new(), next_key: 1, groups }
    }
}
