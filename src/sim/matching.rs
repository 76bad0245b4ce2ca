//! The simulator's market: the known instruments (their table is in
//! [`instrument`](super::instrument), re-exported here), a deterministic seeded price
//! path per instrument, and the rules that decide when an order trades.
//!
//! Nothing here knows about accounts or the protocol. The broker asks two questions:
//! "what does this instrument cost now?" ([`Market::price`]) and "does this order trade
//! at this price, and at what price?" ([`evaluate`]).
//!
//! Prices move only when the broker calls [`Market::tick`] or [`Market::set_price`].
//! A market fed by a [`Tape`] (the broker's: [`Market::with_seeded_tape`] or
//! [`Market::set_tape`]) reads the tape at the market clock's now on every tick, so
//! the price an order fills at is the price the market data shows and the one its bars
//! contain. `set_price` is an override on top of the tape: it sets the price at once,
//! and later ticks follow the tape's moves from there (the tape's price times the ratio
//! `set price / tape price` at the moment it was set; a new `set_price` replaces the
//! ratio). Without a tape (a bare [`Market::new`]) a tick is a random walk drawn from a
//! SplitMix64 generator seeded by the configuration seed and the code, so the same seed
//! gives the same path on every machine.
//!
//! ```
//! use ftapi::sim::matching::Market;
//! let mut m = Market::new(Market::default_instruments(), 7).unwrap();
//! let p0 = m.price_of("HK.00700").unwrap();
//! m.tick();
//! let p1 = m.price_of("HK.00700").unwrap();
//! let mut again = Market::new(Market::default_instruments(), 7).unwrap();
//! again.tick();
//! assert_eq!(again.price_of("HK.00700"), Some(p1));
//! assert!(p0 > 0.0 && p1 > 0.0);
//! ```

use std::sync::Arc;

use crate::sim::calendar::MarketClock;
use crate::sim::instrument::default_currency;
use crate::sim::tape::clock::Calendar;
use crate::sim::tape::history::SeededTape;
use crate::sim::tape::{tape_time, Tape};

pub use crate::sim::instrument::{
    currency, currency_of_name, round_to, sec_market, sec_market_of_prefix, sec_market_of_qot_market,
    sec_market_prefix, split_full_code, trd_market, truncate_to, Instrument, InstrumentKind, InstrumentSpec,
};

/// `Trd_Common.OrderType` values the matching rules know (from [`crate::types::OrderType`]).
pub mod order_type {
    use crate::types::OrderType;

    /// Limit (enhanced limit in HK).
    pub const NORMAL: i32 = OrderType::Normal.value();
    /// Market.
    pub const MARKET: i32 = OrderType::Market.value();
    /// HK absolute limit.
    pub const ABSOLUTE_LIMIT: i32 = OrderType::AbsoluteLimit.value();
    /// HK auction (market in the auction).
    pub const AUCTION: i32 = OrderType::Auction.value();
    /// HK auction limit.
    pub const AUCTION_LIMIT: i32 = OrderType::AuctionLimit.value();
    /// HK special limit (fill and kill).
    pub const SPECIAL_LIMIT: i32 = OrderType::SpecialLimit.value();
    /// HK special limit, all or nothing.
    pub const SPECIAL_LIMIT_ALL: i32 = OrderType::SpecialLimitAll.value();
    /// Stop (market once triggered).
    pub const STOP: i32 = OrderType::Stop.value();
    /// Stop limit.
    pub const STOP_LIMIT: i32 = OrderType::StopLimit.value();
    /// Market if touched.
    pub const MARKET_IF_TOUCHED: i32 = OrderType::MarketIfTouched.value();
    /// Limit if touched.
    pub const LIMIT_IF_TOUCHED: i32 = OrderType::LimitIfTouched.value();
    /// Trailing stop.
    pub const TRAILING_STOP: i32 = OrderType::TrailingStop.value();
    /// Trailing stop limit.
    pub const TRAILING_STOP_LIMIT: i32 = OrderType::TrailingStopLimit.value();
}

