//! The instrument table: what the simulator can trade and quote (markets, codes,
//! kinds, lots, currencies, price ticks) and the configured instrument specs.
//!
//! The lowest layer of the simulator's market model with [`calendar`](super::calendar):
//! it imports nothing of the simulator above them. [`matching`](super::matching)
//! re-exports its public items, so `ftapi::sim::matching::Instrument` and the rest keep their
//! paths.

use serde::{Deserialize, Serialize};

/// `Trd_Common.TrdSecMarket` values used by the instrument table (from [`crate::types::TrdSecMarket`]).
pub mod sec_market {
    use crate::types::TrdSecMarket;

    /// Hong Kong.
    pub const HK: i32 = TrdSecMarket::Hk.value();
    /// United States.
    pub const US: i32 = TrdSecMarket::Us.value();
    /// Shanghai A-shares.
    pub const CN_SH: i32 = TrdSecMarket::CnSh.value();
    /// Shenzhen A-shares.
    pub const CN_SZ: i32 = TrdSecMarket::CnSz.value();
    /// Singapore.
    pub const SG: i32 = TrdSecMarket::Sg.value();
    /// Japan.
    pub const JP: i32 = TrdSecMarket::Jp.value();
}

/// `Trd_Common.TrdMarket` values the simulator uses (from [`crate::types::TrdMarket`]).
pub mod trd_market {
    use crate::types::TrdMarket;

    /// Hong Kong securities.
    pub const HK: i32 = TrdMarket::Hk.value();
    /// US securities.
    pub const US: i32 = TrdMarket::Us.value();
    /// A-shares (simulated trading).
    pub const CN: i32 = TrdMarket::Cn.value();
    /// A-shares through Stock Connect (real trading).
    pub const HKCC: i32 = TrdMarket::Hkcc.value();
    /// Futures (real trading).
    pub const FUTURES: i32 = TrdMarket::Futures.value();
    /// Singapore securities.
    pub const SG: i32 = TrdMarket::Sg.value();
    /// Simulated HK futures.
    pub const FUTURES_SIMULATE_HK: i32 = TrdMarket::FuturesSimulateHk.value();
    /// Simulated US futures.
    pub const FUTURES_SIMULATE_US: i32 = TrdMarket::FuturesSimulateUs.value();
    /// Simulated SG futures.
    pub const FUTURES_SIMULATE_SG: i32 = TrdMarket::FuturesSimulateSg.value();
    /// Simulated JP futures.
    pub const FUTURES_SIMULATE_JP: i32 = TrdMarket::FuturesSimulateJp.value();
    /// Japan securities.
    pub const JP: i32 = TrdMarket::Jp.value();
}

/// `Trd_Common.Currency` values the simulator uses (from [`crate::types::Currency`]).
pub mod currency {
    use crate::types::Currency;

    /// Hong Kong dollar.
    pub const HKD: i32 = Currency::Hkd.value();
    /// US dollar.
    pub const USD: i32 = Currency::Usd.value();
    /// Offshore renminbi.
    pub const CNH: i32 = Currency::Cnh.value();
    /// Japanese yen.
    pub const JPY: i32 = Currency::Jpy.value();
    /// Singapore dollar.
    pub const SGD: i32 = Currency::Sgd.value();

    /// HKD per one unit of `ccy` (fixed simulator rates); `None` for an unknown currency.
    pub fn hkd_rate(ccy: i32) -> Option<f64> {
        match ccy {
            HKD => Some(1.0),
            USD => Some(7.8),
            CNH => Some(1.08),
            JPY => Some(0.052),
            SGD => Some(5.8),
            _ => None,
        }
    }

    /// Converts `amount` from currency `from` to currency `to` (unknown currencies
    /// count as HKD).
    pub fn convert(amount: f64, from: i32, to: i32) -> f64 {
        if from == to {
            return amount;
        }
        let f = hkd_rate(from).unwrap_or(1.0);
        let t = hkd_rate(to).unwrap_or(1.0);
        amount * f / t
    }
}

/// What kind of thing an instrument is (decides margining and order routing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstrumentKind {
    /// A stock, ETF or warrant: bought with cash, no short selling in the simulator.
    Stock,
    /// An option contract (quantity in contracts, value = qty x price x multiplier).
    Option,
    /// A futures contract: margined, long and short positions.
    Future,
}

