//! The simulator's market data (src/sim/market): every served `Qot_*` protocol, the
//! subscription quota and one-minute unsubscribe rule, the history K-line quota and
//! paging, pushes for every SubType, refusals of unmodelled requests, determinism from
//! the seed, and agreement between the price an order fills at and the quote.
//!
//! Most tests call the [`QuoteHandler`] directly with a recording push sink (no socket);
//! the last ones go over TCP through `SimServer` with the ftapi client.

mod common;

use std::sync::Arc;
use std::time::Duration;

use ftapi::pb::{self, proto, qot_common as qc, Protocol};
use ftapi::sim::calendar::ClockSpec;
use ftapi::sim::market::{MarketData, QuoteConfig};
use ftapi::sim::{Broker, QuoteHandler, SimServer, TradeHandler};
use prost::Message;

use common::{connect, recorded_api, wait_until, Mode};

#[path = "support/quote_conn.rs"]
mod quote_conn;
use quote_conn::{sec, Conn};

// ------------------------------------------------------------------------------------
// A connection without a socket
// ------------------------------------------------------------------------------------

impl Conn {
    fn sub(&self, q: &dyn QuoteHandler, codes: &[&str], types: &[i32], push: bool) -> pb::qot_sub::Response {
        self.call::<proto::Sub>(q, sub_c2s(codes, types, true, push))
    }

    fn unsub(&self, q: &dyn QuoteHandler, codes: &[&str], types: &[i32]) -> pb::qot_sub::Response {
        self.call::<proto::Sub>(q, sub_c2s(codes, types, false, false))
    }
}

fn sub_c2s(codes: &[&str], types: &[i32], sub: bool, push: bool) -> pb::qot_sub::C2s {
    pb::qot_sub::C2s {
        security_list: codes.iter().map(|c| sec(c)).collect(),
        sub_type_list: types.to_vec(),
        is_sub_or_un_sub: sub,
        is_reg_or_un_reg_push: Some(push),
        is_first_push: Some(push),
        ..Default::default()
    }
}

fn cfg() -> QuoteConfig {
    // In session at any hour (the market data follows the market clock).
    QuoteConfig { seed: 7, unsub_min: Duration::ZERO, clock: ClockSpec::Open, ..QuoteConfig::default() }
}

fn market(cfg: QuoteConfig) -> MarketData {
    MarketData::standalone(cfg).expect("market data")
}

/// SubType numbers.
const BASIC: i32 = 1;
const ORDER_BOOK: i32 = 2;
const TICKER: i32 = 4;
const RT: i32 = 5;
const KL_DAY: i32 = 6;
const KL_1MIN: i32 = 11;
const BROKER: i32 = 14;

/// Every KLType and its SubType.
const KL_TYPES: [(i32, i32); 15] = [
    (1, 11),
    (2, 6),
    (3, 12),
    (4, 13),
    (5, 16),
    (6, 7),
    (7, 8),
    (8, 9),
    (9, 10),
    (10, 17),
    (11, 15),
    (12, 18),
    (13, 19),
    (14, 20),
    (15, 21),
];

fn history_c2s(
    code: &str,
    kl: i32,
    rehab: i32,
    begin: &str,
    end: &str,
    max: Option<i32>,
) -> pb::qot_request_history_kl::C2s {
    pb::qot_request_history_kl::C2s {
        rehab_type: rehab,
        kl_type: kl,
        security: sec(code),
        begin_time: begin.into(),
        end_time: end.into(),
        max_ack_kl_num: max,
        ..Default::default()
    }
}

/// A history range of roughly the last `days` days, as (begin, end) date strings.
fn last_days(days: i64) -> (String, String) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let day = now.div_euclid(86_400);
    (ymd(day - days), ymd(day + 1))
}

fn ymd(days: i64) -> String {
    // Civil date from days since 1970-01-01 (the same algorithm as the simulator's).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{:04}-{m:02}-{d:02}", yoe + era * 400 + i64::from(m <= 2))
}

// ------------------------------------------------------------------------------------
// Reference data
// ------------------------------------------------------------------------------------

#[test]
fn static_info_by_market_and_by_code() {
    let q = market(cfg());
    let c = Conn::new(1);
    let hk = c.ok::<proto::GetStaticInfo>(
        &q,
        pb::qot_get_static_info::C2s { market: Some(1), sec_type: Some(3), ..Default::default() },
    );
    let codes: Vec<&str> = hk.static_info_list.iter().map(|s| s.basic.security.code.as_str()).collect();
    assert_eq!(codes, ["00700", "09988", "00005", "03690", "02800"], "HK stocks, futures excluded");
    let tencent = &hk.static_info_list[0].basic;
    assert_eq!((tencent.lot_size, tencent.sec_type, tencent.name.as_str()), (100, 3, "TENCENT"));
    let futures = c.ok::<proto::GetStaticInfo>(
        &q,
        pb::qot_get_static_info::C2s { market: Some(1), sec_type: Some(10), ..Default::default() },
    );
    assert_eq!(futures.static_info_list.len(), 2);
    let by_code = c.ok::<proto::GetStaticInfo>(
        &q,
        pb::qot_get_static_info::C2s { security_list: vec![sec("US.AAPL")], ..Default::default() },
    );
    assert_eq!(by_code.static_info_list[0].basic.lot_size, 1);
    let err = c.err::<proto::GetStaticInfo>(
        &q,
        pb::qot_get_static_info::C2s { security_list: vec![sec("HK.99999")], ..Default::default() },
    );
    assert!(err.contains("Unknown security"), "{err}");
}

#[test]
fn market_state_and_trading_days() {
    let q = market(cfg());
    let c = Conn::new(1);
    let st = c.ok::<proto::GetMarketState>(
        &q,
        pb::qot_get_market_state::C2s { security_list: vec![sec("HK.00700"), sec("HK.HSImain")], header: None },
    );
    let states: Vec<i32> = st.market_info_list.iter().map(|m| m.market_state).collect();
    assert_eq!(states, [5, 23], "stocks in the afternoon session, futures open (as GetGlobalState says)");
    let days = c.ok::<proto::RequestTradeDate>(
        &q,
        pb::qot_request_trade_date::C2s {
            market: 1,
            begin_time: "2026-11-01".into(),
            end_time: "2026-11-30".into(),
            ..Default::default()
        },
    );
    let list: Vec<&str> = days.trade_date_list.iter().map(|d| d.time.as_str()).collect();
    assert_eq!(list.len(), 21, "weekdays of November 2026: {list:?}");
    assert_eq!((list[0], list[20]), ("2026-11-02", "2026-11-30"));
    let by_code = c.ok::<proto::RequestTradeDate>(
        &q,
        pb::qot_request_trade_date::C2s {
            market: 0,
            begin_time: "2026-11-28".into(),
            end_time: "2026-11-30".into(),
            security: Some(sec("US.AAPL")),
            header: None,
        },
    );
    assert_eq!(by_code.trade_date_list.len(), 1);
    let err = c.err::<proto::RequestTradeDate>(
        &q,
        pb::qot_request_trade_date::C2s {
            market: 1,
            begin_time: "2026-12-01".into(),
            end_time: "2026-11-01".into(),
            ..Default::default()
        },
    );
    assert!(err.contains("after"), "{err}");
}

