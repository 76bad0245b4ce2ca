//! Market calendars and the simulator's market clock.
//!
//! Every market the simulator knows has trading sessions in its own time zone
//! ([`CalMarket`]): HK 09:30–12:00 and 13:00–16:00 HKT, US pre-market, regular and
//! after-hours sessions in New York time (with daylight saving), A-shares, Singapore,
//! Japan, Malaysia, and the futures day and night sessions. [`CalMarket::phase_at`] says
//! which part of the trading day an instant falls in, [`Phase::qot_market_state`] gives
//! the `Qot_Common.QotMarketState` number OpenD reports for it, and
//! [`CalMarket::local_offset_secs`] gives the market's UTC offset at an instant (what
//! OpenD's market-local time strings use).
//!
//! Non-trading days are weekends and each market's public holidays
//! ([`is_holiday`]): HK, US and mainland China for 2016–2027 (the years the
//! simulator's history covers), from the exchanges' rules (fixed dates with their
//! weekend substitutes, Easter, and a table of the lunar dates). Futures follow their
//! exchange's country (HK futures HK's holidays, US futures the US ones). Singapore,
//! Japan and Malaysia have weekends only. Half days and the US overnight session are
//! not modelled. [`CalMarket::is_trading_day`] is the one test that market states,
//! order acceptance, trading-day requests and the market data's history all use.
//!
//! [`MarketClock`] is the simulated "now": wall time (`real`), wall time with every
//! market in its regular session (`open`, for tests), or a chosen start instant that
//! runs at a chosen speed. Parse one from the `opend-sim --clock` syntax with
//! [`ClockSpec::from_str`](std::str::FromStr).
//!
//! ```
//! use ftapi::sim::calendar::{CalMarket, ClockSpec, MarketClock, Phase};
//! // 2026-12-01 is a Tuesday; 10:00 in Hong Kong is the morning session.
//! let spec: ClockSpec = "2026-12-01T10:00:00+08:00".parse().unwrap();
//! let clock = MarketClock::new(spec);
//! assert_eq!(clock.phase(CalMarket::HkStock), Phase::Morning);
//! // ... and 21:00 of the day before in New York: after the after-hours session.
//! assert_eq!(clock.phase(CalMarket::UsStock), Phase::AfterHoursEnd);
//! assert_eq!(MarketClock::new(ClockSpec::Open).phase(CalMarket::UsStock), Phase::Afternoon);
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::types::QotMarketState;

/// Seconds since the Unix epoch, now (wall time).
pub fn wall_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
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
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
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

/// Day of the week of a day count since 1970-01-01: 0 = Monday ... 6 = Sunday.
pub fn weekday(days: i64) -> u32 {
    // 1970-01-01 was a Thursday.
    (days + 3).rem_euclid(7) as u32
}

/// Seconds per day.
pub const DAY: i64 = 86_400;

/// Whether a day count since 1970-01-01 is a weekday (Monday to Friday). Markets with
/// public holidays use [`CalMarket::is_trading_day`].
pub fn is_trading_day(days: i64) -> bool {
    weekday(days) < 5
}

/// The lunar dates the holiday rules need, 2016–2027: (year, lunar new year's day,
/// Buddha's birthday, Tuen Ng / Dragon Boat, Mid-Autumn, Chung Yeung, Qingming) as
/// (month, day).
const LUNAR: &[(i64, [(u32, u32); 6])] = &[
    (2016, [(2, 8), (5, 14), (6, 9), (9, 15), (10, 9), (4, 4)]),
    (2017, [(1, 28), (5, 3), (5, 30), (10, 4), (10, 28), (4, 4)]),
    (2018, [(2, 16), (5, 22), (6, 18), (9, 24), (10, 17), (4, 5)]),
    (2019, [(2, 5), (5, 12), (6, 7), (9, 13), (10, 7), (4, 5)]),
    (2020, [(1, 25), (4, 30), (6, 25), (10, 1), (10, 25), (4, 4)]),
    (2021, [(2, 12), (5, 19), (6, 14), (9, 21), (10, 14), (4, 4)]),
    (2022, [(2, 1), (5, 8), (6, 3), (9, 10), (10, 4), (4, 5)]),
    (2023, [(1, 22), (5, 26), (6, 22), (9, 29), (10, 23), (4, 5)]),
    (2024, [(2, 10), (5, 15), (6, 10), (9, 17), (10, 11), (4, 4)]),
    (2025, [(1, 29), (5, 5), (5, 31), (10, 6), (10, 29), (4, 4)]),
    (2026, [(2, 17), (5, 24), (6, 19), (9, 25), (10, 18), (4, 5)]),
    (2027, [(2, 6), (5, 13), (6, 9), (9, 15), (10, 8), (4, 5)]),
];

/// The first and last year whose holidays are modelled.
pub const HOLIDAY_YEARS: (i64, i64) = (2016, 2027);

/// Easter Sunday of `year` (the Gregorian computus), as a day count.
fn easter(year: i64) -> i64 {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    days_from_civil(year, month as u32, day as u32)
}

/// The `n`-th (1-based) `wd` (0 = Monday) of a month; `n = 0` is the last one.
fn nth_weekday(year: i64, month: u32, wd: u32, n: u32) -> i64 {
    if n == 0 {
        let next = if month == 12 { days_from_civil(year + 1, 1, 1) } else { days_from_civil(year, month + 1, 1) };
        let last = next - 1;
        return last - i64::from((weekday(last) + 7 - wd) % 7);
    }
    let first = days_from_civil(year, month, 1);
    first + i64::from((wd + 7 - weekday(first)) % 7) + 7 * i64::from(n - 1)
}

