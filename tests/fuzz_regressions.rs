//! Replays fuzz inputs through the same harnesses the cargo-fuzz targets run, on the
//! stable toolchain. For each target (`read_path`, `client_dispatch`, `sim_request`):
//!
//! - `tests/data/fuzz/<target>/*`: inputs that once crashed or hung it (add every new
//!   crash there, named after what it found);
//! - `fuzz/seeds/<target>/*`: the seed corpus, which must keep passing;
//! - `$FTAPI_FUZZ_CORPUS/*` if set: any corpus directory of the target named by
//!   `$FTAPI_FUZZ_TARGET` (default `read_path`), e.g. `fuzz/corpus/sim_request` after a
//!   fuzzing run, which makes a target runnable as a plain loop without nightly or
//!   libFuzzer:
//!   `FTAPI_FUZZ_TARGET=sim_request FTAPI_FUZZ_CORPUS=fuzz/corpus/sim_request cargo test --test fuzz_regressions`.

#[path = "support/read_path.rs"]
mod support;

#[path = "support/client_dispatch.rs"]
mod client_dispatch;

#[path = "support/sim_request.rs"]
mod sim_request;

use std::path::{Path, PathBuf};

use ftapi::codec::{seal_message, seal_packet, PacketCipher};
use ftapi::pb::{common, init_connect, keep_alive, trd_common, trd_get_order_list, trd_place_order};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every regular file in `dir`, sorted by name (a missing directory is empty).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect(),
        Err(_) => Vec::new(),
    };
    files.retain(|p| p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')));
    files.sort();
    files
}

/// The harness of a target, by name.
fn harness(target: &str) -> fn(&[u8]) {
    match target {
        "read_path" => |d| {
            support::read_path(d);
        },
        "client_dispatch" => |d| {
            client_dispatch::client_dispatch(d);
        },
        "sim_request" => |d| {
            sim_request::sim_request(d);
        },
        other => panic!("unknown fuzz target {other:?}"),
    }
}

fn replay(target: &str, dir: &Path) -> usize {
    let run = harness(target);
    let files = inputs(dir);
    for f in &files {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("read {}: {e}", f.display()));
        // A panic here names the file: the harness asserts carry no input context.
        let res = std::panic::catch_unwind(|| run(&data));
        assert!(res.is_ok(), "{target} panicked on {}", f.display());
    }
    files.len()
}

#[test]
fn replay_crash_inputs() {
    for target in ["read_path", "client_dispatch", "sim_request"] {
        replay(target, &root().join("tests/data/fuzz").join(target));
    }
}

#[test]
fn replay_seed_corpus() {
    for (target, min) in [("read_path", 10), ("client_dispatch", 10), ("sim_request", 10)] {
        let n = replay(target, &root().join("fuzz/seeds").join(target));
        assert!(n >= min, "the {target} seed corpus is missing ({n} files)");
    }
}

#[test]
fn replay_external_corpus() {
    if let Some(dir) = std::env::var_os("FTAPI_FUZZ_CORPUS") {
        let target = std::env::var("FTAPI_FUZZ_TARGET").unwrap_or_else(|_| "read_path".into());
        let n = replay(&target, Path::new(&dir));
        eprintln!("replayed {n} {target} inputs from {}", Path::new(&dir).display());
    }
}

/// Sanity check of the harness itself: the seeds reach the deep end of the read path.
#[test]
fn seeds_reach_protobuf_decoding() {
    let mut opened = 0;
    for f in inputs(&root().join("fuzz/seeds/read_path")) {
        let data = std::fs::read(&f).expect("read seed");
        opened += support::read_path(&data).opened;
    }
    assert!(opened >= 10, "only {opened} seed frames opened");
}

