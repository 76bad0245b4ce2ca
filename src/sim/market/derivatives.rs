//! Derivatives the market data lists on top of the price source's instruments: monthly
//! option chains of a few underlyings (HK.00700, US.AAPL, US.TSLA) with strikes around
//! the underlying's price at start, HK warrants of HK.00700 and HK.09988, and the
//! requests about them (Qot_GetOptionExpirationDate, Qot_GetOptionChain,
//! Qot_GetOptionQuote, Qot_GetReference, Qot_GetWarrant) and about futures
//! (Qot_GetFutureInfo).
//!
//! The generated options and warrants are instruments of the quote side like any other
//! (quotes, order books, K-lines, snapshots, static info): `with_derivatives` wraps the
//! price source so that it lists them and prices them from their underlying's current
//! price (Black-Scholes, fixed volatility), so an option's quote follows its underlying.
//! Options the source already lists (the broker's AAPL options) keep the source's price
//! and join the chains. The broker does not trade the generated ones.

use std::sync::Arc;

use crate::pb::qot_common as qc;
use crate::sim::calendar::{civil_from_days, days_from_civil, is_trading_day, weekday, CalMarket};
use crate::sim::instrument::{round9, sec_market, Instrument, InstrumentKind};

use crate::sim::tape::clock::Calendar;
use crate::sim::PriceSource;

/// Underlyings with option chains: (market, code, option root, strike step, volatility).
const OPTIONABLE: &[(i32, &str, &str, f64, f64)] = &[
    (sec_market::HK, "00700", "TCH", 10.0, 0.32),
    (sec_market::US, "AAPL", "AAPL", 5.0, 0.28),
    (sec_market::US, "TSLA", "TSLA", 10.0, 0.55),
];
/// The underlying's code of an option root of [`OPTIONABLE`] (`TCH` → `00700`); `None`
/// for another root (whose options are then named after the underlying's code itself).
pub(crate) fn underlying_of_root(sec: i32, root: &str) -> Option<&'static str> {
    OPTIONABLE.iter().find(|(s, _, r, _, _)| *s == sec && *r == root).map(|(_, code, _, _, _)| *code)
}

/// Strikes listed on each side of the at-the-money strike.
const STRIKES_EACH_SIDE: i64 = 4;
/// Monthly expiries listed.
const EXPIRIES: usize = 3;
/// Risk-free rate of the pricing model.
const RATE: f64 = 0.02;

/// HK warrants: (code, underlying, call, strike / underlying's table price, issuer,
/// months to maturity).
const WARRANTS: &[(&str, &str, bool, f64, i32, i64)] = &[
    ("13001", "00700", true, 1.10, 1, 6),
    ("13002", "00700", false, 0.90, 6, 6),
    ("13003", "00700", true, 1.25, 7, 12),
    ("13004", "00700", false, 0.80, 8, 12),
    ("13011", "09988", true, 1.10, 1, 6),
    ("13012", "09988", false, 0.90, 11, 6),
];
/// Whether `i` is one of the simulator's HK warrants (security type Warrant).
pub fn is_warrant(i: &Instrument) -> bool {
    i.sec_market == sec_market::HK && WARRANTS.iter().any(|w| w.0 == i.code)
}

/// Warrants per share.
pub(crate) const WARRANT_RATIO: f64 = 10.0;

/// One option or warrant.
#[derive(Debug, Clone)]
pub struct Derivative {
    /// The instrument (an `Option`, or a `Stock` for a warrant).
    pub instrument: Instrument,
    /// The underlying's `TrdSecMarket`.
    pub under_sec: i32,
    /// The underlying's code.
    pub under_code: String,
    /// Call (or a call warrant).
    pub call: bool,
    /// Strike price.
    pub strike: f64,
    /// Expiry (maturity) day, days since the epoch.
    pub expiry: i64,
    /// Volatility of the pricing model.
    pub vol: f64,
    /// `Some(issuer)` for a warrant.
    pub issuer: Option<i32>,
    /// Priced by the model (false: the source prices it).
    pub modelled: bool,
}

impl Derivative {
    /// The model price for an underlying at `s` (per warrant for warrants).
    pub fn model_price(&self, s: f64, today: i64) -> f64 {
        let g = greeks(s, self.strike, self.years(today), self.vol, self.call);
        let per = if self.issuer.is_some() { WARRANT_RATIO } else { 1.0 };
        g.price / per
    }

    pub(crate) fn years(&self, today: i64) -> f64 {
        ((self.expiry - today) as f64).max(0.5) / 365.0
    }
}

/// The derivatives listed by the simulator.
#[derive(Debug, Clone, Default)]
pub struct Derivatives {
    /// The day (HK local) the universe was drawn on.
    pub today: i64,
    /// Every option and warrant.
    pub list: Vec<Derivative>,
}

