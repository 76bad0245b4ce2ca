//! The packet headers of OpenD's WebSocket port.
//!
//! On that port every packet is one binary WebSocket message: a short header and a plain
//! protobuf body that runs to the end of the message (no length field, no SHA-1, no
//! encryption; TLS is the only protection). All integers are **big-endian**. The header
//! differs by direction:
//!
//! Client to server, [`WsRequestHeader`] (20 bytes):
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | tag: ASCII `ft-v1.0` and one zero byte |
//! | 8 | 4 | `cmd` (the proto id, or [`CMD_INIT`]) |
//! | 12 | 8 | `section`: the serial number |
//!
//! Server to client, replies and pushes alike, [`WsReplyHeader`] (44 bytes):
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | tag |
//! | 8 | 4 | `cmd` |
//! | 12 | 8 | `section` (a reply echoes its request's) |
//! | 20 | 4 | `error`, signed (transport level, 0 = OK) |
//! | 24 | 20 | `errmsg`: bytes, zero-padded |
//!
//! Pure functions on byte slices: decoding checks every length first and returns a
//! [`WsCodecError`], never panics.
//!
//! ```
//! use ftapi::codec::ws::{decode_request, encode_request, WsRequestHeader};
//! let msg = encode_request(3001, 2, &[0x0a, 0x00]);
//! assert_eq!(msg.len(), 22);
//! let (h, body) = decode_request(&msg).unwrap();
//! assert_eq!(h, WsRequestHeader { cmd: 3001, section: 2 });
//! assert_eq!(body, &[0x0a, 0x00]);
//! ```

use byteorder::{BigEndian, ByteOrder};
use md5::{Digest, Md5};

/// The 8-byte tag every header starts with: `ft-v1.0` and a zero byte.
pub const WS_TAG: [u8; 8] = *b"ft-v1.0\0";
/// Size of a client-to-server header.
pub const WS_REQUEST_HEADER_LEN: usize = 20;
/// Size of a server-to-client header.
pub const WS_REPLY_HEADER_LEN: usize = 44;
/// Size of the `errmsg` field of a server-to-client header.
pub const WS_ERRMSG_LEN: usize = 20;

/// Command 1: the login ("Init") that opens every WebSocket session; its body is an
/// `InitWebSocket.Request`, its reply an `InitWebSocket.Response`.
pub const CMD_INIT: u32 = 1;
/// Command 2: a push meaning that the WebSocket service lost its link to OpenD (sent by
/// the official service, as far as its JavaScript client tells).
pub const CMD_OPEND_DISCONNECT: u32 = 2;

/// Header `error` 1: OpenD did not answer in time.
pub const WS_ERROR_TIMEOUT: i32 = 1;
/// Header `error` 2: OpenD's own timeout (e.g. its link to the backend is down).
pub const WS_ERROR_OPEND_TIMEOUT: i32 = 2;
/// Header `error` 3: the link between the WebSocket service and OpenD was closed.
pub const WS_ERROR_DISCONNECT: i32 = 3;

/// What can be wrong with a WebSocket packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsCodecError {
    /// The message is shorter than the header.
    #[error("WebSocket packet of {len} bytes is shorter than its {need}-byte header")]
    TooShort {
        /// Bytes received.
        len: usize,
        /// Header size for this direction.
        need: usize,
    },
    /// The message does not start with `ft-v1.0`.
    #[error("bad WebSocket packet tag {0:02x?} (expected \"ft-v1.0\")")]
    BadTag([u8; 8]),
}

/// The 20-byte header of a client-to-server packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WsRequestHeader {
    /// The command: a proto id (3001, 2202, ...) or [`CMD_INIT`].
    pub cmd: u32,
    /// The serial number; the reply echoes it.
    pub section: u64,
}

impl WsRequestHeader {
    /// The 20 header bytes.
    pub fn to_bytes(&self) -> [u8; WS_REQUEST_HEADER_LEN] {
        let mut out = [0u8; WS_REQUEST_HEADER_LEN];
        out[0..8].copy_from_slice(&WS_TAG);
        BigEndian::write_u32(&mut out[8..12], self.cmd);
        BigEndian::write_u64(&mut out[12..20], self.section);
        out
    }

    /// Parses the first 20 bytes of `msg`.
    pub fn parse(msg: &[u8]) -> Result<Self, WsCodecError> {
        let h = header_bytes(msg, WS_REQUEST_HEADER_LEN)?;
        Ok(WsRequestHeader { cmd: BigEndian::read_u32(&h[8..12]), section: BigEndian::read_u64(&h[12..20]) })
    }
}

