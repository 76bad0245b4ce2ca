//! The simulator's broker under OpenD's rules (the default, not relaxed): market hours
//! on a fixed simulated clock, the asynchronous order life cycle, paper-trading limits,
//! OpenD-wide unlock, the rate limits, market-local times, multi-currency cash, short
//! selling and the smaller points of docs/simulator.md. Driven through the
//! `TradeHandler` seam; no test depends on the wall-clock time of day.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ftapi::pb::{self, common::PacketId, trd_common, Protocol, RequestEnvelope, ResponseEnvelope};
use ftapi::sim::accounts::{default_ids as ids, AccTypeName, BrokerConfig};
use ftapi::sim::calendar::{parse_rfc3339, CalMarket, ClockSpec};
use ftapi::sim::{Broker, ConnInfo, PushSink, TradeHandler};
use parking_lot::Mutex;
use prost::Message;

const WAIT: Duration = Duration::from_secs(10);

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

#[derive(Debug, Clone)]
enum Pushed {
    Order(trd_common::Order),
    Fill(trd_common::OrderFill),
}

impl Recorder {
    fn snapshot(&self) -> Vec<Pushed> {
        self.pushes
            .lock()
            .iter()
            .map(|(id, body)| match id {
                2208 => {
                    Pushed::Order(pb::trd_update_order::Response::decode(body.as_slice()).unwrap().s2c.unwrap().order)
                }
                2218 => Pushed::Fill(
                    pb::trd_update_order_fill::Response::decode(body.as_slice()).unwrap().s2c.unwrap().order_fill,
                ),
                other => panic!("unexpected push {other}"),
            })
            .collect()
    }

