//! The typed `QuoteContext` calls of the reference, derivative, money-flow, screening and
//! list requests (Python names), against the simulator over TCP: each answers with data
//! consistent with the others, refusals come back as `Error::Server` with OpenD's retMsg,
//! and the price reminder push reaches its handler.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ftapi::context::{CapitalFlowPeriod, PlateClass, QuoteContext};
use ftapi::pb;
use ftapi::sim::market::{MarketData, QuoteConfig};
use ftapi::sim::{Broker, SimServer};
use ftapi::types::{Market, SubType};
use ftapi::Error;

struct Sim {
    broker: Arc<Broker>,
    market: Arc<MarketData>,
    _server: SimServer,
    ctx: QuoteContext,
}

fn sim() -> Sim {
    let broker = Arc::new(Broker::with_default_accounts());
    let cfg = QuoteConfig { seed: 7, unsub_min: Duration::ZERO, ..QuoteConfig::default() };
    let market = Arc::new(MarketData::with_broker(broker.clone(), cfg).expect("market data"));
    let server = SimServer::builder()
        .port(0)
        .trade_handler(broker.clone())
        .quote_handler(market.clone())
        .start()
        .expect("simulator");
    let ctx = QuoteContext::builder()
        .host("127.0.0.1")
        .port(server.local_addr().port())
        .encrypt(Some(false))
        .open()
        .expect("open");
    Sim { broker, market, _server: server, ctx }
}

fn refused<T: std::fmt::Debug>(what: &str, r: ftapi::Result<T>, needle: &str) {
    match r {
        Err(Error::Server { ret_type: -1, ref ret_msg, .. }) if ret_msg.contains(needle) => {}
        other => panic!("{what}: expected a refusal containing {needle:?}, got {other:?}"),
    }
}

#[test]
fn plates_options_warrants_and_futures() {
    let s = sim();
    let ctx = &s.ctx;
    let plates = ctx.get_plate_list(Market::Hk, PlateClass::All).expect("get_plate_list");
    assert!(!plates.is_empty());
    let plate = &plates[0];
    let code = format!("HK.{}", plate.plate.code);
    let members = ctx.get_plate_stock(&code).expect("get_plate_stock");
    assert!(!members.is_empty());
    let owners = ctx.get_owner_plate(members.iter().map(|m| m.code.as_str())).expect("get_owner_plate");
    assert_eq!(owners.owner_plate_list.len(), members.len());
    assert!(owners.owner_plate_list.iter().all(|o| o.plate_info_list.iter().any(|p| p.plate == plate.plate)));
    refused("get_plate_stock", ctx.get_plate_stock("HK.BK0000"), "Unknown plate");

    let dates = ctx.get_option_expiration_date("US.AAPL").expect("get_option_expiration_date");
    let first = dates.date_list[0].strike_time.clone().unwrap();
    let chain = ctx.get_option_chain("US.AAPL", &first, &first).expect("get_option_chain");
    let quote = ctx.get_market_snapshot(["US.AAPL"]).expect("snapshot")[0].last_price;
    let strikes: Vec<f64> = chain.option_chain[0]
        .option
        .iter()
        .filter_map(|o| o.call.as_ref())
        .map(|c| c.option_ex_data.as_ref().unwrap().strike_price)
        .collect();
    assert!(strikes.first().unwrap() < &quote && strikes.last().unwrap() > &quote, "{quote} {strikes:?}");
    let opt = chain.option_chain[0].option[0].call.as_ref().unwrap();
    let opt_code = format!("US.{}", opt.basic.security.code);
    ctx.subscribe([opt_code.as_str()], [SubType::Quote]).expect("subscribe to an option");
    let q = ctx.get_stock_quote([opt_code.as_str()]).expect("option quote");
    assert!(q[0].last_price > 0.0);
    let oq = ctx.get_option_quote([opt_code.as_str()]).expect("get_option_quote");
    assert_eq!(oq[0].strike, Some(strikes[0]));
    assert!(oq[0].price.unwrap() > 0.0 && oq[0].delta.unwrap() > 0.0);
    refused("get_option_quote", ctx.get_option_quote(["US.AAPL"]), "not an option");
    refused("get_option_chain", ctx.get_option_chain("US.AAPL", "2001-01-01", "2001-01-05"), "expires");
    refused("get_option_expiration_date", ctx.get_option_expiration_date("HK.02800"), "no options");

    let warrants = ctx.get_referencestock_list("HK.00700", 1).expect("get_referencestock_list");
    assert_eq!(warrants.len(), 4);
    let page = ctx
        .get_warrant(pb::qot_get_warrant::C2s {
            begin: 0,
            num: 3,
            sort_field: 1,
            ascend: true,
            owner: Some(pb::qot_common::Security { market: 1, code: "00700".into() }),
            ..Default::default()
        })
        .expect("get_warrant");
    assert_eq!((page.all_count, page.warrant_data_list.len(), page.last_page), (4, 3, false));
    assert!(page.warrant_data_list.iter().all(|w| warrants.iter().any(|r| r.code == format!("HK.{}", w.stock.code))));

    let fut = ctx.get_future_info(["HK.HSImain"]).expect("get_future_info");
    assert_eq!(fut.future_info_list[0].contract_size, 50.0);
    refused("get_future_info", ctx.get_future_info(["HK.00700"]), "not a future");
}

