//! QuoteContext against the simulator with a scripted quote handler: typed results,
//! history paging, the client-side quota, unsubscribe and frequency rules (refused
//! without sending), push handlers, and subscriptions restored after a reconnect.

mod quote_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ftapi::context::{
    CapitalFlowPeriod, ConnectionEvent, HistoryKlQuery, PlateClass, QuoteContext, QuoteContextBuilder, QuoteRateLimits,
    RateLimit, RateLimitMode, ReconnectPolicy,
};
use ftapi::pb::{self, Protocol, PushProtocol};
use ftapi::types::{KLType, Market, RehabType, SecurityType, SubType, TickerDirection};
use ftapi::{Error, QuoteRule};
use quote_support::{basic_qot, push_body, sim_with_fake, tencent, FakeQuotes, HISTORY_LEN};

const WAIT: Duration = Duration::from_secs(20);

fn builder(sim: &ftapi::sim::SimServer) -> QuoteContextBuilder {
    QuoteContext::builder().host("127.0.0.1").port(sim.local_addr().port())
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn typed_results_of_the_main_calls() {
    let fake = FakeQuotes::new();
    fake.last.lock().insert("00700".into(), 321.5);
    let sim = sim_with_fake(fake.clone());
    let ctx = builder(&sim).open().expect("open");
    assert!(ctx.is_connected());
    ctx.subscribe(["HK.00700"], [SubType::Quote, SubType::OrderBook, SubType::Ticker, SubType::KDay])
        .expect("subscribe");
    let (_, sub) = fake.sub_requests.lock()[0].clone();
    assert!(sub.is_sub_or_un_sub);
    assert_eq!(sub.security_list, vec![tencent()]);
    assert_eq!(sub.sub_type_list, vec![1, 2, 4, 6]);
    assert_eq!((sub.is_first_push, sub.is_reg_or_un_reg_push), (Some(true), Some(true)));

    let q = ctx.get_stock_quote(["HK.00700"]).expect("quote");
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].code.as_str(), q[0].last_price, q[0].open_price), ("HK.00700", 321.5, 320.5));
    assert_eq!((q[0].high_price, q[0].low_price, q[0].volume), (323.5, 318.5, 123_456));

    let book = ctx.get_order_book("HK.00700", 10).expect("order book");
    assert_eq!((book.bid.len(), book.ask.len()), (10, 10));
    assert!(book.bid[0].price < book.ask[0].price);
    assert_eq!(book.bid[0].volume, 100);

    let t = ctx.get_rt_ticker("HK.00700", 5).expect("ticker");
    assert_eq!(t.len(), 5);
    assert_eq!((t[0].code.as_str(), t[0].sequence, t[0].direction), ("HK.00700", 1000, TickerDirection::Buy));

    let k = ctx.get_cur_kline("HK.00700", 3, KLType::Day, RehabType::Forward).expect("kline");
    assert_eq!(k.iter().map(|k| k.close).collect::<Vec<_>>(), vec![322.0, 323.0, 324.0]);

    let snap = ctx.get_market_snapshot(["HK.00700", "HK.00700"]).expect("snapshot");
    assert_eq!(snap.len(), 1, "duplicate codes are sent once");
    assert_eq!((snap[0].last_price, snap[0].lot_size, snap[0].sec_type), (321.5, 100, SecurityType::Stock));

    let info = ctx.get_stock_basicinfo(Market::Hk, SecurityType::Stock, ["HK.00700"]).expect("basic info");
    assert_eq!((info[0].code.as_str(), info[0].name.as_str(), info[0].lot_size), ("HK.00700", "TENCENT", 100));

    let sub = ctx.query_subscription(false).expect("query_subscription");
    assert_eq!(sub.own_used, 4);
    assert!(sub.sub_list.iter().any(|(t, codes)| *t == SubType::KDay && codes == &vec!["HK.00700".to_string()]));

    // A protocol the server does not serve: OpenD-style refusal, typed.
    match ctx.get_rehab("HK.00700") {
        Err(Error::Server { proto_id: 3105, ret_type: -1, .. }) => {}
        other => panic!("expected a server refusal, got {other:?}"),
    }
    // A bad code is refused locally (InvalidArgument, or BadSecurityCode where it exists).
    let bad = ctx.get_stock_quote(["nonsense"]).unwrap_err();
    assert!(!matches!(bad, Error::Server { .. }) && bad.ret_type() == -1, "{bad:?}");
}

