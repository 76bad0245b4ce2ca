//! Wire codec benchmarks: sealing and opening typical trading packets in every AES mode,
//! and raw frame-decoder throughput over a long stream.
//!
//! Quick run: `cargo bench --bench codec -- --quick`.

use std::hint::black_box;
use std::io::Cursor;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ftapi::codec::{decode_body, open_frame, seal_message, seal_packet, FrameDecoder, PacketCipher};
use ftapi::pb::{common, trd_common, trd_get_order_list, trd_place_order};

const KEY: &[u8; 16] = b"0123456789abcdef";
const IV: &[u8; 16] = b"fedcba9876543210";

fn ciphers() -> Vec<(&'static str, PacketCipher)> {
    vec![
        ("plain", PacketCipher::Plain),
        ("cbc", PacketCipher::aes_cbc(KEY, IV).expect("16-byte key and IV")),
        ("ftaes_ecb", PacketCipher::ft_aes_ecb(KEY).expect("16-byte key")),
    ]
}

fn header() -> trd_common::TrdHeader {
    trd_common::TrdHeader { trd_env: 1, acc_id: 281_756_460_288_713_754, trd_market: 2, jp_acc_type: Some(1) }
}

/// A limit order as the SDK sends it.
fn place_order() -> trd_place_order::Request {
    trd_place_order::Request {
        c2s: trd_place_order::C2s {
            packet_id: common::PacketId { conn_id: 7_123_456_789_012_345_678, serial_no: 4_242 },
            header: header(),
            trd_side: 1,
            order_type: 1,
            code: "AAPL".into(),
            qty: 100.0,
            price: Some(187.25),
            adjust_price: Some(false),
            adjust_side_and_limit: Some(0.0),
            sec_market: Some(2),
            remark: Some("bench order".into()),
            time_in_force: Some(0),
            fill_outside_rth: Some(false),
            session: Some(1),
            ..Default::default()
        },
    }
}

fn order(i: u64) -> trd_common::Order {
    trd_common::Order {
        trd_side: 1 + (i % 2) as i32,
        order_type: 1,
        order_status: 10,
        order_id: 9_000_000_000 + i,
        order_id_ex: format!("20240101_{:012}", 9_000_000_000 + i),
        code: "00700".into(),
        name: "TENCENT".into(),
        qty: 100.0 * (i + 1) as f64,
        price: Some(380.2 + i as f64 * 0.2),
        create_time: "2024-01-01 09:30:00.123".into(),
        update_time: "2024-01-01 09:30:01.456".into(),
        fill_qty: Some(0.0),
        fill_avg_price: Some(0.0),
        last_err_msg: Some(String::new()),
        sec_market: Some(1),
        create_timestamp: Some(1_704_072_600.123),
        update_timestamp: Some(1_704_072_601.456),
        remark: Some(format!("r{i}")),
        time_in_force: Some(0),
        fill_outside_rth: Some(false),
        ..Default::default()
    }
}

/// A Trd_GetOrderList reply carrying `n` orders.
fn order_list(n: u64) -> trd_get_order_list::Response {
    trd_get_order_list::Response {
        ret_type: 0,
        ret_msg: None,
        err_code: None,
        s2c: Some(trd_get_order_list::S2c { header: header(), order_list: (0..n).map(order).collect() }),
    }
}

fn bench_seal_open(c: &mut Criterion) {
    let po = place_order();
    let ol = order_list(100);
    for (cname, cipher) in ciphers() {
        let mut g = c.benchmark_group(format!("seal_open/{cname}"));
        let po_len = seal_message(2202, 1, &po, &cipher).expect("seal").len();
        g.throughput(Throughput::Bytes(po_len as u64));
        g.bench_function("place_order", |b| {
            let mut dec = FrameDecoder::new();
            b.iter(|| {
                let pkt = seal_message(2202, 1, black_box(&po), &cipher).expect("seal");
                dec.push(&pkt);
                let frame = dec.next_frame().ok().flatten().expect("one frame");
                let plain = open_frame(frame, &cipher).expect("opens");
                black_box(decode_body::<trd_place_order::Request>(&plain).expect("decodes"))
            })
        });
        let ol_len = seal_message(2201, 1, &ol, &cipher).expect("seal").len();
        g.throughput(Throughput::Bytes(ol_len as u64));
        g.bench_function("order_list_100", |b| {
            let mut dec = FrameDecoder::new();
            b.iter(|| {
                let pkt = seal_message(2201, 1, black_box(&ol), &cipher).expect("seal");
                dec.push(&pkt);
                let frame = dec.next_frame().ok().flatten().expect("one frame");
                let plain = open_frame(frame, &cipher).expect("opens");
                black_box(decode_body::<trd_get_order_list::Response>(&plain).expect("decodes"))
            })
        });
        // The codec alone (no protobuf work): seal a ready body, frame it, open it.
        let body = prost::Message::encode_to_vec(&ol);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("order_list_100_codec_only", |b| {
            let mut dec = FrameDecoder::new();
            b.iter(|| {
                let pkt = seal_packet(2201, 1, black_box(&body), &cipher).expect("seal");
                dec.push(&pkt);
                let frame = dec.next_frame().ok().flatten().expect("one frame");
                black_box(open_frame(frame, &cipher).expect("opens"))
            })
        });
        g.finish();
    }
}

/// A stream of `count` plain packets of mixed sizes (small acks to 100-order lists).
fn stream(count: usize) -> Vec<u8> {
    let small = prost::Message::encode_to_vec(&place_order());
    let mid = prost::Message::encode_to_vec(&order_list(5));
    let big = prost::Message::encode_to_vec(&order_list(100));
    let mut out = Vec::new();
    for i in 0..count {
        let body = match i % 10 {
            9 => &big,
            5 | 6 => &mid,
            _ => &small,
        };
        out.extend_from_slice(&seal_packet(2201, i as u32, body, &PacketCipher::Plain).expect("seal"));
    }
    out
}

fn bench_frame_decoder(c: &mut Criterion) {
    let data = stream(1000);
    let mut g = c.benchmark_group("frame_decoder");
    g.throughput(Throughput::Bytes(data.len() as u64));
    for chunk in [4 * 1024, 128 * 1024] {
        g.bench_with_input(BenchmarkId::new("read_from", chunk), &chunk, |b, &chunk| {
            b.iter(|| {
                let mut dec = FrameDecoder::new();
                let mut r = Cursor::new(&data);
                let mut frames = 0usize;
                loop {
                    let n = dec.read_from(&mut r, chunk).expect("cursor read");
                    while let Some(f) = dec.next_frame().expect("valid stream") {
                        frames += 1;
                        black_box(&f);
                    }
                    if n == 0 {
                        break;
                    }
                }
                assert_eq!(frames, 1000);
            })
        });
        g.bench_with_input(BenchmarkId::new("push", chunk), &chunk, |b, &chunk| {
            b.iter(|| {
                let mut dec = FrameDecoder::new();
                let mut frames = 0usize;
                for part in data.chunks(chunk) {
                    dec.push(part);
                    while let Some(f) = dec.next_frame().expect("valid stream") {
                        frames += 1;
                        black_box(&f);
                    }
                }
                assert_eq!(frames, 1000);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_seal_open, bench_frame_decoder);
criterion_main!(benches);
