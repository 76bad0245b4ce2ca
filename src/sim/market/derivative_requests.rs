//! The derivative requests of the market data (Qot_GetOptionExpirationDate,
//! Qot_GetOptionChain, Qot_GetOptionQuote, Qot_GetReference, Qot_GetWarrant,
//! Qot_GetFutureInfo) over the options and warrants listed by [`super::derivatives`].

use crate::pb::{
    qot_common as qc, qot_get_future_info as gfi, qot_get_option_chain as goc, qot_get_option_expiration_date as goe,
    qot_get_option_quote as goq, qot_get_reference as gr, qot_get_warrant as gw,
};
use crate::sim::calendar::CalMarket;
use crate::sim::instrument::{round9, sec_market, InstrumentKind};
use crate::sim::tape::clock::Calendar;
use crate::sim::{ConnInfo, PriceSource};

use super::derivatives::{greeks, month_end_trading_day, option_ex, Derivative, WARRANT_RATIO};
use super::requests::{find, lookup, page, parse_day, static_info};
use super::state::{Entry, Push, Res, State};

fn current_day(src: &dyn PriceSource) -> i64 {
    CalMarket::HkStock.local_day(src.market_clock().map(|c| c.now()).unwrap_or_else(crate::sim::calendar::wall_secs))
}

fn sec_of(e: &Entry) -> qc::Security {
    qc::Security { market: e.qot_market, code: e.instrument.code.clone() }
}

/// The derivative of entry `i`, if it is one.
fn deriv_of(st: &State, i: usize) -> Option<&Derivative> {
    let e = &st.entries[i];
    st.more.derivs.get(e.instrument.sec_market, &e.instrument.code)
}