/// A US holiday's observed day: Saturday to Friday, Sunday to Monday.
fn us_observed(d: i64) -> i64 {
    match weekday(d) {
        5 => d - 1,
        6 => d + 1,
        _ => d,
    }
}

/// A HK holiday on a Sunday moves to the next day that is not a holiday.
fn hk_observed(d: i64, taken: &[i64]) -> i64 {
    let mut d = if weekday(d) == 6 { d + 1 } else { d };
    while taken.contains(&d) {
        d += 1;
    }
    d
}

/// The holidays (weekdays the exchanges are closed) of one market and year.
fn holidays_of(market: CalMarket, year: i64) -> Vec<i64> {
    let Some((_, lunar)) = LUNAR.iter().find(|(y, _)| *y == year) else { return Vec::new() };
    let ymd = |(m, d): (u32, u32)| days_from_civil(year, m, d);
    let (lny, buddha, tuen_ng, mid_autumn, chung_yeung, qingming) =
        (ymd(lunar[0]), ymd(lunar[1]), ymd(lunar[2]), ymd(lunar[3]), ymd(lunar[4]), ymd(lunar[5]));
    let mut out = Vec::new();
    match market {
        CalMarket::HkStock | CalMarket::HkFuture => {
            let easter = easter(year);
            // Lunar New Year: the first three days; a Sunday among them adds the fourth.
            let mut lny_days: Vec<i64> = (lny..lny + 3).collect();
            if lny_days.iter().any(|d| weekday(*d) == 6) {
                lny_days.push(lny + 3);
            }
            out.extend(lny_days);
            out.extend([easter - 2, easter - 1, easter + 1]);
            let fixed = [
                days_from_civil(year, 1, 1),
                qingming,
                days_from_civil(year, 5, 1),
                buddha,
                tuen_ng,
                days_from_civil(year, 7, 1),
                mid_autumn + 1,
                days_from_civil(year, 10, 1),
                chung_yeung,
                days_from_civil(year, 12, 25),
                days_from_civil(year, 12, 26),
            ];
            for d in fixed {
                let o = hk_observed(d, &out);
                out.push(o);
            }
        }
        CalMarket::UsStock | CalMarket::UsFuture => {
            out.push(us_observed(days_from_civil(year, 1, 1)));
            out.push(nth_weekday(year, 1, 0, 3)); // Martin Luther King Jr. Day
            out.push(nth_weekday(year, 2, 0, 3)); // Washington's Birthday
            out.push(easter(year) - 2); // Good Friday
            out.push(nth_weekday(year, 5, 0, 0)); // Memorial Day
            if year >= 2022 {
                out.push(us_observed(days_from_civil(year, 6, 19)));
            }
            out.push(us_observed(days_from_civil(year, 7, 4)));
            out.push(nth_weekday(year, 9, 0, 1)); // Labor Day
            out.push(nth_weekday(year, 11, 3, 4)); // Thanksgiving
            out.push(us_observed(days_from_civil(year, 12, 25)));
        }
        CalMarket::CnStock => {
            out.push(days_from_civil(year, 1, 1));
            // Spring Festival: new year's eve and the six days after new year's day.
            out.extend(lny - 1..=lny + 5);
            out.push(qingming);
            out.extend((1..=5).map(|d| days_from_civil(year, 5, d)));
            out.push(tuen_ng);
            out.push(mid_autumn);
            out.extend((1..=7).map(|d| days_from_civil(year, 10, d)));
        }
        _ => {}
    }
    // Weekend dates move to a weekday above (HK, US) or fall on a closed day anyway.
    out.retain(|d| weekday(*d) < 5);
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether `days` is a public holiday (a weekday without trading) of `market`.
pub fn is_holiday(market: CalMarket, days: i64) -> bool {
    static TABLE: std::sync::OnceLock<[Vec<i64>; 3]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let all = |m: CalMarket| {
            let mut v: Vec<i64> = (HOLIDAY_YEARS.0..=HOLIDAY_YEARS.1).flat_map(|y| holidays_of(m, y)).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        [all(CalMarket::HkStock), all(CalMarket::UsStock), all(CalMarket::CnStock)]
    });
    let list = match market {
        CalMarket::HkStock | CalMarket::HkFuture => &table[0],
        CalMarket::UsStock | CalMarket::UsFuture => &table[1],
        CalMarket::CnStock => &table[2],
        _ => return false,
    };
    list.binary_search(&days).is_ok()
}

/// The latest trading day on or before `days`.
pub fn trading_day_on_or_before(mut days: i64) -> i64 {
    while !is_trading_day(days) {
        days -= 1;
    }
    days
}

/// Trading days from `first` to `last` inclusive, in order.
pub fn trading_days(first: i64, last: i64) -> impl Iterator<Item = i64> {
    (first..=last).filter(|d| is_trading_day(*d))
}

/// Unix seconds at which US daylight saving time starts and ends in `year`
/// (second Sunday of March 02:00 EST, first Sunday of November 02:00 EDT).
fn us_dst_bounds(year: i64) -> (i64, i64) {
    let march1 = days_from_civil(year, 3, 1);
    let first_sun_march = march1 + i64::from((6 - weekday(march1) + 7) % 7);
    let second_sun_march = first_sun_march + 7;
    let nov1 = days_from_civil(year, 11, 1);
    let first_sun_nov = nov1 + i64::from((6 - weekday(nov1) + 7) % 7);
    (second_sun_march * 86_400 + 7 * 3600, first_sun_nov * 86_400 + 6 * 3600)
}