/// SplitMix64: a tiny, fully specified generator, so price paths do not depend on the
/// version of any random-number crate.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn next_signed_unit(&mut self) -> f64 {
        let bits = self.next_u64() >> 11; // 53 bits
        (bits as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// FNV-1a over the bytes, to mix the code into the seed.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

#[derive(Debug, Clone)]
struct Quote {
    instrument: Instrument,
    price: f64,
    rng: SplitMix64,
    /// The override ratio on top of the tape (1 = the tape's price).
    ratio: f64,
}

/// A tape and the clock it is read on.
#[derive(Clone)]
struct Feed {
    tape: Arc<dyn Tape>,
    clock: MarketClock,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").field("clock", &self.clock).finish_non_exhaustive()
    }
}

impl Feed {
    fn price(&self, i: &Instrument) -> Option<f64> {
        let t = tape_time(Some(&self.clock), Calendar::of(i.sec_market));
        self.tape.price_at(&i.full_code(), t).filter(|p| p.is_finite() && *p > 0.0)
    }
}

/// The simulated market: every known instrument and its current price.
#[derive(Debug, Clone)]
pub struct Market {
    quotes: Vec<Quote>,
    ticks: u64,
    feed: Option<Feed>,
}

impl Market {
    /// The built-in instrument table: HK stocks (00700, 09988, 00005, 03690, 02800),
    /// US stocks (AAPL, TSLA, MSFT, NVDA), three AAPL options, A-shares (SH.600519,
    /// SH.601318, SZ.000001) and futures (HK.HSImain, HK.MHImain, US.ESmain, US.NQmain,
    /// SG.CNmain).
    pub fn default_instruments() -> Vec<Instrument> {
        const STOCK: InstrumentKind = InstrumentKind::Stock;
        const OPTION: InstrumentKind = InstrumentKind::Option;
        const FUTURE: InstrumentKind = InstrumentKind::Future;
        let mk =
            |sec: i32, code: &str, name: &str, kind, lot: f64, mult: f64, price: f64, tick: Option<f64>| Instrument {
                sec_market: sec,
                code: code.to_string(),
                name: name.to_string(),
                kind,
                lot_size: lot,
                multiplier: mult,
                currency: default_currency(sec),
                start_price: price,
                tick,
                volatility: if kind == FUTURE { 0.0005 } else { 0.001 },
            };
        use sec_market::*;
        vec![
            mk(HK, "00700", "TENCENT", STOCK, 100.0, 1.0, 380.0, None),
            mk(HK, "09988", "BABA-W", STOCK, 100.0, 1.0, 85.0, None),
            mk(HK, "00005", "HSBC HOLDINGS", STOCK, 400.0, 1.0, 65.0, None),
            mk(HK, "03690", "MEITUAN-W", STOCK, 100.0, 1.0, 130.0, None),
            mk(HK, "02800", "TRACKER FUND", STOCK, 500.0, 1.0, 18.0, None),
            mk(US, "AAPL", "Apple", STOCK, 1.0, 1.0, 190.0, None),
            mk(US, "TSLA", "Tesla", STOCK, 1.0, 1.0, 250.0, None),
            mk(US, "MSFT", "Microsoft", STOCK, 1.0, 1.0, 420.0, None),
            mk(US, "NVDA", "NVIDIA", STOCK, 1.0, 1.0, 120.0, None),
            mk(US, "AAPL271217C200000", "AAPL 271217 200.00C", OPTION, 1.0, 100.0, 25.0, None),
            mk(US, "AAPL271217C220000", "AAPL 271217 220.00C", OPTION, 1.0, 100.0, 18.0, None),
            mk(US, "AAPL271217P180000", "AAPL 271217 180.00P", OPTION, 1.0, 100.0, 12.0, None),
            mk(CN_SH, "600519", "Kweichow Moutai", STOCK, 100.0, 1.0, 1600.0, None),
            mk(CN_SH, "601318", "Ping An Insurance", STOCK, 100.0, 1.0, 45.0, None),
            mk(CN_SZ, "000001", "Ping An Bank", STOCK, 100.0, 1.0, 11.0, None),
            mk(HK, "HSImain", "HSI Future Main", FUTURE, 1.0, 50.0, 19500.0, Some(1.0)),
            mk(HK, "MHImain", "Mini HSI Future Main", FUTURE, 1.0, 10.0, 19500.0, Some(1.0)),
            mk(US, "ESmain", "E-mini S&P 500 Main", FUTURE, 1.0, 50.0, 5200.0, Some(0.25)),
            mk(US, "NQmain", "E-mini Nasdaq-100 Main", FUTURE, 1.0, 20.0, 18000.0, Some(0.25)),
            mk(SG, "CNmain", "FTSE China A50 Main", FUTURE, 1.0, 1.0, 12500.0, Some(1.0)),
        ]
    }