impl Derivatives {
    pub(crate) fn get(&self, sec: i32, code: &str) -> Option<&Derivative> {
        self.list.iter().find(|d| d.instrument.sec_market == sec && d.instrument.code == code)
    }
}

/// A price source that also lists and prices the derivatives.
struct WithDerivatives {
    base: Arc<dyn PriceSource>,
    derivs: Arc<Derivatives>,
}

impl PriceSource for WithDerivatives {
    fn instruments(&self) -> Vec<Instrument> {
        let mut v = self.base.instruments();
        v.extend(self.derivs.list.iter().filter(|d| d.modelled).map(|d| d.instrument.clone()));
        v
    }

    fn price(&self, sec: i32, code: &str) -> Option<f64> {
        if let Some(p) = self.base.price(sec, code) {
            return Some(p);
        }
        let d = self.derivs.get(sec, code)?;
        let s = self.base.price(d.under_sec, &d.under_code)?;
        Some(snap(&d.instrument, d.model_price(s, self.derivs.today)))
    }

    fn advance(&self) {
        self.base.advance();
    }

    fn market_clock(&self) -> Option<crate::sim::calendar::MarketClock> {
        self.base.market_clock()
    }

    fn tape(&self) -> Option<Arc<dyn crate::sim::tape::Tape>> {
        self.base.tape()
    }
}

fn snap(i: &Instrument, p: f64) -> f64 {
    let p = p.max(i.tick_at(p.max(0.0)));
    i.snap(p, false).max(i.tick_at(p))
}

/// Wraps `base` so that it also lists the derivatives (drawn around the prices `base`
/// shows now) and prices them; returns the derivatives too.
pub(crate) fn with_derivatives(base: Arc<dyn PriceSource>) -> (Arc<dyn PriceSource>, Arc<Derivatives>) {
    let now = base.market_clock().map(|c| c.now()).unwrap_or_else(crate::sim::calendar::wall_secs);
    let today = CalMarket::HkStock.local_day(now);
    let instruments = base.instruments();
    let has = |sec: i32, code: &str| instruments.iter().any(|i| i.sec_market == sec && i.code == code);
    let mut list = Vec::new();
    // The source's own options join the chains.
    for i in instruments.iter().filter(|i| i.kind == InstrumentKind::Option) {
        if let Some(d) = parse_option(i, false) {
            list.push(d);
        }
    }
    for &(sec, code, root, step, vol) in OPTIONABLE {
        let Some(s) = base.price(sec, code).filter(|_| has(sec, code)) else { continue };
        let atm = (s / step).round() * step;
        for expiry in monthly_expiries(sec, today, EXPIRIES) {
            for k in -STRIKES_EACH_SIDE..=STRIKES_EACH_SIDE {
                let strike = round9(atm + k as f64 * step);
                if strike <= 0.0 {
                    continue;
                }
                for call in [true, false] {
                    let code = option_code(root, expiry, call, strike);
                    if has(sec, &code) || list.iter().any(|d: &Derivative| d.instrument.code == code) {
                        continue;
                    }
                    let mut d = Derivative {
                        instrument: Instrument {
                            sec_market: sec,
                            name: option_name(root, expiry, call, strike),
                            code,
                            kind: InstrumentKind::Option,
                            lot_size: 1.0,
                            multiplier: 100.0,
                            currency: instruments
                                .iter()
                                .find(|i| i.sec_market == sec && i.code == code_of(sec, root))
                                .map(|i| i.currency)
                                .unwrap_or(0),
                            start_price: 0.0,
                            tick: Some(0.01),
                            volatility: 0.0,
                        },
                        under_sec: sec,
                        under_code: code_of(sec, root).to_string(),
                        call,
                        strike,
                        expiry,
                        vol,
                        issuer: None,
                        modelled: true,
                    };
                    d.instrument.start_price = snap(&d.instrument, d.model_price(s, today));
                    list.push(d);
                }
            }
        }
    }
    for &(code, under, call, k, issuer, months) in WARRANTS {
        let Some(u) = instruments.iter().find(|i| i.sec_market == sec_market::HK && i.code == under) else { continue };
        let Some(s) = base.price(sec_market::HK, under) else { continue };
        if has(sec_market::HK, code) {
            continue;
        }
        let strike = round9((u.start_price * k * 20.0).round() / 20.0);
        let expiry = month_end_trading_day(today, months);
        let (y, m, _) = civil_from_days(expiry);
        let mut d = Derivative {
            instrument: Instrument {
                sec_market: sec_market::HK,
                code: code.to_string(),
                name: format!(
                    "{} {}@E{}{:02}{:02}{}",
                    u.name.split_whitespace().next().unwrap_or("SIM"),
                    issuer_name(issuer),
                    if call { "C" } else { "P" },
                    y % 100,
                    m,
                    "A"
                ),
                kind: InstrumentKind::Stock,
                lot_size: 1000.0,
                multiplier: 1.0,
                currency: u.currency,
                start_price: 0.0,
                tick: None,
                volatility: 0.0,
            },
            under_sec: sec_market::HK,
            under_code: under.to_string(),
            call,
            strike,
            expiry,
            vol: 0.35,
            issuer: Some(issuer),
            modelled: true,
        };
        d.instrument.start_price = snap(&d.instrument, d.model_price(s, today));
        list.push(d);
    }
    let derivs = Arc::new(Derivatives { today, list });
    (Arc::new(WithDerivatives { base, derivs: derivs.clone() }), derivs)
}