    /// Waits until `f` holds for the pushes so far.
    fn wait(&self, what: &str, f: impl Fn(&[Pushed]) -> bool) -> Vec<Pushed> {
        let deadline = Instant::now() + WAIT;
        loop {
            let p = self.snapshot();
            if f(&p) {
                return p;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; pushes: {p:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

struct Client {
    conn: ConnInfo,
    rec: Arc<Recorder>,
    serial: std::cell::Cell<u32>,
}

const REAL: i32 = 1;
const SIM: i32 = 0;
const BUY: i32 = 1;
const SELL: i32 = 2;
const LIMIT: i32 = 1;
const MARKET: i32 = 2;
const STOP: i32 = 10;
const HK: i32 = 1;
const US: i32 = 2;
const HKCC: i32 = 4;
const FUTURES: i32 = 5;

fn hdr(env: i32, acc: u64, market: i32) -> trd_common::TrdHeader {
    trd_common::TrdHeader { trd_env: env, acc_id: acc, trd_market: market, jp_acc_type: None }
}

fn md5(s: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Client {
    fn new(conn_id: u64) -> Client {
        let rec = Arc::new(Recorder::default());
        Client { conn: ConnInfo { conn_id, login_user_id: 1, sink: rec.clone() }, rec, serial: std::cell::Cell::new(0) }
    }

    /// One request, answered, then reported as replied (as the session does).
    fn call<P: Protocol>(&self, b: &Broker, c2s: <P::Request as RequestEnvelope>::C2s) -> P::Response {
        let body = P::Request::from_c2s(c2s).encode_to_vec();
        let out = b.handle(&self.conn, P::PROTO_ID, &body).expect("a trading protocol");
        b.replied(&self.conn, P::PROTO_ID);
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

    /// A refusal: returns (errCode, retMsg).
    fn err<P: Protocol>(&self, b: &Broker, c2s: <P::Request as RequestEnvelope>::C2s) -> (i32, String) {
        let r = self.call::<P>(b, c2s);
        assert_eq!(r.ret_type(), -1, "{} should fail", P::NAME);
        (r.err_code(), r.ret_msg().to_string())
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

    fn packet(&self) -> PacketId {
        self.serial.set(self.serial.get() + 1);
        PacketId { conn_id: self.conn.conn_id, serial_no: self.serial.get() }
    }

    #[allow(clippy::too_many_arguments)]
    fn place_c2s(
        &self,
        env: i32,
        acc: u64,
        market: i32,
        code: &str,
        side: i32,
        order_type: i32,
        qty: f64,
        price: f64,
    ) -> pb::trd_place_order::C2s {
        // OpenD wants 0.02 s between two orders of an account.
        std::thread::sleep(Duration::from_millis(25));
        pb::trd_place_order::C2s {
            packet_id: self.packet(),
            header: hdr(env, acc, market),
            trd_side: side,
            order_type,
            code: code.to_string(),
            qty,
            price: Some(price),
            ..Default::default()
        }
    }

    fn modify_c2s(&self, env: i32, acc: u64, market: i32, id_ex: &str, op: i32) -> pb::trd_modify_order::C2s {
        std::thread::sleep(Duration::from_millis(45));
        pb::trd_modify_order::C2s {
            packet_id: self.packet(),
            header: hdr(env, acc, market),
            order_id: 0,
            modify_order_op: op,
            order_id_ex: Some(id_ex.to_string()),
            ..Default::default()
        }
    }
}

fn broker_at(clock: ClockSpec) -> Broker {
    Broker::new(BrokerConfig::default().with_clock(clock).with_fill_delay_ms(20)).unwrap()
}

fn at(s: &str) -> ClockSpec {
    ClockSpec::At { start: parse_rfc3339(s).unwrap(), speed: 1.0 }
}

fn order_of(c: &Client, b: &Broker, env: i32, acc: u64, market: i32, ex: &str) -> trd_common::Order {
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
    assert_eq!(list.len(), 1, "order {ex}");
    list[0].clone()
}

fn statuses(p: &[Pushed], ex: &str) -> Vec<i32> {
    p.iter()
        .filter_map(|x| match x {
            Pushed::Order(o) if o.order_id_ex == ex => Some(o.order_status),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------

#[test]
fn the_reply_comes_first_and_a_marketable_order_of_any_size_completes() {
    let b = broker_at(ClockSpec::Open);
    let c = Client::new(1);
    c.unlock(&b);
    c.subscribe(&b, &[ids::HK_REAL]);
    let price = b.price("HK.00700").unwrap();
    // 20 lots, marketable: no ticker runs, yet it fills completely.
    let c2s = c.place_c2s(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 2000.0, price + 10.0);
    let body = pb::trd_place_order::Request::from_c2s(c2s).encode_to_vec();
    let out = b.handle(&c.conn, pb::proto::PlaceOrder::PROTO_ID, &body).unwrap();
    let reply = pb::trd_place_order::Response::decode(out.as_slice()).unwrap();
    assert_eq!(reply.ret_type, 0, "{:?}", reply.ret_msg);
    let ex = reply.s2c.unwrap().order_id_ex.unwrap();
    // Nothing is pushed before the reply has been written.
    std::thread::sleep(Duration::from_millis(100));
    assert!(c.rec.snapshot().is_empty(), "pushes before the reply: {:?}", c.rec.snapshot());
    b.replied(&c.conn, pb::proto::PlaceOrder::PROTO_ID);
    let pushes = c.rec.wait("the fill", |p| p.iter().any(|x| matches!(x, Pushed::Fill(_))));
    // SUBMITTING -> SUBMITTED -> FILLED_ALL, then the fill.
    assert_eq!(statuses(&pushes, &ex), vec![2, 5, 11]);
    let filled = pushes.iter().position(|x| matches!(x, Pushed::Order(o) if o.order_status == 11)).unwrap();
    let fill = pushes.iter().position(|x| matches!(x, Pushed::Fill(_))).unwrap();
    assert!(filled < fill);
    let Pushed::Fill(f) = &pushes[fill] else { unreachable!() };
    assert_eq!(f.qty, 2000.0);
    assert_eq!(order_of(&c, &b, REAL, ids::HK_REAL, HK, &ex).fill_qty, Some(2000.0));
}

#[test]
fn a_resting_order_keeps_filling_without_a_ticker() {
    let b = broker_at(ClockSpec::Open);
    let c = Client::new(1);
    c.unlock(&b);
    c.subscribe(&b, &[ids::HK_REAL]);
    let price = b.price("HK.00700").unwrap();
    let s2c = c.ok::<pb::proto::PlaceOrder>(
        &b,
        c.place_c2s(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 3000.0, (price - 20.0).floor()),
    );
    let ex = s2c.order_id_ex.unwrap();
    c.rec.wait("SUBMITTED", |p| statuses(p, &ex).contains(&5));
    // The market comes down to the limit once: the order fills in chunks, one chunk
    // per fill delay, until done.
    // Past the first fill attempt (the order was not marketable then).
    std::thread::sleep(Duration::from_millis(100));
    b.set_price("HK.00700", price - 30.0).unwrap();
    let pushes = c.rec.wait("FILLED_ALL", |p| statuses(p, &ex).contains(&11));
    let fills: Vec<f64> = pushes
        .iter()
        .filter_map(|x| match x {
            Pushed::Fill(f) => Some(f.qty),
            _ => None,
        })
        .collect();
    assert_eq!(fills, vec![1000.0, 1000.0, 1000.0], "chunks of 10 lots");
    assert_eq!(statuses(&pushes, &ex), vec![2, 5, 10, 10, 11]);
}

#[test]
fn an_order_the_account_can_no_longer_afford_fails_by_push() {
    let mut cfg = BrokerConfig::default().with_clock(ClockSpec::Open).with_fill_delay_ms(300);
    cfg.accounts[3].cash = 40_000.0; // HK_SIM, a cash account here
    cfg.accounts[3].acc_type = Some(AccTypeName::Cash);
    let b = Broker::new(cfg).unwrap();
    let c = Client::new(1);
    c.subscribe(&b, &[ids::HK_SIM]);
    b.set_price("HK.00700", 380.0).unwrap();
    // 38,000 HKD plus fees fits at 380 ...
    let ex = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(SIM, ids::HK_SIM, HK, "00700", BUY, MARKET, 100.0, 0.0))
        .order_id_ex
        .unwrap();
    c.rec.wait("SUBMITTED", |p| statuses(p, &ex).contains(&5));
    // ... but the market jumps before the fill.
    b.set_price("HK.00700", 450.0).unwrap();
    let pushes = c.rec.wait("FAILED", |p| statuses(p, &ex).contains(&21));
    let failed = pushes
        .iter()
        .find_map(|x| match x {
            Pushed::Order(o) if o.order_id_ex == ex && o.order_status == 21 => Some(o.clone()),
            _ => None,
        })
        .unwrap();
    assert!(failed.last_err_msg.unwrap().contains("Insufficient buying power"));
    assert_eq!(failed.fill_qty, Some(0.0));
    assert!(b.cash(ids::HK_SIM).unwrap() > 39_000.0, "nothing was paid");
}

#[test]
fn market_hours_decide_what_trades() {
    // Saturday in Hong Kong: market orders are refused, limit orders wait.
    let b = broker_at(at("2026-12-05T10:00:00+08:00"));
    let c = Client::new(1);
    c.unlock(&b);
    c.subscribe(&b, &[ids::HK_REAL]);
    let price = b.price("HK.00700").unwrap();
    let (code, msg) =
        c.err::<pb::proto::PlaceOrder>(&b, c.place_c2s(REAL, ids::HK_REAL, HK, "00700", BUY, MARKET, 100.0, 0.0));
    assert_eq!(code, 1004, "{msg}");
    assert!(msg.contains("Market orders"), "{msg}");
    let ex = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 100.0, price + 10.0))
        .order_id_ex
        .unwrap();
    c.rec.wait("SUBMITTED", |p| statuses(p, &ex).contains(&5));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(order_of(&c, &b, REAL, ids::HK_REAL, HK, &ex).order_status, 5, "waits while the market is closed");

    // Half a second before the open: the waiting order fills when the session opens.
    let b = broker_at(at("2026-12-01T09:29:59.5+08:00"));
    let c = Client::new(1);
    c.unlock(&b);
    c.subscribe(&b, &[ids::HK_REAL]);
    let ex = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 100.0, price + 10.0))
        .order_id_ex
        .unwrap();
    c.rec.wait("the fill at the open", |p| statuses(p, &ex).contains(&11));
    assert_eq!(b.clock().phase(CalMarket::HkStock), ftapi::sim::calendar::Phase::Morning);
}

#[test]
fn day_orders_expire_at_the_close() {
    // 16:09:59 in Hong Kong, a second before the closing auction ends.
    let b = broker_at(at("2026-12-01T16:09:59+08:00"));
    let c = Client::new(1);
    c.unlock(&b);
    c.subscribe(&b, &[ids::HK_REAL]);
    let price = b.price("HK.00700").unwrap();
    let ex = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 100.0, price - 40.0))
        .order_id_ex
        .unwrap();
    let pushes = c.rec.wait("the expiry", |p| statuses(p, &ex).contains(&15));
    assert_eq!(statuses(&pushes, &ex), vec![2, 5, 15]);
}

#[test]
fn us_extended_hours_need_fill_outside_rth() {
    // 05:00 in New York: the pre-market session.
    let b = broker_at(at("2026-12-01T05:00:00-05:00"));
    let c = Client::new(1);
    c.unlock(&b);
    c.subscribe(&b, &[ids::US_REAL]);
    let price = b.price("US.AAPL").unwrap();
    let (code, _) =
        c.err::<pb::proto::PlaceOrder>(&b, c.place_c2s(REAL, ids::US_REAL, US, "AAPL", BUY, MARKET, 1.0, 0.0));
    assert_eq!(code, 1004);
    let regular_only = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(REAL, ids::US_REAL, US, "AAPL", BUY, LIMIT, 1.0, price + 1.0))
        .order_id_ex
        .unwrap();
    let mut c2s = c.place_c2s(REAL, ids::US_REAL, US, "AAPL", BUY, LIMIT, 1.0, price + 1.0);
    c2s.fill_outside_rth = Some(true);
    let outside = c.ok::<pb::proto::PlaceOrder>(&b, c2s).order_id_ex.unwrap();
    c.rec.wait("the extended-hours fill", |p| statuses(p, &outside).contains(&11));
    assert_eq!(order_of(&c, &b, REAL, ids::US_REAL, US, &regular_only).order_status, 5);
    // Times are New York local: 05:00-ish on 2026-12-01.
    let o = order_of(&c, &b, REAL, ids::US_REAL, US, &outside);
    assert!(o.create_time.starts_with("2026-12-01 05:00"), "{}", o.create_time);
}

#[test]
fn market_local_time_strings() {
    let b = broker_at(at("2026-12-01T10:00:00+08:00"));
    let c = Client::new(1);
    c.unlock(&b);
    let price = b.price("HK.00700").unwrap();
    let ex = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 100.0, price - 50.0))
        .order_id_ex
        .unwrap();
    let o = order_of(&c, &b, REAL, ids::HK_REAL, HK, &ex);
    assert!(o.create_time.starts_with("2026-12-01 10:00:0"), "{}", o.create_time);
    // The timestamp and the string agree.
    let ts = o.create_timestamp.unwrap();
    let expected = ts.floor() as i64 + 8 * 3600;
    let (y, m, d) = ftapi::sim::calendar::civil_from_days(expected.div_euclid(86_400));
    let sod = expected.rem_euclid(86_400);
    let want = format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
    assert_eq!(&o.create_time[..19], want);
    // A filter window in HK time finds it.
    let hist = c
        .ok::<pb::proto::GetHistoryOrderList>(
            &b,
            pb::trd_get_history_order_list::C2s {
                header: hdr(REAL, ids::HK_REAL, HK),
                filter_conditions: trd_common::TrdFilterConditions {
                    begin_time: Some("2026-12-01 09:59:00".into()),
                    end_time: Some("2026-12-01 10:01:00".into()),
                    ..Default::default()
                },
                filter_status_list: vec![],
            },
        )
        .order_list;
    assert_eq!(hist.len(), 1);
}

#[test]
fn paper_trading_has_the_paper_rules() {
    let b = broker_at(ClockSpec::Open);
    let c = Client::new(1);
    c.subscribe(&b, &[ids::HK_SIM, ids::US_SIM]);
    let hk = b.price("HK.00700").unwrap();
    // Only limit and market orders, DAY only.
    let mut stop = c.place_c2s(SIM, ids::HK_SIM, HK, "00700", SELL, STOP, 100.0, hk - 10.0);
    stop.aux_price = Some(hk - 10.0);
    let (code, msg) = c.err::<pb::proto::PlaceOrder>(&b, stop);
    assert_eq!(code, 1003, "{msg}");
    let mut gtc = c.place_c2s(SIM, ids::HK_SIM, HK, "00700", BUY, LIMIT, 100.0, hk - 10.0);
    gtc.time_in_force = Some(1);
    assert_eq!(c.err::<pb::proto::PlaceOrder>(&b, gtc).0, 1003);
    // A paper fill: order pushes, but no deal push.
    let ex = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(SIM, ids::HK_SIM, HK, "00700", BUY, MARKET, 100.0, 0.0))
        .order_id_ex
        .unwrap();
    let pushes = c.rec.wait("the paper fill", |p| statuses(p, &ex).contains(&11));
    std::thread::sleep(Duration::from_millis(100));
    assert!(!c.rec.snapshot().iter().any(|x| matches!(x, Pushed::Fill(_))), "{pushes:?}");
    // No disable / enable / delete, no cancel-all; modify and cancel are fine.
    let rest = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(SIM, ids::HK_SIM, HK, "00700", BUY, LIMIT, 100.0, hk - 40.0))
        .order_id_ex
        .unwrap();
    for op in [3, 4, 5] {
        let (code, msg) = c.err::<pb::proto::ModifyOrder>(&b, c.modify_c2s(SIM, ids::HK_SIM, HK, &rest, op));
        assert_eq!(code, 1003, "op {op}: {msg}");
    }
    let mut all = c.modify_c2s(SIM, ids::HK_SIM, HK, "", 2);
    all.for_all = Some(true);
    assert_eq!(c.err::<pb::proto::ModifyOrder>(&b, all).0, 1003);
    c.ok::<pb::proto::ModifyOrder>(&b, c.modify_c2s(SIM, ids::HK_SIM, HK, &rest, 2));
    // No deal, history deal, cash-flow or fee queries.
    let h = hdr(SIM, ids::HK_SIM, HK);
    let (code, _) =
        c.err::<pb::proto::GetOrderFillList>(&b, pb::trd_get_order_fill_list::C2s { header: h, ..Default::default() });
    assert_eq!(code, 1003);
    let window = trd_common::TrdFilterConditions {
        begin_time: Some("2000-01-01 00:00:00".into()),
        end_time: Some("2100-01-01 00:00:00".into()),
        ..Default::default()
    };
    let (code, _) = c.err::<pb::proto::GetHistoryOrderFillList>(
        &b,
        pb::trd_get_history_order_fill_list::C2s { header: h, filter_conditions: window },
    );
    assert_eq!(code, 1003);
    let (code, _) = c.err::<pb::proto::FlowSummary>(&b, pb::trd_flow_summary::C2s { header: h, ..Default::default() });
    assert_eq!(code, 1003);
    let (code, _) = c.err::<pb::proto::GetOrderFee>(
        &b,
        pb::trd_get_order_fee::C2s { header: h, order_id_ex_list: vec![ex.clone()] },
    );
    assert_eq!(code, 1003);
    // Short selling: US stocks yes, HK stocks no.
    let (code, msg) =
        c.err::<pb::proto::PlaceOrder>(&b, c.place_c2s(SIM, ids::HK_SIM, HK, "09988", SELL, LIMIT, 100.0, 1.0));
    assert_eq!(code, 1005, "{msg}");
    let short = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(SIM, ids::US_SIM, US, "TSLA", SELL, MARKET, 10.0, 0.0))
        .order_id_ex
        .unwrap();
    c.rec.wait("the short sale", |p| statuses(p, &short).contains(&11));
    let pos = c
        .ok::<pb::proto::GetPositionList>(
            &b,
            pb::trd_get_position_list::C2s { header: hdr(SIM, ids::US_SIM, US), ..Default::default() },
        )
        .position_list;
    let tsla = pos.iter().find(|p| p.code == "TSLA").expect("a TSLA position");
    assert_eq!((tsla.qty, tsla.position_side), (10.0, 1), "a short position");

    // A REAL account keeps the full set.
    c.unlock(&b);
    let real = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 100.0, hk - 40.0))
        .order_id_ex
        .unwrap();
    c.ok::<pb::proto::ModifyOrder>(&b, c.modify_c2s(REAL, ids::HK_REAL, HK, &real, 3));
    c.ok::<pb::proto::GetOrderFillList>(
        &b,
        pb::trd_get_order_fill_list::C2s { header: hdr(REAL, ids::HK_REAL, HK), ..Default::default() },
    );
}

