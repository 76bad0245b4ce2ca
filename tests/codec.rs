//! Golden vectors and error cases for the wire codec (docs/protocol.md sections 1 and 3).

use std::io::Read;
use std::sync::OnceLock;

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use ftapi::codec::{
    decode_body, open_frame, seal_message, seal_packet, sha1_digest, CodecError, Frame, FrameDecoder, FrameHeader,
    PacketCipher, RsaKey, DEFAULT_MAX_BODY_LEN, HEADER_LEN, MAGIC,
};
use ftapi::pb::{init_connect, keep_alive};
use rsa::pkcs8::EncodePrivateKey;

const KEY: &[u8; 16] = b"0123456789abcdef";
const IV: &[u8; 16] = b"fedcba9876543210";

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit")).collect()
}

fn cbc() -> PacketCipher {
    PacketCipher::aes_cbc(KEY, IV).expect("16-byte key and IV")
}

fn ecb() -> PacketCipher {
    PacketCipher::ft_aes_ecb(KEY).expect("16-byte key")
}

/// Bytes 0x01, 0x02, ... `n`.
fn counting(n: u8) -> Vec<u8> {
    (1..=n).collect()
}

/// Runs a whole stream through a fresh decoder and returns every frame.
fn frames_of(stream: &[u8]) -> Vec<Frame> {
    let mut dec = FrameDecoder::new();
    dec.push(stream);
    let mut out = Vec::new();
    while let Some(f) = dec.next_frame().expect("valid stream") {
        out.push(f);
    }
    assert_eq!(dec.buffered(), 0);
    out
}

fn open_one(packet: &[u8], cipher: &PacketCipher) -> Result<Vec<u8>, CodecError> {
    let mut frames = frames_of(packet);
    assert_eq!(frames.len(), 1);
    open_frame(frames.remove(0), cipher)
}

// ---------------------------------------------------------------------------------------
// 1.6 KeepAlive, byte for byte
// ---------------------------------------------------------------------------------------

const KEEPALIVE_HEX: &str = "
    4654 ec030000 00 00 d2040000 08000000
    a574904e7c778af7b84d66bebdfda3c5553a5558
    0000000000000000
    0a060880e2cfaa06";

#[test]
fn keepalive_packet_matches_protocol_1_6() {
    let req = keep_alive::Request { c2s: keep_alive::C2s { time: 1_700_000_000 } };
    let packet = seal_message(1004, 1234, &req, &PacketCipher::Plain).expect("seal");
    let expected = hex(KEEPALIVE_HEX);
    assert_eq!(expected.len(), 52);
    assert_eq!(packet, expected);
    // seal_packet over the serialized body gives the same bytes.
    assert_eq!(
        seal_packet(1004, 1234, &prost::Message::encode_to_vec(&req), &PacketCipher::Plain).expect("seal"),
        expected
    );

    let frame = frames_of(&packet).remove(0);
    assert_eq!(
        frame.header,
        FrameHeader {
            proto_id: 1004,
            proto_fmt: 0,
            proto_ver: 0,
            serial_no: 1234,
            body_len: 8,
            body_sha1: sha1_digest(&hex("0a060880e2cfaa06")),
            reserved: [0; 8],
        }
    );
    let plain = open_frame(frame, &PacketCipher::Plain).expect("opens");
    assert_eq!(decode_body::<keep_alive::Request>(&plain).expect("decodes"), req);
}

// ---------------------------------------------------------------------------------------
// 2.1 InitConnect body
// ---------------------------------------------------------------------------------------

fn init_connect_req(packet_enc_algo: i32) -> init_connect::Request {
    init_connect::Request {
        c2s: init_connect::C2s {
            client_ver: 300,
            client_id: "PyNormal".into(),
            recv_notify: Some(true),
            packet_enc_algo: Some(packet_enc_algo),
            push_proto_fmt: Some(0),
            programming_language: Some("Python".into()),
            ai_type: Some(0),
        },
    }
}

const INIT_CONNECT_PLAIN_HEX: &str = "
    0a26
      08ac02
      1208 50794e6f726d616c
      1801
      20ffffffffffffffffff01
      2800
      3206 507974686f6e
      3800";

const INIT_CONNECT_ENCRYPTED_CTX_HEX: &str = "
    0a1d
      08ac02
      1208 50794e6f726d616c
      1801
      2002
      2800
      3206 507974686f6e
      3800";

