//! Deterministic price history: daily and one-minute bars for every trading day before
//! the live day, a function of the seed, the instrument and the date only (so any page
//! of any request can be computed on its own), plus yearly cash dividends and the rehab
//! (price adjustment) factors they imply.
//!
//! The path is anchored at the live day: the close of the last history day is the
//! instrument's start price, which is the live day's previous close. Earlier closes are
//! found by walking back one daily return at a time; an ex-dividend day's close is
//! lower by the dividend.

use crate::sim::matching::{Instrument, InstrumentKind};

use super::clock::Calendar;
use crate::sim::calendar::{civil_from_days, days_from_civil, is_trading_day};

/// How many years of history the simulator invents before the live day.
pub const HISTORY_YEARS: i64 = 10;

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

/// SplitMix64's output function: a good 64-bit mix of one word.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a string (mixes an instrument code into the seed).
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// A deterministic hash of (key, a, b).
pub fn hash3(key: u64, a: i64, b: i64) -> u64 {
    mix64(mix64(key ^ (a as u64).wrapping_mul(0x9E37_79B9)) ^ (b as u64))
}

/// Uniform in [0, 1).
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Uniform in [-1, 1).
pub fn signed(h: u64) -> f64 {
    unit(h) * 2.0 - 1.0
}

/// The generated history of one instrument.
#[derive(Debug, Clone)]
pub struct History {
    /// The instrument.
    pub instrument: Instrument,
    /// Its calendar.
    pub cal: Calendar,
    key: u64,
    /// The live day (history ends the trading day before).
    pub live_day: i64,
    /// The first history day (the listing day).
    pub first_day: i64,
    /// Closes of every trading day in `first_day..live_day`, oldest first, with their days.
    closes: Vec<(i64, f64)>,
    /// Ex-dividend days and amounts, oldest first.
    pub dividends: Vec<(i64, f64)>,
}

impl History {
    /// Builds the history of `instrument` for a simulator seeded with `seed` whose live
    /// day is `live_day`.
    pub fn new(instrument: &Instrument, seed: u64, live_day: i64) -> History {
        let cal = Calendar::of(instrument.sec_market);
        let key = seed ^ fnv1a(&instrument.full_code());
        let first_day = live_day - HISTORY_YEARS * 365;
        let dividends = dividend_days(instrument, key, first_day, live_day);
        let daily_vol = (instrument.volatility * 10.0).clamp(0.0, 0.2);
        let start = instrument.snap(instrument.start_price, false).max(instrument.tick_at(instrument.start_price));
        let mut closes = Vec::new();
        let mut close = start;
        let mut day = live_day - 1;
        let mut div_idx = dividends.len();
        while day >= first_day {
            if is_trading_day(day) {
                closes.push((day, close));
                // The close of the trading day before `day`.
                let r = signed(hash3(key, day, 0)) * daily_vol;
                let mut prev = close / (1.0 + r);
                if div_idx > 0 && dividends[div_idx - 1].0 == day {
                    prev += dividends[div_idx - 1].1;
                    div_idx -= 1;
                }
                close = prev.max(instrument.tick_at(prev));
            }
            day -= 1;
        }
        closes.reverse();
        History { instrument: instrument.clone(), cal, key, live_day, first_day, closes, dividends }
    }

    /// The instrument's start price snapped to its tick (the live day's previous close).
    pub fn base_price(&self) -> f64 {
        let i = &self.instrument;
        i.snap(i.start_price, false).max(i.tick_at(i.start_price))
    }

    fn snap(&self, p: f64) -> f64 {
        let i = &self.instrument;
        i.snap(p, false).max(i.tick_at(p))
    }

    fn close_index(&self, day: i64) -> Option<usize> {
        self.closes.binary_search_by_key(&day, |c| c.0).ok()
    }

