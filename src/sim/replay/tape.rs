//! [`ReplayTape`]: recorded bars as the simulator's [`Tape`], with the documented path
//! inside a bar ([`path_in_bar`]) between a bar's start and its end.
//!
//! An intraday bar labelled `t` (its end, as OpenD labels bars) with period `p` runs
//! to `t` from the start of its period counted from the session's open: `t - p`, or
//! later for a bar cut short by a break or a close (HK 60-minute bars: 10:30, 11:30,
//! 12:00 from 11:30, 14:00 from 13:00, ...). A
//! daily bar runs from its day's first session open to its last session close.
//! Before a bar starts nothing of it is visible; while it runs only the part of its
//! path up to "now" is ([`Tape::partial`]).

use std::collections::HashMap;

use crate::sim::calendar::CalMarket;
use crate::sim::matching::split_full_code;
use crate::sim::tape::clock::Calendar;
use crate::sim::tape::history::Bar;
use crate::sim::tape::{path_in_bar, Tape};

/// The bars of one code, sorted, with the instants each starts and ends.
#[derive(Debug, Clone)]
pub struct CodeTape {
    /// `MARKET.CODE`.
    pub code: String,
    /// The `name` column, if the file had one.
    pub name: Option<String>,
    /// Bar period, seconds (86 400 for daily bars).
    pub period: i64,
    /// The market's calendar.
    pub cal: Calendar,
    bars: Vec<Bar>,
    starts: Vec<i64>,
    ends: Vec<i64>,
}

impl CodeTape {
    /// One code's tape over `bars` sorted by time (labels as loaded: the end of an
    /// intraday bar, local midnight of a daily bar).
    pub fn new(code: String, name: Option<String>, period: i64, bars: Vec<Bar>) -> CodeTape {
        let sec = split_full_code(&code).map(|s| s.0).unwrap_or(0);
        let cal = Calendar::of(sec);
        let sessions: Vec<(i64, i64)> = cal.sessions().collect();
        let mut starts = Vec::with_capacity(bars.len());
        let mut ends = Vec::with_capacity(bars.len());
        for b in &bars {
            if period >= 86_400 {
                let open = sessions.first().map(|s| s.0).unwrap_or(0);
                let close = sessions.last().map(|s| s.1).unwrap_or(1440);
                starts.push(cal.market.local_instant(b.day, open));
                ends.push(cal.market.local_instant(b.day, close));
            } else {
                let end_min = cal.market.local_minute((b.ts - 1) as f64) + 1;
                let mut start = b.ts - period;
                // Bars are counted from their session's open: the HK 60-minute bar
                // labelled 12:00 runs from 11:30, the one labelled 14:00 from 13:00.
                let pmin = (period / 60).max(1);
                for (a, z) in &sessions {
                    if end_min > *a && end_min <= *z {
                        let aligned = a + (end_min - 1 - a) / pmin * pmin;
                        start = start.max(cal.market.local_instant(b.day, aligned));
                    }
                }
                starts.push(start);
                ends.push(b.ts);
            }
        }
        CodeTape { code, name, period, cal, bars, starts, ends }
    }

    /// Every bar, oldest first.
    pub fn bars(&self) -> &[Bar] {
        &self.bars
    }

    /// `(start, end)` of bar `i`, Unix seconds.
    pub fn span(&self, i: usize) -> (i64, i64) {
        (self.starts[i], self.ends[i])
    }

    /// How many bars have ended by `now`.
    pub fn ended_by(&self, now: f64) -> usize {
        self.ends.partition_point(|e| (*e as f64) <= now)
    }

    /// The index of the bar in progress at `now` (started, not ended).
    pub fn running_at(&self, now: f64) -> Option<usize> {
        let i = self.ended_by(now);
        (i < self.bars.len() && self.starts[i] as f64 <= now).then_some(i)
    }

