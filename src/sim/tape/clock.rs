//! The quote side's view of the market calendar: K-line minute labels, OpenD's
//! market-local time strings, and the fallback market state.
//!
//! Time zones (with US daylight saving), sessions and trading days come from
//! [`crate::sim::calendar`]; [`Calendar`] only maps a `TrdSecMarket` to a
//! [`CalMarket`] and numbers its trading minutes for K-line bars. The market state
//! comes from the price source's market clock (the broker's `calendar::MarketClock`,
//! which `GetGlobalState` reports too); a source without one gets the fixed states of
//! [`market_state`] (stocks in the afternoon session, futures open).

use crate::sim::calendar::{civil_from_days, days_from_civil, CalMarket, DAY};
use crate::sim::instrument::{sec_market, InstrumentKind};

/// A market's calendar as the quote side uses it: the broker's [`CalMarket`] (time zone
/// with daylight saving, sessions) seen through the K-line bucketing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    /// The market whose time zone and sessions this is.
    pub market: CalMarket,
}

impl Calendar {
    /// The calendar of a `TrdSecMarket` (HK, US, SH/SZ, SG, JP; anything else uses
    /// HK's). Futures use their exchange's stock sessions for K-lines.
    pub fn of(sec: i32) -> Calendar {
        let market = match sec {
            sec_market::US => CalMarket::UsStock,
            sec_market::CN_SH | sec_market::CN_SZ => CalMarket::CnStock,
            sec_market::SG => CalMarket::SgStock,
            sec_market::JP => CalMarket::JpStock,
            _ => CalMarket::HkStock,
        };
        Calendar { market }
    }

    /// Trading sessions as (start, end) minutes after local midnight.
    pub fn sessions(&self) -> impl Iterator<Item = (i64, i64)> {
        self.market.trading_sessions()
    }

    /// Trading minutes per day.
    pub fn minutes_per_day(&self) -> i64 {
        self.sessions().map(|(a, b)| b - a).sum()
    }

    /// The local day number (days since 1970-01-01, local time) of a Unix time.
    pub fn day_of(&self, ts: f64) -> i64 {
        self.market.local_day(ts)
    }

    /// The Unix time of local midnight starting `day`.
    pub fn midnight(&self, day: i64) -> i64 {
        self.market.local_midnight(day)
    }

    /// The local minute of the day of a Unix time.
    pub fn minute_of_day(&self, ts: f64) -> i64 {
        self.market.local_minute(ts)
    }

    /// The end minute (after local midnight) of the `i`-th trading minute of a day
    /// (`i` from 0), the label OpenD gives a one-minute bar.
    pub fn trading_minute_end(&self, i: i64) -> i64 {
        let mut left = i;
        let mut last = 16 * 60;
        for (a, b) in self.sessions() {
            if left < b - a {
                return a + left + 1;
            }
            left -= b - a;
            last = b;
        }
        last
    }

    /// `YYYY-MM-DD HH:MM:SS` of a Unix time in market-local time (`millis` adds `.mmm`).
    pub fn format(&self, ts: f64, millis: bool) -> String {
        let total_ms = (ts * 1000.0).round() as i64 + self.market.local_offset_secs(ts) * 1000;
        let secs = total_ms.div_euclid(1000);
        let (y, mo, d) = civil_from_days(secs.div_euclid(DAY));
        let sod = secs.rem_euclid(DAY);
        let base = format!("{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}", sod / 3600, (sod / 60) % 60, sod % 60);
        if millis {
            format!("{base}.{:03}", total_ms.rem_euclid(1000))
        } else {
            base
        }
    }

    /// `YYYY-MM-DD` of a day number.
    pub fn format_day(day: i64) -> String {
        let (y, m, d) = civil_from_days(day);
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// The market state the simulator reports for an instrument (`Qot_Common.QotMarketState`):
/// stocks and options 5 (afternoon session), futures 23 (open).
pub fn market_state(kind: InstrumentKind) -> i32 {
    match kind {
        InstrumentKind::Future => 23,
        _ => 5,
    }
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DD HH:MM[:SS[.mmm]]` into (day number, second of day).
pub fn parse_time(s: &str) -> Option<(i64, i64)> {
    let s = s.trim();
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let mut it = date.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1900..=2200).contains(&y) {
        return None;
    }
    let mut sod = 0;
    if let Some(t) = time {
        let t = t.split('.').next()?;
        let parts: Vec<&str> = t.split(':').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return None;
        }
        let h: i64 = parts[0].parse().ok()?;
        let mi: i64 = parts[1].parse().ok()?;
        let se: i64 = if parts.len() == 3 { parts[2].parse().ok()? } else { 0 };
        if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..60).contains(&se) {
            return None;
        }
        sod = h * 3600 + mi * 60 + se;
    }
    Some((days_from_civil(y, m, d), sod))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        let day = days_from_civil(2026, 11, 30);
        assert_eq!(civil_from_days(day), (2026, 11, 30));
        assert_eq!(parse_time("2026-11-30 09:31:00"), Some((day, 9 * 3600 + 31 * 60)));
        assert_eq!(parse_time("2026-13-01"), None);
        assert_eq!(Calendar::format_day(day), "2026-11-30");
    }

    #[test]
    fn sessions() {
        let hk = Calendar::of(sec_market::HK);
        assert_eq!(hk.minutes_per_day(), 330);
        assert_eq!(hk.trading_minute_end(0), 9 * 60 + 31);
        assert_eq!(hk.trading_minute_end(150), 13 * 60 + 1);
        assert_eq!(hk.format(hk.midnight(0) as f64 + 61.5, true), "1970-01-01 00:01:01.500");
        // US times follow New York daylight saving: 09:31 EDT is 13:31 UTC in July.
        let us = Calendar::of(sec_market::US);
        let jul = days_from_civil(2026, 7, 1);
        assert_eq!(us.midnight(jul) + us.trading_minute_end(0) * 60, 1_782_912_660);
        assert_eq!(us.format(1_782_912_660.0, false), "2026-07-01 09:31:00");
        assert_eq!(us.format(1_796_049_060.0, false), "2026-11-30 09:31:00");
    }
}
