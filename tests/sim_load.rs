//! The simulator under load: 128 concurrent connections (OpenD's limit) subscribed to
//! one account while 16 of them trade and malformed clients hammer the server. Nothing
//! panics, every request is answered, every subscriber gets every push, and the server
//! keeps serving new connections.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ftapi::pb::{self, trd_common};
use ftapi::sim::accounts::{default_ids, BrokerConfig};
use ftapi::sim::{Broker, SimServer};
use ftapi::{ConnSpi, OrderStatus, TrdApi, TrdSpi};

const CONNECTIONS: usize = 128;
const TRADERS: usize = 16;
const ROUND_TRIPS: usize = 3; // a buy and a sell each
const HOSTILE: usize = 16;

#[derive(Default)]
struct Counter {
    final_orders: AtomicUsize,
    fills: AtomicUsize,
    up: AtomicUsize,
}
impl ConnSpi for Counter {
    fn on_init_connect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
        assert_eq!(err_code, 0, "{desc}");
        self.up.fetch_add(1, Ordering::Relaxed);
    }
}
impl TrdSpi for Counter {
    fn on_push_update_order(&self, _api: &TrdApi, push: pb::trd_update_order::S2c) {
        if OrderStatus::from(push.order.order_status) == OrderStatus::FilledAll {
            self.final_orders.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn on_push_update_order_fill(&self, _api: &TrdApi, _push: pb::trd_update_order_fill::S2c) {
        self.fills.fetch_add(1, Ordering::Relaxed);
    }
}

fn header() -> trd_common::TrdHeader {
    trd_common::TrdHeader {
        trd_env: trd_common::TrdEnv::Simulate as i32,
        acc_id: default_ids::HK_SIM,
        trd_market: trd_common::TrdMarket::Hk as i32,
        jp_acc_type: None,
    }
}

fn market_order(side: trd_common::TrdSide) -> pb::trd_place_order::C2s {
    pb::trd_place_order::C2s {
        header: header(),
        trd_side: side as i32,
        order_type: trd_common::OrderType::Market as i32,
        code: "02800".into(),
        qty: 500.0,
        price: Some(18.0),
        sec_market: Some(trd_common::TrdSecMarket::Hk as i32),
        ..Default::default()
    }
}

/// Malformed clients: garbage, a huge claimed length, a bad InitConnect, a half header.
fn hostile_client(addr: std::net::SocketAddr, kind: usize) {
    let Ok(mut s) = TcpStream::connect(addr) else { return };
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let bytes: Vec<u8> = match kind % 4 {
        0 => (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
        1 => {
            let h = ftapi::codec::FrameHeader { proto_id: 1001, body_len: u32::MAX, ..Default::default() };
            h.to_bytes().to_vec()
        }
        2 => ftapi::codec::seal_packet(1001, 1, b"\xff\xff\xff not protobuf", &ftapi::codec::PacketCipher::Plain)
            .expect("seal"),
        _ => b"FT\xe9\x03\x00\x00".to_vec(),
    };
    let _ = s.write_all(&bytes);
}

#[test]
fn one_hundred_twenty_eight_connections_under_requests_pushes_and_malformed_input() {
    let broker = Arc::new(Broker::new(BrokerConfig::relaxed().with_rate_limits(false)).expect("broker"));
    // Room for the 16 hostile clients beside the 128 (OpenD's limit, the default, is
    // tested in sim_slow_client.rs).
    let sim = SimServer::builder()
        .port(0)
        .trade_handler(broker.clone())
        .max_connections(CONNECTIONS + HOSTILE + 1)
        .start()
        .expect("simulator");
    let addr = sim.local_addr();
    let counters: Vec<Arc<Counter>> = (0..CONNECTIONS).map(|_| Arc::new(Counter::default())).collect();
    let apis: Vec<Arc<TrdApi>> = counters
        .iter()
        .map(|c| {
            let api = TrdApi::new();
            api.set_conn_spi(c.clone());
            api.set_trd_spi(c.clone());
            assert!(api.init_connect(&addr.ip().to_string(), addr.port(), false));
            Arc::new(api)
        })
        .collect();
    wait_until("every connection is up", || counters.iter().all(|c| c.up.load(Ordering::Relaxed) == 1));
    assert_eq!(sim.connection_count(), CONNECTIONS);
    for api in &apis {
        api.call::<pb::proto::SubAccPush>(pb::trd_sub_acc_push::C2s { acc_id_list: vec![default_ids::HK_SIM] })
            .expect("subscribe");
    }

    let hostile: Vec<_> = (0..HOSTILE).map(|k| std::thread::spawn(move || hostile_client(addr, k))).collect();
    let traders: Vec<_> = apis
        .iter()
        .take(TRADERS)
        .cloned()
        .map(|api| {
            std::thread::spawn(move || {
                for _ in 0..ROUND_TRIPS {
                    for side in [trd_common::TrdSide::Buy, trd_common::TrdSide::Sell] {
                        api.call::<pb::proto::PlaceOrder>(market_order(side)).expect("order accepted");
                        api.call::<pb::proto::GetOrderList>(pb::trd_get_order_list::C2s {
                            header: header(),
                            ..Default::default()
                        })
                        .expect("order list");
                    }
                }
            })
        })
        .collect();
    // Everyone else keeps querying meanwhile.
    let queriers: Vec<_> = apis
        .iter()
        .skip(TRADERS)
        .cloned()
        .map(|api| {
            std::thread::spawn(move || {
                for _ in 0..5 {
                    api.call::<pb::proto::GetFunds>(pb::trd_get_funds::C2s { header: header(), ..Default::default() })
                        .expect("funds");
                }
            })
        })
        .collect();
    for t in traders.into_iter().chain(queriers).chain(hostile) {
        t.join().expect("client thread");
    }

    let orders = TRADERS * ROUND_TRIPS * 2;
    wait_until("every subscriber got every filled order and fill", || {
        counters
            .iter()
            .all(|c| c.final_orders.load(Ordering::Relaxed) >= orders && c.fills.load(Ordering::Relaxed) >= orders)
    });
    assert!(apis.iter().all(|a| a.is_connected()), "no client lost its connection");

    // The server still serves a newcomer.
    let (api, rx) = recorded_api(Mode::Plain);
    connect(&api, &rx, &sim, Mode::Plain);
    api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }).expect("still serving");
    drop(api);
    drop(apis);
    wait_until("all sessions closed", || sim.connection_count() == 0);
}