/// Static info of a derivative entry, with its option or warrant data.
fn deriv_static(st: &State, i: usize) -> qc::SecurityStaticInfo {
    let e = &st.entries[i];
    let mut info = static_info(e, sec_of(e));
    if let Some(d) = deriv_of(st, i) {
        let owner = owner_sec(st, d);
        if d.issuer.is_some() {
            info.basic.sec_type = 5;
            info.warrant_ex_data = Some(qc::WarrantStaticExData { r#type: if d.call { 1 } else { 2 }, owner });
        } else {
            info.option_ex_data = Some(option_ex(d, owner));
        }
    }
    info
}

fn owner_sec(st: &State, d: &Derivative) -> qc::Security {
    st.entries
        .iter()
        .find(|e| e.instrument.sec_market == d.under_sec && e.instrument.code == d.under_code)
        .map(sec_of)
        .unwrap_or_default()
}

/// The underlying's entry for an option request, refused when it has no chain.
fn optionable(st: &mut State, src: &dyn PriceSource, owner: &qc::Security) -> Res<usize> {
    let i = lookup(st, src, owner)?;
    let e = &st.entries[i];
    let has = st
        .more
        .derivs
        .list
        .iter()
        .any(|d| d.issuer.is_none() && d.under_sec == e.instrument.sec_market && d.under_code == e.instrument.code);
    if !has {
        return Err(format!(
            "{} has no options in the simulator (optionable: HK.00700, US.AAPL, US.TSLA)",
            e.instrument.full_code()
        ));
    }
    Ok(i)
}

fn expiries_of(st: &State, i: usize) -> Vec<i64> {
    let e = &st.entries[i];
    let mut v: Vec<i64> = st
        .more
        .derivs
        .list
        .iter()
        .filter(|d| d.issuer.is_none() && d.under_sec == e.instrument.sec_market && d.under_code == e.instrument.code)
        .map(|d| d.expiry)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Qot_GetOptionExpirationDate.
pub(crate) fn expiration_dates(
    st: &mut State,
    src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &goe::C2s,
) -> Res<(goe::S2c, Vec<Push>)> {
    let i = optionable(st, src, &c.owner)?;
    let today = current_day(src);
    let cal = Calendar::of(st.entries[i].instrument.sec_market);
    let date_list = expiries_of(st, i)
        .into_iter()
        .filter(|d| *d >= today)
        .map(|d| goe::OptionExpirationDate {
            strike_time: Some(Calendar::format_day(d)),
            strike_timestamp: Some(cal.midnight(d) as f64),
            option_expiry_date_distance: (d - today) as i32,
            cycle: Some(2),
        })
        .collect();
    Ok((goe::S2c { date_list }, Vec::new()))
}

fn in_range(v: f64, min: Option<f64>, max: Option<f64>) -> bool {
    min.is_none_or(|m| v >= m - 1e-12) && max.is_none_or(|m| v <= m + 1e-12)
}

/// Qot_GetOptionChain.
pub(crate) fn option_chain(
    st: &mut State,
    src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &goc::C2s,
) -> Res<(goc::S2c, Vec<Push>)> {
    let first = parse_day(&c.begin_time, "beginTime")?;
    let last = parse_day(&c.end_time, "endTime")?;
    if first > last {
        return Err(format!("beginTime {} is after endTime {}", c.begin_time, c.end_time));
    }
    if last - first > 30 {
        return Err("The range from beginTime to endTime may span at most 30 days".into());
    }
    let opt_type = c.r#type.unwrap_or(0);
    if !(0..=2).contains(&opt_type) {
        return Err(format!("Unknown OptionType {opt_type}"));
    }
    let cond = c.condition.unwrap_or(0);
    if !(0..=2).contains(&cond) {
        return Err(format!("Unknown OptionCondType {cond}"));
    }
    let i = optionable(st, src, &c.owner)?;
    let expiries: Vec<i64> = expiries_of(st, i).into_iter().filter(|d| (first..=last).contains(d)).collect();
    if expiries.is_empty() {
        let all: Vec<String> = expiries_of(st, i).into_iter().map(Calendar::format_day).collect();
        return Err(format!(
            "No option of {} expires between {} and {} (expiries: {})",
            st.entries[i].instrument.full_code(),
            c.begin_time,
            c.end_time,
            all.join(", ")
        ));
    }
    let under = st.entries[i].live.last;
    let today = current_day(src);
    let (usec, ucode) = (st.entries[i].instrument.sec_market, st.entries[i].instrument.code.clone());
    let cal = Calendar::of(usec);
    let f = c.data_filter.unwrap_or_default();
    let mut chains = Vec::new();
    for expiry in expiries {
        let mut members: Vec<(usize, Derivative)> = Vec::new();
        for (j, e) in st.entries.iter().enumerate() {
            if let Some(d) = st.more.derivs.get(e.instrument.sec_market, &e.instrument.code) {
                if d.issuer.is_none() && d.under_sec == usec && d.under_code == ucode && d.expiry == expiry {
                    members.push((j, d.clone()));
                }
            }
        }
        let mut strikes: Vec<f64> = members.iter().map(|(_, d)| d.strike).collect();
        strikes.sort_by(f64::total_cmp);
        strikes.dedup();
        let keep = |d: &Derivative| {
            let itm = if d.call { under > d.strike } else { under < d.strike };
            let g = greeks(under, d.strike, d.years(today), d.vol, d.call);
            (opt_type == 0 || (opt_type == 1) == d.call)
                && (cond == 0 || (cond == 1) == itm)
                && in_range(d.vol * 100.0, f.implied_volatility_min, f.implied_volatility_max)
                && in_range(g.delta, f.delta_min, f.delta_max)
                && in_range(g.gamma, f.gamma_min, f.gamma_max)
                && in_range(g.vega, f.vega_min, f.vega_max)
                && in_range(g.theta, f.theta_min, f.theta_max)
                && in_range(g.rho, f.rho_min, f.rho_max)
        };
        let mut items = Vec::new();
        for k in strikes {
            let pick = |call: bool| {
                members
                    .iter()
                    .find(|(_, d)| d.call == call && (d.strike - k).abs() < 1e-9 && keep(d))
                    .map(|(j, _)| deriv_static(st, *j))
            };
            let (call, put) = (pick(true), pick(false));
            if call.is_some() || put.is_some() {
                items.push(goc::OptionItem { call, put });
            }
        }
        chains.push(goc::OptionChain {
            strike_time: Calendar::format_day(expiry),
            option: items,
            strike_timestamp: Some(cal.midnight(expiry) as f64),
        });
    }
    Ok((goc::S2c { option_chain: chains }, Vec::new()))
}

/// Qot_GetReference: the warrants of a stock (1) or the related futures of a future (2).
pub(crate) fn reference(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gr::C2s,
) -> Res<(gr::S2c, Vec<Push>)> {
    let i = find(st, &c.security)?;
    let e = &st.entries[i];
    let list = match c.reference_type {
        1 => {
            let (sec, code) = (e.instrument.sec_market, e.instrument.code.clone());
            (0..st.entries.len())
                .filter(|j| {
                    deriv_of(st, *j).is_some_and(|d| d.issuer.is_some() && d.under_sec == sec && d.under_code == code)
                })
                .map(|j| deriv_static(st, j))
                .collect()
        }
        2 => {
            if e.instrument.kind != InstrumentKind::Future {
                return Err(format!("ReferenceType_Future needs a future; {} is not one", e.instrument.full_code()));
            }
            // Only main contracts are listed: the related contracts of a main are itself.
            vec![static_info(e, c.security.clone())]
        }
        t => return Err(format!("Unknown ReferenceType {t} (1 warrants, 2 futures)")),
    };
    Ok((gr::S2c { static_info_list: list }, Vec::new()))
}

/// The warrant rows of `Qot_GetWarrant`.
fn warrant_row(st: &State, j: usize, d: &Derivative, today: i64) -> gw::WarrantData {
    let e = &st.entries[j];
    let l = &e.live;
    let owner = owner_sec(st, d);
    let s = st
        .entries
        .iter()
        .find(|u| u.instrument.sec_market == d.under_sec && u.instrument.code == d.under_code)
        .map(|u| u.live.last)
        .unwrap_or(d.strike);
    let g = greeks(s, d.strike, d.years(today), d.vol, d.call);
    let (bids, asks) = l.book(1);
    let cal = &l.cal;
    let price = l.last.max(1e-9);
    let conv_price = price * WARRANT_RATIO;
    let premium =
        if d.call { (d.strike + conv_price - s) / s * 100.0 } else { (s - d.strike + conv_price) / s * 100.0 };
    let leverage = s / conv_price;
    let change = l.last - l.prev_close;
    let list_day = e.history.first_day;
    gw::WarrantData {
        stock: sec_of(e),
        owner,
        r#type: if d.call { 1 } else { 2 },
        issuer: d.issuer.unwrap_or(0),
        maturity_time: Calendar::format_day(d.expiry),
        maturity_timestamp: Some(cal.midnight(d.expiry) as f64),
        list_time: Calendar::format_day(list_day),
        list_timestamp: Some(cal.midnight(list_day) as f64),
        last_trade_time: Calendar::format_day(d.expiry - 4),
        last_trade_timestamp: Some(cal.midnight(d.expiry - 4) as f64),
        recovery_price: None,
        conversion_ratio: WARRANT_RATIO,
        lot_size: e.instrument.lot_size as i32,
        strike_price: d.strike,
        last_close_price: l.prev_close,
        name: e.instrument.name.clone(),
        cur_price: l.last,
        price_change_val: round9(change),
        change_rate: if l.prev_close > 0.0 { round9(change / l.prev_close * 100.0) } else { 0.0 },
        status: 1,
        bid_price: bids.first().map(|x| x.price).unwrap_or(0.0),
        ask_price: asks.first().map(|x| x.price).unwrap_or(0.0),
        bid_vol: bids.first().map(|x| x.volume).unwrap_or(0),
        ask_vol: asks.first().map(|x| x.volume).unwrap_or(0),
        volume: l.volume,
        turnover: round9(l.turnover),
        score: 50.0,
        premium: round9(premium),
        break_even_point: round9(if d.call { d.strike + conv_price } else { d.strike - conv_price }),
        leverage: round9(leverage),
        ipop: round9(if d.call { (s - d.strike) / d.strike * 100.0 } else { (d.strike - s) / d.strike * 100.0 }),
        price_recovery_ratio: None,
        conversion_price: round9(conv_price),
        street_rate: 10.0,
        street_vol: 10_000_000,
        amplitude: if l.prev_close > 0.0 { round9((l.high - l.low) / l.prev_close * 100.0) } else { 0.0 },
        issue_size: 100_000_000,
        high_price: l.high,
        low_price: l.low,
        implied_volatility: Some(d.vol * 100.0),
        delta: Some(round9(g.delta)),
        effective_leverage: round9(leverage * g.delta.abs()),
        upper_strike_price: None,
        lower_strike_price: None,
        in_line_price_status: None,
    }
}

/// Qot_GetWarrant (HK): filters, sort and paging over the simulator's warrants.
pub(crate) fn warrant(
    st: &mut State,
    src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gw::C2s,
) -> Res<(gw::S2c, Vec<Push>)> {
    let owner = match &c.owner {
        Some(o) => {
            let i = lookup(st, src, o)?;
            let e = &st.entries[i];
            if e.instrument.sec_market != sec_market::HK {
                return Err(format!("Warrants are HK only; {} is not an HK security", e.instrument.full_code()));
            }
            Some((e.instrument.sec_market, e.instrument.code.clone()))
        }
        None => None,
    };
    let mat_min = c.maturity_time_min.as_deref().map(|s| parse_day(s, "maturityTimeMin")).transpose()?;
    let mat_max = c.maturity_time_max.as_deref().map(|s| parse_day(s, "maturityTimeMax")).transpose()?;
    let today = current_day(src);
    let idx: Vec<usize> =
        (0..st.entries.len()).filter(|j| deriv_of(st, *j).is_some_and(|d| d.issuer.is_some())).collect();
    for j in &idx {
        super::requests::sync(st, src, *j);
    }
    let mut rows = Vec::new();
    for j in idx {
        let Some(d) = deriv_of(st, j).cloned() else { continue };
        if owner.as_ref().is_some_and(|(s, k)| *s != d.under_sec || *k != d.under_code) {
            continue;
        }
        let w = warrant_row(st, j, &d, today);
        let keep = (c.type_list.is_empty() || c.type_list.contains(&w.r#type))
            && (c.issuer_list.is_empty() || c.issuer_list.contains(&w.issuer))
            && mat_min.is_none_or(|m| d.expiry >= m)
            && mat_max.is_none_or(|m| d.expiry <= m)
            && c.status.is_none_or(|s| s == w.status)
            && in_range(w.cur_price, c.cur_price_min, c.cur_price_max)
            && in_range(w.strike_price, c.strike_price_min, c.strike_price_max)
            && in_range(w.street_rate, c.street_min, c.street_max)
            && in_range(w.conversion_ratio, c.conversion_min, c.conversion_max)
            && in_range(w.volume as f64, c.vol_min.map(|v| v as f64), c.vol_max.map(|v| v as f64))
            && in_range(w.premium, c.premium_min, c.premium_max)
            && in_range(w.leverage, c.leverage_ratio_min, c.leverage_ratio_max)
            && in_range(w.delta.unwrap_or(0.0), c.delta_min, c.delta_max)
            && in_range(w.implied_volatility.unwrap_or(0.0), c.implied_min, c.implied_max);
        if keep {
            rows.push(w);
        }
    }
    let key = |w: &gw::WarrantData| -> f64 {
        match c.sort_field {
            2 => w.cur_price,
            3 => w.price_change_val,
            4 => w.change_rate,
            6 => w.bid_price,
            7 => w.ask_price,
            8 => w.bid_vol as f64,
            9 => w.ask_vol as f64,
            10 => w.volume as f64,
            11 => w.turnover,
            _ => 0.0,
        }
    };
    rows.sort_by(|a, b| key(a).total_cmp(&key(b)).then_with(|| a.stock.code.cmp(&b.stock.code)));
    if !c.ascend {
        rows.reverse();
    }
    let all = rows.len();
    let (from, to) = if all == 0 && c.begin == 0 && c.num > 0 { (0, 0) } else { page(c.begin, c.num, all, 200)? };
    let list: Vec<gw::WarrantData> = rows.drain(from..to).collect();
    Ok((gw::S2c { last_page: to >= all, all_count: all as i32, warrant_data_list: list }, Vec::new()))
}

/// Qot_GetFutureInfo.
pub(crate) fn future_info(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gfi::C2s,
) -> Res<(gfi::S2c, Vec<Push>)> {
    if c.security_list.is_empty() {
        return Err("Qot_GetFutureInfo needs securityList".into());
    }
    let mut list = Vec::new();
    for sec in &c.security_list {
        let i = find(st, sec)?;
        let e = &st.entries[i];
        let ins = &e.instrument;
        if ins.kind != InstrumentKind::Future {
            return Err(format!("{} is not a future", ins.full_code()));
        }
        let market = ins.cal_market();
        let (exchange, zone, ccy) = match ins.sec_market {
            sec_market::HK => ("HKEX", "Asia/Hong_Kong", "HKD"),
            sec_market::US => ("CME", "America/Chicago", "USD"),
            sec_market::SG => ("SGX", "Asia/Singapore", "USD"),
            sec_market::JP => ("OSE", "Asia/Tokyo", "JPY"),
            _ => ("", "Asia/Hong_Kong", ""),
        };
        let today = market.local_day(crate::sim::calendar::wall_secs());
        let last = month_end_trading_day(today, 0);
        let root = ins.code.trim_end_matches("main");
        let tick = ins.tick_at(e.live.last);
        list.push(gfi::FutureInfo {
            name: ins.name.clone(),
            security: sec.clone(),
            last_trade_time: Calendar::format_day(last),
            last_trade_timestamp: Some(Calendar::of(ins.sec_market).midnight(last) as f64),
            owner: None,
            owner_other: root.to_string(),
            exchange: exchange.into(),
            contract_type: "Index Future".into(),
            contract_size: ins.multiplier,
            contract_size_unit: format!("{ccy} x index point"),
            quote_currency: ccy.into(),
            min_var: tick,
            min_var_unit: "index point".into(),
            quote_unit: Some("index point".into()),
            trade_time: market
                .trading_sessions()
                .map(|(a, b)| gfi::TradeTime { begin: Some(a as f64), end: Some(b as f64) })
                .collect(),
            time_zone: zone.into(),
            exchange_format_url: String::new(),
            origin: None,
        });
    }
    Ok((gfi::S2c { future_info_list: list }, Vec::new()))
}

/// Qot_GetOptionQuote: one quote per leg (each an option the simulator lists), with the
/// model's greeks at the underlying's current price.
pub(crate) fn option_quote(
    st: &mut State,
    src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &goq::C2s,
) -> Res<(goq::S2c, Vec<Push>)> {
    if c.multi_legs.is_empty() {
        return Err("Qot_GetOptionQuote needs at least one leg (multi_legs)".into());
    }
    if c.multi_legs.len() > 4 {
        return Err("At most 4 legs per Qot_GetOptionQuote request".into());
    }
    let today = current_day(src);
    let mut list = Vec::new();
    for leg in &c.multi_legs {
        let i = lookup(st, src, &leg.security)?;
        let Some(d) = deriv_of(st, i).filter(|d| d.issuer.is_none()).cloned() else {
            return Err(format!("{} is not an option", st.entries[i].instrument.full_code()));
        };
        let u = find(st, &owner_sec(st, &d))?;
        super::requests::sync(st, src, u);
        let s = st.entries[u].live.last;
        let e = &st.entries[i];
        let l = &e.live;
        let g = greeks(s, d.strike, d.years(today), d.vol, d.call);
        let (bids, asks) = l.book(1);
        let mid = match (bids.first(), asks.first()) {
            (Some(b), Some(a)) => round9((b.price + a.price) / 2.0),
            _ => l.last,
        };
        let intrinsic = if d.call { (s - d.strike).max(0.0) } else { (d.strike - s).max(0.0) };
        let mult = e.instrument.multiplier;
        let breakeven = if d.call { d.strike + l.last } else { d.strike - l.last };
        let leverage = if l.last > 0.0 { s / l.last } else { 0.0 };
        let oi = 1000
            + (crate::sim::tape::history::hash3(crate::sim::tape::history::fnv1a(&e.instrument.code), today, 3)
                % 20_000) as i32;
        list.push(goq::OptionQuote {
            price: Some(l.last),
            chg: Some(round9(l.last - l.prev_close)),
            chg_rate: Some(if l.prev_close > 0.0 {
                round9((l.last - l.prev_close) / l.prev_close * 100.0)
            } else {
                0.0
            }),
            vol: Some(l.volume),
            turnover: Some(round9(l.turnover * mult)),
            high: Some(l.high),
            low: Some(l.low),
            mid: Some(mid),
            open: Some(l.open),
            pre_close: Some(l.prev_close),
            open_interest: Some(oi),
            premium: Some(round9((breakeven - s) / s * 100.0 * if d.call { 1.0 } else { -1.0 })),
            iv: Some(round9(d.vol * 100.0)),
            delta: Some(round9(g.delta)),
            gamma: Some(round9(g.gamma)),
            vega: Some(round9(g.vega)),
            theta: Some(round9(g.theta)),
            rho: Some(round9(g.rho)),
            option_type: Some(if d.call { 1 } else { 2 }),
            expire_time: Some(Calendar::format_day(d.expiry)),
            strike: Some(d.strike),
            contract_size: Some(mult),
            contract_multiplier: Some(mult),
            exercise_type: Some(1),
            days_to_expiry: Some((d.expiry - today).max(0) as i32),
            net_open_interest: Some(0),
            contract_value: Some(round9(l.last * mult)),
            equal_underlying: Some(round9(g.delta * mult)),
            index_option_type: None,
            intrinsic_value: Some(round9(intrinsic)),
            time_value: Some(round9((l.last - intrinsic).max(0.0))),
            breakeven_point: vec![round9(breakeven)],
            dist_to_breakeven: vec![round9((breakeven - s) / s * 100.0)],
            prob_of_profit: None,
            seller_roi: None,
            mark_price: Some(mid),
            leverage_ratio: Some(round9(leverage)),
            effective_gearing: Some(round9(leverage * g.delta.abs())),
        });
    }
    Ok((goq::S2c { option_quote_list: list }, Vec::new()))
}