#[test]
fn history_kline_pages_with_page_req_key() {
    let fake = FakeQuotes::new();
    let sim = sim_with_fake(fake.clone());
    let ctx = builder(&sim).open().expect("open");
    let q = HistoryKlQuery::new("HK.00700", "2026-10-01", "2026-10-31").max_count(10);
    let first = ctx.request_history_kline(q.clone()).expect("page 1");
    assert_eq!(first.klines.len(), 10);
    let key = first.page_req_key.clone().expect("more pages");
    let second = ctx.request_history_kline(q.clone().page_req_key(Some(key))).expect("page 2");
    assert_eq!(second.klines[0].close, 310.0);
    let third = ctx.request_history_kline(q.clone().page_req_key(second.page_req_key)).expect("page 3");
    assert_eq!(third.klines.len(), HISTORY_LEN - 20);
    assert_eq!(third.page_req_key, None);

    let all = ctx.request_history_kline_all(q, 100).expect("all pages");
    assert_eq!(all.len(), HISTORY_LEN);
    assert_eq!(all.last().map(|k| k.close), Some(300.0 + (HISTORY_LEN - 1) as f64));
    let quota = ctx.get_history_kl_quota(false).expect("quota");
    assert_eq!((quota.used_quota, quota.remain_quota), (3, 97));
}

#[test]
fn history_quota_exhausted_refuses_a_new_security_without_sending() {
    let fake = FakeQuotes::new();
    *fake.kl_remain.lock() = Some(0);
    let sim = sim_with_fake(fake.clone());
    let ctx = builder(&sim).open().expect("open");
    let e = ctx.request_history_kline(HistoryKlQuery::new("HK.00700", "2026-10-01", "2026-10-31")).unwrap_err();
    assert!(matches!(e, Error::QuoteRule { rule: QuoteRule::HistoryKlQuota, .. }), "{e}");
    assert_eq!(fake.count(pb::proto::RequestHistoryKL::PROTO_ID), 0);
}

