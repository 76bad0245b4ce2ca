//! The whole trading API through `TrdApi` against the simulator and its broker: every
//! request method answered through its own `TrdSpi::on_reply_*` callback with its
//! serial, on data that hangs together (orders, fills, funds, positions, fees, cash
//! flows, history); push ordering and fan-out; OpenD-like refusals; PacketID filling
//! and replay protection; typed conversions of real replies.

mod common;

use std::any::Any;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::*;
use crossbeam_channel::{Receiver, Sender};
use ftapi::pb::{self, common::PacketId, trd_common};
use ftapi::sim::accounts::{default_ids as ids, BrokerConfig};
use ftapi::sim::SimServer;
use ftapi::types::{
    CashFlow, CashFlowDirection, MarginRatio, MaxTrdQtys, OptionStrategyType, OrderFee, OrderFillStatus, PositionSide,
    TrdAccType,
};
use ftapi::{
    Account, ConnSpi, Currency, Error, Funds, ModifyOrderOp, Order, OrderFill, OrderStatus, OrderType, Position,
    SecurityCode, SecurityFirm, TimeInForce, TradePassword, TrdApi, TrdEnv, TrdMarket, TrdSide, TrdSpi,
};

// ---- harness -----------------------------------------------------------------------

/// A decoded `s2c` of any protocol, downcast by the waiter.
type AnyS2c = Box<dyn Any + Send>;

/// Everything the API reported.
enum Ev {
    Init(i64, String),
    Disconnect(i64, String),
    Reply { callback: &'static str, serial: u32, result: Result<AnyS2c, Error> },
    Push(Box<Push>),
}

/// An order (2208) or fill (2218) push.
#[derive(Debug, Clone)]
enum Push {
    Order(pb::trd_update_order::S2c),
    Fill(pb::trd_update_order_fill::S2c),
}

impl Push {
    fn order(&self) -> &trd_common::Order {
        match self {
            Push::Order(p) => &p.order,
            Push::Fill(f) => panic!("expected an order push, got a fill push {f:?}"),
        }
    }
    fn fill(&self) -> &trd_common::OrderFill {
        match self {
            Push::Fill(p) => &p.order_fill,
            Push::Order(o) => panic!("expected a fill push, got an order push {o:?}"),
        }
    }
    fn acc_id(&self) -> u64 {
        match self {
            Push::Order(p) => p.header.acc_id,
            Push::Fill(p) => p.header.acc_id,
        }
    }
}

/// Forwards every callback, with the callback's name, to a channel.
struct Rec {
    tx: Sender<Ev>,
}

impl Rec {
    fn reply<T: Send + 'static>(&self, callback: &'static str, serial: u32, r: Result<T, Error>) {
        let _ = self.tx.send(Ev::Reply { callback, serial, result: r.map(|s| Box::new(s) as AnyS2c) });
    }
}

impl ConnSpi for Rec {
    fn on_init_connect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
        let _ = self.tx.send(Ev::Init(err_code, desc.to_string()));
    }
    fn on_disconnect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
        let _ = self.tx.send(Ev::Disconnect(err_code, desc.to_string()));
    }
}

macro_rules! record_replies {
    ($($cb:ident => $m:ident;)*) => {
        impl TrdSpi for Rec {
            $(
                fn $cb(&self, _api: &TrdApi, serial: u32, r: Result<pb::$m::S2c, Error>) {
                    self.reply(stringify!($cb), serial, r);
                }
            )*
            fn on_push_update_order(&self, _api: &TrdApi, push: pb::trd_update_order::S2c) {
                let _ = self.tx.send(Ev::Push(Box::new(Push::Order(push))));
            }
            fn on_push_update_order_fill(&self, _api: &TrdApi, push: pb::trd_update_order_fill::S2c) {
                let _ = self.tx.send(Ev::Push(Box::new(Push::Fill(push))));
            }
        }
    };
}

record_replies! {
    on_reply_get_global_state => get_global_state;
    on_reply_get_acc_list => trd_get_acc_list;
    on_reply_unlock_trade => trd_unlock_trade;
    on_reply_sub_acc_push => trd_sub_acc_push;
    on_reply_get_funds => trd_get_funds;
    on_reply_get_position_list => trd_get_position_list;
    on_reply_get_max_trd_qtys => trd_get_max_trd_qtys;
    on_reply_get_combo_max_trd_qtys => trd_get_combo_max_trd_qtys;
    on_reply_get_order_list => trd_get_order_list;
    on_reply_place_order => trd_place_order;
    on_reply_modify_order => trd_modify_order;
    on_reply_get_order_fill_list => trd_get_order_fill_list;
    on_reply_get_history_order_list => trd_get_history_order_list;
    on_reply_get_history_order_fill_list => trd_get_history_order_fill_list;
    on_reply_get_margin_ratio => trd_get_margin_ratio;
    on_reply_get_order_fee => trd_get_order_fee;
    on_reply_get_flow_summary => trd_flow_summary;
    on_reply_place_combo_order => trd_place_combo_order;
}

/// Every request method's reply callback.
const ALL_REPLY_CALLBACKS: [&str; 17] = [
    "on_reply_get_acc_list",
    "on_reply_unlock_trade",
    "on_reply_sub_acc_push",
    "on_reply_get_funds",
    "on_reply_get_position_list",
    "on_reply_get_max_trd_qtys",
    "on_reply_get_combo_max_trd_qtys",
    "on_reply_get_order_list",
    "on_reply_place_order",
    "on_reply_modify_order",
    "on_reply_get_order_fill_list",
    "on_reply_get_history_order_list",
    "on_reply_get_history_order_fill_list",
    "on_reply_get_margin_ratio",
    "on_reply_get_order_fee",
    "on_reply_get_flow_summary",
    "on_reply_place_combo_order",
];

/// One connected `TrdApi` with its recorded events. Events that arrive while waiting
/// for something else are kept, in arrival order, for later waits.
struct Client {
    api: TrdApi,
    rx: Receiver<Ev>,
    backlog: VecDeque<Ev>,
    /// Reply callbacks seen, and the serials the request methods returned.
    callbacks: BTreeSet<&'static str>,
    serials: Vec<u32>,
}

impl Client {
    fn connect(sim: &SimServer, mode: Mode) -> Client {
        let api = TrdApi::new();
        api.set_client_info("ftapi-trading-tests", 1);
        if mode != Mode::Plain {
            api.set_rsa_key(key1024());
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        let spi = Arc::new(Rec { tx });
        api.set_conn_spi(spi.clone());
        api.set_trd_spi(spi);
        let addr = sim.local_addr();
        assert!(api.init_connect(&addr.ip().to_string(), addr.port(), mode != Mode::Plain));
        let mut c = Client { api, rx, backlog: VecDeque::new(), callbacks: BTreeSet::new(), serials: Vec::new() };
        match c.next("on_init_connect", |e| matches!(e, Ev::Init(..))) {
            Ev::Init(code, desc) => assert_eq!((code, desc.as_str()), (0, ""), "InitConnect in {mode:?} mode"),
            _ => unreachable!(),
        }
        c
    }

    fn conn_id(&self) -> u64 {
        self.api.get_connect_id()
    }

    /// Takes every event that has already arrived into the backlog.
    fn drain(&mut self) {
        while let Ok(ev) = self.rx.try_recv() {
            self.backlog.push_back(ev);
        }
    }

    /// The first event (backlog first) for which `want` holds; fails after [`WAIT`] or
    /// on a disconnect.
    fn next(&mut self, what: &str, mut want: impl FnMut(&Ev) -> bool) -> Ev {
        if let Some(i) = self.backlog.iter().position(&mut want) {
            return self.backlog.remove(i).expect("index from position");
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(ev) if want(&ev) => return ev,
                Ok(Ev::Disconnect(code, desc)) => panic!("disconnected ({code} {desc}) while waiting for {what}"),
                Ok(ev) => self.backlog.push_back(ev),
                Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
            }
        }
    }