    /// The price at `now` on the path: inside a bar its path, between bars the last
    /// close; `None` before the first bar starts.
    pub fn price_at(&self, now: f64) -> Option<f64> {
        if let Some(i) = self.running_at(now) {
            let (s, e) = self.span(i);
            return Some(path_in_bar(&self.bars[i], (now - s as f64) / (e - s).max(1) as f64).0);
        }
        let i = self.ended_by(now);
        (i > 0).then(|| self.bars[i - 1].close)
    }

    /// The corners of the path from `from` to `to` (both included), with the index of
    /// their bar: a straight line joins consecutive points of one bar; between bars the
    /// price jumps (a gap).
    pub fn path_points(&self, from: f64, to: f64) -> Vec<(f64, f64, usize)> {
        let mut out = Vec::new();
        if to < from {
            return out;
        }
        let mut i = self.ended_by(from);
        if let Some(p) = self.price_at(from) {
            if self.running_at(from).is_some() {
                out.push((from, p, i));
            }
        }
        while i < self.bars.len() && (self.starts[i] as f64) <= to {
            let (s, e) = (self.starts[i] as f64, self.ends[i] as f64);
            let len = (e - s).max(1.0);
            for k in 0..=crate::sim::tape::PATH_SEGMENTS {
                let t = s + len * k as f64 / crate::sim::tape::PATH_SEGMENTS as f64;
                if t > from && t < to {
                    let p = path_in_bar(&self.bars[i], k as f64 / crate::sim::tape::PATH_SEGMENTS as f64).0;
                    out.push((t, p, i));
                }
            }
            if e >= to {
                if to > from && to >= s {
                    if let Some(p) = self.price_at(to) {
                        out.push((to, p, i));
                    }
                }
                break;
            }
            i += 1;
        }
        out
    }
}

/// Recorded bars of one or more codes (`opend-sim --history`), loaded by
/// [`load`](super::csv::load). Deterministic and cheap to query (binary searches).
#[derive(Debug, Clone, Default)]
pub struct ReplayTape {
    codes: Vec<CodeTape>,
    index: HashMap<String, usize>,
}

impl ReplayTape {
    /// A tape over per-code tapes (codes must be distinct).
    pub fn new(codes: Vec<CodeTape>) -> ReplayTape {
        let index = codes.iter().enumerate().map(|(i, c)| (c.code.clone(), i)).collect();
        ReplayTape { codes, index }
    }

    /// The tape of one code.
    pub fn code(&self, code: &str) -> Option<&CodeTape> {
        self.index.get(code).map(|i| &self.codes[*i])
    }

    /// The position of `code` in [`all`](Self::all).
    pub fn index_of(&self, code: &str) -> Option<usize> {
        self.index.get(code).copied()
    }

    /// Every code's tape, sorted by code.
    pub fn all(&self) -> &[CodeTape] {
        &self.codes
    }

    /// Bars over all codes.
    pub fn len(&self) -> usize {
        self.codes.iter().map(|c| c.bars.len()).sum()
    }

    /// Whether the tape has no bar.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When the first bar starts (the default start of a replay's clock).
    pub fn first_start(&self) -> Option<i64> {
        self.codes.iter().filter_map(|c| c.starts.first().copied()).min()
    }

    /// When the last bar ends (where a replay's clock stops).
    pub fn last_end(&self) -> Option<i64> {
        self.codes.iter().filter_map(|c| c.ends.last().copied()).max()
    }

    /// The markets (calendars) of the codes.
    pub fn markets(&self) -> Vec<CalMarket> {
        let mut out: Vec<CalMarket> = Vec::new();
        for c in &self.codes {
            if !out.contains(&c.cal.market) {
                out.push(c.cal.market);
            }
        }
        out
    }
}

impl Tape for ReplayTape {
    fn codes(&self) -> Vec<String> {
        self.codes.iter().map(|c| c.code.clone()).collect()
    }