fn seed_messages() -> Vec<(u32, Vec<u8>)> {
    let header = trd_common::TrdHeader { trd_env: 1, acc_id: 12_345_678, trd_market: 1, jp_acc_type: None };
    let order = trd_common::Order {
        trd_side: 1,
        order_type: 1,
        order_status: 5,
        order_id: 42,
        order_id_ex: "ex42".into(),
        code: "00700".into(),
        name: "TENCENT".into(),
        qty: 100.0,
        price: Some(380.2),
        create_time: "2024-01-01 09:30:00".into(),
        update_time: "2024-01-01 09:30:00".into(),
        ..Default::default()
    };
    let order_list = trd_get_order_list::Response {
        ret_type: 0,
        ret_msg: None,
        err_code: None,
        s2c: Some(trd_get_order_list::S2c { header, order_list: vec![order.clone(), order] }),
    };
    let init_reply = init_connect::Response {
        ret_type: 0,
        ret_msg: Some(String::new()),
        err_code: Some(0),
        s2c: Some(init_connect::S2c {
            server_ver: 1011,
            login_user_id: 1_000_001,
            conn_id: 7_000_000_000_001,
            conn_aes_key: "0123456789abcdef".into(),
            keep_alive_interval: 10,
            aes_cb_civ: Some("fedcba9876543210".into()),
            user_attribution: Some(1),
        }),
    };
    let place = trd_place_order::Request {
        c2s: trd_place_order::C2s {
            packet_id: common::PacketId { conn_id: 7, serial_no: 9 },
            header,
            trd_side: 1,
            order_type: 1,
            code: "AAPL".into(),
            qty: 10.0,
            price: Some(187.5),
            ..Default::default()
        },
    };
    let keepalive = keep_alive::Response { ret_type: 0, ret_msg: None, err_code: None, s2c: None };
    let failed =
        trd_get_order_list::Response { ret_type: -1, ret_msg: Some("no".into()), err_code: Some(5), s2c: None };
    vec![
        (2201, prost::Message::encode_to_vec(&order_list)),
        (1001, prost::Message::encode_to_vec(&init_reply)),
        (2202, prost::Message::encode_to_vec(&place)),
        (1004, prost::Message::encode_to_vec(&keepalive)),
        (2201, prost::Message::encode_to_vec(&failed)),
    ]
}

/// Regenerates `fuzz/seeds/read_path` (run by hand:
/// `cargo test --test fuzz_regressions -- --ignored write_fuzz_seeds`).
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = root().join("fuzz/seeds/read_path");
    std::fs::create_dir_all(&dir).expect("create seed dir");
    let msgs = seed_messages();
    let mut n = 0;
    let mut write = |name: String, data: Vec<u8>| {
        std::fs::write(dir.join(name), data).expect("write seed");
        n += 1;
    };
    for cipher_sel in 0u8..4 {
        let cipher = support::cipher_for(cipher_sel);
        // Raw streams: every message sealed as a packet, all in one stream, fed whole
        // (chunk bits 31 -> 32-byte pieces) and byte by byte (chunk bits 0).
        let mut stream = Vec::new();
        for (i, (proto, body)) in msgs.iter().enumerate() {
            stream.extend_from_slice(&seal_packet(*proto, 100 + i as u32, body, &cipher));
        }
        for chunk_bits in [0u8, 31] {
            let mut data = vec![cipher_sel | (chunk_bits << 3)];
            data.extend_from_slice(&stream);
            write(format!("stream-c{cipher_sel}-k{chunk_bits}"), data);
        }
        // Sealed mode: the payload is the plaintext body.
        for (i, (_, body)) in msgs.iter().enumerate() {
            let mut data = vec![cipher_sel | 4 | (5 << 3)];
            data.extend_from_slice(body);
            write(format!("sealed-c{cipher_sel}-m{i}"), data);
        }
    }
    // The KeepAlive request of PROTOCOL.md 1.6.
    let ka = keep_alive::Request { c2s: keep_alive::C2s { time: 1_700_000_000 } };
    let mut data = vec![0u8];
    data.extend_from_slice(&seal_message(1004, 1234, &ka, &PacketCipher::Plain));
    write("keepalive-1.6".into(), data);
    eprintln!("wrote {n} seeds to {}", dir.display());
}

