//! Qot_StockFilter over the simulator's stocks: the common simple fields (price, market
//! value, PE, PB, shares, 52-week ratios), accumulated fields over the last N days
//! (change, amplitude, volume, turnover, turnover rate) from the same daily bars the
//! K-lines serve, and seeded financial fields, with sorting and paging.
//!
//! Pattern and custom-indicator filters are refused (not modelled).

use crate::pb::{qot_common as qc, qot_stock_filter as sf};
use crate::sim::ConnInfo;

use super::requests::{page, sec_market_of};
use super::state::{Entry, Push, Res, State};
use crate::sim::instrument::round9;
use crate::sim::matching::InstrumentKind;
use crate::sim::tape::history::{fnv1a, hash3, unit, Bar};
use crate::sim::PriceSource;

/// Seeded fundamentals of a stock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fundamentals {
    pub(crate) total_shares: f64,
    pub(crate) float_shares: f64,
    pub(crate) eps: f64,
    pub(crate) bps: f64,
    pub(crate) net_margin: f64,
    pub(crate) gross_margin: f64,
    pub(crate) profit_growth: f64,
    pub(crate) revenue_growth: f64,
}

/// The fundamentals of `e` (fixed per code; earnings scale with the table price).
pub(crate) fn fundamentals(e: &Entry) -> Fundamentals {
    let key = fnv1a(&e.instrument.full_code()) ^ 0xfa11;
    let u = |k: i64| unit(hash3(key, k, 0));
    let total = (1.0e9 * (0.5 + 9.5 * u(1))).round();
    let pe = 8.0 + 30.0 * u(2);
    let pb = 0.8 + 6.0 * u(3);
    let p = e.instrument.start_price;
    Fundamentals {
        total_shares: total,
        float_shares: (total * (0.6 + 0.4 * u(4))).round(),
        eps: round9(p / pe),
        bps: round9(p / pb),
        net_margin: 0.05 + 0.30 * u(5),
        gross_margin: 0.30 + 0.40 * u(6),
        profit_growth: -20.0 + 60.0 * u(7),
        revenue_growth: -10.0 + 40.0 * u(8),
    }
}

/// The last `n` daily bars (the live day last).
fn last_days(e: &Entry, n: usize) -> Vec<Bar> {
    let live_day = e.history.live_day;
    let span = (n as i64) * 7 / 5 + 10;
    let mut v: Vec<Bar> = e
        .history
        .days((live_day - span).max(e.history.first_day), live_day - 1)
        .filter_map(|d| e.history.day_bar(d))
        .collect();
    v.push(e.live.day_bar(live_day));
    if v.len() > n {
        v.drain(..v.len() - n);
    }
    v
}

fn base_value(e: &Entry, f: &Fundamentals, field: i32) -> Res<f64> {
    let p = e.live.last;
    Ok(match field {
        3 => p,
        4..=7 => {
            let year = last_days(e, 250);
            let hi = year.iter().map(|b| b.high).fold(f64::MIN, f64::max);
            let lo = year.iter().map(|b| b.low).fold(f64::MAX, f64::min);
            match field {
                4 => p / hi,
                5 => p / lo,
                6 => e.live.high / hi,
                _ => e.live.low / lo,
            }
        }
        10 => p * e.instrument.lot_size,
        11 => p * f.total_shares,
        12 | 13 => p / f.eps,
        14 => p / f.bps,
        19 => f.total_shares,
        20 => f.float_shares,
        21 => p * f.float_shares,
        _ => return Err(format!("StockField {field} is not modelled by opend-sim (served: 3-7, 10-14, 19-21)")),
    })
}

fn accumulate_value(e: &Entry, f: &Fundamentals, field: i32, days: i32) -> Res<f64> {
    if !(1..=365).contains(&days) {
        return Err(format!("days {days} is out of range (1 to 365)"));
    }
    let bars = last_days(e, days as usize);
    let base = bars.first().map(|b| b.last_close).filter(|c| *c > 0.0).unwrap_or(e.live.prev_close.max(1e-9));
    let volume: i64 = bars.iter().map(|b| b.volume).sum();
    Ok(match field {
        1 => (e.live.last - base) / base * 100.0,
        2 => {
            let hi = bars.iter().map(|b| b.high).fold(f64::MIN, f64::max);
            let lo = bars.iter().map(|b| b.low).fold(f64::MAX, f64::min);
            (hi - lo) / base * 100.0
        }
        3 => volume as f64,
        4 => bars.iter().map(|b| b.turnover).sum(),
        5 => volume as f64 / f.float_shares * 100.0,
        _ => return Err(format!("AccumulateField {field} is not modelled by opend-sim (served: 1-5)")),
    })
}