#[test]
fn unlock_is_opend_wide() {
    let b = broker_at(ClockSpec::Open);
    let a = Client::new(1);
    let other = Client::new(2);
    a.unlock(&b);
    let hk = b.price("HK.00700").unwrap();
    other.ok::<pb::proto::PlaceOrder>(
        &b,
        other.place_c2s(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 100.0, hk - 40.0),
    );
    b.disconnected(1);
    other.ok::<pb::proto::PlaceOrder>(
        &b,
        other.place_c2s(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 100.0, hk - 40.0),
    );
    other.ok::<pb::proto::UnlockTrade>(
        &b,
        pb::trd_unlock_trade::C2s { unlock: false, pwd_md5: None, security_firm: None },
    );
    let (code, msg) = other.err::<pb::proto::PlaceOrder>(
        &b,
        other.place_c2s(REAL, ids::HK_REAL, HK, "00700", BUY, LIMIT, 100.0, hk - 40.0),
    );
    assert_eq!(code, 1002, "{msg}");
}

#[test]
fn rate_limits_intervals_and_queries() {
    let b = broker_at(ClockSpec::Open);
    let c = Client::new(1);
    let hk = b.price("HK.00700").unwrap();
    let first = c.place_c2s(SIM, ids::HK_SIM, HK, "00700", BUY, LIMIT, 100.0, hk - 40.0);
    let second = c.place_c2s(SIM, ids::HK_SIM, HK, "00700", BUY, LIMIT, 100.0, hk - 40.0);
    c.ok::<pb::proto::PlaceOrder>(&b, first);
    // Straight after: too soon (0.02 s between two orders of an account).
    let (code, msg) = c.err::<pb::proto::PlaceOrder>(&b, second);
    assert_eq!(code, 1001, "{msg}");
    assert!(msg.contains("0.02"), "{msg}");
    // History queries: 10 per 30 s per account.
    let q = |c: &Client| {
        c.call::<pb::proto::GetHistoryOrderList>(
            &b,
            pb::trd_get_history_order_list::C2s {
                header: hdr(SIM, ids::HK_SIM, HK),
                filter_conditions: trd_common::TrdFilterConditions {
                    begin_time: Some("2000-01-01".into()),
                    end_time: Some("2100-01-01".into()),
                    ..Default::default()
                },
                filter_status_list: vec![],
            },
        )
    };
    for i in 0..10 {
        assert_eq!(q(&c).ret_type, 0, "query {i}");
    }
    let r = q(&c);
    assert_eq!((r.ret_type, r.err_code), (-1, Some(1001)), "{:?}", r.ret_msg);
    // The cached order list is free, unless it asks for a refresh.
    let list = |refresh: bool| {
        c.call::<pb::proto::GetOrderList>(
            &b,
            pb::trd_get_order_list::C2s {
                header: hdr(SIM, ids::HK_SIM, HK),
                refresh_cache: Some(refresh),
                ..Default::default()
            },
        )
        .ret_type
    };
    for _ in 0..20 {
        assert_eq!(list(false), 0);
    }
    for _ in 0..10 {
        assert_eq!(list(true), 0);
    }
    assert_eq!(list(true), -1);
}