/// The 44-byte header of a server-to-client packet (reply or push).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct WsReplyHeader {
    /// The command (the request's, for a reply).
    pub cmd: u32,
    /// The request's serial number for a reply; for a push, whatever the server sends.
    pub section: u64,
    /// Transport-level error, 0 = OK (see [`WS_ERROR_TIMEOUT`] and the others).
    pub error: i32,
    /// The error text as sent: bytes, zero-padded. [`WsReplyHeader::errmsg_text`]
    /// decodes it.
    pub errmsg: [u8; WS_ERRMSG_LEN],
}

impl std::fmt::Debug for WsReplyHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsReplyHeader")
            .field("cmd", &self.cmd)
            .field("section", &self.section)
            .field("error", &self.error)
            .field("errmsg", &self.errmsg_text())
            .finish()
    }
}

impl WsReplyHeader {
    /// A header with no error.
    pub fn new(cmd: u32, section: u64) -> Self {
        WsReplyHeader { cmd, section, error: 0, errmsg: [0; WS_ERRMSG_LEN] }
    }

    /// A header carrying a transport error. `msg` is cut to 20 bytes at a character
    /// boundary.
    pub fn with_error(cmd: u32, section: u64, error: i32, msg: &str) -> Self {
        let mut errmsg = [0u8; WS_ERRMSG_LEN];
        let mut end = msg.len().min(WS_ERRMSG_LEN);
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        errmsg[..end].copy_from_slice(&msg.as_bytes()[..end]);
        WsReplyHeader { cmd, section, error, errmsg }
    }

    /// The error text: the bytes before the first zero byte, decoded as UTF-8 (invalid
    /// sequences replaced).
    pub fn errmsg_text(&self) -> String {
        let end = self.errmsg.iter().position(|&b| b == 0).unwrap_or(WS_ERRMSG_LEN);
        String::from_utf8_lossy(&self.errmsg[..end]).into_owned()
    }

    /// The 44 header bytes.
    pub fn to_bytes(&self) -> [u8; WS_REPLY_HEADER_LEN] {
        let mut out = [0u8; WS_REPLY_HEADER_LEN];
        out[0..8].copy_from_slice(&WS_TAG);
        BigEndian::write_u32(&mut out[8..12], self.cmd);
        BigEndian::write_u64(&mut out[12..20], self.section);
        BigEndian::write_i32(&mut out[20..24], self.error);
        out[24..44].copy_from_slice(&self.errmsg);
        out
    }

    /// Parses the first 44 bytes of `msg`.
    pub fn parse(msg: &[u8]) -> Result<Self, WsCodecError> {
        let h = header_bytes(msg, WS_REPLY_HEADER_LEN)?;
        let mut errmsg = [0u8; WS_ERRMSG_LEN];
        errmsg.copy_from_slice(&h[24..44]);
        Ok(WsReplyHeader {
            cmd: BigEndian::read_u32(&h[8..12]),
            section: BigEndian::read_u64(&h[12..20]),
            error: BigEndian::read_i32(&h[20..24]),
            errmsg,
        })
    }
}

/// The first `need` bytes of `msg`, after checking the length and the tag. The tag's
/// eighth byte is not checked (the official client only looks for `ft-v1.0`).
fn header_bytes(msg: &[u8], need: usize) -> Result<&[u8], WsCodecError> {
    let Some(h) = msg.get(..need) else {
        return Err(WsCodecError::TooShort { len: msg.len(), need });
    };
    if h[..7] != WS_TAG[..7] {
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&h[..8]);
        return Err(WsCodecError::BadTag(tag));
    }
    Ok(h)
}

/// One client-to-server message: the 20-byte header and `body`.
pub fn encode_request(cmd: u32, section: u64, body: &[u8]) -> Vec<u8> {
    encode_request_with(cmd, section, &mut |out| out.extend_from_slice(body))
}

/// One client-to-server message whose body `encode` appends to the buffer it is given
/// (the body is encoded in place, never copied).
pub fn encode_request_with(cmd: u32, section: u64, encode: &mut dyn FnMut(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&WsRequestHeader { cmd, section }.to_bytes());
    encode(&mut out);
    out
}

/// Splits a client-to-server message into its header and body.
pub fn decode_request(msg: &[u8]) -> Result<(WsRequestHeader, &[u8]), WsCodecError> {
    let h = WsRequestHeader::parse(msg)?;
    Ok((h, &msg[WS_REQUEST_HEADER_LEN..]))
}

