//! QotApi / QotSpi against the simulator: replies reach their `on_reply_*` callback with
//! the serial their request returned, `call` blocks for typed replies, market-data pushes
//! reach their `on_push_*` callback, protocols the server does not serve come back as
//! `Error::Server`, and the connection callbacks are handed the `QotApi`.

mod quote_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ftapi::pb::{self, Protocol, PushProtocol};
use ftapi::{ConnSpi, Error, QotApi, QotSpi};
use quote_support::{basic_qot, push_body, sim_with_fake, tencent, FakeQuotes};

const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug)]
enum Ev {
    Init(i64, String, u64),
    Lost(i64),
    BasicQot(u32, Result<pb::qot_get_basic_qot::S2c, Error>),
    Kl(u32, Result<pb::qot_get_kl::S2c, Error>),
    GlobalState(u32, Result<pb::get_global_state::S2c, Error>),
    PushQot(pb::qot_update_basic_qot::S2c),
    PushBook(pb::qot_update_order_book::S2c),
    PushTicker(pb::qot_update_ticker::S2c),
    PushKl(pb::qot_update_kl::S2c),
    PushRt(pb::qot_update_rt::S2c),
    PushBroker(pb::qot_update_broker::S2c),
    PushReminder(pb::qot_update_price_reminder::S2c),
    Notify(pb::notify::S2c),
}

struct Rec(Sender<Ev>);

impl ConnSpi<QotApi> for Rec {
    fn on_init_connect(&self, api: &QotApi, err_code: i64, desc: &str) {
        let _ = self.0.send(Ev::Init(err_code, desc.into(), api.get_connect_id()));
    }
    fn on_disconnect(&self, _api: &QotApi, err_code: i64, _desc: &str) {
        let _ = self.0.send(Ev::Lost(err_code));
    }
}

impl QotSpi for Rec {
    fn on_reply_get_basic_qot(&self, _: &QotApi, serial: u32, r: Result<pb::qot_get_basic_qot::S2c, Error>) {
        let _ = self.0.send(Ev::BasicQot(serial, r));
    }
    fn on_reply_get_kl(&self, _: &QotApi, serial: u32, r: Result<pb::qot_get_kl::S2c, Error>) {
        let _ = self.0.send(Ev::Kl(serial, r));
    }
    fn on_reply_get_global_state(&self, _: &QotApi, serial: u32, r: Result<pb::get_global_state::S2c, Error>) {
        let _ = self.0.send(Ev::GlobalState(serial, r));
    }
    fn on_push_update_basic_qot(&self, _: &QotApi, push: pb::qot_update_basic_qot::S2c) {
        let _ = self.0.send(Ev::PushQot(push));
    }
    fn on_push_update_order_book(&self, _: &QotApi, push: pb::qot_update_order_book::S2c) {
        let _ = self.0.send(Ev::PushBook(push));
    }
    fn on_push_update_ticker(&self, _: &QotApi, push: pb::qot_update_ticker::S2c) {
        let _ = self.0.send(Ev::PushTicker(push));
    }
    fn on_push_update_kl(&self, _: &QotApi, push: pb::qot_update_kl::S2c) {
        let _ = self.0.send(Ev::PushKl(push));
    }
    fn on_push_update_rt(&self, _: &QotApi, push: pb::qot_update_rt::S2c) {
        let _ = self.0.send(Ev::PushRt(push));
    }
    fn on_push_update_broker(&self, _: &QotApi, push: pb::qot_update_broker::S2c) {
        let _ = self.0.send(Ev::PushBroker(push));
    }
    fn on_push_update_price_reminder(&self, _: &QotApi, push: pb::qot_update_price_reminder::S2c) {
        let _ = self.0.send(Ev::PushReminder(push));
    }
    fn on_push_notify(&self, _: &QotApi, push: pb::notify::S2c) {
        let _ = self.0.send(Ev::Notify(push));
    }
}