/// New York's offset from UTC at `ts`, seconds.
fn new_york_offset(ts: f64) -> i64 {
    let secs = ts.floor() as i64;
    let (year, _, _) = civil_from_days(secs.div_euclid(86_400));
    let (start, end) = us_dst_bounds(year);
    if (start..end).contains(&secs) {
        -4 * 3600
    } else {
        -5 * 3600
    }
}

/// A market with its own calendar and time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CalMarket {
    /// HK securities (HKEX), HKT.
    HkStock,
    /// US securities, New York time.
    UsStock,
    /// A-shares (SSE/SZSE), China time.
    CnStock,
    /// Singapore securities (SGX), SGT.
    SgStock,
    /// Japan securities (TSE), JST.
    JpStock,
    /// Malaysia securities (Bursa), MYT.
    MyStock,
    /// HK futures (HKEX day and night sessions), HKT.
    HkFuture,
    /// US futures (CME Globex), New York time.
    UsFuture,
    /// SG futures (SGX day and T+1 sessions), SGT.
    SgFuture,
    /// JP futures (OSE day and night sessions), JST.
    JpFuture,
}

/// Part of a market's trading day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// No trading (night, weekend).
    Closed,
    /// Opening auction (HK pre-opening session, A-share call auction).
    Auction,
    /// Between the opening auction and the open.
    WaitingOpen,
    /// US pre-market session.
    PreMarket,
    /// Morning session (or the continuous session of a market without a lunch break
    /// before noon).
    Morning,
    /// Lunch break.
    Rest,
    /// Afternoon session (OpenD reports the US regular session as afternoon).
    Afternoon,
    /// HK closing auction session.
    ClosingAuction,
    /// US after-hours session.
    AfterHours,
    /// After the US after-hours session.
    AfterHoursEnd,
    /// A futures session is trading.
    FutureOpen,
    /// Between two futures sessions of the same trading day.
    FutureBreak,
    /// The futures market is closed.
    FutureClose,
}

impl Phase {
    /// The `Qot_Common.QotMarketState` value OpenD reports for this phase.
    pub fn qot_market_state(self) -> i32 {
        self.state().value()
    }

    /// The typed `QotMarketState` of this phase.
    pub fn state(self) -> QotMarketState {
        use QotMarketState as S;
        match self {
            Phase::Closed => S::Closed,
            Phase::Auction => S::Auction,
            Phase::WaitingOpen => S::WaitingOpen,
            Phase::PreMarket => S::PreMarketBegin,
            Phase::Morning => S::Morning,
            Phase::Rest => S::Rest,
            Phase::Afternoon => S::Afternoon,
            Phase::ClosingAuction => S::HkCas,
            Phase::AfterHours => S::AfterHoursBegin,
            Phase::AfterHoursEnd => S::AfterHoursEnd,
            Phase::FutureOpen => S::FutureOpen,
            Phase::FutureBreak => S::FutureBreak,
            Phase::FutureClose => S::FutureClose,
        }
    }

    /// Continuous trading: orders of every type trade.
    pub fn is_continuous(self) -> bool {
        matches!(self, Phase::Morning | Phase::Afternoon | Phase::FutureOpen)
    }

    /// The US pre-market or after-hours session (orders with `fill_outside_rth` trade).
    pub fn is_extended_hours(self) -> bool {
        matches!(self, Phase::PreMarket | Phase::AfterHours)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Phase::Closed => "closed",
            Phase::Auction => "the opening auction",
            Phase::WaitingOpen => "waiting for the open",
            Phase::PreMarket => "the pre-market session",
            Phase::Morning => "the morning session",
            Phase::Rest => "the lunch break",
            Phase::Afternoon => "the afternoon session",
            Phase::ClosingAuction => "the closing auction",
            Phase::AfterHours => "the after-hours session",
            Phase::AfterHoursEnd => "closed after the after-hours session",
            Phase::FutureOpen => "a trading session",
            Phase::FutureBreak => "a break between sessions",
            Phase::FutureClose => "closed",
        };
        f.write_str(s)
    }
}

/// One part of a trading day: `[start, end)` in minutes after local midnight of a
/// weekday (`end` may pass 1440: a night session that ends the next morning).
type Segment = (u32, u32, Phase);

const fn hm(h: u32, m: u32) -> u32 {
    h * 60 + m
}