#[test]
fn init_connect_body_unencrypted_context_is_40_bytes() {
    let req = init_connect_req(-1);
    let body = prost::Message::encode_to_vec(&req);
    assert_eq!(body.len(), 40);
    assert_eq!(body, hex(INIT_CONNECT_PLAIN_HEX));
    let packet = seal_message(1001, 5, &req, &PacketCipher::Plain).expect("seal");
    assert_eq!(&packet[HEADER_LEN..], &body[..]);
    let plain = open_one(&packet, &PacketCipher::Plain).expect("opens");
    assert_eq!(decode_body::<init_connect::Request>(&plain).expect("decodes"), req);
}

#[test]
fn init_connect_body_encrypted_context_is_31_bytes_and_one_rsa_block() {
    let req = init_connect_req(2);
    let body = prost::Message::encode_to_vec(&req);
    assert_eq!(body.len(), 31);
    assert_eq!(body, hex(INIT_CONNECT_ENCRYPTED_CTX_HEX));

    let rsa = PacketCipher::Rsa(rsa1024().clone());
    let packet = seal_message(1001, 5, &req, &rsa).expect("seal");
    let frame = frames_of(&packet).remove(0);
    assert_eq!(frame.header.body_len, 128, "31 bytes -> one 128-byte RSA block");
    assert_eq!(frame.header.body_sha1, sha1_digest(&body), "SHA-1 is over the plaintext");
    let plain = open_frame(frame, &rsa).expect("opens");
    assert_eq!(plain, body);
    assert_eq!(decode_body::<init_connect::Request>(&plain).expect("decodes"), req);
}

// ---------------------------------------------------------------------------------------
// 3.4 / 3.5 / 3.7 AES vectors
// ---------------------------------------------------------------------------------------

/// Raw AES-128 on one block, independent of the codec.
fn aes_block(block: &[u8]) -> [u8; 16] {
    let aes = Aes128::new(KEY.into());
    let mut b = [0u8; 16];
    b.copy_from_slice(block);
    aes.encrypt_block((&mut b).into());
    b
}

fn xor16(a: &[u8], b: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, (x, y)) in out.iter_mut().zip(a.iter().zip(b)) {
        *o = x ^ y;
    }
    out
}

fn check_cipher_vector(cipher: &PacketCipher, plain: &[u8], wire: &[u8]) {
    assert_eq!(cipher.encrypt(plain).expect("encrypt"), wire, "encrypt {} bytes", plain.len());
    assert_eq!(cipher.sealed_len(plain.len()), wire.len());
    assert_eq!(cipher.decrypt(wire).expect("decrypts"), plain);
    // And through a whole packet.
    let packet = seal_packet(2202, 9, plain, cipher).expect("seal");
    assert_eq!(&packet[HEADER_LEN..], wire);
    assert_eq!(open_one(&packet, cipher).expect("opens"), plain);
}

#[test]
fn ftaes_ecb_vectors_of_3_7() {
    let c = ecb();
    check_cipher_vector(&c, &counting(5), &hex("2bc5e0d48d9b792acb1f56616f95ca9a 00000000000000000000000000000005"));
    check_cipher_vector(
        &c,
        &counting(20),
        &hex("ee62820591f58940083b962dd9ed7fdf1dadde216dc9bedbe48b5bbbc523fdd4 00000000000000000000000000000004"),
    );
    check_cipher_vector(&c, &[], &hex("00000000000000000000000000000000"));
}

#[test]
fn ftaes_ecb_16_bytes_against_raw_aes() {
    let plain = counting(16);
    let mut wire = aes_block(&plain).to_vec();
    wire.extend_from_slice(&[0u8; 16]); // no padding: trailer byte 0
                                        // Cross-checked once with `openssl enc -aes-128-ecb -nopad`.
    assert_eq!(&wire[..16], &hex("ee62820591f58940083b962dd9ed7fdf")[..]);
    check_cipher_vector(&ecb(), &plain, &wire);
}

#[test]
fn ftaes_ecb_0_bytes_against_raw_aes() {
    // Nothing to encrypt: the trailer alone, whatever the key.
    check_cipher_vector(&ecb(), &[], &[0u8; 16]);
    let other = PacketCipher::ft_aes_ecb(b"ffffffffffffffff").expect("key");
    assert_eq!(other.encrypt(&[]).expect("encrypt"), vec![0u8; 16]);
}

