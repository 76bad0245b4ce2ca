//! The seeded market ([`SeededTape`], the default [`Tape`]): daily and one-minute bars
//! for every trading day from ten years before the start day to two years after it, a
//! function of the seed, the instrument and the date (so any page of any request can be
//! computed on its own), plus yearly cash dividends and the rehab (price adjustment)
//! factors they imply.
//!
//! One model for every period: a day's one-minute bars are drawn inside its daily bar
//! (their opens, extremes, close and volumes add up to it exactly), so live activity
//! (read from the minute in progress) and historical bars agree. Trading days follow
//! the market's calendar with its public holidays.
//!
//! The path is anchored at the start: the close of the last day before the start day is
//! the instrument's start price, and the whole path is then scaled so that the price at
//! the start instant is the start price again (a simulator starting mid-session still
//! quotes its instruments' start prices). Earlier closes are found by walking back one
//! daily return at a time (an ex-dividend day's close is lower by the dividend), later
//! ones by walking forward.

use crate::sim::calendar::{civil_from_days, days_from_civil};
use crate::sim::instrument::{option_expiry_day, Instrument, InstrumentKind};

use super::clock::Calendar;
use super::{path_in_bar, Tape};

/// A bar: defined with the [`Tape`] (`ftapi::sim::market::history::Bar` names it too).
pub use super::Bar;

/// How many years of history the simulator invents before the live day.
pub const HISTORY_YEARS: i64 = 10;
/// How many days after the start day the seeded path goes on (an accelerated clock
/// runs into them).
pub const FORWARD_DAYS: i64 = 800;

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
    /// The first history day (the listing day, or ten years before the start day).
    pub first_day: i64,
    /// The listing day ([`listing_day`]).
    pub listed: i64,
    /// Closes of every trading day in `first_day..live_day`, oldest first, with their days.
    closes: Vec<(i64, f64)>,
    /// Ex-dividend days and amounts, oldest first.
    pub dividends: Vec<(i64, f64)>,
}