#[test]
fn multi_currency_cash_on_a_universal_account() {
    let b = broker_at(ClockSpec::Open);
    let c = Client::new(1);
    c.unlock(&b);
    c.subscribe(&b, &[ids::HK_REAL]);
    let before = b.cash_by_currency(ids::HK_REAL).unwrap();
    let hkd_before = before.iter().find(|(c, _)| *c == 1).unwrap().1;
    let ex = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(REAL, ids::HK_REAL, US, "AAPL", BUY, MARKET, 10.0, 0.0))
        .order_id_ex
        .unwrap();
    c.rec.wait("the USD fill", |p| statuses(p, &ex).contains(&11));
    let after = b.cash_by_currency(ids::HK_REAL).unwrap();
    let hkd_after = after.iter().find(|(c, _)| *c == 1).unwrap().1;
    let usd = after.iter().find(|(c, _)| *c == 2).expect("a USD balance").1;
    assert_eq!(hkd_after, hkd_before, "a USD trade leaves HKD alone");
    assert!(usd < 0.0, "USD paid: {usd}");
    // Funds list every currency and convert consistently.
    let funds = |ccy: i32| {
        c.ok::<pb::proto::GetFunds>(
            &b,
            pb::trd_get_funds::C2s { header: hdr(REAL, ids::HK_REAL, HK), currency: Some(ccy), ..Default::default() },
        )
        .funds
        .unwrap()
    };
    let (in_hkd, in_usd) = (funds(1), funds(2));
    assert!(in_hkd.cash_info_list.iter().any(|i| i.currency == Some(2)));
    assert!((in_hkd.cash / 7.8 - in_usd.cash).abs() < 0.02, "{} HKD vs {} USD", in_hkd.cash, in_usd.cash);
}

