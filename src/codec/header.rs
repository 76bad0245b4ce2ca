//! The fixed 44-byte OpenD packet header.

use byteorder::{ByteOrder, LittleEndian};

use super::CodecError;

/// Size of the header in bytes.
pub const HEADER_LEN: usize = 44;
/// The two magic bytes every header starts with.
pub const MAGIC: [u8; 2] = *b"FT";

/// The 44-byte header in front of every OpenD packet (all integers little-endian).
///
/// | offset | size | field |
/// |---:|---:|---|
/// | 0 | 2 | magic `"FT"` |
/// | 2 | 4 | `proto_id` |
/// | 6 | 1 | `proto_fmt` (0 protobuf, 1 JSON) |
/// | 7 | 1 | `proto_ver` (0) |
/// | 8 | 4 | `serial_no` |
/// | 12 | 4 | `body_len` (bytes as transmitted, i.e. after encryption) |
/// | 16 | 20 | `body_sha1` (SHA-1 of the *plaintext* body) |
/// | 36 | 8 | reserved (zero) |
///
/// ```
/// use ftapi::codec::FrameHeader;
/// let h = FrameHeader { proto_id: 1004, serial_no: 7, body_len: 8, ..Default::default() };
/// let bytes = h.to_bytes();
/// assert_eq!(&bytes[..2], b"FT");
/// assert_eq!(FrameHeader::parse(&bytes).unwrap(), h);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameHeader {
    /// Protocol id (`nProtoID`), e.g. 1001 or 2202.
    pub proto_id: u32,
    /// Body format: 0 = protobuf, 1 = JSON.
    pub proto_fmt: u8,
    /// Protocol version, always 0.
    pub proto_ver: u8,
    /// Serial number pairing a reply with its request.
    pub serial_no: u32,
    /// Length of the transmitted body.
    pub body_len: u32,
    /// SHA-1 of the plaintext body.
    pub body_sha1: [u8; 20],
    /// Reserved bytes, sent as zero and ignored on receipt.
    pub reserved: [u8; 8],
}

impl FrameHeader {
    /// Writes the header into the first 44 bytes of `out`.
    ///
    /// # Panics
    /// If `out` is shorter than 44 bytes (a programming error, never wire data).
    pub fn write_to(&self, out: &mut [u8]) {
        let out = &mut out[..HEADER_LEN];
        out[0..2].copy_from_slice(&MAGIC);
        LittleEndian::write_u32(&mut out[2..6], self.proto_id);
        out[6] = self.proto_fmt;
        out[7] = self.proto_ver;
        LittleEndian::write_u32(&mut out[8..12], self.serial_no);
        LittleEndian::write_u32(&mut out[12..16], self.body_len);
        out[16..36].copy_from_slice(&self.body_sha1);
        out[36..44].copy_from_slice(&self.reserved);
    }

    /// The header as 44 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        self.write_to(&mut b);
        b
    }

    /// Parses a header from the first 44 bytes of `b`, checking the magic (the version
    /// and reserved bytes are kept but not checked, as OpenD's own SDK does).
    ///
    /// Callers are expected to pass at least 44 bytes; a shorter slice is refused as
    /// [`CodecError::BadMagic`] carrying whatever of the first two bytes it has.
    pub fn parse(b: &[u8]) -> Result<FrameHeader, CodecError> {
        if b.len() < HEADER_LEN {
            let mut m = [0u8; 2];
            for (d, s) in m.iter_mut().zip(b.iter()) {
                *d = *s;
            }
            return Err(CodecError::BadMagic(m));
        }
        if b[0..2] != MAGIC {
            return Err(CodecError::BadMagic([b[0], b[1]]));
        }
        let mut body_sha1 = [0u8; 20];
        body_sha1.copy_from_slice(&b[16..36]);
        let mut reserved = [0u8; 8];
        reserved.copy_from_slice(&b[36..44]);
        Ok(FrameHeader {
            proto_id: LittleEndian::read_u32(&b[2..6]),
            proto_fmt: b[6],
            proto_ver: b[7],
            serial_no: LittleEndian::read_u32(&b[8..12]),
            body_len: LittleEndian::read_u32(&b[12..16]),
            body_sha1,
            reserved,
        })
    }
}
