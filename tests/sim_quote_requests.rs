//! The simulator's reference, derivative, money-flow, screening and list requests
//! (src/sim/market/{more,reference,derivatives,flows,screen,lists}.rs): one test per
//! request with its consistency rules and its refusals, the price reminder push, the
//! odd-lot order book, and the frequency limits (the same table as the client's).
//!
//! The tests call the [`QuoteHandler`] directly with a recording push sink (no socket).

use std::sync::Arc;
use std::time::Duration;

use ftapi::pb::{self, proto, qot_common as qc, PushProtocol};
use ftapi::sim::market::{MarketData, QuoteConfig};
use ftapi::sim::{Broker, QuoteHandler};
use prost::Message;

#[path = "support/quote_conn.rs"]
mod quote_conn;
use quote_conn::{sec, Conn};

/// A connection of user 42 (the user id the user-info test expects back).
fn conn(conn_id: u64) -> Conn {
    Conn::of_user(conn_id, 42)
}

fn full(s: &qc::Security) -> String {
    let m = match s.market {
        1 => "HK",
        11 => "US",
        21 => "SH",
        22 => "SZ",
        _ => "?",
    };
    format!("{m}.{}", s.code)
}

fn cfg() -> QuoteConfig {
    QuoteConfig { seed: 7, unsub_min: Duration::ZERO, ..QuoteConfig::default() }
}

fn with_broker() -> (Arc<Broker>, MarketData) {
    let broker = Arc::new(Broker::with_default_accounts());
    let q = MarketData::with_broker(broker.clone(), cfg()).expect("market data");
    (broker, q)
}

fn last_price(q: &dyn QuoteHandler, c: &Conn, code: &str) -> f64 {
    let s = c.ok::<proto::GetSecuritySnapshot>(
        q,
        pb::qot_get_security_snapshot::C2s { security_list: vec![sec(code)], header: None },
    );
    s.snapshot_list[0].basic.cur_price
}

// ------------------------------------------------------------------------------------
// Plates
// ------------------------------------------------------------------------------------

#[test]
fn plates_and_owner_plates_agree_both_ways() {
    let (_b, q) = with_broker();
    let c = conn(1);
    for market in [1, 11, 21] {
        let set =
            c.ok::<proto::GetPlateSet>(&q, pb::qot_get_plate_set::C2s { market, plate_set_type: 0, header: None });
        assert!(!set.plate_info_list.is_empty(), "market {market} has plates");
        let industry =
            c.ok::<proto::GetPlateSet>(&q, pb::qot_get_plate_set::C2s { market, plate_set_type: 1, header: None });
        assert!(industry.plate_info_list.iter().all(|p| p.plate_type == Some(1)));
        for (k, plate) in set.plate_info_list.iter().enumerate() {
            // A connection per plate: OpenD allows 10 Qot_GetPlateSecurity per 30 s each.
            let c = conn(100 * market as u64 + k as u64);
            let members = c.ok::<proto::GetPlateSecurity>(
                &q,
                pb::qot_get_plate_security::C2s { plate: plate.plate.clone(), ..Default::default() },
            );
            assert!(!members.static_info_list.is_empty(), "{} has members", plate.plate.code);
            let owners = c.ok::<proto::GetOwnerPlate>(
                &q,
                pb::qot_get_owner_plate::C2s {
                    security_list: members.static_info_list.iter().map(|s| s.basic.security.clone()).collect(),
                    header: None,
                },
            );
            for o in &owners.owner_plate_list {
                assert!(
                    o.plate_info_list.iter().any(|p| p.plate == plate.plate),
                    "{} lists {} as a member but its owner plates do not say so",
                    plate.plate.code,
                    full(&o.security)
                );
            }
        }
    }
    // Every owner plate of a stock lists the stock.
    let owners = c.ok::<proto::GetOwnerPlate>(
        &q,
        pb::qot_get_owner_plate::C2s { security_list: vec![sec("HK.00700"), sec("US.NVDA")], header: None },
    );
    for (k, o) in owners.owner_plate_list.iter().enumerate() {
        assert!(!o.plate_info_list.is_empty());
        let c = conn(10_000 + k as u64);
        for p in &o.plate_info_list {
            let m = c.ok::<proto::GetPlateSecurity>(
                &q,
                pb::qot_get_plate_security::C2s { plate: p.plate.clone(), ..Default::default() },
            );
            assert!(m.static_info_list.iter().any(|s| s.basic.security == o.security));
        }
    }
    let msg =
        c.err::<proto::GetPlateSet>(&q, pb::qot_get_plate_set::C2s { market: 31, plate_set_type: 0, header: None });
    assert!(msg.contains("QotMarket 31"), "{msg}");
    let msg = c.err::<proto::GetPlateSecurity>(
        &q,
        pb::qot_get_plate_security::C2s { plate: sec("HK.BK9999"), ..Default::default() },
    );
    assert!(msg.contains("Unknown plate"), "{msg}");
    let msg = c.err::<proto::GetOwnerPlate>(
        &q,
        pb::qot_get_owner_plate::C2s { security_list: vec![sec("HK.99999")], header: None },
    );
    assert!(msg.contains("Unknown security"), "{msg}");
}

