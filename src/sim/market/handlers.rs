//! The `Qot_*` protocols: decoding, rules, answers and pushes.

use prost::Message;

use crate::pb::{
    self, qot_common as qc, qot_get_basic_qot, qot_get_broker, qot_get_kl, qot_get_market_state, qot_get_order_book,
    qot_get_rehab, qot_get_rt, qot_get_security_snapshot as snap, qot_get_static_info, qot_get_sub_info,
    qot_get_ticker, qot_reg_qot_push, qot_request_history_kl as hkl, qot_request_history_kl_quota as hklq,
    qot_request_rehab, qot_request_trade_date as ttd, qot_sub, qot_update_basic_qot, qot_update_broker, qot_update_kl,
    qot_update_order_book, qot_update_rt, qot_update_ticker, ResponseEnvelope,
};
use crate::sim::matching::{sec_market, sec_market_of_qot_market, InstrumentKind};
use crate::sim::ConnInfo;

use super::live::{Tick, BOOK_LEVELS};
use super::requests::{
    find, future_last_trade_day, is_main_contract, list_time, list_timestamp, lookup, option_owner, sec_type, serve,
    static_info,
};
use super::state::{Entry, Inner, Push, Res, State};
use super::subs::{is_served_sub_type, kl_type_of_sub, sub_of_kl_type, Item};
use crate::sim::calendar::civil_from_days;
use crate::sim::instrument::round9;
use crate::sim::tape::clock::{market_state, parse_time, Calendar};
use crate::sim::tape::history::Bar;
use crate::sim::PriceSource;

/// Protocol ids served here (from the protocol table in `pb`).
pub(crate) mod ids {
    use crate::pb::{proto, Protocol, PushProtocol};
    pub const SUB: u32 = proto::Sub::PROTO_ID;
    pub const REG_QOT_PUSH: u32 = proto::RegQotPush::PROTO_ID;
    pub const GET_SUB_INFO: u32 = proto::GetSubInfo::PROTO_ID;
    pub const GET_BASIC_QOT: u32 = proto::GetBasicQot::PROTO_ID;
    pub const UPDATE_BASIC_QOT: u32 = proto::UpdateBasicQot::PROTO_ID;
    pub const GET_KL: u32 = proto::GetKL::PROTO_ID;
    pub const UPDATE_KL: u32 = proto::UpdateKL::PROTO_ID;
    pub const GET_RT: u32 = proto::GetRT::PROTO_ID;
    pub const UPDATE_RT: u32 = proto::UpdateRT::PROTO_ID;
    pub const GET_TICKER: u32 = proto::GetTicker::PROTO_ID;
    pub const UPDATE_TICKER: u32 = proto::UpdateTicker::PROTO_ID;
    pub const GET_ORDER_BOOK: u32 = proto::GetOrderBook::PROTO_ID;
    pub const UPDATE_ORDER_BOOK: u32 = proto::UpdateOrderBook::PROTO_ID;
    pub const GET_BROKER: u32 = proto::GetBroker::PROTO_ID;
    pub const UPDATE_BROKER: u32 = proto::UpdateBroker::PROTO_ID;
    /// Qot_GetRehab: an older protocol the official SDKs no longer send (no id in their
    /// tables); OpenD's id for it.
    pub const GET_REHAB: u32 = 3102;
    pub const REQUEST_HISTORY_KL: u32 = proto::RequestHistoryKL::PROTO_ID;
    pub const REQUEST_HISTORY_KL_QUOTA: u32 = proto::RequestHistoryKLQuota::PROTO_ID;
    pub const REQUEST_REHAB: u32 = proto::RequestRehab::PROTO_ID;
    pub const GET_STATIC_INFO: u32 = proto::GetStaticInfo::PROTO_ID;
    pub const GET_SECURITY_SNAPSHOT: u32 = proto::GetSecuritySnapshot::PROTO_ID;
    pub const REQUEST_TRADE_DATE: u32 = proto::RequestTradeDate::PROTO_ID;
    pub const GET_MARKET_STATE: u32 = proto::GetMarketState::PROTO_ID;
}

/// The most K-lines one page of RequestHistoryKL carries when the client sets no limit.
const DEFAULT_PAGE: usize = 1000;
/// The most K-lines one page carries whatever the client asks (bounds the reply).
const MAX_PAGE: usize = 10_000;
/// The most securities per snapshot request (OpenD's limit).
const MAX_SNAPSHOT: usize = 400;

macro_rules! route {
    ($inner:expr, $conn:expr, $body:expr, $m:ident, $name:literal, $f:expr) => {
        serve::<$m::Request, $m::Response>($inner, $conn, $body, $name, $f)
    };
}

/// Answers one request: `None` if the id is not a quote protocol (the server then
/// answers "unknown protocol").
pub(crate) fn handle(inner: &Inner, conn: &ConnInfo, proto_id: u32, body: &[u8]) -> Option<Vec<u8>> {
    use ids::*;
    let out = match proto_id {
        SUB => route!(inner, conn, body, qot_sub, "Qot_Sub", sub),
        REG_QOT_PUSH => route!(inner, conn, body, qot_reg_qot_push, "Qot_RegQotPush", reg_qot_push),
        GET_SUB_INFO => route!(inner, conn, body, qot_get_sub_info, "Qot_GetSubInfo", get_sub_info),
        GET_BASIC_QOT => route!(inner, conn, body, qot_get_basic_qot, "Qot_GetBasicQot", get_basic_qot),
        GET_KL => route!(inner, conn, body, qot_get_kl, "Qot_GetKL", get_kl),
        GET_RT => route!(inner, conn, body, qot_get_rt, "Qot_GetRT", get_rt),
        GET_TICKER => route!(inner, conn, body, qot_get_ticker, "Qot_GetTicker", get_ticker),
        GET_ORDER_BOOK => route!(inner, conn, body, qot_get_order_book, "Qot_GetOrderBook", get_order_book),
        GET_BROKER => route!(inner, conn, body, qot_get_broker, "Qot_GetBroker", get_broker),
        GET_REHAB => route!(inner, conn, body, qot_get_rehab, "Qot_GetRehab", get_rehab),
        REQUEST_HISTORY_KL => route!(inner, conn, body, hkl, "Qot_RequestHistoryKL", request_history_kl),
        REQUEST_HISTORY_KL_QUOTA => route!(inner, conn, body, hklq, "Qot_RequestHistoryKLQuota", history_kl_quota),
        REQUEST_REHAB => route!(inner, conn, body, qot_request_rehab, "Qot_RequestRehab", request_rehab),
        GET_STATIC_INFO => route!(inner, conn, body, qot_get_static_info, "Qot_GetStaticInfo", get_static_info),
        GET_SECURITY_SNAPSHOT => route!(inner, conn, body, snap, "Qot_GetSecuritySnapshot", get_snapshot),
        REQUEST_TRADE_DATE => route!(inner, conn, body, ttd, "Qot_RequestTradeDate", request_trade_date),
        GET_MARKET_STATE => route!(inner, conn, body, qot_get_market_state, "Qot_GetMarketState", get_market_state),
        id if super::more::serves(id) => super::more::handle(inner, conn, id, body),
        3000..=3999 | 1005..=1009 => {
            let msg = match pb::proto_name(proto_id) {
                Some(name) => {
                    format!("opend-sim does not serve {name} (proto {proto_id}): not modelled by the simulator")
                }
                None => format!("opend-sim does not serve proto {proto_id}: not modelled by the simulator"),
            };
            log::debug!("conn {}: {msg}", conn.conn_id);
            qot_get_basic_qot::Response { ret_type: -1, ret_msg: Some(msg), err_code: Some(-1), s2c: None }
                .encode_to_vec()
        }
        _ => return None,
    };
    Some(out)
}