    /// The reply to the request that returned `serial`: it must come through
    /// `callback` and carry that serial.
    fn reply<T: 'static>(&mut self, callback: &'static str, serial: u32) -> Result<T, Error> {
        assert_ne!(serial, 0, "{callback}: the request was not sent");
        self.serials.push(serial);
        let what = format!("{callback} serial {serial}");
        match self.next(&what, |e| matches!(e, Ev::Reply { serial: s, .. } if *s == serial)) {
            Ev::Reply { callback: cb, result, .. } => {
                assert_eq!(cb, callback, "the reply to serial {serial} came through the wrong callback");
                self.callbacks.insert(cb);
                result.map(|b| *b.downcast::<T>().unwrap_or_else(|_| panic!("{callback}: unexpected s2c type")))
            }
            _ => unreachable!(),
        }
    }

    /// The next `n` pushes, in arrival order.
    fn pushes(&mut self, n: usize) -> Vec<Push> {
        (0..n)
            .map(|i| match self.next(&format!("push {} of {n}", i + 1), |e| matches!(e, Ev::Push(_))) {
                Ev::Push(p) => *p,
                _ => unreachable!(),
            })
            .collect()
    }

    /// Pushes that have arrived and were not taken yet.
    fn pending_pushes(&mut self) -> Vec<Push> {
        self.drain();
        let (pushes, rest): (Vec<Ev>, Vec<Ev>) = self.backlog.drain(..).partition(|e| matches!(e, Ev::Push(_)));
        self.backlog.extend(rest);
        pushes
            .into_iter()
            .map(|e| match e {
                Ev::Push(p) => *p,
                _ => unreachable!(),
            })
            .collect()
    }
}

/// Sends `c2s` with `TrdApi::$method` and waits for its reply through
/// `TrdSpi::on_reply_$method`, typed as `pb::$m::S2c`.
macro_rules! rt {
    ($c:expr, $method:ident, $m:ident, $c2s:expr) => {{
        let serial = $c.api.$method(pb::$m::Request { c2s: $c2s });
        $c.reply::<pb::$m::S2c>(concat!("on_reply_", stringify!($method)), serial)
    }};
}

fn header(env: TrdEnv, acc_id: u64, market: TrdMarket) -> trd_common::TrdHeader {
    trd_common::TrdHeader { trd_env: env.into(), acc_id, trd_market: market.into(), jp_acc_type: None }
}

fn hk_real() -> trd_common::TrdHeader {
    header(TrdEnv::Real, ids::HK_REAL, TrdMarket::Hk)
}

fn hk_sim() -> trd_common::TrdHeader {
    header(TrdEnv::Simulate, ids::HK_SIM, TrdMarket::Hk)
}

fn code(s: &str) -> SecurityCode {
    s.parse().expect("a MARKET.CODE code")
}

/// A PlaceOrder C2S for `code` (`"HK.00700"`) as the SDK builds it; `price` 0 for
/// market orders.
fn order_c2s(
    h: trd_common::TrdHeader,
    side: TrdSide,
    t: OrderType,
    full_code: &str,
    qty: f64,
    price: f64,
) -> pb::trd_place_order::C2s {
    let c = code(full_code);
    pb::trd_place_order::C2s {
        header: h,
        trd_side: side.into(),
        order_type: t.into(),
        code: c.code.clone(),
        qty,
        price: Some(price),
        adjust_price: Some(false),
        adjust_side_and_limit: Some(0.0),
        sec_market: Some(c.sec_market().into()),
        remark: Some(format!("trading test {full_code}")),
        time_in_force: Some(TimeInForce::Day.into()),
        fill_outside_rth: Some(false),
        ..Default::default()
    }
}

fn modify_c2s(h: trd_common::TrdHeader, op: ModifyOrderOp, order_id_ex: &str) -> pb::trd_modify_order::C2s {
    pb::trd_modify_order::C2s {
        header: h,
        order_id: 0,
        modify_order_op: op.into(),
        for_all: Some(false),
        order_id_ex: Some(order_id_ex.to_string()),
        ..Default::default()
    }
}

fn unlock_c2s(password: &str, firm: SecurityFirm) -> pb::trd_unlock_trade::C2s {
    pb::trd_unlock_trade::C2s {
        unlock: true,
        pwd_md5: Some(TradePassword::plain(password).pwd_md5().to_string()),
        security_firm: Some(firm.into()),
    }
}

fn leg(full_code: &str, side: TrdSide, ratio: f64) -> pb::qot_common::ComboLeg {
    pb::qot_common::ComboLeg {
        security: code(full_code).to_pb_security(),
        side: Some(side.into()),
        qty_ratio: Some(ratio),
        position_id: None,
        pred_side: None,
    }
}

fn by_id(order_id_ex: &str) -> Option<trd_common::TrdFilterConditions> {
    Some(trd_common::TrdFilterConditions { order_id_ex_list: vec![order_id_ex.to_string()], ..Default::default() })
}

fn window(begin: f64, end: f64) -> trd_common::TrdFilterConditions {
    trd_common::TrdFilterConditions {
        begin_time: Some(utc_time(begin)),
        end_time: Some(utc_time(end)),
        ..Default::default()
    }
}

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs_f64()
}

const DAY: f64 = 86_400.0;

/// `YYYY-MM-DD HH:MM:SS` in UTC (the simulator's default clock offset).
fn utc_time(secs: f64) -> String {
    let s = secs.floor() as i64;
    let (days, sod) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    // Civil date from a day count (Gregorian, eras of 400 years starting in March).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", sod / 3_600, sod % 3_600 / 60, sod % 60)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.011
}

/// Asserts that `r` is OpenD's refusal of protocol `proto_id`: retType -1 and a retMsg
/// containing `needle` (case-insensitive).
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(r: Result<T, Error>, proto_id: u32, needle: &str) -> String {
    match r {
        Err(Error::Server { proto_id: p, ret_type, ret_msg, .. }) => {
            assert_eq!(p, proto_id, "proto id of the refusal ({ret_msg})");
            assert_eq!(ret_type, -1, "retType of the refusal ({ret_msg})");
            assert!(
                ret_msg.to_lowercase().contains(&needle.to_lowercase()),
                "retMsg {ret_msg:?} does not mention {needle:?}"
            );
            ret_msg
        }
        other => panic!("expected a retType -1 refusal of {proto_id} mentioning {needle:?}, got {other:?}"),
    }
}

fn status_of(p: &Push) -> OrderStatus {
    OrderStatus::from(p.order().order_status)
}

// ---- 1. every request method, on data that hangs together ---------------------------

fn funds(c: &mut Client, h: trd_common::TrdHeader) -> trd_common::Funds {
    let s2c = rt!(
        c,
        get_funds,
        trd_get_funds,
        pb::trd_get_funds::C2s {
            header: h,
            refresh_cache: None,
            currency: Some(Currency::Hkd.into()),
            asset_category: Some(0)
        }
    )
    .expect("get_funds");
    assert_eq!(s2c.header, h, "the reply echoes the header");
    s2c.funds.expect("funds")
}