fn next<T>(rx: &Receiver<Ev>, what: &str, mut f: impl FnMut(Ev) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(ev) => {
                if let Some(t) = f(ev) {
                    return t;
                }
            }
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

fn connected(sim: &ftapi::sim::SimServer) -> (QotApi, Receiver<Ev>, u64) {
    let api = QotApi::new();
    let (tx, rx) = crossbeam_channel::unbounded();
    let spi = Arc::new(Rec(tx));
    api.set_conn_spi(spi.clone());
    api.set_qot_spi(spi);
    let addr = sim.local_addr();
    assert!(api.init_connect(&addr.ip().to_string(), addr.port(), false));
    let conn_id = next(&rx, "on_init_connect", |e| match e {
        Ev::Init(code, desc, id) => Some((code, desc, id)),
        _ => None,
    });
    assert_eq!((conn_id.0, conn_id.1.as_str()), (0, ""));
    assert_ne!(conn_id.2, 0, "the callback's &QotApi knows the connection id");
    assert!(api.is_connected());
    (api, rx, conn_id.2)
}

#[test]
fn replies_reach_their_callback_with_the_request_serial() {
    let fake = FakeQuotes::new();
    let sim = sim_with_fake(fake.clone());
    let (api, rx, _) = connected(&sim);

    let s1 = api.get_basic_qot(pb::qot_get_basic_qot::Request {
        c2s: pb::qot_get_basic_qot::C2s { security_list: vec![tencent()], ..Default::default() },
    });
    assert_ne!(s1, 0);
    let s2c = next(&rx, "on_reply_get_basic_qot", |e| match e {
        Ev::BasicQot(serial, r) => Some((serial, r)),
        _ => None,
    });
    assert_eq!(s2c.0, s1);
    let list = s2c.1.expect("basic quote").basic_qot_list;
    assert_eq!(list, vec![basic_qot(&tencent(), 320.0)]);

    // GetGlobalState is served by the simulator itself.
    let s2 = api.get_global_state(pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: 0 } });
    let (serial, r) = next(&rx, "on_reply_get_global_state", |e| match e {
        Ev::GlobalState(serial, r) => Some((serial, r)),
        _ => None,
    });
    assert_eq!(serial, s2);
    assert!(r.expect("global state").qot_logined);
    assert_eq!(fake.count(pb::proto::GetBasicQot::PROTO_ID), 1);
}

#[test]
fn a_protocol_the_server_refuses_comes_back_as_a_server_error() {
    let fake = FakeQuotes::new();
    fake.refuse.lock().push(pb::proto::GetKL::PROTO_ID);
    let sim = sim_with_fake(fake.clone());
    let (api, rx, _) = connected(&sim);

    let serial = api.get_kl(pb::qot_get_kl::Request {
        c2s: pb::qot_get_kl::C2s { rehab_type: 1, kl_type: 2, security: tencent(), req_num: 10, header: None },
    });
    let (got, r) = next(&rx, "on_reply_get_kl", |e| match e {
        Ev::Kl(serial, r) => Some((serial, r)),
        _ => None,
    });
    assert_eq!(got, serial);
    match r {
        Err(Error::Server { proto_id, ret_type, ret_msg, .. }) => {
            assert_eq!((proto_id, ret_type), (3006, -1));
            assert_eq!(ret_msg, "refused by the fake");
        }
        other => panic!("expected a server error, got {other:?}"),
    }

    // A protocol nobody serves: the simulator answers retType -1, never a hang.
    let e = api
        .call::<pb::proto::GetOptionVolatility>(pb::qot_get_option_volatility::C2s::default())
        .expect_err("not served");
    assert!(matches!(e, Error::Server { proto_id: 3250, ret_type: -1, .. }), "{e:?}");
    assert_eq!(api.pending_requests(), 0);
}

#[test]
fn call_blocks_for_typed_replies() {
    let fake = FakeQuotes::new();
    fake.last.lock().insert("00700".into(), 333.4);
    let sim = sim_with_fake(fake);
    let (api, _rx, _) = connected(&sim);
    let q = api
        .call::<pb::proto::GetBasicQot>(pb::qot_get_basic_qot::C2s { security_list: vec![tencent()], header: None })
        .expect("GetBasicQot");
    assert_eq!(q.basic_qot_list[0].cur_price, 333.4);
    let book = api
        .call::<pb::proto::GetOrderBook>(pb::qot_get_order_book::C2s {
            security: tencent(),
            num: 10,
            ..Default::default()
        })
        .expect("GetOrderBook");
    assert_eq!((book.order_book_bid_list.len(), book.order_book_ask_list.len()), (10, 10));
    let quota =
        api.call::<pb::proto::RequestHistoryKLQuota>(pb::qot_request_history_kl_quota::C2s::default()).expect("quota");
    assert_eq!((quota.used_quota, quota.remain_quota), (3, 97));
}