#[test]
fn snapshot_needs_no_subscription() {
    let q = market(cfg());
    let c = Conn::new(1);
    let s = c.ok::<proto::GetSecuritySnapshot>(
        &q,
        pb::qot_get_security_snapshot::C2s { security_list: vec![sec("HK.00700"), sec("US.AAPL")], header: None },
    );
    let b = &s.snapshot_list[0].basic;
    assert_eq!((b.lot_size, b.r#type, b.cur_price), (100, 3, q.last_price("HK.00700").unwrap()));
    assert_eq!(b.price_spread, 0.2, "HK spread table at 380");
    assert!(b.bid_price.unwrap() < b.ask_price.unwrap());
    assert_eq!(s.snapshot_list[1].basic.lot_size, 1);
}

// ------------------------------------------------------------------------------------
// Real-time data and subscriptions
// ------------------------------------------------------------------------------------

#[test]
fn real_time_requests_need_a_subscription() {
    let q = market(cfg());
    let c = Conn::new(1);
    let basic = pb::qot_get_basic_qot::C2s { security_list: vec![sec("HK.00700")], header: None };
    let err = c.err::<proto::GetBasicQot>(&q, basic.clone());
    assert!(err.contains("not subscribed"), "{err}");
    let book = pb::qot_get_order_book::C2s { security: sec("HK.00700"), num: 10, ..Default::default() };
    assert!(c.err::<proto::GetOrderBook>(&q, book.clone()).contains("not subscribed"));
    assert_eq!(c.sub(&q, &["HK.00700"], &[BASIC], false).ret_type, 0);
    c.ok::<proto::GetBasicQot>(&q, basic.clone());
    assert!(c.err::<proto::GetOrderBook>(&q, book).contains("not subscribed"), "per SubType");
    // Another connection has its own subscriptions.
    assert!(Conn::new(2).err::<proto::GetBasicQot>(&q, basic).contains("not subscribed"));
}

#[test]
fn quote_book_tickers_rt_and_broker_queue() {
    let q = market(cfg());
    let c = Conn::new(1);
    let all = [BASIC, ORDER_BOOK, TICKER, RT, BROKER];
    assert_eq!(c.sub(&q, &["HK.00700"], &all, false).ret_type, 0);
    for _ in 0..5 {
        q.step();
    }
    let last = q.last_price("HK.00700").unwrap();
    let b = c.ok::<proto::GetBasicQot>(
        &q,
        pb::qot_get_basic_qot::C2s { security_list: vec![sec("HK.00700")], header: None },
    );
    let b = &b.basic_qot_list[0];
    assert_eq!(b.cur_price, last);
    assert!(b.low_price <= last && last <= b.high_price && b.volume > 0);
    assert!((b.last_close_price / 380.0 - 1.0).abs() < 0.1, "the previous close is near the start price");

    let book = c.ok::<proto::GetOrderBook>(
        &q,
        pb::qot_get_order_book::C2s { security: sec("HK.00700"), num: 10, ..Default::default() },
    );
    assert_eq!((book.order_book_bid_list.len(), book.order_book_ask_list.len()), (10, 10));
    assert_eq!(book.order_book_bid_list[0].price, last, "best bid at the last price");
    assert!(book.order_book_ask_list[0].price > last);
    assert!(book.order_book_bid_list.windows(2).all(|w| w[0].price > w[1].price));
    assert!(book.order_book_ask_list.windows(2).all(|w| w[0].price < w[1].price));
    assert!(book.order_book_bid_list.iter().all(|l| l.volume > 0 && l.volume % 100 == 0), "whole lots");

    let t = c.ok::<proto::GetTicker>(
        &q,
        pb::qot_get_ticker::C2s { security: sec("HK.00700"), max_ret_num: 3, header: None },
    );
    let seqs: Vec<i64> = t.ticker_list.iter().map(|t| t.sequence).collect();
    assert_eq!(seqs.len(), 3);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "the latest three trades, oldest first: {seqs:?}");
    assert_eq!(t.ticker_list[2].price, last);

    let rt = c.ok::<proto::GetRT>(&q, pb::qot_get_rt::C2s { security: sec("HK.00700"), header: None });
    assert!(!rt.rt_list.is_empty());
    assert_eq!(rt.rt_list.last().unwrap().price, Some(last));
    assert_eq!(rt.rt_list.iter().map(|r| r.volume.unwrap()).sum::<i64>(), b.volume);

    let br = c.ok::<proto::GetBroker>(&q, pb::qot_get_broker::C2s { security: sec("HK.00700"), header: None });
    assert_eq!((br.broker_bid_list.len(), br.broker_ask_list.len()), (10, 10));
}

#[test]
fn broker_queue_is_hk_only_and_unknown_sub_types_are_refused() {
    let q = market(cfg());
    let c = Conn::new(1);
    let r = c.sub(&q, &["US.AAPL"], &[BROKER], false);
    assert_eq!(r.ret_type, -1);
    assert!(r.ret_msg.unwrap().contains("HK only"));
    let r = c.sub(&q, &["HK.00700"], &[1, 23], false);
    assert_eq!(r.ret_type, -1, "an unknown SubType fails the whole request");
    assert_eq!(q.used_quota(), 0, "a refused request subscribes nothing");
}

#[test]
fn current_k_lines_of_every_type() {
    let q = market(cfg());
    let c = Conn::new(1);
    for (kl, sub) in KL_TYPES {
        let req =
            pb::qot_get_kl::C2s { rehab_type: 1, kl_type: kl, security: sec("HK.00700"), req_num: 20, header: None };
        assert!(c.err::<proto::GetKL>(&q, req.clone()).contains("not subscribed"));
        assert_eq!(c.sub(&q, &["HK.00700"], &[sub], false).ret_type, 0);
        let k = c.ok::<proto::GetKL>(&q, req);
        assert!(!k.kl_list.is_empty() && k.kl_list.len() <= 20, "KLType {kl}: {} bars", k.kl_list.len());
        let times: Vec<&str> = k.kl_list.iter().map(|b| b.time.as_str()).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "KLType {kl}: times not ascending: {times:?}");
        for b in &k.kl_list {
            let (h, l) = (b.high_price.unwrap(), b.low_price.unwrap());
            assert!(l <= b.open_price.unwrap() && b.open_price.unwrap() <= h, "KLType {kl}: {b:?}");
            assert!(l <= b.close_price.unwrap() && b.close_price.unwrap() <= h, "KLType {kl}: {b:?}");
        }
    }
    assert_eq!(q.used_quota(), 15);
}

