//! The live day of one instrument, read from the [`Tape`]: it starts as the tape's bars
//! of the current trading day up to the market clock's now (so the live day is the
//! history's current day, with the same volumes), and every sample after that is a
//! trade (a ticker) of the volume the tape traded since the sample before, at the price
//! source's price (the tape's, or the broker's override). Trades move the day's
//! open/high/low, volume and turnover and the live one-minute bars. The order book and
//! the HK broker queue are drawn around the last price.

use std::collections::{BTreeMap, VecDeque};

use crate::sim::matching::Instrument;

use crate::sim::tape::clock::Calendar;
use crate::sim::tape::history::{hash3, Bar};
use crate::sim::tape::Tape;

/// Tickers kept per instrument (OpenD serves at most 1000).
pub const MAX_TICKERS: usize = 1000;
/// Levels of the order book.
pub const BOOK_LEVELS: usize = 10;

/// One side of the HK broker queue: (broker id, position) pairs.
pub type BrokerSide = Vec<(i64, i32)>;

/// One trade.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    /// Unix time.
    pub ts: f64,
    /// Sequence number (1, 2, ... per instrument).
    pub seq: i64,
    /// `TickerDirection`: 1 bid (price fell), 2 ask (price rose), 3 neutral.
    pub dir: i32,
    /// Price.
    pub price: f64,
    /// Volume.
    pub volume: i64,
}

/// One level of a book side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Price.
    pub price: f64,
    /// Volume.
    pub volume: i64,
    /// Number of orders.
    pub orders: i32,
}

/// The live state of one instrument.
#[derive(Debug, Clone)]
pub struct Live {
    /// The instrument.
    pub instrument: Instrument,
    /// Its calendar.
    pub cal: Calendar,
    key: u64,
    /// Its full code (`HK.00700`), the tape's key.
    pub code: String,
    /// The live trading day (local day number): the latest trading day on or before now.
    pub day: i64,
    /// Previous close (the tape's close of the trading day before).
    pub prev_close: f64,
    /// Day open.
    pub open: f64,
    /// Day high.
    pub high: f64,
    /// Day low.
    pub low: f64,
    /// Last price.
    pub last: f64,
    /// Day volume.
    pub volume: i64,
    /// Day turnover.
    pub turnover: f64,
    /// Time of the last trade (or of the start).
    pub updated: f64,
    /// Trades so far (the last ticker's sequence).
    pub seq: i64,
    /// The latest tickers, oldest first.
    pub tickers: VecDeque<Tick>,
    /// Live one-minute bars by the Unix time of their end.
    pub minutes: BTreeMap<i64, Bar>,
    /// The tape's volume of the day already turned into trades.
    tape_volume: i64,
    /// The tape's volume of the day's bars that ended by `counted_until`.
    done_volume: i64,
    counted_until: i64,
}