fn financial_value(e: &Entry, f: &Fundamentals, field: i32, quarter: i32) -> Res<f64> {
    if !(1..=5).contains(&quarter) {
        return Err(format!("Unknown FinancialQuarter {quarter}"));
    }
    let profit = f.eps * f.total_shares;
    let _ = e;
    Ok(match field {
        1 => profit,
        2 => f.profit_growth,
        3 => profit / f.net_margin,
        4 => f.revenue_growth,
        5 => f.net_margin * 100.0,
        6 => f.gross_margin * 100.0,
        8 => f.eps / f.bps * 100.0,
        44 | 45 => f.eps,
        _ => return Err(format!("FinancialField {field} is not modelled by opend-sim (served: 1-6, 8, 44, 45)")),
    })
}

fn within(v: f64, min: Option<f64>, max: Option<f64>) -> bool {
    min.is_none_or(|m| v >= m - 1e-9) && max.is_none_or(|m| v <= m + 1e-9)
}

/// Qot_StockFilter.
pub(crate) fn stock_filter(
    st: &mut State,
    src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &sf::C2s,
) -> Res<(sf::S2c, Vec<Push>)> {
    let sec = sec_market_of(c.market)?;
    if !c.pattern_filter_list.is_empty() || !c.custom_indicator_filter_list.is_empty() {
        return Err("Pattern and custom indicator filters are not modelled by opend-sim".into());
    }
    let plate_members: Option<&[&str]> = match &c.plate {
        Some(p) => Some(
            super::reference::PLATES
                .iter()
                .find(|x| x.1 == p.code)
                .map(|x| x.4)
                .ok_or_else(|| format!("Unknown plate {}", p.code))?,
        ),
        None => None,
    };
    let idx: Vec<usize> = (0..st.entries.len())
        .filter(|i| {
            let e = &st.entries[*i];
            e.instrument.sec_market == sec
                && e.instrument.kind == InstrumentKind::Stock
                && !st
                    .more
                    .derivs
                    .list
                    .iter()
                    .any(|d| d.instrument.sec_market == sec && d.instrument.code == e.instrument.code)
                && plate_members.is_none_or(|m| m.contains(&e.instrument.full_code().as_str()))
        })
        .collect();
    for i in &idx {
        super::requests::sync(st, src, *i);
    }
    let mut rows: Vec<(Option<f64>, sf::StockData)> = Vec::new();
    for i in idx {
        let e = &st.entries[i];
        let f = fundamentals(e);
        let mut data = sf::StockData {
            security: qc::Security { market: e.qot_market, code: e.instrument.code.clone() },
            name: e.instrument.name.clone(),
            ..Default::default()
        };
        let mut keep = true;
        let mut sort_key = None;
        let mut note_sort = |dir: Option<i32>, v: f64| {
            if sort_key.is_none() && matches!(dir, Some(1) | Some(2)) {
                sort_key = Some(if dir == Some(1) { v } else { -v });
            }
        };
        for b in &c.base_filter_list {
            if matches!(b.field_name, 1 | 2) {
                note_sort(b.sort_dir, 0.0);
                continue;
            }
            let v = round9(base_value(e, &f, b.field_name)?);
            keep &= b.is_no_filter == Some(true) || within(v, b.filter_min, b.filter_max);
            note_sort(b.sort_dir, v);
            data.base_data_list.push(sf::BaseData { field_name: b.field_name, value: v });
        }
        for a in &c.accumulate_filter_list {
            let v = round9(accumulate_value(e, &f, a.field_name, a.days)?);
            keep &= a.is_no_filter == Some(true) || within(v, a.filter_min, a.filter_max);
            note_sort(a.sort_dir, v);
            data.accumulate_data_list.push(sf::AccumulateData { field_name: a.field_name, value: v, days: a.days });
        }
        for x in &c.financial_filter_list {
            let v = round9(financial_value(e, &f, x.field_name, x.quarter)?);
            keep &= x.is_no_filter == Some(true) || within(v, x.filter_min, x.filter_max);
            note_sort(x.sort_dir, v);
            data.financial_data_list.push(sf::FinancialData { field_name: x.field_name, value: v, quarter: x.quarter });
        }
        if keep {
            rows.push((sort_key, data));
        }
    }
    rows.sort_by(|a, b| {
        a.0.unwrap_or(0.0).total_cmp(&b.0.unwrap_or(0.0)).then_with(|| a.1.security.code.cmp(&b.1.security.code))
    });
    let all = rows.len();
    let (from, to) =
        if all == 0 && c.begin == 0 && c.num > 0 && c.num <= 200 { (0, 0) } else { page(c.begin, c.num, all, 200)? };
    let list = rows.drain(from..to).map(|(_, d)| d).collect();
    Ok((sf::S2c { last_page: to >= all, all_count: all as i32, data_list: list }, Vec::new()))
}