#[test]
fn subscription_quota_and_the_unsubscribe_rule_refuse_without_sending() {
    let fake = FakeQuotes::new();
    let sim = sim_with_fake(fake.clone());
    let ctx = builder(&sim).subscription_quota(Some(2)).open().expect("open");
    let e = ctx.subscribe(["HK.00700", "HK.00005"], [SubType::Quote, SubType::Ticker]).unwrap_err();
    assert!(matches!(e, Error::QuoteRule { rule: QuoteRule::SubscriptionQuota, .. }), "{e}");
    assert_eq!(fake.count(pb::proto::Sub::PROTO_ID), 0);

    ctx.subscribe(["HK.00700"], [SubType::Quote, SubType::Ticker]).expect("within quota");
    // The same units again cost nothing.
    ctx.subscribe(["HK.00700"], [SubType::Quote]).expect("already held");
    let e = ctx.unsubscribe(["HK.00700"], [SubType::Quote]).unwrap_err();
    match e {
        Error::QuoteRule { rule: QuoteRule::UnsubscribeTooEarly { retry_after }, .. } => {
            assert!(retry_after > Duration::from_secs(50) && retry_after <= Duration::from_secs(60))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(ctx.unsubscribe_all(), Err(Error::QuoteRule { .. })));
    assert_eq!(fake.count(pb::proto::Sub::PROTO_ID), 2);
    assert_eq!(ctx.subscriptions().len(), 2);
}

#[test]
fn unsubscribe_after_the_minimum_age() {
    let fake = FakeQuotes::new();
    let sim = sim_with_fake(fake.clone());
    let ctx = builder(&sim).unsubscribe_min_age(Duration::ZERO).open().expect("open");
    ctx.subscribe(["HK.00700", "US.AAPL"], [SubType::Quote]).expect("subscribe");
    ctx.unsubscribe(["US.AAPL"], [SubType::Quote]).expect("unsubscribe");
    assert_eq!(ctx.subscriptions(), vec![("HK.00700".to_string(), SubType::Quote)]);
    assert_eq!(ctx.query_subscription(false).unwrap().own_used, 1);
    ctx.unsubscribe_all().expect("unsubscribe_all");
    assert!(ctx.subscriptions().is_empty());
    let (_, last) = fake.sub_requests.lock().last().cloned().unwrap();
    assert_eq!(last.is_unsub_all, Some(true));
    assert_eq!(ctx.query_subscription(false).unwrap().own_used, 0);
}

#[test]
fn the_learned_quota_comes_from_opend_at_open() {
    let fake = FakeQuotes::new();
    let sim = sim_with_fake(fake.clone());
    let ctx = builder(&sim).unsubscribe_min_age(Duration::ZERO).open().expect("open");
    assert_eq!(fake.count(pb::proto::GetSubInfo::PROTO_ID), 1, "the quota is read at open");
    let codes: Vec<String> = (0..1001).map(|i| format!("HK.{i:05}")).collect();
    let e = ctx.subscribe(codes.iter(), [SubType::Quote]).unwrap_err();
    assert!(matches!(e, Error::QuoteRule { rule: QuoteRule::SubscriptionQuota, .. }), "{e}");
    ctx.subscribe(codes[..1000].iter(), [SubType::Quote]).expect("exactly the quota");
}

#[test]
fn frequency_limits_apply_per_protocol() {
    let fake = FakeQuotes::new();
    let sim = sim_with_fake(fake.clone());
    let mut limits = QuoteRateLimits::default();
    limits.set(pb::proto::GetSecuritySnapshot::PROTO_ID, RateLimit::new(2, Duration::from_secs(3600)));
    limits.mode = RateLimitMode::FailFast;
    let ctx = builder(&sim).rate_limits(limits).open().expect("open");
    ctx.get_market_snapshot(["HK.00700"]).expect("1");
    ctx.get_market_snapshot(["HK.00700"]).expect("2");
    match ctx.get_market_snapshot(["HK.00700"]) {
        Err(Error::RateLimited { what, .. }) => assert!(what.contains("Qot_GetSecuritySnapshot"), "{what}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.count(pb::proto::GetSecuritySnapshot::PROTO_ID), 2);
    // Unlimited protocols are not held back.
    for _ in 0..20 {
        ctx.get_stock_quote(["HK.00700"]).expect("quote");
    }
}

#[test]
fn push_handlers_receive_typed_pushes() {
    let fake = FakeQuotes::new();
    let sim = sim_with_fake(fake);
    let ctx = builder(&sim).open().expect("open");
    let (tx, rx) = crossbeam_channel::unbounded::<String>();
    let t = tx.clone();
    ctx.set_quote_handler(move |q| {
        let _ = t.send(format!("quote {} {}", q.code, q.last_price));
    });
    let t = tx.clone();
    ctx.set_order_book_handler(move |b| {
        let _ = t.send(format!("book {} {:?}", b.code, b.bid.first().map(|l| (l.price, l.volume))));
    });
    let t = tx.clone();
    ctx.set_ticker_handler(move |list| {
        let _ = t.send(format!("ticker {} {}", list[0].code, list.len()));
    });
    let t = tx;
    ctx.set_kline_handler(move |k| {
        let _ = t.send(format!("kline {} {} {}", k.code, k.kl_type, k.klines[0].close));
    });
    let conn = ctx.conn_id();
    let qot = pb::qot_update_basic_qot::S2c { basic_qot_list: vec![basic_qot(&tencent(), 330.5)] };
    assert!(sim.push(conn, pb::proto::UpdateBasicQot::PROTO_ID, push_body::<pb::qot_update_basic_qot::Response>(qot)));
    let book = pb::qot_update_order_book::S2c {
        security: tencent(),
        order_book_bid_list: vec![pb::qot_common::OrderBook {
            price: 330.4,
            volume: 700,
            oreder_count: 2,
            ..Default::default()
        }],
        ..Default::default()
    };
    assert!(sim.push(
        conn,
        pb::proto::UpdateOrderBook::PROTO_ID,
        push_body::<pb::qot_update_order_book::Response>(book)
    ));
    let ticker = pb::qot_update_ticker::S2c {
        security: tencent(),
        ticker_list: vec![Default::default(), Default::default()],
        ..Default::default()
    };
    assert!(sim.push(conn, pb::proto::UpdateTicker::PROTO_ID, push_body::<pb::qot_update_ticker::Response>(ticker)));
    let kl = pb::qot_update_kl::S2c {
        rehab_type: 1,
        kl_type: 2,
        security: tencent(),
        kl_list: vec![quote_support::kline(1)],
        name: None,
    };
    assert!(sim.push(conn, pb::proto::UpdateKL::PROTO_ID, push_body::<pb::qot_update_kl::Response>(kl)));
    let got: Vec<String> = (0..4).map(|_| rx.recv_timeout(WAIT).expect("push")).collect();
    assert_eq!(
        got,
        vec![
            "quote HK.00700 330.5".to_string(),
            "book HK.00700 Some((330.4, 700))".to_string(),
            "ticker HK.00700 2".to_string(),
            "kline HK.00700 K_DAY 301".to_string(),
        ]
    );
}

#[test]
fn a_reconnect_restores_the_subscriptions_without_first_push() {
    let fake = FakeQuotes::new();
    let sim = sim_with_fake(fake.clone());
    let (tx, rx) = crossbeam_channel::unbounded::<ConnectionEvent>();
    let ctx = builder(&sim)
        .reconnect(ReconnectPolicy::default().initial_delay(Duration::from_millis(50)))
        .connection_handler(move |e| {
            let _ = tx.send(e.clone());
        })
        .open()
        .expect("open");
    let first_conn = ctx.conn_id();
    ctx.subscribe(["HK.00700"], [SubType::Quote, SubType::OrderBook]).expect("subscribe");
    ctx.subscribe_with(
        ["US.AAPL"],
        [SubType::Ticker],
        ftapi::context::SubscribeOptions { subscribe_push: false, ..Default::default() },
    )
    .expect("subscribe without push");
    assert_eq!(sim.kill_connections(), 1);
    let deadline = Instant::now() + WAIT;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(ConnectionEvent::Reconnected { conn_id, .. }) => {
                assert_ne!(conn_id, first_conn);
                break;
            }
            Ok(_) => continue,
            Err(_) => panic!("no Reconnected event"),
        }
    }
    let new_conn = ctx.conn_id();
    wait_until("the subscriptions are restored", || fake.subs.lock().get(&new_conn).is_some_and(|s| s.len() == 3));
    let restored: Vec<pb::qot_sub::C2s> =
        fake.sub_requests.lock().iter().filter(|(c, _)| *c == new_conn).map(|(_, r)| r.clone()).collect();
    assert!(restored.iter().all(|r| r.is_sub_or_un_sub && r.is_first_push == Some(false)));
    let aapl = restored.iter().find(|r| r.security_list[0].code == "AAPL").expect("AAPL restored");
    assert_eq!(aapl.is_reg_or_un_reg_push, Some(false), "subscribe_push=false is kept");
    assert_eq!(ctx.get_stock_quote(["HK.00700"]).expect("quote after reconnect").len(), 1);
}

// ------------------------------------------------------------------------------------
// Against the simulator's own market data (src/sim/market): real round trips.

mod against_the_simulator {
    use super::*;
    use ftapi::sim::market::{MarketData, QuoteConfig};
    use ftapi::sim::{Broker, SimServer};

    /// A year range around today, `yyyy-MM-dd`.
    fn around_this_year() -> (String, String) {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let year = 1970 + secs / 31_556_952;
        (format!("{}-01-01", year - 1), format!("{}-12-31", year + 1))
    }

    fn sim_market() -> (SimServer, Arc<MarketData>) {
        let broker = Arc::new(Broker::with_default_accounts());
        let cfg = QuoteConfig { unsub_min: Duration::from_millis(200), ..QuoteConfig::default() };
        let market = Arc::new(MarketData::with_broker(broker.clone(), cfg).expect("market data"));
        let sim = SimServer::builder()
            .port(0)
            .trade_handler(broker)
            .quote_handler(market.clone())
            .start()
            .expect("start simulator");
        (sim, market)
    }

    #[test]
    fn quotes_books_tickers_klines_snapshots_and_basic_info() {
        let (sim, market) = sim_market();
        let ctx = builder(&sim).unsubscribe_min_age(Duration::from_millis(200)).open().expect("open");
        ctx.subscribe(
            ["HK.00700"],
            [SubType::Quote, SubType::OrderBook, SubType::Ticker, SubType::KDay, SubType::RtData],
        )
        .expect("subscribe");
        let q = ctx.get_stock_quote(["HK.00700"]).expect("quote");
        assert_eq!(q[0].code, "HK.00700");
        assert_eq!(Some(q[0].last_price), market.last_price("HK.00700"), "the quote is the market's last price");
        assert!(q[0].low_price <= q[0].last_price && q[0].last_price <= q[0].high_price);
        let book = ctx.get_order_book("HK.00700", 10).expect("order book");
        assert_eq!((book.bid.len(), book.ask.len()), (10, 10));
        assert!(book.bid[0].price < book.ask[0].price);
        market.step();
        assert!(!ctx.get_rt_ticker("HK.00700", 10).expect("ticker").is_empty());
        assert!(!ctx.get_rt_data("HK.00700").expect("rt").is_empty());
        assert_eq!(ctx.get_cur_kline("HK.00700", 5, KLType::Day, RehabType::Forward).expect("kline").len(), 5);
        let snap = ctx.get_market_snapshot(["HK.00700"]).expect("snapshot");
        assert!(snap[0].lot_size > 0);
        let info = ctx.get_stock_basicinfo(Market::Hk, SecurityType::Stock, ["HK.00700"]).expect("basic info");
        assert_eq!(info[0].code, "HK.00700");
        assert!(ctx.get_rehab("HK.00700").is_ok());
        assert!(ctx.get_global_state().expect("global state").qot_logined);
        // A sub type that was not subscribed is refused by the simulator, as by OpenD.
        assert!(matches!(ctx.get_broker_queue("HK.00700"), Err(Error::Server { .. })));
    }

    #[test]
    fn history_pages_until_the_last_key() {
        let (sim, _market) = sim_market();
        let ctx = builder(&sim).open().expect("open");
        let (start, end) = around_this_year();
        let q = HistoryKlQuery::new("HK.00700", start, end).max_count(100);
        let first = ctx.request_history_kline(q.clone()).expect("first page");
        assert_eq!(first.klines.len(), 100);
        assert!(first.page_req_key.is_some());
        let all = ctx.request_history_kline_all(q, 1000).expect("all pages");
        assert!(all.len() > 100);
        assert!(all.windows(2).all(|w| w[0].time_key < w[1].time_key), "pages join in order");
        let quota = ctx.get_history_kl_quota(true).expect("quota");
        assert_eq!(quota.used_quota, 1);
        assert_eq!(quota.detail_list[0].0, "HK.00700");
    }

    #[test]
    fn quote_pushes_reach_the_handler_and_unsubscribe_after_the_rule() {
        let (sim, market) = sim_market();
        let ctx = builder(&sim).unsubscribe_min_age(Duration::from_millis(200)).open().expect("open");
        let (tx, rx) = crossbeam_channel::unbounded();
        ctx.set_quote_handler(move |q| {
            let _ = tx.send((q.code.clone(), q.last_price));
        });
        ctx.subscribe(["HK.00700"], [SubType::Quote]).expect("subscribe");
        // The first push comes right after subscribing; then one per step.
        let (code, _) = rx.recv_timeout(WAIT).expect("first push");
        assert_eq!(code, "HK.00700");
        market.step();
        let (_, last) = rx.recv_timeout(WAIT).expect("push after a step");
        assert_eq!(Some(last), market.last_price("HK.00700"));
        std::thread::sleep(Duration::from_millis(250));
        ctx.unsubscribe(["HK.00700"], [SubType::Quote]).expect("unsubscribe after the rule");
        assert_eq!(ctx.query_subscription(false).expect("subs").own_used, 0);
    }

    #[test]
    fn qot_api_round_trip() {
        use ftapi::QotApi;
        let (sim, _market) = sim_market();
        let api = QotApi::new();
        let addr = sim.local_addr();
        assert!(api.init_connect(&addr.ip().to_string(), addr.port(), false));
        wait_until("connected", || api.is_connected());
        api.call::<pb::proto::Sub>(pb::qot_sub::C2s {
            security_list: vec![tencent()],
            sub_type_list: vec![SubType::Quote.value()],
            is_sub_or_un_sub: true,
            ..Default::default()
        })
        .expect("Qot_Sub");
        let q = api
            .call::<pb::proto::GetBasicQot>(pb::qot_get_basic_qot::C2s { security_list: vec![tencent()], header: None })
            .expect("Qot_GetBasicQot");
        assert_eq!(q.basic_qot_list[0].security, tencent());
        assert!(q.basic_qot_list[0].cur_price > 0.0);
    }
}

#[test]
fn every_reference_and_user_data_method_answers() {
    // Against the simulator's market data: each call returns OpenD's answer (data, or a
    // typed refusal for what the simulator does not model), never a hang.
    let sim = ftapi::sim::SimServer::builder().port(0).start().expect("simulator");
    let ctx = builder(&sim).rate_limits(QuoteRateLimits::off()).open().expect("open");
    let answered = |what: &str, r: Result<(), Error>| match r {
        Ok(()) | Err(Error::Server { .. }) => {}
        Err(e) => panic!("{what}: {e:?}"),
    };
    let code = "HK.00700";
    assert!(!ctx.get_market_state([code]).expect("market state").market_info_list.is_empty());
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let y = 1970 + secs / 31_556_952;
    let days =
        ctx.request_trading_days(Market::Hk, &format!("{y}-01-01"), &format!("{y}-12-31"), None).expect("trading days");
    assert!(!days.trade_date_list.is_empty());
    answered("get_plate_list", ctx.get_plate_list(Market::Hk, PlateClass::All).map(|_| ()));
    answered("get_plate_stock", ctx.get_plate_stock("HK.BK1001").map(|_| ()));
    answered("get_owner_plate", ctx.get_owner_plate([code]).map(|_| ()));
    answered("get_option_chain", ctx.get_option_chain(code, "2026-01-01", "2026-12-31").map(|_| ()));
    answered("get_option_expiration_date", ctx.get_option_expiration_date(code).map(|_| ()));
    answered("get_referencestock_list", ctx.get_referencestock_list(code, 1).map(|_| ()));
    answered("get_future_info", ctx.get_future_info(["HK.HSImain"]).map(|_| ()));
    answered("get_ipo_list", ctx.get_ipo_list(Market::Hk).map(|_| ()));
    answered("get_capital_flow", ctx.get_capital_flow(code, CapitalFlowPeriod::Intraday, None, None).map(|_| ()));
    answered("get_capital_distribution", ctx.get_capital_distribution(code).map(|_| ()));
    answered("get_user_security", ctx.get_user_security("All").map(|_| ()));
    answered("modify_user_security", ctx.modify_user_security("All", 1, [code]));
    answered(
        "get_stock_filter",
        ctx.get_stock_filter(pb::qot_stock_filter::C2s { begin: 0, num: 10, market: 1, ..Default::default() })
            .map(|_| ()),
    );
    answered("get_price_reminder", ctx.get_price_reminder(Some(code), None).map(|_| ()));
    answered(
        "set_price_reminder",
        ctx.set_price_reminder(pb::qot_set_price_reminder::C2s { security: tencent(), op: 1, ..Default::default() })
            .map(|_| ()),
    );
    answered("call::<GetWarrant>", ctx.call::<pb::proto::GetWarrant>(Default::default()).map(|_| ()));
}

#[test]
fn a_handler_may_call_the_context() {
    let fake = FakeQuotes::new();
    let sim = sim_with_fake(fake);
    let ctx = std::sync::Arc::new(builder(&sim).open().expect("open"));
    let weak = std::sync::Arc::downgrade(&ctx);
    let (tx, rx) = crossbeam_channel::unbounded();
    ctx.set_quote_handler(move |q| {
        // A blocking call from the dispatch thread: its reply is read by the reader.
        let again = weak.upgrade().map(|c| c.get_stock_quote([q.code.as_str()]).map(|v| v[0].last_price));
        let _ = tx.send(again);
    });
    let qot = pb::qot_update_basic_qot::S2c { basic_qot_list: vec![basic_qot(&tencent(), 330.5)] };
    assert!(sim.push(
        ctx.conn_id(),
        pb::proto::UpdateBasicQot::PROTO_ID,
        push_body::<pb::qot_update_basic_qot::Response>(qot)
    ));
    let got = rx.recv_timeout(WAIT).expect("handler ran");
    assert_eq!(got.map(|r| r.expect("call from the handler")), Some(320.0));
}
