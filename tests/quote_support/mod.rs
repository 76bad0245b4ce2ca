//! A scripted quote server for the market-data client tests: a `TradeHandler` plugged
//! into the simulator that answers a few `Qot_*` protocols with fixed, recognisable data,
//! records every request it saw, and refuses the rest like the simulator does.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use ftapi::pb::{self, Protocol, ResponseEnvelope};
use ftapi::sim::{ConnInfo, SimServer, TradeHandler};
use parking_lot::Mutex;
use prost::Message;

/// HK.00700 as a pb security.
pub fn tencent() -> pb::qot_common::Security {
    pb::qot_common::Security { market: 1, code: "00700".into() }
}

/// The fixed basic quote the fake serves for `sec`.
pub fn basic_qot(sec: &pb::qot_common::Security, last: f64) -> pb::qot_common::BasicQot {
    pb::qot_common::BasicQot {
        security: sec.clone(),
        name: Some("TENCENT".into()),
        is_suspended: false,
        list_time: "2004-06-16".into(),
        price_spread: 0.2,
        update_time: "2026-11-30 10:00:00".into(),
        high_price: last + 2.0,
        open_price: last - 1.0,
        low_price: last - 3.0,
        cur_price: last,
        last_close_price: last - 0.5,
        volume: 123_456,
        turnover: 1.5e9,
        turnover_rate: 0.01,
        amplitude: 1.2,
        ..Default::default()
    }
}

/// K-line number `i` (0-based) of the fake daily history: close = 300 + i.
pub fn kline(i: usize) -> pb::qot_common::KLine {
    let close = 300.0 + i as f64;
    pb::qot_common::KLine {
        time: format!("2026-10-{:02} 00:00:00", i + 1),
        is_blank: false,
        high_price: Some(close + 1.0),
        open_price: Some(close - 0.5),
        low_price: Some(close - 1.0),
        close_price: Some(close),
        last_close_price: Some(close - 1.0),
        volume: Some(1000 + i as i64),
        turnover: Some(1e6),
        ..Default::default()
    }
}

/// How many daily K-lines the fake history holds.
pub const HISTORY_LEN: usize = 25;

/// The fake's state, shared with the test.
#[derive(Default)]
pub struct FakeQuotes {
    /// Every request (proto id) in arrival order.
    pub seen: Mutex<Vec<u32>>,
    /// Last price served in quotes, by code.
    pub last: Mutex<HashMap<String, f64>>,
    /// Protocols answered with retType -1 "refused by the fake".
    pub refuse: Mutex<Vec<u32>>,
    /// The subscriptions per connection: (code, subType).
    pub subs: Mutex<HashMap<u64, Vec<(String, i32)>>>,
    /// The Qot_Sub requests seen.
    pub sub_requests: Mutex<Vec<pb::qot_sub::C2s>>,
}

fn ok<P: Protocol>(s2c: <P::Response as ResponseEnvelope>::S2c) -> Option<Vec<u8>> {
    Some(P::Response::build(0, None, None, Some(s2c)).encode_to_vec())
}

fn err<P: Protocol>(msg: &str) -> Option<Vec<u8>> {
    Some(P::Response::build(-1, Some(msg.into()), Some(0), None).encode_to_vec())
}

fn req<P: Protocol>(body: &[u8]) -> Option<<P::Request as pb::RequestEnvelope>::C2s> {
    P::Request::decode(body).ok().map(|r| pb::RequestEnvelope::c2s(&r).clone())
}

impl FakeQuotes {
    pub fn new() -> Arc<FakeQuotes> {
        Arc::new(FakeQuotes::default())
    }

    fn last_of(&self, code: &str) -> f64 {
        *self.last.lock().get(code).unwrap_or(&320.0)
    }

    /// Requests seen with this proto id.
    pub fn count(&self, proto_id: u32) -> usize {
        self.seen.lock().iter().filter(|p| **p == proto_id).count()
    }
}