#[test]
fn cbc_vectors_of_3_7() {
    let c = cbc();
    check_cipher_vector(&c, &counting(5), &hex("90cbd25783db96a3325165c78300e8ff"));
    check_cipher_vector(&c, &counting(20), &hex("06e61a73910ddef47b179c862f7bfe83b2fd73c073c54c7a0f0a3a71cdd11a9e"));
}

#[test]
fn cbc_16_and_0_bytes_against_raw_aes() {
    // 16 bytes: one data block and a full block of padding (16 x 0x10).
    let plain = counting(16);
    let c1 = aes_block(&xor16(&plain, IV));
    let c2 = aes_block(&xor16(&[16u8; 16], &c1));
    let wire = [c1, c2].concat();
    // Cross-checked once with `openssl enc -aes-128-cbc`.
    assert_eq!(wire, hex("06e61a73910ddef47b179c862f7bfe83820a8df52559a4f20fa39c74ebbb02de"));
    check_cipher_vector(&cbc(), &plain, &wire);

    // 0 bytes: one block of padding.
    let wire = aes_block(&xor16(&[16u8; 16], IV)).to_vec();
    assert_eq!(wire, hex("3c492cedd954cc383f3d3ee93e728484"));
    check_cipher_vector(&cbc(), &[], &wire);
}

#[test]
fn cbc_uses_the_same_iv_for_every_packet() {
    let c = cbc();
    let a = c.encrypt(&counting(20)).expect("encrypt");
    let b = c.encrypt(&counting(20)).expect("encrypt");
    assert_eq!(a, b, "no chaining across packets");
}

#[test]
fn length_tables_of_3_4_and_3_5() {
    // (plaintext length, FTAES-ECB wire length, FTAES trailer byte, CBC wire length)
    let table = [
        (0, 16, 0x00, 16),
        (5, 32, 0x05, 16),
        (16, 32, 0x00, 32),
        (20, 48, 0x04, 32),
        (31, 48, 0x0f, 32),
        (32, 48, 0x00, 48),
    ];
    let (e, c) = (ecb(), cbc());
    for (len, ecb_len, trailer, cbc_len) in table {
        let plain = vec![0xa5u8; len];
        let w = e.encrypt(&plain).expect("encrypt");
        assert_eq!(w.len(), ecb_len, "FTAES length for {len}");
        assert_eq!(e.sealed_len(len), ecb_len);
        assert_eq!(&w[ecb_len - 16..ecb_len - 1], &[0u8; 15], "trailer zeros for {len}");
        assert_eq!(w[ecb_len - 1], trailer, "trailer byte for {len}");
        assert_eq!(e.decrypt(&w).expect("decrypts"), plain);
        let w = c.encrypt(&plain).expect("encrypt");
        assert_eq!(w.len(), cbc_len, "CBC length for {len}");
        assert_eq!(c.sealed_len(len), cbc_len);
        assert_eq!(c.decrypt(&w).expect("decrypts"), plain);
    }
}

#[test]
fn ftaes_ignores_the_first_15_trailer_bytes() {
    let c = ecb();
    let mut w = c.encrypt(&counting(5)).expect("encrypt");
    for b in &mut w[16..31] {
        *b = 0xee;
    }
    assert_eq!(c.decrypt(&w).expect("decrypts"), counting(5));
}

#[test]
fn from_init_connect_picks_the_mode() {
    let with_iv = PacketCipher::from_init_connect("0123456789abcdef", Some("fedcba9876543210")).expect("cbc");
    assert_eq!(with_iv.encrypt(&counting(5)).expect("encrypt"), cbc().encrypt(&counting(5)).expect("encrypt"));
    let without = PacketCipher::from_init_connect("0123456789abcdef", None).expect("ecb");
    assert_eq!(without.encrypt(&counting(5)).expect("encrypt"), ecb().encrypt(&counting(5)).expect("encrypt"));
    assert!(matches!(PacketCipher::from_init_connect("short", None), Err(CodecError::BadKey(_))));
    assert!(matches!(PacketCipher::from_init_connect("0123456789abcdef", Some("")), Err(CodecError::BadKey(_))));
    assert!(matches!(PacketCipher::aes_cbc(&[0; 32], IV), Err(CodecError::BadKey(_))));
    assert!(matches!(PacketCipher::ft_aes_ecb(&[0; 15]), Err(CodecError::BadKey(_))));
}

