//! Backtesting: the simulator replays recorded bars (`opend-sim --history FILE.csv`),
//! so an unchanged bot trades through a past period at many times real speed.
//!
//! - [`csv`] loads the Python SDK's `request_history_kline` CSV format into a
//!   [`ReplayTape`] (one [`Tape`](crate::sim::tape::Tape) of bars per code);
//! - [`Replay`] turns the tape's codes into instruments, builds the market clock that
//!   starts at the first session open and skips closed time
//!   ([`MarketClock::skipping`]), and drives the broker along the tape ([`ReplayRun`]);
//! - [`fill`] is the fill model (limit orders fill when the path first reaches them,
//!   at most a bar's volume per bar);
//! - [`report`] computes the equity curve, drawdown and summary per account and
//!   currency, and writes them as one HTML page.
//!
//! docs/backtesting.md describes the input, the clock, the fill model and its limits.
//!
//! ```
//! use std::path::Path;
//! use ftapi::sim::replay::{csv, Replay};
//! let text = "code,time_key,open,close,high,low,volume\n\
//!             HK.00700,2026-12-01 09:31:00,400,401,402,399.8,10000\n\
//!             HK.00700,2026-12-01 09:32:00,401,400.6,401.4,400.2,8000\n";
//! let replay = Replay::new(csv::load_str(text, Path::new("mem.csv")).unwrap());
//! let clock = replay.clock(None).unwrap();
//! // The clock starts at the first bar's start, the session open.
//! assert_eq!(clock.spec().to_string(), "2026-12-01T01:30:00Z");
//! assert_eq!(replay.instruments()[0].lot_size, 100.0);
//! ```

pub mod csv;
pub mod fill;
pub mod report;
pub mod tape;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use super::accounts::BrokerConfig;
use super::broker::Broker;
use super::calendar::{CalMarket, ClockSpec, MarketClock};
use super::matching::{split_full_code, InstrumentKind, InstrumentSpec, Market};

pub use self::csv::{load, LoadError};
pub use self::report::Report;
pub use self::tape::ReplayTape;

/// What [`Replay::start`] runs once when the history ends.
pub type OnEnd = Box<dyn FnOnce(&ReplayRun) + Send>;

/// A loaded history, ready to be replayed.
#[derive(Debug, Clone)]
pub struct Replay {
    tape: Arc<ReplayTape>,
}

impl Replay {
    /// A replay of `tape`.
    pub fn new(tape: ReplayTape) -> Replay {
        Replay { tape: Arc::new(tape) }
    }

    /// Loads `--history` paths (files or folders of `*.csv`).
    pub fn load(paths: &[PathBuf]) -> Result<Replay, LoadError> {
        Ok(Replay::new(csv::load(paths)?))
    }

    /// The tape.
    pub fn tape(&self) -> &Arc<ReplayTape> {
        &self.tape
    }

    /// The codes as the broker's instruments: static info from the built-in table
    /// when it knows the code (lot size, multiplier, tick, kind), else a stock with
    /// its market's usual lot (HK and A-shares 100, others 1); the `name` column when
    /// present; the first bar's previous close (or open) as the start price; no random
    /// walk of its own.
    pub fn instruments(&self) -> Vec<InstrumentSpec> {
        let known = Market::default_instruments();
        self.tape
            .all()
            .iter()
            .map(|c| {
                let (sec, bare) = split_full_code(&c.code).unwrap_or((0, c.code.as_str()));
                let k = known.iter().find(|i| i.sec_market == sec && i.code == bare);
                let first = c.bars().first();
                let price = first.map(|b| if b.last_close > 0.0 { b.last_close } else { b.open }).unwrap_or(1.0);
                let lot = match sec {
                    crate::sim::matching::sec_market::HK
                    | crate::sim::matching::sec_market::CN_SH
                    | crate::sim::matching::sec_market::CN_SZ => 100.0,
                    _ => 1.0,
                };
                InstrumentSpec {
                    code: c.code.clone(),
                    name: c.name.clone().or_else(|| k.map(|i| i.name.clone())).unwrap_or_else(|| bare.to_string()),
                    kind: k.map(|i| i.kind).unwrap_or(InstrumentKind::Stock),
                    lot_size: k.map(|i| i.lot_size).unwrap_or(lot),
                    multiplier: k.map(|i| i.multiplier).unwrap_or(1.0),
                    price,
                    currency: None,
                    tick: k.and_then(|i| i.tick),
                    volatility: Some(0.0),
                }
            })
            .collect()
    }