#[test]
fn short_selling_on_margin_accounts() {
    let mut cfg = BrokerConfig::default().with_clock(ClockSpec::Open).with_fill_delay_ms(20);
    cfg.accounts[1].acc_type = Some(AccTypeName::Cash); // US_REAL becomes a cash account
    let b = Broker::new(cfg).unwrap();
    let c = Client::new(1);
    c.unlock(&b);
    let max = |acc: u64, market: i32, code: &str| {
        c.ok::<pb::proto::GetMaxTrdQtys>(
            &b,
            pb::trd_get_max_trd_qtys::C2s {
                header: hdr(REAL, acc, market),
                order_type: LIMIT,
                code: code.into(),
                price: 100.0,
                ..Default::default()
            },
        )
        .max_trd_qtys
        .unwrap()
    };
    let margin = max(ids::HK_REAL, HK, "03690");
    assert!(margin.max_sell_short.unwrap() > 0.0, "{margin:?}");
    assert_eq!(max(ids::US_REAL, US, "NVDA").max_sell_short, Some(0.0));
    let ex = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(REAL, ids::HK_REAL, HK, "03690", SELL, MARKET, 100.0, 0.0))
        .order_id_ex
        .unwrap();
    c.subscribe(&b, &[ids::HK_REAL]);
    let deadline = Instant::now() + WAIT;
    while order_of(&c, &b, REAL, ids::HK_REAL, HK, &ex).order_status != 11 {
        assert!(Instant::now() < deadline, "the short sale did not fill");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (code, _) =
        c.err::<pb::proto::PlaceOrder>(&b, c.place_c2s(REAL, ids::US_REAL, US, "NVDA", SELL, LIMIT, 1.0, 100.0));
    assert_eq!(code, 1005);
}

