//! Incremental, bounded frame decoding.

use super::header::{FrameHeader, HEADER_LEN};
use super::CodecError;

/// Default maximum body length: 64 MiB.
pub const DEFAULT_MAX_BODY_LEN: u32 = 64 * 1024 * 1024;

/// An idle decoder drops storage larger than this (so one huge frame does not pin memory).
const SHRINK_ABOVE: usize = 1024 * 1024;

/// One packet as it came off the wire: header plus the body as transmitted
/// (still encrypted if the connection is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The parsed header.
    pub header: FrameHeader,
    /// The transmitted body (`header.body_len` bytes).
    pub body: Vec<u8>,
}

/// Turns a byte stream, fed in chunks of any size (one byte at a time works), into
/// [`Frame`]s.
///
/// The header is validated (magic, body length limit) as soon as its 44 bytes are
/// buffered, before any body byte is waited for, so a hostile length is refused
/// without allocating for it. After an error the stream is out of sync and the
/// connection should be closed; the decoder keeps returning the same error.
///
/// ```
/// use ftapi::codec::{FrameDecoder, seal_packet, PacketCipher};
/// let mut dec = FrameDecoder::with_max_body_len(1024);
/// let pkt = seal_packet(1002, 1, b"\x0a\x02\x08\x00", &PacketCipher::Plain).unwrap();
/// dec.push(&pkt[..10]);
/// assert!(dec.next_frame().unwrap().is_none());
/// dec.push(&pkt[10..]);
/// assert_eq!(dec.next_frame().unwrap().unwrap().header.proto_id, 1002);
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    /// Storage. Only `buf[start..end]` holds unread stream bytes; `buf[end..]` is
    /// initialized spare room that `read_from` reads into without zeroing it again.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    max_body_len: u32,
    pending: Option<FrameHeader>,
    failed: Option<CodecError>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder with the default 64 MiB body limit.
    pub fn new() -> Self {
        Self::with_max_body_len(DEFAULT_MAX_BODY_LEN)
    }

    /// A decoder that refuses bodies longer than `max_body_len` bytes.
    pub fn with_max_body_len(max_body_len: u32) -> Self {
        FrameDecoder { buf: Vec::new(), start: 0, end: 0, max_body_len, pending: None, failed: None }
    }

    /// The configured body limit.
    pub fn max_body_len(&self) -> u32 {
        self.max_body_len
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.make_room(bytes.len());
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// Reads once from `r` straight into the decoder's buffer (no intermediate copy),
    /// offering it room for up to `chunk` bytes (at least 1). Returns what `read`
    /// returned; `Ok(0)` means end of stream.
    pub fn read_from<R: std::io::Read>(&mut self, r: &mut R, chunk: usize) -> std::io::Result<usize> {
        let chunk = chunk.max(1);
        self.make_room(chunk);
        let n = r.read(&mut self.buf[self.end..self.end + chunk])?;
        // A conforming reader never reports more than it was offered; do not trust it.
        self.end += n.min(chunk);
        Ok(n)
    }

    /// Ensures `buf[end..]` has room for `n` more bytes, moving unread bytes to the
    /// front or growing the storage only when needed.
    fn make_room(&mut self, n: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            // Do not keep a huge buffer alive after one large frame went through.
            if self.buf.len() > SHRINK_ABOVE && n <= SHRINK_ABOVE {
                self.buf = Vec::new();
            }
        }
        if self.buf.len() - self.end >= n {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() - self.end >= n {
                return;
            }
        }
        // `resize` grows the capacity geometrically, so pushing a large body in small
        // pieces stays linear.
        self.buf.resize(self.end + n, 0);
    }

    /// Returns the next complete frame, `Ok(None)` if more bytes are needed, or an error
    /// if the stream is corrupt (bad magic, body over the limit).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, CodecError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let header = match self.pending {
            Some(h) => h,
            None => {
                if self.buffered() < HEADER_LEN {
                    return Ok(None);
                }
                let h = match FrameHeader::parse(&self.buf[self.start..self.start + HEADER_LEN]) {
                    Ok(h) => h,
                    Err(e) => return Err(self.fail(e)),
                };
                if h.body_len > self.max_body_len {
                    return Err(self.fail(CodecError::BodyTooLong { len: h.body_len, max: self.max_body_len }));
                }
                self.start += HEADER_LEN;
                self.pending = Some(h);
                h
            }
        };
        let len = header.body_len as usize;
        if self.buffered() < len {
            return Ok(None);
        }
        let body = self.buf[self.start..self.start + len].to_vec();
        self.start += len;
        self.pending = None;
        Ok(Some(Frame { header, body }))
    }

    fn fail(&mut self, e: CodecError) -> CodecError {
        self.failed = Some(e.clone());
        e
    }
}