impl History {
    /// Builds the history of `instrument` for a simulator seeded with `seed` whose live
    /// (start) day is `live_day`: the close of the trading day before it is the start
    /// price.
    pub fn new(instrument: &Instrument, seed: u64, live_day: i64) -> History {
        let cal = Calendar::of(instrument.sec_market);
        let key = seed ^ fnv1a(&instrument.full_code());
        let listed = listing_day(instrument, key);
        let first_day = listed.max(live_day - HISTORY_YEARS * 365);
        let dividends = dividend_days(instrument, cal, key, first_day, live_day);
        let daily_vol = (instrument.volatility * 10.0).clamp(0.0, 0.2);
        let start = instrument.snap(instrument.start_price, false).max(instrument.tick_at(instrument.start_price));
        let mut closes = Vec::new();
        let mut close = start;
        let mut day = live_day - 1;
        let mut div_idx = dividends.len();
        while day >= first_day {
            if cal.market.is_trading_day(day) {
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
        // Forward from the start day.
        let mut close = start;
        for day in live_day..live_day + FORWARD_DAYS {
            if cal.market.is_trading_day(day) {
                let r = signed(hash3(key, day, 0)) * daily_vol;
                close = (close * (1.0 + r)).max(instrument.tick_at(close));
                closes.push((day, close));
            }
        }
        History { instrument: instrument.clone(), cal, key, live_day, first_day, listed, closes, dividends }
    }

    /// The history of `instrument` for a simulator that starts at `now` (Unix seconds,
    /// the market clock's): anchored at the start day, then scaled so that the price at
    /// `now` is the instrument's start price.
    pub fn anchored(instrument: &Instrument, seed: u64, now: f64) -> History {
        let cal = Calendar::of(instrument.sec_market);
        let live_day = cal.market.trading_day_on_or_before(cal.day_of(now));
        let mut h = History::new(instrument, seed, live_day);
        let base = h.base_price();
        if let Some(p) = h.price_at(now) {
            if p > 0.0 && (p - base).abs() > 1e-12 {
                let scale = base / p;
                for c in &mut h.closes {
                    c.1 *= scale;
                }
            }
        }
        h
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

    /// The trading minute (index into the day's one-minute bars) in progress at `t`,
    /// with the fraction of it elapsed; `None` outside the sessions or on a closed day.
    fn minute_at(&self, t: f64) -> Option<(i64, usize, f64)> {
        let day = self.cal.day_of(t);
        self.close_index(day)?;
        let into = t - self.cal.midnight(day) as f64;
        let minute = (into / 60.0).floor() as i64;
        let mut index = 0;
        for (a, b) in self.cal.sessions() {
            if (a..b).contains(&minute) {
                let frac = (into - (minute * 60) as f64) / 60.0;
                return Some((day, (index + minute - a) as usize, frac));
            }
            index += b - a;
        }
        None
    }

    /// The one-minute bar in progress at `t`, cut at `t` (see [`Tape::partial`]).
    pub fn partial(&self, t: f64) -> Option<Bar> {
        let (day, i, frac) = self.minute_at(t)?;
        let shape = DayShape::of_day(self, day)?;
        if i as i64 >= shape.n {
            return None;
        }
        let bar = self.minute(&shape, i as i64);
        let (p, high, low) = path_in_bar(&bar, frac);
        let lot = self.instrument.lot_size.max(1.0) as i64;
        let lots = ((bar.volume / lot) as f64 * frac).floor() as i64;
        let volume = lots * lot;
        let close = self.snap(p);
        Some(Bar {
            close,
            high: self.snap(high).max(close).max(bar.open),
            low: self.snap(low).min(close).min(bar.open),
            volume,
            turnover: volume as f64 * (bar.open + close) / 2.0,
            ..bar
        })
    }

    /// The price at `t` (the model's, before any override): the minute in progress,
    /// else the close of the last bar before `t`.
    pub fn price_at(&self, t: f64) -> Option<f64> {
        if let Some(b) = self.partial(t) {
            return Some(b.close);
        }
        let day = self.cal.day_of(t);
        let i = self.closes.partition_point(|c| c.0 <= day);
        // Today's close once its sessions are over, else the last day's before today.
        for j in (0..i).rev() {
            let Some(shape) = DayShape::of_day(self, self.closes[j].0) else { continue };
            // The last minute that ended by `t` (the labels grow with the index).
            let ended = |k: i64| ((self.cal.midnight(shape.day) + self.cal.trading_minute_end(k) * 60) as f64) <= t;
            let (mut lo, mut hi) = (0, shape.n);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if ended(mid) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            if lo > 0 {
                return Some(self.minute_close(&shape, lo - 1));
            }
        }
        None
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
        lot * volume_unit(&self.instrument) * (full * 210 + rest)
    }

    fn minutes(&self, day: i64, open: f64, high: f64, low: f64, close: f64) -> Vec<Bar> {
        let shape = DayShape::new(self, day, open, high, low, close);
        (0..shape.n).map(|i| self.minute(&shape, i)).collect()
    }

    /// Minute `i` of a day (0-based): computed on its own, without the minutes before it
    /// (a quote needs the minute in progress, not the day's 330 bars).
    fn minute(&self, d: &DayShape, i: i64) -> Bar {
        let prev = if i == 0 { d.open } else { self.minute_close(d, i - 1) };
        let c = self.minute_close(d, i);
        let mut hi = prev.max(c);
        let mut lo = prev.min(c);
        if i == d.ih {
            hi = d.high;
        }
        if i == d.il {
            lo = d.low;
        }
        let volume = d.lot * volume_unit(&self.instrument) * self.minute_lots(d.day, i);
        let ts = self.cal.midnight(d.day) + self.cal.trading_minute_end(i) * 60;
        Bar {
            ts,
            day: d.day,
            open: prev,
            high: hi,
            low: lo,
            close: c,
            last_close: prev,
            volume,
            turnover: volume as f64 * (prev + c) / 2.0,
        }
    }

    /// The close of minute `i`: a Brownian bridge from the day's open to its close,
    /// inside its high and low, on the tick grid; the last minute closes the day.
    fn minute_close(&self, d: &DayShape, i: i64) -> f64 {
        if i == d.n - 1 {
            return d.close;
        }
        let f = (i + 1) as f64 / d.n as f64;
        let bridge = 4.0 * f * (1.0 - f);
        let raw = d.open
            + (d.close - d.open) * f
            + signed(hash3(self.key, d.day, 100 + i)) * (d.high - d.low) * 0.25 * bridge;
        self.snap(raw.clamp(d.low, d.high))
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

/// What every minute of one history day is drawn from: the day bar, the number of
/// trading minutes and the minutes that touch the day's high and low.
struct DayShape {
    day: i64,
    n: i64,
    lot: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    /// The minute whose high is the day's high.
    ih: i64,
    /// The minute whose low is the day's low.
    il: i64,
}

impl DayShape {
    fn new(h: &History, day: i64, open: f64, high: f64, low: f64, close: f64) -> DayShape {
        let n = h.cal.minutes_per_day().max(1);
        DayShape {
            day,
            n,
            lot: h.instrument.lot_size.max(1.0) as i64,
            open,
            high,
            low,
            close,
            ih: (hash3(h.key, day, 4) % n as u64) as i64,
            il: (hash3(h.key, day, 5) % n as u64) as i64,
        }
    }

    fn of_day(h: &History, day: i64) -> Option<DayShape> {
        let b = h.day_bar(day)?;
        Some(DayShape::new(h, day, b.open, b.high, b.low, b.close))
    }
}

/// The trading units (of lots) one "lot" of the seeded minute volume stands for, so that
/// a minute trades about what such an instrument trades: HK and A-share stocks ~400 lots
/// of 100 a minute on average, US stocks ~10 000 shares, futures and options ~200
/// contracts.
pub fn volume_unit(instrument: &Instrument) -> i64 {
    use crate::sim::instrument::sec_market;
    match (instrument.kind, instrument.sec_market) {
        (InstrumentKind::Future, _) => 20,
        (InstrumentKind::Option, _) => 20,
        (_, sec_market::US) => 1000,
        (_, sec_market::HK) => (4000.0 / instrument.lot_size.max(1.0)).round().max(1.0) as i64,
        _ => 40,
    }
}

/// The listing day of an instrument: the real one for the built-in stocks, about two
/// years before expiry for options, and a seeded day years back for anything else. The
/// history starts there (or ten years before the start day, whichever is later).
pub fn listing_day(instrument: &Instrument, key: u64) -> i64 {
    let known: &[(&str, (i64, u32, u32))] = &[
        ("HK.00700", (2004, 6, 16)),
        ("HK.09988", (2019, 11, 26)),
        ("HK.00005", (1991, 7, 9)),
        ("HK.03690", (2018, 9, 20)),
        ("HK.02800", (1999, 11, 12)),
        ("US.AAPL", (1980, 12, 12)),
        ("US.TSLA", (2010, 6, 29)),
        ("US.MSFT", (1986, 3, 13)),
        ("US.NVDA", (1999, 1, 22)),
        ("SH.600519", (2001, 8, 27)),
        ("SH.601318", (2007, 3, 1)),
        ("SZ.000001", (1991, 4, 3)),
        ("HK.HSImain", (1986, 5, 6)),
        ("HK.MHImain", (2000, 10, 9)),
        ("US.ESmain", (1997, 9, 9)),
        ("US.NQmain", (1999, 6, 21)),
        ("SG.CNmain", (2006, 9, 5)),
    ];
    let code = instrument.full_code();
    if let Some((_, (y, m, d))) = known.iter().find(|(c, _)| *c == code) {
        return days_from_civil(*y, *m, *d);
    }
    if let Some(expiry) = option_expiry_day(instrument) {
        return expiry - 700 - (key % 60) as i64;
    }
    days_from_civil(2000, 1, 3) + (key % 5000) as i64
}

/// One cash dividend a year for stocks (none for options and futures): the ex-date is a
/// trading day in May to July, the amount 1 % of the start price.
fn dividend_days(instrument: &Instrument, cal: Calendar, key: u64, first_day: i64, live_day: i64) -> Vec<(i64, f64)> {
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
        while !cal.market.is_trading_day(d) {
            d += 1;
        }
        if d > first_day && d < live_day {
            out.push((d, amount));
        }
    }
    out
}

/// The seeded market as a [`Tape`]: one [`History`] per instrument, one-minute bars.
#[derive(Debug, Clone)]
pub struct SeededTape {
    histories: Vec<(String, History)>,
}

impl SeededTape {
    /// The seeded tape of `instruments` for a simulator seeded with `seed` that starts at
    /// `now` (Unix seconds on the market clock, see [`super::tape_time`]).
    pub fn new(instruments: &[Instrument], seed: u64, now: impl Fn(&Instrument) -> f64) -> SeededTape {
        let histories = instruments.iter().map(|i| (i.full_code(), History::anchored(i, seed, now(i)))).collect();
        SeededTape { histories }
    }

    /// The generator of `code` (`HK.00700`).
    pub fn history(&self, code: &str) -> Option<&History> {
        self.histories.iter().find(|(c, _)| c == code).map(|(_, h)| h)
    }
}

impl Tape for SeededTape {
    fn codes(&self) -> Vec<String> {
        self.histories.iter().map(|(c, _)| c.clone()).collect()
    }

    fn period_secs(&self, code: &str) -> Option<i64> {
        self.history(code).map(|_| 60)
    }

    fn bars(&self, code: &str, from: i64, until: i64) -> Vec<Bar> {
        let Some(h) = self.history(code) else { return Vec::new() };
        if until <= from {
            return Vec::new();
        }
        let first = h.cal.day_of(from as f64);
        let last = h.cal.day_of(until as f64);
        let mut out = Vec::new();
        for day in h.days(first, last).collect::<Vec<_>>() {
            out.extend(h.minute_bars(day).into_iter().filter(|b| b.ts > from && b.ts <= until));
        }
        out
    }

    fn partial(&self, code: &str, now: f64) -> Option<Bar> {
        self.history(code)?.partial(now)
    }

    fn price_at(&self, code: &str, now: f64) -> Option<f64> {
        self.history(code)?.price_at(now)
    }

    fn daily(&self, code: &str, first_day: i64, last_day: i64) -> Vec<Bar> {
        let Some(h) = self.history(code) else { return Vec::new() };
        h.days(first_day, last_day).filter_map(|d| h.day_bar(d)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::matching::Market;

    #[test]
    fn a_minute_computed_alone_is_the_minute_of_the_day() {
        let i = Market::default_instruments().into_iter().next().unwrap();
        let live = days_from_civil(2026, 11, 30);
        let h = History::new(&i, 7, live);
        let day = h.days(live - 10, live - 1).last().unwrap();
        let bars = h.minute_bars(day);
        let shape = DayShape::of_day(&h, day).unwrap();
        for (k, bar) in bars.iter().enumerate() {
            assert_eq!(h.minute(&shape, k as i64), *bar, "minute {k}");
        }
        // Outside the sessions the price is the close of the last minute that ended: the
        // morning's last at lunch (HK: 150 minutes from 09:30), the day's after the close.
        let lunch = (h.cal.midnight(day) + 12 * 3600 + 30 * 60) as f64;
        assert_eq!(h.price_at(lunch), Some(bars[149].close));
        let close = bars.last().unwrap().close;
        assert_eq!(h.price_at((h.cal.midnight(day) + 23 * 3600) as f64), Some(close));
    }

    #[test]
    fn history_is_deterministic_and_anchored() {
        let i = Market::default_instruments().into_iter().next().unwrap();
        let live = days_from_civil(2026, 11, 30);
        let a = History::new(&i, 7, live);
        let b = History::new(&i, 7, live);
        let last = a.days(live - 10, live - 1).last().unwrap();
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