// ------------------------------------------------------------------------------------
// Derivatives
// ------------------------------------------------------------------------------------

#[test]
fn option_chains_have_strikes_around_the_underlying_and_quotes() {
    let (_b, q) = with_broker();
    let c = conn(1);
    for under in ["HK.00700", "US.AAPL"] {
        let s = last_price(&q, &c, under);
        let dates = c.ok::<proto::GetOptionExpirationDate>(
            &q,
            pb::qot_get_option_expiration_date::C2s { owner: sec(under), ..Default::default() },
        );
        assert!(dates.date_list.len() >= 3, "{under}: {:?}", dates.date_list);
        assert!(dates
            .date_list
            .windows(2)
            .all(|w| w[0].option_expiry_date_distance < w[1].option_expiry_date_distance));
        let first = dates.date_list[0].strike_time.clone().unwrap();
        let chain = c.ok::<proto::GetOptionChain>(
            &q,
            pb::qot_get_option_chain::C2s {
                owner: sec(under),
                begin_time: first.clone(),
                end_time: first.clone(),
                ..Default::default()
            },
        );
        assert_eq!(chain.option_chain.len(), 1);
        let ch = &chain.option_chain[0];
        assert_eq!(ch.strike_time, first);
        let strikes: Vec<f64> =
            ch.option.iter().map(|o| o.call.as_ref().unwrap().option_ex_data.as_ref().unwrap().strike_price).collect();
        assert!(strikes.len() >= 5, "{under}: {strikes:?}");
        assert!(strikes.iter().any(|k| *k < s) && strikes.iter().any(|k| *k > s), "{under} at {s}: {strikes:?}");
        assert!(strikes.windows(2).all(|w| w[0] < w[1]));
        for item in &ch.option {
            let (call, put) = (item.call.as_ref().unwrap(), item.put.as_ref().unwrap());
            let (ce, pe) = (call.option_ex_data.as_ref().unwrap(), put.option_ex_data.as_ref().unwrap());
            assert_eq!((ce.r#type, pe.r#type), (1, 2));
            assert_eq!(ce.owner, sec(under));
            assert_eq!(ce.strike_time, first);
            assert_eq!(call.basic.sec_type, 8);
        }
        // Listed options are instruments: quotes, snapshots and static info.
        let item = &ch.option[ch.option.len() / 2];
        let code = item.call.as_ref().unwrap().basic.security.clone();
        let sub = pb::qot_sub::C2s {
            security_list: vec![code.clone()],
            sub_type_list: vec![1],
            is_sub_or_un_sub: true,
            ..Default::default()
        };
        c.ok::<proto::Sub>(&q, sub);
        let quote = c.ok::<proto::GetBasicQot>(
            &q,
            pb::qot_get_basic_qot::C2s { security_list: vec![code.clone()], header: None },
        );
        assert!(quote.basic_qot_list[0].cur_price > 0.0);
        let info = c.ok::<proto::GetStaticInfo>(
            &q,
            pb::qot_get_static_info::C2s { security_list: vec![code.clone()], ..Default::default() },
        );
        assert_eq!(info.static_info_list[0].basic.sec_type, 8);
        // The option's own static info says what the chain says.
        let own = info.static_info_list[0].option_ex_data.as_ref().expect("optionExData of a listed option");
        let chained = item.call.as_ref().unwrap().option_ex_data.as_ref().unwrap();
        assert_eq!((own.r#type, &own.owner, own.strike_price), (1, &sec(under), chained.strike_price), "{under}");
        assert_eq!(own.strike_time, chained.strike_time, "{under}");
        // Calls fall and puts rise with the strike.
        let price = |sec: &qc::Security| last_price(&q, &c, &full(sec));
        let calls: Vec<f64> = ch.option.iter().map(|o| price(&o.call.as_ref().unwrap().basic.security)).collect();
        let puts: Vec<f64> = ch.option.iter().map(|o| price(&o.put.as_ref().unwrap().basic.security)).collect();
        assert!(calls.windows(2).all(|w| w[0] >= w[1]), "{under} calls {calls:?}");
        assert!(puts.windows(2).all(|w| w[0] <= w[1]), "{under} puts {puts:?}");
        // Filters: calls only, in the money.
        let itm = c.ok::<proto::GetOptionChain>(
            &q,
            pb::qot_get_option_chain::C2s {
                owner: sec(under),
                begin_time: first.clone(),
                end_time: first.clone(),
                r#type: Some(1),
                condition: Some(1),
                ..Default::default()
            },
        );
        for o in &itm.option_chain[0].option {
            assert!(o.put.is_none());
            assert!(o.call.as_ref().unwrap().option_ex_data.as_ref().unwrap().strike_price < s);
        }
    }
    // Refusals: no chain, an expiry with no chain, a bad range, an unknown code.
    let msg = c.err::<proto::GetOptionExpirationDate>(
        &q,
        pb::qot_get_option_expiration_date::C2s { owner: sec("HK.00005"), ..Default::default() },
    );
    assert!(msg.contains("no options"), "{msg}");
    let msg = c.err::<proto::GetOptionChain>(
        &q,
        pb::qot_get_option_chain::C2s {
            owner: sec("US.AAPL"),
            begin_time: "2020-01-01".into(),
            end_time: "2020-01-20".into(),
            ..Default::default()
        },
    );
    assert!(msg.contains("No option of US.AAPL expires"), "{msg}");
    let msg = c.err::<proto::GetOptionChain>(
        &q,
        pb::qot_get_option_chain::C2s {
            owner: sec("US.AAPL"),
            begin_time: "2026-01-01".into(),
            end_time: "2026-06-01".into(),
            ..Default::default()
        },
    );
    assert!(msg.contains("30 days"), "{msg}");
    let msg = c.err::<proto::GetOptionChain>(
        &q,
        pb::qot_get_option_chain::C2s {
            owner: sec("US.NOPE"),
            begin_time: "2026-01-01".into(),
            end_time: "2026-01-02".into(),
            ..Default::default()
        },
    );
    assert!(msg.contains("Unknown security"), "{msg}");
}

#[test]
fn option_quotes_follow_the_underlying() {
    let (broker, q) = with_broker();
    let c = conn(1);
    let dates = c.ok::<proto::GetOptionExpirationDate>(
        &q,
        pb::qot_get_option_expiration_date::C2s { owner: sec("HK.00700"), ..Default::default() },
    );
    let day = dates.date_list[0].strike_time.clone().unwrap();
    let chain = c.ok::<proto::GetOptionChain>(
        &q,
        pb::qot_get_option_chain::C2s {
            owner: sec("HK.00700"),
            begin_time: day.clone(),
            end_time: day,
            ..Default::default()
        },
    );
    let mid = &chain.option_chain[0].option[chain.option_chain[0].option.len() / 2];
    let call = full(&mid.call.as_ref().unwrap().basic.security);
    let put = full(&mid.put.as_ref().unwrap().basic.security);
    let (c0, p0) = (last_price(&q, &c, &call), last_price(&q, &c, &put));
    let s = broker.price("HK.00700").unwrap();
    broker.set_price("HK.00700", s * 1.1).unwrap();
    q.step();
    let (c1, p1) = (last_price(&q, &c, &call), last_price(&q, &c, &put));
    assert!(c1 > c0 && p1 < p0, "call {c0} -> {c1}, put {p0} -> {p1}");
    // Qot_GetOptionQuote: one quote per leg, the price the snapshot shows, sane greeks.
    let leg = |code: &str| qc::ComboLeg { security: sec(code), ..Default::default() };
    let oq = c.ok::<proto::GetOptionQuote>(
        &q,
        pb::qot_get_option_quote::C2s { multi_legs: vec![leg(&call), leg(&put)], header: None },
    );
    assert_eq!(oq.option_quote_list.len(), 2);
    let (cq, pq) = (&oq.option_quote_list[0], &oq.option_quote_list[1]);
    assert_eq!((cq.price, pq.price), (Some(c1), Some(p1)));
    assert_eq!((cq.option_type, pq.option_type), (Some(1), Some(2)));
    assert!(cq.delta.unwrap() > 0.0 && pq.delta.unwrap() < 0.0 && cq.gamma.unwrap() > 0.0);
    assert_eq!(cq.strike, pq.strike);
    let msg = c.err::<proto::GetOptionQuote>(
        &q,
        pb::qot_get_option_quote::C2s { multi_legs: vec![leg("HK.00700")], header: None },
    );
    assert!(msg.contains("not an option"), "{msg}");
    c.err::<proto::GetOptionQuote>(&q, pb::qot_get_option_quote::C2s::default());
}

#[test]
fn warrants_references_and_paging() {
    let (_b, q) = with_broker();
    let c = conn(1);
    let refs = c.ok::<proto::GetReference>(
        &q,
        pb::qot_get_reference::C2s { security: sec("HK.00700"), reference_type: 1, header: None },
    );
    assert_eq!(refs.static_info_list.len(), 4);
    for w in &refs.static_info_list {
        assert_eq!(w.basic.sec_type, 5);
        assert_eq!(w.warrant_ex_data.as_ref().unwrap().owner, sec("HK.00700"));
    }
    let all = c.ok::<proto::GetWarrant>(
        &q,
        pb::qot_get_warrant::C2s { begin: 0, num: 200, sort_field: 1, ascend: true, ..Default::default() },
    );
    assert_eq!(all.all_count, 6);
    assert!(all.last_page);
    let mine = c.ok::<proto::GetWarrant>(
        &q,
        pb::qot_get_warrant::C2s {
            begin: 0,
            num: 200,
            sort_field: 2,
            ascend: true,
            owner: Some(sec("HK.00700")),
            type_list: vec![1],
            ..Default::default()
        },
    );
    assert_eq!(mine.all_count, 2);
    for w in &mine.warrant_data_list {
        assert_eq!((w.r#type, w.owner.clone()), (1, sec("HK.00700")));
        assert!(w.cur_price > 0.0 && w.conversion_ratio > 0.0 && w.lot_size > 0);
        assert!(refs.static_info_list.iter().any(|r| r.basic.security == w.stock));
    }
    assert!(mine.warrant_data_list.windows(2).all(|w| w[0].cur_price <= w[1].cur_price));
    let page = c.ok::<proto::GetWarrant>(
        &q,
        pb::qot_get_warrant::C2s { begin: 4, num: 4, sort_field: 1, ascend: true, ..Default::default() },
    );
    assert_eq!((page.warrant_data_list.len(), page.last_page, page.all_count), (2, true, 6));
    let msg = c.err::<proto::GetWarrant>(
        &q,
        pb::qot_get_warrant::C2s { begin: 9, num: 4, sort_field: 1, ascend: true, ..Default::default() },
    );
    assert!(msg.contains("past the end"), "{msg}");
    let msg = c.err::<proto::GetWarrant>(
        &q,
        pb::qot_get_warrant::C2s { begin: 0, num: 500, sort_field: 1, ascend: true, ..Default::default() },
    );
    assert!(msg.contains("num"), "{msg}");
    let msg = c.err::<proto::GetWarrant>(
        &q,
        pb::qot_get_warrant::C2s {
            begin: 0,
            num: 10,
            sort_field: 1,
            ascend: true,
            owner: Some(sec("US.AAPL")),
            ..Default::default()
        },
    );
    assert!(msg.contains("HK only"), "{msg}");
    // Futures: related contracts of a main; a stock is refused.
    let fut = c.ok::<proto::GetReference>(
        &q,
        pb::qot_get_reference::C2s { security: sec("HK.HSImain"), reference_type: 2, header: None },
    );
    assert_eq!(fut.static_info_list.len(), 1);
    let msg = c.err::<proto::GetReference>(
        &q,
        pb::qot_get_reference::C2s { security: sec("HK.00700"), reference_type: 2, header: None },
    );
    assert!(msg.contains("needs a future"), "{msg}");
}

#[test]
fn future_info_describes_the_contract() {
    let (_b, q) = with_broker();
    let c = conn(1);
    let info = c.ok::<proto::GetFutureInfo>(
        &q,
        pb::qot_get_future_info::C2s { security_list: vec![sec("HK.HSImain"), sec("US.ESmain")], header: None },
    );
    assert_eq!(info.future_info_list.len(), 2);
    let hsi = &info.future_info_list[0];
    assert_eq!((hsi.exchange.as_str(), hsi.contract_size, hsi.quote_currency.as_str()), ("HKEX", 50.0, "HKD"));
    assert_eq!(hsi.min_var, 1.0);
    assert!(!hsi.trade_time.is_empty() && !hsi.last_trade_time.is_empty());
    assert_eq!(info.future_info_list[1].min_var, 0.25);
    let msg = c.err::<proto::GetFutureInfo>(
        &q,
        pb::qot_get_future_info::C2s { security_list: vec![sec("HK.00700")], header: None },
    );
    assert!(msg.contains("not a future"), "{msg}");
}

// ------------------------------------------------------------------------------------
// Money flow
// ------------------------------------------------------------------------------------

#[test]
fn capital_flow_sums_and_matches_the_distribution() {
    let (broker, q) = with_broker();
    let c = conn(1);
    for k in 0..30 {
        broker.set_price("HK.00700", 380.0 + (k % 7) as f64 * 0.2).unwrap();
        q.step();
    }
    let flow = c.ok::<proto::GetCapitalFlow>(
        &q,
        pb::qot_get_capital_flow::C2s { security: sec("HK.00700"), period_type: Some(1), ..Default::default() },
    );
    assert!(!flow.flow_item_list.is_empty());
    for it in &flow.flow_item_list {
        let parts =
            it.super_in_flow.unwrap() + it.big_in_flow.unwrap() + it.mid_in_flow.unwrap() + it.sml_in_flow.unwrap();
        assert!((parts - it.in_flow).abs() < 1e-3, "{it:?}");
        assert!((it.super_in_flow.unwrap() + it.big_in_flow.unwrap() - it.main_in_flow.unwrap()).abs() < 1e-3);
    }
    assert_eq!(flow.last_valid_time, flow.flow_item_list.last().unwrap().time);
    let d = c.ok::<proto::GetCapitalDistribution>(
        &q,
        pb::qot_get_capital_distribution::C2s { security: sec("HK.00700"), header: None },
    );
    let inflow = d.capital_in_super.unwrap() + d.capital_in_big + d.capital_in_mid + d.capital_in_small;
    let outflow = d.capital_out_super.unwrap() + d.capital_out_big + d.capital_out_mid + d.capital_out_small;
    let snap = c.ok::<proto::GetSecuritySnapshot>(
        &q,
        pb::qot_get_security_snapshot::C2s { security_list: vec![sec("HK.00700")], header: None },
    );
    let turnover = snap.snapshot_list[0].basic.turnover;
    assert!(turnover > 0.0);
    assert!((inflow + outflow - turnover).abs() < 1e-3 * turnover.max(1.0), "{inflow} + {outflow} vs {turnover}");
    let net = flow.flow_item_list.last().unwrap().in_flow;
    assert!((inflow - outflow - net).abs() < 1e-3 * turnover.max(1.0), "net {net} vs {}", inflow - outflow);
    // Daily flow: one item per trading day, the last one is today's net.
    let daily = c.ok::<proto::GetCapitalFlow>(
        &q,
        pb::qot_get_capital_flow::C2s { security: sec("HK.00700"), period_type: Some(2), ..Default::default() },
    );
    assert!(daily.flow_item_list.len() > 20);
    assert!((daily.flow_item_list.last().unwrap().in_flow - net).abs() < 1e-3 * turnover.max(1.0));
    let msg = c.err::<proto::GetCapitalFlow>(
        &q,
        pb::qot_get_capital_flow::C2s { security: sec("HK.HSImain"), period_type: Some(1), ..Default::default() },
    );
    assert!(msg.contains("stocks"), "{msg}");
    let msg = c.err::<proto::GetCapitalFlow>(
        &q,
        pb::qot_get_capital_flow::C2s { security: sec("HK.00700"), period_type: Some(9), ..Default::default() },
    );
    assert!(msg.contains("PeriodType"), "{msg}");
}

// ------------------------------------------------------------------------------------
// Screening
// ------------------------------------------------------------------------------------

#[test]
fn stock_filter_filters_sorts_and_pages() {
    let (_b, q) = with_broker();
    let c = conn(1);
    let all = c.ok::<proto::StockFilter>(
        &q,
        pb::qot_stock_filter::C2s { begin: 0, num: 200, market: 1, ..Default::default() },
    );
    assert_eq!(all.all_count, 5, "the HK stocks, no warrants");
    let price = pb::qot_stock_filter::BaseFilter {
        field_name: 3,
        filter_min: Some(50.0),
        filter_max: Some(1000.0),
        sort_dir: Some(2),
        ..Default::default()
    };
    let cheap = c.ok::<proto::StockFilter>(
        &q,
        pb::qot_stock_filter::C2s {
            begin: 0,
            num: 200,
            market: 1,
            base_filter_list: vec![price],
            accumulate_filter_list: vec![pb::qot_stock_filter::AccumulateFilter {
                field_name: 1,
                days: 5,
                is_no_filter: Some(true),
                ..Default::default()
            }],
            financial_filter_list: vec![pb::qot_stock_filter::FinancialFilter {
                field_name: 1,
                quarter: 1,
                filter_min: Some(0.0),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    let prices: Vec<f64> = cheap.data_list.iter().map(|d| d.base_data_list[0].value).collect();
    assert!(!prices.is_empty() && prices.iter().all(|p| (50.0..=1000.0).contains(p)), "{prices:?}");
    assert!(prices.windows(2).all(|w| w[0] >= w[1]), "descending: {prices:?}");
    for d in &cheap.data_list {
        assert_eq!(d.accumulate_data_list[0].days, 5);
        assert!(d.financial_data_list[0].value > 0.0);
        let snap = last_price(&q, &c, &full(&d.security));
        assert_eq!(snap, d.base_data_list[0].value, "the filter sees the quote's price");
    }
    // The filter's fundamentals are the snapshot's: PE (field 12) and market value (11).
    let fundamentals = c.ok::<proto::StockFilter>(
        &q,
        pb::qot_stock_filter::C2s {
            begin: 0,
            num: 200,
            market: 1,
            base_filter_list: [12, 11]
                .map(|field_name| pb::qot_stock_filter::BaseFilter {
                    field_name,
                    is_no_filter: Some(true),
                    ..Default::default()
                })
                .to_vec(),
            ..Default::default()
        },
    );
    assert!(!fundamentals.data_list.is_empty());
    for d in &fundamentals.data_list {
        let snap = c.ok::<proto::GetSecuritySnapshot>(
            &q,
            pb::qot_get_security_snapshot::C2s { security_list: vec![d.security.clone()], header: None },
        );
        let eq = snap.snapshot_list[0].equity_ex_data.as_ref().expect("a stock's equityExData");
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0);
        let value = |f: i32| d.base_data_list.iter().find(|b| b.field_name == f).unwrap().value;
        assert!(
            close(value(12), eq.pe_rate),
            "{}: filter PE {} vs snapshot {}",
            full(&d.security),
            value(12),
            eq.pe_rate
        );
        assert!(
            close(value(11), eq.issued_market_val),
            "{}: filter market value {} vs snapshot {}",
            full(&d.security),
            value(11),
            eq.issued_market_val
        );
    }
    let page =
        c.ok::<proto::StockFilter>(&q, pb::qot_stock_filter::C2s { begin: 2, num: 2, market: 1, ..Default::default() });
    assert_eq!((page.data_list.len(), page.last_page, page.all_count), (2, false, 5));
    let msg = c
        .err::<proto::StockFilter>(&q, pb::qot_stock_filter::C2s { begin: 7, num: 2, market: 1, ..Default::default() });
    assert!(msg.contains("past the end"), "{msg}");
    let msg = c
        .err::<proto::StockFilter>(&q, pb::qot_stock_filter::C2s { begin: 0, num: 0, market: 1, ..Default::default() });
    assert!(msg.contains("num"), "{msg}");
    let msg = c.err::<proto::StockFilter>(
        &q,
        pb::qot_stock_filter::C2s {
            begin: 0,
            num: 10,
            market: 1,
            base_filter_list: vec![pb::qot_stock_filter::BaseFilter { field_name: 99, ..Default::default() }],
            ..Default::default()
        },
    );
    assert!(msg.contains("StockField 99"), "{msg}");
    let plate = c.ok::<proto::StockFilter>(
        &q,
        pb::qot_stock_filter::C2s {
            begin: 0,
            num: 10,
            market: 11,
            plate: Some(sec("US.BK2001")),
            ..Default::default()
        },
    );
    assert_eq!(plate.all_count, 3);
}

// ------------------------------------------------------------------------------------
// Alerts and lists
// ------------------------------------------------------------------------------------

#[test]
fn price_reminders_push_when_the_price_crosses() {
    let (broker, q) = with_broker();
    let c = conn(1);
    broker.set_price("HK.00700", 380.0).unwrap();
    q.step();
    let add = |kind: i32, value: f64, freq: i32| pb::qot_set_price_reminder::C2s {
        security: sec("HK.00700"),
        op: 1,
        r#type: Some(kind),
        value: Some(value),
        freq: Some(freq),
        note: Some("sim".into()),
        ..Default::default()
    };
    let up = c.ok::<proto::SetPriceReminder>(&q, add(1, 390.0, 1)).key;
    let down = c.ok::<proto::SetPriceReminder>(&q, add(2, 370.0, 3)).key;
    assert!(up > 0 && down > up);
    let got = c.ok::<proto::GetPriceReminder>(
        &q,
        pb::qot_get_price_reminder::C2s { security: Some(sec("HK.00700")), ..Default::default() },
    );
    assert_eq!(got.price_reminder_list.len(), 1);
    let items = &got.price_reminder_list[0].item_list;
    assert_eq!(
        items.iter().map(|i| (i.key, i.r#type, i.value)).collect::<Vec<_>>(),
        [(up, 1, 390.0), (down, 2, 370.0)]
    );
    let by_market =
        c.ok::<proto::GetPriceReminder>(&q, pb::qot_get_price_reminder::C2s { market: Some(1), ..Default::default() });
    assert_eq!(by_market.price_reminder_list.len(), 1);

    let reminders = |c: &Conn| -> Vec<pb::qot_update_price_reminder::S2c> {
        std::mem::take(&mut *c.sink.pushes.lock().unwrap())
            .into_iter()
            .filter(|(id, _)| *id == proto::UpdatePriceReminder::PROTO_ID)
            .map(|(_, b)| pb::qot_update_price_reminder::Response::decode(b.as_slice()).unwrap().s2c.unwrap())
            .collect()
    };
    broker.set_price("HK.00700", 385.0).unwrap();
    q.step();
    assert!(reminders(&c).is_empty(), "no crossing yet");
    broker.set_price("HK.00700", 391.0).unwrap();
    q.step();
    let r = reminders(&c);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].key, r[0].price, r[0].note.as_str()), (Some(up), 391.0, "sim"));
    broker.set_price("HK.00700", 392.0).unwrap();
    q.step();
    assert!(reminders(&c).is_empty(), "still above: no new crossing");
    broker.set_price("HK.00700", 369.0).unwrap();
    q.step();
    let r = reminders(&c);
    assert_eq!(r.iter().map(|r| r.key).collect::<Vec<_>>(), [Some(down)]);
    broker.set_price("HK.00700", 391.0).unwrap();
    q.step();
    assert_eq!(reminders(&c).iter().map(|r| r.key).collect::<Vec<_>>(), [Some(up)], "Always fires again");
    broker.set_price("HK.00700", 369.0).unwrap();
    q.step();
    assert!(reminders(&c).is_empty(), "OnlyOnce fired once and is disabled");
    // Disable, delete, refusals.
    c.ok::<proto::SetPriceReminder>(
        &q,
        pb::qot_set_price_reminder::C2s { security: sec("HK.00700"), op: 4, key: Some(up), ..Default::default() },
    );
    broker.set_price("HK.00700", 395.0).unwrap();
    q.step();
    assert!(reminders(&c).is_empty(), "disabled");
    c.ok::<proto::SetPriceReminder>(
        &q,
        pb::qot_set_price_reminder::C2s { security: sec("HK.00700"), op: 2, key: Some(up), ..Default::default() },
    );
    let msg = c.err::<proto::SetPriceReminder>(
        &q,
        pb::qot_set_price_reminder::C2s { security: sec("HK.00700"), op: 3, key: Some(up), ..Default::default() },
    );
    assert!(msg.contains("No price reminder"), "{msg}");
    let msg = c.err::<proto::SetPriceReminder>(&q, add(99, 1.0, 1));
    assert!(msg.contains("PriceReminderType 99"), "{msg}");
    let msg = c.err::<proto::SetPriceReminder>(
        &q,
        pb::qot_set_price_reminder::C2s { security: sec("HK.12345"), op: 1, ..Default::default() },
    );
    assert!(msg.contains("Unknown security"), "{msg}");
    c.ok::<proto::SetPriceReminder>(
        &q,
        pb::qot_set_price_reminder::C2s { security: sec("HK.00700"), op: 6, ..Default::default() },
    );
    let got = c.ok::<proto::GetPriceReminder>(
        &q,
        pb::qot_get_price_reminder::C2s { security: Some(sec("HK.00700")), ..Default::default() },
    );
    assert!(got.price_reminder_list.is_empty());
    c.err::<proto::GetPriceReminder>(&q, pb::qot_get_price_reminder::C2s::default());
}

#[test]
fn watchlist_groups_add_delete_and_move_out() {
    let (_b, q) = with_broker();
    let c = conn(1);
    let groups =
        c.ok::<proto::GetUserSecurityGroup>(&q, pb::qot_get_user_security_group::C2s { group_type: 3, header: None });
    let names: Vec<(&str, i32)> = groups.group_list.iter().map(|g| (g.group_name.as_str(), g.group_type)).collect();
    assert!(names.contains(&("Simulator", 1)) && names.contains(&("All", 2)), "{names:?}");
    let custom =
        c.ok::<proto::GetUserSecurityGroup>(&q, pb::qot_get_user_security_group::C2s { group_type: 1, header: None });
    assert!(custom.group_list.iter().all(|g| g.group_type == 1));
    let list = |name: &str| -> Vec<String> {
        c.ok::<proto::GetUserSecurity>(&q, pb::qot_get_user_security::C2s { group_name: name.into(), header: None })
            .static_info_list
            .iter()
            .map(|s| full(&s.basic.security))
            .collect()
    };
    assert_eq!(list("Simulator"), ["HK.00700", "US.AAPL"]);
    let modify = |op: i32, codes: &[&str]| pb::qot_modify_user_security::C2s {
        group_name: "Simulator".into(),
        op,
        security_list: codes.iter().map(|c| sec(c)).collect(),
        header: None,
    };
    c.ok::<proto::ModifyUserSecurity>(&q, modify(1, &["US.TSLA", "HK.00700"]));
    assert_eq!(list("Simulator"), ["HK.00700", "US.AAPL", "US.TSLA"]);
    assert_eq!(list("US"), ["US.AAPL", "US.TSLA"]);
    assert_eq!(list("All").len(), 3);
    c.ok::<proto::ModifyUserSecurity>(&q, modify(3, &["US.AAPL"]));
    c.ok::<proto::ModifyUserSecurity>(&q, modify(2, &["HK.00700"]));
    assert_eq!(list("Simulator"), ["US.TSLA"]);
    let msg = c.err::<proto::ModifyUserSecurity>(
        &q,
        pb::qot_modify_user_security::C2s {
            group_name: "All".into(),
            op: 1,
            security_list: vec![sec("HK.00700")],
            header: None,
        },
    );
    assert!(msg.contains("system group"), "{msg}");
    let msg = c.err::<proto::ModifyUserSecurity>(&q, modify(1, &["HK.54321"]));
    assert!(msg.contains("Unknown security"), "{msg}");
    let msg =
        c.err::<proto::GetUserSecurity>(&q, pb::qot_get_user_security::C2s { group_name: "Nope".into(), header: None });
    assert!(msg.contains("Unknown watchlist group"), "{msg}");
    c.err::<proto::GetUserSecurityGroup>(&q, pb::qot_get_user_security_group::C2s { group_type: 7, header: None });
}

// ------------------------------------------------------------------------------------
// Others
// ------------------------------------------------------------------------------------

#[test]
fn code_changes_ipos_and_holding_changes() {
    let (_b, q) = with_broker();
    let c = conn(1);
    let all = c.ok::<proto::GetCodeChange>(&q, pb::qot_get_code_change::C2s::default());
    assert!(!all.code_change_list.is_empty());
    let one = c.ok::<proto::GetCodeChange>(
        &q,
        pb::qot_get_code_change::C2s { security_list: vec![sec("HK.02800")], type_list: vec![3], ..Default::default() },
    );
    assert_eq!(one.code_change_list.len(), 1);
    let none = c.ok::<proto::GetCodeChange>(
        &q,
        pb::qot_get_code_change::C2s {
            time_filter_list: vec![pb::qot_get_code_change::TimeFilter {
                r#type: 2,
                begin_time: Some("2030-01-01".into()),
                end_time: None,
            }],
            ..Default::default()
        },
    );
    assert!(none.code_change_list.is_empty());
    c.err::<proto::GetCodeChange>(&q, pb::qot_get_code_change::C2s { type_list: vec![42], ..Default::default() });

    for market in [1, 11, 21] {
        let ipo = c.ok::<proto::GetIpoList>(&q, pb::qot_get_ipo_list::C2s { market, header: None });
        assert_eq!(ipo.ipo_list.len(), 2);
        for i in &ipo.ipo_list {
            assert_eq!(i.basic.security.market, market);
            assert!(i.basic.list_time.is_some());
        }
    }
    c.err::<proto::GetIpoList>(&q, pb::qot_get_ipo_list::C2s { market: 77, header: None });

    let hc = c.ok::<proto::GetHoldingChangeList>(
        &q,
        pb::qot_get_holding_change_list::C2s { security: sec("US.AAPL"), holder_category: 1, ..Default::default() },
    );
    assert!(!hc.holding_change_list.is_empty());
    assert!(hc.holding_change_list.windows(2).all(|w| w[0].time > w[1].time), "newest first");
    let msg = c.err::<proto::GetHoldingChangeList>(
        &q,
        pb::qot_get_holding_change_list::C2s { security: sec("HK.00700"), holder_category: 1, ..Default::default() },
    );
    assert!(msg.contains("US stocks"), "{msg}");
    c.err::<proto::GetHoldingChangeList>(
        &q,
        pb::qot_get_holding_change_list::C2s { security: sec("US.AAPL"), holder_category: 9, ..Default::default() },
    );
}

#[test]
fn user_info_and_delay_statistics() {
    let (_b, q) = with_broker();
    let c = conn(1);
    let ui = c.ok::<proto::GetUserInfo>(&q, pb::get_user_info::C2s { flag: None });
    assert_eq!(ui.user_id, Some(42));
    assert_eq!(ui.sub_quota, Some(cfg().sub_quota));
    assert_eq!(ui.history_kl_quota, Some(cfg().history_kl_quota));
    let ds = c.ok::<proto::GetDelayStatistics>(
        &q,
        pb::get_delay_statistics::C2s { type_list: vec![1, 2, 3], qot_push_stage: Some(1), segment_list: vec![] },
    );
    assert_eq!(ds.qot_push_statistics_list.len(), 4);
    c.err::<proto::GetDelayStatistics>(
        &q,
        pb::get_delay_statistics::C2s { type_list: vec![9], qot_push_stage: None, segment_list: vec![] },
    );
}

#[test]
fn odd_lot_order_book_is_served_for_hk() {
    let (_b, q) = with_broker();
    let c = conn(1);
    let sub = |codes: &[&str], types: &[i32], push: bool| pb::qot_sub::C2s {
        security_list: codes.iter().map(|c| sec(c)).collect(),
        sub_type_list: types.to_vec(),
        is_sub_or_un_sub: true,
        is_reg_or_un_reg_push: Some(push),
        is_first_push: Some(push),
        ..Default::default()
    };
    c.ok::<proto::Sub>(&q, sub(&["HK.00700"], &[1, 2, 22], true));
    let odd = c.ok::<proto::GetOrderBook>(
        &q,
        pb::qot_get_order_book::C2s {
            security: sec("HK.00700"),
            num: 10,
            order_book_type: Some(1),
            ..Default::default()
        },
    );
    let board = c.ok::<proto::GetOrderBook>(
        &q,
        pb::qot_get_order_book::C2s { security: sec("HK.00700"), num: 10, ..Default::default() },
    );
    assert_eq!(odd.order_book_type, Some(1));
    assert_eq!(odd.order_book_bid_list.len(), 10);
    for (o, b) in odd.order_book_bid_list.iter().zip(&board.order_book_bid_list) {
        assert_eq!(o.price, b.price);
        assert!(o.volume >= 1 && o.volume < 100, "odd lots are under a lot: {}", o.volume);
        assert!(o.oreder_count >= 1 && i64::from(o.oreder_count) <= o.volume);
    }
    let pushes = std::mem::take(&mut *c.sink.pushes.lock().unwrap());
    let books: Vec<pb::qot_update_order_book::S2c> = pushes
        .iter()
        .filter(|(id, _)| *id == proto::UpdateOrderBook::PROTO_ID)
        .map(|(_, b)| pb::qot_update_order_book::Response::decode(b.as_slice()).unwrap().s2c.unwrap())
        .collect();
    assert!(books.iter().any(|b| b.order_book_type == Some(1)), "the first push has the odd-lot book");
    assert!(books.iter().any(|b| b.order_book_type.is_none()), "and the board-lot book");
    let msg = c.err::<proto::Sub>(&q, sub(&["US.AAPL"], &[22], false));
    assert!(msg.contains("HK only"), "{msg}");
    let c2 = conn(2);
    let msg = c2.err::<proto::GetOrderBook>(
        &q,
        pb::qot_get_order_book::C2s {
            security: sec("HK.00700"),
            num: 10,
            order_book_type: Some(1),
            ..Default::default()
        },
    );
    assert!(msg.contains("SubType 22"), "{msg}");
}

// ------------------------------------------------------------------------------------
// Frequency limits
// ------------------------------------------------------------------------------------

#[test]
fn frequency_limits_of_the_one_table_are_enforced() {
    use ftapi::sim::market::more::LIMITED_REQUESTS;
    // The simulator limits every request it serves that OpenD limits, by the table the
    // client reads too (pb::QUOTE_FREQUENCY_LIMITS).
    for id in LIMITED_REQUESTS {
        assert!(
            pb::quote_frequency_limit(*id).is_some(),
            "{}: served as limited, but not in the table",
            pb::proto_name(*id).unwrap()
        );
    }
    let (_b, q) = with_broker();
    let c = conn(1);
    let req = || pb::qot_get_plate_set::C2s { market: 1, plate_set_type: 0, header: None };
    for _ in 0..10 {
        c.ok::<proto::GetPlateSet>(&q, req());
    }
    let msg = c.err::<proto::GetPlateSet>(&q, req());
    assert!(msg.contains("frequency") && msg.contains("10"), "{msg}");
    // Per connection: another one is not limited.
    conn(2).ok::<proto::GetPlateSet>(&q, req());
    // Undecodable bodies of served protocols are refused, never a panic.
    for id in LIMITED_REQUESTS {
        let out = q.handle(&conn(3).info, *id, &[0xFF, 0xFF, 0xFF]).expect("answered");
        assert_eq!(pb::qot_get_plate_set::Response::decode(out.as_slice()).unwrap().ret_type, -1);
    }
    let _ = <proto::UpdatePriceReminder as PushProtocol>::PROTO_ID;
}