impl Live {
    /// The live day at `now` (the tape's time): the tape's bars of the day so far,
    /// and `price` (the price source's) as the last price.
    pub fn start(instrument: &Instrument, key: u64, tape: &dyn Tape, now: f64, price: Option<f64>) -> Live {
        let cal = Calendar::of(instrument.sec_market);
        let code = instrument.full_code();
        let day = cal.market.trading_day_on_or_before(cal.day_of(now));
        let start = instrument.snap(instrument.start_price, false).max(instrument.tick_at(instrument.start_price));
        let midnight = cal.midnight(day);
        let prev_close = tape
            .daily(&code, day - 40, day - 1)
            .last()
            .map(|b| b.close)
            .or_else(|| tape.price_at(&code, midnight as f64))
            .or(price)
            .unwrap_or(start);
        let until = now.floor() as i64;
        let mut bars = tape.bars(&code, midnight, until);
        let done_volume = bars.iter().map(|b| b.volume).sum();
        if let Some(p) = tape.partial(&code, now).filter(|p| p.day == day) {
            bars.push(p);
        }
        let mut live = Live {
            instrument: instrument.clone(),
            cal,
            key,
            code,
            day,
            prev_close,
            open: prev_close,
            high: prev_close,
            low: prev_close,
            last: price.unwrap_or(prev_close),
            volume: 0,
            turnover: 0.0,
            updated: now,
            seq: 0,
            tickers: VecDeque::new(),
            minutes: BTreeMap::new(),
            tape_volume: 0,
            done_volume,
            counted_until: until.max(midnight),
        };
        let mut last_close = prev_close;
        for (n, b) in bars.iter().enumerate() {
            live.add_bar(*b, last_close, n == 0);
            last_close = b.close;
        }
        live.tape_volume = live.volume;
        // The latest trades before now: one per recent one-minute bar of the tape (the
        // day's, or the last trading day's before the open), at its close.
        let recent = if bars.is_empty() { tape.bars(&live.code, until - 6 * 86_400, until) } else { bars.clone() };
        for b in recent.iter().rev().take(MAX_TICKERS.min(60)).rev() {
            live.seq += 1;
            let dir = if b.close > b.open {
                2
            } else if b.close < b.open {
                1
            } else {
                3
            };
            let ts = (b.ts as f64 - 1.0).min(now);
            live.tickers.push_back(Tick { ts, seq: live.seq, dir, price: b.close, volume: b.volume.max(1) });
        }
        if price.is_none() {
            live.last = last_close;
        }
        if live.volume > 0 {
            live.high = live.high.max(live.last);
            live.low = live.low.min(live.last);
        }
        live
    }

    /// Samples the tape and the price source at `now`: a new trading day starts the
    /// live day again; otherwise the tape's volume since the last sample becomes a
    /// trade at `price`. With nothing traded on the tape, a moved price is a trade of
    /// one lot, and so is a `step` (`force`) while a bar is in progress (the market
    /// data's ticker steps are trades); such a lot is taken from the tape's volume to
    /// come, so the day's volume keeps to the tape's. Returns the trade, if any.
    pub fn advance(&mut self, tape: &dyn Tape, price: Option<f64>, now: f64, force: bool) -> Option<Tick> {
        let day = self.cal.market.trading_day_on_or_before(self.cal.day_of(now));
        if day != self.day {
            let seq = self.seq;
            *self = Live::start(&self.instrument, self.key, tape, now, price);
            self.seq = seq;
            return None;
        }
        let until = now.floor() as i64;
        if until > self.counted_until {
            // One-minute tapes: their bars are the live minutes.
            let period = tape.period_secs(&self.code);
            let one_minute = period == Some(60);
            for b in tape.bars(&self.code, self.counted_until, until) {
                self.done_volume += b.volume;
                if let Some(p) = period.filter(|p| *p > 60 && b.day == self.day) {
                    self.close_coarse_bar(tape, b, p);
                    continue;
                }
                // A minute that passed without a sample (a fast clock, or no ticker) is
                // the tape's bar as it is, so the live bars have no gaps.
                if b.day == self.day && !self.minutes.contains_key(&b.ts) {
                    let last_close =
                        self.minutes.range(..b.ts).next_back().map(|(_, m)| m.close).unwrap_or(self.prev_close);
                    self.add_bar(b, last_close, self.volume == 0);
                    self.tape_volume += b.volume;
                } else if let Some(m) = self.minutes.get_mut(&b.ts) {
                    // A minute sampled while it was in progress gets the rest of the
                    // tape's volume of that minute.
                    let rest = b.volume - m.volume;
                    if rest > 0 {
                        m.volume += rest;
                        m.turnover += rest as f64 * m.close;
                        self.volume += rest;
                        self.turnover += rest as f64 * m.close;
                        self.tape_volume += rest;
                    }
                    // A finished minute is the tape's bar, not what the samples of it saw
                    // (a replay's history shows the recorded bars).
                    if one_minute {
                        (m.open, m.high, m.low, m.close) = (b.open, b.high, b.low, b.close);
                        self.volume += b.volume - m.volume;
                        self.turnover += b.turnover - m.turnover;
                        (m.volume, m.turnover) = (b.volume, b.turnover);
                        self.high = self.high.max(b.high);
                        self.low = self.low.min(b.low);
                    }
                }
            }
            self.counted_until = until;
        }
        let partial = tape.partial(&self.code, now).filter(|p| p.day == day);
        let in_bar = partial.is_some();
        let cum = self.done_volume + partial.map(|p| p.volume).unwrap_or(0);
        let delta = cum - self.tape_volume;
        let p = price.unwrap_or(self.last);
        let closed_at = self.minutes.values().next_back().map(|b| b.close);
        if !in_bar && delta <= 0 && closed_at.is_some_and(|c| (c - p).abs() <= 1e-9) {
            // No bar in progress and the price is the last bar's close (a session's
            // close, a replay's clock stopped at the end of its data): that move is the
            // bar's, not a new trade after it.
            self.last = p;
            return None;
        }
        if delta <= 0 && (p - self.last).abs() <= 1e-9 && !(force && in_bar) {
            return None;
        }
        let lot = self.instrument.lot_size.max(1.0) as i64;
        let volume = if delta > 0 { delta } else { lot };
        self.tape_volume = cum.max(self.tape_volume + volume);
        Some(self.trade(p, volume, now))
    }