#[test]
fn smaller_points() {
    let b = broker_at(ClockSpec::Open);
    let c = Client::new(1);
    c.unlock(&b);
    // An HK market order is DAY only.
    let mut gtc = c.place_c2s(REAL, ids::HK_REAL, HK, "00700", BUY, MARKET, 100.0, 0.0);
    gtc.time_in_force = Some(1);
    let (_, msg) = c.err::<pb::proto::PlaceOrder>(&b, gtc);
    assert!(msg.contains("GTC"), "{msg}");
    // A main-contract futures code is mapped to the current contract.
    let s2c = c.ok::<pb::proto::PlaceOrder>(
        &b,
        c.place_c2s(REAL, ids::FUTURES_REAL, FUTURES, "HSImain", BUY, LIMIT, 1.0, 10_000.0),
    );
    let o = order_of(&c, &b, REAL, ids::FUTURES_REAL, FUTURES, &s2c.order_id_ex.unwrap());
    assert!(
        o.code.starts_with("HSI") && o.code.len() == 7 && o.code[3..].bytes().all(|b| b.is_ascii_digit()),
        "{}",
        o.code
    );
    // HKCC orders can be cancelled but not modified.
    let ex = c
        .ok::<pb::proto::PlaceOrder>(&b, c.place_c2s(REAL, ids::HK_REAL, HKCC, "600519", BUY, LIMIT, 100.0, 1000.0))
        .order_id_ex
        .unwrap();
    let mut change = c.modify_c2s(REAL, ids::HK_REAL, HKCC, &ex, 1);
    change.price = Some(1001.0);
    let (_, msg) = c.err::<pb::proto::ModifyOrder>(&b, change);
    assert!(msg.contains("cannot be modified"), "{msg}");
    c.ok::<pb::proto::ModifyOrder>(&b, c.modify_c2s(REAL, ids::HK_REAL, HKCC, &ex, 2));
    // Refusals carry distinct errCodes: an unknown account.
    let (code, _) =
        c.err::<pb::proto::GetFunds>(&b, pb::trd_get_funds::C2s { header: hdr(REAL, 42, HK), ..Default::default() });
    assert_eq!(code, 1006);
}

