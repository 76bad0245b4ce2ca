//! What the request files of the market data share: serving a request under the state
//! lock, finding and sampling an instrument, paging, dates, and the static info of an
//! instrument.

use crate::pb::{qot_common as qc, RequestEnvelope, ResponseEnvelope};
use crate::sim::calendar::civil_from_days;
use crate::sim::instrument::{sec_market, sec_market_of_qot_market, InstrumentKind};
use crate::sim::tape::clock::Calendar;
use crate::sim::{ConnInfo, PriceSource};

use super::state::{Entry, Inner, Push, Res, State};

/// Decodes a request, runs `f` under the state lock, encodes the answer (retType -1 with
/// the message on refusal) and delivers the pushes `f` queued after the state lock is
/// released.
pub(crate) fn serve<Req, Resp>(
    inner: &Inner,
    conn: &ConnInfo,
    body: &[u8],
    name: &str,
    f: impl FnOnce(&mut State, &dyn PriceSource, &ConnInfo, &Req::C2s) -> Res<(Resp::S2c, Vec<Push>)>,
) -> Vec<u8>
where
    Req: RequestEnvelope,
    Resp: ResponseEnvelope,
{
    let req = match Req::decode(body) {
        Ok(r) => r,
        Err(e) => {
            log::debug!("{name}: undecodable request from conn {}: {e}", conn.conn_id);
            return Resp::build(-1, Some(format!("Failed to parse the {name} request: {e}")), Some(-1), None)
                .encode_to_vec();
        }
    };
    let result = inner.with_state(|st, src| match f(st, src, conn, req.c2s()) {
        Ok((s2c, pushes)) => (Ok(s2c), pushes),
        Err(e) => (Err(e), Vec::new()),
    });
    match result {
        Ok(s2c) => Resp::build(0, Some(String::new()), Some(0), Some(s2c)).encode_to_vec(),
        Err(msg) => {
            log::debug!("{name} refused for conn {}: {msg}", conn.conn_id);
            Resp::build(-1, Some(msg), Some(-1), None).encode_to_vec()
        }
    }
}

pub(crate) fn find(st: &State, sec: &qc::Security) -> Res<usize> {
    let found = sec_market_of_qot_market(sec.market)
        .and_then(|m| st.entries.iter().position(|e| e.instrument.sec_market == m && e.instrument.code == sec.code));
    found.ok_or_else(|| {
        let prefix = super::subs::qot_market_prefix(sec.market);
        format!("Unknown security {prefix}.{} (not in the simulator's instrument table)", sec.code)
    })
}

/// Samples the source's price for entry `i`; a changed price is a trade.
pub(crate) fn sync(st: &mut State, src: &dyn PriceSource, i: usize) {
    let clock = st.clock;
    st.entries[i].advance(src, clock.as_ref(), false);
}

pub(crate) fn lookup(st: &mut State, src: &dyn PriceSource, sec: &qc::Security) -> Res<usize> {
    let i = find(st, sec)?;
    sync(st, src, i);
    Ok(i)
}

pub(crate) fn static_info(e: &Entry, sec: qc::Security) -> qc::SecurityStaticInfo {
    qc::SecurityStaticInfo {
        basic: qc::SecurityStaticBasic {
            security: sec,
            id: e.id,
            lot_size: e.instrument.lot_size as i32,
            sec_type: sec_type(e),
            name: e.instrument.name.clone(),
            list_time: list_time(e),
            delisting: Some(false),
            list_timestamp: Some(list_timestamp(e)),
            exch_type: Some(exch_type(e)),
        },
        option_ex_data: crate::sim::instrument::option_terms(&e.instrument).map(|t| qc::OptionStaticExData {
            r#type: if t.call { 1 } else { 2 },
            owner: option_owner(e, &t),
            strike_time: Calendar::format_day(t.expiry_day),
            strike_price: t.strike,
            suspend: false,
            market: String::new(),
            strike_timestamp: Some(e.live.cal.midnight(t.expiry_day) as f64),
            index_option_type: None,
            expiration_cycle: None,
            option_standard_type: None,
            option_settlement_mode: None,
        }),
        future_ex_data: (e.instrument.kind == InstrumentKind::Future).then(|| {
            let d = future_last_trade_day(e);
            qc::FutureStaticExData {
                last_trade_time: Calendar::format_day(d),
                last_trade_timestamp: Some(e.live.cal.midnight(d) as f64),
                is_main_contract: is_main_contract(e),
            }
        }),
        ..Default::default()
    }
}