    /// Adds a tape bar that no sample covered to the day: its stats (opening the day if
    /// `first`) and the bar itself, after the close `last_close`.
    fn add_bar(&mut self, b: Bar, last_close: f64, first: bool) {
        if first {
            self.open = b.open;
            self.high = b.high;
            self.low = b.low;
        }
        self.high = self.high.max(b.high);
        self.low = self.low.min(b.low);
        self.volume += b.volume;
        self.turnover += b.turnover;
        self.minutes.insert(b.ts, Bar { last_close, ..b });
    }

    /// A bar of a coarser tape (5 minutes, a day, ...) that just ended replaces the live
    /// minutes sampled inside it, so that the history shows the recorded bar, counted
    /// once; the day's open/high/low/volume/turnover follow.
    fn close_coarse_bar(&mut self, tape: &dyn Tape, b: Bar, period: i64) {
        let midnight = self.cal.midnight(self.day);
        // The minutes inside the bar: after the previous bar of the day ended (a bar cut
        // short by a break starts at the session open, not `period` before its end).
        let (lo, hi) = if period >= 86_400 {
            (midnight - 1, i64::MAX)
        } else {
            let prev = tape.bars(&self.code, midnight, b.ts - 1).last().map(|p| p.ts).unwrap_or(midnight);
            (prev.max(b.ts - period), b.ts)
        };
        let inside: Vec<i64> = self.minutes.range(lo + 1..=hi).map(|(k, _)| *k).collect();
        let mut seen = 0;
        for k in inside {
            seen += self.minutes.remove(&k).map(|m| m.volume).unwrap_or(0);
        }
        if b.volume > seen {
            self.tape_volume += b.volume - seen;
        }
        let last_close = self.minutes.range(..b.ts).next_back().map(|(_, m)| m.close).unwrap_or(self.prev_close);
        self.minutes.insert(b.ts, Bar { last_close, ..b });
        if let Some(first) = self.minutes.values().next() {
            self.open = first.open;
        }
        self.high = self.minutes.values().map(|m| m.high).fold(f64::MIN, f64::max);
        self.low = self.minutes.values().map(|m| m.low).fold(f64::MAX, f64::min);
        self.volume = self.minutes.values().map(|m| m.volume).sum();
        self.turnover = self.minutes.values().map(|m| m.turnover).sum();
    }

