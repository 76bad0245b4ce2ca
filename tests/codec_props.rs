//! Property tests for the wire codec: seal/open round trips in every cipher mode under
//! any chunking, and hostile bytes through the whole read path without a panic.
//!
//! The case budget is small and the seed fixed so `cargo test` stays fast and repeatable.
//! For a longer, fresh run: `PROPTEST_CASES=20000 PROPTEST_RNG_SEED=$RANDOM cargo test --test codec_props`.

#[path = "support/read_path.rs"]
mod support;

use ftapi::codec::{
    open_frame, seal_message, seal_packet, sha1_digest, CodecError, Frame, FrameDecoder, FrameHeader, PacketCipher,
    HEADER_LEN,
};
use ftapi::pb::{trd_common, trd_get_order_list};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

const SEED: u64 = 0x0f7a_c0de_2026_0001;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, rng_seed: RngSeed::Fixed(SEED), failure_persistence: None, ..ProptestConfig::default() }
}

/// Plain, or AES in either mode with a random key (and IV).
fn aes_or_plain() -> impl Strategy<Value = PacketCipher> {
    prop_oneof![
        Just(PacketCipher::Plain),
        (any::<[u8; 16]>(), any::<[u8; 16]>())
            .prop_map(|(k, iv)| PacketCipher::aes_cbc(&k, &iv).expect("16-byte key and IV")),
        any::<[u8; 16]>().prop_map(|k| PacketCipher::ft_aes_ecb(&k).expect("16-byte key")),
    ]
}

/// Feeds `stream` to a fresh decoder in pieces whose sizes cycle through `chunks`.
fn decode_chunked(stream: &[u8], chunks: &[usize]) -> Result<(Vec<Frame>, usize), CodecError> {
    let mut dec = FrameDecoder::with_max_body_len(support::MAX_BODY);
    let mut frames = Vec::new();
    let mut rest = stream;
    let mut sizes = chunks.iter().copied().cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(1).clamp(1, rest.len());
        let (part, tail) = rest.split_at(n);
        rest = tail;
        dec.push(part);
        while let Some(f) = dec.next_frame()? {
            frames.push(f);
        }
    }
    Ok((frames, dec.buffered()))
}

type Packet = (u32, u32, Vec<u8>);

fn packets(max_body: usize) -> impl Strategy<Value = Vec<Packet>> {
    prop::collection::vec((any::<u32>(), any::<u32>(), prop::collection::vec(any::<u8>(), 0..max_body)), 1..6)
}

fn check_round_trip(cipher: &PacketCipher, pkts: &[Packet], chunks: &[usize]) -> Result<(), TestCaseError> {
    let stream: Vec<u8> = pkts
        .iter()
        .flat_map(|(proto, serial, body)| seal_packet(*proto, *serial, body, cipher).expect("seal"))
        .collect();
    let (frames, left) = decode_chunked(&stream, chunks).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(left, 0);
    prop_assert_eq!(frames.len(), pkts.len());
    for (frame, (proto, serial, body)) in frames.into_iter().zip(pkts) {
        prop_assert_eq!(frame.header.proto_id, *proto);
        prop_assert_eq!(frame.header.serial_no, *serial);
        prop_assert_eq!(frame.header.body_len as usize, cipher.sealed_len(body.len()));
        prop_assert_eq!(frame.header.body_sha1, sha1_digest(body));
        let plain = open_frame(frame, cipher).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&plain, body);
    }
    Ok(())
}

fn order_strategy() -> impl Strategy<Value = trd_common::Order> {
    (any::<u64>(), "[A-Z0-9.]{0,12}", "\\PC{0,8}", any::<f64>(), proptest::option::of(any::<f64>()), any::<i32>())
        .prop_map(|(id, code, name, qty, price, status)| trd_common::Order {
            order_id: id,
            order_id_ex: format!("ex{id}"),
            code,
            name,
            qty,
            price,
            order_status: status,
            ..Default::default()
        })
}