pub(crate) fn sec_type(e: &Entry) -> i32 {
    match e.instrument.kind {
        InstrumentKind::Stock if super::derivatives::is_warrant(&e.instrument) => 5,
        InstrumentKind::Stock => 3,
        InstrumentKind::Option => 8,
        InstrumentKind::Future => 10,
    }
}

pub(crate) fn exch_type(e: &Entry) -> i32 {
    match (e.instrument.sec_market, e.instrument.kind) {
        (sec_market::HK, InstrumentKind::Future) => 3,
        (sec_market::HK, _) => 1,
        (sec_market::US, InstrumentKind::Option) => 8,
        (sec_market::US, InstrumentKind::Future) => 12,
        (sec_market::US, _) => 5,
        (sec_market::CN_SH, _) => 14,
        (sec_market::CN_SZ, _) => 15,
        (sec_market::SG, _) => 17,
        (sec_market::JP, _) => 21,
        _ => 0,
    }
}

pub(crate) fn list_time(e: &Entry) -> String {
    Calendar::format_day(e.history.listed)
}

pub(crate) fn list_timestamp(e: &Entry) -> f64 {
    e.live.cal.midnight(e.history.listed) as f64
}

/// `main` futures are the continuous main contract.
pub(crate) fn is_main_contract(e: &Entry) -> bool {
    e.instrument.kind == InstrumentKind::Future && e.instrument.code.ends_with("main")
}

/// The last trading day of the current contract of a future: the second-last trading
/// day of the live day's month (HKEX's rule, used for every market here).
pub(crate) fn future_last_trade_day(e: &Entry) -> i64 {
    let (y, m, _) = civil_from_days(e.live.day);
    let next = if m == 12 {
        crate::sim::calendar::days_from_civil(y + 1, 1, 1)
    } else {
        crate::sim::calendar::days_from_civil(y, m + 1, 1)
    };
    let last = e.live.cal.market.trading_day_on_or_before(next - 1);
    e.live.cal.market.trading_day_on_or_before(last - 1)
}

/// The underlying of an option: its code root, or the stock an option root stands for
/// (`TCH` options are on HK.00700), as the option chain names it.
pub(crate) fn option_owner(e: &Entry, t: &crate::sim::instrument::OptionTerms) -> qc::Security {
    let code = super::derivatives::underlying_of_root(e.instrument.sec_market, &t.owner).unwrap_or(&t.owner);
    qc::Security { market: e.qot_market, code: code.to_string() }
}

/// Checks `begin`/`num` paging against `all` results (OpenD: at most `max` per page).
pub(crate) fn page(begin: i32, num: i32, all: usize, max: i32) -> Res<(usize, usize)> {
    if begin < 0 {
        return Err(format!("begin {begin} is negative"));
    }
    if num <= 0 || num > max {
        return Err(format!("num {num} is out of range: 1 to {max} per page"));
    }
    let begin = begin as usize;
    if begin > all || (begin == all && all > 0) {
        return Err(format!("begin {begin} is past the end: {all} results"));
    }
    Ok((begin, (begin + num as usize).min(all)))
}

/// The `yyyy-MM-dd` (optionally followed by a time) day of `s`, as days since the epoch.
pub(crate) fn parse_day(s: &str, what: &str) -> Res<i64> {
    crate::sim::tape::clock::parse_time(s)
        .map(|(d, _)| d)
        .ok_or_else(|| format!("Invalid {what} {s:?} (expected yyyy-MM-dd)"))
}

/// `TrdSecMarket` of a `QotMarket`, refusing unknown ones.
pub(crate) fn sec_market_of(qot_market: i32) -> Res<i32> {
    sec_market_of_qot_market(qot_market).ok_or_else(|| format!("Unknown QotMarket {qot_market}"))
}