fn position(c: &mut Client, h: trd_common::TrdHeader, full_code: &str) -> Option<trd_common::Position> {
    let s2c = rt!(
        c,
        get_position_list,
        trd_get_position_list,
        pb::trd_get_position_list::C2s {
            header: h,
            currency: Some(Currency::Hkd.into()),
            option_strategy_view: Some(false),
            ..Default::default()
        }
    )
    .expect("get_position_list");
    s2c.position_list.into_iter().find(|p| SecurityCode::from_opt_sec_market(p.sec_market, &p.code) == code(full_code))
}

fn max_qtys(c: &mut Client, h: trd_common::TrdHeader, full_code: &str, price: f64) -> trd_common::MaxTrdQtys {
    let cd = code(full_code);
    rt!(
        c,
        get_max_trd_qtys,
        trd_get_max_trd_qtys,
        pb::trd_get_max_trd_qtys::C2s {
            header: h,
            order_type: OrderType::Normal.into(),
            code: cd.code.clone(),
            price,
            adjust_price: Some(false),
            sec_market: Some(cd.sec_market().into()),
            session: Some(0),
            ..Default::default()
        }
    )
    .expect("get_max_trd_qtys")
    .max_trd_qtys
    .expect("maxTrdQtys")
}

/// Today's order `order_id_ex`, looked up by id.
fn order(c: &mut Client, h: trd_common::TrdHeader, order_id_ex: &str) -> trd_common::Order {
    let mut list = rt!(
        c,
        get_order_list,
        trd_get_order_list,
        pb::trd_get_order_list::C2s { header: h, filter_conditions: by_id(order_id_ex), ..Default::default() }
    )
    .expect("get_order_list")
    .order_list;
    assert_eq!(list.len(), 1, "exactly order {order_id_ex}: {list:#?}");
    list.remove(0)
}

fn fills_of(c: &mut Client, h: trd_common::TrdHeader, order_id_ex: &str) -> Vec<trd_common::OrderFill> {
    rt!(
        c,
        get_order_fill_list,
        trd_get_order_fill_list,
        pb::trd_get_order_fill_list::C2s { header: h, filter_conditions: None, refresh_cache: None }
    )
    .expect("get_order_fill_list")
    .order_fill_list
    .into_iter()
    .filter(|f| f.order_id_ex.as_deref() == Some(order_id_ex))
    .collect()
}

fn place(c: &mut Client, c2s: pb::trd_place_order::C2s) -> Result<pb::trd_place_order::S2c, Error> {
    rt!(c, place_order, trd_place_order, c2s)
}

fn history_orders(
    c: &mut Client,
    h: trd_common::TrdHeader,
    filter: trd_common::TrdFilterConditions,
    statuses: &[OrderStatus],
) -> Vec<trd_common::Order> {
    rt!(
        c,
        get_history_order_list,
        trd_get_history_order_list,
        pb::trd_get_history_order_list::C2s {
            header: h,
            filter_conditions: filter,
            filter_status_list: statuses.iter().map(|s| i32::from(*s)).collect(),
        }
    )
    .expect("get_history_order_list")
    .order_list
}

fn history_fills(
    c: &mut Client,
    h: trd_common::TrdHeader,
    filter: trd_common::TrdFilterConditions,
) -> Vec<trd_common::OrderFill> {
    rt!(
        c,
        get_history_order_fill_list,
        trd_get_history_order_fill_list,
        pb::trd_get_history_order_fill_list::C2s { header: h, filter_conditions: filter }
    )
    .expect("get_history_order_fill_list")
    .order_fill_list
}