// ------------------------------------------------------------------------------------
// Lookups
// ------------------------------------------------------------------------------------

fn require_sub(st: &State, conn: &ConnInfo, i: usize, sub_type: i32, sec: &qc::Security) -> Res<()> {
    if st.subs.has(conn.conn_id, i, sub_type) {
        Ok(())
    } else {
        Err(format!(
            "{} is not subscribed to SubType {sub_type} on this connection: subscribe first (Qot_Sub)",
            code_str(&st.entries[i], sec)
        ))
    }
}

/// The entry of `sec`, synced, once `conn` holds `sub_type` on it (lookup errors first).
fn subscribed<'a>(
    st: &'a mut State,
    src: &dyn PriceSource,
    conn: &ConnInfo,
    sec: &qc::Security,
    sub_type: i32,
) -> Res<&'a Entry> {
    let i = lookup(st, src, sec)?;
    require_sub(st, conn, i, sub_type, sec)?;
    Ok(&st.entries[i])
}

fn code_str(e: &Entry, _sec: &qc::Security) -> String {
    e.instrument.full_code()
}

// ------------------------------------------------------------------------------------
// Builders
// ------------------------------------------------------------------------------------

/// The 52-week (high, low) from the daily bars of the year before the live day and the
/// live day itself.
fn range_52w(e: &Entry) -> (f64, f64) {
    let l = &e.live;
    e.tape
        .daily(&l.code, l.day - 364, l.day - 1)
        .iter()
        .fold((l.high, l.low), |(h, lo), b| (h.max(b.high), lo.min(b.low)))
}

/// A seeded figure of an instrument in `lo..hi`.
fn figure(e: &Entry, salt: i64, lo: f64, hi: f64) -> f64 {
    let h = crate::sim::tape::history::hash3(fnv1a_code(e), salt, 77);
    lo + crate::sim::tape::history::unit(h) * (hi - lo)
}

fn fnv1a_code(e: &Entry) -> u64 {
    crate::sim::tape::history::fnv1a(&e.live.code)
}

fn basic_qot(e: &Entry, sec: &qc::Security) -> qc::BasicQot {
    let l = &e.live;
    let amplitude = if l.prev_close > 0.0 { round9((l.high - l.low) / l.prev_close * 100.0) } else { 0.0 };
    qc::BasicQot {
        security: sec.clone(),
        name: Some(e.instrument.name.clone()),
        is_suspended: false,
        list_time: list_time(e),
        price_spread: l.tick_size(),
        update_time: l.cal.format(l.updated, false),
        high_price: l.high,
        open_price: l.open,
        low_price: l.low,
        cur_price: l.last,
        last_close_price: l.prev_close,
        volume: l.volume,
        turnover: round9(l.turnover),
        turnover_rate: 0.0,
        amplitude,
        list_timestamp: Some(list_timestamp(e)),
        update_timestamp: Some(l.updated),
        sec_status: Some(1),
        ..Default::default()
    }
}

fn book_levels(levels: &[super::live::Level]) -> Vec<qc::OrderBook> {
    levels
        .iter()
        .map(|l| qc::OrderBook {
            price: l.price,
            volume: l.volume,
            oreder_count: l.orders,
            detail_list: Vec::new(),
            hp_volume: Some(l.volume as f64),
        })
        .collect()
}

fn ticker(e: &Entry, t: &Tick) -> qc::Ticker {
    qc::Ticker {
        time: e.live.cal.format(t.ts, true),
        sequence: t.seq,
        dir: t.dir,
        price: t.price,
        volume: t.volume,
        turnover: round9(t.price * t.volume as f64),
        recv_time: Some(t.ts),
        r#type: Some(1),
        type_sign: None,
        push_data_type: None,
        timestamp: Some(t.ts),
        hp_volume: Some(t.volume as f64),
    }
}

fn broker_list(ids: &[(i64, i32)]) -> Vec<qc::Broker> {
    ids.iter()
        .map(|(id, pos)| qc::Broker {
            id: *id,
            name: format!("Sim Broker {id}"),
            pos: *pos,
            order_id: None,
            volume: None,
        })
        .collect()
}

/// The KLFields bits that are set in `flag` (0 = all).
fn want(flag: i64, bit: i64) -> bool {
    flag == 0 || flag & bit != 0
}