#[test]
fn money_flow_screening_and_others() {
    let s = sim();
    let ctx = &s.ctx;
    for k in 0..10 {
        s.broker.set_price("HK.00700", 380.0 + k as f64 * 0.2).unwrap();
        s.market.step();
    }
    let flow = ctx.get_capital_flow("HK.00700", CapitalFlowPeriod::Intraday, None, None).expect("get_capital_flow");
    let dist = ctx.get_capital_distribution("HK.00700").expect("get_capital_distribution");
    let net = flow.flow_item_list.last().unwrap().in_flow;
    let inflow = dist.capital_in_super.unwrap() + dist.capital_in_big + dist.capital_in_mid + dist.capital_in_small;
    let outflow =
        dist.capital_out_super.unwrap() + dist.capital_out_big + dist.capital_out_mid + dist.capital_out_small;
    assert!((inflow - outflow - net).abs() < 1e-3 * (inflow + outflow), "{net} vs {inflow} - {outflow}");

    let filtered = ctx
        .get_stock_filter(pb::qot_stock_filter::C2s { begin: 0, num: 50, market: 11, ..Default::default() })
        .expect("get_stock_filter");
    assert_eq!(filtered.all_count, 4);
    refused(
        "get_stock_filter",
        ctx.get_stock_filter(pb::qot_stock_filter::C2s { begin: 10, num: 50, market: 11, ..Default::default() }),
        "past the end",
    );

    assert!(!ctx.get_code_change(Vec::<&str>::new(), &[]).expect("get_code_change").is_empty());
    assert_eq!(ctx.get_code_change(["HK.02800"], &[3]).expect("get_code_change").len(), 1);
    let ipo = ctx.get_ipo_list(Market::Us).expect("get_ipo_list");
    assert_eq!(ipo.ipo_list.len(), 2);
    let hc = ctx.get_holding_change_list("US.AAPL", 2, None, None).expect("get_holding_change_list");
    assert!(!hc.is_empty());
    refused("get_holding_change_list", ctx.get_holding_change_list("HK.00700", 2, None, None), "US stocks");
    let ui = ctx.get_user_info(None).expect("get_user_info");
    assert!(ui.sub_quota.unwrap() > 0 && ui.nick_name.is_some());
    let ds = ctx.get_delay_statistics(&[1, 2, 3], Some(1), &[]).expect("get_delay_statistics");
    assert_eq!(ds.qot_push_statistics_list.len(), 4);

    // The odd-lot order book subscribes with the others (HK).
    ctx.subscribe(["HK.00700"], [SubType::OrderBook, SubType::OrderBookOdd]).expect("subscribe with ORDER_BOOK_ODD");
}

#[test]
fn reminders_and_watchlist() {
    let s = sim();
    let ctx = &s.ctx;
    let (tx, rx) = crossbeam_channel::unbounded();
    ctx.set_price_reminder_handler(move |r| {
        let _ = tx.send(r.clone());
    });
    s.broker.set_price("HK.00700", 380.0).unwrap();
    s.market.step();
    let key = ctx
        .set_price_reminder(pb::qot_set_price_reminder::C2s {
            security: pb::qot_common::Security { market: 1, code: "00700".into() },
            op: 1,
            r#type: Some(1),
            value: Some(385.0),
            freq: Some(1),
            note: Some("up".into()),
            ..Default::default()
        })
        .expect("set_price_reminder");
    let got = ctx.get_price_reminder(Some("HK.00700"), None).expect("get_price_reminder");
    assert_eq!(got.price_reminder_list[0].item_list[0].key, key);
    s.broker.set_price("HK.00700", 386.0).unwrap();
    s.market.step();
    let push = rx.recv_timeout(Duration::from_secs(5)).expect("the reminder push");
    assert_eq!((push.key, push.price), (Some(key), 386.0));

    let groups = ctx.get_user_security_group(3).expect("get_user_security_group");
    assert!(groups.iter().any(|g| g.group_name == "Simulator" && g.group_type == 1));
    ctx.modify_user_security("Simulator", 1, ["US.NVDA"]).expect("modify_user_security");
    let list = ctx.get_user_security("Simulator").expect("get_user_security");
    assert!(list.iter().any(|s| s.code == "US.NVDA"));
    refused("modify_user_security", ctx.modify_user_security("All", 1, ["US.NVDA"]), "system group");
    let t = Instant::now();
    refused("get_user_security", ctx.get_user_security("Nope"), "Unknown watchlist group");
    assert!(t.elapsed() < Duration::from_secs(5));
}