/// Replies and pushes from a real broker: `(proto_id, Response body)` for requests on
/// the HK SIMULATE account, and the pushes an order there caused.
/// Sanity check of the dispatch harness: its seeds reach reply and push callbacks with
/// decoded data, and its refusal, invalid-packet and timeout paths.
#[test]
fn client_dispatch_seeds_reach_the_callbacks() {
    let mut total = client_dispatch::Outcome::default();
    for f in inputs(&root().join("fuzz/seeds/client_dispatch")) {
        let data = std::fs::read(&f).expect("read seed");
        let o = client_dispatch::client_dispatch(&data);
        total.replies += o.replies;
        total.refused += o.refused;
        total.invalid += o.invalid;
        total.timeouts += o.timeouts;
        total.pushes += o.pushes;
    }
    assert!(total.replies >= 18 && total.pushes >= 10, "{total:?}");
    assert!(total.refused > 0 && total.invalid > 0 && total.timeouts > 0, "{total:?}");
}

/// Sanity check of the simulator harness: its seeds place, modify and push orders.
#[test]
fn sim_request_seeds_reach_the_matching_engine() {
    let mut total = sim_request::Outcome::default();
    for f in inputs(&root().join("fuzz/seeds/sim_request")) {
        let data = std::fs::read(&f).expect("read seed");
        let o = sim_request::sim_request(&data);
        total.ok += o.ok;
        total.placed += o.placed;
        total.modified += o.modified;
        total.pushes += o.pushes;
    }
    assert!(total.ok > 0 && total.placed > 0 && total.modified > 0 && total.pushes > 0, "{total:?}");
}

type Bodies = Vec<(u32, Vec<u8>)>;