fn kline(e: &Entry, b: &Bar, rehab: i32, intraday: bool, flag: i64) -> qc::KLine {
    let (a, off) = e.history.adjustment(b.day, rehab);
    let adj = |p: f64| round9(p * a + off);
    let time = if intraday {
        e.live.cal.format(b.ts as f64, false)
    } else {
        format!("{} 00:00:00", Calendar::format_day(b.day))
    };
    let close = adj(b.close);
    let last_close = adj(b.last_close);
    let change = if last_close != 0.0 { round9((close - last_close) / last_close * 100.0) } else { 0.0 };
    qc::KLine {
        time,
        is_blank: false,
        high_price: want(flag, 1).then(|| adj(b.high)),
        open_price: want(flag, 2).then(|| adj(b.open)),
        low_price: want(flag, 4).then(|| adj(b.low)),
        close_price: want(flag, 8).then_some(close),
        last_close_price: want(flag, 16).then_some(last_close),
        volume: want(flag, 32).then_some(b.volume),
        turnover: want(flag, 64).then(|| round9(b.turnover)),
        turnover_rate: want(flag, 128).then_some(0.0),
        pe: want(flag, 256).then_some(0.0),
        change_rate: want(flag, 512).then_some(change),
        timestamp: Some(if intraday { b.ts as f64 } else { e.history.cal.midnight(b.day) as f64 }),
        hp_volume: want(flag, 32).then_some(b.volume as f64),
    }
}

/// The K-lines of consecutive `bars`: each bar's last close is the adjusted close of the
/// bar before it (so adjusted series stay continuous across ex-dividend days).
fn klines(e: &Entry, bars: &[Bar], rehab: i32, intraday: bool, flag: i64) -> Vec<qc::KLine> {
    let mut prev_close: Option<f64> = None;
    bars.iter()
        .map(|b| {
            let mut k = kline(e, b, rehab, intraday, flag);
            let (a, off) = e.history.adjustment(b.day, rehab);
            let close = round9(b.close * a + off);
            if let Some(pc) = prev_close {
                if want(flag, 16) {
                    k.last_close_price = Some(pc);
                }
                if want(flag, 512) {
                    k.change_rate = Some(if pc != 0.0 { round9((close - pc) / pc * 100.0) } else { 0.0 });
                }
            }
            prev_close = Some(close);
            k
        })
        .collect()
}

fn time_share(e: &Entry, b: &Bar, cum_volume: i64, cum_turnover: f64) -> qc::TimeShare {
    let cal = &e.live.cal;
    qc::TimeShare {
        time: cal.format(b.ts as f64, false),
        minute: cal.minute_of_day(b.ts as f64) as i32,
        is_blank: false,
        price: Some(b.close),
        last_close_price: Some(e.live.prev_close),
        avg_price: Some(if cum_volume > 0 { round9(cum_turnover / cum_volume as f64) } else { b.close }),
        volume: Some(b.volume),
        turnover: Some(round9(b.turnover)),
        timestamp: Some(b.ts as f64),
        hp_volume: Some(b.volume as f64),
    }
}

fn rt_list(e: &Entry) -> Vec<qc::TimeShare> {
    let mut v = 0;
    let mut t = 0.0;
    e.live
        .minutes
        .values()
        .map(|b| {
            v += b.volume;
            t += b.turnover;
            time_share(e, b, v, t)
        })
        .collect()
}

// ------------------------------------------------------------------------------------
// K-lines
// ------------------------------------------------------------------------------------

/// Minutes per bar of an intraday `KLType`.
fn kl_minutes(kl: i32) -> Option<i64> {
    Some(match kl {
        1 => 1,
        10 => 3,
        6 => 5,
        12 => 10,
        7 => 15,
        8 => 30,
        9 => 60,
        13 => 120,
        14 => 180,
        15 => 240,
        _ => return None,
    })
}

fn is_kl_type(kl: i32) -> bool {
    kl_minutes(kl).is_some() || matches!(kl, 2 | 3 | 4 | 5 | 11)
}

/// Groups consecutive one-minute bars whose `group` key is equal.
fn aggregate(bars: impl Iterator<Item = Bar>, mut group: impl FnMut(&Bar) -> i64) -> Vec<Bar> {
    let mut out: Vec<Bar> = Vec::new();
    let mut last_key = None;
    for b in bars {
        let k = group(&b);
        match out.last_mut() {
            Some(cur) if last_key == Some(k) => cur.merge(&b),
            _ => {
                let mut nb = b;
                if let Some(prev) = out.last() {
                    nb.last_close = prev.close;
                }
                out.push(nb);
            }
        }
        last_key = Some(k);
    }
    out
}

/// Intraday bars of `kl` on one day (history or live).
fn intraday_day(e: &Entry, k: i64, day: i64) -> Vec<Bar> {
    let cal = e.live.cal;
    let sessions: Vec<(i64, i64)> = cal.sessions().collect();
    let mid = cal.midnight(day);
    let mut minutes: Vec<Bar> = if day >= e.live.day {
        e.live.minutes.values().copied().collect()
    } else {
        e.tape.bars(&e.live.code, mid, cal.midnight(day + 1))
    };
    // The day's first bar follows the previous day's close.
    let prev_close = if day >= e.live.day {
        Some(e.live.prev_close)
    } else {
        e.tape.daily(&e.live.code, day - 40, day - 1).last().map(|b| b.close)
    };
    if let (Some(first), Some(pc)) = (minutes.first_mut(), prev_close) {
        first.last_close = pc;
    }
    // Bucket by k minutes within each trading session (bars outside sessions, which only
    // the live day has, by k minutes of the clock).
    let mut out = aggregate(minutes.into_iter(), |b| {
        let m = (b.ts - mid) / 60 - 1; // start minute of the bar
        let (start, _) = sessions.iter().copied().find(|(a, z)| m >= *a && m < *z).unwrap_or((0, 0));
        start * 10_000 + (m - start) / k
    });
    for b in &mut out {
        // Label: the end of the bucket, capped at the session end.
        let m = (b.ts - mid) / 60 - 1;
        let (start, end) = sessions.iter().copied().find(|(a, z)| m >= *a && m < *z).unwrap_or((0, 24 * 60));
        let label = (start + ((m - start) / k + 1) * k).min(end);
        b.ts = mid + label * 60;
    }
    out
}

/// The group key of a daily bar for a day-or-longer `KLType`.
fn day_group(kl: i32, day: i64) -> i64 {
    let (y, m, _) = civil_from_days(day);
    match kl {
        3 => (day + 3).div_euclid(7),
        4 => y * 12 + i64::from(m),
        11 => y * 4 + i64::from((m - 1) / 3),
        5 => y,
        _ => day,
    }
}