/// The whole life cycle on the universal REAL account: accounts, unlock, subscribe,
/// funds / positions / max quantities before and after a market buy, the order, its
/// fill, fee and cash flow, a limit order modified and cancelled, a combo order, margin
/// ratios, and history windows over the seeded past orders.
fn every_request_round_trips(mode: Mode) {
    let started = now_secs();
    let (sim, broker) = sim_and_broker(mode, BrokerConfig::relaxed());
    assert_eq!(broker.set_price("HK.00700", 380.0), Ok(380.0));
    broker.set_price("US.AAPL271217C200000", 25.0).expect("price");
    broker.set_price("US.AAPL271217C220000", 18.0).expect("price");
    let mut c = Client::connect(&sim, mode);
    let conn_id = c.conn_id();
    let h = hk_real();

    // 2001: the securities accounts, with and without the universal one.
    let accs = rt!(
        c,
        get_acc_list,
        trd_get_acc_list,
        pb::trd_get_acc_list::C2s {
            user_id: c.api.get_login_user_id(),
            trd_category: Some(1),
            need_general_sec_account: Some(true)
        }
    )
    .expect("get_acc_list");
    let listed: Vec<u64> = accs.acc_list.iter().map(|a| a.acc_id).collect();
    for id in [ids::HK_REAL, ids::US_REAL, ids::HK_SIM, ids::US_SIM, ids::CN_SIM] {
        assert!(listed.contains(&id), "{id} listed in {listed:?}");
    }
    assert!(!listed.contains(&ids::FUTURES_REAL) && !listed.contains(&ids::FUT_HK_SIM), "no futures accounts");
    let hk = accs.acc_list.iter().find(|a| a.acc_id == ids::HK_REAL).expect("HK_REAL");
    assert_eq!((hk.trd_env, hk.trd_market_auth_list.as_slice(), hk.security_firm), (1, &[1, 2, 4][..], Some(1)));
    let plain = rt!(
        c,
        get_acc_list,
        trd_get_acc_list,
        pb::trd_get_acc_list::C2s { user_id: 0, trd_category: Some(1), need_general_sec_account: Some(false) }
    )
    .expect("get_acc_list without universal accounts");
    assert!(plain.acc_list.iter().all(|a| a.acc_id != ids::HK_REAL), "the universal account needs the flag");

    // 2005 and 2008.
    assert!(!broker.is_unlocked(conn_id));
    rt!(c, unlock_trade, trd_unlock_trade, unlock_c2s("123456", SecurityFirm::FutuSecurities)).expect("unlock");
    assert!(broker.is_unlocked(conn_id));
    rt!(c, sub_acc_push, trd_sub_acc_push, pb::trd_sub_acc_push::C2s { acc_id_list: vec![ids::HK_REAL] })
        .expect("sub_acc_push");
    assert_eq!(broker.subscriptions(conn_id), vec![ids::HK_REAL]);

    // 2101 / 2102 / 2111 before trading.
    let funds0 = funds(&mut c, h);
    assert_eq!(funds0.currency, Some(Currency::Hkd.into()));
    let pos0 = position(&mut c, h, "HK.00700").expect("the seeded 00700 position");
    assert_eq!((pos0.qty, pos0.can_sell_qty), (500.0, 500.0));
    let max0 = max_qtys(&mut c, h, "HK.00700", 380.0);
    assert_eq!(max0.max_position_sell, 500.0);
    assert!(max0.max_cash_buy >= 100.0 && max0.max_cash_buy % 100.0 == 0.0, "whole lots: {max0:?}");

    // 2202: a market buy of one lot fills at once; pushes Submitted, FilledAll, fill.
    let placed = place(&mut c, order_c2s(h, TrdSide::Buy, OrderType::Market, "HK.00700", 100.0, 0.0)).expect("place");
    assert_eq!(placed.header, h);
    let oid = placed.order_id_ex.clone().expect("orderIDEx");
    let p = c.pushes(3);
    assert_eq!((status_of(&p[0]), status_of(&p[1])), (OrderStatus::Submitted, OrderStatus::FilledAll));
    assert!(p.iter().all(|x| x.acc_id() == ids::HK_REAL));
    assert_eq!(p[0].order().order_id_ex, oid);
    let pushed_fill = p[2].fill().clone();
    assert_eq!(pushed_fill.order_id_ex.as_deref(), Some(oid.as_str()));

    // 2201: the order, filled; 2211: its fill, as pushed.
    let o = order(&mut c, h, &oid);
    assert_eq!((o.order_status, o.fill_qty, o.fill_avg_price), (11, Some(100.0), Some(380.0)));
    assert_eq!(Some(o.order_id), placed.order_id);
    assert_eq!(o.remark.as_deref(), Some("trading test HK.00700"));
    let fills = fills_of(&mut c, h, &oid);
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!((fills[0].qty, fills[0].price, fills[0].trd_side), (100.0, 380.0, 1));
    assert_eq!(fills[0], pushed_fill, "the listed fill is the pushed one");

    // 2225: the order's fees; 2101: cash went down by value + fees.
    let fees = rt!(
        c,
        get_order_fee,
        trd_get_order_fee,
        pb::trd_get_order_fee::C2s { header: h, order_id_ex_list: vec![oid.clone()] }
    )
    .expect("get_order_fee");
    assert_eq!(fees.order_fee_list.len(), 1);
    let fee = &fees.order_fee_list[0];
    assert_eq!(fee.order_id_ex, oid);
    let fee_amount = fee.fee_amount.expect("feeAmount");
    let items: f64 = fee.fee_list.iter().filter_map(|i| i.value).sum();
    assert!(fee_amount > 0.0 && close(items, fee_amount), "items {items} vs amount {fee_amount}");
    let funds1 = funds(&mut c, h);
    assert!(close(funds0.cash - funds1.cash, 38_000.0 + fee_amount), "cash {} -> {}", funds0.cash, funds1.cash);
    assert!(funds1.power < funds0.power);

    // 2102 / 2111 after: one more lot held and sellable.
    let pos1 = position(&mut c, h, "HK.00700").expect("00700 position");
    assert_eq!((pos1.qty, pos1.can_sell_qty, pos1.td_buy_qty), (600.0, 600.0, Some(100.0)));
    assert_eq!(pos1.td_buy_val, Some(38_000.0));
    assert_eq!(max_qtys(&mut c, h, "HK.00700", 380.0).max_position_sell, 600.0);

    // 2226: today's cash flow names the order and carries value + fees, outwards.
    let today = o.create_time.get(..10).expect("a dated createTime").to_string();
    let flows = rt!(
        c,
        get_flow_summary,
        trd_flow_summary,
        pb::trd_flow_summary::C2s { header: h, clearing_date: today.clone(), ..Default::default() }
    )
    .expect("get_flow_summary")
    .flow_summary_info_list;
    let flow = flows
        .iter()
        .find(|f| f.cash_flow_remark.as_deref().is_some_and(|r| r.contains(&oid)))
        .unwrap_or_else(|| panic!("a cash flow for {oid} in {flows:?}"));
    assert_eq!(flow.cash_flow_direction, Some(CashFlowDirection::Out.into()));
    assert!(close(flow.cash_flow_amount.unwrap_or(0.0), 38_000.0 + fee_amount), "{flow:?}");
    assert_eq!(flow.clearing_date.as_deref(), Some(today.as_str()));

    // 2205: a resting limit order, modified, then cancelled.
    let limit = place(&mut c, order_c2s(h, TrdSide::Buy, OrderType::Normal, "HK.00700", 100.0, 300.0)).expect("limit");
    let lid = limit.order_id_ex.clone().expect("orderIDEx");
    assert_eq!(status_of(&c.pushes(1)[0]), OrderStatus::Submitted);
    let modified = rt!(
        c,
        modify_order,
        trd_modify_order,
        pb::trd_modify_order::C2s {
            price: Some(310.0),
            qty: Some(200.0),
            adjust_price: Some(false),
            adjust_side_and_limit: Some(0.0),
            ..modify_c2s(h, ModifyOrderOp::Normal, &lid)
        }
    )
    .expect("modify");
    assert_eq!((modified.order_id_ex.as_deref(), Some(modified.order_id)), (Some(lid.as_str()), limit.order_id));
    let p = c.pushes(1);
    assert_eq!((p[0].order().price, p[0].order().qty), (Some(310.0), 200.0));
    let o = order(&mut c, h, &lid);
    assert_eq!((o.order_status, o.price, o.qty), (5, Some(310.0), 200.0));
    rt!(c, modify_order, trd_modify_order, modify_c2s(h, ModifyOrderOp::Cancel, &lid)).expect("cancel");
    assert_eq!(status_of(&c.pushes(1)[0]), OrderStatus::CancelledAll);
    assert_eq!(order(&mut c, h, &lid).order_status, 15);
    assert!(fills_of(&mut c, h, &lid).is_empty());

    // 2112 / 2227: a call spread on the US side of the universal account.
    let us = header(TrdEnv::Real, ids::HK_REAL, TrdMarket::Us);
    let legs = vec![leg("US.AAPL271217C200000", TrdSide::Buy, 1.0), leg("US.AAPL271217C220000", TrdSide::Sell, 1.0)];
    let cmax = rt!(
        c,
        get_combo_max_trd_qtys,
        trd_get_combo_max_trd_qtys,
        pb::trd_get_combo_max_trd_qtys::C2s {
            header: us,
            combo_legs: legs.clone(),
            qty: 1.0,
            price: None,
            order_type: OrderType::Market.into(),
            order_id_ex: None
        }
    )
    .expect("get_combo_max_trd_qtys")
    .max_trd_qtys
    .expect("maxTrdQtys");
    assert!(cmax.buy_power_decrease.unwrap_or(0.0) > 0.0, "{cmax:?}");
    let combo = rt!(
        c,
        place_combo_order,
        trd_place_combo_order,
        pb::trd_place_combo_order::C2s {
            header: us,
            combo_legs: legs,
            qty: 1.0,
            order_type: OrderType::Market.into(),
            time_in_force: Some(0),
            remark: Some("spread".into()),
            ..Default::default()
        }
    )
    .expect("place_combo_order");
    let cid = combo.order_id_ex.expect("orderIDEx");
    let p = c.pushes(4);
    assert_eq!((status_of(&p[0]), status_of(&p[1])), (OrderStatus::Submitted, OrderStatus::FilledAll));
    let leg_fills: Vec<String> = p[2..]
        .iter()
        .map(|x| SecurityCode::from_opt_sec_market(x.fill().sec_market, &x.fill().code).to_string())
        .collect();
    assert_eq!(leg_fills, ["US.AAPL271217C200000", "US.AAPL271217C220000"]);
    let co = order(&mut c, us, &cid);
    assert_eq!((co.order_status, co.combo_legs.len(), co.strategy_type), (11, 2, Some(4)));
    assert_eq!(fills_of(&mut c, us, &cid).len(), 2);
    let long_call = position(&mut c, us, "US.AAPL271217C200000").expect("bought leg");
    let short_call = position(&mut c, us, "US.AAPL271217C220000").expect("sold leg");
    assert_eq!((long_call.qty, long_call.position_side), (1.0, 0));
    assert_eq!((short_call.qty, short_call.position_side), (1.0, 1));

    // 2223: margin ratios per security.
    let ratios = rt!(
        c,
        get_margin_ratio,
        trd_get_margin_ratio,
        pb::trd_get_margin_ratio::C2s {
            header: h,
            security_list: vec![code("HK.00700").to_pb_security(), code("US.AAPL").to_pb_security()]
        }
    )
    .expect("get_margin_ratio")
    .margin_ratio_info_list;
    assert_eq!(ratios.len(), 2);
    assert_eq!(ratios[0].security, code("HK.00700").to_pb_security());
    assert_eq!(ratios[1].security, code("US.AAPL").to_pb_security());
    assert!(ratios.iter().all(|r| r.is_long_permit == Some(true) && r.im_long_ratio.unwrap_or(0.0) > 0.0));

    // 2221 / 2222: history windows over the seeded past (00700 bought 3 days back,
    // 09988 4 days back, AAPL 5 days back, a cancelled 00700 order 2 days back) and today.
    let wide = window(started - 7.0 * DAY, now_secs() + DAY);
    let all = history_orders(&mut c, h, wide.clone(), &[]);
    let all_ids: Vec<&str> = all.iter().map(|o| o.order_id_ex.as_str()).collect();
    for id in [&oid, &lid, &cid] {
        assert!(all_ids.contains(&id.as_str()), "{id} in the wide window {all_ids:?}");
    }
    assert_eq!(all.len(), 7, "4 seeded orders and 3 of today: {all:#?}");
    let day4 = history_orders(&mut c, h, window(started - 4.5 * DAY, started - 3.5 * DAY), &[]);
    assert_eq!(day4.len(), 1, "{day4:#?}");
    assert_eq!((day4[0].code.as_str(), day4[0].order_status, day4[0].qty), ("09988", 11, 1000.0));
    let day2 = history_orders(&mut c, h, window(started - 2.5 * DAY, started - 1.5 * DAY), &[]);
    assert_eq!(day2.len(), 1, "{day2:#?}");
    assert_eq!((day2[0].code.as_str(), day2[0].order_status), ("00700", 15));
    assert_eq!(day2[0].remark.as_deref(), Some("seeded"));
    let tencent = history_orders(
        &mut c,
        h,
        trd_common::TrdFilterConditions { code_list: vec!["00700".into()], ..wide.clone() },
        &[],
    );
    assert_eq!(tencent.len(), 4, "two seeded and two of today: {tencent:#?}");
    let cancelled = history_orders(&mut c, h, wide.clone(), &[OrderStatus::CancelledAll]);
    let mut cancelled: Vec<&str> = cancelled.iter().map(|o| o.order_id_ex.as_str()).collect();
    cancelled.sort();
    let mut expected = vec![lid.as_str(), day2[0].order_id_ex.as_str()];
    expected.sort();
    assert_eq!(cancelled, expected);
    let all_fills = history_fills(&mut c, h, wide);
    assert_eq!(all_fills.len(), 3 + 1 + 2, "3 seeded fills, the market order, two combo legs: {all_fills:#?}");
    let day4_fills = history_fills(&mut c, h, window(started - 4.5 * DAY, started - 3.5 * DAY));
    assert_eq!(day4_fills.len(), 1);
    assert_eq!(day4_fills[0].order_id_ex.as_deref(), Some(day4[0].order_id_ex.as_str()));
    assert_eq!((day4_fills[0].qty, day4_fills[0].price), (1000.0, 80.0));
    assert!(history_fills(&mut c, h, window(started - 2.5 * DAY, started - 1.5 * DAY)).is_empty());
    // Today's list holds only today's orders, not the seeded history.
    let today_orders =
        rt!(c, get_order_list, trd_get_order_list, pb::trd_get_order_list::C2s { header: h, ..Default::default() })
            .expect("get_order_list")
            .order_list;
    let mut today_ids: Vec<&str> = today_orders.iter().map(|o| o.order_id_ex.as_str()).collect();
    today_ids.sort();
    let mut mine = vec![oid.as_str(), lid.as_str(), cid.as_str()];
    mine.sort();
    assert_eq!(today_ids, mine);

    // Every request method answered through its own callback, with distinct serials.
    let missing: Vec<&str> = ALL_REPLY_CALLBACKS.iter().copied().filter(|cb| !c.callbacks.contains(cb)).collect();
    assert!(missing.is_empty(), "callbacks never exercised: {missing:?}");
    let mut serials = c.serials.clone();
    serials.sort_unstable();
    serials.dedup();
    assert_eq!(serials.len(), c.serials.len(), "serials are unique");
    assert!(c.pending_pushes().is_empty(), "no unexpected pushes");
}