/// One server-to-client message: the 44-byte header and `body`.
pub fn encode_reply(header: &WsReplyHeader, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(WS_REPLY_HEADER_LEN + body.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(body);
    out
}

/// Splits a server-to-client message into its header and body (possibly empty).
pub fn decode_reply(msg: &[u8]) -> Result<(WsReplyHeader, &[u8]), WsCodecError> {
    let h = WsReplyHeader::parse(msg)?;
    Ok((h, &msg[WS_REPLY_HEADER_LEN..]))
}

/// The login token of the Init request: the lowercase hex MD5 of the plaintext key, or
/// the empty string for an empty key (as the official client sends).
pub fn key_md5_hex(key: &str) -> String {
    if key.is_empty() {
        return String::new();
    }
    let digest = Md5::digest(key.as_bytes());
    let mut s = String::with_capacity(32);
    for b in digest {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_header_golden() {
        // The header of the official client's first message (Init, section 2).
        let h = WsRequestHeader { cmd: CMD_INIT, section: 2 };
        assert_eq!(h.to_bytes(), [0x66, 0x74, 0x2d, 0x76, 0x31, 0x2e, 0x30, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
        let big = WsRequestHeader { cmd: 0x0102_0304, section: 0x1122_3344_5566_7788 };
        let b = big.to_bytes();
        assert_eq!(&b[8..20], &[1, 2, 3, 4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
        assert_eq!(WsRequestHeader::parse(&b).unwrap(), big);
    }

    #[test]
    fn reply_header_golden() {
        let h = WsReplyHeader::with_error(2202, 0x0100_0000_0000_0005, -2, "no reply");
        let b = h.to_bytes();
        let mut want = Vec::new();
        want.extend_from_slice(b"ft-v1.0\0");
        want.extend_from_slice(&[0, 0, 0x08, 0x9a]);
        want.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 5]);
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xfe]);
        want.extend_from_slice(b"no reply");
        want.extend_from_slice(&[0; 12]);
        assert_eq!(b.as_slice(), want.as_slice());
        let msg = encode_reply(&h, &[9, 9]);
        let (back, body) = decode_reply(&msg).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.errmsg_text(), "no reply");
        assert_eq!(body, &[9, 9]);
    }

    #[test]
    fn errmsg_is_bytes_not_characters() {
        // Seven 3-byte characters: only six fit in 20 bytes; the body stays aligned.
        let h = WsReplyHeader::with_error(1, 3, 1, "超超超超超超超");
        assert_eq!(h.errmsg_text(), "超超超超超超");
        assert_eq!(h.errmsg[18..], [0, 0]);
        let msg = encode_reply(&h, b"body");
        assert_eq!(decode_reply(&msg).unwrap().1, b"body");
        // A full 20-byte message with no terminator, and invalid UTF-8, decode too.
        let mut raw = WsReplyHeader::new(1, 1);
        raw.errmsg = [0xe8; 20];
        assert_eq!(raw.errmsg_text().chars().count(), 20);
    }

    #[test]
    fn empty_bodies_and_short_messages() {
        let msg = encode_reply(&WsReplyHeader::new(2005, 9), &[]);
        assert_eq!(msg.len(), WS_REPLY_HEADER_LEN);
        assert_eq!(decode_reply(&msg).unwrap().1, &[] as &[u8]);
        for n in 0..WS_REPLY_HEADER_LEN {
            assert_eq!(decode_reply(&msg[..n]), Err(WsCodecError::TooShort { len: n, need: WS_REPLY_HEADER_LEN }));
        }
        let req = encode_request(1004, 1, &[]);
        assert_eq!(decode_request(&req).unwrap(), (WsRequestHeader { cmd: 1004, section: 1 }, &[] as &[u8]));
        assert!(decode_request(&req[..19]).is_err());
    }

    #[test]
    fn tag_is_checked() {
        let mut msg = encode_reply(&WsReplyHeader::new(1, 1), &[]);
        msg[0] = b'F';
        assert!(matches!(decode_reply(&msg), Err(WsCodecError::BadTag(_))));
        // The eighth byte is free.
        let mut msg = encode_request(1, 1, &[]);
        msg[7] = b'x';
        assert!(decode_request(&msg).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics_and_round_trips(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
            cmd in proptest::num::u32::ANY,
            section in proptest::num::u64::ANY,
            error in proptest::num::i32::ANY,
            msg in ".{0,12}",
        ) {
            let _ = decode_reply(&bytes);
            let _ = decode_request(&bytes);
            let h = WsReplyHeader::with_error(cmd, section, error, &msg);
            let m = encode_reply(&h, &bytes);
            let (back, body) = decode_reply(&m).unwrap();
            proptest::prop_assert_eq!(back, h);
            proptest::prop_assert!(msg.starts_with(&back.errmsg_text()));
            proptest::prop_assert_eq!(body, bytes.as_slice());
            let r = encode_request(cmd, section, &bytes);
            let (rh, rb) = decode_request(&r).unwrap();
            proptest::prop_assert_eq!((rh.cmd, rh.section), (cmd, section));
            proptest::prop_assert_eq!(rb, bytes.as_slice());
        }
    }

    #[test]
    fn key_md5() {
        assert_eq!(key_md5_hex("123456"), "e10adc3949ba59abbe56e057f20f883e");
        assert_eq!(key_md5_hex(""), "");
    }
}
