//! Many threads on one `TrdApi`: every reply reaches the right caller exactly once;
//! `close()` racing with requests answers everything; two APIs share one simulator.
//! CI also runs this file with `--release`.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use ftapi::pb::{self, Protocol};
use ftapi::sim::{ConnInfo, TradeHandler};
use ftapi::{Error, TrdApi};
use parking_lot::Mutex;
use prost::Message;

/// Answers Trd_PlaceOrder with `orderIDEx = remark` and `orderID = packetID.serialNo`.
struct Echo;
impl TradeHandler for Echo {
    fn handle(&self, _conn: &ConnInfo, proto_id: u32, body: &[u8]) -> Option<Vec<u8>> {
        if proto_id != pb::proto::PlaceOrder::PROTO_ID {
            return None;
        }
        let req = pb::trd_place_order::Request::decode(body).ok()?;
        let s2c = pb::trd_place_order::S2c {
            header: req.c2s.header,
            order_id: Some(req.c2s.packet_id.serial_no as u64),
            order_id_ex: req.c2s.remark,
        };
        Some(
            pb::trd_place_order::Response { ret_type: 0, ret_msg: None, err_code: None, s2c: Some(s2c) }
                .encode_to_vec(),
        )
    }
    fn disconnected(&self, _conn_id: u64) {}
}

fn order(tag: String) -> pb::trd_place_order::Request {
    pb::trd_place_order::Request { c2s: pb::trd_place_order::C2s { remark: Some(tag), ..Default::default() } }
}

const THREADS: usize = 16;
const PER_THREAD: usize = 1000;

#[test]
fn sixteen_threads_times_a_thousand_requests_each_get_their_own_reply_once() {
    for mode in [Mode::Plain, Mode::Cbc] {
        let sim = sim_with(mode, |b| b.trade_handler(Arc::new(Echo)));
        let (api, rx) = recorded_api(mode);
        connect(&api, &rx, &sim, mode);
        let api = Arc::new(api);
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let answered = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (api, seen, answered) = (api.clone(), seen.clone(), answered.clone());
                std::thread::spawn(move || {
                    for i in 0..PER_THREAD {
                        let tag = format!("t{t}-{i}");
                        if i % 2 == 0 {
                            // Blocking form.
                            let s2c =
                                api.call_request::<pb::proto::PlaceOrder>(order(tag.clone()), None).expect("reply");
                            assert_eq!(s2c.order_id_ex.as_deref(), Some(tag.as_str()));
                            assert!(seen.lock().insert(tag), "delivered twice");
                            answered.fetch_add(1, Ordering::Relaxed);
                        } else {
                            // Callback form.
                            let (seen, answered, expect) = (seen.clone(), answered.clone(), tag.clone());
                            let serial = api
                                .send::<pb::proto::PlaceOrder>(order(tag), move |_api, serial, r| {
                                    let s2c = r.expect("reply");
                                    assert_eq!(s2c.order_id_ex.as_deref(), Some(expect.as_str()));
                                    assert_eq!(s2c.order_id, Some(serial as u64));
                                    assert!(seen.lock().insert(expect), "delivered twice");
                                    answered.fetch_add(1, Ordering::Relaxed);
                                })
                                .expect("sent");
                            assert_ne!(serial, 0);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("worker thread");
        }
        wait_until("every reply arrived", || answered.load(Ordering::Relaxed) == THREADS * PER_THREAD);
        assert_eq!(seen.lock().len(), THREADS * PER_THREAD);
        assert_eq!(api.pending_requests(), 0);
    }
}

#[test]
fn close_racing_with_requests_answers_every_sent_request() {
    for round in 0..5 {
        let sim = sim_with(Mode::Plain, |b| b.trade_handler(Arc::new(Echo)));
        let (api, rx) = recorded_api(Mode::Plain);
        connect(&api, &rx, &sim, Mode::Plain);
        let api = Arc::new(api);
        let sent = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let (api, sent, answered) = (api.clone(), sent.clone(), answered.clone());
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        let answered = answered.clone();
                        let r =
                            api.send::<pb::proto::PlaceOrder>(order(format!("{t}-{i}")), move |_api, _serial, r| {
                                if let Err(e) = r {
                                    assert!(matches!(e, Error::Disconnected { .. }), "{e:?}");
                                }
                                answered.fetch_add(1, Ordering::Relaxed);
                            });
                        match r {
                            Ok(_) => {
                                sent.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(Error::NotConnected(_) | Error::Io(_)) => break,
                            Err(e) => panic!("unexpected {e:?}"),
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(5 + round * 3));
        api.close();
        for w in workers {
            w.join().expect("worker");
        }
        wait_until("every sent request was answered", || {
            answered.load(Ordering::Relaxed) == sent.load(Ordering::Relaxed)
        });
    }
}

#[test]
fn two_apis_share_one_simulator() {
    let sim = sim_with(Mode::Ecb, |b| b.trade_handler(Arc::new(Echo)));
    let (a, rxa) = recorded_api(Mode::Ecb);
    let (b, rxb) = recorded_api(Mode::Ecb);
    connect(&a, &rxa, &sim, Mode::Ecb);
    connect(&b, &rxb, &sim, Mode::Ecb);
    assert_ne!(a.get_connect_id(), b.get_connect_id());
    let ta = std::thread::spawn(move || {
        for i in 0..200 {
            let r = a.call_request::<pb::proto::PlaceOrder>(order(format!("a{i}")), None).unwrap();
            assert_eq!(r.order_id_ex, Some(format!("a{i}")));
        }
        a
    });
    for i in 0..200 {
        let r = b.call_request::<pb::proto::PlaceOrder>(order(format!("b{i}")), None).unwrap();
        assert_eq!(r.order_id_ex, Some(format!("b{i}")));
    }
    let a: TrdApi = ta.join().unwrap();
    assert_eq!(sim.connection_count(), 2);
    drop(a);
    drop(b);
    wait_until("both sessions closed", || sim.connection_count() == 0);
}