// ------------------------------------------------------------------------------------
// History
// ------------------------------------------------------------------------------------

#[test]
fn history_k_lines_of_every_type_page_by_next_req_key() {
    // A clock that hardly moves: the live day's bars stay the same between the pages.
    let frozen = ClockSpec::At { start: ftapi::sim::calendar::wall_secs(), speed: 1e-9 };
    let q = market(QuoteConfig { clock: frozen, ..cfg() });
    let c = Conn::new(1);
    for (kl, _) in KL_TYPES {
        let (begin, end) = match kl {
            1 | 10 | 6 | 12 => last_days(5),
            7 | 8 | 9 | 13 | 14 | 15 => last_days(30),
            2 => last_days(120),
            _ => last_days(3000),
        };
        let whole = c.ok::<proto::RequestHistoryKL>(&q, history_c2s("HK.00700", kl, 0, &begin, &end, Some(100_000)));
        assert!(whole.next_req_key.is_none());
        assert!(whole.kl_list.len() > 3, "KLType {kl}: {} bars", whole.kl_list.len());
        let mut paged = Vec::new();
        let mut key = None;
        let mut pages = 0;
        loop {
            let mut req = history_c2s("HK.00700", kl, 0, &begin, &end, Some(7));
            req.next_req_key = key.clone();
            let page = c.ok::<proto::RequestHistoryKL>(&q, req);
            assert!(page.kl_list.len() <= 7);
            paged.extend(page.kl_list);
            pages += 1;
            key = page.next_req_key;
            if key.is_none() {
                break;
            }
            assert!(pages < 1000, "paging does not end");
        }
        assert_eq!(paged, whole.kl_list, "KLType {kl}: pages differ from the one-shot answer");
        assert_eq!(pages, whole.kl_list.len().div_ceil(7));
    }
    // A key from another request is refused.
    let mut req = history_c2s("HK.00700", 2, 0, "2026-01-01", "2026-06-01", Some(5));
    let key = c.ok::<proto::RequestHistoryKL>(&q, req.clone()).next_req_key.unwrap();
    req.kl_type = 3;
    req.next_req_key = Some(key);
    assert!(c.err::<proto::RequestHistoryKL>(&q, req.clone()).contains("nextReqKey"));
    req.next_req_key = Some(b"garbage".to_vec());
    assert!(c.err::<proto::RequestHistoryKL>(&q, req).contains("nextReqKey"));
    assert!(c
        .err::<proto::RequestHistoryKL>(&q, history_c2s("HK.00700", 99, 0, "2026-01-01", "2026-02-01", None))
        .contains("klType"));
    assert!(c
        .err::<proto::RequestHistoryKL>(&q, history_c2s("HK.00700", 2, 0, "2026-13-01", "2026-02-01", None))
        .contains("beginTime"));
}

#[test]
fn history_fields_flag_limits_the_fields() {
    let q = market(cfg());
    let c = Conn::new(1);
    let mut req = history_c2s("HK.00700", 2, 0, "2026-01-01", "2026-02-01", None);
    req.need_kl_fields_flag = Some(8 | 32); // close, volume
    let k = c.ok::<proto::RequestHistoryKL>(&q, req);
    let b = &k.kl_list[0];
    assert!(b.close_price.is_some() && b.volume.is_some());
    assert!(b.open_price.is_none() && b.high_price.is_none() && b.turnover.is_none());
}

#[test]
fn history_is_deterministic_from_the_seed() {
    // The seeded tape is a function of the seed, the instrument and the start instant.
    let at = |seed: u64| {
        let clock = ClockSpec::At { start: instant("2026-11-30T14:00:00+08:00"), speed: 1e-9 };
        market(QuoteConfig { clock, seed, ..cfg() })
    };
    let req = history_c2s("US.AAPL", 2, 0, "2025-01-01", "2025-12-31", None);
    let a = Conn::new(1).ok::<proto::RequestHistoryKL>(&at(7), req.clone());
    let b = Conn::new(1).ok::<proto::RequestHistoryKL>(&at(7), req.clone());
    assert_eq!(a, b);
    let other = Conn::new(1).ok::<proto::RequestHistoryKL>(&at(8), req);
    assert_eq!(a.kl_list.len(), other.kl_list.len());
    assert_ne!(a.kl_list, other.kl_list, "another seed, another history");
    // The live trades are deterministic too: same seed, same clock, same steps, same
    // tickers.
    let frozen = ClockSpec::At { start: instant("2026-11-30T14:00:00+08:00"), speed: 1e-9 };
    let frozen = || market(QuoteConfig { clock: frozen, ..cfg() });
    let tickers = |m: &MarketData| {
        let c = Conn::new(1);
        assert_eq!(c.sub(m, &["HK.00700"], &[TICKER], false).ret_type, 0);
        for _ in 0..10 {
            m.step();
        }
        let t = c.ok::<proto::GetTicker>(
            m,
            pb::qot_get_ticker::C2s { security: sec("HK.00700"), max_ret_num: 10, header: None },
        );
        t.ticker_list.iter().map(|t| (t.sequence, t.price, t.volume, t.dir)).collect::<Vec<_>>()
    };
    assert_eq!(tickers(&frozen()), tickers(&frozen()));
}

