//! Money flow: Qot_GetCapitalFlow and Qot_GetCapitalDistribution, both drawn from the
//! bars' turnover.
//!
//! Every bar's turnover is split into buying and selling (the buy share leans with the
//! bar's move) and each side into super / big / mid / small orders by seeded weights. So
//! for any bar, in - out per class sums to the bar's net inflow, in + out over the
//! classes is its turnover, the intraday flow is the running sum over the live day's
//! one-minute bars, and the distribution is the same live day summed: its net equals the
//! last intraday inflow and the day's entry in the daily flow.

use crate::pb::{qot_get_capital_distribution as gcd, qot_get_capital_flow as gcf};
use crate::sim::calendar::civil_from_days;
use crate::sim::matching::InstrumentKind;
use crate::sim::ConnInfo;

use super::requests::{lookup, parse_day};
use super::state::{Entry, Push, Res, State};
use crate::sim::instrument::round9;
use crate::sim::tape::clock::Calendar;
use crate::sim::tape::history::{fnv1a, hash3, unit, Bar};
use crate::sim::PriceSource;

/// One bar's money, by class (super, big, mid, small).
#[derive(Debug, Clone, Copy, Default)]
struct Flow {
    inflow: [f64; 4],
    outflow: [f64; 4],
}

impl Flow {
    fn add(&mut self, o: &Flow) {
        for k in 0..4 {
            self.inflow[k] += o.inflow[k];
            self.outflow[k] += o.outflow[k];
        }
    }

    fn net(&self, k: usize) -> f64 {
        self.inflow[k] - self.outflow[k]
    }

    fn item(&self, time: String, ts: f64) -> gcf::CapitalFlowItem {
        let n = |k| round9(self.net(k));
        let (s, b, m, l) = (n(0), n(1), n(2), n(3));
        gcf::CapitalFlowItem {
            in_flow: round9(s + b + m + l),
            time: Some(time),
            timestamp: Some(ts),
            main_in_flow: Some(round9(s + b)),
            super_in_flow: Some(s),
            big_in_flow: Some(b),
            mid_in_flow: Some(m),
            sml_in_flow: Some(l),
        }
    }
}

fn weights(key: u64, a: i64, b: i64) -> [f64; 4] {
    let w = [
        0.10 + 0.20 * unit(hash3(key, a, b)),
        0.15 + 0.20 * unit(hash3(key, a, b + 1)),
        0.20 + 0.10 * unit(hash3(key, a, b + 2)),
        0.25 + 0.10 * unit(hash3(key, a, b + 3)),
    ];
    let sum: f64 = w.iter().sum();
    w.map(|x| x / sum)
}

/// The flow of one bar (`id` tells bars apart: a day number or a minute's end).
fn bar_flow(key: u64, id: i64, bar: &Bar) -> Flow {
    let t = bar.turnover.max(0.0);
    let lean = if bar.close > bar.last_close + 1e-9 {
        0.12
    } else if bar.close < bar.last_close - 1e-9 {
        -0.12
    } else {
        0.0
    };
    let buy = (0.5 + lean + 0.16 * (unit(hash3(key, id, 11)) - 0.5)).clamp(0.1, 0.9);
    let (wi, wo) = (weights(key, id, 20), weights(key, id, 30));
    let mut f = Flow::default();
    for k in 0..4 {
        f.inflow[k] = t * buy * wi[k];
        f.outflow[k] = t * (1.0 - buy) * wo[k];
    }
    f
}

fn key_of(e: &Entry) -> u64 {
    fnv1a(&e.instrument.full_code()) ^ 0xf10f
}

/// The live day's flow, one entry per one-minute bar (end time, flow).
fn live_minutes(e: &Entry) -> Vec<(i64, Flow)> {
    let key = key_of(e);
    e.live.minutes.values().map(|b| (b.ts, bar_flow(key, b.ts, b))).collect()
}

fn live_total(e: &Entry) -> Flow {
    let mut f = Flow::default();
    for (_, m) in live_minutes(e) {
        f.add(&m);
    }
    f
}