/// Bars of `kl` whose days lie in `first..=last`, oldest first, with `ts >= min_ts`;
/// stops after `limit` bars.
fn kl_bars(e: &Entry, kl: i32, first: i64, last: i64, min_ts: i64, limit: usize) -> Vec<Bar> {
    let live_day = e.live.day;
    let first = first.max(e.history.first_day);
    let last = last.min(live_day);
    let mut out = Vec::new();
    if first > last {
        return out;
    }
    if let Some(k) = kl_minutes(kl) {
        let mut day = first;
        while day <= last && out.len() < limit {
            if e.live.cal.market.is_trading_day(day) {
                out.extend(intraday_day(e, k, day).into_iter().filter(|b| b.ts >= min_ts));
            }
            day += 1;
        }
        out.truncate(limit);
        return out;
    }
    // Extend day groups to whole periods at the range's start so that the first bar is
    // complete (a week bar starting mid-range still has its own open).
    let mut days: Vec<Bar> = e.tape.daily(&e.live.code, first, last.min(live_day - 1));
    if last >= live_day {
        days.push(e.live.day_bar(live_day));
    }
    let mut bars = aggregate(days.into_iter(), |b| day_group(kl, b.day));
    bars.retain(|b| b.ts >= min_ts);
    bars.truncate(limit);
    bars
}

/// The latest `n` bars of `kl` (GetKL).
fn latest_bars(e: &Entry, kl: i32, n: usize) -> Vec<Bar> {
    let live_day = e.live.day;
    let per_day = match kl_minutes(kl) {
        Some(k) => (e.live.cal.minutes_per_day() / k).max(1) as usize,
        None => 1,
    };
    let span_days = match kl {
        3 => n * 7,
        4 => n * 31,
        11 => n * 92,
        5 => n * 366,
        _ => n.div_ceil(per_day) * 7 / 5 + 4,
    } as i64;
    let mut bars = kl_bars(e, kl, live_day - span_days, live_day, i64::MIN, usize::MAX);
    if bars.len() > n {
        bars.drain(..bars.len() - n);
    }
    bars
}

fn encode_key(kl: i32, rehab: i32, ts: i64) -> Vec<u8> {
    format!("ftsim:{kl}:{rehab}:{ts}").into_bytes()
}

fn decode_key(key: &[u8]) -> Option<(i32, i32, i64)> {
    let s = std::str::from_utf8(key).ok()?;
    let mut it = s.strip_prefix("ftsim:")?.split(':');
    let kl = it.next()?.parse().ok()?;
    let rehab = it.next()?.parse().ok()?;
    let ts = it.next()?.parse().ok()?;
    Some((kl, rehab, ts))
}

// ------------------------------------------------------------------------------------
// Subscriptions and pushes
// ------------------------------------------------------------------------------------

fn resolve_all(st: &mut State, src: &dyn PriceSource, list: &[qc::Security]) -> Res<Vec<(usize, qc::Security)>> {
    list.iter().map(|s| lookup(st, src, s).map(|i| (i, s.clone()))).collect()
}

fn check_sub_types(st: &State, wanted: &[(usize, qc::Security)], types: &[i32]) -> Res<()> {
    for t in types {
        if !is_served_sub_type(*t) {
            return Err(format!("SubType {t} is not served by opend-sim"));
        }
        if *t == 14 || *t == 22 {
            if let Some((i, _)) = wanted.iter().find(|(i, _)| st.entries[*i].instrument.sec_market != sec_market::HK) {
                let what =
                    if *t == 14 { "The broker queue (SubType 14)" } else { "The odd-lot order book (SubType 22)" };
                return Err(format!("{what} is HK only; {} is not", st.entries[*i].instrument.full_code()));
            }
        }
    }
    Ok(())
}

fn sub(st: &mut State, src: &dyn PriceSource, conn: &ConnInfo, c: &qot_sub::C2s) -> Res<(qot_sub::S2c, Vec<Push>)> {
    let min = st.cfg.unsub_min;
    if c.is_unsub_all == Some(true) {
        st.subs.unsubscribe_all(conn.conn_id, min)?;
        return Ok((qot_sub::S2c {}, Vec::new()));
    }
    if c.security_list.is_empty() || c.sub_type_list.is_empty() {
        return Err("Qot_Sub needs securityList and subTypeList".into());
    }
    let wanted = resolve_all(st, src, &c.security_list)?;
    check_sub_types(st, &wanted, &c.sub_type_list)?;
    let keys: Vec<(usize, i32)> =
        wanted.iter().flat_map(|(i, _)| c.sub_type_list.iter().map(move |t| (*i, *t))).collect();
    if !c.is_sub_or_un_sub {
        st.subs.unsubscribe(conn.conn_id, &keys, min)?;
        return Ok((qot_sub::S2c {}, Vec::new()));
    }
    let quota = st.cfg.sub_quota;
    st.subs.subscribe(
        conn.conn_id,
        &conn.sink,
        &wanted,
        &c.sub_type_list,
        c.is_reg_or_un_reg_push,
        &c.reg_push_rehab_type_list,
        quota,
    )?;
    let pushes = if c.is_reg_or_un_reg_push == Some(true) && c.is_first_push.unwrap_or(false) {
        first_pushes(st, conn.conn_id, &keys)
    } else {
        Vec::new()
    };
    Ok((qot_sub::S2c {}, pushes))
}

fn reg_qot_push(
    st: &mut State,
    src: &dyn PriceSource,
    conn: &ConnInfo,
    c: &qot_reg_qot_push::C2s,
) -> Res<(qot_reg_qot_push::S2c, Vec<Push>)> {
    let wanted = resolve_all(st, src, &c.security_list)?;
    let keys: Vec<(usize, i32)> =
        wanted.iter().flat_map(|(i, _)| c.sub_type_list.iter().map(move |t| (*i, *t))).collect();
    let hit = st.subs.reg_push(conn.conn_id, &keys, c.is_reg_or_un_reg, &c.rehab_type_list);
    let pushes = if c.is_reg_or_un_reg && c.is_first_push.unwrap_or(false) {
        first_pushes(st, conn.conn_id, &hit)
    } else {
        Vec::new()
    };
    Ok((qot_reg_qot_push::S2c {}, pushes))
}

fn first_pushes(st: &State, conn_id: u64, keys: &[(usize, i32)]) -> Vec<Push> {
    let Some(cs) = st.subs.conns.get(&conn_id) else { return Vec::new() };
    let mut out = Vec::new();
    for k in keys {
        if let Some(item) = cs.items.get(k).filter(|i| i.push) {
            for (proto_id, body) in push_bodies(st, k.0, k.1, item) {
                out.push(Push { sink: cs.sink.clone(), proto_id, body });
            }
        }
    }
    out
}