/// One tradable instrument.
#[derive(Debug, Clone, PartialEq)]
pub struct Instrument {
    /// `TrdSecMarket` of the code.
    pub sec_market: i32,
    /// The bare code as it travels in `code` fields (`00700`, `AAPL`, `HSImain`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: InstrumentKind,
    /// Board lot: order quantities must be a multiple of it.
    pub lot_size: f64,
    /// Contract multiplier (1 for stocks).
    pub multiplier: f64,
    /// `Currency` the instrument trades in.
    pub currency: i32,
    /// Price at start.
    pub start_price: f64,
    /// Fixed price tick; `None` = the market's rule (HK spread table, else 0.01).
    pub tick: Option<f64>,
    /// Relative size of one random-walk step (0.001 = at most 0.1 % per tick).
    pub volatility: f64,
}

/// The prefix the SDKs put before a code for a `TrdSecMarket` (`HK`, `US`, `SH`, ...).
pub fn sec_market_prefix(sec_market: i32) -> Option<&'static str> {
    Some(match sec_market {
        sec_market::HK => "HK",
        sec_market::US => "US",
        sec_market::CN_SH => "SH",
        sec_market::CN_SZ => "SZ",
        sec_market::SG => "SG",
        sec_market::JP => "JP",
        _ => return None,
    })
}

/// The `TrdSecMarket` of an SDK code prefix.
pub fn sec_market_of_prefix(prefix: &str) -> Option<i32> {
    Some(match prefix.to_ascii_uppercase().as_str() {
        "HK" | "HK_FUTURE" => sec_market::HK,
        "US" => sec_market::US,
        "SH" => sec_market::CN_SH,
        "SZ" => sec_market::CN_SZ,
        "SG" => sec_market::SG,
        "JP" => sec_market::JP,
        _ => return None,
    })
}

/// The `TrdSecMarket` of a `Qot_Common.QotMarket` value.
pub fn sec_market_of_qot_market(qot_market: i32) -> Option<i32> {
    use crate::types::QotMarket as Q;
    Some(match Q::from_value(qot_market) {
        Q::HkSecurity | Q::HkFuture => sec_market::HK,
        Q::UsSecurity => sec_market::US,
        Q::CnshSecurity => sec_market::CN_SH,
        Q::CnszSecurity => sec_market::CN_SZ,
        Q::SgSecurity => sec_market::SG,
        Q::JpSecurity => sec_market::JP,
        _ => return None,
    })
}

/// Splits `"HK.00700"` into `(HK, "00700")`.
pub fn split_full_code(full: &str) -> Option<(i32, &str)> {
    let (prefix, code) = full.split_once('.')?;
    if code.is_empty() {
        return None;
    }
    Some((sec_market_of_prefix(prefix)?, code))
}

impl Instrument {
    /// The market-prefixed code, e.g. `HK.00700`.
    pub fn full_code(&self) -> String {
        format!("{}.{}", sec_market_prefix(self.sec_market).unwrap_or("XX"), self.code)
    }

