//! Reference data: plates (Qot_GetPlateSet, Qot_GetPlateSecurity, Qot_GetOwnerPlate),
//! code changes, IPO lists, holding changes, and the OpenD-level GetUserInfo and
//! GetDelayStatistics.
//!
//! The plates are one static table; a plate's members and a security's owner plates both
//! read it, so the two answers always agree.

use crate::pb::{
    get_delay_statistics as gds, get_user_info as gui, qot_common as qc, qot_get_code_change as gcc,
    qot_get_holding_change_list as ghc, qot_get_ipo_list as gil, qot_get_owner_plate as gop,
    qot_get_plate_security as gps, qot_get_plate_set as gpset,
};
use crate::sim::calendar::days_from_civil;
use crate::sim::matching::{sec_market, InstrumentKind};
use crate::sim::ConnInfo;

use super::requests::{find, parse_day, sec_market_of, static_info};
use super::state::{Push, Res, State};
use crate::sim::instrument::round9;
use crate::sim::tape::clock::Calendar;
use crate::sim::tape::history::{fnv1a, hash3, unit};
use crate::sim::PriceSource;

/// One plate: (QotMarket, code, name, PlateSetType, members as `MARKET.CODE`).
pub(crate) type Plate = (i32, &'static str, &'static str, i32, &'static [&'static str]);

/// The simulator's plates. Members not in the instrument table are skipped.
pub(crate) const PLATES: &[Plate] = &[
    (1, "BK1001", "Internet Services", 1, &["HK.00700", "HK.09988", "HK.03690"]),
    (1, "BK1002", "Banks", 1, &["HK.00005"]),
    (1, "BK1003", "Exchange Traded Funds", 1, &["HK.02800"]),
    (1, "BK1910", "Platform Economy", 3, &["HK.00700", "HK.09988", "HK.03690"]),
    (1, "BK1920", "Hang Seng Index Constituents", 3, &["HK.00700", "HK.09988", "HK.00005", "HK.03690"]),
    (11, "BK2001", "Technology", 1, &["US.AAPL", "US.MSFT", "US.NVDA"]),
    (11, "BK2002", "Automobiles", 1, &["US.TSLA"]),
    (11, "BK2910", "Artificial Intelligence", 3, &["US.MSFT", "US.NVDA"]),
    (11, "BK2920", "Electric Vehicles", 3, &["US.TSLA"]),
    (21, "BK0001", "Liquor", 1, &["SH.600519"]),
    (21, "BK0002", "Insurance", 1, &["SH.601318"]),
    (22, "BK0003", "Banks", 1, &["SZ.000001"]),
    (21, "BK0910", "Ping An Group", 3, &["SH.601318", "SZ.000001"]),
];

fn plate_info(p: &Plate) -> qc::PlateInfo {
    qc::PlateInfo { plate: qc::Security { market: p.0, code: p.1.into() }, name: p.2.into(), plate_type: Some(p.3) }
}

/// The QotMarkets whose plates a request for `market` lists (SH and SZ share A-share plates).
fn plate_markets(market: i32) -> Res<&'static [i32]> {
    match market {
        1 => Ok(&[1]),
        11 => Ok(&[11]),
        21 | 22 => Ok(&[21, 22]),
        m => Err(format!("Plates are served for HK (1), US (11) and A-share (21, 22) markets, not QotMarket {m}")),
    }
}

fn full_code(st: &State, sec: &qc::Security) -> Res<String> {
    Ok(st.entries[find(st, sec)?].instrument.full_code())
}

/// Qot_GetPlateSet.
pub(crate) fn plate_set(
    _st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gpset::C2s,
) -> Res<(gpset::S2c, Vec<Push>)> {
    let markets = plate_markets(c.market)?;
    if !(0..=4).contains(&c.plate_set_type) {
        return Err(format!("Unknown PlateSetType {}", c.plate_set_type));
    }
    let list = PLATES
        .iter()
        .filter(|p| markets.contains(&p.0) && (c.plate_set_type == 0 || c.plate_set_type == p.3))
        .map(plate_info)
        .collect();
    Ok((gpset::S2c { plate_info_list: list }, Vec::new()))
}

