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

/// Seals one packet: header and body in one buffer, ready for a single `write`. This
/// is the one sealer of the crate; [`seal_packet`] and [`seal_message`] are shorthands
/// for it, and the client's transports and the simulator use it.
///
/// `encode` appends the plaintext body to the buffer it is given, which is the packet
/// buffer itself (the body is serialized straight after the header, hashed there and,
/// for the AES modes, encrypted in place: one allocation per packet). `capacity` is the
/// expected plaintext length (0 if unknown). With `wipe`, no copy of the plaintext is
/// left in memory the sealer frees (for bodies that carry secrets, such as the trade
/// password's MD5); in plain mode the packet itself is the plaintext, so the caller
/// wipes it after writing.
///
/// Fails only when RSA encryption fails ([`RsaKey::encrypt`](super::RsaKey::encrypt)).
pub fn seal_with(
    proto_id: u32,
    serial_no: u32,
    cipher: &PacketCipher,
    capacity: usize,
    wipe: bool,
    encode: impl FnOnce(&mut Vec<u8>),
) -> Result<Vec<u8>, CodecError> {
    let capacity = if capacity == 0 { 256 } else { capacity };
    let mut out = Vec::with_capacity(HEADER_LEN + cipher.sealed_len(capacity));
    out.resize(HEADER_LEN, 0);
    encode(&mut out);
    let sha1 = sha1_digest(&out[HEADER_LEN..]);
    cipher.encrypt_tail_in_place(&mut out, HEADER_LEN, wipe)?;
    finish_header(&mut out, proto_id, serial_no, sha1);
    Ok(out)
}

/// Seals a packet from a plaintext body ([`seal_with`]).
pub fn seal_packet(proto_id: u32, serial_no: u32, plain: &[u8], cipher: &PacketCipher) -> Result<Vec<u8>, CodecError> {
    seal_with(proto_id, serial_no, cipher, plain.len(), false, |out| out.extend_from_slice(plain))
}

/// Serializes a protobuf message and seals it into a packet ([`seal_with`]).
pub fn seal_message<M: Message>(
    proto_id: u32,
    serial_no: u32,
    msg: &M,
    cipher: &PacketCipher,
) -> Result<Vec<u8>, CodecError> {
    // Encoding into a Vec grows it as needed and cannot fail.
    seal_with(proto_id, serial_no, cipher, msg.encoded_len(), false, |out| msg.encode_raw(out))
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