#[test]
fn rehab_factors_and_adjusted_history() {
    let q = market(cfg());
    let c = Conn::new(1);
    let r = c.ok::<proto::RequestRehab>(&q, pb::qot_request_rehab::C2s { security: sec("HK.00700"), header: None });
    assert!(r.rehab_list.len() >= 8, "a dividend a year: {}", r.rehab_list.len());
    let last = r.rehab_list.last().unwrap();
    assert_eq!(last.company_act_flag, 64);
    assert_eq!((last.fwd_factor_a, last.fwd_factor_b, last.bwd_factor_b), (1.0, -3.8, 3.8));
    // Qot_GetRehab (3102, which the official SDKs no longer send) answers the same.
    let body = pb::qot_get_rehab::Request {
        c2s: pb::qot_get_rehab::C2s { security_list: vec![sec("HK.00700")], header: None },
    };
    let out = q.handle(&c.info, 3102, &body.encode_to_vec()).unwrap();
    let g = pb::qot_get_rehab::Response::decode(out.as_slice()).unwrap().s2c.unwrap();
    assert_eq!(g.security_rehab_list[0].rehab_list, r.rehab_list);
    // Futures have none.
    let f = c.ok::<proto::RequestRehab>(&q, pb::qot_request_rehab::C2s { security: sec("HK.HSImain"), header: None });
    assert!(f.rehab_list.is_empty());
    // Forward-adjusted prices before the last ex-date are lower by the dividend; after
    // it, equal. Backward-adjusted are higher by every dividend so far.
    let ex = &last.time;
    let begin = format!("{}-01-01", &ex[..4]);
    let end = format!("{}-12-31", &ex[..4]);
    let raw = c.ok::<proto::RequestHistoryKL>(&q, history_c2s("HK.00700", 2, 0, &begin, &end, Some(1000)));
    let fwd = c.ok::<proto::RequestHistoryKL>(&q, history_c2s("HK.00700", 2, 1, &begin, &end, Some(1000)));
    let bwd = c.ok::<proto::RequestHistoryKL>(&q, history_c2s("HK.00700", 2, 2, &begin, &end, Some(1000)));
    let total: f64 = r.rehab_list.iter().filter(|x| x.time <= *ex).map(|x| x.dividend.unwrap()).sum();
    for ((r0, f), b) in raw.kl_list.iter().zip(&fwd.kl_list).zip(&bwd.kl_list) {
        let day = &r0.time[..10];
        let (rc, fc, bc) = (r0.close_price.unwrap(), f.close_price.unwrap(), b.close_price.unwrap());
        if day < ex.as_str() {
            assert!((rc - 3.8 - fc).abs() < 1e-6, "{day}: raw {rc} fwd {fc}");
            assert!((rc + total - 3.8 - bc).abs() < 1e-6, "{day}: raw {rc} bwd {bc}");
        } else {
            assert!((rc - fc).abs() < 1e-6, "{day}: raw {rc} fwd {fc}");
            assert!((rc + total - bc).abs() < 1e-6, "{day}: raw {rc} bwd {bc}");
        }
    }
}

#[test]
fn history_kl_quota_counts_distinct_securities() {
    let q = market(QuoteConfig { history_kl_quota: 2, ..cfg() });
    let c = Conn::new(1);
    let (b, e) = ("2026-01-01", "2026-03-01");
    let first = c.ok::<proto::RequestHistoryKL>(&q, history_c2s("HK.00700", 2, 0, b, e, Some(5)));
    c.ok::<proto::RequestHistoryKL>(&q, history_c2s("HK.00700", 3, 1, b, e, None));
    c.ok::<proto::RequestHistoryKL>(&q, history_c2s("US.AAPL", 2, 0, b, e, None));
    let err = c.err::<proto::RequestHistoryKL>(&q, history_c2s("US.TSLA", 2, 0, b, e, None));
    assert!(err.contains("quota"), "{err}");
    // Later pages of an earlier request are not new requests.
    let mut next = history_c2s("HK.00700", 2, 0, b, e, Some(5));
    next.next_req_key = first.next_req_key;
    c.ok::<proto::RequestHistoryKL>(&q, next);
    let quota = c.ok::<proto::RequestHistoryKLQuota>(
        &q,
        pb::qot_request_history_kl_quota::C2s { b_get_detail: Some(true), header: None },
    );
    assert_eq!((quota.used_quota, quota.remain_quota), (2, 0));
    let codes: Vec<&str> = quota.detail_list.iter().map(|d| d.security.code.as_str()).collect();
    assert_eq!(codes, ["00700", "AAPL"]);
}

// ------------------------------------------------------------------------------------
// Quota, the unsubscribe rule, pushes
// ------------------------------------------------------------------------------------

#[test]
fn subscription_quota_over_all_connections() {
    let q = market(QuoteConfig { sub_quota: 4, ..cfg() });
    let (a, b) = (Conn::new(1), Conn::new(2));
    assert_eq!(a.sub(&q, &["HK.00700"], &[BASIC, ORDER_BOOK, TICKER], false).ret_type, 0);
    assert_eq!(a.sub(&q, &["HK.00700"], &[BASIC], false).ret_type, 0, "subscribing again costs nothing");
    let r = b.sub(&q, &["US.AAPL"], &[BASIC, TICKER], false);
    assert_eq!(r.ret_type, -1);
    assert!(r.ret_msg.unwrap().contains("quota"));
    assert_eq!(b.sub(&q, &["US.AAPL"], &[BASIC], false).ret_type, 0);
    let info = b.ok::<proto::GetSubInfo>(&q, pb::qot_get_sub_info::C2s { is_req_all_conn: Some(true), header: None });
    assert_eq!((info.total_used_quota, info.remain_quota), (4, 0));
    let own: Vec<(bool, i32)> = info.conn_sub_info_list.iter().map(|c| (c.is_own_conn_data, c.used_quota)).collect();
    assert_eq!(own, [(false, 3), (true, 1)]);
    let mine = b.ok::<proto::GetSubInfo>(&q, pb::qot_get_sub_info::C2s { is_req_all_conn: Some(false), header: None });
    assert_eq!(mine.conn_sub_info_list.len(), 1);
    assert_eq!(mine.conn_sub_info_list[0].sub_info_list[0].security_list, vec![sec("US.AAPL")]);
    // A connection that goes away gives its quota back.
    q.disconnected(1);
    assert_eq!(q.used_quota(), 1);
}