proptest! {
    #![proptest_config(config(256))]

    /// Random packets, any AES mode or none, any chunking: every packet comes back intact.
    #[test]
    fn seal_open_round_trip_any_chunking(
        cipher in aes_or_plain(),
        pkts in packets(700),
        chunks in prop::collection::vec(1usize..80, 1..12),
    ) {
        check_round_trip(&cipher, &pkts, &chunks)?;
    }

    /// `seal_message` (which encodes and encrypts in place) and `seal_packet` over the
    /// separately encoded body produce identical bytes.
    #[test]
    fn seal_message_equals_seal_packet(
        cipher in aes_or_plain(),
        orders in prop::collection::vec(order_strategy(), 0..8),
        ret_type in any::<i32>(),
        serial in any::<u32>(),
    ) {
        let msg = trd_get_order_list::Response {
            ret_type,
            ret_msg: None,
            err_code: None,
            s2c: Some(trd_get_order_list::S2c { header: trd_common::TrdHeader::default(), order_list: orders }),
        };
        let body = prost::Message::encode_to_vec(&msg);
        prop_assert_eq!(seal_message(2201, serial, &msg, &cipher).expect("seal"), seal_packet(2201, serial, &body, &cipher).expect("seal"));
    }

    /// Arbitrary bytes through decoder, decryption and every message type: no panic.
    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..1500)) {
        support::read_path(&data);
    }

    /// Well-formed headers (so the decoder gets past the magic) over random bodies,
    /// random lengths and random or correct digests: no panic, and only codec errors.
    #[test]
    fn hostile_frames_never_panic(
        selector in 0u8..=3,
        chunk in 1usize..64,
        frames in prop::collection::vec(
            (any::<u32>(), prop_oneof![Just(0u8), Just(1u8), any::<u8>()], any::<u32>(), 0u32..1200,
             prop::collection::vec(any::<u8>(), 0..1200), any::<bool>(), any::<[u8; 20]>()),
            1..4),
    ) {
        let mut stream = Vec::new();
        for (proto_id, proto_fmt, serial_no, body_len, body, good_sha, sha) in &frames {
            let h = FrameHeader {
                proto_id: *proto_id,
                proto_fmt: *proto_fmt,
                serial_no: *serial_no,
                body_len: *body_len,
                body_sha1: if *good_sha { sha1_digest(body) } else { *sha },
                ..Default::default()
            };
            stream.extend_from_slice(&h.to_bytes());
            stream.extend_from_slice(body);
        }
        let cipher = support::cipher_for(selector);
        support::run_stream(&stream, &cipher, chunk);
    }

    /// One flipped byte in a sealed packet: never a panic, and never the original
    /// plaintext accepted from a corrupted magic, format, digest or cipher block.
    #[test]
    fn corrupted_packet_is_refused(
        cipher in aes_or_plain(),
        body in prop::collection::vec(any::<u8>(), 1..400),
        pos in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut packet = seal_packet(2208, 11, &body, &cipher).expect("seal");
        let i = pos.index(packet.len());
        packet[i] ^= flip;
        let ecb_ignored_trailer = matches!(cipher, PacketCipher::FtAesEcb { .. })
            && i >= packet.len() - 16 && i < packet.len() - 1;
        let must_fail = i < 2 || i == 6 || (16..36).contains(&i) || (i >= HEADER_LEN && !ecb_ignored_trailer);
        let mut dec = FrameDecoder::with_max_body_len(support::MAX_BODY);
        dec.push(&packet);
        let opened = match dec.next_frame() {
            Ok(Some(frame)) => open_frame(frame, &cipher).ok(),
            Ok(None) | Err(_) => None,
        };
        if must_fail {
            prop_assert!(opened.is_none(), "flip at {} accepted", i);
        } else if (12..16).contains(&i) {
            // A changed length desynchronises the stream; whatever comes out is not the body.
            prop_assert!(!matches!(opened, Some(ref p) if *p == body));
        } else {
            prop_assert_eq!(opened, Some(body));
        }
    }

    /// Decrypting arbitrary bytes is an error or a value, never a panic; CBC output that
    /// decrypts re-encrypts to the same bytes.
    #[test]
    fn decrypt_arbitrary_bytes(
        cipher in aes_or_plain(),
        data in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        if let Ok(plain) = cipher.decrypt(&data) {
            if matches!(cipher, PacketCipher::AesCbc { .. } | PacketCipher::Plain) {
                prop_assert_eq!(cipher.encrypt(&plain).expect("encrypt"), data);
            } else {
                prop_assert_eq!(cipher.encrypt(&plain).expect("encrypt").len(), data.len());
            }
        }
    }

    /// Random mutations of a valid order-list reply decode or fail cleanly as every type.
    #[test]
    fn mutated_protobuf_never_panics(
        orders in prop::collection::vec(order_strategy(), 1..4),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let msg = trd_get_order_list::Response {
            ret_type: 0,
            ret_msg: Some("ok".into()),
            err_code: None,
            s2c: Some(trd_get_order_list::S2c { header: trd_common::TrdHeader::default(), order_list: orders }),
        };
        let mut body = prost::Message::encode_to_vec(&msg);
        for (at, value) in &edits {
            let i = at.index(body.len());
            body[i] = *value;
        }
        support::decode_every_message(&body);
        // And the same bytes sealed properly, through the full read path.
        let mut input = vec![4u8];
        input.extend_from_slice(&body);
        support::read_path(&input);
    }
}

proptest! {
    // RSA is slow: a smaller budget.
    #![proptest_config(config(24))]

    #[test]
    fn rsa_round_trip_any_chunking(
        pkts in packets(350),
        chunks in prop::collection::vec(1usize..300, 1..6),
    ) {
        let cipher = PacketCipher::Rsa(support::test_rsa_key().clone());
        check_round_trip(&cipher, &pkts[..pkts.len().min(2)], &chunks)?;
    }

    #[test]
    fn rsa_arbitrary_bodies_never_panic(blocks in prop::collection::vec(any::<u8>(), 0..400)) {
        let cipher = PacketCipher::Rsa(support::test_rsa_key().clone());
        let _ = cipher.decrypt(&blocks);
        let mut input = vec![3u8];
        input.extend_from_slice(&blocks);
        support::read_path(&input);
    }
}