impl CalMarket {
    /// Every market, in a fixed order.
    pub const ALL: &'static [CalMarket] = &[
        CalMarket::HkStock,
        CalMarket::UsStock,
        CalMarket::CnStock,
        CalMarket::SgStock,
        CalMarket::JpStock,
        CalMarket::MyStock,
        CalMarket::HkFuture,
        CalMarket::UsFuture,
        CalMarket::SgFuture,
        CalMarket::JpFuture,
    ];

    /// Whether local day `days` is a trading day of this market: a weekday that is not
    /// one of its public holidays ([`is_holiday`]).
    pub fn is_trading_day(self, days: i64) -> bool {
        weekday(days) < 5 && !is_holiday(self, days)
    }

    /// The latest trading day of this market on or before `days`.
    pub fn trading_day_on_or_before(self, mut days: i64) -> i64 {
        while !self.is_trading_day(days) {
            days -= 1;
        }
        days
    }

    /// The trading days of this market from `first` to `last` inclusive, in order.
    pub fn trading_days(self, first: i64, last: i64) -> impl Iterator<Item = i64> {
        (first..=last).filter(move |d| self.is_trading_day(*d))
    }

    /// Whether this is a futures market.
    pub fn is_futures(self) -> bool {
        matches!(self, CalMarket::HkFuture | CalMarket::UsFuture | CalMarket::SgFuture | CalMarket::JpFuture)
    }

    /// The market's offset from UTC at `ts` (Unix seconds), seconds.
    pub fn local_offset_secs(self, ts: f64) -> i64 {
        match self {
            CalMarket::UsStock | CalMarket::UsFuture => new_york_offset(ts),
            CalMarket::JpStock | CalMarket::JpFuture => 9 * 3600,
            _ => 8 * 3600,
        }
    }

    /// The local day (days since 1970-01-01 in the market's time zone) of `ts`.
    pub fn local_day(self, ts: f64) -> i64 {
        (ts.floor() as i64 + self.local_offset_secs(ts)).div_euclid(DAY)
    }

    /// The local minute of the day (0..1440) of `ts`.
    pub fn local_minute(self, ts: f64) -> i64 {
        (ts.floor() as i64 + self.local_offset_secs(ts)).rem_euclid(DAY) / 60
    }

    /// The Unix time of local midnight starting local day `days`. Daylight saving
    /// changes at 02:00 local time, so the offset at midnight is the one in force at
    /// the UTC midnight of the same date (a few hours earlier, on the same side of it).
    pub fn local_midnight(self, days: i64) -> i64 {
        days * DAY - self.local_offset_secs((days * DAY) as f64)
    }

    /// The Unix time of local minute `minute` (after local midnight) of local day `days`.
    pub fn local_instant(self, days: i64, minute: i64) -> i64 {
        self.local_midnight(days) + minute * 60
    }

    /// The continuous-trading sessions of a weekday as `(open, close)` minutes after
    /// local midnight, in order: the sessions K-line bars fall in (auctions, breaks
    /// and extended hours excluded).
    pub fn trading_sessions(self) -> impl Iterator<Item = (i64, i64)> {
        self.segments().iter().filter(|s| s.2.is_continuous()).map(|s| (i64::from(s.0), i64::from(s.1)))
    }

    /// The sessions of one weekday, in order.
    fn segments(self) -> &'static [Segment] {
        use Phase::*;
        match self {
            CalMarket::HkStock => {
                const S: &[Segment] = &[
                    (hm(9, 0), hm(9, 30), Auction),
                    (hm(9, 30), hm(12, 0), Morning),
                    (hm(12, 0), hm(13, 0), Rest),
                    (hm(13, 0), hm(16, 0), Afternoon),
                    (hm(16, 0), hm(16, 10), ClosingAuction),
                ];
                S
            }
            CalMarket::UsStock => {
                const S: &[Segment] = &[
                    (hm(4, 0), hm(9, 30), PreMarket),
                    (hm(9, 30), hm(16, 0), Afternoon),
                    (hm(16, 0), hm(20, 0), AfterHours),
                    (hm(20, 0), hm(24, 0), AfterHoursEnd),
                ];
                S
            }
            CalMarket::CnStock => {
                const S: &[Segment] = &[
                    (hm(9, 15), hm(9, 25), Auction),
                    (hm(9, 25), hm(9, 30), WaitingOpen),
                    (hm(9, 30), hm(11, 30), Morning),
                    (hm(11, 30), hm(13, 0), Rest),
                    (hm(13, 0), hm(15, 0), Afternoon),
                ];
                S
            }
            CalMarket::SgStock => {
                const S: &[Segment] = &[
                    (hm(8, 30), hm(9, 0), Auction),
                    (hm(9, 0), hm(12, 0), Morning),
                    (hm(12, 0), hm(13, 0), Rest),
                    (hm(13, 0), hm(17, 0), Afternoon),
                ];
                S
            }
            CalMarket::JpStock => {
                const S: &[Segment] = &[
                    (hm(8, 0), hm(9, 0), Auction),
                    (hm(9, 0), hm(11, 30), Morning),
                    (hm(11, 30), hm(12, 30), Rest),
                    (hm(12, 30), hm(15, 30), Afternoon),
                ];
                S
            }
            CalMarket::MyStock => {
                const S: &[Segment] = &[
                    (hm(8, 30), hm(9, 0), Auction),
                    (hm(9, 0), hm(12, 30), Morning),
                    (hm(12, 30), hm(14, 30), Rest),
                    (hm(14, 30), hm(17, 0), Afternoon),
                ];
                S
            }
            CalMarket::HkFuture => {
                const S: &[Segment] = &[
                    (hm(9, 15), hm(12, 0), FutureOpen),
                    (hm(12, 0), hm(13, 0), FutureBreak),
                    (hm(13, 0), hm(16, 30), FutureOpen),
                    (hm(16, 30), hm(17, 15), FutureBreak),
                    (hm(17, 15), hm(27, 0), FutureOpen),
                ];
                S
            }
            // CME Globex: a trading day starts at 18:00 the evening before; modelled as
            // sessions of the weekday they start on (Sunday's is handled separately).
            CalMarket::UsFuture => {
                const S: &[Segment] = &[(hm(0, 0), hm(17, 0), FutureOpen), (hm(17, 0), hm(18, 0), FutureBreak)];
                S
            }
            CalMarket::SgFuture => {
                const S: &[Segment] = &[
                    (hm(9, 0), hm(16, 35), FutureOpen),
                    (hm(16, 35), hm(17, 15), FutureBreak),
                    (hm(17, 15), hm(29, 15), FutureOpen),
                ];
                S
            }
            CalMarket::JpFuture => {
                const S: &[Segment] = &[
                    (hm(8, 45), hm(15, 45), FutureOpen),
                    (hm(15, 45), hm(17, 0), FutureBreak),
                    (hm(17, 0), hm(30, 0), FutureOpen),
                ];
                S
            }
        }
    }

    /// The phase of this market at `ts` (Unix seconds). Weekends and the market's public
    /// holidays are closed.
    pub fn phase_at(self, ts: f64) -> Phase {
        let local = ts.floor() as i64 + self.local_offset_secs(ts);
        let day = local.div_euclid(86_400);
        let minute = (local.rem_euclid(86_400) / 60) as u32;
        let wd = weekday(day);
        let closed = if self.is_futures() { Phase::FutureClose } else { Phase::Closed };
        if self == CalMarket::UsFuture {
            if is_holiday(self, day) {
                return closed;
            }
            // Sunday 18:00 to Friday 17:00, with a break 17:00-18:00 every weekday.
            return match wd {
                0..=3 if minute >= hm(18, 0) || minute < hm(17, 0) => Phase::FutureOpen,
                0..=3 => Phase::FutureBreak,
                4 if minute < hm(17, 0) => Phase::FutureOpen,
                6 if minute >= hm(18, 0) => Phase::FutureOpen,
                _ => closed,
            };
        }
        if self.is_trading_day(day) {
            if let Some(p) = self.segments().iter().find(|(s, e, _)| (*s..*e).contains(&minute)).map(|s| s.2) {
                return p;
            }
        }
        // A night session that started the previous (week)day.
        if self.is_trading_day(day - 1) {
            let m = minute + 1440;
            if let Some(p) = self.segments().iter().find(|(s, e, _)| *e > 1440 && (*s..*e).contains(&m)).map(|s| s.2) {
                return p;
            }
        }
        closed
    }

    /// The phase OpenD reports while a test clock holds every market open.
    pub fn open_phase(self) -> Phase {
        if self.is_futures() {
            Phase::FutureOpen
        } else {
            Phase::Afternoon
        }
    }
}