/// Qot_GetPlateSecurity.
pub(crate) fn plate_security(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gps::C2s,
) -> Res<(gps::S2c, Vec<Push>)> {
    let markets = plate_markets(c.plate.market)?;
    let plate = PLATES.iter().find(|p| markets.contains(&p.0) && p.1 == c.plate.code).ok_or_else(|| {
        format!(
            "Unknown plate {}.{} (Qot_GetPlateSet lists the plates)",
            super::subs::qot_market_prefix(c.plate.market),
            c.plate.code
        )
    })?;
    let mut list = Vec::new();
    for code in plate.4 {
        if let Some(e) = st.entries.iter().find(|e| e.instrument.full_code() == *code) {
            list.push(static_info(e, qc::Security { market: e.qot_market, code: e.instrument.code.clone() }));
        }
    }
    if c.ascend == Some(false) {
        list.reverse();
    }
    Ok((gps::S2c { static_info_list: list }, Vec::new()))
}

/// Qot_GetOwnerPlate.
pub(crate) fn owner_plate(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gop::C2s,
) -> Res<(gop::S2c, Vec<Push>)> {
    if c.security_list.is_empty() {
        return Err("Qot_GetOwnerPlate needs securityList".into());
    }
    if c.security_list.len() > 200 {
        return Err("At most 200 securities per Qot_GetOwnerPlate request".into());
    }
    let mut list = Vec::new();
    for sec in &c.security_list {
        let i = find(st, sec)?;
        let e = &st.entries[i];
        if e.instrument.kind != InstrumentKind::Stock {
            return Err(format!("{} is not a stock: only stocks belong to plates", e.instrument.full_code()));
        }
        let code = full_code(st, sec)?;
        list.push(gop::SecurityOwnerPlate {
            security: sec.clone(),
            name: Some(e.instrument.name.clone()),
            plate_info_list: PLATES.iter().filter(|p| p.4.contains(&code.as_str())).map(plate_info).collect(),
        });
    }
    Ok((gop::S2c { owner_plate_list: list }, Vec::new()))
}

/// One code change: (type, security, related security, public, effective, end dates).
type Change = (i32, &'static str, &'static str, (i64, u32, u32), (i64, u32, u32), Option<(i64, u32, u32)>);

/// The simulator's code changes (a lot-size change and a temporary counter).
const CHANGES: &[Change] = &[
    (3, "HK.02800", "HK.02800", (2025, 3, 3), (2025, 3, 24), None),
    (2, "HK.00005", "HK.02888", (2025, 6, 2), (2025, 6, 16), Some((2025, 7, 4))),
    (8, "HK.03690", "HK.03690", (2024, 9, 2), (2024, 9, 9), None),
];