    /// Records one trade of `volume` at `price` at `now`. Returns the new ticker.
    pub fn trade(&mut self, price: f64, volume: i64, now: f64) -> Tick {
        self.seq += 1;
        let dir = if price > self.last + 1e-9 {
            2
        } else if price < self.last - 1e-9 {
            1
        } else {
            3
        };
        if self.volume == 0 {
            self.open = price;
            self.high = price;
            self.low = price;
        }
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.last = price;
        self.volume += volume;
        self.turnover += volume as f64 * price;
        self.updated = now;
        let tick = Tick { ts: now, seq: self.seq, dir, price, volume };
        self.tickers.push_back(tick);
        while self.tickers.len() > MAX_TICKERS {
            self.tickers.pop_front();
        }
        let minute_end = (now.floor() as i64).div_euclid(60) * 60 + 60;
        let turnover = volume as f64 * price;
        let prev_close = self.minutes.range(..minute_end).next_back().map(|(_, b)| b.close).unwrap_or(self.prev_close);
        let bar = self.minutes.entry(minute_end).or_insert(Bar {
            ts: minute_end,
            day: self.day,
            open: price,
            high: price,
            low: price,
            close: price,
            last_close: prev_close,
            volume: 0,
            turnover: 0.0,
        });
        bar.high = bar.high.max(price);
        bar.low = bar.low.min(price);
        bar.close = price;
        bar.volume += volume;
        bar.turnover += turnover;
        // Bounded: one live day has at most 1440 minutes; drop older ones.
        while self.minutes.len() > 1440 {
            let first = *self.minutes.keys().next().unwrap_or(&0);
            self.minutes.remove(&first);
        }
        tick
    }

    /// The live day as one bar (local midnight of `live_day` as its label).
    pub fn day_bar(&self, live_day: i64) -> Bar {
        Bar {
            ts: self.cal.midnight(live_day),
            day: live_day,
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.last,
            last_close: self.prev_close,
            volume: self.volume,
            turnover: self.turnover,
        }
    }

    /// The price tick.
    pub fn tick_size(&self) -> f64 {
        self.instrument.tick_at(self.last)
    }

    /// The order book around the last price: bids from the last price down, asks from one
    /// tick above, `n` levels each (at most [`BOOK_LEVELS`]).
    pub fn book(&self, n: usize) -> (Vec<Level>, Vec<Level>) {
        let n = n.min(BOOK_LEVELS);
        let lot = self.instrument.lot_size.max(1.0) as i64;
        let level = |side: i64, i: usize, price: f64| {
            let h = hash3(self.key, self.seq, 100 + side * 16 + i as i64);
            let lots = 1 + (h % 50) as i64;
            // Every order is at least one lot: 1 ..= min(lots, 20) orders.
            let orders = 1 + ((h >> 32) % lots.min(20) as u64) as i32;
            Level { price, volume: lot * lots, orders }
        };
        let mut bids = Vec::with_capacity(n);
        let mut p = self.last;
        for i in 0..n {
            if p <= 0.0 {
                break;
            }
            bids.push(level(0, i, p));
            let t = self.instrument.tick_at(p - 1e-9);
            p = crate::sim::instrument::round9(p - t);
        }
        let mut asks = Vec::with_capacity(n);
        let mut p = self.last;
        for i in 0..n {
            p = crate::sim::instrument::round9(p + self.instrument.tick_at(p + 1e-9));
            asks.push(level(1, i, p));
        }
        (bids, asks)
    }

    /// The HK broker queue: (bid side, ask side), ten brokers each over the best three
    /// levels.
    pub fn broker_queue(&self) -> (BrokerSide, BrokerSide) {
        let side = |s: i64| {
            (0..10)
                .map(|i| {
                    let h = hash3(self.key, self.seq, 500 + s * 16 + i);
                    (1000 + (h % 9000) as i64, (i / 4 + 1) as i32)
                })
                .collect::<Vec<_>>()
        };
        (side(0), side(1))
    }
}