fn broker_bodies() -> (Bodies, Bodies) {
    use ftapi::pb::{self, Protocol};
    use ftapi::sim::{accounts::default_ids::HK_SIM, Broker, ConnInfo, PushSink, TradeHandler};
    use prost::Message;
    use std::sync::{Arc, Mutex};

    struct Rec(Mutex<Vec<(u32, Vec<u8>)>>);
    impl PushSink for Rec {
        fn push(&self, proto_id: u32, plain_body: Vec<u8>) -> bool {
            self.0.lock().expect("lock").push((proto_id, plain_body));
            true
        }
    }
    let broker = Broker::relaxed_default();
    let rec = Arc::new(Rec(Mutex::new(Vec::new())));
    let conn = ConnInfo { conn_id: 1, login_user_id: 10_000_001, sink: rec.clone() };
    let header = trd_common::TrdHeader { trd_env: 0, acc_id: HK_SIM, trd_market: 1, jp_acc_type: None };
    let filter = || trd_common::TrdFilterConditions {
        begin_time: Some("2000-01-01 00:00:00".into()),
        end_time: Some("2100-01-01 00:00:00".into()),
        ..Default::default()
    };
    let mut replies = Vec::new();
    let mut ask = |proto: u32, body: Vec<u8>| {
        let reply = broker.handle(&conn, proto, &body).expect("a trading protocol");
        replies.push((proto, reply));
    };
    ask(
        pb::proto::SubAccPush::PROTO_ID,
        pb::trd_sub_acc_push::Request { c2s: pb::trd_sub_acc_push::C2s { acc_id_list: vec![HK_SIM] } }.encode_to_vec(),
    );
    let place = |serial, order_type, price| pb::trd_place_order::Request {
        c2s: pb::trd_place_order::C2s {
            packet_id: common::PacketId { conn_id: 1, serial_no: serial },
            header,
            trd_side: 1,
            order_type,
            code: "00700".into(),
            qty: 100.0,
            price,
            ..Default::default()
        },
    };
    ask(pb::proto::PlaceOrder::PROTO_ID, place(1, 2, None).encode_to_vec());
    ask(pb::proto::PlaceOrder::PROTO_ID, place(2, 1, Some(300.0)).encode_to_vec());
    ask(
        pb::proto::GetAccList::PROTO_ID,
        pb::trd_get_acc_list::Request { c2s: pb::trd_get_acc_list::C2s { user_id: 10_000_001, ..Default::default() } }
            .encode_to_vec(),
    );
    ask(
        pb::proto::GetFunds::PROTO_ID,
        pb::trd_get_funds::Request { c2s: pb::trd_get_funds::C2s { header, ..Default::default() } }.encode_to_vec(),
    );
    ask(
        pb::proto::GetPositionList::PROTO_ID,
        pb::trd_get_position_list::Request { c2s: pb::trd_get_position_list::C2s { header, ..Default::default() } }
            .encode_to_vec(),
    );
    ask(
        pb::proto::GetOrderList::PROTO_ID,
        pb::trd_get_order_list::Request { c2s: pb::trd_get_order_list::C2s { header, ..Default::default() } }
            .encode_to_vec(),
    );
    ask(
        pb::proto::GetOrderFillList::PROTO_ID,
        pb::trd_get_order_fill_list::Request { c2s: pb::trd_get_order_fill_list::C2s { header, ..Default::default() } }
            .encode_to_vec(),
    );
    ask(
        pb::proto::GetHistoryOrderList::PROTO_ID,
        pb::trd_get_history_order_list::Request {
            c2s: pb::trd_get_history_order_list::C2s {
                header,
                filter_conditions: filter(),
                filter_status_list: vec![],
            },
        }
        .encode_to_vec(),
    );
    ask(
        pb::proto::GetHistoryOrderFillList::PROTO_ID,
        pb::trd_get_history_order_fill_list::Request {
            c2s: pb::trd_get_history_order_fill_list::C2s { header, filter_conditions: filter() },
        }
        .encode_to_vec(),
    );
    ask(
        pb::proto::GetMaxTrdQtys::PROTO_ID,
        pb::trd_get_max_trd_qtys::Request {
            c2s: pb::trd_get_max_trd_qtys::C2s {
                header,
                order_type: 1,
                code: "00700".into(),
                price: 300.0,
                ..Default::default()
            },
        }
        .encode_to_vec(),
    );
    ask(
        pb::proto::GetMarginRatio::PROTO_ID,
        pb::trd_get_margin_ratio::Request {
            c2s: pb::trd_get_margin_ratio::C2s {
                header,
                security_list: vec![ftapi::pb::qot_common::Security { market: 1, code: "00700".into() }],
            },
        }
        .encode_to_vec(),
    );
    ask(
        pb::proto::FlowSummary::PROTO_ID,
        pb::trd_flow_summary::Request {
            c2s: pb::trd_flow_summary::C2s { header, clearing_date: String::new(), ..Default::default() },
        }
        .encode_to_vec(),
    );
    let pushes = std::mem::take(&mut *rec.0.lock().expect("lock"));
    (replies, pushes)
}

fn write_seed_files(target: &str, seeds: Vec<(String, Vec<u8>)>) {
    let dir = root().join("fuzz/seeds").join(target);
    std::fs::create_dir_all(&dir).expect("create seed dir");
    let n = seeds.len();
    for (name, data) in seeds {
        std::fs::write(dir.join(name), data).expect("write seed");
    }
    eprintln!("wrote {n} seeds to {}", dir.display());
}