    fn period_secs(&self, code: &str) -> Option<i64> {
        self.code(code).map(|c| c.period)
    }

    fn bars(&self, code: &str, from: i64, until: i64) -> Vec<Bar> {
        let Some(c) = self.code(code) else { return Vec::new() };
        let lo = c.ends.partition_point(|e| *e <= from);
        let hi = c.ends.partition_point(|e| *e <= until);
        c.bars[lo..hi.max(lo)].to_vec()
    }

    fn partial(&self, code: &str, now: f64) -> Option<Bar> {
        let c = self.code(code)?;
        let i = c.running_at(now)?;
        let (s, e) = c.span(i);
        let frac = ((now - s as f64) / (e - s).max(1) as f64).clamp(0.0, 1.0);
        let b = &c.bars[i];
        let (price, high, low) = path_in_bar(b, frac);
        Some(Bar {
            high,
            low,
            close: price,
            volume: (b.volume as f64 * frac).floor() as i64,
            turnover: b.turnover * frac,
            ..*b
        })
    }

    fn price_at(&self, code: &str, now: f64) -> Option<f64> {
        self.code(code)?.price_at(now)
    }
}

/// A replay's tape in front of another one: the replayed codes come from the
/// [`ReplayTape`], every other code from `rest` (the seeded tape of the built-in
/// instruments), so instruments that are not replayed keep working as before.
pub struct LayeredTape {
    replay: std::sync::Arc<ReplayTape>,
    rest: Option<std::sync::Arc<dyn Tape>>,
}

impl std::fmt::Debug for LayeredTape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayeredTape").field("codes", &self.replay.all().len()).finish_non_exhaustive()
    }
}

impl LayeredTape {
    /// `replay` in front of `rest`.
    pub fn new(replay: std::sync::Arc<ReplayTape>, rest: Option<std::sync::Arc<dyn Tape>>) -> LayeredTape {
        LayeredTape { replay, rest }
    }

    fn pick(&self, code: &str) -> Option<&dyn Tape> {
        if self.replay.code(code).is_some() {
            Some(&*self.replay)
        } else {
            self.rest.as_deref()
        }
    }
}

impl Tape for LayeredTape {
    fn codes(&self) -> Vec<String> {
        let mut out = self.replay.codes();
        if let Some(r) = &self.rest {
            out.extend(r.codes().into_iter().filter(|c| self.replay.code(c).is_none()));
        }
        out
    }

    fn period_secs(&self, code: &str) -> Option<i64> {
        self.pick(code)?.period_secs(code)
    }

    fn bars(&self, code: &str, from: i64, until: i64) -> Vec<Bar> {
        self.pick(code).map(|t| t.bars(code, from, until)).unwrap_or_default()
    }

    fn partial(&self, code: &str, now: f64) -> Option<Bar> {
        self.pick(code)?.partial(code, now)
    }

    fn daily(&self, code: &str, first_day: i64, last_day: i64) -> Vec<Bar> {
        self.pick(code).map(|t| t.daily(code, first_day, last_day)).unwrap_or_default()
    }

