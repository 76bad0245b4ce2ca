//! The one market-data model: a **tape** of bars per instrument over simulated time.
//!
//! Everything the simulator says about an instrument's trading (the live price, the
//! quote's open/high/low/volume of the day, tickers, K-lines of every period, history)
//! is read from one [`Tape`] at the market clock's "now", so live and historical
//! activity agree and nothing after "now" can leak into a reply. A tape is either
//! generated from a seed (the default market) or loaded from recorded bars (a
//! backtest's `--history` files); both follow the same path inside a bar
//! ([`path_in_bar`]).
//!
//! Bars are labelled by the instant their period **ends**, as OpenD labels them (a trade
//! at 10:00:21 belongs to the 10:01:00 one-minute bar).
//!
//! # Plugging a tape in
//!
//! The default tape is [`SeededTape`](history::SeededTape), which the broker builds
//! for its instruments. Another tape replaces it at one place: `Broker::set_tape(tape)`
//! (the broker's prices then read it on every tick), before the market data is built over
//! that broker (`MarketData::with_broker` / `new` take the broker's tape through
//! `PriceSource::tape`, so quotes, tickers, K-lines and history read the same one). A
//! market data without a broker takes it with `MarketData::with_tape`. The instruments
//! stay the broker's table: a tape's codes should be in it (configured instruments can be
//! added with `BrokerConfig`'s instrument specs).
//!
//! The broker's `set_price` is an override on top of the tape: the price changes at
//! once, and later ticks follow the tape's moves from there (the tape's price times the
//! ratio of the set price to the tape's price at the moment it was set).
//!
//! # Place
//!
//! Below everything that reads prices (`matching`, the broker, the market data, the
//! backtest replay): this module imports only the calendar and the instrument table.
//! `ftapi::sim::market::{tape, clock, history}` name this module and its two children.

pub mod clock;
pub mod history;

use self::clock::Calendar;
use crate::sim::calendar::MarketClock;

/// One bar (or one day) of prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Unix time of the bar's label (its end for intraday bars, local midnight of the
    /// last day for daily and longer bars).
    pub ts: i64,
    /// Local day number of the (last) day in the bar.
    pub day: i64,
    /// Open price.
    pub open: f64,
    /// High price.
    pub high: f64,
    /// Low price.
    pub low: f64,
    /// Close price.
    pub close: f64,
    /// Close of the bar before.
    pub last_close: f64,
    /// Volume (shares or contracts).
    pub volume: i64,
    /// Turnover.
    pub turnover: f64,
}

impl Bar {
    /// Folds a later bar into this one.
    pub fn merge(&mut self, later: &Bar) {
        self.high = self.high.max(later.high);
        self.low = self.low.min(later.low);
        self.close = later.close;
        self.volume += later.volume;
        self.turnover += later.turnover;
        self.ts = later.ts;
        self.day = later.day;
    }
}

/// How many straight segments the price walks inside one bar (open → first extreme →
/// second extreme → close).
pub const PATH_SEGMENTS: usize = 3;

/// Where an instrument's trading activity comes from: one source for live and
/// historical data.
///
/// Implementations must be deterministic (the same calls give the same answers) and
/// must never return data from after the instant they are asked about.
pub trait Tape: Send + Sync {
    /// The codes (`MARKET.CODE`, e.g. `HK.00700`) this tape has data for.
    fn codes(&self) -> Vec<String>;

    /// The finest bar period of `code` in seconds (60 for one-minute data, 86 400 for
    /// daily data); `None` for a code the tape does not know.
    fn period_secs(&self, code: &str) -> Option<i64>;

    /// The bars of `code` at its finest period whose period ended in `(from, until]`
    /// (unix seconds), oldest first. Never a bar that ends after `until`.
    fn bars(&self, code: &str, from: i64, until: i64) -> Vec<Bar>;

    /// The bar in progress at `now` (unix seconds), cut at `now`: its open, the high and
    /// low reached so far, `close` = the price at `now`, and the volume and turnover
    /// traded so far. `None` when no bar of `code` is in progress at `now`.
    fn partial(&self, code: &str, now: f64) -> Option<Bar>;

    /// The daily bars of `code` for the local days `first_day..=last_day` (day numbers
    /// as [`Bar::day`]), oldest first, each the whole day's bars merged (`last_close` the
    /// previous day's close). Callers ask only for days that are over. The default
    /// merges [`bars`](Tape::bars); a tape that has daily bars at hand overrides it.
    fn daily(&self, code: &str, first_day: i64, last_day: i64) -> Vec<Bar> {
        if first_day > last_day {
            return Vec::new();
        }
        // Local days are within a day of UTC days: ask one day more on each side.
        let from = (first_day - 1).saturating_mul(86_400);
        let until = (last_day + 2).saturating_mul(86_400);
        let mut out: Vec<Bar> = Vec::new();
        for b in self.bars(code, from, until) {
            if b.day < first_day || b.day > last_day {
                continue;
            }
            match out.last_mut() {
                Some(cur) if cur.day == b.day => cur.merge(&b),
                _ => {
                    let mut nb = b;
                    if let Some(prev) = out.last() {
                        nb.last_close = prev.close;
                    }
                    out.push(nb);
                }
            }
        }
        out
    }

