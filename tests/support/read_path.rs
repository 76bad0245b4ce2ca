//! The client's read path as one function over arbitrary bytes: stream -> `FrameDecoder`
//! -> `open_frame` -> every protobuf message type in `pb`. It must never panic.
//!
//! Shared (through `#[path]`) by `tests/codec_props.rs`, `tests/fuzz_regressions.rs` and
//! the cargo-fuzz target `fuzz/fuzz_targets/read_path.rs`, so a crash found by one is
//! replayed by the others exactly.
//!
//! Input layout: the first byte is a selector, the rest is the payload.
//! - bits 0..=1: cipher (0 plain, 1 AES-CBC, 2 FTAES-ECB, 3 RSA with the test-only key);
//! - bit 2: 0 = the payload is a raw byte stream; 1 = the payload is a plaintext body that
//!   is sealed properly first (so that decoding past the SHA-1 check is reached, and the
//!   round trip is checked);
//! - bits 3..=7: feed the stream to the decoder in chunks of (value + 1) bytes.
#![allow(dead_code)]

use std::sync::OnceLock;

use ftapi::codec::{decode_body, open_frame, seal_packet, CodecError, FrameDecoder, PacketCipher, RsaKey};
use ftapi::pb;

/// A 1024-bit RSA key made with `openssl genrsa -traditional 1024` for tests only. It
/// protects nothing; never use it outside tests.
pub const TEST_RSA_PEM: &str = include_str!("../data/fuzz/rsa1024_test_only.pem");

/// Body limit used by the harness (small, so hostile lengths are refused quickly).
pub const MAX_BODY: u32 = 1 << 20;

/// Largest plaintext the harness RSA-seals (RSA is slow; longer payloads are cut).
const MAX_RSA_SEAL: usize = 250;

/// Body limit with the RSA cipher: an InitConnect reply is a few hundred bytes, and each
/// 128-byte block costs a private-key operation, far slower than everything else here.
pub const MAX_RSA_BODY: u32 = 512;

/// The fixed AES key and IV of docs/protocol.md 3.6.
pub const KEY: &[u8; 16] = b"0123456789abcdef";
/// See [`KEY`].
pub const IV: &[u8; 16] = b"fedcba9876543210";

/// The test-only RSA key, parsed once.
pub fn test_rsa_key() -> &'static RsaKey {
    static KEY_CELL: OnceLock<RsaKey> = OnceLock::new();
    KEY_CELL.get_or_init(|| RsaKey::from_pem(TEST_RSA_PEM).expect("the bundled test key parses"))
}

/// The cipher a selector value names (only its two low bits count).
pub fn cipher_for(selector: u8) -> PacketCipher {
    match selector & 3 {
        0 => PacketCipher::Plain,
        1 => PacketCipher::aes_cbc(KEY, IV).expect("16-byte key and IV"),
        2 => PacketCipher::ft_aes_ecb(KEY).expect("16-byte key"),
        _ => PacketCipher::Rsa(test_rsa_key().clone()),
    }
}

macro_rules! decode_all {
    ($plain:expr; responses: $($r:ident),*; requests: $($q:ident),* $(;)?) => {{
        let plain: &[u8] = $plain;
        let mut ok = 0usize;
        $( if decode_body::<pb::$r::Response>(plain).is_ok() { ok += 1; } )*
        $( if decode_body::<pb::$q::Request>(plain).is_ok() { ok += 1; } )*
        ok
    }};
}

/// Decodes `plain` as every `Response` type (and, since the simulator reads requests
/// from clients, every `Request` type) in `pb`. Returns how many accepted it.
pub fn decode_every_message(plain: &[u8]) -> usize {
    decode_all!(plain;
        responses: init_connect, get_global_state, notify, keep_alive, trd_get_acc_list, trd_unlock_trade,
            trd_sub_acc_push, trd_get_funds, trd_get_position_list, trd_get_max_trd_qtys,
            trd_get_combo_max_trd_qtys, trd_get_order_list, trd_place_order, trd_modify_order, trd_update_order,
            trd_get_order_fill_list, trd_update_order_fill, trd_get_history_order_list,
            trd_get_history_order_fill_list, trd_get_margin_ratio, trd_get_order_fee, trd_flow_summary,
            trd_place_combo_order, trd_reconfirm_order, trd_notify;
        requests: init_connect, get_global_state, keep_alive, trd_get_acc_list, trd_unlock_trade,
            trd_sub_acc_push, trd_get_funds, trd_get_position_list, trd_get_max_trd_qtys,
            trd_get_combo_max_trd_qtys, trd_get_order_list, trd_place_order, trd_modify_order,
            trd_get_order_fill_list, trd_get_history_order_list, trd_get_history_order_fill_list,
            trd_get_margin_ratio, trd_get_order_fee, trd_flow_summary, trd_place_combo_order, trd_reconfirm_order;
    )
}

