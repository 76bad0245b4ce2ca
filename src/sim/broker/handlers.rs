//! One function per trading protocol: take the decoded C2S, check it against the
//! state, change the state, queue pushes, return the S2C or a [`Reject`].

use super::state::{
    err_code, fee_estimate, status, trd_market_cal, Event, LegRec, OrderRec, Reject, Res, State, FUTURES_IM,
    MARGIN_CREDIT,
};
use crate::pb;
use crate::pb::trd_common::{TrdFilterConditions, TrdHeader};
use crate::sim::accounts::Env;
use crate::sim::calendar::{CalMarket, Phase};
use crate::sim::matching::{
    self, currency, is_supported, is_trailing, needs_aux_price, needs_limit_price, order_type, sec_market,
    sec_market_of_qot_market, Instrument, InstrumentKind, OrderTerms, Side,
};
use crate::sim::ConnInfo;
use crate::types::{ModifyOrderOp, TimeInForce, TrdAccStatus, TrdCategory, TrdMarket};

const MAX_QTY: f64 = 1e10;
/// Initial margin of a short stock position (fraction of its value).
const SHORT_IM: f64 = 0.5;

/// Stocks GetMarginRatio reports as shortable (HK and US stocks).
fn is_shortable(instr: &Instrument) -> bool {
    instr.kind == InstrumentKind::Stock && matches!(instr.sec_market, sec_market::HK | sec_market::US)
}
const MAX_LIST: usize = 10_000;

fn status_name(s: i32) -> &'static str {
    match s {
        status::SUBMITTED => "submitted",
        status::FILLED_PART => "partly filled",
        status::FILLED_ALL => "filled",
        status::CANCELLED_PART => "partly filled and cancelled",
        status::CANCELLED_ALL => "cancelled",
        status::FAILED => "failed",
        status::DISABLED => "disabled",
        status::DELETED => "deleted",
        _ => "final",
    }
}

fn check_remark(remark: &Option<String>) -> Res<()> {
    match remark {
        Some(r) if r.len() > 64 => {
            Err(Reject::new(format!("remark is {} bytes long; at most 64 bytes are allowed", r.len())))
        }
        _ => Ok(()),
    }
}

fn check_list_len(n: usize, what: &str) -> Res<()> {
    if n > MAX_LIST {
        return Err(Reject::new(format!("too many entries in {what} ({n} > {MAX_LIST})")));
    }
    Ok(())
}

/// Validates and normalises a limit price.
fn limit_price(instr: &Instrument, price: Option<f64>, adjust: Option<bool>, adjust_limit: Option<f64>) -> Res<f64> {
    let p = price.unwrap_or(0.0);
    if !p.is_finite() || p <= 0.0 || p > 1e9 {
        return Err(Reject::new("Invalid price: this order type needs a limit price greater than 0"));
    }
    let p = matching::truncate_to(p, instr.price_decimals());
    if p <= 0.0 {
        return Err(Reject::new("Invalid price: this order type needs a limit price greater than 0"));
    }
    if instr.on_tick(p) {
        return Ok(p);
    }
    let tick = instr.tick_at(p);
    if adjust != Some(true) {
        return Err(Reject::new(format!(
            "Price {p} does not match the price tick {tick} of {}; use a multiple of the tick or let it be adjusted (adjust_limit in ftapi's PlaceOrder, adjustPrice in the protocol)",
            instr.full_code()
        )));
    }
    let side = adjust_limit.filter(|v| v.is_finite()).unwrap_or(0.0);
    let snapped = instr.snap(p, side > 0.0);
    if side != 0.0 && (snapped - p).abs() / p > side.abs() + 1e-12 {
        return Err(Reject::new(format!(
            "Price {p} cannot be adjusted to the tick {tick} within {}%",
            side.abs() * 100.0
        )));
    }
    Ok(snapped)
}

fn order_qty(instr: &Instrument, qty: f64) -> Res<f64> {
    if !qty.is_finite() || qty <= 0.0 || qty > MAX_QTY {
        return Err(Reject::new(format!("Invalid quantity {qty}")));
    }
    let q = matching::truncate_to(qty, 0);
    if q <= 0.0 {
        return Err(Reject::new(format!("Invalid quantity {qty}")));
    }
    let lots = q / instr.lot_size;
    if (lots - lots.round()).abs() > 1e-9 {
        return Err(Reject::new(format!(
            "Quantity {q} is not a multiple of the lot size {} of {}",
            instr.lot_size,
            instr.full_code()
        )));
    }
    Ok(q)
}

fn code_matches(instr: &Instrument, codes: &[String]) -> bool {
    codes.is_empty() || codes.iter().any(|c| c == &instr.code || *c == instr.full_code())
}

/// A parsed TrdFilterConditions.
struct Filter<'a> {
    codes: &'a [String],
    ids: &'a [u64],
    id_exs: &'a [String],
    market: Option<i32>,
    begin: Option<f64>,
    end: Option<f64>,
}