#[test]
fn unsubscribe_only_after_the_rule_duration() {
    let q = market(QuoteConfig { unsub_min: Duration::from_secs(3600), ..cfg() });
    let c = Conn::new(1);
    assert_eq!(c.sub(&q, &["HK.00700"], &[BASIC, TICKER], false).ret_type, 0);
    let r = c.unsub(&q, &["HK.00700"], &[BASIC]);
    assert_eq!(r.ret_type, -1);
    assert!(r.ret_msg.unwrap().contains("HK.00700 has been subscribed for 0 s"));
    let all = c.call::<proto::Sub>(&q, pb::qot_sub::C2s { is_unsub_all: Some(true), ..Default::default() });
    assert_eq!(all.ret_type, -1, "unsubscribe-all obeys the rule too");
    assert_eq!(q.used_quota(), 2);
    q.set_unsub_min(Duration::ZERO);
    assert_eq!(c.unsub(&q, &["HK.00700"], &[BASIC]).ret_type, 0);
    assert_eq!(q.used_quota(), 1);
    let all = c.call::<proto::Sub>(&q, pb::qot_sub::C2s { is_unsub_all: Some(true), ..Default::default() });
    assert_eq!(all.ret_type, 0);
    assert_eq!(q.used_quota(), 0);
}

fn push_ids(pushes: &[(u32, Vec<u8>)]) -> Vec<u32> {
    let mut ids: Vec<u32> = pushes.iter().map(|p| p.0).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn pushes_for_every_sub_type() {
    let q = market(cfg());
    let c = Conn::new(1);
    let all = [BASIC, ORDER_BOOK, TICKER, RT, KL_DAY, KL_1MIN, BROKER];
    q.step(); // one trade, so that tickers and RT have something for the first push
    assert_eq!(c.sub(&q, &["HK.00700"], &all, true).ret_type, 0);
    assert_eq!(push_ids(&c.take()), [3005, 3007, 3007, 3009, 3011, 3013, 3015], "first pushes");
    q.step();
    let pushes = c.take();
    assert_eq!(push_ids(&pushes), [3005, 3007, 3007, 3009, 3011, 3013, 3015], "one per SubType per step");
    let last = q.last_price("HK.00700").unwrap();
    for (id, body) in &pushes {
        match *id {
            3005 => {
                let p = pb::qot_update_basic_qot::Response::decode(body.as_slice()).unwrap();
                assert_eq!(p.s2c.unwrap().basic_qot_list[0].cur_price, last);
            }
            3007 => {
                let p = pb::qot_update_kl::Response::decode(body.as_slice()).unwrap().s2c.unwrap();
                assert!(p.kl_type == 1 || p.kl_type == 2);
                assert_eq!(p.rehab_type, 1, "forward-adjusted by default");
                assert_eq!(p.kl_list.last().unwrap().close_price, Some(last));
            }
            3009 => {
                let p = pb::qot_update_rt::Response::decode(body.as_slice()).unwrap().s2c.unwrap();
                assert_eq!(p.rt_list[0].price, Some(last));
            }
            3011 => {
                let p = pb::qot_update_ticker::Response::decode(body.as_slice()).unwrap().s2c.unwrap();
                assert_eq!(p.ticker_list[0].price, last);
            }
            3013 => {
                let p = pb::qot_update_order_book::Response::decode(body.as_slice()).unwrap().s2c.unwrap();
                assert_eq!(p.order_book_bid_list.len(), 10);
                assert_eq!(p.security, sec("HK.00700"));
            }
            3015 => {
                let p = pb::qot_update_broker::Response::decode(body.as_slice()).unwrap().s2c.unwrap();
                assert_eq!(p.broker_bid_list.len(), 10);
            }
            other => panic!("unexpected push {other}"),
        }
    }
}

#[test]
fn reg_qot_push_turns_pushes_on_and_off() {
    let q = market(cfg());
    let c = Conn::new(1);
    assert_eq!(c.sub(&q, &["HK.00700"], &[BASIC, ORDER_BOOK], false).ret_type, 0);
    q.step();
    assert!(c.take().is_empty(), "subscribed without pushes");
    let reg = |on: bool, types: &[i32]| pb::qot_reg_qot_push::C2s {
        security_list: vec![sec("HK.00700")],
        sub_type_list: types.to_vec(),
        rehab_type_list: vec![],
        is_reg_or_un_reg: on,
        is_first_push: Some(false),
        header: None,
    };
    c.ok::<proto::RegQotPush>(&q, reg(true, &[BASIC]));
    assert!(c.take().is_empty(), "no first push asked");
    q.step();
    assert_eq!(push_ids(&c.take()), [3005]);
    c.ok::<proto::RegQotPush>(&q, reg(false, &[BASIC]));
    q.step();
    assert!(c.take().is_empty());
    // Registering a type that is not subscribed does nothing.
    c.ok::<proto::RegQotPush>(&q, reg(true, &[TICKER]));
    q.step();
    assert!(c.take().is_empty());
}

// ------------------------------------------------------------------------------------
// Refusals, over the wire, and consistency with the broker
// ------------------------------------------------------------------------------------

#[test]
fn unmodelled_requests_are_refused_cleanly() {
    let q = market(cfg());
    let c = Conn::new(1);
    for id in [3201u32, 3252, 3999, 1006, 1008] {
        let out = q.handle(&c.info, id, &[]).unwrap_or_else(|| panic!("{id} not answered"));
        let r = pb::qot_get_basic_qot::Response::decode(out.as_slice()).unwrap();
        assert_eq!(r.ret_type, -1);
        let msg = r.ret_msg.unwrap();
        assert!(msg.contains("does not serve"), "{id}: {msg}");
    }
    let out = q.handle(&c.info, 3252, &[]).unwrap();
    let msg = pb::qot_get_basic_qot::Response::decode(out.as_slice()).unwrap().ret_msg.unwrap();
    assert!(msg.contains("Qot_StockScreen"), "{msg}");
    assert!(q.handle(&c.info, 2202, &[]).is_none(), "trading ids are not the quote side's");
    // An undecodable body of a served protocol is refused, not a panic.
    let out = q.handle(&c.info, 3004, &[0xFF, 0xFF, 0xFF]).unwrap();
    assert_eq!(pb::qot_get_basic_qot::Response::decode(out.as_slice()).unwrap().ret_type, -1);
}

/// The price an order fills at is the quote's last price: the market data reads the
/// broker's prices.
#[test]
fn last_fill_price_is_the_quote_last_price() {
    // Relaxed: the order fills inside the request (OpenD's rules would make it asynchronous).
    let broker = Arc::new(Broker::relaxed_default());
    let q = MarketData::with_broker(broker.clone(), cfg()).unwrap();
    let c = Conn::new(1);
    assert_eq!(c.sub(&q, &["HK.00700"], &[BASIC, TICKER], false).ret_type, 0);
    broker.set_price("HK.00700", 391.4).unwrap();
    let place = pb::trd_place_order::C2s {
        packet_id: pb::common::PacketId { conn_id: 1, serial_no: 1 },
        header: pb::trd_common::TrdHeader {
            trd_env: 0,
            acc_id: ftapi::sim::broker::default_ids::HK_SIM,
            trd_market: 1,
            jp_acc_type: None,
        },
        trd_side: 1,
        order_type: 2, // market
        code: "00700".into(),
        qty: 100.0,
        price: Some(0.0),
        sec_market: Some(1),
        ..Default::default()
    };
    let body = pb::trd_place_order::Request { c2s: place }.encode_to_vec();
    let out = broker.handle(&c.info, proto::PlaceOrder::PROTO_ID, &body).unwrap();
    let placed = pb::trd_place_order::Response::decode(out.as_slice()).unwrap();
    assert_eq!(placed.ret_type, 0, "{:?}", placed.ret_msg);
    let fills = c.sink.pushes.lock().unwrap().iter().filter(|p| p.0 == 2218).count();
    let fill_list = broker
        .handle(
            &c.info,
            proto::GetOrderFillList::PROTO_ID,
            &pb::trd_get_order_fill_list::Request {
                c2s: pb::trd_get_order_fill_list::C2s {
                    header: pb::trd_common::TrdHeader {
                        trd_env: 0,
                        acc_id: ftapi::sim::broker::default_ids::HK_SIM,
                        trd_market: 1,
                        jp_acc_type: None,
                    },
                    ..Default::default()
                },
            }
            .encode_to_vec(),
        )
        .unwrap();
    let fill_list = pb::trd_get_order_fill_list::Response::decode(fill_list.as_slice()).unwrap();
    let fill_price = fill_list.s2c.clone().and_then(|s| s.order_fill_list.last().map(|f| f.price));
    assert_eq!(fills, 0, "no fill pushes without Trd_SubAccPush");
    assert_eq!(fill_price, Some(391.4), "the market order filled at once: {fill_list:?}");
    let b = c.ok::<proto::GetBasicQot>(
        &q,
        pb::qot_get_basic_qot::C2s { security_list: vec![sec("HK.00700")], header: None },
    );
    assert_eq!(Some(b.basic_qot_list[0].cur_price), fill_price, "fill price = quote last price");
    let t = c.ok::<proto::GetTicker>(
        &q,
        pb::qot_get_ticker::C2s { security: sec("HK.00700"), max_ret_num: 1, header: None },
    );
    assert_eq!(t.ticker_list[0].price, 391.4, "the price move is a trade on the tape");
    // The ticker thread of the broker moves both.
    broker.tick();
    assert_eq!(q.last_price("HK.00700"), broker.price("HK.00700"));
}

/// Over TCP with the ftapi client: the server routes Qot requests to the default market
/// data (over the default broker's prices), refuses unmodelled ones, and forgets a
/// connection's subscriptions when it closes.
#[test]
fn over_the_wire_with_the_default_market_data() {
    for mode in [Mode::Plain, Mode::Cbc] {
        let broker = Arc::new(Broker::with_default_accounts());
        let sim = common::sim_with(mode, |b| b.trade_handler(broker.clone()).unsubscribe_after(Duration::ZERO));
        broker.set_price("HK.00700", 402.0).unwrap();
        let (api, rx) = recorded_api(mode);
        connect(&api, &rx, &sim, mode);
        api.call::<proto::Sub>(sub_c2s(&["HK.00700"], &[BASIC, ORDER_BOOK], true, false)).expect("subscribe");
        let q = api
            .call::<proto::GetBasicQot>(pb::qot_get_basic_qot::C2s {
                security_list: vec![sec("HK.00700")],
                header: None,
            })
            .expect("quote");
        assert_eq!(q.basic_qot_list[0].cur_price, 402.0, "{mode:?}");
        let err = api.call::<proto::GetSuspend>(pb::qot_get_suspend::C2s::default()).expect_err("unmodelled");
        assert!(err.to_string().contains("does not serve"), "{err}");
        let info = api
            .call::<proto::GetSubInfo>(pb::qot_get_sub_info::C2s { is_req_all_conn: Some(true), header: None })
            .unwrap();
        assert_eq!(info.total_used_quota, 2);
        drop(api);
        let (api2, rx2) = recorded_api(mode);
        connect(&api2, &rx2, &sim, mode);
        wait_until("the closed connection's subscriptions are forgotten", || {
            api2.call::<proto::GetSubInfo>(pb::qot_get_sub_info::C2s { is_req_all_conn: Some(true), header: None })
                .map(|i| i.total_used_quota == 0)
                .unwrap_or(false)
        });
    }
}

/// Without a trade handler there is no default market data; a quote handler can still
/// be given.
#[test]
fn protocol_only_server_has_no_market_data_unless_given() {
    let sim = SimServer::builder().port(0).no_trade_handler().start().unwrap();
    let (api, rx) = recorded_api(Mode::Plain);
    connect(&api, &rx, &sim, Mode::Plain);
    let err = api.call::<proto::GetSubInfo>(pb::qot_get_sub_info::C2s::default()).unwrap_err();
    assert!(err.to_string().contains("unknown protocol id 3003"), "{err}");
    drop(api);
    let q = Arc::new(market(cfg()));
    let sim = SimServer::builder().port(0).no_trade_handler().quote_handler(q.clone()).start().unwrap();
    let (api, rx) = recorded_api(Mode::Plain);
    connect(&api, &rx, &sim, Mode::Plain);
    api.call::<proto::Sub>(sub_c2s(&["US.AAPL"], &[BASIC], true, false)).unwrap();
    assert_eq!(q.used_quota(), 1);
}

// ------------------------------------------------------------------------------------
// One model of market data (issue 19, "Data that is wrong today"), on pinned clocks
// ------------------------------------------------------------------------------------

/// A broker on the market clock `clock` (an `opend-sim --clock` spec) and the market
/// data over it.
fn market_at(clock: &str) -> (Arc<Broker>, MarketData) {
    let spec: ClockSpec = clock.parse().expect("clock spec");
    let config = ftapi::sim::accounts::BrokerConfig::default().with_clock(spec);
    let broker = Arc::new(Broker::new(config).expect("broker"));
    let q = MarketData::with_broker(broker.clone(), cfg()).expect("market data");
    (broker, q)
}

fn instant(s: &str) -> f64 {
    ftapi::sim::calendar::parse_rfc3339(s).expect("instant")
}

#[test]
fn order_book_levels_have_volume_and_fitting_order_counts() {
    let q = market(cfg());
    let c = Conn::new(1);
    let codes = ["HK.00700", "HK.00005", "US.AAPL", "HK.HSImain", "SH.600519"];
    assert_eq!(c.sub(&q, &codes, &[ORDER_BOOK], true).ret_type, 0);
    let check = |levels: &[qc::OrderBook], lot: i64, what: &str| {
        assert_eq!(levels.len(), 10, "{what}");
        for l in levels {
            assert!(l.volume > 0, "{what}: {l:?}");
            assert!(l.oreder_count >= 1, "{what}: {l:?}");
            assert!(i64::from(l.oreder_count) * lot <= l.volume, "{what}: every order at least a lot: {l:?}");
        }
    };
    for _ in 0..40 {
        q.step();
        for code in codes {
            let lot = if code == "HK.00005" {
                400
            } else if code.starts_with("US") || code.contains("main") {
                1
            } else {
                100
            };
            let b = c.ok::<proto::GetOrderBook>(
                &q,
                pb::qot_get_order_book::C2s { security: sec(code), num: 10, ..Default::default() },
            );
            check(&b.order_book_bid_list, lot, code);
            check(&b.order_book_ask_list, lot, code);
        }
    }
    // The pushes carry the same books.
    let pushes = c.take();
    let books: Vec<_> = pushes.iter().filter(|p| p.0 == 3013).collect();
    assert!(!books.is_empty());
    for (_, body) in books {
        let p = pb::qot_update_order_book::Response::decode(body.as_slice()).unwrap().s2c.unwrap();
        for l in p.order_book_bid_list.iter().chain(&p.order_book_ask_list) {
            assert!(l.volume > 0 && l.oreder_count >= 1, "{l:?}");
        }
    }
}

#[test]
fn intraday_history_bars_carry_the_previous_bars_close() {
    let q = market(cfg());
    let c = Conn::new(1);
    let (begin, end) = last_days(12);
    for kl in [1, 6, 7, 8, 9, 13, 15] {
        let h = c.ok::<proto::RequestHistoryKL>(&q, history_c2s("HK.00700", kl, 0, &begin, &end, Some(100_000)));
        assert!(h.kl_list.len() > 10, "KLType {kl}");
        let mut day_starts = 0;
        for w in h.kl_list.windows(2) {
            assert_eq!(w[1].last_close_price, w[0].close_price, "KLType {kl}: {} after {}", w[1].time, w[0].time);
            if w[0].time[..10] != w[1].time[..10] {
                day_starts += 1;
            }
        }
        assert!(day_starts >= 5, "KLType {kl}: the range crosses days");
    } // Forward- and backward-adjusted daily bars stay continuous across the year's
      // ex-dividend day.
    for rehab in [1, 2] {
        let h =
            c.ok::<proto::RequestHistoryKL>(&q, history_c2s("HK.00700", 2, rehab, "2025-01-01", "2025-12-31", None));
        assert!(h.kl_list.len() > 200);
        for w in h.kl_list.windows(2) {
            assert_eq!(w[1].last_close_price, w[0].close_price, "rehab {rehab}: {}", w[1].time);
        }
    }
}

#[test]
fn live_and_historical_volume_come_from_one_model() {
    // A minute of market per wall second, in HK's afternoon session.
    let (broker, q) = market_at("2026-11-30T14:00:00+08:00x60");
    let tape = broker.tape().expect("the broker reads a tape");
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(250));
        q.step();
    }
    let (day, _, live_volume, _) = q.live_day("HK.00700").unwrap();
    let now = broker.clock().now();
    let midnight = instant("2026-11-30T00:00:00+08:00");
    assert_eq!(day, (midnight as i64 + 8 * 3600).div_euclid(86_400), "the live day is the clock's day");
    let bars = tape.bars("HK.00700", midnight as i64, now as i64);
    let tape_volume: i64 = bars.iter().map(|b| b.volume).sum();
    let biggest = bars.iter().map(|b| b.volume).max().unwrap();
    assert!(
        (live_volume - tape_volume).abs() <= 2 * biggest,
        "live volume {live_volume} vs the tape's {tape_volume} (one bar: {biggest})"
    );
    // The daily bars are the same model: the previous day's volume per minute is of the
    // same order as today's.
    let prev = tape.daily("HK.00700", day - 10, day - 1).pop().unwrap();
    let per_minute_hist = prev.volume as f64 / 330.0;
    let per_minute_live = live_volume as f64 / bars.len() as f64;
    let ratio = per_minute_live / per_minute_hist;
    assert!((0.3..3.0).contains(&ratio), "live {per_minute_live}/min vs history {per_minute_hist}/min");
}