fn code_of(sec: i32, root: &str) -> &'static str {
    OPTIONABLE.iter().find(|o| o.0 == sec && o.2 == root).map(|o| o.1).unwrap_or("")
}

fn option_code(root: &str, expiry: i64, call: bool, strike: f64) -> String {
    let (y, m, d) = civil_from_days(expiry);
    format!("{root}{:02}{m:02}{d:02}{}{}", y % 100, if call { 'C' } else { 'P' }, (strike * 1000.0).round() as i64)
}

fn option_name(root: &str, expiry: i64, call: bool, strike: f64) -> String {
    let (y, m, d) = civil_from_days(expiry);
    format!("{root} {:02}{m:02}{d:02} {strike:.2}{}", y % 100, if call { 'C' } else { 'P' })
}

/// An option of the source's table (`AAPL271217C200000`) as a chain member.
fn parse_option(i: &Instrument, modelled: bool) -> Option<Derivative> {
    let code = &i.code;
    let pos = code.find(|c: char| c.is_ascii_digit())?;
    let (root, rest) = code.split_at(pos);
    if rest.len() < 8 {
        return None;
    }
    let date = &rest[..6];
    let cp = rest.as_bytes()[6];
    let strike: f64 = rest[7..].parse::<f64>().ok()? / 1000.0;
    let y: i64 = 2000 + date[..2].parse::<i64>().ok()?;
    let m: u32 = date[2..4].parse().ok()?;
    let d: u32 = date[4..6].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let &(sec, under, _, _, vol) = OPTIONABLE.iter().find(|o| o.2 == root && o.0 == i.sec_market)?;
    Some(Derivative {
        instrument: i.clone(),
        under_sec: sec,
        under_code: under.to_string(),
        call: match cp {
            b'C' => true,
            b'P' => false,
            _ => return None,
        },
        strike,
        expiry: days_from_civil(y, m, d),
        vol,
        issuer: None,
        modelled,
    })
}

/// The next `n` monthly expiries after `today`: the third Friday (US) or the
/// second-to-last trading day of the month (HK).
fn monthly_expiries(sec: i32, today: i64, n: usize) -> Vec<i64> {
    let (mut y, mut m, _) = civil_from_days(today);
    let mut out = Vec::new();
    while out.len() < n {
        let first = days_from_civil(y, m, 1);
        let day = if sec == sec_market::US {
            let fri = (0..7).map(|k| first + k).find(|d| weekday(*d) == 5).unwrap_or(first);
            let mut d = fri + 14;
            while !is_trading_day(d) {
                d -= 1;
            }
            d
        } else {
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            let mut d = days_from_civil(ny, nm, 1) - 1;
            let mut seen = 0;
            loop {
                if is_trading_day(d) {
                    seen += 1;
                    if seen == 2 {
                        break;
                    }
                }
                d -= 1;
            }
            d
        };
        if day > today {
            out.push(day);
        }
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// The last trading day of the month `months` months after `today`'s.
pub(crate) fn month_end_trading_day(today: i64, months: i64) -> i64 {
    let (y, m, _) = civil_from_days(today);
    let idx = y * 12 + i64::from(m) - 1 + months + 1;
    let mut d = days_from_civil(idx.div_euclid(12), (idx.rem_euclid(12) + 1) as u32, 1) - 1;
    while !is_trading_day(d) {
        d -= 1;
    }
    d
}

fn issuer_name(issuer: i32) -> &'static str {
    match issuer {
        1 => "SG",
        6 => "GS",
        7 => "HS",
        8 => "JP",
        11 => "UB",
        _ => "XX",
    }
}

/// Black-Scholes value and greeks.
#[derive(Debug, Clone, Copy)]
pub struct Greeks {
    /// Value.
    pub price: f64,
    /// Delta.
    pub delta: f64,
    /// Gamma.
    pub gamma: f64,
    /// Vega (per volatility point).
    pub vega: f64,
    /// Theta (per day).
    pub theta: f64,
    /// Rho (per rate point).
    pub rho: f64,
}

fn norm_cdf(x: f64) -> f64 {
    // Abramowitz-Stegun 7.1.26 on erf.
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t + 0.254_829_592)
            * t
            * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        0.5 * (1.0 + y)
    } else {
        0.5 * (1.0 - y)
    }
}