    /// A market over `instruments`, seeded with `seed`. Fails on a duplicate code.
    pub fn new(instruments: Vec<Instrument>, seed: u64) -> Result<Market, String> {
        let mut quotes: Vec<Quote> = Vec::with_capacity(instruments.len());
        for instrument in instruments {
            if quotes
                .iter()
                .any(|q| q.instrument.sec_market == instrument.sec_market && q.instrument.code == instrument.code)
            {
                return Err(format!("duplicate instrument {}", instrument.full_code()));
            }
            let rng = SplitMix64(seed ^ fnv1a(instrument.full_code().as_bytes()));
            let price = instrument.snap(instrument.start_price, false).max(instrument.tick_at(instrument.start_price));
            quotes.push(Quote { instrument, price, rng, ratio: 1.0 });
        }
        Ok(Market { quotes, ticks: 0, feed: None })
    }

    /// This market fed by the seeded tape of its instruments ([`SeededTape`], seeded
    /// with `seed`) read on `clock`: the default market of the broker.
    pub fn with_seeded_tape(mut self, seed: u64, clock: MarketClock) -> Market {
        let instruments: Vec<Instrument> = self.instruments().cloned().collect();
        let tape = SeededTape::new(&instruments, seed, |i| tape_time(Some(&clock), Calendar::of(i.sec_market)));
        self.set_tape(Arc::new(tape), clock);
        self
    }

    /// Feeds this market from `tape` read on `clock` (the one place a tape plugs into
    /// the broker). The current prices stay; they become overrides of the tape's (see
    /// the module docs), so the next tick moves on from them.
    pub fn set_tape(&mut self, tape: Arc<dyn Tape>, clock: MarketClock) {
        let feed = Feed { tape, clock };
        for q in &mut self.quotes {
            q.ratio = feed.price(&q.instrument).map(|t| q.price / t).unwrap_or(1.0);
        }
        self.feed = Some(feed);
    }

    /// Drops every `set_price` override: each price is the tape's from the next tick
    /// on (a replay's prices are the recorded ones, whatever the prices were before).
    pub fn clear_overrides(&mut self) {
        for q in &mut self.quotes {
            q.ratio = 1.0;
        }
    }

    /// The clock this market's tape is read on, if it has a tape.
    pub fn clock(&self) -> Option<MarketClock> {
        self.feed.as_ref().map(|f| f.clock)
    }

    /// The tape this market reads, if any.
    pub fn tape(&self) -> Option<Arc<dyn Tape>> {
        self.feed.as_ref().map(|f| f.tape.clone())
    }

    /// How many ticks have been applied.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Every instrument, in table order.
    pub fn instruments(&self) -> impl Iterator<Item = &Instrument> {
        self.quotes.iter().map(|q| &q.instrument)
    }