#[test]
fn every_request_round_trips_plain() {
    every_request_round_trips(Mode::Plain);
}

#[test]
fn every_request_round_trips_aes_cbc() {
    every_request_round_trips(Mode::Cbc);
}

#[test]
fn every_request_round_trips_ftaes_ecb() {
    every_request_round_trips(Mode::Ecb);
}

// ---- 2. push ordering and fan-out ----------------------------------------------------

fn subscribe(c: &mut Client, acc_ids: Vec<u64>) {
    rt!(c, sub_acc_push, trd_sub_acc_push, pb::trd_sub_acc_push::C2s { acc_id_list: acc_ids }).expect("sub_acc_push");
}

/// A round trip, so that every push written to this connection before it has arrived.
fn sync(c: &mut Client) {
    rt!(c, get_acc_list, trd_get_acc_list, pb::trd_get_acc_list::C2s::default()).expect("get_acc_list");
}

/// Checks the pushes of one market order and of one limit order filled in two rounds.
fn check_push_sequence(p: &[Push], market_id: &str, limit_id: &str) {
    let seq: Vec<String> = p
        .iter()
        .map(|x| match x {
            Push::Order(o) => format!("order {} {}", o.order.order_id_ex, OrderStatus::from(o.order.order_status)),
            Push::Fill(f) => format!("fill {} {}", f.order_fill.order_id_ex.as_deref().unwrap_or(""), f.order_fill.qty),
        })
        .collect();
    let expected = vec![
        format!("order {market_id} SUBMITTED"),
        format!("order {market_id} FILLED_ALL"),
        format!("fill {market_id} 100"),
        format!("order {limit_id} SUBMITTED"),
        format!("order {limit_id} FILLED_PART"),
        format!("fill {limit_id} 1000"),
        format!("order {limit_id} FILLED_ALL"),
        format!("fill {limit_id} 500"),
    ];
    assert_eq!(seq, expected);
    assert!(p.iter().all(|x| x.acc_id() == ids::HK_SIM));
    assert_eq!((p[4].order().fill_qty, p[6].order().fill_qty), (Some(1000.0), Some(1500.0)));
    assert_eq!(p[7].fill().price, 370.0, "a resting buy fills at the market price that crossed it");
}