    /// `config` with the replayed codes as instruments (replacing built-in ones of the
    /// same code).
    pub fn configure(&self, mut config: BrokerConfig) -> BrokerConfig {
        let mine = self.instruments();
        config.instruments.retain(|i| !mine.iter().any(|m| m.code == i.code));
        config.instruments.extend(mine);
        config
    }

    /// The replay's market clock: `spec` (`--clock <instant>[xN]`), or without one the
    /// first bar's start at real speed; it skips the time when no replayed market is
    /// in a trading session and stops at the end of the data. A wall-time spec
    /// (`real`, `open`) cannot replay.
    pub fn clock(&self, spec: Option<ClockSpec>) -> Result<MarketClock, String> {
        let first = self.tape.first_start().ok_or("the history has no bar")?;
        let end = self.tape.last_end().unwrap_or(first) as f64;
        let spec = match spec {
            None => ClockSpec::At { start: first as f64, speed: 1.0 },
            Some(s @ ClockSpec::At { .. }) => s,
            Some(other) => {
                return Err(format!(
                    "--clock {other} cannot replay history: use an instant, e.g. --clock {}x60",
                    self.format_instant(first as f64)
                ))
            }
        };
        Ok(MarketClock::skipping(spec, &self.tape.markets(), end))
    }

    /// An instant as RFC 3339 in the first code's market time (`2026-12-01T16:00:00+08:00`).
    pub fn format_instant(&self, ts: f64) -> String {
        let m = self.tape.all().first().map(|c| c.cal.market).unwrap_or(crate::sim::calendar::CalMarket::HkStock);
        let off = m.local_offset_secs(ts);
        let s = ts.floor() as i64 + off;
        let (y, mo, d) = crate::sim::calendar::civil_from_days(s.div_euclid(86_400));
        let sod = s.rem_euclid(86_400);
        let sign = if off < 0 { '-' } else { '+' };
        format!(
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60,
            off.abs() / 3600,
            off.abs() / 60 % 60
        )
    }

    /// Plugs the tape into `broker` (built with [`configure`](Self::configure) on the
    /// clock of [`clock`](Self::clock)): its prices, the market data built over it
    /// afterwards, and its fills follow the tape ([`Broker::set_replay_tape`]). Call it
    /// before the server (and so the market data) is built.
    pub fn attach(&self, broker: &Broker) {
        broker.set_replay_tape(self.tape.clone());
    }

    /// Starts driving `broker` (after [`attach`](Self::attach)) along the tape: every
    /// `step` of wall time the broker reads the tape at the clock's now and working
    /// orders are matched against the path. `on_end` runs once, on the driver thread, when the
    /// clock reaches the end of the data.
    pub fn start(&self, broker: Arc<Broker>, step: Duration, on_end: Option<OnEnd>) -> std::io::Result<ReplayRun> {
        let clock = broker.clock();
        // The report starts where the clock started (not at this call, a moment later),
        // so that the same replay gives the same report.
        let start = match clock.spec() {
            ClockSpec::At { start, .. } => {
                let first = self.tape.first_start().unwrap_or(0) as f64;
                start.max(first).min(clock.now())
            }
            _ => clock.now(),
        };
        let shared = Arc::new(Shared {
            replay: self.clone(),
            broker,
            start,
            at_start: Mutex::new(None),
            ended: Mutex::new(None),
            stop: AtomicBool::new(false),
        });
        *shared.at_start.lock() = Some(shared.broker.trade_log());
        shared.step();
        let run = ReplayRun { shared: shared.clone(), thread: Mutex::new(None) };
        let weak = Arc::downgrade(&shared);
        let mut on_end = on_end;
        let handle = std::thread::Builder::new().name("opend-sim-replay".into()).spawn(move || loop {
            let Some(sh) = weak.upgrade() else { break };
            if sh.stop.load(Ordering::Relaxed) {
                break;
            }
            let now = sh.step();
            let end = sh.broker.clock().end().unwrap_or(f64::INFINITY);
            if now >= end && sh.ended.lock().is_none() {
                *sh.ended.lock() = Some(now);
                if let Some(f) = on_end.take() {
                    f(&ReplayRun { shared: sh.clone(), thread: Mutex::new(None) });
                }
            }
            drop(sh);
            std::thread::sleep(step);
        })?;
        *run.thread.lock() = Some(handle);
        Ok(run)
    }
}

