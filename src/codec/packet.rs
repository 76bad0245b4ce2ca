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
    finish_header(&mut out, proto_id, serial_no, sha1_digest(plain));
    out
}

/// Serializes a protobuf message and seals it into a packet. The message is encoded
/// straight into the packet buffer and, for the AES modes, encrypted there in place
/// (one allocation per packet).
pub fn seal_message<M: Message>(proto_id: u32, serial_no: u32, msg: &M, cipher: &PacketCipher) -> Vec<u8> {
    let len = msg.encoded_len();
    let mut out = Vec::with_capacity(HEADER_LEN + cipher.sealed_len(len));
    out.resize(HEADER_LEN, 0);
    // Encoding into a Vec grows it as needed and cannot fail.
    let _ = msg.encode(&mut out);
    let sha1 = sha1_digest(&out[HEADER_LEN..]);
    cipher.encrypt_tail_in_place(&mut out, HEADER_LEN);
    finish_header(&mut out, proto_id, serial_no, sha1);
    out
}

/// Writes the header into the first [`HEADER_LEN`] bytes of a packet whose body follows.
fn finish_header(out: &mut [u8], proto_id: u32, serial_no: u32, body_sha1: [u8; 20]) {
    let body_len = out.len().saturating_sub(HEADER_LEN);
    // Bodies come from our own messages; one over 4 GiB cannot be framed at all.
    debug_assert!(u32::try_from(body_len).is_ok(), "body of {body_len} bytes does not fit the header");
    let header = FrameHeader { proto_id, serial_no, body_len: body_len as u32, body_sha1, ..Default::default() };
    header.write_to(out);
}

/// Decrypts a frame's body and verifies the header's SHA-1 over the plaintext.
/// Consumes the frame: the body buffer is decrypted in place and returned, not copied
/// (except for RSA, whose blocks shrink).
pub fn open_frame(frame: Frame, cipher: &PacketCipher) -> Result<Vec<u8>, CodecError> {
    let h = frame.header;
    if h.proto_fmt != 0 {
        return Err(CodecError::UnsupportedFormat(h.proto_fmt));
    }
    let mut plain = frame.body;
    cipher.decrypt_in_place(&mut plain)?;
    if sha1_digest(&plain) != h.body_sha1 {
        return Err(CodecError::Sha1Mismatch { proto_id: h.proto_id, serial: h.serial_no });
    }
    Ok(plain)
}

/// Decodes a plaintext protobuf body.
pub fn decode_body<M: Message + Default>(plain: &[u8]) -> Result<M, CodecError> {
    M::decode(plain).map_err(|e| CodecError::Protobuf(e.to_string()))
}