    /// The last price of `code` at `now`: the partial bar's close, else the close of the
    /// last bar that ended by `now`.
    fn price_at(&self, code: &str, now: f64) -> Option<f64> {
        if let Some(bar) = self.partial(code, now) {
            return Some(bar.close);
        }
        let period = self.period_secs(code)?;
        let until = now.floor() as i64;
        // Look back far enough to cross a long weekend or holiday break of daily data.
        self.bars(code, until.saturating_sub(period.saturating_mul(16).max(16 * 86_400)), until).last().map(|b| b.close)
    }
}

/// The instant a tape is read at for a market whose K-line sessions are `cal`'s, on the
/// market clock `clock` (`None`: wall time).
///
/// A running clock (`real` or an instant with a speed) is read as it is. The `open` test
/// clock holds every market in session at any hour, so its wall-clock day (in the
/// market's time zone) is mapped linearly onto the sessions of the latest trading day on
/// or before it: local midnight is the first session's open and the next midnight the
/// last session's close, so the tape advances through one trading day per wall day and
/// the data never leaves the sessions.
pub fn tape_time(clock: Option<&MarketClock>, cal: Calendar) -> f64 {
    let Some(clock) = clock else { return crate::sim::calendar::wall_secs() };
    let now = clock.now();
    if !clock.always_open() {
        return now;
    }
    let local_day = cal.day_of(now);
    let day = cal.market.trading_day_on_or_before(local_day);
    let into_day = (now - cal.midnight(local_day) as f64).clamp(0.0, 86_399.999) / 86_400.0;
    let trading_secs = into_day * (cal.minutes_per_day() * 60) as f64;
    let index = (trading_secs / 60.0).floor() as i64;
    // The end of trading minute `index` minus one minute is its start.
    let start_minute = cal.trading_minute_end(index) - 1;
    cal.midnight(day) as f64 + (start_minute * 60) as f64 + (trading_secs - (index * 60) as f64)
}

/// The price path inside one bar, at `frac` of its period (clamped to `0.0..=1.0`).
///
/// The documented, deterministic order: open → high → low → close on an up bar
/// (`close >= open`), open → low → high → close on a down bar, straight lines between
/// the four points, each of the [`PATH_SEGMENTS`] segments taking a third of the period.
/// Returns `(price, high so far, low so far)`; at `frac = 1.0` that is
/// `(close, high, low)`.
///
/// ```
/// use ftapi::sim::tape::Bar;
/// use ftapi::sim::tape::path_in_bar;
/// let bar = Bar { ts: 60, day: 0, open: 10.0, high: 13.0, low: 9.0, close: 12.0, last_close: 10.0, volume: 100, turnover: 1100.0 };
/// assert_eq!(path_in_bar(&bar, 0.0).0, 10.0);
/// assert_eq!(path_in_bar(&bar, 1.0 / 3.0).0, 13.0); // up bar: the high first
/// assert_eq!(path_in_bar(&bar, 1.0), (12.0, 13.0, 9.0));
/// ```
pub fn path_in_bar(bar: &Bar, frac: f64) -> (f64, f64, f64) {
    let frac = if frac.is_nan() { 0.0 } else { frac.clamp(0.0, 1.0) };
    let (first, second) = if bar.close >= bar.open { (bar.high, bar.low) } else { (bar.low, bar.high) };
    let points = [bar.open, first, second, bar.close];
    let pos = frac * PATH_SEGMENTS as f64;
    let seg = (pos.floor() as usize).min(PATH_SEGMENTS - 1);
    let within = pos - seg as f64;
    let price = points[seg] + (points[seg + 1] - points[seg]) * within;
    let mut high = bar.open.max(price);
    let mut low = bar.open.min(price);
    for p in &points[1..=seg] {
        high = high.max(*p);
        low = low.min(*p);
    }
    (price, high, low)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(open: f64, high: f64, low: f64, close: f64) -> Bar {
        Bar { ts: 60, day: 0, open, high, low, close, last_close: open, volume: 10, turnover: 0.0 }
    }

    #[test]
    fn the_path_visits_the_extremes_in_the_documented_order_and_stays_inside_the_bar() {
        let up = bar(10.0, 13.0, 9.0, 12.0);
        assert_eq!(path_in_bar(&up, 1.0 / 3.0).0, 13.0);
        assert_eq!(path_in_bar(&up, 2.0 / 3.0).0, 9.0);
        let down = bar(12.0, 13.0, 9.0, 10.0);
        assert_eq!(path_in_bar(&down, 1.0 / 3.0).0, 9.0);
        assert_eq!(path_in_bar(&down, 2.0 / 3.0).0, 13.0);
        for i in 0..=100 {
            for b in [&up, &down] {
                let (p, h, l) = path_in_bar(b, i as f64 / 100.0);
                assert!(p >= b.low && p <= b.high && l <= p && p <= h && h <= b.high && l >= b.low);
            }
        }
        assert_eq!(path_in_bar(&up, f64::NAN).0, 10.0);
        assert_eq!(path_in_bar(&up, 7.0), (12.0, 13.0, 9.0));
    }
}