#[test]
fn debug_output_never_shows_keys() {
    for c in [cbc(), ecb(), PacketCipher::Rsa(rsa1024().clone())] {
        let s = format!("{c:?}");
        assert!(s.contains("redacted"), "{s}");
        assert!(!s.contains("0123456789abcdef") && !s.contains("48, 49"), "{s}");
    }
    assert!(format!("{:?}", rsa1024()).contains("1024 bits"));
}

// ---------------------------------------------------------------------------------------
// 3.2 RSA
// ---------------------------------------------------------------------------------------

fn rsa1024() -> &'static RsaKey {
    static K: OnceLock<RsaKey> = OnceLock::new();
    K.get_or_init(|| RsaKey::generate(1024).expect("generate 1024-bit key"))
}

fn rsa2048() -> &'static RsaKey {
    static K: OnceLock<RsaKey> = OnceLock::new();
    K.get_or_init(|| RsaKey::generate(2048).expect("generate 2048-bit key"))
}

#[test]
fn rsa_1024_block_counts_and_round_trips() {
    let k = rsa1024();
    assert_eq!((k.bits(), k.block_len(), k.chunk_len()), (1024, 128, 100));
    for (len, wire) in [(1, 128), (31, 128), (100, 128), (101, 256), (200, 256), (250, 384)] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let c = k.encrypt(&plain).expect("encrypt");
        assert_eq!(c.len(), wire, "{len} bytes");
        assert_eq!(k.sealed_len(len), wire);
        assert_eq!(k.decrypt(&c).expect("decrypts"), plain);
    }
    // Each 128-byte block holds one 100-byte chunk, exactly as the SDK cuts them.
    let plain: Vec<u8> = (0..250u32).map(|i| i as u8).collect();
    let c = k.encrypt(&plain).expect("encrypt");
    let chunks: Vec<Vec<u8>> = c.chunks(128).map(|b| k.decrypt(b).expect("one block decrypts")).collect();
    assert_eq!(chunks, vec![plain[..100].to_vec(), plain[100..200].to_vec(), plain[200..].to_vec()]);
    // Empty in, empty out (no blocks), as in the SDK.
    assert!(k.encrypt(&[]).expect("encrypt").is_empty());
    assert_eq!(k.decrypt(&[]).expect("empty"), Vec::<u8>::new());
}

#[test]
fn rsa_2048_uses_200_byte_chunks() {
    let k = rsa2048();
    assert_eq!((k.bits(), k.block_len(), k.chunk_len()), (2048, 256, 200));
    for (len, wire) in [(31, 256), (200, 256), (201, 512), (250, 512), (401, 768)] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
        let c = k.encrypt(&plain).expect("encrypt");
        assert_eq!(c.len(), wire, "{len} bytes");
        assert_eq!(k.decrypt(&c).expect("decrypts"), plain);
    }
    let plain = vec![9u8; 250];
    let c = k.encrypt(&plain).expect("encrypt");
    assert_eq!(k.decrypt(&c[..256]).expect("first block").len(), 200);
    assert_eq!(k.decrypt(&c[256..]).expect("second block").len(), 50);
}

#[test]
fn rsa_packet_round_trip_both_key_sizes() {
    for k in [rsa1024(), rsa2048()] {
        let cipher = PacketCipher::Rsa(k.clone());
        let body = prost::Message::encode_to_vec(&init_connect_req(2));
        let packet = seal_packet(1001, 77, &body, &cipher).expect("seal");
        assert_eq!(packet.len(), HEADER_LEN + k.block_len());
        assert_eq!(open_one(&packet, &cipher).expect("opens"), body);
    }
}