    /// The `TrdMarket` values under which this instrument may be traded.
    pub fn trd_markets(&self) -> &'static [i32] {
        use trd_market as t;
        match (self.kind, self.sec_market) {
            (InstrumentKind::Future, sec_market::HK) => &[t::FUTURES, t::FUTURES_SIMULATE_HK],
            (InstrumentKind::Future, sec_market::US) => &[t::FUTURES, t::FUTURES_SIMULATE_US],
            (InstrumentKind::Future, sec_market::SG) => &[t::FUTURES, t::FUTURES_SIMULATE_SG],
            (InstrumentKind::Future, sec_market::JP) => &[t::FUTURES, t::FUTURES_SIMULATE_JP],
            (InstrumentKind::Future, _) => &[t::FUTURES],
            (_, sec_market::HK) => &[t::HK],
            (_, sec_market::US) => &[t::US],
            (_, sec_market::CN_SH) | (_, sec_market::CN_SZ) => &[t::HKCC, t::CN],
            (_, sec_market::SG) => &[t::SG],
            (_, sec_market::JP) => &[t::JP],
            _ => &[],
        }
    }

    /// The price tick at `price`.
    pub fn tick_at(&self, price: f64) -> f64 {
        if let Some(t) = self.tick {
            return t;
        }
        if self.sec_market == sec_market::HK && self.kind == InstrumentKind::Stock {
            hk_spread(price)
        } else {
            0.01
        }
    }

    /// Whether `price` lies on the tick grid (within floating-point noise).
    pub fn on_tick(&self, price: f64) -> bool {
        let tick = self.tick_at(price);
        let steps = price / tick;
        (steps - steps.round()).abs() < 1e-6
    }

    /// Snaps `price` to the tick grid: `up` rounds up, else down.
    pub fn snap(&self, price: f64, up: bool) -> f64 {
        let tick = self.tick_at(price);
        let steps = price / tick;
        let steps = if (steps - steps.round()).abs() < 1e-6 {
            steps.round()
        } else if up {
            steps.ceil()
        } else {
            steps.floor()
        };
        round_to(steps * tick, 9)
    }

    /// The calendar (sessions and time zone) this instrument trades on.
    pub fn cal_market(&self) -> crate::sim::calendar::CalMarket {
        use crate::sim::calendar::CalMarket as C;
        match (self.kind, self.sec_market) {
            (InstrumentKind::Future, sec_market::US) => C::UsFuture,
            (InstrumentKind::Future, sec_market::SG) => C::SgFuture,
            (InstrumentKind::Future, sec_market::JP) => C::JpFuture,
            (InstrumentKind::Future, _) => C::HkFuture,
            (_, sec_market::US) => C::UsStock,
            (_, sec_market::CN_SH) | (_, sec_market::CN_SZ) => C::CnStock,
            (_, sec_market::SG) => C::SgStock,
            (_, sec_market::JP) => C::JpStock,
            _ => C::HkStock,
        }
    }

    /// Decimals used when truncating prices (3 for securities, 9 for futures).
    pub fn price_decimals(&self) -> i32 {
        if self.kind == InstrumentKind::Future {
            9
        } else {
            3
        }
    }
}

/// The HK stock spread table (price tick by price band).
pub(crate) fn hk_spread(price: f64) -> f64 {
    const BANDS: &[(f64, f64)] = &[
        (0.25, 0.001),
        (0.5, 0.005),
        (10.0, 0.01),
        (20.0, 0.02),
        (100.0, 0.05),
        (200.0, 0.1),
        (500.0, 0.2),
        (1000.0, 0.5),
        (2000.0, 1.0),
        (5000.0, 2.0),
    ];
    for (upper, tick) in BANDS {
        // A price equal to a band's upper bound uses the finer tick below it.
        if price <= *upper + 1e-9 {
            return *tick;
        }
    }
    5.0
}

/// Rounds `v` to `decimals` places (half away from zero).
pub fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// Rounds to 9 decimals (removes floating-point noise from tick arithmetic).
pub(crate) fn round9(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

/// Truncates `v` towards zero to `decimals` places (with a little slack so that
/// `1.005` written as `1.00499999` survives).
pub fn truncate_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    let scaled = v * f;
    let r = scaled.round();
    if (scaled - r).abs() < 1e-6 {
        r / f
    } else {
        scaled.trunc() / f
    }
}

/// An instrument as written in an accounts file (`"instruments": [...]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentSpec {
    /// Market-prefixed code, e.g. `"HK.01810"`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Kind (default `STOCK`).
    #[serde(default = "default_kind")]
    pub kind: InstrumentKind,
    /// Board lot (default 1).
    #[serde(default = "one")]
    pub lot_size: f64,
    /// Contract multiplier (default 1).
    #[serde(default = "one")]
    pub multiplier: f64,
    /// Starting price.
    pub price: f64,
    /// Currency name (`HKD`, `USD`, `CNH`, `JPY`, `SGD`); default by market.
    #[serde(default)]
    pub currency: Option<String>,
    /// Fixed tick; default by market.
    #[serde(default)]
    pub tick: Option<f64>,
    /// Random-walk step size (default 0.001).
    #[serde(default)]
    pub volatility: Option<f64>,
}

