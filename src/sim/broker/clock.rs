//! OpenD's time strings, on plain `f64` Unix seconds.
//!
//! OpenD writes times as `YYYY-MM-DD HH:MM:SS.mmm` in the market's local time (HK in
//! HKT, US in New York time) and timestamps as `f64` seconds. [`Clock`] formats and
//! parses them for a [`CalMarket`], or at one fixed offset when configured so.

use crate::sim::calendar::CalMarket;
pub(crate) use crate::sim::calendar::{civil_from_days, days_from_civil};

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

/// Formats and parses time strings in a market's local time (or at a fixed offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clock {
    /// A fixed offset from UTC for every market, seconds; `None` = market-local.
    pub fixed_offset: Option<i64>,
}

impl Clock {
    fn offset(&self, m: CalMarket, ts: f64) -> i64 {
        self.fixed_offset.unwrap_or_else(|| m.local_offset_secs(ts))
    }

    /// The local day number (days since 1970-01-01 in local time) of `ts`.
    pub fn day_of(&self, ts: f64, m: CalMarket) -> i64 {
        let local = ts.floor() as i64 + self.offset(m, ts);
        local.div_euclid(86_400)
    }

    /// `YYYY-MM-DD HH:MM:SS.mmm` for `ts`.
    pub fn format(&self, ts: f64, m: CalMarket) -> String {
        let millis_total = (ts * 1000.0).round() as i64 + self.offset(m, ts) * 1000;
        let secs = millis_total.div_euclid(1000);
        let millis = millis_total.rem_euclid(1000);
        let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        format!("{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}.{millis:03}", sod / 3600, (sod / 60) % 60, sod % 60)
    }

    /// `YYYY-MM-DD` for a local day number.
    pub fn format_day(&self, day: i64) -> String {
        let (y, m, d) = civil_from_days(day);
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD HH:MM:SS.fff` (local
    /// time) into Unix seconds. `None` if malformed or out of range.
    pub fn parse(&self, s: &str, m: CalMarket) -> Option<f64> {
        let s = s.trim();
        let (date, time) = match s.split_once(' ') {
            Some((d, t)) => (d, Some(t.trim())),
            None => (s, None),
        };
        let day = parse_date(date)?;
        let mut secs = 0f64;
        if let Some(t) = time {
            let (hms, frac) = match t.split_once('.') {
                Some((a, b)) => (a, Some(b)),
                None => (t, None),
            };
            let mut parts = hms.split(':');
            let h: u32 = parse_num(parts.next()?, 2)?;
            let mi: u32 = parse_num(parts.next()?, 2)?;
            let se: u32 = match parts.next() {
                Some(p) => parse_num(p, 2)?,
                None => 0,
            };
            if parts.next().is_some() || h > 23 || mi > 59 || se > 60 {
                return None;
            }
            secs = f64::from(h * 3600 + mi * 60 + se);
            if let Some(f) = frac {
                if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let v: f64 = format!("0.{f}").parse().ok()?;
                secs += v;
            }
        }
        let naive = (day * 86_400) as f64 + secs;
        // The offset at the instant itself (daylight saving), found from the naive guess.
        let guess = naive - self.offset(m, naive) as f64;
        Some(naive - self.offset(m, guess) as f64)
    }

    /// Parses a `YYYY-MM-DD` date into a local day number.
    pub fn parse_day(&self, s: &str) -> Option<i64> {
        parse_date(s.trim())
    }
}

fn parse_num(s: &str, max_len: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let y: u32 = parse_num(parts.next()?, 4)?;
    let m: u32 = parse_num(parts.next()?, 2)?;
    let d: u32 = parse_num(parts.next()?, 2)?;
    if parts.next().is_some() || !(1..=12).contains(&m) || y < 1900 {
        return None;
    }
    if d == 0 || d > days_in_month(i64::from(y), m) {
        return None;
    }
    Some(days_from_civil(i64::from(y), m, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 10_957, 19_000, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn market_local_strings() {
        let c = Clock { fixed_offset: None };
        let ts = 1_700_000_000.0; // 2023-11-14 22:13:20 UTC
        assert_eq!(c.format(ts, CalMarket::HkStock), "2023-11-15 06:13:20.000");
        assert_eq!(c.format(ts, CalMarket::UsStock), "2023-11-14 17:13:20.000");
        assert_eq!(c.parse("2023-11-14 17:13:20", CalMarket::UsStock), Some(ts));
        // Summer time in New York.
        let summer = 1_690_000_000.0; // 2023-07-22 04:26:40 UTC
        assert_eq!(c.format(summer, CalMarket::UsStock), "2023-07-22 00:26:40.000");
        assert_eq!(c.parse("2023-07-22 00:26:40", CalMarket::UsStock), Some(summer));
    }

    impl Clock {
        fn parse_hk(&self, s: &str) -> Option<f64> {
            self.parse(s, CalMarket::HkStock)
        }
    }

    #[test]
    fn format_and_parse() {
        let c = Clock { fixed_offset: Some(8 * 3600) };
        let hk = CalMarket::HkStock;
        let ts = 1_700_000_000.123;
        let s = c.format(ts, hk);
        assert_eq!(s, "2023-11-15 06:13:20.123");
        assert!((c.parse(&s, hk).unwrap() - ts).abs() < 1e-6);
        assert_eq!(c.parse_hk("2023-11-15"), Some(1_700_000_000.0 - 22_400.0));
        assert_eq!(c.parse_hk("2023-02-29"), None);
        assert_eq!(c.parse_hk("2023-11-15 25:00:00"), None);
        assert_eq!(c.parse_hk("garbage"), None);
        assert_eq!(c.format_day(c.day_of(ts, hk)), "2023-11-15");
    }
}