/// The pushes of one step: every subscription registered for pushes gets the current
/// data (a ticker push only for an instrument that traded in the step).
pub(crate) fn step_pushes(st: &State, moved: &[(usize, Tick)]) -> Vec<Push> {
    let mut out = Vec::new();
    for cs in st.subs.conns.values() {
        for ((i, t), item) in &cs.items {
            if item.push && (*t != 4 || moved.iter().any(|(m, _)| m == i)) {
                for (proto_id, body) in push_bodies(st, *i, *t, item) {
                    out.push(Push { sink: cs.sink.clone(), proto_id, body });
                }
            }
        }
    }
    out
}

fn push_response<R: ResponseEnvelope>(s2c: R::S2c) -> Vec<u8> {
    R::build(0, None, None, Some(s2c)).encode_to_vec()
}

/// The push bodies of one subscription, with the current data.
fn push_bodies(st: &State, i: usize, sub_type: i32, item: &Item) -> Vec<(u32, Vec<u8>)> {
    let e = &st.entries[i];
    let sec = &item.security;
    let name = Some(e.instrument.name.clone());
    match sub_type {
        1 => vec![(
            ids::UPDATE_BASIC_QOT,
            push_response::<qot_update_basic_qot::Response>(qot_update_basic_qot::S2c {
                basic_qot_list: vec![basic_qot(e, sec)],
            }),
        )],
        2 | 22 => {
            let (bids, asks) =
                if sub_type == 22 { super::more::odd_lot_book(&e.live, BOOK_LEVELS) } else { e.live.book(BOOK_LEVELS) };
            let now = e.live.cal.format(e.live.updated, true);
            vec![(
                ids::UPDATE_ORDER_BOOK,
                push_response::<qot_update_order_book::Response>(qot_update_order_book::S2c {
                    security: sec.clone(),
                    name,
                    order_book_ask_list: book_levels(&asks),
                    order_book_bid_list: book_levels(&bids),
                    svr_recv_time_bid: Some(now.clone()),
                    svr_recv_time_bid_timestamp: Some(e.live.updated),
                    svr_recv_time_ask: Some(now),
                    svr_recv_time_ask_timestamp: Some(e.live.updated),
                    order_book_type: (sub_type == 22).then_some(1),
                }),
            )]
        }
        4 => match e.live.tickers.back() {
            Some(t) => vec![(
                ids::UPDATE_TICKER,
                push_response::<qot_update_ticker::Response>(qot_update_ticker::S2c {
                    security: sec.clone(),
                    name,
                    ticker_list: vec![ticker(e, t)],
                }),
            )],
            None => Vec::new(),
        },
        5 => {
            let rt = rt_list(e);
            match rt.last() {
                Some(last) => vec![(
                    ids::UPDATE_RT,
                    push_response::<qot_update_rt::Response>(qot_update_rt::S2c {
                        security: sec.clone(),
                        name,
                        rt_list: vec![last.clone()],
                    }),
                )],
                None => Vec::new(),
            }
        }
        14 => {
            let (bid, ask) = e.live.broker_queue();
            vec![(
                ids::UPDATE_BROKER,
                push_response::<qot_update_broker::Response>(qot_update_broker::S2c {
                    security: sec.clone(),
                    name,
                    broker_ask_list: broker_list(&ask),
                    broker_bid_list: broker_list(&bid),
                }),
            )]
        }
        t => {
            let Some(kl) = kl_type_of_sub(t) else { return Vec::new() };
            let Some(bar) = latest_bars(e, kl, 1).pop() else { return Vec::new() };
            let rehabs: Vec<i32> = if item.rehab.is_empty() { vec![1] } else { item.rehab.clone() };
            rehabs
                .into_iter()
                .map(|r| {
                    (
                        ids::UPDATE_KL,
                        push_response::<qot_update_kl::Response>(qot_update_kl::S2c {
                            rehab_type: r,
                            kl_type: kl,
                            security: sec.clone(),
                            name: name.clone(),
                            kl_list: vec![kline(e, &bar, r, kl_minutes(kl).is_some(), 0)],
                        }),
                    )
                })
                .collect()
        }
    }
}

fn get_sub_info(
    st: &mut State,
    _src: &dyn PriceSource,
    conn: &ConnInfo,
    c: &qot_get_sub_info::C2s,
) -> Res<(qot_get_sub_info::S2c, Vec<Push>)> {
    let all = c.is_req_all_conn.unwrap_or(false);
    let mut list = Vec::new();
    let mut conn_ids: Vec<u64> = st.subs.conns.keys().copied().filter(|id| all || *id == conn.conn_id).collect();
    conn_ids.sort_unstable();
    for id in conn_ids {
        let cs = &st.subs.conns[&id];
        let mut by_type: std::collections::BTreeMap<i32, Vec<qc::Security>> = Default::default();
        for ((_, t), item) in &cs.items {
            by_type.entry(*t).or_default().push(item.security.clone());
        }
        list.push(qc::ConnSubInfo {
            sub_info_list: by_type.into_iter().map(|(t, l)| qc::SubInfo { sub_type: t, security_list: l }).collect(),
            used_quota: st.subs.used_by(id),
            is_own_conn_data: id == conn.conn_id,
            security_firm: None,
            option_used_quota: Some(0),
        });
    }
    let used = st.subs.used();
    let s2c = qot_get_sub_info::S2c {
        conn_sub_info_list: list,
        total_used_quota: used,
        remain_quota: (st.cfg.sub_quota - used).max(0),
        option_used_quota: Some(0),
        option_remain_quota: Some(0),
    };
    Ok((s2c, Vec::new()))
}

// ------------------------------------------------------------------------------------
// Real-time data (subscription required)
// ------------------------------------------------------------------------------------

fn get_basic_qot(
    st: &mut State,
    src: &dyn PriceSource,
    conn: &ConnInfo,
    c: &qot_get_basic_qot::C2s,
) -> Res<(qot_get_basic_qot::S2c, Vec<Push>)> {
    let mut list = Vec::with_capacity(c.security_list.len());
    for sec in &c.security_list {
        let e = subscribed(st, src, conn, sec, 1)?;
        list.push(basic_qot(e, sec));
    }
    Ok((qot_get_basic_qot::S2c { basic_qot_list: list }, Vec::new()))
}