#[test]
fn the_server_reports_market_states_from_the_clock() {
    use ftapi::sim::SimServer;
    use ftapi::TrdApi;
    let server = SimServer::builder().port(0).clock(at("2026-12-01T12:30:00+08:00")).start().unwrap();
    let api = TrdApi::new();
    let addr = server.local_addr();
    let (tx, rx) = crossbeam_channel::bounded(1);
    struct Spi(crossbeam_channel::Sender<i64>);
    impl ftapi::ConnSpi for Spi {
        fn on_init_connect(&self, _api: &TrdApi, err_code: i64, _desc: &str) {
            let _ = self.0.send(err_code);
        }
    }
    api.set_conn_spi(Arc::new(Spi(tx)));
    assert!(api.init_connect(&addr.ip().to_string(), addr.port(), false));
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), 0);
    let gs = api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }).unwrap();
    assert_eq!(gs.market_hk, 4, "HK lunch break");
    assert_eq!(server.market_clock().phase(CalMarket::HkStock), ftapi::sim::calendar::Phase::Rest);
    assert_eq!(gs.market_sh, 4, "A-share lunch break");
    assert_eq!(gs.market_us, 11, "23:30 in New York: after the after-hours session");
    assert_eq!(gs.market_hk_future, 24, "HK futures break");
    assert!((gs.time - parse_rfc3339("2026-12-01T12:30:00+08:00").unwrap() as i64).abs() < 60);

    // The market-state query of the market data follows the same clock.
    struct QSpi(crossbeam_channel::Sender<i64>);
    impl ftapi::ConnSpi<ftapi::QotApi> for QSpi {
        fn on_init_connect(&self, _api: &ftapi::QotApi, err_code: i64, _desc: &str) {
            let _ = self.0.send(err_code);
        }
    }
    let qot = ftapi::QotApi::new();
    let (tx, rx) = crossbeam_channel::bounded(1);
    qot.set_conn_spi(Arc::new(QSpi(tx)));
    assert!(qot.init_connect(&addr.ip().to_string(), addr.port(), false));
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), 0);
    let sec = |market: i32, code: &str| pb::qot_common::Security { market, code: code.into() };
    let states = qot
        .call::<pb::proto::GetMarketState>(pb::qot_get_market_state::C2s {
            security_list: vec![sec(1, "00700"), sec(11, "AAPL"), sec(1, "HSImain")],
            header: None,
        })
        .unwrap();
    let got: Vec<i32> = states.market_info_list.iter().map(|m| m.market_state).collect();
    assert_eq!(got, vec![4, 11, 24], "HK lunch, New York night, HK futures break");
}