fn stock_entry(st: &mut State, src: &dyn PriceSource, sec: &crate::pb::qot_common::Security) -> Res<usize> {
    let i = lookup(st, src, sec)?;
    if st.entries[i].instrument.kind != InstrumentKind::Stock {
        return Err(format!(
            "Money flow is served for stocks, ETFs and warrants; {} is not one",
            st.entries[i].instrument.full_code()
        ));
    }
    Ok(i)
}

/// Qot_GetCapitalFlow.
pub(crate) fn capital_flow(
    st: &mut State,
    src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gcf::C2s,
) -> Res<(gcf::S2c, Vec<Push>)> {
    let period = c.period_type.unwrap_or(1);
    if !(1..=4).contains(&period) {
        return Err(format!("Unknown PeriodType {period} (1 intraday, 2 day, 3 week, 4 month)"));
    }
    let i = stock_entry(st, src, &c.security)?;
    let e = &st.entries[i];
    let cal = e.live.cal;
    let mut items = Vec::new();
    if period == 1 {
        let mut run = Flow::default();
        for (ts, f) in live_minutes(e) {
            run.add(&f);
            items.push(run.item(cal.format(ts as f64, false), ts as f64));
        }
    } else {
        let live_day = e.history.live_day;
        let span = match period {
            2 => 60,
            3 => 366,
            _ => 3 * 366,
        };
        let last =
            c.end_time.as_deref().map(|s| parse_day(s, "endTime")).transpose()?.unwrap_or(live_day).min(live_day);
        let first = c.begin_time.as_deref().map(|s| parse_day(s, "beginTime")).transpose()?.unwrap_or(last - span);
        if first > last {
            return Err(format!(
                "beginTime is after endTime (or after the simulated today {})",
                Calendar::format_day(live_day)
            ));
        }
        if last - first > 5 * 366 {
            return Err("The range from beginTime to endTime may span at most five years".into());
        }
        let key = key_of(e);
        let mut days: Vec<(i64, Flow)> = e
            .history
            .days(first.max(e.history.first_day), last)
            .filter(|d| *d < live_day)
            .filter_map(|d| e.history.day_bar(d).map(|b| (d, bar_flow(key, d, &b))))
            .collect();
        if last >= live_day {
            days.push((live_day, live_total(e)));
        }
        let group = |d: i64| {
            let (y, m, _) = civil_from_days(d);
            match period {
                3 => (d + 3).div_euclid(7),
                4 => y * 12 + i64::from(m),
                _ => d,
            }
        };
        let mut grouped: Vec<(i64, i64, Flow)> = Vec::new();
        for (d, f) in days {
            match grouped.last_mut() {
                Some((g, last_day, acc)) if *g == group(d) => {
                    acc.add(&f);
                    *last_day = d;
                }
                _ => grouped.push((group(d), d, f)),
            }
        }
        for (_, d, f) in grouped {
            items.push(f.item(format!("{} 00:00:00", Calendar::format_day(d)), cal.midnight(d) as f64));
        }
    }
    let (last_valid_time, last_valid_timestamp) = match items.last() {
        Some(it) => (it.time.clone(), it.timestamp),
        None => (None, None),
    };
    Ok((gcf::S2c { flow_item_list: items, last_valid_time, last_valid_timestamp }, Vec::new()))
}

/// Qot_GetCapitalDistribution: the live day's money by order size.
pub(crate) fn capital_distribution(
    st: &mut State,
    src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gcd::C2s,
) -> Res<(gcd::S2c, Vec<Push>)> {
    let i = stock_entry(st, src, &c.security)?;
    let e = &st.entries[i];
    let f = live_total(e);
    let r = round9;
    let s2c = gcd::S2c {
        capital_in_super: Some(r(f.inflow[0])),
        capital_in_big: r(f.inflow[1]),
        capital_in_mid: r(f.inflow[2]),
        capital_in_small: r(f.inflow[3]),
        capital_out_super: Some(r(f.outflow[0])),
        capital_out_big: r(f.outflow[1]),
        capital_out_mid: r(f.outflow[2]),
        capital_out_small: r(f.outflow[3]),
        update_time: Some(e.live.cal.format(e.live.updated, false)),
        update_timestamp: Some(e.live.updated),
    };
    Ok((s2c, Vec::new()))
}