fn norm_pdf(x: f64) -> f64 {
    (-(x * x) / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Black-Scholes for spot `s`, strike `k`, `t` years, volatility `v`.
pub fn greeks(s: f64, k: f64, t: f64, v: f64, call: bool) -> Greeks {
    if s <= 0.0 || k <= 0.0 || t <= 0.0 || v <= 0.0 {
        let intrinsic = if call { (s - k).max(0.0) } else { (k - s).max(0.0) };
        return Greeks { price: intrinsic, delta: 0.0, gamma: 0.0, vega: 0.0, theta: 0.0, rho: 0.0 };
    }
    let sq = t.sqrt();
    let d1 = ((s / k).ln() + (RATE + v * v / 2.0) * t) / (v * sq);
    let d2 = d1 - v * sq;
    let disc = (-RATE * t).exp();
    let (price, delta, rho, theta_r) = if call {
        (
            s * norm_cdf(d1) - k * disc * norm_cdf(d2),
            norm_cdf(d1),
            k * t * disc * norm_cdf(d2),
            -RATE * k * disc * norm_cdf(d2),
        )
    } else {
        (
            k * disc * norm_cdf(-d2) - s * norm_cdf(-d1),
            norm_cdf(d1) - 1.0,
            -k * t * disc * norm_cdf(-d2),
            RATE * k * disc * norm_cdf(-d2),
        )
    };
    let gamma = norm_pdf(d1) / (s * v * sq);
    let vega = s * norm_pdf(d1) * sq / 100.0;
    let theta = (-s * norm_pdf(d1) * v / (2.0 * sq) + theta_r) / 365.0;
    Greeks { price: price.max(0.0), delta, gamma, vega, theta, rho: rho / 100.0 }
}

// ------------------------------------------------------------------------------------
// Requests
// ------------------------------------------------------------------------------------

/// The `optionExData` of an option (shared with the static info of its code).
pub fn option_ex(d: &Derivative, owner: qc::Security) -> qc::OptionStaticExData {
    let cal = Calendar::of(d.under_sec);
    qc::OptionStaticExData {
        r#type: if d.call { 1 } else { 2 },
        owner,
        strike_time: Calendar::format_day(d.expiry),
        strike_price: d.strike,
        suspend: false,
        market: if d.under_sec == sec_market::US { "US".into() } else { "HK".into() },
        strike_timestamp: Some(cal.midnight(d.expiry) as f64),
        index_option_type: None,
        expiration_cycle: Some(2),
        option_standard_type: Some(1),
        option_settlement_mode: Some(if d.under_sec == sec_market::US { 1 } else { 2 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_call_parity_and_greeks() {
        let c = greeks(100.0, 100.0, 0.5, 0.3, true);
        let p = greeks(100.0, 100.0, 0.5, 0.3, false);
        let parity = c.price - p.price - (100.0 - 100.0 * (-RATE * 0.5f64).exp());
        assert!(parity.abs() < 1e-3, "{parity}");
        assert!(c.delta > 0.5 && c.delta < 0.7 && p.delta < 0.0);
        assert!(c.gamma > 0.0 && c.vega > 0.0 && c.theta < 0.0);
    }

    #[test]
    fn expiries_are_after_today_and_trading_days() {
        let today = days_from_civil(2026, 12, 7);
        for sec in [sec_market::HK, sec_market::US] {
            let v = monthly_expiries(sec, today, 3);
            assert_eq!(v.len(), 3);
            assert!(v.windows(2).all(|w| w[0] < w[1]) && v[0] > today);
            assert!(v.iter().all(|d| is_trading_day(*d)));
        }
        assert_eq!(civil_from_days(monthly_expiries(sec_market::US, today, 1)[0]), (2026, 12, 18));
    }

    #[test]
    fn option_codes_round_trip() {
        let d = days_from_civil(2027, 1, 15);
        let code = option_code("AAPL", d, true, 195.0);
        assert_eq!(code, "AAPL270115C195000");
        let i = Instrument {
            sec_market: sec_market::US,
            code,
            name: String::new(),
            kind: InstrumentKind::Option,
            lot_size: 1.0,
            multiplier: 100.0,
            currency: 0,
            start_price: 1.0,
            tick: None,
            volatility: 0.0,
        };
        let p = parse_option(&i, false).unwrap();
        assert!(p.call && p.strike == 195.0 && p.expiry == d && p.under_code == "AAPL");
    }
}
