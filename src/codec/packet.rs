//! Sealing (serialize, hash, encrypt, frame) and opening (decrypt, verify) packets.

use prost::Message;
use sha1::{Digest, Sha1};

use super::cipher::PacketCipher;
use super::frame::Frame;
use super::header::{FrameHeader, HEADER_LEN};
use super::CodecError;

/// SHA-1 of `data`.
pub fn sha1_digest(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

/// Builds a whole packet (header and body in one buffer, ready for a single `write`)
/// from a plaintext body.
pub fn seal_packet(proto_id: u32, serial_no: u32, plain: &[u8], cipher: &PacketCipher) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + cipher.sealed_len(plain.len()));
    out.resize(HEADER_LEN, 0);
    cipher.encrypt_into(plain, &mut out);
    let header = FrameHeader {
        proto_id,
        serial_no,
        body_len: (out.len() - HEADER_LEN) as u32,
        body_sha1: sha1_digest(plain),
        ..Default::default()
    };
    header.write_to(&mut out);
    out
}

/// Serializes a protobuf message and seals it into a packet. In plain mode the
/// message is encoded straight into the packet buffer (one allocation).
pub fn seal_message<M: Message>(proto_id: u32, serial_no: u32, msg: &M, cipher: &PacketCipher) -> Vec<u8> {
    if cipher.is_plain() {
        let len = msg.encoded_len();
        let mut out = Vec::with_capacity(HEADER_LEN + len);
        out.resize(HEADER_LEN, 0);
        // Encoding into a Vec grows it as needed and cannot fail.
        let _ = msg.encode(&mut out);
        let header = FrameHeader {
            proto_id,
            serial_no,
            body_len: (out.len() - HEADER_LEN) as u32,
            body_sha1: sha1_digest(&out[HEADER_LEN..]),
            ..Default::default()
        };
        header.write_to(&mut out);
        out
    } else {
        seal_packet(proto_id, serial_no, &msg.encode_to_vec(), cipher)
    }
}

/// Decrypts a frame's body and verifies the header's SHA-1 over the plaintext.
/// Consumes the frame: in plain mode the body buffer is reused, not copied.
pub fn open_frame(frame: Frame, cipher: &PacketCipher) -> Result<Vec<u8>, CodecError> {
    let h = frame.header;
    if h.proto_fmt != 0 {
        return Err(CodecError::UnsupportedFormat(h.proto_fmt));
    }
    let plain = if cipher.is_plain() { frame.body } else { cipher.decrypt(&frame.body)? };
    if sha1_digest(&plain) != h.body_sha1 {
        return Err(CodecError::Sha1Mismatch { proto_id: h.proto_id, serial: h.serial_no });
    }
    Ok(plain)
}

/// Decodes a plaintext protobuf body.
pub fn decode_body<M: Message + Default>(plain: &[u8]) -> Result<M, CodecError> {
    M::decode(plain).map_err(|e| CodecError::Protobuf(e.to_string()))
}
