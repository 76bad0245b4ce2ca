//! The market calendar of the quote side: each market's time zone, trading sessions,
//! trading days and market state, and OpenD's time strings.
//!
//! Deliberately simple: fixed UTC offsets (no daylight saving) and Monday to Friday as
//! trading days (no holidays), for the K-line calendar and `Qot_RequestTradeDate`. The
//! market state comes from the price source's market clock (the broker's
//! `calendar::MarketClock`, which `GetGlobalState` reports too); a source without one
//! gets the fixed states of [`market_state`] (stocks in the afternoon session, futures
//! open). Reconciling the K-line sessions with `calendar.rs` is left to do.

use crate::sim::matching::{sec_market, InstrumentKind};

/// Seconds per day.
pub const DAY: i64 = 86_400;

/// A market's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    /// Offset of local time from UTC, seconds.
    pub utc_offset: i64,
    /// Trading sessions as (start, end) minutes after local midnight.
    pub sessions: &'static [(i64, i64)],
}

const HK_SESSIONS: &[(i64, i64)] = &[(9 * 60 + 30, 12 * 60), (13 * 60, 16 * 60)];
const CN_SESSIONS: &[(i64, i64)] = &[(9 * 60 + 30, 11 * 60 + 30), (13 * 60, 15 * 60)];
const US_SESSIONS: &[(i64, i64)] = &[(9 * 60 + 30, 16 * 60)];
const SG_SESSIONS: &[(i64, i64)] = &[(9 * 60, 12 * 60), (13 * 60, 17 * 60)];
const JP_SESSIONS: &[(i64, i64)] = &[(9 * 60, 11 * 60 + 30), (12 * 60 + 30, 15 * 60 + 30)];

impl Calendar {
    /// The calendar of a `TrdSecMarket` (HK, US, SH/SZ, SG, JP; anything else uses HK's).
    pub fn of(sec: i32) -> Calendar {
        match sec {
            sec_market::US => Calendar { utc_offset: -5 * 3600, sessions: US_SESSIONS },
            sec_market::CN_SH | sec_market::CN_SZ => Calendar { utc_offset: 8 * 3600, sessions: CN_SESSIONS },
            sec_market::SG => Calendar { utc_offset: 8 * 3600, sessions: SG_SESSIONS },
            sec_market::JP => Calendar { utc_offset: 9 * 3600, sessions: JP_SESSIONS },
            _ => Calendar { utc_offset: 8 * 3600, sessions: HK_SESSIONS },
        }
    }

    /// Trading minutes per day.
    pub fn minutes_per_day(&self) -> i64 {
        self.sessions.iter().map(|(a, b)| b - a).sum()
    }

    /// The local day number (days since 1970-01-01, local time) of a Unix time.
    pub fn day_of(&self, ts: f64) -> i64 {
        (ts.floor() as i64 + self.utc_offset).div_euclid(DAY)
    }

    /// The Unix time of local midnight starting `day`.
    pub fn midnight(&self, day: i64) -> i64 {
        day * DAY - self.utc_offset
    }

    /// The local minute of the day of a Unix time.
    pub fn minute_of_day(&self, ts: f64) -> i64 {
        (ts.floor() as i64 + self.utc_offset).rem_euclid(DAY) / 60
    }

    /// The end minute (after local midnight) of the `i`-th trading minute of a day
    /// (`i` from 0), the label OpenD gives a one-minute bar.
    pub fn trading_minute_end(&self, i: i64) -> i64 {
        let mut left = i;
        for (a, b) in self.sessions {
            if left < b - a {
                return a + left + 1;
            }
            left -= b - a;
        }
        self.sessions.last().map(|s| s.1).unwrap_or(16 * 60)
    }

    /// `YYYY-MM-DD HH:MM:SS` of a Unix time (`millis` adds `.mmm`).
    pub fn format(&self, ts: f64, millis: bool) -> String {
        let total_ms = (ts * 1000.0).round() as i64 + self.utc_offset * 1000;
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

/// Whether a day number is a trading day (Monday to Friday).
pub fn is_trading_day(day: i64) -> bool {
    // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays.
    (day + 3).rem_euclid(7) < 5
}

/// The latest trading day on or before `day`.
pub fn trading_day_on_or_before(mut day: i64) -> i64 {
    while !is_trading_day(day) {
        day -= 1;
    }
    day
}

/// The market state the simulator reports for an instrument (`Qot_Common.QotMarketState`):
/// stocks and options 5 (afternoon session), futures 23 (open).
pub fn market_state(kind: InstrumentKind) -> i32 {
    match kind {
        InstrumentKind::Future => 23,
        _ => 5,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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
        assert!(is_trading_day(day)); // a Monday
        assert!(!is_trading_day(day - 1));
        assert_eq!(trading_day_on_or_before(day - 1), day - 3);
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
    }
}