#[test]
fn rsa_pem_pkcs1_and_pkcs8_accepted() {
    let k = rsa1024();
    let pkcs1 = k.to_pkcs1_pem().expect("pem").to_string();
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{}", &pkcs1[..40]);
    let from1 = RsaKey::from_pem(&pkcs1).expect("PKCS#1 PEM");

    let generated = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).expect("key");
    let pkcs8 = generated.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).expect("PKCS#8 PEM");
    assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
    let from8 = RsaKey::from_pem(&pkcs8).expect("PKCS#8 PEM");
    let der = generated.to_pkcs8_der().expect("PKCS#8 DER");
    let direct = RsaKey::from_der(der.as_bytes()).expect("PKCS#8 DER key");

    // The parsed keys decrypt what the originals encrypt, and vice versa.
    let msg = b"InitConnect body";
    assert_eq!(from1.decrypt(&k.encrypt(msg).expect("encrypt")).expect("pkcs1 key"), msg);
    assert_eq!(k.decrypt(&from1.encrypt(msg).expect("encrypt")).expect("pkcs1 key"), msg);
    assert_eq!(from8.decrypt(&direct.encrypt(msg).expect("encrypt")).expect("pkcs8 key"), msg);
    assert_eq!(direct.decrypt(&from8.encrypt(msg).expect("encrypt")).expect("pkcs8 key"), msg);
    // Windows line endings and surrounding whitespace are tolerated too.
    let crlf = pkcs1.replace('\n', "\r\n");
    assert!(RsaKey::from_pem(&crlf).is_ok(), "CRLF");
    assert!(RsaKey::from_pem(&format!("\n  {pkcs1}\n\n")).is_ok(), "surrounding whitespace");
    assert!(RsaKey::from_pem(pkcs1.trim_end()).is_ok(), "no final newline");
    assert!(RsaKey::from_pem(&format!("\u{feff}{pkcs1}")).is_ok(), "byte order mark");
}

#[test]
fn rsa_garbage_pem_rejected() {
    let pkcs1 = rsa1024().to_pkcs1_pem().expect("pem").to_string();
    let public = {
        use rsa::pkcs1::EncodeRsaPublicKey;
        let pk = rsa::RsaPublicKey::from(&rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 512).expect("key"));
        pk.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).expect("pem")
    };
    let truncated = &pkcs1[..pkcs1.len() / 2];
    let bad_base64 = pkcs1.replacen('M', "!", 3);
    let wrong_label = pkcs1.replace("RSA PRIVATE KEY", "CERTIFICATE");
    let cases: Vec<&str> = vec![
        "",
        "not a key",
        "-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        truncated,
        &bad_base64,
        &wrong_label,
        &public,
    ];
    for (i, pem) in cases.iter().enumerate() {
        match RsaKey::from_pem(pem) {
            Err(CodecError::BadKey(_)) => {}
            other => panic!("case {i} should be BadKey, got {other:?}"),
        }
    }
}

#[test]
fn rsa_tiny_keys_refused() {
    assert!(RsaKey::generate(256).is_err());
    if let Ok(tiny) = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 256) {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let pem = tiny.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).expect("pem");
        assert!(matches!(RsaKey::from_pem(&pem), Err(CodecError::BadKey(_))));
    }
}