/// How the simulated clock runs (`opend-sim --clock`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ClockSpec {
    /// Wall time (the default, like a real OpenD).
    #[default]
    Real,
    /// Wall time, but every market is in its regular session (for tests that must
    /// pass at any hour).
    Open,
    /// Starts at `start` (Unix seconds) when the simulator starts and runs `speed`
    /// times faster than wall time.
    At {
        /// The simulated instant at start-up, Unix seconds.
        start: f64,
        /// Simulated seconds per wall second (> 0).
        speed: f64,
    },
}

impl fmt::Display for ClockSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClockSpec::Real => f.write_str("real"),
            ClockSpec::Open => f.write_str("open"),
            ClockSpec::At { start, speed } => {
                let s = start.floor() as i64;
                let (y, mo, d) = civil_from_days(s.div_euclid(86_400));
                let sod = s.rem_euclid(86_400);
                write!(f, "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z", sod / 3600, sod / 60 % 60, sod % 60)?;
                if *speed != 1.0 {
                    write!(f, "x{speed}")?;
                }
                Ok(())
            }
        }
    }
}

/// A `--clock` value that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid clock {0:?}: expected real, open or an RFC 3339 instant such as 2026-12-01T10:00:00+08:00, optionally followed by x<speed>")]
pub struct ParseClockError(pub String);

fn digits(s: &str, n: usize) -> Option<u32> {
    if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Parses an RFC 3339 instant (`2026-12-01T10:00:00+08:00`, `...Z`, optional fraction).
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.len() < 20 || !s.is_ascii() {
        return None;
    }
    let (date, rest) = s.split_at(10);
    let mut dp = date.split('-');
    let y = digits(dp.next()?, 4)?;
    let mo = digits(dp.next()?, 2)?;
    let d = digits(dp.next()?, 2)?;
    if !(1..=12).contains(&mo) || d == 0 || d > 31 {
        return None;
    }
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix('t')).or_else(|| rest.strip_prefix(' '))?;
    let (time, mut zone) = rest.split_at(8);
    let mut tp = time.split(':');
    let h = digits(tp.next()?, 2)?;
    let mi = digits(tp.next()?, 2)?;
    let se = digits(tp.next()?, 2)?;
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut frac = 0.0;
    if let Some(z) = zone.strip_prefix('.') {
        let n = z.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        frac = format!("0.{}", &z[..n]).parse().ok()?;
        zone = &z[n..];
    }
    let offset: i64 = match zone {
        "Z" | "z" => 0,
        z if z.len() == 6 && z.is_ascii() && (z.starts_with('+') || z.starts_with('-')) && &z[3..4] == ":" => {
            let oh = i64::from(digits(&z[1..3], 2)?);
            let om = i64::from(digits(&z[4..6], 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let v = oh * 3600 + om * 60;
            if z.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(y), mo, d);
    let (cy, cm, cd) = civil_from_days(days);
    if (cy, cm, cd) != (i64::from(y), mo, d) {
        return None;
    }
    Some((days * 86_400 + i64::from(h * 3600 + mi * 60 + se) - offset) as f64 + frac)
}

impl FromStr for ClockSpec {
    type Err = ParseClockError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseClockError(s.chars().take(80).collect());
        let t = s.trim();
        if t.eq_ignore_ascii_case("real") {
            return Ok(ClockSpec::Real);
        }
        if t.eq_ignore_ascii_case("open") {
            return Ok(ClockSpec::Open);
        }
        let (instant, speed) = match t.rsplit_once(['x', 'X']) {
            Some((i, sp)) if !i.is_empty() && sp.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
                let v: f64 = sp.parse().map_err(|_| err())?;
                (i, v)
            }
            _ => (t, 1.0),
        };
        if !(speed.is_finite() && speed > 0.0 && speed <= 1e6) {
            return Err(err());
        }
        let start = parse_rfc3339(instant).ok_or_else(err)?;
        Ok(ClockSpec::At { start, speed })
    }
}

