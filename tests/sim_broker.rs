//! The simulator's broker, driven directly through the `TradeHandler` seam: requests
//! encoded with prost, pushes captured by a recording `PushSink`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ftapi::pb::{self, common::PacketId, trd_common, Protocol, RequestEnvelope, ResponseEnvelope};
use ftapi::sim::accounts::{default_ids as ids, BrokerConfig};
use ftapi::sim::{Broker, ConnInfo, PushSink, TradeHandler};
use parking_lot::Mutex;
use prost::Message;

// ---- harness -----------------------------------------------------------------------

#[derive(Default)]
struct Recorder {
    pushes: Mutex<Vec<(u32, Vec<u8>)>>,
}

impl PushSink for Recorder {
    fn push(&self, proto_id: u32, plain_body: Vec<u8>) -> bool {
        self.pushes.lock().push((proto_id, plain_body));
        true
    }
}

impl Recorder {
    fn take(&self) -> Vec<Pushed> {
        std::mem::take(&mut *self.pushes.lock())
            .into_iter()
            .map(|(id, body)| match id {
                2208 => {
                    let r = pb::trd_update_order::Response::decode(body.as_slice()).unwrap();
                    assert_eq!(r.ret_type, 0);
                    let s = r.s2c.unwrap();
                    Pushed::Order(s.header, s.order)
                }
                2218 => {
                    let r = pb::trd_update_order_fill::Response::decode(body.as_slice()).unwrap();
                    assert_eq!(r.ret_type, 0);
                    let s = r.s2c.unwrap();
                    Pushed::Fill(s.header, s.order_fill)
                }
                other => panic!("unexpected push {other}"),
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Pushed {
    Order(trd_common::TrdHeader, trd_common::Order),
    Fill(trd_common::TrdHeader, trd_common::OrderFill),
}

struct Client {
    conn: ConnInfo,
    rec: Arc<Recorder>,
    serial: u32,
}

impl Client {
    fn new(conn_id: u64) -> Client {
        let rec = Arc::new(Recorder::default());
        let conn = ConnInfo { conn_id, login_user_id: 10_000_001, sink: rec.clone() };
        Client { conn, rec, serial: 1000 }
    }

    fn next_packet(&mut self) -> PacketId {
        self.serial += 1;
        PacketId { conn_id: self.conn.conn_id, serial_no: self.serial }
    }

    fn call<P: Protocol>(&self, b: &Broker, c2s: <P::Request as RequestEnvelope>::C2s) -> P::Response {
        let body = P::Request::from_c2s(c2s).encode_to_vec();
        let out = b.handle(&self.conn, P::PROTO_ID, &body).expect("a trading protocol");
        P::Response::decode(out.as_slice()).expect("a decodable response")
    }

    fn ok<P: Protocol>(
        &self,
        b: &Broker,
        c2s: <P::Request as RequestEnvelope>::C2s,
    ) -> <P::Response as ResponseEnvelope>::S2c {
        let r = self.call::<P>(b, c2s);
        assert_eq!(r.ret_type(), 0, "{} failed: {}", P::NAME, r.ret_msg());
        r.into_s2c().expect("s2c")
    }

    fn err<P: Protocol>(&self, b: &Broker, c2s: <P::Request as RequestEnvelope>::C2s) -> String {
        let r = self.call::<P>(b, c2s);
        assert_eq!(r.ret_type(), -1, "{} should fail", P::NAME);
        assert!(r.s2c().is_none());
        r.ret_msg().to_string()
    }

    fn unlock(&self, b: &Broker) {
        self.ok::<pb::proto::UnlockTrade>(
            b,
            pb::trd_unlock_trade::C2s { unlock: true, pwd_md5: Some(md5("123456")), security_firm: None },
        );
    }

    fn subscribe(&self, b: &Broker, accs: &[u64]) {
        self.ok::<pb::proto::SubAccPush>(b, pb::trd_sub_acc_push::C2s { acc_id_list: accs.to_vec() });
    }

    fn place(&mut self, b: &Broker, o: Order) -> pb::trd_place_order::Response {
        let c2s = self.place_c2s(o);
        self.call::<pb::proto::PlaceOrder>(b, c2s)
    }

    fn place_ok(&mut self, b: &Broker, o: Order) -> pb::trd_place_order::S2c {
        let r = self.place(b, o);
        assert_eq!(r.ret_type, 0, "place failed: {:?}", r.ret_msg);
        r.s2c.unwrap()
    }

    fn place_err(&mut self, b: &Broker, o: Order) -> String {
        let r = self.place(b, o);
        assert_eq!(r.ret_type, -1, "place should fail");
        r.ret_msg.unwrap_or_default()
    }

    fn place_c2s(&mut self, o: Order) -> pb::trd_place_order::C2s {
        pb::trd_place_order::C2s {
            packet_id: self.next_packet(),
            header: hdr(o.env, o.acc, o.market),
            trd_side: o.side,
            order_type: o.order_type,
            code: o.code.to_string(),
            qty: o.qty,
            price: Some(o.price),
            adjust_price: Some(false),
            adjust_side_and_limit: Some(0.0),
            sec_market: o.sec_market,
            remark: o.remark,
            time_in_force: Some(0),
            fill_outside_rth: Some(false),
            session: Some(0),
            ..Default::default()
        }
    }

    fn modify(
        &mut self,
        b: &Broker,
        env: i32,
        acc: u64,
        market: i32,
        id_ex: &str,
        op: i32,
    ) -> pb::trd_modify_order::Response {
        let c2s = pb::trd_modify_order::C2s {
            packet_id: self.next_packet(),
            header: hdr(env, acc, market),
            order_id: 0,
            modify_order_op: op,
            for_all: Some(false),
            order_id_ex: Some(id_ex.to_string()),
            ..Default::default()
        };
        self.call::<pb::proto::ModifyOrder>(b, c2s)
    }
}

#[derive(Clone)]
struct Order {
    env: i32,
    acc: u64,
    market: i32,
    code: &'static str,
    sec_market: Option<i32>,
    side: i32,
    order_type: i32,
    qty: f64,
    price: f64,
    remark: Option<String>,
}

const REAL: i32 = 1;
const SIM: i32 = 0;
const BUY: i32 = 1;
const SELL: i32 = 2;
const LIMIT: i32 = 1;
const MARKET: i32 = 2;
const HK: i32 = 1;
const US: i32 = 2;

#[allow(clippy::too_many_arguments)]
fn order(
    env: i32,
    acc: u64,
    market: i32,
    code: &'static str,
    side: i32,
    order_type: i32,
    qty: f64,
    price: f64,
) -> Order {
    Order { env, acc, market, code, sec_market: None, side, order_type, qty, price, remark: None }
}

fn hk_sim(code: &'static str, side: i32, order_type: i32, qty: f64, price: f64) -> Order {
    order(SIM, ids::HK_SIM, HK, code, side, order_type, qty, price)
}

fn hdr(env: i32, acc: u64, market: i32) -> trd_common::TrdHeader {
    trd_common::TrdHeader { trd_env: env, acc_id: acc, trd_market: market, jp_acc_type: None }
}

fn md5(s: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn broker() -> Broker {
    Broker::new(BrokerConfig::relaxed().with_rate_limits(false)).unwrap()
}

fn funds(c: &Client, b: &Broker, env: i32, acc: u64, market: i32) -> trd_common::Funds {
    c.ok::<pb::proto::GetFunds>(
        b,
        pb::trd_get_funds::C2s { header: hdr(env, acc, market), currency: Some(1), ..Default::default() },
    )
    .funds
    .unwrap()
}

fn positions(c: &Client, b: &Broker, env: i32, acc: u64, market: i32) -> Vec<trd_common::Position> {
    c.ok::<pb::proto::GetPositionList>(
        b,
        pb::trd_get_position_list::C2s { header: hdr(env, acc, market), ..Default::default() },
    )
    .position_list
}

fn orders(c: &Client, b: &Broker, env: i32, acc: u64, market: i32) -> Vec<trd_common::Order> {
    c.ok::<pb::proto::GetOrderList>(
        b,
        pb::trd_get_order_list::C2s { header: hdr(env, acc, market), ..Default::default() },
    )
    .order_list
}

fn order_by_ex(c: &Client, b: &Broker, env: i32, acc: u64, market: i32, ex: &str) -> trd_common::Order {
    let list = c
        .ok::<pb::proto::GetOrderList>(
            b,
            pb::trd_get_order_list::C2s {
                header: hdr(env, acc, market),
                filter_conditions: Some(trd_common::TrdFilterConditions {
                    order_id_ex_list: vec![ex.to_string()],
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .order_list;
    assert_eq!(list.len(), 1);
    list[0].clone()
}

fn time_str(secs_from_now: f64) -> String {
    // UTC (the default clock offset), second precision.
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() + secs_from_now;
    let secs = t.floor() as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60)
}

fn civil(days: i64) -> (i64, u32, u32) {
    // Walk from the epoch by years and months: slow but obviously right.
    let mut y = 1970i64;
    let mut rem = days;
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    loop {
        let len = if leap(y) { 366 } else { 365 };
        if rem < len {
            break;
        }
        rem -= len;
        y += 1;
    }
    let lens = [31, if leap(y) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut m = 0;
    while rem >= lens[m] {
        rem -= lens[m];
        m += 1;
    }
    (y, m as u32 + 1, rem as u32 + 1)
}

// ---- accounts, unlock, subscription --------------------------------------------------

#[test]
fn acc_list_filters_by_category_and_universal_flag() {
    let b = broker();
    let c = Client::new(1);
    let all = c.ok::<pb::proto::GetAccList>(
        &b,
        pb::trd_get_acc_list::C2s { user_id: 0, trd_category: None, need_general_sec_account: Some(true) },
    );
    assert_eq!(all.acc_list.len(), 9);
    let sec = c.ok::<pb::proto::GetAccList>(
        &b,
        pb::trd_get_acc_list::C2s { user_id: 0, trd_category: Some(1), need_general_sec_account: Some(true) },
    );
    let sec_ids: Vec<u64> = sec.acc_list.iter().map(|a| a.acc_id).collect();
    assert_eq!(sec_ids, vec![ids::HK_REAL, ids::US_REAL, ids::HK_SIM, ids::US_SIM, ids::CN_SIM]);
    let hk = &sec.acc_list[0];
    assert_eq!(hk.trd_env, 1);
    assert_eq!(hk.trd_market_auth_list, vec![1, 2, 4]);
    assert_eq!(hk.security_firm, Some(1));
    assert_eq!(hk.acc_type, Some(2));
    assert!(hk.card_num.is_some() && hk.uni_card_num.is_some());
    assert_eq!(hk.acc_status, Some(0));
    assert_eq!(hk.acc_role, Some(1));
    assert_eq!(sec.acc_list[1].security_firm, Some(2));
    let sim = &sec.acc_list[2];
    assert_eq!((sim.trd_env, sim.sim_acc_type, sim.security_firm), (0, Some(1), None));

    // Without needGeneralSecAccount the universal account is not listed.
    let no_general = c.ok::<pb::proto::GetAccList>(
        &b,
        pb::trd_get_acc_list::C2s { user_id: 0, trd_category: Some(1), need_general_sec_account: Some(false) },
    );
    assert!(no_general.acc_list.iter().all(|a| a.acc_id != ids::HK_REAL));
    assert_eq!(no_general.acc_list.len(), 4);

    let fut = c.ok::<pb::proto::GetAccList>(
        &b,
        pb::trd_get_acc_list::C2s { user_id: 0, trd_category: Some(2), need_general_sec_account: Some(false) },
    );
    let fut_ids: Vec<u64> = fut.acc_list.iter().map(|a| a.acc_id).collect();
    assert_eq!(fut_ids, vec![ids::FUTURES_REAL, ids::FUT_HK_SIM, ids::FUT_US_SIM, ids::FUT_SG_SIM]);
    assert_eq!(fut.acc_list[1].trd_market_auth_list, vec![10]);
    assert_eq!(fut.acc_list[1].sim_acc_type, Some(3));
    let crypto = c.ok::<pb::proto::GetAccList>(
        &b,
        pb::trd_get_acc_list::C2s { user_id: 0, trd_category: Some(3), need_general_sec_account: Some(true) },
    );
    assert!(crypto.acc_list.is_empty());
}

#[test]
fn unlock_is_opend_wide_and_checks_the_md5() {
    let b = broker();
    let mut a = Client::new(1);
    let mut other = Client::new(2);
    let buy = order(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 100.0, 300.0);

    let msg = a.place_err(&b, buy.clone());
    assert!(msg.contains("unlock"), "{msg}");

    let bad = a.err::<pb::proto::UnlockTrade>(
        &b,
        pb::trd_unlock_trade::C2s { unlock: true, pwd_md5: Some(md5("654321")), security_firm: Some(1) },
    );
    assert!(bad.contains("incorrect trade password"), "{bad}");
    let missing = a.err::<pb::proto::UnlockTrade>(
        &b,
        pb::trd_unlock_trade::C2s { unlock: true, pwd_md5: None, security_firm: None },
    );
    assert!(missing.contains("pwdMD5"));
    let unknown_firm = a.err::<pb::proto::UnlockTrade>(
        &b,
        pb::trd_unlock_trade::C2s { unlock: true, pwd_md5: Some(md5("123456")), security_firm: Some(7) },
    );
    assert!(unknown_firm.contains("security firm"));

    // Upper-case hex is accepted too.
    a.ok::<pb::proto::UnlockTrade>(
        &b,
        pb::trd_unlock_trade::C2s { unlock: true, pwd_md5: Some(md5("123456").to_uppercase()), security_firm: Some(1) },
    );
    assert!(b.is_unlocked(1));
    // OpenD-wide: the other connection may trade too.
    assert!(b.is_unlocked(2));
    a.place_ok(&b, buy.clone());
    other.place_ok(&b, buy.clone());

    // Unlocked for FutuSecurities only: the FutuInc account stays locked.
    let us = order(REAL, ids::US_REAL, US, "AAPL", BUY, LIMIT, 1.0, 100.0);
    assert!(a.place_err(&b, us.clone()).contains("unlock"));

    // Simulated trading needs no unlock.
    other.place_ok(&b, hk_sim("00700", BUY, LIMIT, 100.0, 300.0));

    // Locking from any connection locks every connection.
    other.ok::<pb::proto::UnlockTrade>(
        &b,
        pb::trd_unlock_trade::C2s { unlock: false, pwd_md5: Some(String::new()), security_firm: Some(1) },
    );
    assert!(a.place_err(&b, buy.clone()).contains("unlock"));
    assert!(other.place_err(&b, buy.clone()).contains("unlock"));

    // Unlocking with firm 0 covers every firm; closing the connection that unlocked
    // locks nothing.
    a.unlock(&b);
    a.place_ok(&b, us);
    b.disconnected(1);
    assert!(b.is_unlocked(2));
    other.place_ok(&b, buy);
}

#[test]
fn subscription_is_full_replacement_and_routes_pushes() {
    let b = broker();
    let mut a = Client::new(1);
    let watcher = Client::new(2);
    let bystander = Client::new(3);
    a.subscribe(&b, &[ids::HK_SIM, ids::US_SIM]);
    a.subscribe(&b, &[ids::US_SIM]);
    assert_eq!(b.subscriptions(1), vec![ids::US_SIM]);
    watcher.subscribe(&b, &[ids::HK_SIM]);
    bystander.subscribe(&b, &[ids::US_SIM]);
    let e = a.err::<pb::proto::SubAccPush>(&b, pb::trd_sub_acc_push::C2s { acc_id_list: vec![42] });
    assert!(e.contains("42"));
    assert_eq!(b.subscriptions(1), vec![ids::US_SIM], "a failed request changes nothing");

    a.place_ok(&b, hk_sim("00700", BUY, MARKET, 100.0, 0.0));
    assert!(a.rec.take().is_empty(), "the placing connection is not subscribed to HK_SIM");
    assert!(bystander.rec.take().is_empty());
    let got = watcher.rec.take();
    assert_eq!(got.len(), 3);
    match &got[0] {
        Pushed::Order(h, o) => {
            assert_eq!((h.trd_env, h.acc_id, h.trd_market), (SIM, ids::HK_SIM, HK));
            assert_eq!(o.order_status, 5);
        }
        other => panic!("{other:?}"),
    }
    // Unsubscribing with an empty list stops pushes.
    watcher.subscribe(&b, &[]);
    a.place_ok(&b, hk_sim("00700", BUY, MARKET, 100.0, 0.0));
    assert!(watcher.rec.take().is_empty());
    // A disconnect forgets the subscription.
    bystander.subscribe(&b, &[ids::HK_SIM]);
    b.disconnected(3);
    assert!(b.subscriptions(3).is_empty());
    a.place_ok(&b, hk_sim("00700", BUY, MARKET, 100.0, 0.0));
    assert!(bystander.rec.take().is_empty());
    assert!(b.set_price("HK.99999", 1.0).is_err());
    assert!(b.set_price("00700", 1.0).is_err());
    assert!(b.set_price("HK.00700", -1.0).is_err());
}

#[test]
fn header_checks() {
    let b = broker();
    let mut c = Client::new(1);
    let h = |env, acc, m| pb::trd_get_funds::C2s { header: hdr(env, acc, m), ..Default::default() };
    assert!(c.err::<pb::proto::GetFunds>(&b, h(SIM, 999, HK)).contains("999"));
    assert!(c.err::<pb::proto::GetFunds>(&b, h(REAL, ids::HK_SIM, HK)).contains("trdEnv"));
    assert!(c.err::<pb::proto::GetFunds>(&b, h(SIM, ids::HK_SIM, US)).contains("trdMarket"));
    c.ok::<pb::proto::GetFunds>(&b, h(REAL, ids::HK_REAL, 4));
    // Code of another market than the header's.
    let mut o = hk_sim("AAPL", BUY, LIMIT, 1.0, 100.0);
    o.sec_market = Some(2);
    assert!(c.place_err(&b, o).contains("cannot be traded"));
}

#[test]
fn replay_protection() {
    let b = broker();
    let mut c = Client::new(77);
    let mut c2s = c.place_c2s(hk_sim("00700", BUY, LIMIT, 100.0, 300.0));
    c2s.packet_id.conn_id = 78;
    let r = c.call::<pb::proto::PlaceOrder>(&b, c2s.clone());
    assert_eq!(r.ret_type, -1);
    assert!(r.ret_msg.unwrap().contains("connID"));
    c2s.packet_id.conn_id = 77;
    assert_eq!(c.call::<pb::proto::PlaceOrder>(&b, c2s.clone()).ret_type, 0);
    let again = c.call::<pb::proto::PlaceOrder>(&b, c2s.clone());
    assert_eq!(again.ret_type, -1);
    assert!(again.ret_msg.unwrap().contains("Duplicate packetID"));
    // The same serial on another connection is fine.
    let other = Client::new(79);
    c2s.packet_id.conn_id = 79;
    assert_eq!(other.call::<pb::proto::PlaceOrder>(&b, c2s).ret_type, 0);
    assert_eq!(orders(&c, &b, SIM, ids::HK_SIM, HK).iter().filter(|o| o.order_status == 5).count(), 2);
}

// ---- orders and fills --------------------------------------------------------------

#[test]
fn market_order_fills_at_once_and_updates_everything() {
    let b = broker();
    let mut c = Client::new(1);
    c.subscribe(&b, &[ids::HK_SIM]);
    let px = b.set_price("HK.00700", 400.0).unwrap();
    assert_eq!(px, 400.0);
    let before = funds(&c, &b, SIM, ids::HK_SIM, HK);
    let pos_before = positions(&c, &b, SIM, ids::HK_SIM, HK);
    assert_eq!(pos_before.len(), 1);
    assert_eq!(pos_before[0].qty, 200.0);

    let mut o = hk_sim("00700", BUY, MARKET, 300.0, 0.0);
    o.remark = Some("first".into());
    let placed = c.place_ok(&b, o);
    let ex = placed.order_id_ex.clone().unwrap();
    assert!(placed.order_id.unwrap() > 0);
    assert_eq!(placed.header.acc_id, ids::HK_SIM);

    let pushes = c.rec.take();
    assert_eq!(pushes.len(), 3, "{pushes:?}");
    let Pushed::Order(_, submitted) = &pushes[0] else { panic!() };
    assert_eq!(submitted.order_status, 5);
    assert_eq!(submitted.order_id_ex, ex);
    assert_eq!(submitted.fill_qty, Some(0.0));
    let Pushed::Order(_, filled) = &pushes[1] else { panic!() };
    assert_eq!(filled.order_status, 11);
    assert_eq!(filled.fill_qty, Some(300.0));
    assert_eq!(filled.fill_avg_price, Some(400.0));
    assert_eq!(filled.remark.as_deref(), Some("first"));
    assert_eq!(filled.code, "00700");
    assert_eq!(filled.name, "TENCENT");
    assert_eq!(filled.sec_market, Some(1));
    assert_eq!(filled.trd_market, Some(1));
    assert_eq!(filled.currency, Some(1));
    assert_eq!(filled.create_time.len(), "YYYY-MM-DD HH:MM:SS.mmm".len());
    let Pushed::Fill(h, fill) = &pushes[2] else { panic!() };
    assert_eq!(h.trd_market, HK);
    assert_eq!((fill.qty, fill.price, fill.trd_side), (300.0, 400.0, BUY));
    assert_eq!(fill.order_id_ex.as_deref(), Some(ex.as_str()));
    assert_eq!(fill.counter_broker_id, Some(9999));

    let after = funds(&c, &b, SIM, ids::HK_SIM, HK);
    let fee = c
        .ok::<pb::proto::GetOrderFee>(
            &b,
            pb::trd_get_order_fee::C2s { header: hdr(SIM, ids::HK_SIM, HK), order_id_ex_list: vec![ex.clone()] },
        )
        .order_fee_list;
    assert_eq!(fee.len(), 1);
    let fee_amount = fee[0].fee_amount.unwrap();
    assert!(fee_amount > 0.0);
    assert!(fee[0].fee_list.iter().any(|f| f.title.as_deref() == Some("Commission")));
    let spent = before.cash - after.cash;
    assert!((spent - (120_000.0 + fee_amount)).abs() < 0.02, "spent {spent}, fee {fee_amount}");
    assert!((after.market_val - before.market_val - 120_000.0).abs() < 0.01);

    let pos = positions(&c, &b, SIM, ids::HK_SIM, HK);
    assert_eq!(pos[0].qty, 500.0);
    assert_eq!(pos[0].td_buy_qty, Some(300.0));
    // Average cost: (200 x 300 + 300 x 400) / 500.
    assert_eq!(pos[0].average_cost_price, Some(360.0));

    let fills = c
        .ok::<pb::proto::GetOrderFillList>(
            &b,
            pb::trd_get_order_fill_list::C2s { header: hdr(SIM, ids::HK_SIM, HK), ..Default::default() },
        )
        .order_fill_list;
    assert_eq!(fills.len(), 1, "seeded fills are days old and not today's");
    assert_eq!(fills[0].qty, 300.0);

    // The fill created a cash-flow entry today.
    let flows = c
        .ok::<pb::proto::FlowSummary>(
            &b,
            pb::trd_flow_summary::C2s {
                header: hdr(SIM, ids::HK_SIM, HK),
                clearing_date: String::new(),
                ..Default::default()
            },
        )
        .flow_summary_info_list;
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].cash_flow_direction, Some(2));
    assert!((flows[0].cash_flow_amount.unwrap() - spent).abs() < 0.02);
    let inflows = c
        .ok::<pb::proto::FlowSummary>(
            &b,
            pb::trd_flow_summary::C2s {
                header: hdr(SIM, ids::HK_SIM, HK),
                clearing_date: String::new(),
                cash_flow_direction: Some(1),
                ..Default::default()
            },
        )
        .flow_summary_info_list;
    assert!(inflows.is_empty());

    // Sell it all back: the position shrinks, cash comes back.
    c.place_ok(&b, hk_sim("00700", SELL, MARKET, 500.0, 0.0));
    assert!(positions(&c, &b, SIM, ids::HK_SIM, HK).is_empty());
    let end = funds(&c, &b, SIM, ids::HK_SIM, HK);
    assert_eq!(end.market_val, 0.0);
    assert!(end.realized_pl.unwrap() > 0.0, "bought 200 at 300, sold at 400");
}

#[test]
fn limit_orders_rest_then_fill_in_chunks() {
    let b = broker();
    let mut c = Client::new(1);
    c.subscribe(&b, &[ids::US_SIM]);
    b.set_price("US.AAPL", 200.0).unwrap();
    // Below the market: rests.
    let placed = c.place_ok(&b, order(SIM, ids::US_SIM, US, "AAPL", BUY, LIMIT, 25.0, 190.0));
    let ex = placed.order_id_ex.unwrap();
    let p = c.rec.take();
    assert_eq!(p.len(), 1);
    assert_eq!(order_by_ex(&c, &b, SIM, ids::US_SIM, US, &ex).order_status, 5);
    let frozen = funds(&c, &b, SIM, ids::US_SIM, US).frozen_cash;
    assert!((frozen - 25.0 * 190.0).abs() < 0.01);

    // The price crosses: fills 10 (the chunk: 10 lots of 1) per matching round at 189.5.
    b.set_price("US.AAPL", 189.5).unwrap();
    let o = order_by_ex(&c, &b, SIM, ids::US_SIM, US, &ex);
    assert_eq!((o.order_status, o.fill_qty), (10, Some(10.0)));
    assert_eq!(o.fill_avg_price, Some(189.5));
    b.set_price("US.AAPL", 189.0).unwrap();
    b.set_price("US.AAPL", 189.0).unwrap();
    let o = order_by_ex(&c, &b, SIM, ids::US_SIM, US, &ex);
    assert_eq!((o.order_status, o.fill_qty), (11, Some(25.0)));
    let kinds: Vec<String> = c
        .rec
        .take()
        .iter()
        .map(|p| match p {
            Pushed::Order(_, o) => format!("O{}:{}", o.order_status, o.fill_qty.unwrap_or(0.0)),
            Pushed::Fill(_, f) => format!("F{}", f.qty),
        })
        .collect();
    assert_eq!(kinds, vec!["O10:10", "F10", "O10:20", "F10", "O11:25", "F5"]);
    assert_eq!(funds(&c, &b, SIM, ids::US_SIM, US).frozen_cash, 0.0);

    // A marketable limit buy fills at the (better) market price.
    let placed = c.place_ok(&b, order(SIM, ids::US_SIM, US, "AAPL", BUY, LIMIT, 5.0, 195.0));
    let o = order_by_ex(&c, &b, SIM, ids::US_SIM, US, &placed.order_id_ex.unwrap());
    assert_eq!((o.order_status, o.fill_avg_price), (11, Some(189.0)));
    assert_eq!(o.price, Some(195.0));
}

#[test]
fn ticks_move_prices_deterministically_and_match() {
    // Ticks read the seeded tape at the market clock's now: the same seed is the same
    // tape, and an accelerated clock (an hour per second, in HK's morning session)
    // moves the price between ticks.
    let at: ftapi::sim::calendar::ClockSpec = "2026-12-01T10:00:00+08:00x3600".parse().unwrap();
    let a = Broker::new(BrokerConfig::relaxed().with_rate_limits(false).with_clock(at)).unwrap();
    let b = Broker::new(BrokerConfig::relaxed().with_rate_limits(false).with_clock(at)).unwrap();
    let t = ftapi::sim::calendar::parse_rfc3339("2026-12-01T10:30:00+08:00").unwrap();
    let (ta, tb) = (a.tape().unwrap(), b.tape().unwrap());
    assert_eq!(ta.price_at("HK.00700", t), tb.price_at("HK.00700", t));
    assert_eq!(ta.bars("US.ESmain", 0, t as i64).len(), tb.bars("US.ESmain", 0, t as i64).len());
    assert_eq!(a.price("HK.00700"), Some(380.0), "the start price is the price at the start");
    std::thread::sleep(Duration::from_millis(300));
    a.tick();
    assert!(a.price("HK.00700").is_some_and(|p| p > 0.0));
    // Any one later instant may be back at 380.0 on the tick grid; an hour of them is not.
    let start = ftapi::sim::calendar::parse_rfc3339("2026-12-01T10:00:00+08:00").unwrap();
    let moved = (1..=12).any(|k| ta.price_at("HK.00700", start + 300.0 * k as f64) != Some(380.0));
    assert!(moved, "an hour of market moved the price");
    let other_seed = Broker::new(BrokerConfig::relaxed().with_seed(99).with_clock(at)).unwrap();
    assert_ne!(other_seed.tape().unwrap().price_at("HK.00700", t), ta.price_at("HK.00700", t));

    // A marketable sell far below the market fills one chunk at once, more on each tick.
    let mut c = Client::new(1);
    let placed = c.place_ok(&a, order(SIM, ids::US_SIM, US, "AAPL", SELL, LIMIT, 100.0, 1.0));
    let ex = placed.order_id_ex.unwrap();
    let o = order_by_ex(&c, &a, SIM, ids::US_SIM, US, &ex);
    assert_eq!((o.order_status, o.fill_qty), (10, Some(10.0)));
    a.tick();
    assert_eq!(order_by_ex(&c, &a, SIM, ids::US_SIM, US, &ex).fill_qty, Some(20.0));
    a.set_price("US.AAPL", 100.0).unwrap();
    assert_eq!(order_by_ex(&c, &a, SIM, ids::US_SIM, US, &ex).fill_qty, Some(30.0));
    let placed = c.place_ok(&a, order(SIM, ids::US_SIM, US, "AAPL", BUY, LIMIT, 1.0, 150.0));
    assert_eq!(order_by_ex(&c, &a, SIM, ids::US_SIM, US, &placed.order_id_ex.unwrap()).order_status, 11);
}

#[test]
fn background_ticker_runs_and_stops_on_drop() {
    // Prices follow the market clock: ten simulated minutes a second, in the US session.
    let clock = "2026-12-01T10:00:00-05:00x600".parse().unwrap();
    let b = Broker::new(BrokerConfig::relaxed().with_tick_interval_ms(2).with_clock(clock)).unwrap();
    let start = b.price("US.ESmain");
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.price("US.ESmain") == start {
        assert!(Instant::now() < deadline, "the ticker never moved a price");
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(b); // joins the ticker thread; a hang here fails the test run
}

#[test]
fn order_validation_errors() {
    let b = broker();
    let mut c = Client::new(1);
    b.set_price("HK.00700", 400.0).unwrap();
    let lot = c.place_err(&b, hk_sim("00700", BUY, LIMIT, 150.0, 400.0));
    assert!(lot.contains("lot size 100"), "{lot}");
    assert!(c.place_err(&b, hk_sim("99999", BUY, LIMIT, 100.0, 400.0)).contains("Unknown stock code"));
    assert!(c.place_err(&b, hk_sim("00700", BUY, LIMIT, 0.0, 400.0)).contains("Invalid quantity"));
    assert!(c.place_err(&b, hk_sim("00700", BUY, LIMIT, f64::NAN, 400.0)).contains("Invalid quantity"));
    assert!(c.place_err(&b, hk_sim("00700", BUY, LIMIT, 100.0, 0.0)).contains("Invalid price"));
    assert!(c.place_err(&b, hk_sim("00700", 0, LIMIT, 100.0, 400.0)).contains("trdSide"));
    assert!(c.place_err(&b, hk_sim("00700", BUY, 16, 100.0, 400.0)).contains("not supported"));
    let tick = c.place_err(&b, hk_sim("00700", BUY, LIMIT, 100.0, 400.1));
    assert!(tick.contains("tick"), "{tick}");
    let power = c.place_err(&b, hk_sim("00700", BUY, LIMIT, 100_000.0, 400.0));
    assert!(power.contains("Insufficient buying power"), "{power}");
    let pos = c.place_err(&b, hk_sim("00700", SELL, LIMIT, 300.0, 400.0));
    assert!(pos.contains("Insufficient position"), "{pos}");
    let pos2 = c.place_err(&b, hk_sim("09988", SELL, LIMIT, 100.0, 80.0));
    assert!(pos2.contains("Insufficient position"));
    let mut long = hk_sim("00700", BUY, LIMIT, 100.0, 300.0);
    long.remark = Some("x".repeat(65));
    assert!(c.place_err(&b, long.clone()).contains("64 bytes"));
    long.remark = Some("é".repeat(32));
    c.place_ok(&b, long);
    assert!(c.place_err(&b, order(SIM, ids::US_SIM, US, "AAPL", BUY, 5, 1.0, 100.0)).contains("only available for HK"));

    // adjustPrice snaps to the tick in the requested direction.
    let mut c2s = c.place_c2s(hk_sim("00700", BUY, LIMIT, 100.0, 300.1));
    c2s.adjust_price = Some(true);
    c2s.adjust_side_and_limit = Some(0.01);
    let placed = c.ok::<pb::proto::PlaceOrder>(&b, c2s);
    let o = order_by_ex(&c, &b, SIM, ids::HK_SIM, HK, &placed.order_id_ex.unwrap());
    assert_eq!(o.price, Some(300.2));

    // Pending sells count against the position.
    c.place_ok(&b, hk_sim("00700", SELL, LIMIT, 200.0, 500.0));
    assert!(c.place_err(&b, hk_sim("00700", SELL, LIMIT, 100.0, 500.0)).contains("Insufficient position"));
    // A code with its market prefix and an explicit secMarket both resolve.
    let mut us = order(SIM, ids::US_SIM, US, "US.AAPL", BUY, LIMIT, 1.0, 100.0);
    c.place_ok(&b, us.clone());
    us.code = "AAPL";
    us.sec_market = Some(2);
    c.place_ok(&b, us);
}

#[test]
fn modify_cancel_disable_enable_delete() {
    let b = broker();
    let mut c = Client::new(1);
    c.subscribe(&b, &[ids::HK_SIM, ids::US_SIM]);
    b.set_price("HK.00700", 400.0).unwrap();
    let ex = c.place_ok(&b, hk_sim("00700", BUY, LIMIT, 200.0, 390.0)).order_id_ex.unwrap();
    c.rec.take();

    // Normal: new price and quantity.
    let mut m = pb::trd_modify_order::C2s {
        packet_id: c.next_packet(),
        header: hdr(SIM, ids::HK_SIM, HK),
        order_id: 0,
        modify_order_op: 1,
        for_all: Some(false),
        qty: Some(300.0),
        price: Some(391.0),
        order_id_ex: Some(ex.clone()),
        ..Default::default()
    };
    let r = c.ok::<pb::proto::ModifyOrder>(&b, m.clone());
    assert_eq!(r.order_id_ex.as_deref(), Some(ex.as_str()));
    let o = order_by_ex(&c, &b, SIM, ids::HK_SIM, HK, &ex);
    assert_eq!((o.qty, o.price, o.order_status), (300.0, Some(391.0), 5));
    assert_eq!(c.rec.take().len(), 1, "modify pushes the order");
    // Bad lot, bad tick.
    m.packet_id = c.next_packet();
    m.qty = Some(350.0);
    assert!(c.err::<pb::proto::ModifyOrder>(&b, m.clone()).contains("lot size"));
    m.packet_id = c.next_packet();
    m.qty = Some(300.0);
    m.price = Some(391.1);
    assert!(c.err::<pb::proto::ModifyOrder>(&b, m.clone()).contains("tick"));

    // Disable, enable, cancel, delete.
    assert_eq!(c.modify(&b, SIM, ids::HK_SIM, HK, &ex, 3).ret_type, 0);
    assert_eq!(order_by_ex(&c, &b, SIM, ids::HK_SIM, HK, &ex).order_status, 22);
    b.set_price("HK.00700", 380.0).unwrap();
    assert_eq!(order_by_ex(&c, &b, SIM, ids::HK_SIM, HK, &ex).fill_qty, Some(0.0), "disabled orders do not trade");
    assert_eq!(c.modify(&b, SIM, ids::HK_SIM, HK, &ex, 3).ret_type, -1);
    let delete_working = c.modify(&b, SIM, ids::HK_SIM, HK, &ex, 4);
    assert_eq!(delete_working.ret_type, 0);
    // Enabling re-runs matching: the price is below the limit, so a chunk fills.
    let o = order_by_ex(&c, &b, SIM, ids::HK_SIM, HK, &ex);
    assert_eq!((o.order_status, o.fill_qty), (11, Some(300.0)), "300 shares = 3 lots, below the 10-lot chunk");
    let r = c.modify(&b, SIM, ids::HK_SIM, HK, &ex, 2);
    assert_eq!(r.ret_type, -1);
    assert!(r.ret_msg.unwrap().contains("already filled"));

    let ex2 = c.place_ok(&b, hk_sim("00700", BUY, LIMIT, 100.0, 300.0)).order_id_ex.unwrap();
    let fee = c
        .ok::<pb::proto::GetOrderFee>(
            &b,
            pb::trd_get_order_fee::C2s { header: hdr(SIM, ids::HK_SIM, HK), order_id_ex_list: vec![ex2.clone()] },
        )
        .order_fee_list;
    let amount = fee[0].fee_amount.unwrap();
    assert!(amount == 0.0 && amount.is_sign_positive(), "an unfilled order costs nothing: {amount}");
    assert!(fee[0].fee_list.is_empty());
    assert_eq!(c.modify(&b, SIM, ids::HK_SIM, HK, &ex2, 5).ret_type, -1, "working orders cannot be deleted");
    assert_eq!(c.modify(&b, SIM, ids::HK_SIM, HK, &ex2, 2).ret_type, 0);
    assert_eq!(order_by_ex(&c, &b, SIM, ids::HK_SIM, HK, &ex2).order_status, 15);
    assert_eq!(c.modify(&b, SIM, ids::HK_SIM, HK, &ex2, 5).ret_type, 0);
    assert_eq!(order_by_ex(&c, &b, SIM, ids::HK_SIM, HK, &ex2).order_status, 23);
    let nf = c.modify(&b, SIM, ids::HK_SIM, HK, "NOPE", 2);
    assert!(nf.ret_msg.unwrap().contains("Order not found"));
    let bad_op = c.modify(&b, SIM, ids::HK_SIM, HK, &ex2, 9);
    assert_eq!(bad_op.ret_type, -1);

    // US orders: only Normal and Cancel.
    let us = c.place_ok(&b, order(SIM, ids::US_SIM, US, "AAPL", BUY, LIMIT, 1.0, 100.0)).order_id_ex.unwrap();
    let r = c.modify(&b, SIM, ids::US_SIM, US, &us, 3);
    assert!(r.ret_msg.unwrap().contains("US orders"));
    assert_eq!(c.modify(&b, SIM, ids::US_SIM, US, &us, 2).ret_type, 0);
    // Another account's order is not found.
    assert_eq!(c.modify(&b, SIM, ids::HK_SIM, HK, &us, 2).ret_type, -1);
}

#[test]
fn cancel_all_with_market_filter() {
    let b = broker();
    let mut c = Client::new(1);
    c.unlock(&b);
    b.set_price("HK.00700", 400.0).unwrap();
    b.set_price("US.AAPL", 200.0).unwrap();
    let hk1 = c.place_ok(&b, order(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 100.0, 300.0)).order_id_ex.unwrap();
    let hk2 = c.place_ok(&b, order(REAL, ids::HK_REAL, HK, "09988", BUY, LIMIT, 100.0, 50.0)).order_id_ex.unwrap();
    let us1 = c.place_ok(&b, order(REAL, ids::HK_REAL, US, "AAPL", BUY, LIMIT, 1.0, 100.0)).order_id_ex.unwrap();
    let all = pb::trd_modify_order::C2s {
        packet_id: c.next_packet(),
        header: hdr(REAL, ids::HK_REAL, HK),
        order_id: 0,
        modify_order_op: 2,
        for_all: Some(true),
        trd_market: Some(HK),
        ..Default::default()
    };
    let r = c.ok::<pb::proto::ModifyOrder>(&b, all);
    assert_eq!(r.order_id, 0);
    let st = |c: &Client, ex: &str| order_by_ex(c, &b, REAL, ids::HK_REAL, HK, ex).order_status;
    assert_eq!((st(&c, &hk1), st(&c, &hk2), st(&c, &us1)), (15, 15, 5));
    let packet_id = c.next_packet();
    let all = pb::trd_modify_order::C2s {
        packet_id,
        header: hdr(REAL, ids::HK_REAL, HK),
        order_id: 0,
        modify_order_op: 2,
        for_all: Some(true),
        trd_market: Some(0),
        ..Default::default()
    };
    c.ok::<pb::proto::ModifyOrder>(&b, all);
    assert_eq!(st(&c, &us1), 15);
}

#[test]
fn order_list_filters() {
    let b = broker();
    let mut c = Client::new(1);
    c.unlock(&b);
    b.set_price("HK.00700", 400.0).unwrap();
    let a = c.place_ok(&b, order(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 100.0, 300.0));
    let f = c.place_ok(&b, order(REAL, ids::HK_REAL, HK, "00700", BUY, MARKET, 100.0, 0.0));
    let us = c.place_ok(&b, order(REAL, ids::HK_REAL, US, "AAPL", BUY, LIMIT, 1.0, 10.0));
    let h = hdr(REAL, ids::HK_REAL, HK);
    let q = |fc: Option<trd_common::TrdFilterConditions>, st: Vec<i32>| {
        c.ok::<pb::proto::GetOrderList>(
            &b,
            pb::trd_get_order_list::C2s {
                header: h,
                filter_conditions: fc,
                filter_status_list: st,
                refresh_cache: None,
            },
        )
        .order_list
    };
    assert_eq!(q(None, vec![]).len(), 3, "seeded orders are days old");
    let by_code =
        q(Some(trd_common::TrdFilterConditions { code_list: vec!["HK.00700".into()], ..Default::default() }), vec![]);
    assert_eq!(by_code.len(), 2);
    let by_id =
        q(Some(trd_common::TrdFilterConditions { id_list: vec![a.order_id.unwrap()], ..Default::default() }), vec![]);
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].order_id_ex, a.order_id_ex.clone().unwrap());
    let by_ex = q(
        Some(trd_common::TrdFilterConditions {
            order_id_ex_list: vec![f.order_id_ex.clone().unwrap(), us.order_id_ex.clone().unwrap()],
            ..Default::default()
        }),
        vec![],
    );
    assert_eq!(by_ex.len(), 2);
    assert_eq!(q(None, vec![11]).len(), 1);
    assert_eq!(q(None, vec![5, 10]).len(), 2);
    let by_market = q(Some(trd_common::TrdFilterConditions { filter_market: Some(US), ..Default::default() }), vec![]);
    assert_eq!(by_market.len(), 1);
    assert_eq!(by_market[0].code, "AAPL");
    let future_window =
        q(Some(trd_common::TrdFilterConditions { begin_time: Some(time_str(3600.0)), ..Default::default() }), vec![]);
    assert!(future_window.is_empty());
    let past_window = q(
        Some(trd_common::TrdFilterConditions {
            begin_time: Some(time_str(-3600.0)),
            end_time: Some(time_str(3600.0)),
            ..Default::default()
        }),
        vec![],
    );
    assert_eq!(past_window.len(), 3);
    let bad = c.err::<pb::proto::GetOrderList>(
        &b,
        pb::trd_get_order_list::C2s {
            header: h,
            filter_conditions: Some(trd_common::TrdFilterConditions {
                begin_time: Some("yesterday".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    assert!(bad.contains("beginTime"));
}

#[test]
fn history_needs_a_window_and_has_seeded_data() {
    let b = broker();
    let mut c = Client::new(1);
    let h = hdr(REAL, ids::HK_REAL, HK);
    let window = |begin: f64, end: f64| trd_common::TrdFilterConditions {
        begin_time: Some(time_str(begin)),
        end_time: Some(time_str(end)),
        ..Default::default()
    };
    let e = c.err::<pb::proto::GetHistoryOrderList>(
        &b,
        pb::trd_get_history_order_list::C2s {
            header: h,
            filter_conditions: Default::default(),
            filter_status_list: vec![],
        },
    );
    assert!(e.contains("beginTime"));
    let e = c.err::<pb::proto::GetHistoryOrderFillList>(
        &b,
        pb::trd_get_history_order_fill_list::C2s {
            header: h,
            filter_conditions: trd_common::TrdFilterConditions {
                begin_time: Some(time_str(-86400.0)),
                ..Default::default()
            },
        },
    );
    assert!(e.contains("endTime"));

    let ninety = 90.0 * 86_400.0;
    let hist = c
        .ok::<pb::proto::GetHistoryOrderList>(
            &b,
            pb::trd_get_history_order_list::C2s {
                header: h,
                filter_conditions: window(-ninety, 60.0),
                filter_status_list: vec![],
            },
        )
        .order_list;
    // Three seeded buys (one per starting position) and one cancelled sell.
    assert_eq!(hist.len(), 4);
    assert_eq!(hist.iter().filter(|o| o.order_status == 11).count(), 3);
    assert_eq!(hist.iter().filter(|o| o.order_status == 15).count(), 1);
    let codes: Vec<&str> = hist.iter().filter(|o| o.order_status == 11).map(|o| o.code.as_str()).collect();
    assert_eq!(codes, vec!["00700", "09988", "AAPL"], "newest first");
    let fills = c
        .ok::<pb::proto::GetHistoryOrderFillList>(
            &b,
            pb::trd_get_history_order_fill_list::C2s { header: h, filter_conditions: window(-ninety, 60.0) },
        )
        .order_fill_list;
    assert_eq!(fills.len(), 3);
    let tencent = fills.iter().find(|f| f.code == "00700").unwrap();
    assert_eq!((tencent.qty, tencent.price), (500.0, 320.0));
    // Only the last day: nothing seeded there.
    let recent = c
        .ok::<pb::proto::GetHistoryOrderList>(
            &b,
            pb::trd_get_history_order_list::C2s {
                header: h,
                filter_conditions: window(-86_000.0, 60.0),
                filter_status_list: vec![],
            },
        )
        .order_list;
    assert!(recent.is_empty());
    // Today's orders show up in history too, and the status filter applies.
    c.unlock(&b);
    c.place_ok(&b, order(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 100.0, 300.0));
    let recent = c
        .ok::<pb::proto::GetHistoryOrderList>(
            &b,
            pb::trd_get_history_order_list::C2s {
                header: h,
                filter_conditions: window(-86_000.0, 60.0),
                filter_status_list: vec![5],
            },
        )
        .order_list;
    assert_eq!(recent.len(), 1);
}

#[test]
fn positions_and_their_filters() {
    let b = broker();
    let c = Client::new(1);
    b.set_price("HK.00700", 352.0).unwrap(); // +10 % on the 320 cost
    b.set_price("HK.09988", 72.0).unwrap(); // -10 % on the 80 cost
    b.set_price("US.AAPL", 170.0).unwrap(); // flat
    let all = positions(&c, &b, REAL, ids::HK_REAL, HK);
    assert_eq!(all.len(), 3);
    let t = all.iter().find(|p| p.code == "00700").unwrap();
    assert_eq!((t.qty, t.can_sell_qty, t.price), (500.0, 500.0, 352.0));
    assert_eq!(t.val, 176_000.0);
    assert_eq!(t.pl_val, 16_000.0);
    assert!((t.pl_ratio.unwrap() - 0.10).abs() < 1e-9);
    assert_eq!(t.position_side, 0);
    assert_eq!(t.currency, Some(1));
    assert_eq!(t.trd_market, Some(1));
    assert_eq!(t.acc_id, Some(ids::HK_REAL));
    let aapl = all.iter().find(|p| p.code == "AAPL").unwrap();
    assert_eq!((aapl.currency, aapl.trd_market, aapl.sec_market), (Some(2), Some(2), Some(2)));

    let q = |fc: Option<trd_common::TrdFilterConditions>, min: Option<f64>, max: Option<f64>| {
        c.ok::<pb::proto::GetPositionList>(
            &b,
            pb::trd_get_position_list::C2s {
                header: hdr(REAL, ids::HK_REAL, HK),
                filter_conditions: fc,
                filter_pl_ratio_min: min,
                filter_pl_ratio_max: max,
                ..Default::default()
            },
        )
        .position_list
        .into_iter()
        .map(|p| p.code)
        .collect::<Vec<_>>()
    };
    assert_eq!(q(None, Some(0.05), None), vec!["00700"]);
    assert_eq!(q(None, None, Some(-0.05)), vec!["09988"]);
    assert_eq!(q(None, Some(-0.05), Some(0.05)), vec!["AAPL"]);
    assert_eq!(
        q(Some(trd_common::TrdFilterConditions { code_list: vec!["09988".into()], ..Default::default() }), None, None),
        vec!["09988"]
    );
    assert_eq!(
        q(Some(trd_common::TrdFilterConditions { id_list: vec![t.position_id], ..Default::default() }), None, None),
        vec!["00700"]
    );
    assert_eq!(
        q(Some(trd_common::TrdFilterConditions { filter_market: Some(US), ..Default::default() }), None, None),
        vec!["AAPL"]
    );

    // Funds of the universal account in the requested currency.
    let hkd = funds(&c, &b, REAL, ids::HK_REAL, HK);
    let usd = c
        .ok::<pb::proto::GetFunds>(
            &b,
            pb::trd_get_funds::C2s { header: hdr(REAL, ids::HK_REAL, HK), currency: Some(2), ..Default::default() },
        )
        .funds
        .unwrap();
    assert_eq!(hkd.currency, Some(1));
    assert_eq!(usd.currency, Some(2));
    assert!((hkd.cash / 7.8 - usd.cash).abs() < 0.01);
    assert!((hkd.total_assets - hkd.cash - hkd.market_val).abs() < 0.02);
    assert_eq!(hkd.cash_info_list.len(), 1);
    assert!(hkd.market_info_list.iter().any(|m| m.trd_market == Some(US)));
    // A non-universal account ignores the requested currency.
    let us_funds = funds(&c, &b, REAL, ids::US_REAL, US);
    assert_eq!(us_funds.currency, Some(2));
    assert_eq!(us_funds.is_pdt, Some(false));
}

#[test]
fn max_trade_quantities() {
    let b = broker();
    let c = Client::new(1);
    b.set_price("HK.00700", 400.0).unwrap();
    let q = |acc, env, market, code: &str, price| {
        c.ok::<pb::proto::GetMaxTrdQtys>(
            &b,
            pb::trd_get_max_trd_qtys::C2s {
                header: hdr(env, acc, market),
                order_type: LIMIT,
                code: code.into(),
                price,
                ..Default::default()
            },
        )
        .max_trd_qtys
        .unwrap()
    };
    let m = q(ids::HK_SIM, SIM, HK, "00700", 400.0);
    // 1,000,000 HKD at 400 a share (plus a fee margin): 2400 shares = 24 lots.
    assert_eq!(m.max_cash_buy, 2400.0);
    assert_eq!(m.max_position_sell, 200.0);
    assert!(m.max_cash_and_margin_buy.unwrap() >= m.max_cash_buy);
    assert_eq!(m.max_cash_buy % 100.0, 0.0);
    let fut = q(ids::FUT_HK_SIM, SIM, 10, "HSImain", 0.0);
    assert_eq!(fut.max_cash_buy, 0.0);
    assert!(fut.max_cash_and_margin_buy.unwrap() > 0.0);
    assert!(fut.long_required_im.unwrap() > 0.0);
    let e = c.err::<pb::proto::GetMaxTrdQtys>(
        &b,
        pb::trd_get_max_trd_qtys::C2s {
            header: hdr(SIM, ids::HK_SIM, HK),
            order_type: 1,
            code: "XXXX".into(),
            price: 1.0,
            ..Default::default()
        },
    );
    assert!(e.contains("Unknown stock code"));
}

#[test]
fn futures_long_short_and_realized_pl() {
    let b = broker();
    let mut c = Client::new(1);
    b.set_price("HK.HSImain", 20_000.0).unwrap();
    let h = 10; // FUTURES_SIMULATE_HK
    c.place_ok(&b, order(SIM, ids::FUT_HK_SIM, h, "HSImain", SELL, MARKET, 2.0, 0.0));
    let pos = positions(&c, &b, SIM, ids::FUT_HK_SIM, h);
    assert_eq!((pos[0].qty, pos[0].position_side), (2.0, 1), "a short opened without holdings");
    b.set_price("HK.HSImain", 19_900.0).unwrap();
    let pos = positions(&c, &b, SIM, ids::FUT_HK_SIM, h);
    assert_eq!(pos[0].pl_val, 2.0 * 100.0 * 50.0);
    let before = funds(&c, &b, SIM, ids::FUT_HK_SIM, h);
    assert!(before.initial_margin.unwrap() > 0.0);
    c.place_ok(&b, order(SIM, ids::FUT_HK_SIM, h, "HSImain", BUY, MARKET, 2.0, 0.0));
    assert!(positions(&c, &b, SIM, ids::FUT_HK_SIM, h).is_empty());
    let after = funds(&c, &b, SIM, ids::FUT_HK_SIM, h);
    assert_eq!(after.realized_pl, Some(10_000.0));
    // Code of another futures market is refused in this account.
    let e = c.place_err(&b, order(SIM, ids::FUT_HK_SIM, h, "ESmain", BUY, MARKET, 1.0, 0.0));
    assert!(e.contains("cannot be traded"), "{e}");
    // Real futures account: trdMarket Futures.
    c.unlock(&b);
    c.place_ok(&b, order(REAL, ids::FUTURES_REAL, 5, "HSImain", BUY, LIMIT, 1.0, 19_000.0));
    let too_big = c.place_err(&b, order(REAL, ids::FUTURES_REAL, 5, "HSImain", BUY, LIMIT, 1000.0, 19_000.0));
    assert!(too_big.contains("Insufficient buying power"));
}

#[test]
fn stop_and_trailing_orders_trigger() {
    let b = broker();
    let mut c = Client::new(1);
    b.set_price("US.AAPL", 200.0).unwrap();
    let mut stop = c.place_c2s(order(SIM, ids::US_SIM, US, "AAPL", SELL, 10, 50.0, 0.0));
    stop.aux_price = Some(190.0);
    let ex = c.ok::<pb::proto::PlaceOrder>(&b, stop).order_id_ex.unwrap();
    b.set_price("US.AAPL", 195.0).unwrap();
    assert_eq!(order_by_ex(&c, &b, SIM, ids::US_SIM, US, &ex).order_status, 5);
    b.set_price("US.AAPL", 189.0).unwrap();
    let o = order_by_ex(&c, &b, SIM, ids::US_SIM, US, &ex);
    assert_eq!((o.order_status, o.fill_qty, o.aux_price), (11, Some(50.0), Some(190.0)));

    let missing_aux = c.place_err(&b, order(SIM, ids::US_SIM, US, "AAPL", SELL, 10, 10.0, 0.0));
    assert!(missing_aux.contains("auxPrice"));

    let mut trail = c.place_c2s(order(SIM, ids::US_SIM, US, "AAPL", SELL, 14, 10.0, 0.0));
    trail.trail_type = Some(2);
    trail.trail_value = Some(5.0);
    let ex = c.ok::<pb::proto::PlaceOrder>(&b, trail).order_id_ex.unwrap();
    b.set_price("US.AAPL", 200.0).unwrap();
    b.set_price("US.AAPL", 196.0).unwrap();
    assert_eq!(order_by_ex(&c, &b, SIM, ids::US_SIM, US, &ex).order_status, 5);
    b.set_price("US.AAPL", 194.9).unwrap();
    let o = order_by_ex(&c, &b, SIM, ids::US_SIM, US, &ex);
    assert_eq!((o.order_status, o.trail_type, o.trail_value), (11, Some(2), Some(5.0)));
}

#[test]
fn immediate_or_cancel_cancels_the_rest() {
    let b = broker();
    let mut c = Client::new(1);
    b.set_price("US.TSLA", 250.0).unwrap();
    let mut ioc = c.place_c2s(order(SIM, ids::US_SIM, US, "TSLA", BUY, LIMIT, 25.0, 260.0));
    ioc.time_in_force = Some(2);
    let ex = c.ok::<pb::proto::PlaceOrder>(&b, ioc).order_id_ex.unwrap();
    let o = order_by_ex(&c, &b, SIM, ids::US_SIM, US, &ex);
    assert_eq!((o.order_status, o.fill_qty), (14, Some(10.0)), "one 10-lot chunk, the rest cancelled");
    let mut gtd = c.place_c2s(order(SIM, ids::US_SIM, US, "TSLA", BUY, LIMIT, 1.0, 100.0));
    gtd.time_in_force = Some(3);
    assert!(c.err::<pb::proto::PlaceOrder>(&b, gtd).contains("expireTime"));
}

#[test]
fn combo_orders_and_their_max_quantities() {
    let b = broker();
    let mut c = Client::new(1);
    c.subscribe(&b, &[ids::US_SIM]);
    b.set_price("US.AAPL271217C200000", 25.0).unwrap();
    b.set_price("US.AAPL271217C220000", 18.0).unwrap();
    let leg = |code: &str, side| pb::qot_common::ComboLeg {
        security: pb::qot_common::Security { market: 11, code: code.into() },
        side: Some(side),
        qty_ratio: Some(1.0),
        position_id: None,
        pred_side: None,
    };
    let legs = vec![leg("AAPL271217C200000", BUY), leg("AAPL271217C220000", SELL)];
    let max = c
        .ok::<pb::proto::GetComboMaxTrdQtys>(
            &b,
            pb::trd_get_combo_max_trd_qtys::C2s {
                header: hdr(SIM, ids::US_SIM, US),
                combo_legs: legs.clone(),
                qty: 2.0,
                price: Some(7.5),
                order_type: LIMIT,
                order_id_ex: None,
            },
        )
        .max_trd_qtys
        .unwrap();
    assert_eq!(max.initial_margin_change, Some(1500.0));
    assert!(max.option_buy_power.unwrap() > 0.0);

    let packet_id = c.next_packet();
    let placed = c.ok::<pb::proto::PlaceComboOrder>(
        &b,
        pb::trd_place_combo_order::C2s {
            packet_id,
            header: hdr(SIM, ids::US_SIM, US),
            combo_legs: legs.clone(),
            qty: 2.0,
            price: Some(7.5),
            order_type: LIMIT,
            time_in_force: Some(0),
            expire_time: None,
            remark: Some(String::new()),
            quote_id: None,
        },
    );
    let ex = placed.order_id_ex.unwrap();
    let o = order_by_ex(&c, &b, SIM, ids::US_SIM, US, &ex);
    assert_eq!(o.order_status, 11, "net debit 7 is below the 7.5 limit");
    assert_eq!(o.combo_legs.len(), 2);
    assert_eq!(o.strategy_type, Some(4));
    let pushes = c.rec.take();
    let fills: Vec<_> = pushes
        .iter()
        .filter_map(|p| match p {
            Pushed::Fill(_, f) => Some((f.code.clone(), f.trd_side, f.qty, f.price)),
            _ => None,
        })
        .collect();
    assert_eq!(
        fills,
        vec![("AAPL271217C200000".to_string(), BUY, 2.0, 25.0), ("AAPL271217C220000".to_string(), SELL, 2.0, 18.0)]
    );
    let pos = positions(&c, &b, SIM, ids::US_SIM, US);
    let short_call = pos.iter().find(|p| p.code == "AAPL271217C220000").unwrap();
    assert_eq!((short_call.qty, short_call.position_side), (2.0, 1));

    let packet_id = c.next_packet();
    let unknown = c.err::<pb::proto::PlaceComboOrder>(
        &b,
        pb::trd_place_combo_order::C2s {
            packet_id,
            header: hdr(SIM, ids::US_SIM, US),
            combo_legs: vec![leg("NOPE", BUY)],
            qty: 1.0,
            price: Some(1.0),
            order_type: LIMIT,
            ..Default::default()
        },
    );
    assert!(unknown.contains("Unknown stock code"));
}

#[test]
fn margin_ratio_and_cash_flow_dates() {
    let b = broker();
    let c = Client::new(1);
    let info = c
        .ok::<pb::proto::GetMarginRatio>(
            &b,
            pb::trd_get_margin_ratio::C2s {
                header: hdr(REAL, ids::HK_REAL, HK),
                security_list: vec![
                    pb::qot_common::Security { market: 1, code: "00700".into() },
                    pb::qot_common::Security { market: 11, code: "AAPL".into() },
                ],
            },
        )
        .margin_ratio_info_list;
    assert_eq!(info.len(), 2);
    assert_eq!(info[1].security.code, "AAPL");
    assert_eq!(info[0].is_long_permit, Some(true));
    assert!(info[0].im_long_ratio.unwrap() > 0.0);
    let e = c.err::<pb::proto::GetMarginRatio>(
        &b,
        pb::trd_get_margin_ratio::C2s {
            header: hdr(REAL, ids::HK_REAL, HK),
            security_list: vec![pb::qot_common::Security { market: 1, code: "12345".into() }],
        },
    );
    assert!(e.contains("Unknown stock code"));

    // The seeded deposit ten days back.
    let day = &time_str(-10.0 * 86_400.0)[..10];
    let flows = c
        .ok::<pb::proto::FlowSummary>(
            &b,
            pb::trd_flow_summary::C2s {
                header: hdr(REAL, ids::HK_REAL, HK),
                clearing_date: day.into(),
                ..Default::default()
            },
        )
        .flow_summary_info_list;
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].cash_flow_type.as_deref(), Some("Deposit"));
    assert_eq!(flows[0].cash_flow_direction, Some(1));
    assert_eq!(flows[0].clearing_date.as_deref(), Some(day));
    let e = c.err::<pb::proto::FlowSummary>(
        &b,
        pb::trd_flow_summary::C2s {
            header: hdr(REAL, ids::HK_REAL, HK),
            clearing_date: "2024-13-01".into(),
            ..Default::default()
        },
    );
    assert!(e.contains("clearingDate"));
}

#[test]
fn rate_limits_apply_per_account_and_can_be_switched_off() {
    let b = Broker::new(BrokerConfig::relaxed()).unwrap();
    let mut c = Client::new(1);
    for _ in 0..15 {
        c.place_ok(&b, hk_sim("00700", BUY, LIMIT, 100.0, 300.0));
    }
    let e = c.place_err(&b, hk_sim("00700", BUY, LIMIT, 100.0, 300.0));
    assert!(e.contains("too frequent"), "{e}");
    // Another account has its own window.
    c.place_ok(&b, order(SIM, ids::US_SIM, US, "AAPL", BUY, LIMIT, 1.0, 100.0));
    for _ in 0..10 {
        c.unlock(&b);
    }
    let e = c.err::<pb::proto::UnlockTrade>(
        &b,
        pb::trd_unlock_trade::C2s { unlock: true, pwd_md5: Some(md5("123456")), security_firm: None },
    );
    assert!(e.contains("too frequent"));
    b.set_rate_limits_enabled(false);
    for _ in 0..10 {
        c.place_ok(&b, hk_sim("00700", BUY, LIMIT, 100.0, 300.0));
    }
}

#[test]
fn malformed_and_unknown_requests() {
    let b = broker();
    let c = Client::new(1);
    assert!(b.handle(&c.conn, 3004, &[]).is_none());
    assert!(b.handle(&c.conn, 2208, &[]).is_none(), "pushes are not requests");
    let out = b.handle(&c.conn, 2202, &[0xff, 0xff, 0xff]).unwrap();
    let r = pb::trd_place_order::Response::decode(out.as_slice()).unwrap();
    assert_eq!(r.ret_type, -1);
    assert!(r.ret_msg.unwrap().contains("Failed to parse"));
}

#[test]
fn accounts_file_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sim-accounts.json");
    let mut cfg = BrokerConfig::from_json_file(path).unwrap();
    assert_eq!(cfg.accounts.len(), 6);
    assert_eq!(cfg.tick_interval_ms, 1000);
    cfg.tick_interval_ms = 0;
    let b = Broker::new(cfg).unwrap();
    assert_eq!(b.price("HK.01810"), Some(20.0));
    let c = Client::new(1);
    let pos = positions(&c, &b, REAL, ids::HK_REAL, HK);
    assert!(pos.iter().any(|p| p.code == "01810" && p.qty == 2000.0));
    let fut = positions(&c, &b, REAL, ids::FUTURES_REAL, 5);
    assert_eq!((fut[0].qty, fut[0].position_side), (1.0, 1));

    let dir = std::env::temp_dir().join(format!("ftapi-broker-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"accounts":[{"acc_id":1,"trd_env":"REAL","markets":["HK"],"positions":[{"code":"HK.77777","qty":100,"cost_price":1}]}]}"#).unwrap();
    let cfg = BrokerConfig::from_json_file(&bad).unwrap();
    assert!(Broker::new(cfg).unwrap_err().to_string().contains("unknown instrument"));
    std::fs::write(&bad, "{ not json").unwrap();
    assert!(BrokerConfig::from_json_file(&bad).is_err());
    assert!(BrokerConfig::from_json_file(dir.join("missing.json")).is_err());
    let _ = std::fs::remove_dir_all(&dir);

    // A custom password.
    let b = Broker::new(BrokerConfig::relaxed().with_trade_password("s3cret")).unwrap();
    c.err::<pb::proto::UnlockTrade>(
        &b,
        pb::trd_unlock_trade::C2s { unlock: true, pwd_md5: Some(md5("123456")), security_firm: None },
    );
    c.ok::<pb::proto::UnlockTrade>(
        &b,
        pb::trd_unlock_trade::C2s { unlock: true, pwd_md5: Some(md5("s3cret")), security_firm: None },
    );
}

#[test]
fn broker_is_shareable_across_threads() {
    fn is<T: Send + Sync>() {}
    is::<Broker>();
    let b = Arc::new(broker());
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let b = b.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = Client::new(100 + t);
                c.subscribe(&b, &[ids::US_SIM]);
                barrier.wait();
                for _ in 0..10 {
                    c.place_ok(&b, order(SIM, ids::US_SIM, US, "AAPL", BUY, MARKET, 1.0, 0.0));
                }
                barrier.wait();
                c.rec.take()
            })
        })
        .collect();
    for h in handles {
        // Every connection saw every order of the account, each as Submitted, Filled, fill.
        let pushes = h.join().unwrap();
        assert_eq!(pushes.len(), 120);
        for chunk in pushes.chunks(3) {
            match chunk {
                [Pushed::Order(_, a), Pushed::Order(_, b), Pushed::Fill(_, f)] => {
                    assert_eq!((a.order_status, b.order_status), (5, 11));
                    assert_eq!(a.order_id, b.order_id);
                    assert_eq!(f.order_id, Some(a.order_id));
                }
                other => panic!("pushes out of order: {other:?}"),
            }
        }
    }
}
