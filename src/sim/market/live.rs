//! The live day of one instrument: every price the matching engine has shown since the
//! simulator started becomes a trade (a ticker), which moves the day's open/high/low,
//! volume and turnover and the live one-minute bars. The order book and the HK broker
//! queue are drawn around the last price.

use std::collections::{BTreeMap, VecDeque};

use crate::sim::matching::Instrument;

use super::clock::Calendar;
use super::history::{hash3, Bar};

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
    /// Previous close (the last history close).
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
}

impl Live {
    /// The live state at start: nothing traded, every price the previous close.
    pub fn new(instrument: &Instrument, key: u64, prev_close: f64, now: f64) -> Live {
        Live {
            instrument: instrument.clone(),
            cal: Calendar::of(instrument.sec_market),
            key,
            prev_close,
            open: prev_close,
            high: prev_close,
            low: prev_close,
            last: prev_close,
            volume: 0,
            turnover: 0.0,
            updated: now,
            seq: 0,
            tickers: VecDeque::new(),
            minutes: BTreeMap::new(),
        }
    }

    /// Records one trade at `price` (the matching engine's current price) at `now`.
    /// Returns the new ticker.
    pub fn trade(&mut self, price: f64, now: f64) -> Tick {
        self.seq += 1;
        let lot = self.instrument.lot_size.max(1.0) as i64;
        let volume = lot * (1 + (hash3(self.key, self.seq, 1) % 10) as i64);
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
        let prev_close = self.minutes.values().next_back().map(|b| b.close).unwrap_or(self.prev_close);
        let bar = self.minutes.entry(minute_end).or_insert(Bar {
            ts: minute_end,
            day: self.cal.day_of(now),
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
            Level { price, volume: lot * (1 + (h % 50) as i64), orders: 1 + ((h >> 32) % 9) as i32 }
        };
        let mut bids = Vec::with_capacity(n);
        let mut p = self.last;
        for i in 0..n {
            if p <= 0.0 {
                break;
            }
            bids.push(level(0, i, p));
            let t = self.instrument.tick_at(p - 1e-9);
            p = super::round9(p - t);
        }
        let mut asks = Vec::with_capacity(n);
        let mut p = self.last;
        for i in 0..n {
            p = super::round9(p + self.instrument.tick_at(p + 1e-9));
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