    fn price_at(&self, code: &str, now: f64) -> Option<f64> {
        self.pick(code)?.price_at(code, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(ts: i64, o: f64, h: f64, l: f64, c: f64) -> Bar {
        Bar {
            ts,
            day: ts.div_euclid(86_400),
            open: o,
            high: h,
            low: l,
            close: c,
            last_close: o,
            volume: 600,
            turnover: 0.0,
        }
    }

    #[test]
    fn a_finished_hour_bar_is_the_recorded_one_in_the_live_day() {
        use crate::sim::market::live::Live;
        // HK 60-minute bars of 2026-12-01: the 12:00 bar runs from 11:30 (the morning
        // session ends at 12:00) and must not swallow the 11:30 bar.
        let day = crate::sim::calendar::days_from_civil(2026, 12, 1);
        let cal = Calendar::of(crate::sim::matching::sec_market::HK);
        let at = |h: i64, m: i64| cal.market.local_instant(day, h * 60 + m);
        let mk = |ts: i64, o: f64, h: f64, l: f64, c: f64| Bar { day, volume: 1000, ..bar(ts, o, h, l, c) };
        let bars = vec![
            mk(at(10, 30), 10.0, 11.0, 9.5, 10.5),
            mk(at(11, 30), 10.5, 12.0, 10.0, 11.0),
            mk(at(12, 0), 11.0, 13.0, 10.8, 12.5),
            mk(at(14, 0), 12.5, 12.6, 12.0, 12.2),
        ];
        let tape = ReplayTape::new(vec![CodeTape::new("HK.00700".into(), None, 3600, bars.clone())]);
        assert_eq!(tape.code("HK.00700").unwrap().span(2), (at(11, 30), at(12, 0)));
        let inst = crate::sim::matching::Market::default_instruments()
            .into_iter()
            .find(|i| i.full_code() == "HK.00700")
            .unwrap();
        let t = |ts: i64| ts as f64;
        let mut live = Live::start(&inst, 1, &tape, t(at(11, 40)), tape.price_at("HK.00700", t(at(11, 40))));
        for m in [45, 50, 55] {
            let now = t(at(11, m));
            live.advance(&tape, tape.price_at("HK.00700", now), now, true);
        }
        let now = t(at(13, 0)) + 1.0;
        live.advance(&tape, tape.price_at("HK.00700", now), now, true);
        let recorded = |i: usize| {
            let b = live.minutes[&bars[i].ts];
            (b.open, b.high, b.low, b.close, b.volume)
        };
        for (i, b) in bars.iter().take(3).enumerate() {
            assert_eq!(recorded(i), (b.open, b.high, b.low, b.close, b.volume), "bar {i}");
        }
        // Nothing sampled inside the finished 12:00 bar is left beside it.
        assert!(live.minutes.range(at(11, 30) + 1..at(12, 0)).next().is_none());
        assert_eq!((live.open, live.high, live.low), (10.0, 13.0, 9.5));
        assert!(live.volume >= 3000 && live.volume <= 3000 + 2 * inst.lot_size as i64, "{}", live.volume);
    }

    #[test]
    fn partial_bars_show_only_the_past() {
        // 2026-12-01 09:31 and 09:32 HKT.
        let t0 = 1_796_088_660;
        let c = CodeTape::new(
            "HK.00700".into(),
            None,
            60,
            vec![bar(t0, 10.0, 13.0, 9.0, 12.0), bar(t0 + 60, 12.0, 12.5, 11.0, 11.5)],
        );
        let tape = ReplayTape::new(vec![c]);
        assert_eq!(tape.first_start(), Some(t0 - 60));
        assert_eq!(tape.price_at("HK.00700", (t0 - 61) as f64), None);
        assert_eq!(tape.price_at("HK.00700", (t0 - 60) as f64), Some(10.0));
        assert_eq!(tape.price_at("HK.00700", (t0 - 40) as f64), Some(13.0));
        let p = tape.partial("HK.00700", (t0 - 40) as f64).unwrap();
        assert_eq!((p.high, p.low, p.close, p.volume), (13.0, 10.0, 13.0, 200));
        assert!(tape.bars("HK.00700", 0, t0 - 1).is_empty());
        assert_eq!(tape.bars("HK.00700", 0, t0).len(), 1);
        assert_eq!(tape.price_at("HK.00700", (t0 + 600) as f64), Some(11.5));
        let pts = tape.code("HK.00700").unwrap().path_points((t0 - 60) as f64, (t0 + 30) as f64);
        let prices: Vec<f64> = pts.iter().map(|p| p.1).collect();
        assert_eq!(prices, vec![10.0, 13.0, 9.0, 12.0, 12.0, 11.0, 11.75]);
    }
}