/// Qot_GetCodeChange.
pub(crate) fn code_change(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gcc::C2s,
) -> Res<(gcc::S2c, Vec<Push>)> {
    let mut codes = Vec::new();
    for sec in &c.security_list {
        codes.push(full_code(st, sec)?);
    }
    if let Some(t) = c.type_list.iter().find(|t| !(1..=8).contains(*t)) {
        return Err(format!("Unknown CodeChangeType {t}"));
    }
    let mut filters = Vec::new();
    for f in &c.time_filter_list {
        if !(1..=3).contains(&f.r#type) {
            return Err(format!("Unknown TimeFilterType {}", f.r#type));
        }
        let b = f.begin_time.as_deref().map(|s| parse_day(s, "beginTime")).transpose()?;
        let e = f.end_time.as_deref().map(|s| parse_day(s, "endTime")).transpose()?;
        filters.push((f.r#type, b, e));
    }
    let hk = Calendar::of(sec_market::HK);
    let day = |d: (i64, u32, u32)| days_from_civil(d.0, d.1, d.2);
    let sec = |s: &str| {
        let (m, code) = s.split_once('.').unwrap_or(("HK", s));
        qc::Security { market: if m == "HK" { 1 } else { 11 }, code: code.into() }
    };
    let list = CHANGES
        .iter()
        .filter(|ch| codes.is_empty() || codes.iter().any(|c| c == ch.1 || c == ch.2))
        .filter(|ch| c.type_list.is_empty() || c.type_list.contains(&ch.0))
        .filter(|ch| {
            filters.iter().all(|(t, b, e)| {
                let d = match t {
                    1 => Some(day(ch.3)),
                    2 => Some(day(ch.4)),
                    _ => ch.5.map(day),
                };
                d.is_some_and(|d| b.is_none_or(|b| d >= b) && e.is_none_or(|e| d <= e))
            })
        })
        .map(|ch| gcc::CodeChangeInfo {
            r#type: ch.0,
            security: sec(ch.1),
            related_security: sec(ch.2),
            public_time: Some(Calendar::format_day(day(ch.3))),
            public_timestamp: Some(hk.midnight(day(ch.3)) as f64),
            effective_time: Some(Calendar::format_day(day(ch.4))),
            effective_timestamp: Some(hk.midnight(day(ch.4)) as f64),
            end_time: ch.5.map(|d| Calendar::format_day(day(d))),
            end_timestamp: ch.5.map(|d| hk.midnight(day(d)) as f64),
        })
        .collect();
    Ok((gcc::S2c { code_change_list: list }, Vec::new()))
}

/// Qot_GetIpoList: two upcoming listings per market (codes the simulator does not trade
/// yet), dated after the simulated today.
pub(crate) fn ipo_list(
    _st: &mut State,
    src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gil::C2s,
) -> Res<(gil::S2c, Vec<Push>)> {
    let sec = sec_market_of(c.market)?;
    let cal = Calendar::of(sec);
    let now = src.market_clock().map(|c| c.now()).unwrap_or_else(crate::sim::calendar::wall_secs);
    let today = cal.day_of(now);
    let day_str = |d: i64| Calendar::format_day(d);
    let mut list = Vec::new();
    for (n, days) in [(1, 9), (2, 16)] {
        let list_day = crate::sim::calendar::trading_day_on_or_before(today + days);
        let apply_end = crate::sim::calendar::trading_day_on_or_before(list_day - 4);
        let (code, name) = match sec {
            sec_market::HK => (format!("0699{n}"), format!("SIM NEWCO HK {n}")),
            sec_market::US => (format!("SIMN{n}"), format!("Sim Newco US {n}")),
            sec_market::CN_SH => (format!("60399{n}"), format!("Sim Newco SH {n}")),
            sec_market::CN_SZ => (format!("00199{n}"), format!("Sim Newco SZ {n}")),
            _ => return Err(format!("IPO lists are served for HK, US, SH and SZ, not QotMarket {}", c.market)),
        };
        let mut ipo = gil::IpoData {
            basic: gil::BasicIpoData {
                security: qc::Security { market: c.market, code },
                name,
                list_time: Some(day_str(list_day)),
                list_timestamp: Some(cal.midnight(list_day) as f64),
            },
            ..Default::default()
        };
        let price = 10.0 * n as f64;
        match sec {
            sec_market::HK => {
                ipo.hk_ex_data = Some(gil::HkIpoExData {
                    ipo_price_min: price * 0.9,
                    ipo_price_max: price,
                    list_price: price,
                    lot_size: 500,
                    entrance_price: price * 500.0 * 1.010_077,
                    is_subscribe_status: true,
                    apply_end_time: Some(day_str(apply_end)),
                    apply_end_timestamp: Some(cal.midnight(apply_end) as f64),
                })
            }
            sec_market::US => {
                ipo.us_ex_data =
                    Some(gil::UsIpoExData { ipo_price_min: price * 0.9, ipo_price_max: price, issue_size: 10_000_000 })
            }
            _ => {
                ipo.cn_ex_data = Some(gil::CnIpoExData {
                    apply_code: format!("7{}", &ipo.basic.security.code[1..]),
                    issue_size: 40_000_000,
                    online_issue_size: 12_000_000,
                    apply_upper_limit: 12_000,
                    apply_limit_market_value: 120_000,
                    is_estimate_ipo_price: false,
                    ipo_price: price,
                    industry_pe_rate: 25.0,
                    is_estimate_winning_ratio: true,
                    winning_ratio: 0.03,
                    issue_pe_rate: 22.0,
                    apply_time: Some(day_str(apply_end)),
                    apply_timestamp: Some(cal.midnight(apply_end) as f64),
                    winning_time: Some(day_str(apply_end + 2)),
                    winning_timestamp: Some(cal.midnight(apply_end + 2) as f64),
                    is_has_won: false,
                    winning_num_data: Vec::new(),
                })
            }
        }
        list.push(ipo);
    }
    Ok((gil::S2c { ipo_list: list }, Vec::new()))
}

/// Qot_GetHoldingChangeList (US stocks, as OpenD): a seeded list of holders' changes
/// per category, newest first, within the dates asked.
pub(crate) fn holding_change(
    st: &mut State,
    src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &ghc::C2s,
) -> Res<(ghc::S2c, Vec<Push>)> {
    let i = find(st, &c.security)?;
    let e = &st.entries[i];
    if e.instrument.sec_market != sec_market::US || e.instrument.kind != InstrumentKind::Stock {
        return Err(format!("Holding changes are served for US stocks only; {} is not one", e.instrument.full_code()));
    }
    if !(1..=3).contains(&c.holder_category) {
        return Err(format!("Unknown HolderCategory {} (1 agency, 2 fund, 3 senior manager)", c.holder_category));
    }
    let cal = Calendar::of(sec_market::US);
    let now = src.market_clock().map(|c| c.now()).unwrap_or_else(crate::sim::calendar::wall_secs);
    let today = cal.day_of(now);
    let first = c.begin_time.as_deref().map(|s| parse_day(s, "beginTime")).transpose()?.unwrap_or(today - 365);
    let last = c.end_time.as_deref().map(|s| parse_day(s, "endTime")).transpose()?.unwrap_or(today).min(today);
    if first > last {
        return Err("beginTime is after endTime".into());
    }
    let key = fnv1a(&e.instrument.full_code()) ^ c.holder_category as u64;
    let names: &[&str] = match c.holder_category {
        1 => &["Sim Capital Management", "Example Asset Advisors", "Harbour Street Investors"],
        2 => &["Sim Growth Fund", "Example Index Trust", "Harbour Value Fund"],
        _ => &["J. Doe (Director)", "A. Smith (CFO)", "R. Roe (CEO)"],
    };
    let mut list = Vec::new();
    for k in 0..12i64 {
        let day = today - 15 - k * 29;
        if day < first || day > last {
            continue;
        }
        let h = hash3(key, k, 7);
        let qty = (1_000_000.0 * (1.0 + 20.0 * unit(h))).round();
        let change = ((unit(hash3(key, k, 8)) - 0.45) * qty * 0.2).round();
        list.push(qc::ShareHoldingChange {
            holder_name: names[(h % names.len() as u64) as usize].into(),
            holding_qty: qty,
            holding_ratio: round9(qty / 15_000_000_000.0 * 100.0),
            change_qty: change,
            change_ratio: round9(change / qty * 100.0),
            time: format!("{} 00:00:00", Calendar::format_day(day)),
            timestamp: Some(cal.midnight(day) as f64),
        });
    }
    Ok((ghc::S2c { security: c.security.clone(), holding_change_list: list }, Vec::new()))
}

/// GetUserInfo (1005): the simulated login's rights and quotas.
pub(crate) fn user_info(
    st: &mut State,
    _src: &dyn PriceSource,
    conn: &ConnInfo,
    _c: &gui::C2s,
) -> Res<(gui::S2c, Vec<Push>)> {
    let s2c = gui::S2c {
        nick_name: Some("opend-sim".into()),
        avatar_url: Some(String::new()),
        api_level: Some("LV3".into()),
        hk_qot_right: Some(4),
        us_qot_right: Some(4),
        cn_qot_right: Some(4),
        is_need_agree_disclaimer: Some(false),
        user_id: Some(conn.login_user_id as i64),
        update_type: Some(0),
        web_key: Some(String::new()),
        hk_option_qot_right: Some(4),
        has_us_option_qot_right: Some(true),
        hk_future_qot_right: Some(4),
        sub_quota: Some(st.cfg.sub_quota),
        history_kl_quota: Some(st.cfg.history_kl_quota),
        us_future_qot_right: Some(4),
        us_option_qot_right: Some(4),
        user_attribution: Some(1),
        ..Default::default()
    };
    Ok((s2c, Vec::new()))
}

/// GetDelayStatistics (1007): the simulator measures no delays; it answers the types
/// asked with empty statistics (OpenD's shape, zero counts).
pub(crate) fn delay_statistics(
    _st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gds::C2s,
) -> Res<(gds::S2c, Vec<Push>)> {
    if let Some(t) = c.type_list.iter().find(|t| !(1..=3).contains(*t)) {
        return Err(format!("Unknown DelayStatisticsType {t}"));
    }
    let stage = c.qot_push_stage.unwrap_or(1);
    if !(1..=5).contains(&stage) {
        return Err(format!("Unknown QotPushStage {stage}"));
    }
    let qot = if c.type_list.contains(&1) {
        (1..=4)
            .map(|t| gds::DelayStatistics { qot_push_type: t, item_list: Vec::new(), delay_avg: 0.0, count: 0 })
            .collect()
    } else {
        Vec::new()
    };
    Ok((
        gds::S2c {
            qot_push_statistics_list: qot,
            req_reply_statistics_list: Vec::new(),
            place_order_statistics_list: Vec::new(),
        },
        Vec::new(),
    ))
}