fn get_kl(
    st: &mut State,
    src: &dyn PriceSource,
    conn: &ConnInfo,
    c: &qot_get_kl::C2s,
) -> Res<(qot_get_kl::S2c, Vec<Push>)> {
    if !is_kl_type(c.kl_type) {
        return Err(format!("Unknown klType {}", c.kl_type));
    }
    if !(0..=2).contains(&c.rehab_type) {
        return Err(format!("Unknown rehabType {}", c.rehab_type));
    }
    let e = subscribed(st, src, conn, &c.security, sub_of_kl_type(c.kl_type).unwrap_or(0))?;
    let n = c.req_num.clamp(0, 1000) as usize;
    let intraday = kl_minutes(c.kl_type).is_some();
    let kl_list = klines(e, &latest_bars(e, c.kl_type, n), c.rehab_type, intraday, 0);
    Ok((qot_get_kl::S2c { security: c.security.clone(), name: Some(e.instrument.name.clone()), kl_list }, Vec::new()))
}

fn get_rt(
    st: &mut State,
    src: &dyn PriceSource,
    conn: &ConnInfo,
    c: &qot_get_rt::C2s,
) -> Res<(qot_get_rt::S2c, Vec<Push>)> {
    let e = subscribed(st, src, conn, &c.security, 5)?;
    Ok((
        qot_get_rt::S2c { security: c.security.clone(), name: Some(e.instrument.name.clone()), rt_list: rt_list(e) },
        Vec::new(),
    ))
}

fn get_ticker(
    st: &mut State,
    src: &dyn PriceSource,
    conn: &ConnInfo,
    c: &qot_get_ticker::C2s,
) -> Res<(qot_get_ticker::S2c, Vec<Push>)> {
    let e = subscribed(st, src, conn, &c.security, 4)?;
    let n = c.max_ret_num.clamp(0, 1000) as usize;
    let skip = e.live.tickers.len().saturating_sub(n);
    let ticker_list = e.live.tickers.iter().skip(skip).map(|t| ticker(e, t)).collect();
    Ok((
        qot_get_ticker::S2c { security: c.security.clone(), name: Some(e.instrument.name.clone()), ticker_list },
        Vec::new(),
    ))
}

fn get_order_book(
    st: &mut State,
    src: &dyn PriceSource,
    conn: &ConnInfo,
    c: &qot_get_order_book::C2s,
) -> Res<(qot_get_order_book::S2c, Vec<Push>)> {
    let odd = c.order_book_type == Some(1);
    let e = subscribed(st, src, conn, &c.security, if odd { 22 } else { 2 })?;
    let n = c.num.clamp(0, BOOK_LEVELS as i32) as usize;
    let (bids, asks) = if odd { super::more::odd_lot_book(&e.live, n) } else { e.live.book(n) };
    let now = e.live.cal.format(e.live.updated, true);
    let s2c = qot_get_order_book::S2c {
        security: c.security.clone(),
        name: Some(e.instrument.name.clone()),
        order_book_ask_list: book_levels(&asks),
        order_book_bid_list: book_levels(&bids),
        svr_recv_time_bid: Some(now.clone()),
        svr_recv_time_bid_timestamp: Some(e.live.updated),
        svr_recv_time_ask: Some(now),
        svr_recv_time_ask_timestamp: Some(e.live.updated),
        order_book_type: c.order_book_type,
    };
    Ok((s2c, Vec::new()))
}

fn get_broker(
    st: &mut State,
    src: &dyn PriceSource,
    conn: &ConnInfo,
    c: &qot_get_broker::C2s,
) -> Res<(qot_get_broker::S2c, Vec<Push>)> {
    let e = subscribed(st, src, conn, &c.security, 14)?;
    let (bid, ask) = e.live.broker_queue();
    let s2c = qot_get_broker::S2c {
        security: c.security.clone(),
        name: Some(e.instrument.name.clone()),
        broker_ask_list: broker_list(&ask),
        broker_bid_list: broker_list(&bid),
    };
    Ok((s2c, Vec::new()))
}

// ------------------------------------------------------------------------------------
// History and reference data
// ------------------------------------------------------------------------------------

fn request_history_kl(
    st: &mut State,
    src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &hkl::C2s,
) -> Res<(hkl::S2c, Vec<Push>)> {
    if !is_kl_type(c.kl_type) {
        return Err(format!("Unknown klType {}", c.kl_type));
    }
    if !(0..=2).contains(&c.rehab_type) {
        return Err(format!("Unknown rehabType {}", c.rehab_type));
    }
    let (first, _) = parse_time(&c.begin_time).ok_or_else(|| format!("Invalid beginTime {:?}", c.begin_time))?;
    let (last, _) = parse_time(&c.end_time).ok_or_else(|| format!("Invalid endTime {:?}", c.end_time))?;
    if first > last {
        return Err(format!("beginTime {} is after endTime {}", c.begin_time, c.end_time));
    }
    let i = lookup(st, src, &c.security)?;
    let min_ts = match c.next_req_key.as_deref() {
        None | Some([]) => {
            let quota = st.cfg.history_kl_quota;
            st.subs.use_history(i, crate::sim::calendar::wall_secs(), quota)?;
            i64::MIN
        }
        Some(key) => match decode_key(key) {
            Some((kl, rehab, ts)) if kl == c.kl_type && rehab == c.rehab_type => ts,
            _ => return Err("Invalid nextReqKey (not from this request)".into()),
        },
    };
    let page = match c.max_ack_kl_num {
        Some(n) if n > 0 => (n as usize).min(MAX_PAGE),
        _ => DEFAULT_PAGE,
    };
    let e = &st.entries[i];
    let mut bars = kl_bars(e, c.kl_type, first, last, min_ts, page + 1);
    let next_req_key =
        if bars.len() > page { bars.pop().map(|b| encode_key(c.kl_type, c.rehab_type, b.ts)) } else { None };
    let flag = c.need_kl_fields_flag.unwrap_or(0);
    let intraday = kl_minutes(c.kl_type).is_some();
    let kl_list = klines(e, &bars, c.rehab_type, intraday, flag);
    let s2c = hkl::S2c { security: c.security.clone(), name: Some(e.instrument.name.clone()), kl_list, next_req_key };
    Ok((s2c, Vec::new()))
}