    fn index(&self, sec_market: i32, code: &str) -> Option<usize> {
        self.quotes.iter().position(|q| q.instrument.sec_market == sec_market && q.instrument.code == code)
    }

    /// Finds an instrument by `TrdSecMarket` and bare code.
    pub fn find(&self, sec_market: i32, code: &str) -> Option<&Instrument> {
        self.index(sec_market, code).map(|i| &self.quotes[i].instrument)
    }

    /// Finds instruments by bare code in any market.
    pub fn find_any(&self, code: &str) -> Vec<&Instrument> {
        self.quotes.iter().map(|q| &q.instrument).filter(|i| i.code == code).collect()
    }

    /// Current price of an instrument.
    pub fn price(&self, sec_market: i32, code: &str) -> Option<f64> {
        self.index(sec_market, code).map(|i| self.quotes[i].price)
    }

    /// Current price by market-prefixed code (`"US.AAPL"`).
    pub fn price_of(&self, full_code: &str) -> Option<f64> {
        let (sec, code) = split_full_code(full_code)?;
        self.price(sec, code)
    }

    /// Sets a price (snapped down to the tick grid, at least one tick). Returns the
    /// price actually set, or `None` for an unknown instrument or a price that is not
    /// in (0, 1e9], the range limit prices must be in too.
    pub fn set_price(&mut self, sec_market: i32, code: &str, price: f64) -> Option<f64> {
        // Far larger prices overflow the tick arithmetic to infinity.
        if !(price.is_finite() && price > 0.0 && price <= 1e9) {
            return None;
        }
        let i = self.index(sec_market, code)?;
        let q = &mut self.quotes[i];
        let p = q.instrument.snap(price, false).max(q.instrument.tick_at(price));
        q.price = p;
        if let Some(t) = self.feed.as_ref().and_then(|f| f.price(&q.instrument)) {
            q.ratio = p / t;
        }
        Some(p)
    }

    /// Advances every price by one step: reads the tape at the clock's now (times the
    /// override ratio), or takes one random-walk step without a tape.
    pub fn tick(&mut self) {
        self.ticks += 1;
        for q in &mut self.quotes {
            if let Some(feed) = &self.feed {
                if let Some(t) = feed.price(&q.instrument) {
                    let raw = t * q.ratio;
                    let tick = q.instrument.tick_at(raw);
                    q.price = round_to((raw / tick).round() * tick, 9).max(tick);
                }
                continue;
            }
            let step = q.rng.next_signed_unit() * q.instrument.volatility;
            let raw = q.price * (1.0 + step);
            let tick = q.instrument.tick_at(raw);
            // Round to the nearest tick, never below one tick.
            let p = round_to((raw / tick).round() * tick, 9).max(tick);
            q.price = p;
        }
    }
}

/// Buy or sell, as the matching rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Buy (also BuyBack).
    Buy,
    /// Sell (also SellShort).
    Sell,
}

impl Side {
    /// From a `TrdSide` number (1 Buy, 2 Sell, 3 SellShort, 4 BuyBack).
    pub fn from_trd_side(v: i32) -> Option<Side> {
        use crate::types::TrdSide;
        match TrdSide::from_value(v) {
            TrdSide::Buy | TrdSide::BuyBack => Some(Side::Buy),
            TrdSide::Sell | TrdSide::SellShort => Some(Side::Sell),
            _ => None,
        }
    }

    /// +1 for buys, -1 for sells.
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }
}

/// The parts of an order that decide whether and where it trades.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderTerms {
    /// Direction.
    pub side: Side,
    /// `OrderType` number.
    pub order_type: i32,
    /// Limit price (ignored for market-like types).
    pub price: f64,
    /// Trigger price for stop / if-touched types.
    pub aux_price: Option<f64>,
    /// `TrailType` (1 ratio in percent, 2 amount).
    pub trail_type: Option<i32>,
    /// Trail amount or percentage.
    pub trail_value: Option<f64>,
    /// Limit offset from the trailing stop price (trailing stop limit).
    pub trail_spread: Option<f64>,
}