/// The last local day of `market` that a reply may show on `clock`: during a replay (a
/// clock that stops at the end of its data, [`MarketClock::end`]) the simulated day, so
/// that no reply lists a day after it (`Qot_RequestTradeDate` ends at the simulated day);
/// `None` (no bound) for any other clock.
pub fn last_visible_day(clock: Option<&MarketClock>, market: CalMarket) -> Option<i64> {
    let clock = clock?;
    clock.end()?;
    Some(market.local_day(clock.now()))
}

struct Shared {
    replay: Replay,
    broker: Arc<Broker>,
    start: f64,
    at_start: Mutex<Option<report::TradeLog>>,
    ended: Mutex<Option<f64>>,
    stop: AtomicBool,
}

impl Shared {
    /// One driver step: prices at now, one matching round. Returns now.
    fn step(&self) -> f64 {
        let now = self.broker.clock().now();
        self.broker.tick();
        now
    }
}

/// A running replay (from [`Replay::start`]). Dropping it stops the driver.
pub struct ReplayRun {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for ReplayRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayRun").field("start", &self.shared.start).finish_non_exhaustive()
    }
}

impl ReplayRun {
    /// The replay.
    pub fn replay(&self) -> &Replay {
        &self.shared.replay
    }

    /// When the clock reached the end of the data, if it has.
    pub fn ended(&self) -> Option<f64> {
        *self.shared.ended.lock()
    }

    /// Waits up to `timeout` (wall time) for the end of the data; returns whether it
    /// was reached.
    pub fn wait_end(&self, timeout: Duration) -> bool {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if self.ended().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.ended().is_some()
    }

    /// The report of the replay so far (up to the clock's now, or the end).
    pub fn report(&self) -> Report {
        self.shared.step();
        let now = self.shared.broker.clock().now();
        let at_start = self.shared.at_start.lock().clone().unwrap_or_default();
        Report::build(&self.shared.replay.tape, &at_start, &self.shared.broker.trade_log(), self.shared.start, now)
    }

    /// Writes [`report`](Self::report) as HTML to `path` (through a temporary file
    /// renamed into place, so a reader never sees half a page).
    pub fn write_report(&self, path: &Path) -> std::io::Result<Report> {
        let report = self.report();
        let tmp = path.with_extension("html.tmp");
        std::fs::write(&tmp, report.to_html())?;
        std::fs::rename(&tmp, path)?;
        Ok(report)
    }
}

impl Drop for ReplayRun {
    fn drop(&mut self) {
        if let Some(h) = self.thread.lock().take() {
            self.shared.stop.store(true, Ordering::Relaxed);
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::calendar::{days_from_civil, parse_rfc3339};

    #[test]
    fn only_a_replay_bounds_the_visible_days() {
        // Saturday 2026-12-05 03:00 UTC: Saturday in Hong Kong, Friday night in New York.
        let t = parse_rfc3339("2026-12-05T03:00:00Z").unwrap();
        let spec = ClockSpec::At { start: t, speed: 1.0 };
        let replay = MarketClock::skipping(spec, &[CalMarket::HkStock], t);
        assert_eq!(last_visible_day(Some(&replay), CalMarket::HkStock), Some(days_from_civil(2026, 12, 5)));
        assert_eq!(last_visible_day(Some(&replay), CalMarket::UsStock), Some(days_from_civil(2026, 12, 4)));
        assert_eq!(last_visible_day(Some(&MarketClock::new(spec)), CalMarket::HkStock), None);
        assert_eq!(last_visible_day(None, CalMarket::HkStock), None);
    }
}