    /// The trading days of the history in `from..=to`, oldest first.
    pub fn days(&self, from: i64, to: i64) -> impl Iterator<Item = i64> + '_ {
        let lo = self.closes.partition_point(|c| c.0 < from);
        let hi = self.closes.partition_point(|c| c.0 <= to);
        self.closes[lo..hi.max(lo)].iter().map(|c| c.0)
    }

    /// The daily bar of a history trading day, unadjusted.
    pub fn day_bar(&self, day: i64) -> Option<Bar> {
        let i = self.close_index(day)?;
        let close = self.snap(self.closes[i].1);
        let last_close = if i == 0 { close } else { self.snap(self.closes[i - 1].1) };
        let daily_vol = (self.instrument.volatility * 10.0).clamp(0.0, 0.2);
        let div = self.dividends.iter().find(|d| d.0 == day).map(|d| d.1).unwrap_or(0.0);
        let open = self.snap((last_close - div) * (1.0 + 0.3 * signed(hash3(self.key, day, 1)) * daily_vol));
        let high = self.snap(open.max(close) * (1.0 + unit(hash3(self.key, day, 2)) * daily_vol * 0.5));
        let low = self.snap(open.min(close) * (1.0 - unit(hash3(self.key, day, 3)) * daily_vol * 0.5));
        let volume = self.day_volume(day);
        let turnover = volume as f64 * (open + high + low + close) / 4.0;
        Some(Bar { ts: self.cal.midnight(day), day, open, high, low, close, last_close, volume, turnover })
    }

    /// The one-minute bars of a history trading day, unadjusted.
    pub fn minute_bars(&self, day: i64) -> Vec<Bar> {
        match self.day_bar(day) {
            Some(b) => self.minutes(day, b.open, b.high, b.low, b.close),
            None => Vec::new(),
        }
    }

    /// Lots traded in minute `i` of `day`: 1 + (i * m + c) mod 20 with a day's odd `m`
    /// coprime to 20, so that a day's total has a closed form (see `day_volume`).
    fn minute_lots(&self, day: i64, i: i64) -> i64 {
        let (m, c) = self.volume_pattern(day);
        1 + (i * m + c).rem_euclid(20)
    }

    fn volume_pattern(&self, day: i64) -> (i64, i64) {
        const COPRIME: [i64; 8] = [1, 3, 7, 9, 11, 13, 17, 19];
        let h = hash3(self.key, day, 6);
        (COPRIME[(h % 8) as usize], ((h >> 8) % 20) as i64)
    }

    /// The day's volume: the sum of its minutes' volumes, without computing them (every
    /// 20 consecutive minutes cover each residue once: 20 + 190 lots).
    fn day_volume(&self, day: i64) -> i64 {
        let n = self.cal.minutes_per_day().max(1);
        let lot = self.instrument.lot_size.max(1.0) as i64;
        let full = n / 20;
        let rest: i64 = (full * 20..n).map(|i| self.minute_lots(day, i)).sum();
        lot * (full * 210 + rest)
    }

    fn minutes(&self, day: i64, open: f64, high: f64, low: f64, close: f64) -> Vec<Bar> {
        let n = self.cal.minutes_per_day().max(1);
        let lot = self.instrument.lot_size.max(1.0) as i64;
        let ih = (hash3(self.key, day, 4) % n as u64) as i64;
        let il = (hash3(self.key, day, 5) % n as u64) as i64;
        let range = high - low;
        let mut out = Vec::with_capacity(n as usize);
        let mut prev = open;
        for i in 0..n {
            let f = (i + 1) as f64 / n as f64;
            let bridge = 4.0 * f * (1.0 - f);
            let raw = open + (close - open) * f + signed(hash3(self.key, day, 100 + i)) * range * 0.25 * bridge;
            let c = if i == n - 1 { close } else { self.snap(raw.clamp(low, high)) };
            let mut hi = prev.max(c);
            let mut lo = prev.min(c);
            if i == ih {
                hi = high;
            }
            if i == il {
                lo = low;
            }
            let volume = lot * self.minute_lots(day, i);
            let ts = self.cal.midnight(day) + self.cal.trading_minute_end(i) * 60;
            out.push(Bar {
                ts,
                day,
                open: prev,
                high: hi,
                low: lo,
                close: c,
                last_close: prev,
                volume,
                turnover: volume as f64 * (prev + c) / 2.0,
            });
            prev = c;
        }
        out
    }

    /// The rehab adjustment `(a, b)` for a price on `day` (`adjusted = raw * a + b`):
    /// 0 none, 1 forward (dividends after the day subtracted), 2 backward (dividends on
    /// or before the day added).
    pub fn adjustment(&self, day: i64, rehab_type: i32) -> (f64, f64) {
        let b = match rehab_type {
            1 => -self.dividends.iter().filter(|d| d.0 > day).map(|d| d.1).sum::<f64>(),
            2 => self.dividends.iter().filter(|d| d.0 <= day).map(|d| d.1).sum::<f64>(),
            _ => 0.0,
        };
        (1.0, b)
    }
}

/// One cash dividend a year for stocks (none for options and futures): the ex-date is a
/// trading day in May to July, the amount 1 % of the start price.
fn dividend_days(instrument: &Instrument, key: u64, first_day: i64, live_day: i64) -> Vec<(i64, f64)> {
    if instrument.kind != InstrumentKind::Stock {
        return Vec::new();
    }
    let amount = ((instrument.start_price * 0.01) * 1000.0).round() / 1000.0;
    if amount <= 0.0 {
        return Vec::new();
    }
    let (y0, _, _) = civil_from_days(first_day);
    let (y1, _, _) = civil_from_days(live_day);
    let mut out = Vec::new();
    for y in y0..=y1 {
        let mut d = days_from_civil(y, 5, 1) + (hash3(key, y, 7) % 80) as i64;
        while !is_trading_day(d) {
            d += 1;
        }
        if d > first_day && d < live_day {
            out.push((d, amount));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::matching::Market;

    #[test]
    fn history_is_deterministic_and_anchored() {
        let i = Market::default_instruments().into_iter().next().unwrap();
        let live = days_from_civil(2026, 11, 30);
        let a = History::new(&i, 7, live);
        let b = History::new(&i, 7, live);
        let last = a.days(live - 10, live).last().unwrap();
        assert_eq!(a.day_bar(last), b.day_bar(last));
        assert_eq!(a.day_bar(last).unwrap().close, a.base_price());
        let bars = a.minute_bars(last);
        assert_eq!(bars.len(), 330);
        let day = a.day_bar(last).unwrap();
        assert_eq!(bars.last().unwrap().close, day.close);
        assert_eq!(bars.iter().map(|b| b.volume).sum::<i64>(), day.volume);
        assert!(bars.iter().all(|b| b.high <= day.high + 1e-9 && b.low >= day.low - 1e-9));
        assert_ne!(History::new(&i, 8, live).day_bar(last - 3), a.day_bar(last - 3));
        assert!(!a.dividends.is_empty());
    }
}