/// Regenerates `fuzz/seeds/client_dispatch` (run by hand:
/// `cargo test --test fuzz_regressions -- --ignored write_client_dispatch_seeds`).
#[test]
#[ignore]
fn write_client_dispatch_seeds() {
    use client_dispatch::{encode_input, ScriptOp, REQUESTS};
    let (replies, pushes) = broker_bodies();
    let body_for = |proto: u32| replies.iter().find(|(p, _)| *p == proto).map(|(_, b)| b.clone());
    let notify = ftapi::pb::notify::Response {
        ret_type: 0,
        ret_msg: None,
        err_code: None,
        s2c: Some(ftapi::pb::notify::S2c {
            r#type: 1,
            event: Some(ftapi::pb::notify::GtwEvent { event_type: 14, desc: "trade password changed".into() }),
            ..Default::default()
        }),
    };
    let mut seeds = Vec::new();
    let kinds: Vec<u8> = (0..REQUESTS.len() as u8).collect();
    for (g, group) in kinds.chunks(8).enumerate() {
        let mut script: Vec<ScriptOp> = Vec::new();
        for (t, &k) in group.iter().enumerate() {
            let proto = REQUESTS[usize::from(k)];
            match body_for(proto) {
                Some(body) => script.push(ScriptOp::Reply { target: t as u8, body }),
                None => script.push(ScriptOp::ReplyEnvelope { target: t as u8, ret_type: 0, s2c: Vec::new() }),
            }
        }
        for (i, (proto, body)) in pushes.iter().enumerate() {
            let which = if *proto == 2208 { 1 } else { 2 };
            script.push(ScriptOp::Push { which, serial: i as u8, body: body.clone() });
        }
        script.push(ScriptOp::Push { which: 0, serial: 200, body: prost::Message::encode_to_vec(&notify) });
        for selector in [0u8, 1, 2] {
            seeds.push((format!("replies-g{g}-c{selector}"), encode_input(selector, group, &script)));
        }
        seeds.push((format!("replies-g{g}-chunked"), encode_input(0x80, group, &script)));
    }
    // Refusals, broken packets, duplicates, garbage, timeouts.
    let mixed = vec![
        ScriptOp::ReplyEnvelope { target: 0, ret_type: -1, s2c: Vec::new() },
        ScriptOp::Repeat,
        ScriptOp::Broken { target: 1, how: 0, body: body_for(2201).unwrap_or_default() },
        ScriptOp::Broken { target: 2, how: 1, body: Vec::new() },
        ScriptOp::Broken { target: 3, how: 2, body: b"\x08\x00".to_vec() },
        ScriptOp::Packet { proto_id: 1004, serial: 99, body: Vec::new() },
        ScriptOp::PushEnvelope { which: 1, serial: 1, s2c: vec![0x0a, 0x00] },
        ScriptOp::Raw(b"garbage".to_vec()),
    ];
    for selector in [0u8, 1, 0x08, 0x0c] {
        seeds.push((format!("mixed-c{selector}"), encode_input(selector, &[7, 8, 9, 10, 11], &mixed)));
    }
    seeds.push((
        "huge-body-len".into(),
        encode_input(0, &[3], &[ScriptOp::Broken { target: 0, how: 3, body: Vec::new() }]),
    ));
    for (name, data) in &seeds {
        client_dispatch::client_dispatch(data);
        let _ = name;
    }
    write_seed_files("client_dispatch", seeds);
}

/// Regenerates `fuzz/seeds/sim_request` (run by hand:
/// `cargo test --test fuzz_regressions -- --ignored write_sim_request_seeds`): a
/// deterministic random search keeps the inputs that reach something new (an order
/// placed, modified, pushed; each session mode answered).
#[test]
#[ignore]
fn write_sim_request_seeds() {
    let mut x: u64 = 0x5eed_0f7a_c0de_0001;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut seeds = Vec::new();
    let mut have = std::collections::HashSet::new();
    for i in 0..200_000u32 {
        if seeds.len() >= 24 {
            break;
        }
        let n = 40 + (rnd() % 300) as usize;
        let mut data: Vec<u8> = (0..n).map(|_| rnd() as u8).collect();
        let session = i % 8 == 0;
        if session {
            data[0] |= 0x80;
        } else {
            data[0] &= 0x7f;
        }
        let out = sim_request::sim_request(&data);
        let key = if session {
            format!("session-m{}-{}", data[0] & 3, (out.ok > 0) as u8 + (out.pushes > 0) as u8)
        } else {
            format!("broker-p{}-m{}-s{}", out.placed.min(2), out.modified.min(1), (out.pushes > 0) as u8)
        };
        if have.insert(key.clone()) {
            seeds.push((key, data));
        }
    }
    write_seed_files("sim_request", seeds);
}