fn history_kl_quota(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &hklq::C2s,
) -> Res<(hklq::S2c, Vec<Push>)> {
    let quota = st.cfg.history_kl_quota;
    let log: Vec<(usize, f64)> = st.subs.history_used(crate::sim::calendar::wall_secs()).to_vec();
    let detail_list = if c.b_get_detail.unwrap_or(false) {
        log.iter()
            .map(|(i, t)| {
                let e = &st.entries[*i];
                hklq::DetailItem {
                    security: qc::Security { market: e.qot_market, code: e.instrument.code.clone() },
                    name: Some(e.instrument.name.clone()),
                    request_time: e.live.cal.format(*t, false),
                    request_time_stamp: Some(*t as i64),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let used = log.len() as i32;
    Ok((hklq::S2c { used_quota: used, remain_quota: (quota - used).max(0), detail_list }, Vec::new()))
}

fn rehab_list(e: &Entry) -> Vec<qc::Rehab> {
    e.history
        .dividends
        .iter()
        .map(|(day, d)| qc::Rehab {
            time: Calendar::format_day(*day),
            company_act_flag: 64,
            fwd_factor_a: 1.0,
            fwd_factor_b: -d,
            bwd_factor_a: 1.0,
            bwd_factor_b: *d,
            dividend: Some(*d),
            timestamp: Some(e.history.cal.midnight(*day) as f64),
            ..Default::default()
        })
        .collect()
}

fn request_rehab(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &qot_request_rehab::C2s,
) -> Res<(qot_request_rehab::S2c, Vec<Push>)> {
    let i = find(st, &c.security)?;
    Ok((qot_request_rehab::S2c { rehab_list: rehab_list(&st.entries[i]) }, Vec::new()))
}

fn get_rehab(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &qot_get_rehab::C2s,
) -> Res<(qot_get_rehab::S2c, Vec<Push>)> {
    let mut list = Vec::new();
    for sec in &c.security_list {
        let i = find(st, sec)?;
        list.push(qot_get_rehab::SecurityRehab { security: sec.clone(), rehab_list: rehab_list(&st.entries[i]) });
    }
    Ok((qot_get_rehab::S2c { security_rehab_list: list }, Vec::new()))
}

fn get_static_info(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &qot_get_static_info::C2s,
) -> Res<(qot_get_static_info::S2c, Vec<Push>)> {
    let list = if !c.security_list.is_empty() {
        let mut v = Vec::new();
        for sec in &c.security_list {
            let i = find(st, sec)?;
            v.push(static_info(&st.entries[i], sec.clone()));
        }
        v
    } else {
        let market = c.market.unwrap_or(0);
        let want_type = c.sec_type.unwrap_or(0);
        let sec = sec_market_of_qot_market(market);
        st.entries
            .iter()
            .filter(|e| sec == Some(e.instrument.sec_market) && (want_type == 0 || want_type == sec_type(e)))
            .map(|e| static_info(e, qc::Security { market: e.qot_market, code: e.instrument.code.clone() }))
            .collect()
    };
    Ok((qot_get_static_info::S2c { static_info_list: list }, Vec::new()))
}

fn get_snapshot(st: &mut State, src: &dyn PriceSource, _conn: &ConnInfo, c: &snap::C2s) -> Res<(snap::S2c, Vec<Push>)> {
    if c.security_list.len() > MAX_SNAPSHOT {
        return Err(format!("At most {MAX_SNAPSHOT} securities per snapshot request"));
    }
    let mut list = Vec::new();
    for sec in &c.security_list {
        let i = lookup(st, src, sec)?;
        let e = &st.entries[i];
        let l = &e.live;
        let (bids, asks) = l.book(1);
        let (high52, low52) = range_52w(e);
        let amplitude = if l.prev_close > 0.0 { round9((l.high - l.low) / l.prev_close * 100.0) } else { 0.0 };
        let basic = snap::SnapshotBasicData {
            security: sec.clone(),
            name: Some(e.instrument.name.clone()),
            r#type: sec_type(e),
            is_suspend: false,
            list_time: list_time(e),
            lot_size: e.instrument.lot_size as i32,
            price_spread: l.tick_size(),
            update_time: l.cal.format(l.updated, false),
            high_price: l.high,
            open_price: l.open,
            low_price: l.low,
            last_close_price: l.prev_close,
            cur_price: l.last,
            volume: l.volume,
            turnover: round9(l.turnover),
            turnover_rate: 0.0,
            list_timestamp: Some(list_timestamp(e)),
            update_timestamp: Some(l.updated),
            ask_price: asks.first().map(|x| x.price),
            bid_price: bids.first().map(|x| x.price),
            ask_vol: asks.first().map(|x| x.volume),
            bid_vol: bids.first().map(|x| x.volume),
            amplitude: Some(amplitude),
            avg_price: Some(if l.volume > 0 { round9(l.turnover / l.volume as f64) } else { l.last }),
            sec_status: Some(1),
            hp_volume: Some(l.volume as f64),
            highest52_weeks_price: Some(high52),
            lowest52_weeks_price: Some(low52),
            ..Default::default()
        };
        list.push(snap::Snapshot {
            basic,
            equity_ex_data: equity_ex(e),
            option_ex_data: option_ex(e),
            future_ex_data: future_ex(e),
            ..Default::default()
        });
    }
    Ok((snap::S2c { snapshot_list: list }, Vec::new()))
}

/// A stock's fundamentals, the same the stock filter screens
/// ([`screen::fundamentals`](super::screen::fundamentals): seeded share counts, earnings
/// and book value), valued at the last price; the dividends of the last year from the
/// seeded model.
fn equity_ex(e: &Entry) -> Option<snap::EquitySnapshotExData> {
    if e.instrument.kind != InstrumentKind::Stock {
        return None;
    }
    let l = &e.live;
    let f = super::screen::fundamentals(e);
    let issued = f.total_shares as i64;
    let outstanding = f.float_shares as i64;
    let eps = f.eps;
    let bvps = f.bps;
    let net_profit = round9(eps * issued as f64);
    let net_asset = round9(bvps * issued as f64);
    let year_ago = l.day - 365;
    let dividend_ttm: f64 = e.history.dividends.iter().filter(|d| d.0 > year_ago && d.0 <= l.day).map(|d| d.1).sum();
    let ratio = |v: f64| if l.last > 0.0 { round9(v / l.last * 100.0) } else { 0.0 };
    Some(snap::EquitySnapshotExData {
        issued_shares: issued,
        issued_market_val: round9(issued as f64 * l.last),
        net_asset,
        net_profit,
        earnings_pershare: eps,
        outstanding_shares: outstanding,
        outstanding_market_val: round9(outstanding as f64 * l.last),
        net_asset_pershare: bvps,
        ey_rate: ratio(eps),
        pe_rate: if eps > 0.0 { round9(l.last / eps) } else { 0.0 },
        pb_rate: if bvps > 0.0 { round9(l.last / bvps) } else { 0.0 },
        pe_ttm_rate: if eps > 0.0 { round9(l.last / eps) } else { 0.0 },
        dividend_ttm: Some(round9(dividend_ttm)),
        dividend_ratio_ttm: Some(ratio(dividend_ttm)),
        dividend_lfy: Some(round9(dividend_ttm)),
        dividend_lfy_ratio: Some(ratio(dividend_ttm)),
    })
}

/// An option's terms from its code; open interest seeded; the greeks of a plain
/// approximation (delta from moneyness).
fn option_ex(e: &Entry) -> Option<snap::OptionSnapshotExData> {
    let t = crate::sim::instrument::option_terms(&e.instrument)?;
    let size = e.instrument.multiplier.max(1.0);
    let days_left = (t.expiry_day - e.live.day).max(0);
    let moneyness = if t.strike > 0.0 { e.live.last / t.strike } else { 1.0 };
    let delta = round9(if t.call {
        0.5 + (moneyness - 1.0).clamp(-0.45, 0.45)
    } else {
        -0.5 + (moneyness - 1.0).clamp(-0.45, 0.45)
    });
    let oi = figure(e, 5, 500.0, 20_000.0) as i32;
    Some(snap::OptionSnapshotExData {
        r#type: if t.call { 1 } else { 2 },
        owner: option_owner(e, &t),
        strike_time: Calendar::format_day(t.expiry_day),
        strike_price: t.strike,
        contract_size: size as i32,
        contract_size_float: Some(size),
        open_interest: oi,
        implied_volatility: round9(figure(e, 6, 20.0, 45.0)),
        premium: if t.strike > 0.0 { round9(e.live.last / t.strike * 100.0) } else { 0.0 },
        delta,
        gamma: 0.01,
        vega: 0.2,
        theta: -0.02,
        rho: 0.05,
        strike_timestamp: Some(e.live.cal.midnight(t.expiry_day) as f64),
        net_open_interest: Some(oi),
        expiry_date_distance: Some(days_left as i32),
        contract_nominal_value: Some(round9(t.strike * size)),
        contract_multiplier: Some(size),
        ..Default::default()
    })
}

/// A future's last settle price (the previous close), seeded open interest and the
/// current contract's last trading day.
fn future_ex(e: &Entry) -> Option<snap::FutureSnapshotExData> {
    if e.instrument.kind != InstrumentKind::Future {
        return None;
    }
    let d = future_last_trade_day(e);
    let oi = figure(e, 7, 50_000.0, 150_000.0) as i32;
    Some(snap::FutureSnapshotExData {
        last_settle_price: e.live.prev_close,
        position: oi,
        position_change: (figure(e, 8 + e.live.day, -2000.0, 2000.0)) as i32,
        last_trade_time: Calendar::format_day(d),
        last_trade_timestamp: Some(e.live.cal.midnight(d) as f64),
        is_main_contract: is_main_contract(e),
    })
}

/// `TradeDateMarket` to a `TrdSecMarket` whose calendar it uses.
fn trade_date_market(m: i32) -> Option<i32> {
    Some(match m {
        1 => sec_market::HK,
        2 => sec_market::US,
        3 => sec_market::CN_SH,
        5 | 6 | 10 => sec_market::JP,
        7 | 8 => sec_market::SG,
        4 | 9 => sec_market::HK,
        _ => return None,
    })
}

fn request_trade_date(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &ttd::C2s,
) -> Res<(ttd::S2c, Vec<Push>)> {
    let sec = match &c.security {
        Some(s) if !s.code.is_empty() => st.entries[find(st, s)?].instrument.sec_market,
        _ => trade_date_market(c.market).ok_or_else(|| format!("Unknown TradeDateMarket {}", c.market))?,
    };
    let (first, _) = parse_time(&c.begin_time).ok_or_else(|| format!("Invalid beginTime {:?}", c.begin_time))?;
    let (last, _) = parse_time(&c.end_time).ok_or_else(|| format!("Invalid endTime {:?}", c.end_time))?;
    if first > last {
        return Err(format!("beginTime {} is after endTime {}", c.begin_time, c.end_time));
    }
    if last - first > 3700 {
        return Err("The range of trading days may span at most ten years".into());
    }
    let cal = Calendar::of(sec);
    // A replay lists no day after the simulated day (no look-ahead, docs/backtesting.md).
    let last = crate::sim::replay::last_visible_day(st.clock.as_ref(), cal.market).map_or(last, |d| last.min(d));
    let list = cal
        .market
        .trading_days(first, last)
        .map(|d| ttd::TradeDate {
            time: Calendar::format_day(d),
            timestamp: Some(cal.midnight(d) as f64),
            trade_date_type: Some(0),
        })
        .collect();
    Ok((ttd::S2c { trade_date_list: list }, Vec::new()))
}

fn get_market_state(
    st: &mut State,
    src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &qot_get_market_state::C2s,
) -> Res<(qot_get_market_state::S2c, Vec<Push>)> {
    let mut list = Vec::new();
    for sec in &c.security_list {
        let i = find(st, sec)?;
        let e = &st.entries[i];
        list.push(qot_get_market_state::MarketInfo {
            security: sec.clone(),
            name: e.instrument.name.clone(),
            // The session at the broker's simulated time (docs/simulator.md).
            market_state: src
                .market_clock()
                .map(|c| c.phase(e.instrument.cal_market()).qot_market_state())
                .unwrap_or_else(|| market_state(e.instrument.kind)),
        });
    }
    Ok((qot_get_market_state::S2c { market_info_list: list }, Vec::new()))
}