/// Trigger state an order carries between evaluations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TriggerState {
    /// The trigger condition has been met (stop / if-touched / trailing types).
    pub triggered: bool,
    /// Best price seen since placement (trailing types).
    pub watermark: Option<f64>,
    /// Limit price fixed at trigger time (trailing stop limit).
    pub limit: Option<f64>,
}

/// Whether `order_type` is one the simulator's matching rules support.
pub fn is_supported(order_type: i32) -> bool {
    use order_type::*;
    matches!(
        order_type,
        NORMAL
            | MARKET
            | ABSOLUTE_LIMIT
            | AUCTION
            | AUCTION_LIMIT
            | SPECIAL_LIMIT
            | SPECIAL_LIMIT_ALL
            | STOP
            | STOP_LIMIT
            | MARKET_IF_TOUCHED
            | LIMIT_IF_TOUCHED
            | TRAILING_STOP
            | TRAILING_STOP_LIMIT
    )
}

/// Whether the order type carries a limit price that must be positive.
pub fn needs_limit_price(order_type: i32) -> bool {
    use order_type::*;
    matches!(
        order_type,
        NORMAL | ABSOLUTE_LIMIT | AUCTION_LIMIT | SPECIAL_LIMIT | SPECIAL_LIMIT_ALL | STOP_LIMIT | LIMIT_IF_TOUCHED
    )
}

/// Whether the order type needs `auxPrice` (a trigger).
pub fn needs_aux_price(order_type: i32) -> bool {
    use order_type::*;
    matches!(order_type, STOP | STOP_LIMIT | MARKET_IF_TOUCHED | LIMIT_IF_TOUCHED)
}

/// Whether the order type is a trailing type (needs `trailType` and `trailValue`).
pub fn is_trailing(order_type: i32) -> bool {
    matches!(order_type, order_type::TRAILING_STOP | order_type::TRAILING_STOP_LIMIT)
}

/// Whether an order of this type, once it trades, takes the whole quantity at once
/// (market-like) rather than in chunks.
pub fn fills_at_once(order_type: i32) -> bool {
    use order_type::*;
    matches!(order_type, MARKET | AUCTION | STOP | MARKET_IF_TOUCHED | TRAILING_STOP)
}

fn limit_crosses(side: Side, limit: f64, market: f64) -> bool {
    match side {
        Side::Buy => market <= limit + 1e-9,
        Side::Sell => market >= limit - 1e-9,
    }
}