#[test]
fn market_data_pushes_reach_their_callback() {
    let fake = FakeQuotes::new();
    let sim = sim_with_fake(fake);
    let (_api, rx, conn_id) = connected(&sim);

    let qot = pb::qot_update_basic_qot::S2c { basic_qot_list: vec![basic_qot(&tencent(), 321.0)] };
    assert!(sim.push(
        conn_id,
        pb::proto::UpdateBasicQot::PROTO_ID,
        push_body::<pb::qot_update_basic_qot::Response>(qot.clone())
    ));
    let book = pb::qot_update_order_book::S2c {
        security: tencent(),
        order_book_bid_list: vec![pb::qot_common::OrderBook {
            price: 320.8,
            volume: 500,
            oreder_count: 3,
            ..Default::default()
        }],
        ..Default::default()
    };
    assert!(sim.push(
        conn_id,
        pb::proto::UpdateOrderBook::PROTO_ID,
        push_body::<pb::qot_update_order_book::Response>(book.clone())
    ));
    let ticker = pb::qot_update_ticker::S2c {
        security: tencent(),
        ticker_list: vec![pb::qot_common::Ticker {
            time: "t".into(),
            sequence: 9,
            dir: 2,
            price: 321.0,
            volume: 200,
            turnover: 64200.0,
            ..Default::default()
        }],
        ..Default::default()
    };
    assert!(sim.push(
        conn_id,
        pb::proto::UpdateTicker::PROTO_ID,
        push_body::<pb::qot_update_ticker::Response>(ticker.clone())
    ));
    let kl = pb::qot_update_kl::S2c {
        rehab_type: 1,
        kl_type: 2,
        security: tencent(),
        kl_list: vec![quote_support::kline(3)],
        ..Default::default()
    };
    assert!(sim.push(conn_id, pb::proto::UpdateKL::PROTO_ID, push_body::<pb::qot_update_kl::Response>(kl.clone())));
    let rt = pb::qot_update_rt::S2c { security: tencent(), ..Default::default() };
    assert!(sim.push(conn_id, pb::proto::UpdateRT::PROTO_ID, push_body::<pb::qot_update_rt::Response>(rt.clone())));
    let broker = pb::qot_update_broker::S2c { security: tencent(), ..Default::default() };
    assert!(sim.push(
        conn_id,
        pb::proto::UpdateBroker::PROTO_ID,
        push_body::<pb::qot_update_broker::Response>(broker.clone())
    ));
    let reminder = pb::qot_update_price_reminder::S2c {
        security: tencent(),
        price: 321.0,
        change_rate: 0.5,
        market_status: 1,
        content: "up".into(),
        note: "n".into(),
        ..Default::default()
    };
    assert!(sim.push(
        conn_id,
        pb::proto::UpdatePriceReminder::PROTO_ID,
        push_body::<pb::qot_update_price_reminder::Response>(reminder.clone())
    ));
    // A trade push on a market-data connection has no callback and is dropped; the
    // next push still arrives.
    assert!(sim.push(conn_id, 2208, push_body::<pb::trd_update_order::Response>(Default::default())));
    assert_eq!(sim.push_gtw_event(14, "pwd"), 1);

    assert_eq!(
        next(&rx, "3005", |e| match e {
            Ev::PushQot(p) => Some(p),
            _ => None,
        }),
        qot
    );
    assert_eq!(
        next(&rx, "3013", |e| match e {
            Ev::PushBook(p) => Some(p),
            _ => None,
        }),
        book
    );
    assert_eq!(
        next(&rx, "3011", |e| match e {
            Ev::PushTicker(p) => Some(p),
            _ => None,
        }),
        ticker
    );
    assert_eq!(
        next(&rx, "3007", |e| match e {
            Ev::PushKl(p) => Some(p),
            _ => None,
        }),
        kl
    );
    assert_eq!(
        next(&rx, "3009", |e| match e {
            Ev::PushRt(p) => Some(p),
            _ => None,
        }),
        rt
    );
    assert_eq!(
        next(&rx, "3015", |e| match e {
            Ev::PushBroker(p) => Some(p),
            _ => None,
        }),
        broker
    );
    assert_eq!(
        next(&rx, "3019", |e| match e {
            Ev::PushReminder(p) => Some(p),
            _ => None,
        }),
        reminder
    );
    let n = next(&rx, "1003", |e| match e {
        Ev::Notify(p) => Some(p),
        _ => None,
    });
    assert_eq!(n.event.map(|e| e.event_type), Some(14));
}

#[test]
fn a_lost_connection_is_reported_to_the_conn_spi_with_the_qot_api() {
    let fake = FakeQuotes::new();
    let sim = sim_with_fake(fake);
    let (api, rx, _) = connected(&sim);
    assert_eq!(sim.kill_connections(), 1);
    let code = next(&rx, "on_disconnect", |e| match e {
        Ev::Lost(c) => Some(c),
        _ => None,
    });
    // -200 or the official composite code (failure kind in the high 32 bits): never 0.
    assert_ne!(code, 0);
    assert!(!api.is_connected());
    // No callback without a connection: the request is not sent.
    assert_eq!(api.get_basic_qot(Default::default()), 0);
    // init_connect again makes a new connection.
    let addr = sim.local_addr();
    assert!(api.init_connect(&addr.ip().to_string(), addr.port(), false));
    let (code, _, _) = next(&rx, "second on_init_connect", |e| match e {
        Ev::Init(c, d, id) => Some((c, d, id)),
        _ => None,
    });
    assert_eq!(code, 0);
}

#[test]
fn the_table_lists_every_qot_push_the_sdks_know() {
    let ids: Vec<u32> = pb::proto::QOT_PUSHES.iter().map(|(id, _)| *id).collect();
    for id in [3005, 3007, 3009, 3011, 3013, 3015, 3019, 3261, 3310, 3450, 3451, 3452] {
        assert!(ids.contains(&id), "{id}");
        assert!(pb::is_push(id));
    }
    assert_eq!(pb::proto::UpdateBasicQot::NAME, "Qot_UpdateBasicQot");
    assert!(pb::proto::QOT.len() >= 130, "{} Qot request protocols", pb::proto::QOT.len());
}