impl TradeHandler for FakeQuotes {
    fn handle(&self, conn: &ConnInfo, proto_id: u32, body: &[u8]) -> Option<Vec<u8>> {
        use pb::proto::*;
        self.seen.lock().push(proto_id);
        if self.refuse.lock().contains(&proto_id) {
            return Some(
                pb::get_global_state::Response::build(-1, Some("refused by the fake".into()), Some(0), None)
                    .encode_to_vec(),
            );
        }
        match proto_id {
            Sub::PROTO_ID => {
                let c2s = req::<Sub>(body)?;
                self.sub_requests.lock().push(c2s.clone());
                let mut subs = self.subs.lock();
                let list = subs.entry(conn.conn_id).or_default();
                if c2s.is_unsub_all == Some(true) {
                    list.clear();
                } else {
                    for s in &c2s.security_list {
                        for t in &c2s.sub_type_list {
                            let key = (s.code.clone(), *t);
                            if c2s.is_sub_or_un_sub {
                                if !list.contains(&key) {
                                    list.push(key);
                                }
                            } else {
                                list.retain(|k| *k != key);
                            }
                        }
                    }
                }
                ok::<Sub>(pb::qot_sub::S2c {})
            }
            RegQotPush::PROTO_ID => ok::<RegQotPush>(pb::qot_reg_qot_push::S2c {}),
            GetSubInfo::PROTO_ID => {
                let list = self.subs.lock().get(&conn.conn_id).cloned().unwrap_or_default();
                let mut by_type: Vec<pb::qot_common::SubInfo> = Vec::new();
                for (code, t) in &list {
                    let sec = pb::qot_common::Security { market: 1, code: code.clone() };
                    match by_type.iter_mut().find(|s| s.sub_type == *t) {
                        Some(s) => s.security_list.push(sec),
                        None => by_type.push(pb::qot_common::SubInfo { sub_type: *t, security_list: vec![sec] }),
                    }
                }
                ok::<GetSubInfo>(pb::qot_get_sub_info::S2c {
                    conn_sub_info_list: vec![pb::qot_common::ConnSubInfo {
                        sub_info_list: by_type,
                        used_quota: list.len() as i32,
                        is_own_conn_data: true,
                        ..Default::default()
                    }],
                    total_used_quota: list.len() as i32,
                    remain_quota: 1000 - list.len() as i32,
                    ..Default::default()
                })
            }
            GetBasicQot::PROTO_ID => {
                let c2s = req::<GetBasicQot>(body)?;
                let list = c2s.security_list.iter().map(|s| basic_qot(s, self.last_of(&s.code))).collect();
                ok::<GetBasicQot>(pb::qot_get_basic_qot::S2c { basic_qot_list: list })
            }
            GetOrderBook::PROTO_ID => {
                let c2s = req::<GetOrderBook>(body)?;
                let last = self.last_of(&c2s.security.code);
                let level = |i: usize, side: f64| pb::qot_common::OrderBook {
                    price: last + side * 0.2 * (i as f64 + 1.0),
                    volume: 100 * (i as i64 + 1),
                    oreder_count: i as i32 + 1,
                    ..Default::default()
                };
                let n = c2s.num.max(0) as usize;
                ok::<GetOrderBook>(pb::qot_get_order_book::S2c {
                    security: c2s.security.clone(),
                    name: Some("TENCENT".into()),
                    order_book_ask_list: (0..n).map(|i| level(i, 1.0)).collect(),
                    order_book_bid_list: (0..n).map(|i| level(i, -1.0)).collect(),
                    ..Default::default()
                })
            }
            GetTicker::PROTO_ID => {
                let c2s = req::<GetTicker>(body)?;
                let n = c2s.max_ret_num.max(0) as i64;
                let tickers = (0..n)
                    .map(|i| pb::qot_common::Ticker {
                        time: "2026-11-30 10:00:00".into(),
                        sequence: 1000 + i,
                        dir: 1,
                        price: 320.0,
                        volume: 100,
                        turnover: 32000.0,
                        ..Default::default()
                    })
                    .collect();
                ok::<GetTicker>(pb::qot_get_ticker::S2c {
                    security: c2s.security,
                    ticker_list: tickers,
                    ..Default::default()
                })
            }
            GetKL::PROTO_ID => {
                let c2s = req::<GetKL>(body)?;
                let n = (c2s.req_num.max(0) as usize).min(HISTORY_LEN);
                ok::<GetKL>(pb::qot_get_kl::S2c {
                    security: c2s.security,
                    name: None,
                    kl_list: (HISTORY_LEN - n..HISTORY_LEN).map(kline).collect(),
                })
            }
            RequestHistoryKL::PROTO_ID => {
                let c2s = req::<RequestHistoryKL>(body)?;
                let start = match &c2s.next_req_key {
                    Some(k) => std::str::from_utf8(k).ok()?.parse::<usize>().ok()?,
                    None => 0,
                };
                let page = c2s.max_ack_kl_num.unwrap_or(1000).max(1) as usize;
                let end = (start + page).min(HISTORY_LEN);
                ok::<RequestHistoryKL>(pb::qot_request_history_kl::S2c {
                    security: c2s.security,
                    name: None,
                    kl_list: (start..end).map(kline).collect(),
                    next_req_key: (end < HISTORY_LEN).then(|| end.to_string().into_bytes()),
                })
            }
            GetSecuritySnapshot::PROTO_ID => {
                let c2s = req::<GetSecuritySnapshot>(body)?;
                let list = c2s
                    .security_list
                    .iter()
                    .map(|s| pb::qot_get_security_snapshot::Snapshot {
                        basic: pb::qot_get_security_snapshot::SnapshotBasicData {
                            security: s.clone(),
                            r#type: 3,
                            is_suspend: false,
                            list_time: "2004-06-16".into(),
                            lot_size: 100,
                            price_spread: 0.2,
                            update_time: "2026-11-30 10:00:00".into(),
                            high_price: 330.0,
                            open_price: 318.0,
                            low_price: 315.0,
                            last_close_price: 319.0,
                            cur_price: self.last_of(&s.code),
                            volume: 123_456,
                            turnover: 1.5e9,
                            turnover_rate: 0.01,
                            ..Default::default()
                        },
                        ..Default::default()
                    })
                    .collect();
                ok::<GetSecuritySnapshot>(pb::qot_get_security_snapshot::S2c { snapshot_list: list })
            }
            GetStaticInfo::PROTO_ID => {
                let c2s = req::<GetStaticInfo>(body)?;
                let list = c2s
                    .security_list
                    .iter()
                    .map(|s| pb::qot_common::SecurityStaticInfo {
                        basic: pb::qot_common::SecurityStaticBasic {
                            security: s.clone(),
                            id: 54047868453564,
                            lot_size: 100,
                            sec_type: 3,
                            name: "TENCENT".into(),
                            list_time: "2004-06-16".into(),
                            ..Default::default()
                        },
                        ..Default::default()
                    })
                    .collect();
                ok::<GetStaticInfo>(pb::qot_get_static_info::S2c { static_info_list: list })
            }
            RequestHistoryKLQuota::PROTO_ID => ok::<RequestHistoryKLQuota>(pb::qot_request_history_kl_quota::S2c {
                used_quota: 3,
                remain_quota: 97,
                detail_list: Vec::new(),
            }),
            _ => None,
        }
    }

    fn disconnected(&self, conn_id: u64) {
        self.subs.lock().remove(&conn_id);
    }
}

/// A simulator on a free loopback port serving `fake`.
pub fn sim_with_fake(fake: Arc<FakeQuotes>) -> SimServer {
    SimServer::builder().port(0).trade_handler(fake).start().expect("start simulator")
}

/// A push body (the protocol's `Response` with `s2c`).
pub fn push_body<R: ResponseEnvelope>(s2c: R::S2c) -> Vec<u8> {
    R::build(0, None, None, Some(s2c)).encode_to_vec()
}
