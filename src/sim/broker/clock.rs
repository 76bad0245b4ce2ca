//! Civil-date arithmetic and OpenD's time strings, on plain `f64` Unix seconds.
//!
//! OpenD writes times as `YYYY-MM-DD HH:MM:SS.mmm` (market-local time) and timestamps as
//! `f64` seconds. The simulator keeps one clock offset for all strings.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub(crate) fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Shift the year so that it starts in March: the leap day is then the last day.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400; // 0..=399
    let m = i64::from(month);
    let shifted_month = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date (year, month, day) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097; // 0..=146096
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153; // March = 0
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

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

/// Formats and parses time strings at a fixed UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clock {
    /// Offset of local time from UTC, seconds.
    pub offset_secs: i64,
}

impl Clock {
    /// The local day number (days since 1970-01-01 in local time) of `ts`.
    pub fn day_of(&self, ts: f64) -> i64 {
        let local = ts.floor() as i64 + self.offset_secs;
        local.div_euclid(86_400)
    }

    /// `YYYY-MM-DD HH:MM:SS.mmm` for `ts`.
    pub fn format(&self, ts: f64) -> String {
        let millis_total = (ts * 1000.0).round() as i64 + self.offset_secs * 1000;
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
    pub fn parse(&self, s: &str) -> Option<f64> {
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
        Some((day * 86_400 - self.offset_secs) as f64 + secs)
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
    fn format_and_parse() {
        let c = Clock { offset_secs: 8 * 3600 };
        let ts = 1_700_000_000.123;
        let s = c.format(ts);
        assert_eq!(s, "2023-11-15 06:13:20.123");
        assert!((c.parse(&s).unwrap() - ts).abs() < 1e-6);
        assert_eq!(c.parse("2023-11-15"), Some(1_700_000_000.0 - 22_400.0));
        assert_eq!(c.parse("2023-02-29"), None);
        assert_eq!(c.parse("2023-11-15 25:00:00"), None);
        assert_eq!(c.parse("garbage"), None);
        assert_eq!(c.format_day(c.day_of(ts)), "2023-11-15");
    }
}