/// What one run of the read path saw (for sanity checks in tests).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Complete frames the decoder produced.
    pub frames: usize,
    /// Frames that decrypted and passed the SHA-1 check.
    pub opened: usize,
    /// Whether the decoder stopped on a stream error (bad magic, body too long).
    pub stream_error: bool,
}

/// Runs the read path over one fuzz input. Panics only if the codec itself is wrong: a
/// panic inside the codec, or a properly sealed body that does not come back intact.
pub fn read_path(data: &[u8]) -> Outcome {
    let Some((&selector, payload)) = data.split_first() else {
        return Outcome::default();
    };
    let cipher = cipher_for(selector);
    let chunk = usize::from(selector >> 3) + 1;
    if selector & 4 == 0 {
        return run_stream(payload, &cipher, chunk);
    }
    let body =
        if matches!(cipher, PacketCipher::Rsa(_)) { &payload[..payload.len().min(MAX_RSA_SEAL)] } else { payload };
    let packet = seal_packet(2201, 7, body, &cipher).expect("seal");
    let mut dec = FrameDecoder::with_max_body_len(MAX_BODY);
    let mut frames = Vec::new();
    for part in packet.chunks(chunk) {
        dec.push(part);
        while let Some(f) = dec.next_frame().expect("a sealed packet is a valid stream") {
            frames.push(f);
        }
    }
    assert_eq!(frames.len(), 1, "one sealed packet must give exactly one frame");
    assert_eq!(dec.buffered(), 0, "nothing may be left over");
    let frame = frames.pop().expect("one frame");
    assert_eq!(frame.header.body_len as usize, cipher.sealed_len(body.len()));
    let plain = open_frame(frame, &cipher).expect("a sealed packet opens");
    assert_eq!(plain, body, "round trip changed the body");
    decode_every_message(&plain);
    Outcome { frames: 1, opened: 1, stream_error: false }
}

/// Feeds `stream` to a decoder `chunk` bytes at a time and opens whatever comes out.
pub fn run_stream(stream: &[u8], cipher: &PacketCipher, chunk: usize) -> Outcome {
    let mut out = Outcome::default();
    let max = if matches!(cipher, PacketCipher::Rsa(_)) { MAX_RSA_BODY } else { MAX_BODY };
    let mut dec = FrameDecoder::with_max_body_len(max);
    for part in stream.chunks(chunk.max(1)) {
        dec.push(part);
        loop {
            match dec.next_frame() {
                Ok(Some(frame)) => {
                    out.frames += 1;
                    // Decode whatever decrypts, SHA-1 or not, so that protobuf parsing
                    // sees fuzzed bytes too (the SHA-1 check would hide almost all).
                    // Not for RSA: it is slow, and random blocks almost never decrypt.
                    if !matches!(cipher, PacketCipher::Rsa(_)) {
                        if let Ok(plain) = cipher.decrypt(&frame.body) {
                            decode_every_message(&plain);
                        }
                    }
                    match open_frame(frame, cipher) {
                        Ok(plain) => {
                            out.opened += 1;
                            decode_every_message(&plain);
                        }
                        Err(e) => check_open_error(&e),
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(
                        matches!(e, CodecError::BadMagic(_) | CodecError::BodyTooLong { .. }),
                        "unexpected stream error {e:?}"
                    );
                    // The decoder stays failed: the same error again, whatever follows.
                    dec.push(b"FT");
                    assert_eq!(dec.next_frame(), Err(e));
                    out.stream_error = true;
                    return out;
                }
            }
        }
    }
    out
}

fn check_open_error(e: &CodecError) {
    assert!(
        matches!(e, CodecError::Decrypt(_) | CodecError::Sha1Mismatch { .. } | CodecError::UnsupportedFormat(_)),
        "unexpected open error {e:?}"
    );
}