/// The simulated "now" shared by the broker and the protocol server. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct MarketClock {
    spec: ClockSpec,
    origin: Instant,
    /// A replay's clock: skips closed time and stops at the end of the data.
    skip: Option<SkipClosed>,
}

/// How a replay's clock skips closed time (see [`MarketClock::skipping`]).
#[derive(Debug, Clone, Copy, PartialEq)]
struct SkipClosed {
    /// Bit `i` set: `CalMarket::ALL[i]` has data.
    mask: u16,
    /// The clock stops here (the end of the data), Unix seconds.
    end: f64,
}

impl SkipClosed {
    fn markets(self) -> impl Iterator<Item = CalMarket> {
        CalMarket::ALL.iter().enumerate().filter(move |(i, _)| self.mask & (1 << i) != 0).map(|(_, m)| *m)
    }

    /// The instant reached after `active` seconds of trading time from `start`: time
    /// outside every session (continuous trading) of the masked markets does not count.
    fn advance(self, start: f64, active: f64) -> f64 {
        let mut cursor = start;
        let mut left = active.max(0.0);
        let mut day = (start.floor() as i64).div_euclid(DAY) - 1;
        // A replay covers at most a few years; give up (stop) after ten.
        for _ in 0..(3650 / 8) {
            let mut spans: Vec<(f64, f64)> = Vec::new();
            for m in self.markets() {
                for d in day..day + 8 {
                    if !m.is_trading_day(d) {
                        continue;
                    }
                    for (a, b) in m.trading_sessions() {
                        spans.push((m.local_instant(d, a) as f64, m.local_instant(d, b) as f64));
                    }
                }
            }
            spans.sort_by(|x, y| x.0.total_cmp(&y.0));
            for (a, b) in spans {
                if b <= cursor {
                    continue;
                }
                let s = a.max(cursor);
                if left < b - s {
                    return s + left;
                }
                left -= b - s;
                cursor = b;
            }
            day += 8;
        }
        cursor
    }
}

impl MarketClock {
    /// A clock that starts now.
    pub fn new(spec: ClockSpec) -> MarketClock {
        MarketClock { spec, origin: Instant::now(), skip: None }
    }

    /// A replay's clock (`opend-sim --history`): like [`new`](Self::new), but with
    /// `ClockSpec::At` only the time inside a trading session (continuous trading) of
    /// one of `markets` passes; when none of them is in session, the clock jumps to
    /// the next session open. It stops at `end` (the end of the data). Other specs run
    /// as with [`new`](Self::new), stopping at `end` too.
    pub fn skipping(spec: ClockSpec, markets: &[CalMarket], end: f64) -> MarketClock {
        let mut mask = 0u16;
        for m in markets {
            if let Some(i) = CalMarket::ALL.iter().position(|x| x == m) {
                mask |= 1 << i;
            }
        }
        MarketClock { spec, origin: Instant::now(), skip: Some(SkipClosed { mask, end }) }
    }

    /// The instant a replay's clock stops at (the end of its data); `None` for a
    /// clock that runs on.
    pub fn end(&self) -> Option<f64> {
        self.skip.map(|s| s.end)
    }

    /// How the clock runs.
    pub fn spec(&self) -> ClockSpec {
        self.spec
    }

    /// Whether every market is held in its regular session (`--clock open`).
    pub fn always_open(&self) -> bool {
        self.spec == ClockSpec::Open
    }

    /// The simulated instant, Unix seconds.
    pub fn now(&self) -> f64 {
        let t = match (self.spec, self.skip) {
            (ClockSpec::Real | ClockSpec::Open, _) => wall_secs(),
            (ClockSpec::At { start, speed }, None) => start + self.origin.elapsed().as_secs_f64() * speed,
            (ClockSpec::At { start, speed }, Some(skip)) => {
                skip.advance(start, self.origin.elapsed().as_secs_f64() * speed)
            }
        };
        match self.skip {
            Some(skip) => t.min(skip.end),
            None => t,
        }
    }

    /// The phase of `market` at [`now`](Self::now).
    pub fn phase(&self, market: CalMarket) -> Phase {
        self.phase_at(market, self.now())
    }

    /// The phase of `market` at `ts` (always the regular session for an open clock).
    pub fn phase_at(&self, market: CalMarket, ts: f64) -> Phase {
        if self.always_open() {
            market.open_phase()
        } else {
            market.phase_at(ts)
        }
    }

    /// The market states of GetGlobalState at [`now`](Self::now).
    pub fn global_states(&self) -> GlobalMarketStates {
        let now = self.now();
        let s = |m: CalMarket| self.phase_at(m, now).qot_market_state();
        GlobalMarketStates {
            hk: s(CalMarket::HkStock),
            us: s(CalMarket::UsStock),
            sh: s(CalMarket::CnStock),
            sz: s(CalMarket::CnStock),
            hk_future: s(CalMarket::HkFuture),
            us_future: s(CalMarket::UsFuture),
            sg_future: s(CalMarket::SgFuture),
            jp_future: s(CalMarket::JpFuture),
            sg: s(CalMarket::SgStock),
            my: s(CalMarket::MyStock),
            jp: s(CalMarket::JpStock),
            time: now,
        }
    }
}

impl Default for MarketClock {
    fn default() -> Self {
        MarketClock::new(ClockSpec::Real)
    }
}