#[test]
fn pushes_arrive_in_order_on_every_subscribed_connection_only() {
    let (sim, broker) = sim_and_broker(Mode::Plain, BrokerConfig::relaxed());
    broker.set_price("HK.00700", 380.0).expect("price");
    let mut a = Client::connect(&sim, Mode::Plain);
    let mut b = Client::connect(&sim, Mode::Plain);
    let mut other_acc = Client::connect(&sim, Mode::Plain);
    let mut none = Client::connect(&sim, Mode::Plain);
    subscribe(&mut a, vec![ids::HK_SIM]);
    subscribe(&mut b, vec![ids::US_SIM, ids::HK_SIM]);
    subscribe(&mut other_acc, vec![ids::US_SIM]);

    let h = hk_sim();
    let market = place(&mut a, order_c2s(h, TrdSide::Buy, OrderType::Market, "HK.00700", 100.0, 0.0)).expect("market");
    let limit = place(&mut a, order_c2s(h, TrdSide::Buy, OrderType::Normal, "HK.00700", 1500.0, 370.0)).expect("limit");
    let (mid, lid) = (market.order_id_ex.expect("id"), limit.order_id_ex.expect("id"));
    // The limit order rests until the price comes down; each matching round fills at
    // most 10 lots.
    assert_eq!(broker.set_price("HK.00700", 370.0), Ok(370.0));
    assert_eq!(broker.set_price("HK.00700", 370.0), Ok(370.0));
    assert_eq!(order(&mut a, h, &lid).order_status, i32::from(OrderStatus::FilledAll));

    let pa = a.pushes(8);
    check_push_sequence(&pa, &mid, &lid);
    let pb_ = b.pushes(8);
    check_push_sequence(&pb_, &mid, &lid);
    for c in [&mut a, &mut b, &mut other_acc, &mut none] {
        sync(c);
        assert!(c.pending_pushes().is_empty(), "no extra pushes");
    }

    // Full replacement: b unsubscribes, a still gets the next order's pushes.
    subscribe(&mut b, vec![]);
    let again = place(&mut a, order_c2s(h, TrdSide::Sell, OrderType::Market, "HK.00700", 100.0, 0.0)).expect("sell");
    let p = a.pushes(3);
    assert_eq!(p[0].order().order_id_ex, again.order_id_ex.expect("id"));
    assert_eq!((status_of(&p[0]), status_of(&p[1])), (OrderStatus::Submitted, OrderStatus::FilledAll));
    assert_eq!(TrdSide::from(p[2].fill().trd_side), TrdSide::Sell);
    sync(&mut b);
    assert!(b.pending_pushes().is_empty(), "an unsubscribed connection gets nothing");
    assert!(broker.subscriptions(b.conn_id()).is_empty());
}

#[test]
fn a_later_fill_by_set_price_pushes_on_an_encrypted_connection() {
    let (sim, broker) = sim_and_broker(Mode::Ecb, BrokerConfig::relaxed());
    broker.set_price("US.AAPL", 190.0).expect("price");
    let mut c = Client::connect(&sim, Mode::Ecb);
    subscribe(&mut c, vec![ids::US_SIM]);
    let h = header(TrdEnv::Simulate, ids::US_SIM, TrdMarket::Us);
    // A sell limit above the market rests; the market rising through it fills it, at
    // most 10 lots (10 shares of AAPL) per matching round.
    let placed = place(&mut c, order_c2s(h, TrdSide::Sell, OrderType::Normal, "US.AAPL", 25.0, 195.0)).expect("sell");
    let id = placed.order_id_ex.expect("id");
    assert_eq!(status_of(&c.pushes(1)[0]), OrderStatus::Submitted);
    broker.set_price("US.AAPL", 194.0).expect("price");
    sync(&mut c);
    assert!(c.pending_pushes().is_empty(), "no fill below the limit");
    let mut rounds = Vec::new();
    for _ in 0..3 {
        assert_eq!(broker.set_price("US.AAPL", 196.5), Ok(196.5));
        let p = c.pushes(2);
        assert_eq!(p[1].fill().order_id_ex.as_deref(), Some(id.as_str()));
        assert_eq!(p[1].fill().price, 196.5);
        rounds.push((status_of(&p[0]), p[0].order().fill_qty, p[1].fill().qty));
    }
    assert_eq!(
        rounds,
        [
            (OrderStatus::FilledPart, Some(10.0), 10.0),
            (OrderStatus::FilledPart, Some(20.0), 10.0),
            (OrderStatus::FilledAll, Some(25.0), 5.0)
        ]
    );
    broker.set_price("US.AAPL", 197.0).expect("price");
    sync(&mut c);
    assert!(c.pending_pushes().is_empty(), "a filled order trades no more");
    let pos = position(&mut c, h, "US.AAPL").expect("AAPL position");
    assert_eq!(pos.qty, 75.0);
    let sold = fills_of(&mut c, h, &id);
    assert_eq!(sold.iter().map(|f| f.qty).sum::<f64>(), 25.0);
}

// ---- 3. refusals -------------------------------------------------------------------

#[test]
fn refusals_come_back_as_server_errors_with_opend_messages() {
    let (sim, broker) = sim_and_broker(Mode::Cbc, BrokerConfig::relaxed());
    broker.set_price("HK.00700", 380.0).expect("price");
    let mut c = Client::connect(&sim, Mode::Cbc);
    let h = hk_sim();
    let cash0 = funds(&mut c, h).cash;

    // Wrong trade password.
    let r = rt!(c, unlock_trade, trd_unlock_trade, unlock_c2s("654321", SecurityFirm::FutuSecurities));
    assert_refused(r, 2005, "incorrect trade password");
    assert!(!broker.is_unlocked(c.conn_id()));

    // A REAL-environment write without unlocking.
    let r = place(&mut c, order_c2s(hk_real(), TrdSide::Buy, OrderType::Normal, "HK.00700", 100.0, 300.0));
    assert_refused(r, 2202, "unlock");
    let r = rt!(c, modify_order, trd_modify_order, modify_c2s(hk_real(), ModifyOrderOp::Cancel, "SIMO000000000001"));
    assert_refused(r, 2205, "unlock");
    // Unlocking is OpenD-wide: once another connection unlocks, this one may trade.
    let mut other = Client::connect(&sim, Mode::Cbc);
    rt!(other, unlock_trade, trd_unlock_trade, unlock_c2s("123456", SecurityFirm::FutuSecurities)).expect("unlock");
    assert!(broker.is_unlocked(c.conn_id()));
    place(&mut c, order_c2s(hk_real(), TrdSide::Buy, OrderType::Normal, "HK.00700", 100.0, 300.0))
        .expect("a REAL order after another connection unlocked");

    // Insufficient buying power.
    let r = place(&mut c, order_c2s(h, TrdSide::Buy, OrderType::Normal, "HK.00700", 100_000.0, 380.0));
    assert_refused(r, 2202, "insufficient buying power");
    // Selling more than is held.
    let r = place(&mut c, order_c2s(h, TrdSide::Sell, OrderType::Normal, "HK.00700", 1_000.0, 380.0));
    assert_refused(r, 2202, "insufficient position");

    // Unknown account: in a query and in a write.
    let ghost = header(TrdEnv::Simulate, 42, TrdMarket::Hk);
    let r = rt!(c, get_funds, trd_get_funds, pb::trd_get_funds::C2s { header: ghost, ..Default::default() });
    assert_refused(r, 2101, "nonexistent account");
    let r = place(&mut c, order_c2s(ghost, TrdSide::Buy, OrderType::Market, "HK.00700", 100.0, 0.0));
    assert_refused(r, 2202, "nonexistent account");
    let r = rt!(c, sub_acc_push, trd_sub_acc_push, pb::trd_sub_acc_push::C2s { acc_id_list: vec![ids::HK_SIM, 42] });
    assert_refused(r, 2008, "nonexistent account");
    // An account used with the wrong environment.
    let r = rt!(
        c,
        get_order_list,
        trd_get_order_list,
        pb::trd_get_order_list::C2s { header: header(TrdEnv::Real, ids::HK_SIM, TrdMarket::Hk), ..Default::default() }
    );
    assert_refused(r, 2201, "trdEnv");

    // Unknown code.
    let r = place(&mut c, order_c2s(h, TrdSide::Buy, OrderType::Market, "HK.99999", 100.0, 0.0));
    assert_refused(r, 2202, "unknown stock code");
    // Quantity not a multiple of the lot size (00700 trades in lots of 100).
    let r = place(&mut c, order_c2s(h, TrdSide::Buy, OrderType::Normal, "HK.00700", 150.0, 380.0));
    assert_refused(r, 2202, "lot size");

    // Modify of an unknown order.
    let r = rt!(
        c,
        modify_order,
        trd_modify_order,
        pb::trd_modify_order::C2s {
            price: Some(300.0),
            qty: Some(100.0),
            ..modify_c2s(h, ModifyOrderOp::Normal, "NOPE")
        }
    );
    assert_refused(r, 2205, "order not found");

    // Nothing above changed the account.
    assert_eq!(funds(&mut c, h).cash, cash0);

    // Cancel of a final (filled) order; and of a cancelled one.
    let filled = place(&mut c, order_c2s(h, TrdSide::Buy, OrderType::Market, "HK.00700", 100.0, 0.0)).expect("buy");
    let fid = filled.order_id_ex.expect("id");
    let r = rt!(c, modify_order, trd_modify_order, modify_c2s(h, ModifyOrderOp::Cancel, &fid));
    let msg = assert_refused(r, 2205, "cannot be changed");
    assert!(msg.contains(&fid) && msg.contains("filled"), "{msg}");
    let resting = place(&mut c, order_c2s(h, TrdSide::Buy, OrderType::Normal, "HK.00700", 100.0, 300.0)).expect("buy");
    let rid = resting.order_id_ex.expect("id");
    rt!(c, modify_order, trd_modify_order, modify_c2s(h, ModifyOrderOp::Cancel, &rid)).expect("first cancel");
    let r = rt!(c, modify_order, trd_modify_order, modify_c2s(h, ModifyOrderOp::Cancel, &rid));
    assert_refused(r, 2205, "cancelled");

    // History needs its window.
    let r = rt!(
        c,
        get_history_order_list,
        trd_get_history_order_list,
        pb::trd_get_history_order_list::C2s { header: h, ..Default::default() }
    );
    assert_refused(r, 2221, "beginTime");

    // The blocking call reports the same refusal, and the connection is still fine.
    let e = c
        .api
        .call::<pb::proto::GetFunds>(pb::trd_get_funds::C2s { header: ghost, ..Default::default() })
        .expect_err("refused");
    // The simulator's errCode for an unknown account (docs/simulator.md).
    assert_eq!((e.ret_type(), e.err_code()), (-1, 1006));
    assert!(e.ret_msg().contains("Nonexistent account"), "{e}");
    assert!(c.api.is_connected());
}