impl State {
    fn filter<'a>(&self, f: Option<&'a TrdFilterConditions>, need_window: bool, cal: CalMarket) -> Res<Filter<'a>> {
        const EMPTY_S: &[String] = &[];
        const EMPTY_U: &[u64] = &[];
        let parse = |s: &Option<String>, what: &str| -> Res<Option<f64>> {
            match s.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(t) => self
                    .clock
                    .parse(t, cal)
                    .map(Some)
                    .ok_or_else(|| Reject::new(format!("Invalid {what} {t:?}: expected YYYY-MM-DD HH:MM:SS"))),
            }
        };
        let out = match f {
            None => Filter { codes: EMPTY_S, ids: EMPTY_U, id_exs: EMPTY_S, market: None, begin: None, end: None },
            Some(f) => {
                check_list_len(f.code_list.len() + f.id_list.len() + f.order_id_ex_list.len(), "filterConditions")?;
                Filter {
                    codes: &f.code_list,
                    ids: &f.id_list,
                    id_exs: &f.order_id_ex_list,
                    market: f.filter_market.filter(|m| *m != 0),
                    begin: parse(&f.begin_time, "beginTime")?,
                    end: parse(&f.end_time, "endTime")?,
                }
            }
        };
        if need_window && (out.begin.is_none() || out.end.is_none()) {
            return Err(Reject::new("History queries need filterConditions.beginTime and endTime"));
        }
        Ok(out)
    }

    fn in_window(f: &Filter<'_>, ts: f64) -> bool {
        // Times are compared at millisecond precision; an end given without
        // milliseconds covers the whole second.
        f.begin.is_none_or(|b| ts >= b - 1e-3) && f.end.is_none_or(|e| ts < e + 1.0)
    }

    /// Indices of the orders a filter can match, in creation order: straight from the
    /// id indexes when the filter names ids, else every order.
    fn candidates(&self, f: &Filter<'_>) -> Vec<usize> {
        if f.ids.is_empty() && f.id_exs.is_empty() {
            return (0..self.orders.len()).collect();
        }
        let mut v: Vec<usize> = f
            .ids
            .iter()
            .filter_map(|id| self.order_index.get(id).copied())
            .chain(f.id_exs.iter().filter_map(|ex| self.order_ex_index.get(ex).copied()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn order_passes(o: &OrderRec, f: &Filter<'_>, statuses: &[i32]) -> bool {
        code_matches(&o.instr, f.codes)
            && (f.ids.is_empty() || f.ids.contains(&o.order_id))
            && (f.id_exs.is_empty() || f.id_exs.contains(&o.order_id_ex))
            && f.market.is_none_or(|m| o.trd_market == m)
            && (statuses.is_empty() || statuses.contains(&o.status))
            && Self::in_window(f, o.create_ts)
    }

    // ---- 2001 ----------------------------------------------------------------

    pub(crate) fn get_acc_list(
        &mut self,
        _conn: &ConnInfo,
        c2s: &pb::trd_get_acc_list::C2s,
    ) -> Res<pb::trd_get_acc_list::S2c> {
        let category = c2s.trd_category.unwrap_or(0);
        let need_general = c2s.need_general_sec_account.unwrap_or(false);
        let acc_list = self
            .accounts
            .iter()
            .filter(|a| {
                let crypto = a.markets.contains(&TrdMarket::Crypto.value());
                let by_cat = match TrdCategory::from_value(category) {
                    TrdCategory::Security => !a.futures && !crypto,
                    TrdCategory::Future => a.futures,
                    TrdCategory::Crypto => crypto,
                    _ => true,
                };
                by_cat && (need_general || !a.universal)
            })
            .map(|a| pb::trd_common::TrdAcc {
                trd_env: a.env,
                acc_id: a.acc_id,
                trd_market_auth_list: a.markets.clone(),
                acc_type: a.acc_type,
                card_num: a.card_num.clone(),
                security_firm: (a.firm != 0).then_some(a.firm),
                sim_acc_type: a.sim_acc_type,
                uni_card_num: a.uni_card_num.clone(),
                acc_status: Some(if a.disabled { TrdAccStatus::Disabled } else { TrdAccStatus::Active }.value()),
                acc_role: Some(a.role),
                jp_acc_type: Vec::new(),
                competition_acc_name: None,
            })
            .collect();
        Ok(pb::trd_get_acc_list::S2c { acc_list })
    }

    // ---- 2005 ----------------------------------------------------------------

    pub(crate) fn unlock_trade(
        &mut self,
        conn: &ConnInfo,
        c2s: &pb::trd_unlock_trade::C2s,
    ) -> Res<pb::trd_unlock_trade::S2c> {
        self.check_unlock_rate()?;
        let firm = c2s.security_firm.unwrap_or(0);
        let real_accounts = self.accounts.iter().filter(|a| a.env == Env::Real.number());
        let has = real_accounts.clone().any(|a| firm == 0 || a.firm == firm);
        if !has {
            return Err(Reject::new(if firm == 0 {
                "No real trading account to unlock".to_string()
            } else {
                format!("No real trading account under security firm {firm}")
            }));
        }
        if c2s.unlock {
            let pwd = c2s.pwd_md5.as_deref().unwrap_or("").trim();
            if pwd.is_empty() {
                return Err(Reject::new("Unlock needs pwdMD5 (the MD5 of the trade password)"));
            }
            if !pwd.eq_ignore_ascii_case(&self.password_md5) {
                return Err(Reject::code("Unlock failed: incorrect trade password", err_code::PASSWORD));
            }
            // OpenD-wide: every connection may trade from now on.
            self.unlocked.insert(firm);
        } else {
            // Locking from any connection locks OpenD for all of them.
            log::debug!("conn {} locked trading", conn.conn_id);
            self.unlocked.clear();
        }
        Ok(pb::trd_unlock_trade::S2c {})
    }

    // ---- 2008 ----------------------------------------------------------------

    pub(crate) fn sub_acc_push(
        &mut self,
        conn: &ConnInfo,
        c2s: &pb::trd_sub_acc_push::C2s,
    ) -> Res<pb::trd_sub_acc_push::S2c> {
        check_list_len(c2s.acc_id_list.len(), "accIDList")?;
        let mut subs = Vec::new();
        for id in &c2s.acc_id_list {
            if self.account_index(*id).is_none() {
                return Err(Reject::new(format!("Nonexistent account in accIDList: {id}")));
            }
            if !subs.contains(id) {
                subs.push(*id);
            }
        }
        if let Some(c) = self.conns.get_mut(&conn.conn_id) {
            c.subs = subs;
        }
        Ok(pb::trd_sub_acc_push::S2c {})
    }

    // ---- 2101 ----------------------------------------------------------------

    pub(crate) fn get_funds(&mut self, _conn: &ConnInfo, c2s: &pb::trd_get_funds::C2s) -> Res<pb::trd_get_funds::S2c> {
        let ai = self.check_header(&c2s.header)?;
        if c2s.refresh_cache == Some(true) {
            self.check_query_rate(ai, 2101, "funds (refresh cache)")?;
        }
        let s = self.summary(ai);
        let acc = &self.accounts[ai];
        let rc = if acc.universal {
            c2s.currency.filter(|c| currency::hkd_rate(*c).is_some()).unwrap_or(acc.currency)
        } else {
            acc.currency
        };
        let cv = |v: f64| matching::round_to(currency::convert(v, acc.currency, rc), 2);
        let cash = acc.cash_total();
        let avl = (cash - s.frozen).max(0.0);
        let us = acc.markets.contains(&matching::trd_market::US) && !acc.futures;
        let market_info_list = acc
            .markets
            .iter()
            .map(|m| {
                let assets: f64 = acc
                    .positions
                    .iter()
                    .filter(|p| p.instr.trd_markets().contains(m))
                    .map(|p| currency::convert(self.position_value(p), p.instr.currency, acc.currency))
                    .fold(0.0, |a, v| a + v);
                pb::trd_common::AccMarketInfo { trd_market: Some(*m), assets: Some(cv(assets)) }
            })
            .collect();
        let funds = pb::trd_common::Funds {
            power: cv(s.power),
            total_assets: cv(s.total_assets),
            cash: cv(cash),
            market_val: cv(s.market_val),
            frozen_cash: cv(s.frozen),
            debt_cash: cv((-cash).max(0.0)),
            avl_withdrawal_cash: cv(avl),
            currency: Some(rc),
            available_funds: acc.futures.then(|| cv(s.power)),
            unrealized_pl: Some(cv(s.unrealized)),
            realized_pl: Some(cv(acc.realized_pl)),
            risk_level: Some(0),
            initial_margin: Some(cv(s.initial_margin)),
            maintenance_margin: Some(cv(s.maintenance_margin)),
            cash_info_list: acc
                .cash
                .iter()
                .map(|(ccy, v)| {
                    // The frozen part is taken from the base currency.
                    let frozen = if *ccy == acc.currency { s.frozen } else { 0.0 };
                    pb::trd_common::AccCashInfo {
                        currency: Some(*ccy),
                        cash: Some(matching::round_to(*v, 2)),
                        available_balance: Some(matching::round_to((*v - frozen).max(0.0), 2)),
                        net_cash_power: Some(matching::round_to((*v - frozen).max(0.0), 2)),
                    }
                })
                .collect(),
            max_power_short: Some(if acc.margin && !acc.futures { cv(s.power) } else { 0.0 }),
            net_cash_power: Some(cv(s.cash_power)),
            long_mv: Some(cv(s.long_mv)),
            short_mv: Some(cv(s.short_mv)),
            pending_asset: Some(0.0),
            max_withdrawal: Some(cv(avl)),
            risk_status: Some(1),
            margin_call_margin: Some(cv(s.maintenance_margin * 1.1)),
            is_pdt: us.then_some(false),
            pdt_seq: us.then(|| "3".to_string()),
            beginning_dtbp: us.then(|| cv(s.power)),
            remaining_dtbp: us.then(|| cv(s.power)),
            dt_call_amount: us.then_some(0.0),
            dt_status: us.then_some(1),
            securities_assets: (!acc.futures).then(|| cv(s.market_val)),
            fund_assets: (!acc.futures).then_some(0.0),
            bond_assets: (!acc.futures).then_some(0.0),
            market_info_list,
            crypto_mv: None,
            exposure_level: None,
            exposure_limit: None,
            used_limit: None,
            remaining_limit: None,
        };
        Ok(pb::trd_get_funds::S2c { header: c2s.header, funds: Some(funds) })
    }

    // ---- 2102 ----------------------------------------------------------------

    pub(crate) fn get_position_list(
        &mut self,
        _conn: &ConnInfo,
        c2s: &pb::trd_get_position_list::C2s,
    ) -> Res<pb::trd_get_position_list::S2c> {
        let ai = self.check_header(&c2s.header)?;
        let f = self.filter(c2s.filter_conditions.as_ref(), false, trd_market_cal(c2s.header.trd_market))?;
        if c2s.refresh_cache == Some(true) {
            self.check_query_rate(ai, 2102, "position list (refresh cache)")?;
        }
        let acc = &self.accounts[ai];
        let min = c2s.filter_pl_ratio_min.filter(|v| v.is_finite());
        let max = c2s.filter_pl_ratio_max.filter(|v| v.is_finite());
        let mut out = Vec::new();
        for p in &acc.positions {
            let trd_market = p.instr.trd_markets().iter().copied().find(|m| acc.markets.contains(m)).unwrap_or(0);
            if !code_matches(&p.instr, f.codes)
                || !(f.ids.is_empty() || f.ids.contains(&p.position_id))
                || f.market.is_some_and(|m| m != trd_market)
            {
                continue;
            }
            let price = self.price_of(&p.instr);
            let avg = p.avg_cost();
            let unrealized = self.position_unrealized(p);
            let basis = avg * p.qty.abs() * p.instr.multiplier;
            let ratio = if basis > 0.0 { unrealized / basis } else { 0.0 };
            if min.is_some_and(|m| ratio < m) || max.is_some_and(|m| ratio > m) {
                continue;
            }
            let short = p.qty < 0.0;
            let can_sell = if short { 0.0 } else { (p.qty - self.pending_sell_qty(ai, &p.instr, None)).max(0.0) };
            let diluted = if p.qty != 0.0 {
                (p.cost_total * p.instr.multiplier * p.qty.signum() + p.fees - p.realized_pl)
                    / (p.qty * p.instr.multiplier)
            } else {
                0.0
            };
            let td = p.td_day == self.today(p.instr.cal_market());
            let tdv = |v: f64| Some(if td { matching::round_to(v, 3) } else { 0.0 });
            let r3 = |v: f64| matching::round_to(v, 3);
            out.push(pb::trd_common::Position {
                position_id: p.position_id,
                position_side: if short { 1 } else { 0 },
                code: p.instr.code.clone(),
                name: p.instr.name.clone(),
                qty: p.qty.abs(),
                can_sell_qty: can_sell,
                price,
                cost_price: Some(r3(avg)),
                val: r3(self.position_value(p)),
                pl_val: r3(unrealized),
                pl_ratio: Some(matching::round_to(ratio, 6)),
                sec_market: Some(p.instr.sec_market),
                td_pl_val: tdv(if td { p.realized_pl } else { 0.0 }),
                td_trd_val: tdv(p.td_buy_val + p.td_sell_val),
                td_buy_val: tdv(p.td_buy_val),
                td_buy_qty: tdv(p.td_buy_qty),
                td_sell_val: tdv(p.td_sell_val),
                td_sell_qty: tdv(p.td_sell_qty),
                unrealized_pl: Some(r3(unrealized)),
                realized_pl: Some(r3(p.realized_pl)),
                currency: Some(p.instr.currency),
                trd_market: Some(trd_market),
                diluted_cost_price: Some(r3(diluted)),
                average_cost_price: Some(r3(avg)),
                average_pl_ratio: Some(matching::round_to(ratio, 6)),
                combo_id: None,
                strategy_type: None,
                position_type: None,
                acc_id: Some(acc.acc_id),
                jp_acc_type: None,
                payout_if_win: None,
            });
        }
        Ok(pb::trd_get_position_list::S2c { header: c2s.header, position_list: out })
    }

    // ---- 2111 ----------------------------------------------------------------

    pub(crate) fn get_max_trd_qtys(
        &mut self,
        _conn: &ConnInfo,
        c2s: &pb::trd_get_max_trd_qtys::C2s,
    ) -> Res<pb::trd_get_max_trd_qtys::S2c> {
        let ai = self.check_header(&c2s.header)?;
        self.check_query_rate(ai, 2111, "max trade quantity")?;
        let instr = self.resolve(&c2s.code, c2s.sec_market, c2s.header.trd_market)?;
        self.check_instrument_market(&instr, c2s.header.trd_market)?;
        let except = if c2s.order_id_ex.as_deref().is_some_and(|s| !s.is_empty()) || c2s.order_id.unwrap_or(0) != 0 {
            let oi =
                self.find_order(self.accounts[ai].acc_id, c2s.order_id.unwrap_or(0), c2s.order_id_ex.as_deref())?;
            Some(self.orders[oi].order_id)
        } else {
            None
        };
        let market_price = self.price_of(&instr);
        // Outside the range a limit price may take, the market price is used: a huge
        // price would overflow the margin figures to infinity.
        let price = if c2s.price.is_finite() && c2s.price > 0.0 && c2s.price <= 1e9 { c2s.price } else { market_price };
        let acc = &self.accounts[ai];
        let frozen = self.frozen(ai, except);
        let mut s = self.summary(ai);
        s.power = (s.power + s.frozen - frozen).max(0.0);
        s.cash_power = (acc.cash_total() - frozen).max(0.0);
        let lot = instr.lot_size;
        let floor_lots = |q: f64| if q.is_finite() && q > 0.0 { (q / lot).floor() * lot } else { 0.0 };
        let held = self.position(ai, &instr).map(|p| p.qty).unwrap_or(0.0);
        let pending_sell = self.pending_sell_qty(ai, &instr, except);
        let per_unit = currency::convert(price * instr.multiplier, instr.currency, acc.currency);
        let q = if instr.kind == InstrumentKind::Future {
            let margin = per_unit * FUTURES_IM;
            let open = floor_lots(s.power / margin);
            pb::trd_common::MaxTrdQtys {
                max_cash_buy: 0.0,
                max_cash_and_margin_buy: Some(open + held.min(0.0).abs()),
                max_position_sell: held.max(0.0),
                max_sell_short: Some(open),
                max_buy_back: Some(held.min(0.0).abs()),
                long_required_im: Some(matching::round_to(margin, 2)),
                short_required_im: Some(matching::round_to(margin, 2)),
                session: c2s.session,
            }
        } else {
            let unit = per_unit * 1.001;
            let cash_buy = floor_lots(s.cash_power / unit);
            let short_ok = self.may_short(ai, &instr);
            let held_long = held.max(0.0);
            let held_short = (-held).max(0.0);
            pb::trd_common::MaxTrdQtys {
                max_cash_buy: cash_buy,
                max_cash_and_margin_buy: Some(if acc.margin { floor_lots(s.power / unit) } else { cash_buy }),
                max_position_sell: (held_long - pending_sell).max(0.0),
                max_sell_short: Some(if short_ok { floor_lots(s.power / (per_unit * SHORT_IM)) } else { 0.0 }),
                max_buy_back: Some(held_short),
                long_required_im: Some(matching::round_to(
                    if acc.margin { per_unit * lot * MARGIN_CREDIT } else { per_unit * lot },
                    2,
                )),
                short_required_im: short_ok.then(|| matching::round_to(per_unit * lot * SHORT_IM, 2)),
                session: c2s.session,
            }
        };
        Ok(pb::trd_get_max_trd_qtys::S2c { header: c2s.header, max_trd_qtys: Some(q) })
    }

    fn check_instrument_market(&self, instr: &Instrument, trd_market: i32) -> Res<()> {
        if instr.trd_markets().contains(&trd_market) {
            Ok(())
        } else {
            Err(Reject::new(format!("{} cannot be traded under trdMarket {trd_market}", instr.full_code())))
        }
    }

    fn resolve_legs(&self, legs: &[pb::qot_common::ComboLeg], trd_market: i32) -> Res<Vec<LegRec>> {
        if legs.is_empty() || legs.len() > 8 {
            return Err(Reject::new("A combo needs between 1 and 8 legs"));
        }
        let mut out = Vec::with_capacity(legs.len());
        for l in legs {
            let sec = sec_market_of_qot_market(l.security.market).ok_or_else(|| {
                Reject::new(format!("Unknown market {} of combo leg {}", l.security.market, l.security.code))
            })?;
            let instr = self
                .market
                .find(sec, &l.security.code)
                .cloned()
                .ok_or_else(|| Reject::new(format!("Unknown stock code: {:?}", l.security.code)))?;
            self.check_instrument_market(&instr, trd_market)?;
            let side_num = l.side.unwrap_or(0);
            let side = Side::from_trd_side(side_num)
                .ok_or_else(|| Reject::new(format!("Combo leg {} needs a side (Buy or Sell)", instr.full_code())))?;
            let ratio = l.qty_ratio.unwrap_or(1.0);
            if !((1.0..=1000.0).contains(&ratio) && ratio.fract() == 0.0) {
                return Err(Reject::new(format!("Invalid qtyRatio {ratio} of combo leg {}", instr.full_code())));
            }
            out.push(LegRec { instr, side, side_num, ratio, qot_market: l.security.market });
        }
        Ok(out)
    }

    // ---- 2112 ----------------------------------------------------------------

    pub(crate) fn get_combo_max_trd_qtys(
        &mut self,
        _conn: &ConnInfo,
        c2s: &pb::trd_get_combo_max_trd_qtys::C2s,
    ) -> Res<pb::trd_get_combo_max_trd_qtys::S2c> {
        let ai = self.check_header(&c2s.header)?;
        let legs = self.resolve_legs(&c2s.combo_legs, c2s.header.trd_market)?;
        if !(c2s.qty.is_finite() && c2s.qty > 0.0 && c2s.qty <= MAX_QTY) {
            return Err(Reject::new(format!("Invalid quantity {}", c2s.qty)));
        }
        let acc_ccy = self.accounts[ai].currency;
        // The price range PlaceComboOrder accepts; a larger one overflowed the margin
        // figures to infinity.
        let net = match c2s.price.filter(|p| p.is_finite() && p.abs() < 1e9 && c2s.order_type != order_type::MARKET) {
            Some(p) => p,
            None => self.combo_net_price(&legs),
        };
        let mult = legs.first().map(|l| l.instr.multiplier).unwrap_or(1.0);
        let ccy = legs.first().map(|l| l.instr.currency).unwrap_or(acc_ccy);
        let cost = currency::convert(net * c2s.qty * mult, ccy, acc_ccy);
        let fees: f64 = legs
            .iter()
            .map(|l| {
                let px = self.price_of(&l.instr);
                currency::convert(fee_estimate(&l.instr, c2s.qty * l.ratio, px), l.instr.currency, acc_ccy)
            })
            .fold(0.0, |a, v| a + v);
        let s = self.summary(ai);
        let r2 = |v: f64| matching::round_to(v, 2);
        let q = pb::trd_common::ComboMaxTrdQtys {
            nlv_change: Some(r2(-fees)),
            initial_margin_change: Some(r2(cost.max(0.0))),
            maintenance_margin_change: Some(r2(cost.max(0.0) * 0.8)),
            option_buy_power: Some(r2(s.power)),
            max_with_draw_change: Some(r2(-cost.max(0.0) - fees)),
            buy_power_decrease: Some(r2(cost.max(0.0) + fees)),
        };
        Ok(pb::trd_get_combo_max_trd_qtys::S2c { header: c2s.header, max_trd_qtys: Some(q) })
    }

    // ---- 2201 / 2221 -------------------------------------------------------------

    pub(crate) fn get_order_list(
        &mut self,
        _conn: &ConnInfo,
        c2s: &pb::trd_get_order_list::C2s,
    ) -> Res<pb::trd_get_order_list::S2c> {
        let ai = self.check_header(&c2s.header)?;
        let f = self.filter(c2s.filter_conditions.as_ref(), false, trd_market_cal(c2s.header.trd_market))?;
        check_list_len(c2s.filter_status_list.len(), "filterStatusList")?;
        if c2s.refresh_cache == Some(true) {
            self.check_query_rate(ai, 2201, "order list (refresh cache)")?;
        }
        let acc_id = self.accounts[ai].acc_id;
        let order_list = self
            .candidates(&f)
            .into_iter()
            .filter_map(|i| self.orders.get(i))
            .filter(|o| o.acc_id == acc_id)
            .filter(|o| {
                let m = o.instr.cal_market();
                self.clock.day_of(o.create_ts, m) == self.today(m) || !status::is_final(o.status)
            })
            .filter(|o| Self::order_passes(o, &f, &c2s.filter_status_list))
            .map(|o| self.render_order(o))
            .collect();
        Ok(pb::trd_get_order_list::S2c { header: c2s.header, order_list })
    }

    pub(crate) fn get_history_order_list(
        &mut self,
        _conn: &ConnInfo,
        c2s: &pb::trd_get_history_order_list::C2s,
    ) -> Res<pb::trd_get_history_order_list::S2c> {
        let ai = self.check_header(&c2s.header)?;
        let f = self.filter(Some(&c2s.filter_conditions), true, trd_market_cal(c2s.header.trd_market))?;
        check_list_len(c2s.filter_status_list.len(), "filterStatusList")?;
        self.check_query_rate(ai, 2221, "history order list")?;
        let acc_id = self.accounts[ai].acc_id;
        // Newest first, as OpenD lists history.
        let order_list = self
            .candidates(&f)
            .into_iter()
            .rev()
            .filter_map(|i| self.orders.get(i))
            .filter(|o| o.acc_id == acc_id && Self::order_passes(o, &f, &c2s.filter_status_list))
            .map(|o| self.render_order(o))
            .collect();
        Ok(pb::trd_get_history_order_list::S2c { header: c2s.header, order_list })
    }

    // ---- 2211 / 2222 -------------------------------------------------------------

    fn fills_for(&self, acc_id: u64, f: &Filter<'_>, today_only: bool) -> Vec<pb::trd_common::OrderFill> {
        let today = |m: CalMarket| self.today(m);
        let newest_first = !today_only;
        let fills: Box<dyn Iterator<Item = &super::state::FillRec>> =
            if newest_first { Box::new(self.fills.iter().rev()) } else { Box::new(self.fills.iter()) };
        fills
            .filter(|x| x.acc_id == acc_id)
            .filter(|x| !today_only || self.clock.day_of(x.ts, x.instr.cal_market()) == today(x.instr.cal_market()))
            .filter(|x| {
                code_matches(&x.instr, f.codes)
                    && (f.ids.is_empty() || f.ids.contains(&x.fill_id))
                    && (f.id_exs.is_empty() || f.id_exs.contains(&x.order_id_ex))
                    && f.market.is_none_or(|m| x.trd_market == m)
                    && Self::in_window(f, x.ts)
            })
            .map(|x| self.render_fill(x))
            .collect()
    }

    pub(crate) fn get_order_fill_list(
        &mut self,
        _conn: &ConnInfo,
        c2s: &pb::trd_get_order_fill_list::C2s,
    ) -> Res<pb::trd_get_order_fill_list::S2c> {
        let ai = self.check_header(&c2s.header)?;
        self.refuse_on_paper(ai, "Paper trading does not support deal queries")?;
        let f = self.filter(c2s.filter_conditions.as_ref(), false, trd_market_cal(c2s.header.trd_market))?;
        if c2s.refresh_cache == Some(true) {
            self.check_query_rate(ai, 2211, "deal list (refresh cache)")?;
        }
        let order_fill_list = self.fills_for(self.accounts[ai].acc_id, &f, true);
        Ok(pb::trd_get_order_fill_list::S2c { header: c2s.header, order_fill_list })
    }

    pub(crate) fn get_history_order_fill_list(
        &mut self,
        _conn: &ConnInfo,
        c2s: &pb::trd_get_history_order_fill_list::C2s,
    ) -> Res<pb::trd_get_history_order_fill_list::S2c> {
        let ai = self.check_header(&c2s.header)?;
        self.refuse_on_paper(ai, "Paper trading does not support history deal queries")?;
        let f = self.filter(Some(&c2s.filter_conditions), true, trd_market_cal(c2s.header.trd_market))?;
        self.check_query_rate(ai, 2222, "history deal list")?;
        let order_fill_list = self.fills_for(self.accounts[ai].acc_id, &f, false);
        Ok(pb::trd_get_history_order_fill_list::S2c { header: c2s.header, order_fill_list })
    }

    // ---- 2223 ----------------------------------------------------------------

    pub(crate) fn get_margin_ratio(
        &mut self,
        _conn: &ConnInfo,
        c2s: &pb::trd_get_margin_ratio::C2s,
    ) -> Res<pb::trd_get_margin_ratio::S2c> {
        self.check_header(&c2s.header)?;
        check_list_len(c2s.security_list.len(), "securityList")?;
        let mut out = Vec::with_capacity(c2s.security_list.len());
        for sec in &c2s.security_list {
            let instr = sec_market_of_qot_market(sec.market)
                .and_then(|m| self.market.find(m, &sec.code))
                .ok_or_else(|| Reject::new(format!("Unknown stock code: {:?} (market {})", sec.code, sec.market)))?;
            let future = instr.kind == InstrumentKind::Future;
            let shortable = is_shortable(instr);
            let (im, mm) = if future { (FUTURES_IM * 100.0, 8.0) } else { (MARGIN_CREDIT * 100.0, 35.0) };
            out.push(pb::trd_get_margin_ratio::MarginRatioInfo {
                security: sec.clone(),
                is_long_permit: Some(true),
                is_short_permit: Some(shortable || future),
                short_pool_remain: Some(if shortable { 1_000_000.0 } else { 0.0 }),
                short_fee_rate: Some(if shortable { 3.5 } else { 0.0 }),
                alert_long_ratio: Some(mm + 5.0),
                alert_short_ratio: Some(mm + 5.0),
                im_long_ratio: Some(im),
                im_short_ratio: Some(im),
                mcm_long_ratio: Some(mm + 2.0),
                mcm_short_ratio: Some(mm + 2.0),
                mm_long_ratio: Some(mm),
                mm_short_ratio: Some(mm),
            });
        }
        Ok(pb::trd_get_margin_ratio::S2c { header: c2s.header, margin_ratio_info_list: out })
    }

    // ---- 2225 ----------------------------------------------------------------

    pub(crate) fn get_order_fee(
        &mut self,
        _conn: &ConnInfo,
        c2s: &pb::trd_get_order_fee::C2s,
    ) -> Res<pb::trd_get_order_fee::S2c> {
        let ai = self.check_header(&c2s.header)?;
        self.refuse_on_paper(ai, "Paper trading does not support order fee queries")?;
        check_list_len(c2s.order_id_ex_list.len(), "orderIdExList")?;
        self.check_query_rate(ai, 2225, "order fee")?;
        let acc_id = self.accounts[ai].acc_id;
        let mut out = Vec::with_capacity(c2s.order_id_ex_list.len());
        for ex in &c2s.order_id_ex_list {
            let oi = self.find_order(acc_id, 0, Some(ex.as_str()))?;
            let o = &self.orders[oi];
            out.push(pb::trd_common::OrderFee {
                order_id_ex: o.order_id_ex.clone(),
                fee_amount: Some(matching::round_to(o.fee_total(), 2)),
                fee_list: o
                    .fees
                    .iter()
                    .map(|(t, v)| pb::trd_common::OrderFeeItem {
                        title: Some(t.clone()),
                        value: Some(matching::round_to(*v, 2)),
                    })
                    .collect(),
            });
        }
        Ok(pb::trd_get_order_fee::S2c { header: c2s.header, order_fee_list: out })
    }

    // ---- 2226 ----------------------------------------------------------------

    pub(crate) fn flow_summary(
        &mut self,
        _conn: &ConnInfo,
        c2s: &pb::trd_flow_summary::C2s,
    ) -> Res<pb::trd_flow_summary::S2c> {
        let ai = self.check_header(&c2s.header)?;
        self.refuse_on_paper(ai, "Paper trading does not support cash flow queries")?;
        let cal = self.acc_cal(ai);
        let day = match c2s.clearing_date.trim() {
            "" => self.today(cal),
            d => self
                .clock
                .parse_day(d)
                .ok_or_else(|| Reject::new(format!("Invalid clearingDate {d:?}: expected YYYY-MM-DD")))?,
        };
        let dir = c2s.cash_flow_direction.unwrap_or(0);
        if !(0..=2).contains(&dir) {
            return Err(Reject::new(format!("Invalid cashFlowDirection {dir}")));
        }
        let acc_id = self.accounts[ai].acc_id;
        let list = self
            .flows
            .iter()
            .filter(|f| f.acc_id == acc_id && f.day == day && (dir == 0 || f.direction == dir))
            .map(|f| pb::trd_flow_summary::FlowSummaryInfo {
                clearing_date: Some(self.clock.format_day(f.day)),
                settlement_date: Some(self.clock.format_day(f.day + 2)),
                currency: Some(f.currency),
                cash_flow_type: Some(f.kind.clone()),
                cash_flow_direction: Some(f.direction),
                cash_flow_amount: Some(f.amount),
                cash_flow_remark: Some(f.remark.clone()),
                cash_flow_id: Some(f.flow_id),
                create_time: Some(self.clock.format(f.ts, cal)),
            })
            .collect();
        Ok(pb::trd_flow_summary::S2c { header: c2s.header, flow_summary_info_list: list })
    }

    // ---- writes ----------------------------------------------------------------

    /// Header, replay, unlock and rate checks shared by every write.
    fn write_preamble(
        &mut self,
        conn: &ConnInfo,
        header: &TrdHeader,
        packet: &pb::common::PacketId,
        place: bool,
    ) -> Res<usize> {
        let ai = self.check_header(header)?;
        self.check_packet_id(conn.conn_id, packet)?;
        self.check_unlocked(ai)?;
        self.check_rate(ai, place)?;
        if self.accounts[ai].disabled {
            return Err(Reject::new(format!("Account {} is disabled", self.accounts[ai].acc_id)));
        }
        Ok(ai)
    }

    /// OpenD's rules: a stock or option buy whose cost at the fill price no longer fits
    /// the buying power (the market moved after a market order was accepted) fails with
    /// this reason. `None` in relaxed mode, for sells, futures and combos.
    pub(crate) fn buy_shortfall(&self, oi: usize, qty: f64, price: f64) -> Option<String> {
        let o = &self.orders[oi];
        if self.relaxed || o.terms.side != Side::Buy || !o.legs.is_empty() || o.instr.kind == InstrumentKind::Future {
            return None;
        }
        let ai = self.account_index(o.acc_id)?;
        let already = self.order_reservation(ai, o, qty);
        self.check_affordable(ai, &o.instr, Side::Buy, qty, price, Some(o.order_id), already).err().map(|r| r.0)
    }

    /// Refuses a request that paper trading does not support.
    fn refuse_on_paper(&self, ai: usize, msg: &str) -> Res<()> {
        if self.paper_rules(ai) {
            Err(Reject::code(msg, err_code::PAPER_UNSUPPORTED))
        } else {
            Ok(())
        }
    }

    /// Whether the account may sell `instr` short: futures and options always; stocks
    /// on a margin account where GetMarginRatio says they are shortable (HK and US),
    /// and in paper trading US stocks only. Relaxed mode keeps the old rule (no short
    /// stock sales).
    pub(crate) fn may_short(&self, ai: usize, instr: &Instrument) -> bool {
        let acc = &self.accounts[ai];
        match instr.kind {
            InstrumentKind::Future => true,
            InstrumentKind::Option => true,
            InstrumentKind::Stock if self.relaxed => false,
            InstrumentKind::Stock if acc.env == Env::Simulate.number() => instr.sec_market == sec_market::US,
            InstrumentKind::Stock => acc.margin && is_shortable(instr),
        }
    }

    /// Buying power / position checks for `qty` more of an order on `instr`.
    #[allow(clippy::too_many_arguments)]
    fn check_affordable(
        &self,
        ai: usize,
        instr: &Instrument,
        side: Side,
        qty: f64,
        ref_price: f64,
        except: Option<u64>,
        already_reserved: f64,
    ) -> Res<()> {
        let acc = &self.accounts[ai];
        let s = self.summary(ai);
        let power = s.power + already_reserved;
        let ccy = acc.currency;
        let name = crate::sim::broker::currency_name(ccy);
        match (instr.kind, side) {
            (InstrumentKind::Future, _) => {
                let opening = self.opening_qty(ai, instr, side, qty);
                let need = currency::convert(opening * ref_price * instr.multiplier * FUTURES_IM, instr.currency, ccy);
                if need > power + 1e-6 {
                    return Err(Reject::code(format!(
                        "Insufficient buying power: the order needs {need:.2} {name} of initial margin, {power:.2} {name} available"
                    ), err_code::INSUFFICIENT));
                }
            }
            (_, Side::Buy) => {
                let need = currency::convert(
                    qty * ref_price * instr.multiplier + fee_estimate(instr, qty, ref_price),
                    instr.currency,
                    ccy,
                );
                if need > power + 1e-6 {
                    return Err(Reject::code(
                        format!(
                        "Insufficient buying power: the order needs {need:.2} {name}, buying power is {power:.2} {name}"
                    ),
                        err_code::INSUFFICIENT,
                    ));
                }
            }
            (_, Side::Sell) => {
                let held = self.position(ai, instr).map(|p| p.qty).unwrap_or(0.0).max(0.0);
                let avail = (held - self.pending_sell_qty(ai, instr, except)).max(0.0);
                if qty > avail + 1e-9 {
                    if instr.kind == InstrumentKind::Stock && self.may_short(ai, instr) {
                        // The short part needs initial margin.
                        let short = qty - avail;
                        let px = if ref_price > 0.0 { ref_price } else { self.price_of(instr) };
                        let need = currency::convert(short * px * instr.multiplier * SHORT_IM, instr.currency, ccy);
                        if need > power + 1e-6 {
                            return Err(Reject::code(
                                format!(
                                    "Insufficient buying power: selling {short} of {} short needs {need:.2} {name} of margin, {power:.2} {name} available",
                                    instr.full_code()
                                ),
                                err_code::INSUFFICIENT,
                            ));
                        }
                        return Ok(());
                    }
                    let why = if instr.kind == InstrumentKind::Stock && !self.relaxed {
                        if self.accounts[ai].env == Env::Simulate.number() {
                            " (paper trading allows short selling of US stocks only)"
                        } else {
                            " (short selling needs a margin account and a shortable stock)"
                        }
                    } else {
                        ""
                    };
                    return Err(Reject::code(
                        format!(
                            "Insufficient position: {avail} of {} available to sell, {qty} requested{why}",
                            instr.full_code()
                        ),
                        err_code::INSUFFICIENT,
                    ));
                }
            }
        }
        Ok(())
    }

    // ---- 2202 ----------------------------------------------------------------

    pub(crate) fn place_order(
        &mut self,
        conn: &ConnInfo,
        c2s: &pb::trd_place_order::C2s,
    ) -> Res<pb::trd_place_order::S2c> {
        let ai = self.write_preamble(conn, &c2s.header, &c2s.packet_id, true)?;
        let side = Side::from_trd_side(c2s.trd_side)
            .ok_or_else(|| Reject::new(format!("Invalid trdSide {}", c2s.trd_side)))?;
        let t = c2s.order_type;
        if !is_supported(t) {
            return Err(Reject::new(format!("Order type {t} is not supported")));
        }
        let instr = self.resolve(&c2s.code, c2s.sec_market, c2s.header.trd_market)?;
        self.check_instrument_market(&instr, c2s.header.trd_market)?;
        let hk_stock = instr.sec_market == sec_market::HK && instr.kind == InstrumentKind::Stock;
        if (order_type::ABSOLUTE_LIMIT..=order_type::SPECIAL_LIMIT_ALL).contains(&t) && !hk_stock {
            return Err(Reject::new(format!("Order type {t} is only available for HK securities")));
        }
        let qty = order_qty(&instr, c2s.qty)?;
        check_remark(&c2s.remark)?;
        let tif = c2s.time_in_force.unwrap_or(0);
        if !TimeInForce::from_value(tif).is_known() {
            return Err(Reject::new(format!("Invalid timeInForce {tif}")));
        }
        if tif == TimeInForce::Gtd.value() && c2s.expire_time.as_deref().is_none_or(|s| s.trim().is_empty()) {
            return Err(Reject::new("timeInForce GTD needs expireTime"));
        }
        if self.paper_rules(ai) {
            if t != order_type::NORMAL && t != order_type::MARKET {
                return Err(Reject::code(
                    "Paper trading supports only limit and market orders",
                    err_code::PAPER_UNSUPPORTED,
                ));
            }
            if tif != TimeInForce::Day.value() {
                return Err(Reject::code(
                    "Paper trading supports only orders valid for the day (DAY)",
                    err_code::PAPER_UNSUPPORTED,
                ));
            }
        }
        if hk_stock && t == order_type::MARKET && tif == TimeInForce::Gtc.value() {
            return Err(Reject::new("HK market orders are valid for the day only (DAY); GTC is not supported"));
        }
        self.check_session_accepts(&instr, t)?;
        let terms = self.order_terms(&instr, side, t, c2s.price, c2s.adjust_price, c2s.adjust_side_and_limit, c2s)?;
        let market_price = self.price_of(&instr);
        let ref_price =
            if needs_limit_price(t) { terms.price } else { market_price.max(terms.aux_price.unwrap_or(0.0)) };
        self.check_affordable(ai, &instr, side, qty, ref_price, None, 0.0)?;

        let now = self.now();
        let trd_market = c2s.header.trd_market;
        let contract_code = self.main_contract_code(&instr, now);
        let oi = self.new_order_record(ai, trd_market, instr, c2s.trd_side, terms, qty, now);
        {
            let o = &mut self.orders[oi];
            o.remark = c2s.remark.clone();
            o.time_in_force = tif;
            o.fill_outside_rth = Some(c2s.fill_outside_rth.unwrap_or(false));
            o.session = c2s.session;
            o.expire_time = c2s.expire_time.clone().filter(|s| !s.is_empty());
            o.jp_acc_type = None;
            o.contract_code = contract_code;
        }
        self.accept_order(oi);
        let o = &self.orders[oi];
        Ok(pb::trd_place_order::S2c {
            header: c2s.header,
            order_id: Some(o.order_id),
            order_id_ex: Some(o.order_id_ex.clone()),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn order_terms(
        &self,
        instr: &Instrument,
        side: Side,
        t: i32,
        price: Option<f64>,
        adjust: Option<bool>,
        adjust_limit: Option<f64>,
        c2s: &pb::trd_place_order::C2s,
    ) -> Res<OrderTerms> {
        let price = if needs_limit_price(t) {
            limit_price(instr, price, adjust, adjust_limit)?
        } else {
            price.filter(|p| p.is_finite() && *p > 0.0 && *p < 1e9).map(|p| matching::truncate_to(p, 3)).unwrap_or(0.0)
        };
        let aux_price = match c2s.aux_price {
            Some(a) if a.is_finite() && a > 0.0 && a < 1e9 => Some(matching::truncate_to(a, instr.price_decimals())),
            Some(a) if needs_aux_price(t) => return Err(Reject::new(format!("Invalid auxPrice {a}"))),
            _ => None,
        };
        if needs_aux_price(t) && aux_price.is_none() {
            return Err(Reject::new("This order type needs auxPrice (the trigger price)"));
        }
        let (trail_type, trail_value, trail_spread) = if is_trailing(t) {
            let tt = c2s.trail_type.unwrap_or(0);
            if tt != 1 && tt != 2 {
                return Err(Reject::new("Trailing orders need trailType (1 ratio or 2 amount)"));
            }
            let tv = c2s.trail_value.filter(|v| v.is_finite() && *v > 0.0 && *v < 1e9);
            let Some(tv) = tv else {
                return Err(Reject::new("Trailing orders need a positive trailValue"));
            };
            if tt == 1 && tv >= 100.0 {
                return Err(Reject::new("trailValue of a ratio trail must be below 100 (percent)"));
            }
            let ts = c2s.trail_spread.filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e9);
            if t == order_type::TRAILING_STOP_LIMIT && ts.is_none() {
                return Err(Reject::new("Trailing stop limit orders need trailSpread"));
            }
            (Some(tt), Some(tv), ts)
        } else {
            (None, None, None)
        };
        Ok(OrderTerms { side, order_type: t, price, aux_price, trail_type, trail_value, trail_spread })
    }

    /// A new order enters its life cycle. Relaxed: SUBMITTED, matched at once (pushes
    /// before the reply). OpenD rules: SUBMITTING in the reply, then (after the reply)
    /// a SUBMITTED push, then the fill a fill delay later.
    fn accept_order(&mut self, oi: usize) {
        let tif = self.orders[oi].time_in_force;
        let t = self.orders[oi].terms.order_type;
        if self.relaxed {
            self.push_order(oi);
            self.match_order(oi);
            let fak = tif == TimeInForce::Ioc.value()
                || matches!(t, order_type::SPECIAL_LIMIT | order_type::SPECIAL_LIMIT_ALL);
            if fak && self.orders[oi].is_working() {
                self.cancel_order(oi, "Not fully filled at once: the rest was cancelled");
            }
            return;
        }
        let id = self.orders[oi].order_id;
        self.orders[oi].status = status::SUBMITTING;
        self.orders[oi].status_before_disable = status::SUBMITTED;
        self.push_order(oi);
        self.schedule(std::time::Duration::ZERO, Event::Ack(id));
        let d = self.fill_delay;
        self.schedule(d, Event::Fill(id));
    }

    /// OpenD refuses market orders outside continuous trading; limit orders wait.
    fn check_session_accepts(&self, instr: &Instrument, t: i32) -> Res<()> {
        if self.relaxed {
            return Ok(());
        }
        let phase = self.mclock.phase(instr.cal_market());
        let market_like = matches!(t, order_type::MARKET);
        if market_like && !phase.is_continuous() {
            return Err(Reject::code(
                format!(
                    "Market orders are accepted only during trading hours; {} is {}{phase} now",
                    matching::sec_market_prefix(instr.sec_market).unwrap_or("the market"),
                    if matches!(phase, Phase::Closed | Phase::WaitingOpen | Phase::AfterHoursEnd | Phase::FutureClose) {
                        ""
                    } else {
                        "in "
                    }
                ),
                err_code::MARKET_CLOSED,
            ));
        }
        Ok(())
    }

    /// The current contract a main-contract futures code stands for (`HSImain` ->
    /// `HSI2612`): the month of `now` in the market's time zone, rolled to the next
    /// month after the 25th (the simulator's approximation of the expiry calendar).
    fn main_contract_code(&self, instr: &Instrument, now: f64) -> Option<String> {
        if instr.kind != InstrumentKind::Future {
            return None;
        }
        let root = instr.code.strip_suffix("main")?;
        let cal = instr.cal_market();
        let local = now.floor() as i64 + cal.local_offset_secs(now);
        let (y, m, d) = crate::sim::calendar::civil_from_days(local.div_euclid(86_400));
        let (y, m) = if d > 25 {
            if m == 12 {
                (y + 1, 1)
            } else {
                (y, m + 1)
            }
        } else {
            (y, m)
        };
        Some(format!("{root}{:02}{m:02}", y.rem_euclid(100)))
    }

    // ---- 2205 ----------------------------------------------------------------

    pub(crate) fn modify_order(
        &mut self,
        conn: &ConnInfo,
        c2s: &pb::trd_modify_order::C2s,
    ) -> Res<pb::trd_modify_order::S2c> {
        let ai = self.write_preamble(conn, &c2s.header, &c2s.packet_id, false)?;
        let acc_id = self.accounts[ai].acc_id;
        let op = c2s.modify_order_op;
        if self.paper_rules(ai) {
            if c2s.for_all == Some(true) {
                return Err(Reject::code(
                    "Paper trading does not support cancelling all orders",
                    err_code::PAPER_UNSUPPORTED,
                ));
            }
            if !matches!(ModifyOrderOp::from_value(op), ModifyOrderOp::Normal | ModifyOrderOp::Cancel) {
                return Err(Reject::code(
                    "Paper trading supports only modifying and cancelling orders (no enable, disable or delete)",
                    err_code::PAPER_UNSUPPORTED,
                ));
            }
        }
        if c2s.for_all == Some(true) {
            if ModifyOrderOp::from_value(op) != ModifyOrderOp::Cancel {
                return Err(Reject::new("forAll is only supported with the Cancel operation"));
            }
            let market = c2s.trd_market.filter(|m| *m != 0);
            let targets: Vec<usize> = self
                .open
                .iter()
                .copied()
                .filter(|i| {
                    let o = &self.orders[*i];
                    o.acc_id == acc_id && !status::is_final(o.status) && market.is_none_or(|m| o.trd_market == m)
                })
                .collect();
            for oi in targets {
                self.cancel_order(oi, "");
            }
            return Ok(pb::trd_modify_order::S2c { header: c2s.header, order_id: 0, order_id_ex: None });
        }
        let oi = self.find_order(acc_id, c2s.order_id, c2s.order_id_ex.as_deref())?;
        let (st, trd_market) = (self.orders[oi].status, self.orders[oi].trd_market);
        let op_kind = ModifyOrderOp::from_value(op);
        if trd_market == matching::trd_market::US
            && matches!(op_kind, ModifyOrderOp::Disable | ModifyOrderOp::Enable | ModifyOrderOp::Delete)
        {
            return Err(Reject::new("US orders support only the Normal (modify) and Cancel operations"));
        }
        if trd_market == matching::trd_market::HKCC && op == ModifyOrderOp::Normal.value() {
            return Err(Reject::new("A-share (HKCC) orders cannot be modified; cancel the order and place a new one"));
        }
        let final_err = || {
            Reject::new(format!(
                "Order {} is already {} and cannot be changed",
                c2s.order_id_ex.clone().unwrap_or_else(|| c2s.order_id.to_string()),
                status_name(st)
            ))
        };
        match op_kind {
            ModifyOrderOp::Normal => {
                if status::is_final(st) {
                    return Err(final_err());
                }
                if st == status::DISABLED {
                    return Err(Reject::new("The order is disabled; enable it before modifying"));
                }
                self.modify_normal(ai, oi, c2s)?;
            }
            ModifyOrderOp::Cancel => {
                if status::is_final(st) {
                    return Err(final_err());
                }
                self.cancel_order(oi, "");
            }
            ModifyOrderOp::Disable => {
                if st == status::DISABLED {
                    return Err(Reject::new("The order is already disabled"));
                }
                if status::is_final(st) {
                    return Err(final_err());
                }
                let now = self.now();
                let o = &mut self.orders[oi];
                o.status_before_disable = st;
                o.status = status::DISABLED;
                o.update_ts = now;
                self.push_order(oi);
            }
            ModifyOrderOp::Enable => {
                if st != status::DISABLED {
                    return Err(Reject::new("Only disabled orders can be enabled"));
                }
                let now = self.now();
                let o = &mut self.orders[oi];
                o.status = o.status_before_disable;
                o.update_ts = now;
                self.push_order(oi);
                self.request_match(oi);
            }
            ModifyOrderOp::Delete => {
                let deletable = matches!(
                    st,
                    status::DISABLED
                        | status::CANCELLED_ALL
                        | status::CANCELLED_PART
                        | status::FAILED
                        | status::SUBMIT_FAILED
                );
                if !deletable {
                    return Err(Reject::new(format!(
                        "Only disabled, cancelled or failed orders can be deleted (this one is {})",
                        status_name(st)
                    )));
                }
                let now = self.now();
                let o = &mut self.orders[oi];
                o.status = status::DELETED;
                o.update_ts = now;
                self.push_order(oi);
            }
            _ => return Err(Reject::new(format!("Invalid modifyOrderOp {op}"))),
        }
        let o = &self.orders[oi];
        Ok(pb::trd_modify_order::S2c {
            header: c2s.header,
            order_id: o.order_id,
            order_id_ex: Some(o.order_id_ex.clone()),
        })
    }

    fn modify_normal(&mut self, ai: usize, oi: usize, c2s: &pb::trd_modify_order::C2s) -> Res<()> {
        let o = self.orders[oi].clone();
        if !o.legs.is_empty() {
            return Err(Reject::new("Combo orders cannot be modified; cancel and place again"));
        }
        let t = o.terms.order_type;
        if matching::fills_at_once(t) && !matching::needs_aux_price(t) && !is_trailing(t) {
            return Err(Reject::new("Market orders cannot be modified"));
        }
        let qty = match c2s.qty {
            Some(q) => order_qty(&o.instr, q)?,
            None => o.qty,
        };
        if qty <= o.fill_qty + 1e-9 {
            return Err(Reject::new(format!(
                "The new quantity {qty} must be greater than the filled quantity {}",
                o.fill_qty
            )));
        }
        let mut terms = o.terms.clone();
        if needs_limit_price(t) {
            terms.price =
                limit_price(&o.instr, c2s.price.or(Some(o.terms.price)), c2s.adjust_price, c2s.adjust_side_and_limit)?;
        }
        if let Some(a) = c2s.aux_price {
            if !(a.is_finite() && a > 0.0 && a < 1e9) {
                return Err(Reject::new(format!("Invalid auxPrice {a}")));
            }
            if needs_aux_price(t) {
                terms.aux_price = Some(matching::truncate_to(a, o.instr.price_decimals()));
            }
        }
        if is_trailing(t) {
            if let Some(tt) = c2s.trail_type {
                if tt != 1 && tt != 2 {
                    return Err(Reject::new("trailType must be 1 (ratio) or 2 (amount)"));
                }
                terms.trail_type = Some(tt);
            }
            if let Some(tv) = c2s.trail_value {
                if !(tv.is_finite() && tv > 0.0 && tv < 1e9) {
                    return Err(Reject::new("trailValue must be positive"));
                }
                terms.trail_value = Some(tv);
            }
            if let Some(ts) = c2s.trail_spread {
                if !(0.0..1e9).contains(&ts) {
                    return Err(Reject::new("trailSpread must not be negative"));
                }
                terms.trail_spread = Some(ts);
            }
        }
        let new_remaining = qty - o.fill_qty;
        let market_price = self.price_of(&o.instr);
        let ref_price =
            if needs_limit_price(t) { terms.price } else { market_price.max(terms.aux_price.unwrap_or(0.0)) };
        let already = self.order_reservation(ai, &o, o.remaining());
        self.check_affordable(ai, &o.instr, o.terms.side, new_remaining, ref_price, Some(o.order_id), already)?;
        let now = self.now();
        let rec = &mut self.orders[oi];
        rec.qty = qty;
        rec.terms = terms;
        rec.update_ts = now;
        self.push_order(oi);
        self.request_match(oi);
        Ok(())
    }

    // ---- 2227 ----------------------------------------------------------------

    pub(crate) fn place_combo_order(
        &mut self,
        conn: &ConnInfo,
        c2s: &pb::trd_place_combo_order::C2s,
    ) -> Res<pb::trd_place_combo_order::S2c> {
        let ai = self.write_preamble(conn, &c2s.header, &c2s.packet_id, true)?;
        let legs = self.resolve_legs(&c2s.combo_legs, c2s.header.trd_market)?;
        let t = c2s.order_type;
        if let Some(first) = legs.first() {
            self.check_session_accepts(&first.instr.clone(), t)?;
        }
        if t != order_type::NORMAL && t != order_type::MARKET {
            return Err(Reject::new(format!("Order type {t} is not supported for combo orders")));
        }
        if !(c2s.qty.is_finite() && c2s.qty > 0.0 && c2s.qty <= MAX_QTY) {
            return Err(Reject::new(format!("Invalid quantity {}", c2s.qty)));
        }
        let qty = matching::truncate_to(c2s.qty, 0);
        if qty <= 0.0 {
            return Err(Reject::new(format!("Invalid quantity {}", c2s.qty)));
        }
        check_remark(&c2s.remark)?;
        let tif = c2s.time_in_force.unwrap_or(0);
        if !TimeInForce::from_value(tif).is_known() {
            return Err(Reject::new(format!("Invalid timeInForce {tif}")));
        }
        let price = if t == order_type::NORMAL {
            match c2s.price {
                Some(p) if p.is_finite() && p.abs() < 1e9 => matching::truncate_to(p, 3),
                _ => return Err(Reject::new("A limit combo order needs a price")),
            }
        } else {
            0.0
        };
        // Stock legs that sell need the shares; option legs may open short.
        for l in &legs {
            if l.side == Side::Sell && l.instr.kind == InstrumentKind::Stock {
                self.check_affordable(ai, &l.instr, Side::Sell, qty * l.ratio, 0.0, None, 0.0)?;
            }
        }
        let acc_ccy = self.accounts[ai].currency;
        let net = if t == order_type::NORMAL { price } else { self.combo_net_price(&legs) };
        let first = legs.first().map(|l| l.instr.clone()).ok_or_else(|| Reject::new("A combo needs legs"))?;
        let need = currency::convert(net.max(0.0) * qty * first.multiplier, first.currency, acc_ccy);
        let power = self.summary(ai).power;
        if need > power + 1e-6 {
            let name = crate::sim::broker::currency_name(acc_ccy);
            return Err(Reject::new(format!(
                "Insufficient buying power: the combo needs {need:.2} {name}, buying power is {power:.2} {name}"
            )));
        }
        let strategy = {
            let options = legs.iter().filter(|l| l.instr.kind == InstrumentKind::Option).count();
            let stocks = legs.iter().filter(|l| l.instr.kind == InstrumentKind::Stock).count();
            match (legs.len(), options, stocks) {
                (1, 1, _) => 1,
                (2, 1, 1) => 2,
                (2, 2, _) => 4,
                _ => 100,
            }
        };
        let now = self.now();
        let terms = OrderTerms {
            side: Side::Buy,
            order_type: t,
            price,
            aux_price: None,
            trail_type: None,
            trail_value: None,
            trail_spread: None,
        };
        let oi = self.new_order_record(ai, c2s.header.trd_market, first, 1, terms, qty, now);
        {
            let o = &mut self.orders[oi];
            o.legs = legs;
            o.strategy_type = Some(strategy);
            o.remark = c2s.remark.clone();
            o.time_in_force = tif;
            o.expire_time = c2s.expire_time.clone().filter(|s| !s.is_empty());
        }
        self.accept_order(oi);
        Ok(pb::trd_place_combo_order::S2c {
            header: c2s.header,
            order_id_ex: Some(self.orders[oi].order_id_ex.clone()),
        })
    }
}