/// The `market*` fields of a GetGlobalState reply (`QotMarketState` numbers) and the
/// simulated time they were computed for.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(missing_docs)]
pub struct GlobalMarketStates {
    pub hk: i32,
    pub us: i32,
    pub sh: i32,
    pub sz: i32,
    pub hk_future: i32,
    pub us_future: i32,
    pub sg_future: i32,
    pub jp_future: i32,
    pub sg: i32,
    pub my: i32,
    pub jp: i32,
    /// Unix seconds.
    pub time: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> f64 {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn rfc3339_and_clock_specs() {
        assert_eq!(at("1970-01-01T00:00:00Z"), 0.0);
        assert_eq!(at("2026-12-01T10:00:00+08:00"), at("2026-12-01T02:00:00Z"));
        assert_eq!(at("2026-12-01T10:00:00.5-05:00"), at("2026-12-01T15:00:00Z") + 0.5);
        assert_eq!(parse_rfc3339("2026-02-30T10:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-12-01 10:00"), None);
        assert_eq!("real".parse::<ClockSpec>(), Ok(ClockSpec::Real));
        assert_eq!("OPEN".parse::<ClockSpec>(), Ok(ClockSpec::Open));
        assert_eq!(
            "2026-12-01T10:00:00+08:00x60".parse::<ClockSpec>(),
            Ok(ClockSpec::At { start: at("2026-12-01T02:00:00Z"), speed: 60.0 })
        );
        assert!("2026-12-01T10:00:00+08:00x0".parse::<ClockSpec>().is_err());
        assert!("tomorrow".parse::<ClockSpec>().is_err());
        assert!("2026-12-01T10:00:00+0é00".parse::<ClockSpec>().is_err());
        assert!("2026-12-01T10:00:00é".parse::<ClockSpec>().is_err());
        assert!("é026-12-01T10:00:00+08:00".parse::<ClockSpec>().is_err());
        let spec: ClockSpec = "2026-12-01T02:00:00Zx2".parse().unwrap();
        assert_eq!(spec.to_string().parse::<ClockSpec>(), Ok(spec));
    }

    #[test]
    fn weekdays_and_dst() {
        assert_eq!(weekday(0), 3); // Thursday
        assert_eq!(weekday(days_from_civil(2026, 12, 1)), 1); // Tuesday
                                                              // 2026: DST from 8 March to 1 November.
        assert_eq!(new_york_offset(at("2026-03-08T06:59:59Z")), -5 * 3600);
        assert_eq!(new_york_offset(at("2026-03-08T07:00:00Z")), -4 * 3600);
        assert_eq!(new_york_offset(at("2026-11-01T05:59:59Z")), -4 * 3600);
        assert_eq!(new_york_offset(at("2026-11-01T06:00:00Z")), -5 * 3600);
    }

    #[test]
    fn public_holidays_of_hk_us_and_cn() {
        let d = days_from_civil;
        for m in [CalMarket::HkStock, CalMarket::UsStock, CalMarket::HkFuture, CalMarket::UsFuture] {
            assert!(!m.is_trading_day(d(2025, 12, 25)), "{m:?}");
            assert!(!m.is_trading_day(d(2026, 1, 1)), "{m:?}");
        }
        assert!(!CalMarket::CnStock.is_trading_day(d(2026, 1, 1)));
        assert!(CalMarket::CnStock.is_trading_day(d(2025, 12, 25)));
        // US: Good Friday 2026-04-03, Thanksgiving 2026-11-26, July 4th 2026 (Sat) on Fri 3.
        assert!(!CalMarket::UsStock.is_trading_day(d(2026, 4, 3)));
        assert!(!CalMarket::UsStock.is_trading_day(d(2026, 11, 26)));
        assert!(!CalMarket::UsStock.is_trading_day(d(2026, 7, 3)));
        assert!(CalMarket::UsStock.is_trading_day(d(2026, 11, 27)));
        // HK: Lunar New Year 2026 (Tue 17 to Thu 19 Feb), Easter Monday 2026-04-06.
        for day in 17..=19 {
            assert!(!CalMarket::HkStock.is_trading_day(d(2026, 2, day)));
        }
        assert!(CalMarket::HkStock.is_trading_day(d(2026, 2, 20)));
        assert!(!CalMarket::HkStock.is_trading_day(d(2026, 4, 6)));
        // CN: National Day week 2026.
        assert!(!CalMarket::CnStock.is_trading_day(d(2026, 10, 7)));
        assert!(CalMarket::CnStock.is_trading_day(d(2026, 10, 9)));
        // Singapore: weekends only.
        assert!(CalMarket::SgStock.is_trading_day(d(2025, 12, 25)));
        assert_eq!(CalMarket::HkStock.trading_day_on_or_before(d(2026, 1, 1)), d(2025, 12, 31));
        // The phase on a holiday is closed, also for the market clock.
        assert_eq!(CalMarket::HkStock.phase_at(at("2025-12-25T10:00:00+08:00")), Phase::Closed);
        assert_eq!(CalMarket::UsFuture.phase_at(at("2025-12-25T10:00:00-05:00")), Phase::FutureClose);
    }

    #[test]
    fn trading_days_and_kline_instants() {
        let mon = days_from_civil(2026, 11, 30);
        assert!(is_trading_day(mon) && !is_trading_day(mon - 1));
        assert_eq!(trading_day_on_or_before(mon - 1), mon - 3);
        assert_eq!(trading_days(mon - 3, mon).collect::<Vec<_>>(), vec![mon - 3, mon]);
        // New York midnight: EST in winter, EDT in summer.
        assert_eq!(CalMarket::UsStock.local_midnight(mon) as f64, at("2026-11-30T00:00:00-05:00"));
        let jul = days_from_civil(2026, 7, 1);
        assert_eq!(CalMarket::UsStock.local_instant(jul, 9 * 60 + 30) as f64, at("2026-07-01T09:30:00-04:00"));
        assert_eq!(CalMarket::UsStock.local_day(at("2026-07-01T23:59:59-04:00")), jul);
        assert_eq!(CalMarket::UsStock.local_minute(at("2026-07-01T09:31:00-04:00")), 9 * 60 + 31);
        assert_eq!(CalMarket::HkStock.local_midnight(mon) as f64, at("2026-11-30T00:00:00+08:00"));
        let hk: Vec<_> = CalMarket::HkStock.trading_sessions().collect();
        assert_eq!(hk, vec![(9 * 60 + 30, 12 * 60), (13 * 60, 16 * 60)]);
        let us: Vec<_> = CalMarket::UsStock.trading_sessions().collect();
        assert_eq!(us, vec![(9 * 60 + 30, 16 * 60)]);
    }

    #[test]
    fn sessions() {
        use CalMarket::*;
        let hk = |s: &str| HkStock.phase_at(at(s));
        assert_eq!(hk("2026-12-01T09:15:00+08:00"), Phase::Auction);
        assert_eq!(hk("2026-12-01T09:30:00+08:00"), Phase::Morning);
        assert_eq!(hk("2026-12-01T12:30:00+08:00"), Phase::Rest);
        assert_eq!(hk("2026-12-01T15:59:59+08:00"), Phase::Afternoon);
        assert_eq!(hk("2026-12-01T16:05:00+08:00"), Phase::ClosingAuction);
        assert_eq!(hk("2026-12-01T20:00:00+08:00"), Phase::Closed);
        assert_eq!(hk("2026-12-05T10:00:00+08:00"), Phase::Closed); // Saturday
        let us = |s: &str| UsStock.phase_at(at(s));
        assert_eq!(us("2026-07-01T05:00:00-04:00"), Phase::PreMarket);
        assert_eq!(us("2026-07-01T10:00:00-04:00"), Phase::Afternoon);
        assert_eq!(us("2026-12-01T10:00:00-05:00"), Phase::Afternoon);
        assert_eq!(us("2026-12-01T09:29:00-05:00"), Phase::PreMarket);
        assert_eq!(us("2026-12-01T17:00:00-05:00"), Phase::AfterHours);
        assert_eq!(us("2026-12-01T03:00:00-05:00"), Phase::Closed);
        // HK futures night session runs past midnight, also from Friday into Saturday.
        assert_eq!(HkFuture.phase_at(at("2026-12-02T01:00:00+08:00")), Phase::FutureOpen);
        assert_eq!(HkFuture.phase_at(at("2026-12-05T02:00:00+08:00")), Phase::FutureOpen);
        assert_eq!(HkFuture.phase_at(at("2026-12-05T04:00:00+08:00")), Phase::FutureClose);
        assert_eq!(HkFuture.phase_at(at("2026-12-01T16:45:00+08:00")), Phase::FutureBreak);
        // CME: Sunday evening to Friday afternoon, daily break at 17:00.
        assert_eq!(UsFuture.phase_at(at("2026-12-06T19:00:00-05:00")), Phase::FutureOpen);
        assert_eq!(UsFuture.phase_at(at("2026-12-02T17:30:00-05:00")), Phase::FutureBreak);
        assert_eq!(UsFuture.phase_at(at("2026-12-05T12:00:00-05:00")), Phase::FutureClose);
        assert_eq!(CnStock.phase_at(at("2026-12-01T14:00:00+08:00")), Phase::Afternoon);
        assert_eq!(JpStock.phase_at(at("2026-12-01T10:00:00+09:00")), Phase::Morning);
    }

    #[test]
    fn a_replay_clock_skips_closed_time() {
        let hk = SkipClosed { mask: 1, end: f64::INFINITY };
        assert_eq!(CalMarket::ALL[0], CalMarket::HkStock);
        // Friday 2026-12-04 15:59 + 2 trading minutes: Monday 09:31 (weekend skipped).
        assert_eq!(hk.advance(at("2026-12-04T15:59:00+08:00"), 120.0), at("2026-12-07T09:31:00+08:00"));
        // The lunch break, and a start in closed time (the open itself).
        assert_eq!(hk.advance(at("2026-12-07T11:59:00+08:00"), 120.0), at("2026-12-07T13:01:00+08:00"));
        assert_eq!(hk.advance(at("2026-12-07T03:00:00+08:00"), 0.0), at("2026-12-07T09:30:00+08:00"));
        // Two markets: the union of their sessions (US opens at 22:30 HKT in December).
        let both = SkipClosed { mask: 0b11, end: f64::INFINITY };
        assert_eq!(both.advance(at("2026-12-07T15:59:00+08:00"), 120.0), at("2026-12-07T22:31:00+08:00"));
        let c = MarketClock::skipping(
            ClockSpec::At { start: at("2026-12-04T15:59:00+08:00"), speed: 1.0 },
            &[CalMarket::HkStock],
            at("2026-12-04T16:00:00+08:00"),
        );
        assert!(c.now() <= at("2026-12-04T16:00:00+08:00"));
        assert_eq!(c.end(), Some(at("2026-12-04T16:00:00+08:00")));
    }

    #[test]
    fn accelerated_clock_moves() {
        let c = MarketClock::new("2026-12-01T10:00:00+08:00x1000".parse().unwrap());
        let a = c.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(c.now() > a);
        assert_eq!(c.global_states().hk, 3);
        let open = MarketClock::new(ClockSpec::Open).global_states();
        assert_eq!((open.hk, open.us, open.hk_future), (5, 5, 23));
    }
}