fn default_kind() -> InstrumentKind {
    InstrumentKind::Stock
}

fn one() -> f64 {
    1.0
}

/// Currency number from its name.
pub fn currency_of_name(name: &str) -> Option<i32> {
    Some(match name.to_ascii_uppercase().as_str() {
        "HKD" => currency::HKD,
        "USD" => currency::USD,
        "CNH" | "CNY" => currency::CNH,
        "JPY" => currency::JPY,
        "SGD" => currency::SGD,
        _ => return None,
    })
}

pub(crate) fn default_currency(sec: i32) -> i32 {
    match sec {
        sec_market::US => currency::USD,
        sec_market::CN_SH | sec_market::CN_SZ => currency::CNH,
        sec_market::JP => currency::JPY,
        sec_market::SG => currency::USD,
        _ => currency::HKD,
    }
}

impl InstrumentSpec {
    /// Checks the spec and turns it into an [`Instrument`].
    pub fn to_instrument(&self) -> Result<Instrument, String> {
        let (sec, code) = split_full_code(&self.code)
            .ok_or_else(|| format!("instrument code {:?} is not of the form MARKET.CODE", self.code))?;
        let currency = match &self.currency {
            Some(c) => currency_of_name(c).ok_or_else(|| format!("unknown currency {c:?} for {}", self.code))?,
            None => default_currency(sec),
        };
        let finite_pos = |v: f64| v.is_finite() && v > 0.0;
        if !finite_pos(self.price) || !finite_pos(self.lot_size) || !finite_pos(self.multiplier) {
            return Err(format!("instrument {}: price, lot_size and multiplier must be > 0", self.code));
        }
        if let Some(t) = self.tick {
            if !finite_pos(t) {
                return Err(format!("instrument {}: tick must be > 0", self.code));
            }
        }
        let volatility = self.volatility.unwrap_or(0.001);
        if !(volatility.is_finite() && (0.0..0.5).contains(&volatility)) {
            return Err(format!("instrument {}: volatility must be in [0, 0.5)", self.code));
        }
        Ok(Instrument {
            sec_market: sec,
            code: code.to_string(),
            name: self.name.clone(),
            kind: self.kind,
            lot_size: self.lot_size,
            multiplier: self.multiplier,
            currency,
            start_price: self.price,
            tick: self.tick,
            volatility,
        })
    }
}

/// The terms of an option, read from its OCC-style code (`AAPL271217C200000`: owner,
/// expiry `YYMMDD`, `C`/`P`, strike × 1000).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OptionTerms {
    /// The underlying's bare code.
    pub(crate) owner: String,
    /// The expiry day (day number).
    pub(crate) expiry_day: i64,
    /// A call (else a put).
    pub(crate) call: bool,
    /// The strike price.
    pub(crate) strike: f64,
}

/// The terms of `i` if it is an option with an OCC-style code.
pub(crate) fn option_terms(i: &Instrument) -> Option<OptionTerms> {
    if i.kind != InstrumentKind::Option {
        return None;
    }
    let code = i.code.as_str();
    let p = code.find(|c: char| c.is_ascii_digit())?;
    let (owner, rest) = code.split_at(p);
    if owner.is_empty() || rest.len() < 8 || !rest.is_char_boundary(6) || !rest.is_char_boundary(7) {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| rest.get(r).and_then(|s| s.parse::<u32>().ok());
    let (yy, mm, dd) = (digits(0..2)?, digits(2..4)?, digits(4..6)?);
    if !(1..=12).contains(&mm) || !(1..=31).contains(&dd) {
        return None;
    }
    let call = match rest.get(6..7)? {
        "C" => true,
        "P" => false,
        _ => return None,
    };
    let strike = rest.get(7..)?.parse::<u64>().ok()? as f64 / 1000.0;
    Some(OptionTerms {
        owner: owner.to_string(),
        expiry_day: crate::sim::calendar::days_from_civil(2000 + i64::from(yy), mm, dd),
        call,
        strike,
    })
}

/// The expiry day of an option (see [`option_terms`]).
pub(crate) fn option_expiry_day(i: &Instrument) -> Option<i64> {
    option_terms(i).map(|t| t.expiry_day)
}
