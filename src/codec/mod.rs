//! The wire codec: OpenD's 44-byte frame header, an incremental frame decoder, body
//! ciphers (RSA for InitConnect, AES-CBC and FTAES-ECB after it) and SHA-1 sealing.
//!
//! Nothing here touches sockets, threads or clocks: every function works on byte
//! slices, so the client, the simulator, the fuzzers and the benchmarks share it.
//!
//! ```
//! use ftapi::codec::{FrameDecoder, PacketCipher, seal_packet, open_frame};
//! let cipher = PacketCipher::Plain;
//! let bytes = seal_packet(1004, 1234, &[0x0a, 0x02, 0x08, 0x01], &cipher).unwrap();
//! let mut dec = FrameDecoder::new();
//! for b in &bytes { dec.push(std::slice::from_ref(b)); }   // one byte at a time
//! let frame = dec.next_frame().unwrap().expect("a whole frame");
//! assert_eq!(frame.header.proto_id, 1004);
//! assert_eq!(open_frame(frame, &cipher).unwrap(), vec![0x0a, 0x02, 0x08, 0x01]);
//! ```

mod cipher;
mod frame;
mod header;
mod packet;
mod rsa;
pub mod ws;

pub use self::cipher::{AesKey, AesMode, PacketCipher};
pub use self::frame::{Frame, FrameDecoder, DEFAULT_MAX_BODY_LEN};
pub use self::header::{FrameHeader, HEADER_LEN, MAGIC};
pub use self::packet::{decode_body, open_frame, seal_message, seal_packet, seal_with, sha1_digest};
pub use self::rsa::RsaKey;

/// Everything that can be wrong with bytes from the wire. Decoding never panics; it
/// returns one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The header does not start with `"FT"`.
    #[error("bad header magic {0:02x?} (expected \"FT\")")]
    BadMagic([u8; 2]),
    /// `nBodyLen` is above the configured maximum; refused before allocating.
    #[error("body length {len} exceeds the limit of {max} bytes")]
    BodyTooLong {
        /// Length claimed by the header.
        len: u32,
        /// Configured maximum.
        max: u32,
    },
    /// The header's SHA-1 does not match the plaintext body.
    #[error("SHA-1 mismatch on proto {proto_id} serial {serial}")]
    Sha1Mismatch {
        /// Protocol id of the bad packet.
        proto_id: u32,
        /// Serial number of the bad packet.
        serial: u32,
    },
    /// The body could not be decrypted (wrong length, bad padding, wrong key).
    #[error("decrypt failed: {0}")]
    Decrypt(String),
    /// A key or IV has the wrong size or format.
    #[error("bad key: {0}")]
    BadKey(String),
    /// RSA operation failed.
    #[error("RSA: {0}")]
    Rsa(String),
    /// The body is not a valid protobuf message of the expected type.
    #[error("protobuf decode failed: {0}")]
    Protobuf(String),
    /// The body format byte is not protobuf (0); JSON bodies are not supported.
    #[error("unsupported body format {0} (only protobuf is supported)")]
    UnsupportedFormat(u8),
}