/// Decides whether an order trades at `market`: returns the fill price (always the
/// market price: a crossing limit order gets the better price) or `None` to keep
/// waiting. Updates trigger state (trailing watermarks, triggers).
pub fn evaluate(terms: &OrderTerms, state: &mut TriggerState, market: f64) -> Option<f64> {
    use order_type::*;
    let t = terms.order_type;
    match t {
        MARKET | AUCTION => Some(market),
        NORMAL | ABSOLUTE_LIMIT | AUCTION_LIMIT | SPECIAL_LIMIT | SPECIAL_LIMIT_ALL => {
            limit_crosses(terms.side, terms.price, market).then_some(market)
        }
        STOP | STOP_LIMIT | MARKET_IF_TOUCHED | LIMIT_IF_TOUCHED => {
            if !state.triggered {
                let aux = terms.aux_price?;
                let stop_like = matches!(t, STOP | STOP_LIMIT);
                let hit = match (terms.side, stop_like) {
                    (Side::Buy, true) | (Side::Sell, false) => market >= aux - 1e-9,
                    (Side::Sell, true) | (Side::Buy, false) => market <= aux + 1e-9,
                };
                if !hit {
                    return None;
                }
                state.triggered = true;
            }
            if matches!(t, STOP | MARKET_IF_TOUCHED) {
                Some(market)
            } else {
                limit_crosses(terms.side, terms.price, market).then_some(market)
            }
        }
        TRAILING_STOP | TRAILING_STOP_LIMIT => {
            if !state.triggered {
                let value = terms.trail_value?;
                let wm = match (state.watermark, terms.side) {
                    (None, _) => market,
                    (Some(w), Side::Sell) => w.max(market),
                    (Some(w), Side::Buy) => w.min(market),
                };
                state.watermark = Some(wm);
                let ratio = terms.trail_type == Some(1);
                let stop = match (terms.side, ratio) {
                    (Side::Sell, true) => wm * (1.0 - value / 100.0),
                    (Side::Sell, false) => wm - value,
                    (Side::Buy, true) => wm * (1.0 + value / 100.0),
                    (Side::Buy, false) => wm + value,
                };
                let hit = match terms.side {
                    Side::Sell => market <= stop + 1e-9,
                    Side::Buy => market >= stop - 1e-9,
                };
                if !hit {
                    return None;
                }
                state.triggered = true;
                let spread = terms.trail_spread.unwrap_or(0.0);
                state.limit = Some(match terms.side {
                    Side::Sell => stop - spread,
                    Side::Buy => stop + spread,
                });
            }
            if t == TRAILING_STOP {
                Some(market)
            } else {
                let limit = state.limit.unwrap_or(terms.price);
                limit_crosses(terms.side, limit, market).then_some(market)
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::instrument::hk_spread;

    fn terms(side: Side, t: i32, price: f64) -> OrderTerms {
        OrderTerms {
            side,
            order_type: t,
            price,
            aux_price: None,
            trail_type: None,
            trail_value: None,
            trail_spread: None,
        }
    }

    #[test]
    fn hk_spread_table() {
        let m = Market::new(Market::default_instruments(), 1).unwrap();
        let tencent = m.find(sec_market::HK, "00700").unwrap();
        assert_eq!(tencent.tick_at(380.0), 0.2);
        assert!(tencent.on_tick(380.2));
        assert!(!tencent.on_tick(380.1));
        assert_eq!(tencent.snap(380.1, true), 380.2);
        assert_eq!(tencent.snap(380.1, false), 380.0);
        assert_eq!(hk_spread(10.0), 0.01);
        assert_eq!(hk_spread(10.02), 0.02);
    }

    #[test]
    fn limit_and_stop_rules() {
        let mut st = TriggerState::default();
        assert_eq!(evaluate(&terms(Side::Buy, 1, 100.0), &mut st, 101.0), None);
        assert_eq!(evaluate(&terms(Side::Buy, 1, 100.0), &mut st, 99.0), Some(99.0));
        assert_eq!(evaluate(&terms(Side::Sell, 1, 100.0), &mut st, 99.0), None);
        let mut stop = terms(Side::Sell, order_type::STOP, 0.0);
        stop.aux_price = Some(95.0);
        let mut st = TriggerState::default();
        assert_eq!(evaluate(&stop, &mut st, 96.0), None);
        assert_eq!(evaluate(&stop, &mut st, 94.0), Some(94.0));
        assert!(st.triggered);
    }

    #[test]
    fn trailing_stop_follows_the_high() {
        let mut t = terms(Side::Sell, order_type::TRAILING_STOP, 0.0);
        t.trail_type = Some(2);
        t.trail_value = Some(5.0);
        let mut st = TriggerState::default();
        assert_eq!(evaluate(&t, &mut st, 100.0), None);
        assert_eq!(evaluate(&t, &mut st, 110.0), None);
        assert_eq!(evaluate(&t, &mut st, 106.0), None);
        assert_eq!(evaluate(&t, &mut st, 105.0), Some(105.0));
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate_to(1.23456, 3), 1.234);
        assert_eq!(truncate_to(1.005, 3), 1.005);
        assert_eq!(truncate_to(100.9, 0), 100.0);
    }
}