// ---- 4. PacketID -------------------------------------------------------------------

fn packet(conn_id: u64, serial_no: u32) -> PacketId {
    PacketId { conn_id, serial_no }
}

#[test]
fn write_requests_get_conn_id_and_serial_as_packet_id_and_replays_are_refused() {
    let (sim, broker) = sim_and_broker(Mode::Plain, BrokerConfig::relaxed().with_rate_limits(false));
    broker.set_price("HK.00700", 380.0).expect("price");
    let mut c = Client::connect(&sim, Mode::Plain);
    let conn_id = c.conn_id();
    let h = hk_sim();
    let buy = || order_c2s(h, TrdSide::Buy, OrderType::Normal, "HK.00700", 100.0, 300.0);

    // Left unset, the PacketID becomes {connID, the request's serial}: the broker
    // checks the connID, and refuses the same pair a second time.
    let s1 = c.api.place_order(pb::trd_place_order::Request { c2s: buy() });
    let first = c.reply::<pb::trd_place_order::S2c>("on_reply_place_order", s1).expect("filled-in PacketID accepted");
    let r = place(&mut c, pb::trd_place_order::C2s { packet_id: packet(conn_id, s1), ..buy() });
    assert_refused(r, 2202, "duplicate packetid");

    let oid = first.order_id_ex.expect("id");
    let modify = || pb::trd_modify_order::C2s {
        price: Some(310.0),
        qty: Some(100.0),
        ..modify_c2s(h, ModifyOrderOp::Normal, &oid)
    };
    let s2 = c.api.modify_order(pb::trd_modify_order::Request { c2s: modify() });
    c.reply::<pb::trd_modify_order::S2c>("on_reply_modify_order", s2).expect("modify with a filled-in PacketID");
    let r = rt!(
        c,
        modify_order,
        trd_modify_order,
        pb::trd_modify_order::C2s { packet_id: packet(conn_id, s2), ..modify() }
    );
    assert_refused(r, 2205, "duplicate packetid");

    let combo = || pb::trd_place_combo_order::C2s {
        header: header(TrdEnv::Simulate, ids::US_SIM, TrdMarket::Us),
        combo_legs: vec![leg("US.AAPL271217C200000", TrdSide::Buy, 1.0)],
        qty: 1.0,
        price: Some(1.0),
        order_type: OrderType::Normal.into(),
        ..Default::default()
    };
    let s3 = c.api.place_combo_order(pb::trd_place_combo_order::Request { c2s: combo() });
    c.reply::<pb::trd_place_combo_order::S2c>("on_reply_place_combo_order", s3).expect("combo");
    let r = rt!(
        c,
        place_combo_order,
        trd_place_combo_order,
        pb::trd_place_combo_order::C2s { packet_id: packet(conn_id, s3), ..combo() }
    );
    assert_refused(r, 2227, "duplicate packetid");

    // A caller-set PacketID is sent as it is: accepted once, refused when replayed,
    // refused when it names another connection.
    let own = packet(conn_id, 3_000_000_001);
    place(&mut c, pb::trd_place_order::C2s { packet_id: own, ..buy() }).expect("caller-set PacketID");
    let r = place(&mut c, pb::trd_place_order::C2s { packet_id: own, ..buy() });
    assert_refused(r, 2202, "duplicate packetid");
    let r = place(&mut c, pb::trd_place_order::C2s { packet_id: packet(conn_id + 1000, 5), ..buy() });
    assert_refused(r, 2202, "does not match this connection");
    let r = rt!(
        c,
        modify_order,
        trd_modify_order,
        pb::trd_modify_order::C2s {
            packet_id: packet(conn_id + 1000, 6),
            ..modify_c2s(h, ModifyOrderOp::Cancel, &oid)
        }
    );
    assert_refused(r, 2205, "does not match this connection");

    // The blocking call fills the PacketID too.
    c.api.call::<pb::proto::PlaceOrder>(buy()).expect("blocking place with a filled-in PacketID");

    // Serials are per connection: a second connection's filled-in PacketIDs are its own.
    let mut d = Client::connect(&sim, Mode::Plain);
    assert_ne!(d.conn_id(), conn_id);
    place(&mut d, buy()).expect("another connection places with its own PacketID");
    // Three orders placed by c (first, own, blocking) and one by d rest; the replays
    // placed nothing.
    let resting = rt!(
        c,
        get_order_list,
        trd_get_order_list,
        pb::trd_get_order_list::C2s { header: h, filter_status_list: vec![5], ..Default::default() }
    )
    .expect("orders")
    .order_list;
    assert_eq!(resting.len(), 4, "{resting:#?}");
}

// ---- 5. typed model ----------------------------------------------------------------