#[test]
fn static_info_and_snapshots_are_complete_and_consistent() {
    let (_broker, q) = market_at("2026-11-30T14:00:00+08:00x1");
    let c = Conn::new(1);
    let codes = ["HK.00700", "US.AAPL", "HK.HSImain", "US.AAPL271217C200000", "US.AAPL271217P180000"];
    let info = c.ok::<proto::GetStaticInfo>(
        &q,
        pb::qot_get_static_info::C2s { security_list: codes.iter().map(|s| sec(s)).collect(), ..Default::default() },
    );
    let list = &info.static_info_list;
    assert_eq!(list[0].basic.list_time, "2004-06-16");
    assert_eq!(list[1].basic.list_time, "1980-12-12");
    let fut = list[2].future_ex_data.as_ref().expect("futureExData");
    assert!(fut.is_main_contract && !fut.last_trade_time.is_empty());
    let opt = list[3].option_ex_data.as_ref().expect("optionExData");
    assert_eq!((opt.r#type, opt.strike_price, opt.strike_time.as_str()), (1, 200.0, "2027-12-17"));
    assert_eq!(opt.owner.code, "AAPL");
    assert_eq!(list[4].option_ex_data.as_ref().unwrap().r#type, 2);

    let snap = c.ok::<proto::GetSecuritySnapshot>(
        &q,
        pb::qot_get_security_snapshot::C2s { security_list: codes.iter().map(|s| sec(s)).collect(), header: None },
    );
    let s = &snap.snapshot_list;
    let eq = s[0].equity_ex_data.as_ref().expect("equityExData");
    assert!(eq.issued_shares > 0 && eq.pe_rate > 0.0 && eq.issued_market_val > 0.0);
    assert!((eq.issued_market_val - eq.issued_shares as f64 * s[0].basic.cur_price).abs() < 1.0);
    let fx = s[2].future_ex_data.as_ref().expect("futureExData");
    assert!(fx.is_main_contract && fx.position > 0);
    assert_eq!(fx.last_settle_price, s[2].basic.last_close_price);
    let ox = s[3].option_ex_data.as_ref().expect("optionExData");
    assert_eq!((ox.contract_size, ox.strike_price, ox.owner.code.as_str()), (100, 200.0, "AAPL"));
    // The 52-week range: the year's daily bars and today.
    for (n, code) in codes.iter().enumerate().take(3) {
        let b = &s[n].basic;
        let (hi, lo) = (b.highest52_weeks_price.unwrap(), b.lowest52_weeks_price.unwrap());
        assert!(lo > 0.0 && lo <= b.low_price && b.high_price <= hi, "{code}: {lo} {hi} {b:?}");
        let h = c.ok::<proto::RequestHistoryKL>(&q, history_c2s(code, 2, 0, "2025-12-01", "2026-11-30", Some(1000)));
        let max = h.kl_list.iter().map(|k| k.high_price.unwrap()).fold(0.0, f64::max);
        assert!((max - hi).abs() < 1e-6 || hi == b.high_price, "{code}: 52-week high {hi} vs the daily bars' {max}");
    }
}

#[test]
fn no_history_reply_reaches_past_the_simulated_now() {
    let (broker, q) = market_at("2026-11-03T09:30:00+08:00x1200");
    let c = Conn::new(1);
    std::thread::sleep(Duration::from_millis(1400)); // ~28 minutes of market
    for (kl, code) in [(1, "HK.00700"), (6, "HK.00700"), (1, "US.AAPL"), (2, "HK.00700"), (2, "US.AAPL")] {
        let h = c.ok::<proto::RequestHistoryKL>(&q, history_c2s(code, kl, 0, "2026-10-26", "2026-11-10", Some(5000)));
        let now = broker.clock().now();
        assert!(!h.kl_list.is_empty());
        for b in &h.kl_list {
            let ts = b.timestamp.unwrap();
            // Intraday bars are labelled by their end: the bar in progress ends within a
            // bar of now; daily bars by the day's midnight.
            let bound = if kl == 2 { now } else { now + 60.0 * 5.0 };
            assert!(ts <= bound, "KLType {kl} {code}: bar {} after now", b.time);
        }
        if kl == 2 {
            let last = h.kl_list.last().unwrap();
            let day = if code == "HK.00700" { "2026-11-03" } else { "2026-11-02" };
            assert!(last.time.starts_with(day), "{code}: the daily series ends today: {}", last.time);
        }
    }
    let (cur_day, _, _, _) = q.live_day("HK.00700").unwrap();
    assert_eq!(cur_day, (instant("2026-11-03T00:00:00Z") / 86_400.0) as i64);
}

#[test]
fn the_live_day_is_the_history_current_day() {
    for clock in ["2026-11-30T14:00:00+08:00x1", "open"] {
        let (_broker, q) = market_at(clock);
        let c = Conn::new(1);
        assert_eq!(c.sub(&q, &["HK.00700"], &[BASIC, KL_1MIN, KL_DAY], true).ret_type, 0);
        let pushes = c.take();
        let kl_push = pushes
            .iter()
            .filter(|p| p.0 == 3007)
            .map(|p| pb::qot_update_kl::Response::decode(p.1.as_slice()).unwrap().s2c.unwrap())
            .find(|k| k.kl_type == 1)
            .expect("a K_1M first push");
        let quote = c.ok::<proto::GetBasicQot>(
            &q,
            pb::qot_get_basic_qot::C2s { security_list: vec![sec("HK.00700")], header: None },
        );
        let quote_day = quote.basic_qot_list[0].update_time[..10].to_string();
        let cur = |kl: i32| {
            c.ok::<proto::GetKL>(
                &q,
                pb::qot_get_kl::C2s { rehab_type: 0, kl_type: kl, security: sec("HK.00700"), req_num: 3, header: None },
            )
            .kl_list
        };
        let minute = cur(1);
        let daily = cur(2);
        assert_eq!(kl_push.kl_list[0].time[..10], quote_day, "{clock}: first K_1M push");
        assert_eq!(minute.last().unwrap().time[..10], quote_day, "{clock}: get_cur_kline K_1M");
        assert_eq!(daily.last().unwrap().time[..10], quote_day, "{clock}: the daily series' last bar");
        assert_eq!(daily.last().unwrap().volume, Some(quote.basic_qot_list[0].volume), "{clock}: today's volume");
        assert_eq!(daily.last().unwrap().last_close_price, Some(quote.basic_qot_list[0].last_close_price));
        if clock != "open" {
            assert_eq!(quote_day, "2026-11-30");
            let st = c.ok::<proto::GetMarketState>(
                &q,
                pb::qot_get_market_state::C2s { security_list: vec![sec("HK.00700")], header: None },
            );
            assert_eq!(st.market_info_list[0].market_state, 5, "afternoon");
        }
    }
}

#[test]
fn public_holidays_are_closed_in_the_calendar_history_and_market_state() {
    let (_broker, q) = market_at("2025-12-25T10:00:00+08:00x1");
    let c = Conn::new(1);
    for (market, code) in [(1, "HK.00700"), (2, "US.AAPL")] {
        let days = c.ok::<proto::RequestTradeDate>(
            &q,
            pb::qot_request_trade_date::C2s {
                market,
                begin_time: "2025-12-20".into(),
                end_time: "2026-01-05".into(),
                ..Default::default()
            },
        );
        let list: Vec<&str> = days.trade_date_list.iter().map(|d| d.time.as_str()).collect();
        assert!(!list.contains(&"2025-12-25") && !list.contains(&"2026-01-01"), "{code}: {list:?}");
        assert!(list.contains(&"2025-12-24"), "{code}: {list:?}");
        let h = c.ok::<proto::RequestHistoryKL>(&q, history_c2s(code, 2, 0, "2025-01-01", "2025-12-31", Some(1000)));
        assert!(h.kl_list.iter().all(|b| !b.time.starts_with("2025-12-25")), "{code}: no bar on Christmas");
        assert!(h.kl_list.iter().all(|b| !b.time.starts_with("2025-01-01")), "{code}: none on New Year");
    }
    let st = c.ok::<proto::GetMarketState>(
        &q,
        pb::qot_get_market_state::C2s { security_list: vec![sec("HK.00700"), sec("SH.600519")], header: None },
    );
    assert_eq!(st.market_info_list[0].market_state, 6, "HK is closed on Christmas");
    assert_eq!(st.market_info_list[1].market_state, 3, "Shanghai trades on Christmas (morning)");
}

#[test]
fn the_binary_moves_its_market_by_default() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opend-sim")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("default 500"), "--help states the default tick: {help}");
}
