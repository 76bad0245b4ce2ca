//! Replays fuzz inputs through the same harness the cargo-fuzz target runs
//! (`tests/support/read_path.rs`), on the stable toolchain:
//!
//! - `tests/data/fuzz/read_path/*`: inputs that once crashed or hung the read path
//!   (add every new crash there, named after what it found);
//! - `fuzz/seeds/read_path/*`: the seed corpus, which must keep passing;
//! - `$FTAPI_FUZZ_CORPUS/*` if set: any corpus directory, e.g. `fuzz/corpus/read_path`
//!   after a fuzzing run, which makes the target runnable as a plain loop without
//!   nightly or libFuzzer:
//!   `FTAPI_FUZZ_CORPUS=fuzz/corpus/read_path cargo test --test fuzz_regressions`.

#[path = "support/read_path.rs"]
mod support;

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

fn replay(dir: &Path) -> usize {
    let files = inputs(dir);
    for f in &files {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("read {}: {e}", f.display()));
        // A panic here names the file: the harness asserts carry no input context.
        let res = std::panic::catch_unwind(|| support::read_path(&data));
        assert!(res.is_ok(), "read path panicked on {}", f.display());
    }
    files.len()
}

#[test]
fn replay_crash_inputs() {
    replay(&root().join("tests/data/fuzz/read_path"));
}

#[test]
fn replay_seed_corpus() {
    let n = replay(&root().join("fuzz/seeds/read_path"));
    assert!(n >= 10, "the seed corpus is missing ({n} files)");
}

#[test]
fn replay_external_corpus() {
    if let Some(dir) = std::env::var_os("FTAPI_FUZZ_CORPUS") {
        let n = replay(Path::new(&dir));
        eprintln!("replayed {n} inputs from {}", Path::new(&dir).display());
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