#[test]
fn typed_conversions_of_real_replies() {
    let (sim, broker) = sim_and_broker(Mode::Plain, BrokerConfig::relaxed());
    broker.set_price("HK.00700", 380.0).expect("price");
    broker.set_price("US.AAPL", 190.0).expect("price");
    broker.set_price("SH.600519", 1600.0).expect("price");
    let mut c = Client::connect(&sim, Mode::Plain);
    subscribe(&mut c, vec![ids::HK_SIM]);

    // Accounts.
    let accs = rt!(
        c,
        get_acc_list,
        trd_get_acc_list,
        pb::trd_get_acc_list::C2s { user_id: 0, trd_category: None, need_general_sec_account: Some(true) }
    )
    .expect("accounts");
    let accounts: Vec<Account> = accs.acc_list.iter().map(Account::from).collect();
    let hk = accounts.iter().find(|a| a.acc_id == ids::HK_REAL).expect("HK_REAL");
    assert_eq!(
        (hk.env, hk.security_firm, hk.acc_type),
        (TrdEnv::Real, SecurityFirm::FutuSecurities, TrdAccType::Margin)
    );
    assert_eq!(hk.trd_market_auth, vec![TrdMarket::Hk, TrdMarket::Us, TrdMarket::Hkcc]);
    let us = accounts.iter().find(|a| a.acc_id == ids::US_REAL).expect("US_REAL");
    assert_eq!(us.security_firm, SecurityFirm::FutuInc);
    let sim_acc = accounts.iter().find(|a| a.acc_id == ids::HK_SIM).expect("HK_SIM");
    assert!(sim_acc.is_simulate() && sim_acc.has_market(TrdMarket::Hk));
    assert_eq!(sim_acc.default_ref().to_pb_header(), hk_sim());

    // An order and its pushes.
    let h = hk_sim();
    let placed = place(&mut c, order_c2s(h, TrdSide::Buy, OrderType::Market, "HK.00700", 200.0, 0.0)).expect("buy");
    let oid = placed.order_id_ex.expect("id");
    let p = c.pushes(3);
    let submitted = Order::from(p[0].order());
    assert_eq!((submitted.order_status, submitted.fill_qty), (OrderStatus::Submitted, 0.0));
    assert_eq!(Order::from(p[1].order()).order_status, OrderStatus::FilledAll);
    let pushed_fill = OrderFill::from(p[2].fill());
    let o = Order::from(&order(&mut c, h, &oid));
    assert_eq!(o.code.to_string(), "HK.00700");
    assert_eq!(o.code, code("HK.00700"));
    assert_eq!((o.trd_side, o.order_type, o.order_status), (TrdSide::Buy, OrderType::Market, OrderStatus::FilledAll));
    assert_eq!((o.trd_market, o.currency, o.time_in_force), (TrdMarket::Hk, Currency::Hkd, Some(TimeInForce::Day)));
    assert_eq!((o.qty, o.fill_qty, o.fill_avg_price, o.remaining_qty()), (200.0, 200.0, 380.0, 0.0));
    assert_eq!((o.name.as_str(), o.remark.as_str()), ("TENCENT", "trading test HK.00700"));
    assert_eq!(utc_time(o.create_timestamp.expect("createTimestamp")).get(..10), o.create_time.get(..10));

    let fills = fills_of(&mut c, h, &oid);
    let f = OrderFill::from(&fills[0]);
    assert_eq!(f, pushed_fill);
    assert_eq!((f.code.to_string(), f.trd_side, f.qty, f.price), ("HK.00700".to_string(), TrdSide::Buy, 200.0, 380.0));
    assert_eq!((f.status, f.trd_market), (Some(OrderFillStatus::Ok), TrdMarket::Hk));
    assert_eq!(f.order_id_ex.as_deref(), Some(oid.as_str()));

    let pos = Position::from(&position(&mut c, h, "HK.00700").expect("position"));
    assert_eq!((pos.code.to_string(), pos.position_side, pos.qty), ("HK.00700".to_string(), PositionSide::Long, 400.0));
    assert_eq!((pos.currency, pos.trd_market, pos.acc_id), (Currency::Hkd, TrdMarket::Hk, Some(ids::HK_SIM)));

    let fu = Funds::from(&funds(&mut c, h));
    assert_eq!(fu.currency, Currency::Hkd);
    assert!(fu.total_assets > fu.cash && fu.market_val > 0.0, "{fu:?}");

    let mq = MaxTrdQtys::from(&max_qtys(&mut c, h, "HK.00700", 380.0));
    assert_eq!(mq.max_position_sell, 400.0);

    let fee = rt!(
        c,
        get_order_fee,
        trd_get_order_fee,
        pb::trd_get_order_fee::C2s { header: h, order_id_ex_list: vec![oid.clone()] }
    )
    .expect("fee");
    let fee = OrderFee::from(&fee.order_fee_list[0]);
    assert_eq!(fee.order_id_ex, oid);
    assert!(fee.fee_list.iter().any(|i| i.title == "Commission" && i.value > 0.0), "{fee:?}");

    let flows = rt!(
        c,
        get_flow_summary,
        trd_flow_summary,
        pb::trd_flow_summary::C2s {
            header: h,
            clearing_date: o.create_time.get(..10).expect("a dated createTime").to_string(),
            ..Default::default()
        }
    )
    .expect("flows");
    let flows: Vec<CashFlow> = flows.flow_summary_info_list.iter().map(CashFlow::from).collect();
    let flow = flows.iter().find(|f| f.remark.as_deref().is_some_and(|r| r.contains(&oid))).expect("flow");
    assert_eq!((flow.direction, flow.currency), (CashFlowDirection::Out, Currency::Hkd));

    let ratios = rt!(
        c,
        get_margin_ratio,
        trd_get_margin_ratio,
        pb::trd_get_margin_ratio::C2s { header: h, security_list: vec![code("HK.00700").to_pb_security()] }
    )
    .expect("margin");
    let mr = MarginRatio::from(&ratios.margin_ratio_info_list[0]);
    assert_eq!((mr.code.to_string(), mr.is_long_permit), ("HK.00700".to_string(), Some(true)));

    // US and A-share codes get their own prefixes and currencies.
    let ush = header(TrdEnv::Simulate, ids::US_SIM, TrdMarket::Us);
    let us_order = place(&mut c, order_c2s(ush, TrdSide::Buy, OrderType::Market, "US.AAPL", 3.0, 0.0)).expect("aapl");
    let uo = Order::from(&order(&mut c, ush, us_order.order_id_ex.as_deref().expect("id")));
    assert_eq!(
        (uo.code.to_string(), uo.currency, uo.trd_market),
        ("US.AAPL".to_string(), Currency::Usd, TrdMarket::Us)
    );
    let cnh = header(TrdEnv::Simulate, ids::CN_SIM, TrdMarket::Cn);
    let cn_order = place(&mut c, order_c2s(cnh, TrdSide::Buy, OrderType::Market, "SH.600519", 100.0, 0.0)).expect("cn");
    let cno = Order::from(&order(&mut c, cnh, cn_order.order_id_ex.as_deref().expect("id")));
    assert_eq!((cno.code.to_string(), cno.currency), ("SH.600519".to_string(), Currency::Cnh));
    assert_eq!(cno.order_status, OrderStatus::FilledAll);

    // A combo order: strategy and legs.
    let combo = rt!(
        c,
        place_combo_order,
        trd_place_combo_order,
        pb::trd_place_combo_order::C2s {
            header: ush,
            combo_legs: vec![
                leg("US.AAPL271217C200000", TrdSide::Buy, 1.0),
                leg("US.AAPL271217C220000", TrdSide::Sell, 1.0)
            ],
            qty: 2.0,
            order_type: OrderType::Market.into(),
            ..Default::default()
        }
    )
    .expect("combo");
    let co = Order::from(&order(&mut c, ush, combo.order_id_ex.as_deref().expect("id")));
    assert_eq!((co.strategy_type, co.order_status), (OptionStrategyType::Spread, OrderStatus::FilledAll));
    let legs: Vec<(String, TrdSide)> = co.combo_legs.iter().map(|l| (l.code.to_string(), l.side)).collect();
    assert_eq!(
        legs,
        [("US.AAPL271217C200000".to_string(), TrdSide::Buy), ("US.AAPL271217C220000".to_string(), TrdSide::Sell)]
    );
}