#[test]
fn rsa_decrypt_errors_are_errors() {
    let k = rsa1024();
    let c = k.encrypt(b"hello").expect("encrypt");
    // Wrong lengths.
    for len in [1, 127, 129, 255] {
        let body = vec![1u8; len];
        assert!(matches!(k.decrypt(&body), Err(CodecError::Decrypt(_))), "length {len}");
    }
    assert!(matches!(k.decrypt(&c[..127]), Err(CodecError::Decrypt(_))));
    // A zero block decrypts to zero: bad PKCS#1 padding. An all-ones block is above the modulus.
    assert!(matches!(k.decrypt(&[0u8; 128]), Err(CodecError::Decrypt(_))));
    assert!(matches!(k.decrypt(&[0xffu8; 128]), Err(CodecError::Decrypt(_))));
    // A 1024-bit body handed to the 2048-bit key: not a whole block.
    assert!(matches!(rsa2048().decrypt(&c), Err(CodecError::Decrypt(_))));
    // The wrong key: bad padding, or (rarely, PKCS#1 v1.5 has no integrity) garbage that
    // the SHA-1 check catches. Through open_frame it is always an error.
    let other = PacketCipher::Rsa(RsaKey::generate(1024).expect("key"));
    for _ in 0..8 {
        let packet = seal_packet(1001, 1, b"the InitConnect reply", &PacketCipher::Rsa(k.clone())).expect("seal");
        match open_one(&packet, &other) {
            Err(CodecError::Decrypt(_)) | Err(CodecError::Sha1Mismatch { .. }) => {}
            other => panic!("wrong key must fail, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// AES decrypt errors
// ---------------------------------------------------------------------------------------

#[test]
fn cbc_decrypt_errors() {
    let c = cbc();
    for len in [0usize, 1, 15, 17, 31] {
        assert!(matches!(c.decrypt(&vec![0u8; len]), Err(CodecError::Decrypt(_))), "length {len}");
    }
    // Wrong key: for these fixed inputs the last block's padding is invalid (AES is
    // deterministic, so this is a fixed fact, not a probability).
    let wire = c.encrypt(&counting(20)).expect("encrypt");
    let wrong = PacketCipher::aes_cbc(b"0123456789abcdeF", IV).expect("key");
    assert!(matches!(wrong.decrypt(&wire), Err(CodecError::Decrypt(_))));
    // Bad padding: a block whose plaintext ends in 0x00, and one ending in 0x11.
    for last in [0u8, 17] {
        let mut p = [7u8; 16];
        p[15] = last;
        let block = aes_block(&xor16(&p, IV));
        assert!(matches!(c.decrypt(&block), Err(CodecError::Decrypt(_))), "last byte {last}");
    }
    // Inconsistent padding bytes (…03 02 03 would claim 3 bytes of 0x03).
    let mut p = [7u8; 16];
    p[13..].copy_from_slice(&[3, 2, 3]);
    assert!(matches!(c.decrypt(&aes_block(&xor16(&p, IV))), Err(CodecError::Decrypt(_))));
    // Valid padding of a full block decrypts to nothing.
    assert_eq!(c.decrypt(&aes_block(&xor16(&[16u8; 16], IV))).expect("empty"), Vec::<u8>::new());
}

#[test]
fn ftaes_decrypt_errors() {
    let c = ecb();
    for len in [0usize, 1, 15, 17, 31, 33] {
        assert!(matches!(c.decrypt(&vec![0u8; len]), Err(CodecError::Decrypt(_))), "length {len}");
    }
    // Trailer byte must be below 16.
    for t in [16u8, 17, 0x80, 0xff] {
        let mut w = c.encrypt(&counting(5)).expect("encrypt");
        w[31] = t;
        assert!(matches!(c.decrypt(&w), Err(CodecError::Decrypt(_))), "trailer {t}");
    }
    // A trailer that names a partial last block when there is no data at all.
    let mut only_trailer = [0u8; 16];
    only_trailer[15] = 5;
    assert!(matches!(c.decrypt(&only_trailer), Err(CodecError::Decrypt(_))));
}

#[test]
fn wrong_aes_key_fails_open_frame() {
    let packet = seal_packet(2202, 3, &counting(40), &ecb()).expect("seal");
    let wrong = PacketCipher::ft_aes_ecb(b"0123456789abcdeF").expect("key");
    assert!(matches!(open_one(&packet, &wrong), Err(CodecError::Sha1Mismatch { proto_id: 2202, serial: 3 })));
    let packet = seal_packet(2202, 3, &counting(40), &cbc()).expect("seal");
    let wrong = PacketCipher::aes_cbc(KEY, b"fedcba987654321X").expect("iv");
    // A wrong IV only garbles the first block: the padding is fine, the SHA-1 is not.
    assert!(matches!(open_one(&packet, &wrong), Err(CodecError::Sha1Mismatch { .. })));
    // A plain reader of an encrypted packet sees ciphertext, not the plaintext's SHA-1.
    assert!(matches!(open_one(&packet, &PacketCipher::Plain), Err(CodecError::Sha1Mismatch { .. })));
}

// ---------------------------------------------------------------------------------------
// SHA-1, header and framing
// ---------------------------------------------------------------------------------------

#[test]
fn sha1_mismatch_detected_in_every_mode() {
    for cipher in [PacketCipher::Plain, cbc(), ecb()] {
        let packet = seal_packet(2201, 42, &counting(40), &cipher).expect("seal");
        // Corrupt the header's digest.
        let mut p = packet.clone();
        p[20] ^= 1;
        assert_eq!(open_one(&p, &cipher), Err(CodecError::Sha1Mismatch { proto_id: 2201, serial: 42 }));
        // Corrupt the body (the first cipher block, so the padding/trailer stays valid).
        let mut p = packet.clone();
        p[HEADER_LEN] ^= 0x80;
        assert_eq!(open_one(&p, &cipher), Err(CodecError::Sha1Mismatch { proto_id: 2201, serial: 42 }));
        assert_eq!(open_one(&packet, &cipher).expect("intact"), counting(40));
    }
}

#[test]
fn json_format_is_refused() {
    let mut packet = seal_packet(1004, 1, b"{}", &PacketCipher::Plain).expect("seal");
    packet[6] = 1;
    assert_eq!(open_one(&packet, &PacketCipher::Plain), Err(CodecError::UnsupportedFormat(1)));
}

#[test]
fn header_round_trip_keeps_every_field() {
    let h = FrameHeader {
        proto_id: 0xfedc_ba98,
        proto_fmt: 1,
        proto_ver: 7,
        serial_no: u32::MAX,
        body_len: 0x0102_0304,
        body_sha1: [0xab; 20],
        reserved: [1, 2, 3, 4, 5, 6, 7, 8],
    };
    let b = h.to_bytes();
    assert_eq!(&b[..2], &MAGIC);
    assert_eq!(&b[2..6], &[0x98, 0xba, 0xdc, 0xfe], "little-endian proto id");
    assert_eq!(&b[12..16], &[4, 3, 2, 1], "little-endian body length");
    assert_eq!(FrameHeader::parse(&b), Ok(h));
    // Short input is an error, not a panic.
    assert_eq!(FrameHeader::parse(&b[..10]), Err(CodecError::BadMagic(*b"FT")));
    assert_eq!(FrameHeader::parse(&[]), Err(CodecError::BadMagic([0, 0])));
}

#[test]
fn bad_magic_is_refused_and_sticky() {
    let mut packet = seal_packet(1004, 1, b"\x0a\x00", &PacketCipher::Plain).expect("seal");
    packet[0] = b'G';
    let mut dec = FrameDecoder::new();
    dec.push(&packet[..HEADER_LEN - 1]);
    assert_eq!(dec.next_frame(), Ok(None), "magic is checked once the header is complete");
    dec.push(&packet[HEADER_LEN - 1..]);
    assert_eq!(dec.next_frame(), Err(CodecError::BadMagic(*b"GT")));
    // Out of sync for good: even a valid packet afterwards does not help.
    dec.push(&seal_packet(1004, 2, b"\x0a\x00", &PacketCipher::Plain).expect("seal"));
    assert_eq!(dec.next_frame(), Err(CodecError::BadMagic(*b"GT")));
}

#[test]
fn body_over_the_limit_refused_before_the_body_arrives() {
    let mut dec = FrameDecoder::with_max_body_len(1024);
    assert_eq!(dec.max_body_len(), 1024);
    let h = FrameHeader { proto_id: 2201, body_len: 1025, ..Default::default() };
    dec.push(&h.to_bytes());
    assert_eq!(dec.next_frame(), Err(CodecError::BodyTooLong { len: 1025, max: 1024 }));
    assert_eq!(dec.next_frame(), Err(CodecError::BodyTooLong { len: 1025, max: 1024 }));

    // The default limit refuses a 4 GiB claim with only the header buffered.
    let mut dec = FrameDecoder::new();
    assert_eq!(dec.max_body_len(), DEFAULT_MAX_BODY_LEN);
    dec.push(&FrameHeader { body_len: u32::MAX, ..Default::default() }.to_bytes());
    assert_eq!(dec.next_frame(), Err(CodecError::BodyTooLong { len: u32::MAX, max: DEFAULT_MAX_BODY_LEN }));

    // Exactly at the limit is fine.
    let mut dec = FrameDecoder::with_max_body_len(1024);
    let body = vec![0x55u8; 1024];
    let packet = seal_packet(2201, 1, &body, &PacketCipher::Plain).expect("seal");
    dec.push(&packet[..HEADER_LEN]);
    assert_eq!(dec.next_frame(), Ok(None));
    dec.push(&packet[HEADER_LEN..]);
    let f = dec.next_frame().expect("ok").expect("frame");
    assert_eq!(f.body, body);
}

/// A few packets in mixed sizes, sealed with `cipher`.
fn sample_packets(cipher: &PacketCipher) -> Vec<(u32, Vec<u8>, Vec<u8>)> {
    [0usize, 1, 15, 16, 17, 100, 1000, 5000]
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let body: Vec<u8> = (0..len).map(|j| (j * 31 + i) as u8).collect();
            let serial = 100 + i as u32;
            (serial, body.clone(), seal_packet(2201, serial, &body, cipher).expect("seal"))
        })
        .collect()
}

#[test]
fn one_byte_at_a_time() {
    for cipher in [PacketCipher::Plain, cbc(), ecb(), PacketCipher::Rsa(rsa1024().clone())] {
        let packets = sample_packets(&cipher);
        let mut dec = FrameDecoder::with_max_body_len(8192);
        for (serial, body, packet) in &packets {
            for (i, b) in packet.iter().enumerate() {
                dec.push(std::slice::from_ref(b));
                let got = dec.next_frame().expect("valid stream");
                if i + 1 < packet.len() {
                    assert!(got.is_none(), "frame completed early at byte {i} of {}", packet.len());
                } else {
                    let f = got.expect("frame completes with its last byte");
                    assert_eq!(f.header.serial_no, *serial);
                    assert_eq!(open_frame(f, &cipher).expect("opens"), *body);
                }
            }
            assert_eq!(dec.buffered(), 0);
        }
    }
}

#[test]
fn empty_body_frame_is_delivered_at_exactly_44_bytes() {
    // Unlike the SDK (quirk 10.1), a header alone is a complete frame.
    let packet = seal_packet(1004, 1, &[], &PacketCipher::Plain).expect("seal");
    assert_eq!(packet.len(), HEADER_LEN);
    let mut dec = FrameDecoder::new();
    dec.push(&packet);
    let f = dec.next_frame().expect("ok").expect("frame");
    assert!(f.body.is_empty());
    assert_eq!(open_frame(f, &PacketCipher::Plain).expect("opens"), Vec::<u8>::new());
}

#[test]
fn several_packets_in_one_chunk() {
    for cipher in [PacketCipher::Plain, cbc(), ecb()] {
        let packets = sample_packets(&cipher);
        let stream: Vec<u8> = packets.iter().flat_map(|(_, _, p)| p.iter().copied()).collect();
        // Everything at once, plus the start of one more packet.
        let extra = seal_packet(2202, 999, b"tail", &cipher).expect("seal");
        let mut dec = FrameDecoder::new();
        dec.push(&stream);
        dec.push(&extra[..HEADER_LEN + 1]);
        for (serial, body, _) in &packets {
            let f = dec.next_frame().expect("ok").expect("frame");
            assert_eq!(f.header.serial_no, *serial);
            assert_eq!(open_frame(f, &cipher).expect("opens"), *body);
        }
        assert_eq!(dec.next_frame(), Ok(None));
        assert_eq!(dec.buffered(), 1, "the pending header is consumed, one body byte waits");
        dec.push(&extra[HEADER_LEN + 1..]);
        let f = dec.next_frame().expect("ok").expect("frame");
        assert_eq!(open_frame(f, &cipher).expect("opens"), b"tail");
    }
}

/// A reader that hands out at most `step` bytes per call.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn read_from_any_chunking() {
    let cipher = ecb();
    let packets = sample_packets(&cipher);
    let stream: Vec<u8> = packets.iter().flat_map(|(_, _, p)| p.iter().copied()).collect();
    for (step, chunk) in [(1, 1), (1, 4096), (7, 3), (4096, 16), (1 << 20, 128 * 1024)] {
        let mut r = Trickle { data: &stream, step };
        let mut dec = FrameDecoder::new();
        let mut got = Vec::new();
        loop {
            let n = dec.read_from(&mut r, chunk).expect("reads");
            while let Some(f) = dec.next_frame().expect("valid") {
                got.push(open_frame(f, &cipher).expect("opens"));
            }
            if n == 0 {
                break;
            }
        }
        let want: Vec<Vec<u8>> = packets.iter().map(|(_, b, _)| b.clone()).collect();
        assert_eq!(got, want, "step {step} chunk {chunk}");
        assert_eq!(dec.buffered(), 0);
    }
}

#[test]
fn read_from_propagates_errors_without_buffering_garbage() {
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"))
        }
    }
    let mut dec = FrameDecoder::new();
    dec.push(b"FT");
    let e = dec.read_from(&mut Failing, 1024).expect_err("error passes through");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
    assert_eq!(dec.buffered(), 2);
}

#[test]
fn decoder_recovers_memory_after_a_large_frame() {
    // Not observable through the API except that it keeps working: a large frame, then
    // small ones.
    let mut dec = FrameDecoder::new();
    let big = seal_packet(2201, 1, &vec![1u8; 3 << 20], &PacketCipher::Plain).expect("seal");
    dec.push(&big);
    assert_eq!(dec.next_frame().expect("ok").expect("frame").body.len(), 3 << 20);
    for i in 0..3 {
        dec.push(&seal_packet(2201, i, b"x", &PacketCipher::Plain).expect("seal"));
        assert_eq!(dec.next_frame().expect("ok").expect("frame").body, b"x");
    }
}
