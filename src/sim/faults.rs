//! Fault injection: ways the simulated OpenD can misbehave on the wire, so that client
//! code can be tested against broken servers.
//!
//! A [`FaultPlan`] holds
//! - [`FaultRule`]s: each names one [`PacketFault`] and a scope (protocol id, connection
//!   id, replies and/or pushes, how many times). Every packet the server is about to
//!   send (replies, error replies, pushes, the InitConnect reply) is checked against the
//!   rules in order; the **first** matching rule decides what happens to it. A rule with
//!   a `times` count is removed once it has fired that often (so "fail the first
//!   InitConnect, then behave" is one rule with `times(1)`).
//! - connection-level faults: drop every connection some time after its InitConnect,
//!   flood every new connection with pushes.
//!
//! The plan is given at start ([`super::SimServerBuilder::faults`]) and can be replaced
//! at any time ([`super::SimServer::set_faults`]); a new plan applies to packets sent
//! from then on. Related one-shot actions live on the server:
//! [`super::SimServer::kill_connections`] and [`super::SimServer::push_flood`].
//!
//! ```
//! use ftapi::sim::{FaultPlan, FaultRule, PacketFault};
//! // Never answer Trd_PlaceOrder; corrupt the SHA-1 of the next two KeepAlive replies.
//! let plan = FaultPlan::none()
//!     .rule(FaultRule::new(PacketFault::Drop).proto(2202))
//!     .rule(FaultRule::new(PacketFault::CorruptSha1).proto(1004).times(2));
//! assert_eq!(plan.rules.len(), 2);
//! ```

use std::time::Duration;

use crate::codec::{seal_packet, sha1_digest, CodecError, FrameHeader, PacketCipher, HEADER_LEN};
use crate::pb::proto::InitConnect;
use crate::pb::Protocol;

/// How many header bytes [`PacketFault::CloseMidHeader`] sends.
const MID_HEADER: usize = HEADER_LEN / 2;

/// Which packets a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PacketKind {
    /// Replies and pushes.
    #[default]
    Any,
    /// Replies only (including error replies and the InitConnect reply).
    Reply,
    /// Pushes only (Notify, Trd_UpdateOrder, Trd_UpdateOrderFill, floods).
    Push,
}

/// How a body is made undecryptable by [`PacketFault::Undecryptable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadCipher {
    /// The ciphertext loses its last byte: not a whole number of cipher blocks
    /// (`nBodyLen` matches what is sent).
    WrongLength,
    /// Whole blocks that do not decrypt: AES-CBC with an invalid PKCS#7 pad (last
    /// plaintext byte 0), FTAES-ECB with a trailer byte of 0xFF, RSA with a block
    /// larger than the modulus.
    BadPadding,
}

/// What happens to one packet the server was about to send.
///
/// "Closes" means the server shuts the socket down (both directions) right after
/// writing whatever the fault writes; the session ends and the trade handler is told.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketFault {
    /// The packet is silently not sent; the connection stays open. Scope it to one
    /// protocol id for "never answer proto N", or leave it unscoped for "stop
    /// answering everything" (see [`FaultPlan::silent`]).
    Drop,
    /// Nothing is sent and the connection is closed instead (scoped to 1001: "close
    /// before the InitConnect reply").
    Close,
    /// The packet is sent with its header SHA-1 inverted (bytes 16..36 XOR 0xFF).
    CorruptSha1,
    /// `len` bytes of garbage (not starting with `"FT"`) are sent instead of the packet.
    Garbage {
        /// How many bytes to send.
        len: usize,
    },
    /// The header claims a body of `body_len` bytes; the real (shorter) body follows.
    HugeBodyLen {
        /// The claimed body length, e.g. `u32::MAX`.
        body_len: u32,
    },
    /// The packet is written one byte per `write`, sleeping `pause` between bytes.
    ByteByByte {
        /// Pause between two bytes.
        pause: Duration,
    },
    /// The first 22 bytes of the header are sent, then the connection is closed.
    CloseMidHeader,
    /// The header and half of the body (at least one byte if the body has two or
    /// more) are sent, then the connection is closed.
    CloseMidBody,
    /// The packet is sent with `"XX"` instead of the `"FT"` magic.
    BadMagic,
    /// The body is replaced by one that does not decrypt with the connection's cipher
    /// (the header keeps the SHA-1 of the real plaintext). On an unencrypted
    /// connection the body is altered instead, so its SHA-1 no longer matches.
    Undecryptable(BadCipher),
    /// InitConnect only: answer retType -1 with this `retMsg` (the connection stays
    /// open and uninitialized).
    InitFail {
        /// The `retMsg` of the failure.
        message: String,
    },
    /// InitConnect only: answer retType 0 without an `s2c` (connection stays
    /// uninitialized).
    InitNoS2c,
    /// InitConnect only: `connAESKey` has 15 characters instead of 16. An encrypted
    /// connection stays uninitialized (the server cannot use that key either).
    InitBadAesKey,
    /// InitConnect only: `aesCBCiv` has 15 characters (sent even in FTAES-ECB mode).
    /// An encrypted connection stays uninitialized.
    InitBadIv,
}

impl PacketFault {
    /// Whether this fault only makes sense for (and only ever matches) the
    /// InitConnect reply.
    pub fn is_init_only(&self) -> bool {
        matches!(
            self,
            PacketFault::InitFail { .. } | PacketFault::InitNoS2c | PacketFault::InitBadAesKey | PacketFault::InitBadIv
        )
    }
}

/// One fault and the packets it applies to. Built with [`FaultRule::new`] and narrowed
/// with the chained setters; unscoped, a rule applies to every packet on every
/// connection, forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// What to do to a matching packet.
    pub fault: PacketFault,
    /// Only packets with this protocol id (`None` = any).
    pub proto_id: Option<u32>,
    /// Only packets on this connection (`None` = any).
    pub conn_id: Option<u64>,
    /// Replies, pushes or both.
    pub kind: PacketKind,
    /// Fire at most this many times, then disappear (`None` = forever).
    pub times: Option<u32>,
}

impl FaultRule {
    /// An unscoped rule.
    pub fn new(fault: PacketFault) -> Self {
        FaultRule { fault, proto_id: None, conn_id: None, kind: PacketKind::Any, times: None }
    }

    /// Restricts the rule to one protocol id.
    pub fn proto(mut self, proto_id: u32) -> Self {
        self.proto_id = Some(proto_id);
        self
    }

    /// Restricts the rule to one connection.
    pub fn conn(mut self, conn_id: u64) -> Self {
        self.conn_id = Some(conn_id);
        self
    }

    /// Restricts the rule to replies.
    pub fn replies_only(mut self) -> Self {
        self.kind = PacketKind::Reply;
        self
    }

    /// Restricts the rule to pushes.
    pub fn pushes_only(mut self) -> Self {
        self.kind = PacketKind::Push;
        self
    }

    /// Lets the rule fire `n` times, then removes it.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    fn matches(&self, conn_id: u64, proto_id: u32, kind: PacketKind) -> bool {
        if self.times == Some(0) {
            return false;
        }
        if self.fault.is_init_only() && (proto_id != InitConnect::PROTO_ID || kind != PacketKind::Reply) {
            return false;
        }
        self.proto_id.is_none_or(|p| p == proto_id)
            && self.conn_id.is_none_or(|c| c == conn_id)
            && (self.kind == PacketKind::Any || self.kind == kind)
    }
}

/// The faults a server injects. `FaultPlan::default()` (= [`FaultPlan::none`]) is a
/// well-behaved OpenD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Per-packet faults; the first matching rule wins.
    pub rules: Vec<FaultRule>,
    /// Close every connection this long after its successful InitConnect reply
    /// (applies to connections initialized while the plan holds it).
    pub drop_after_init: Option<Duration>,
    /// Right after a successful InitConnect reply, send this many Notify pushes
    /// (ProgramStatus Ready) as fast as the socket takes them, whatever `recvNotify`
    /// said.
    pub push_flood_after_init: Option<usize>,
}

impl FaultPlan {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// Stop answering everything: no replies, no pushes, no InitConnect reply; the
    /// connections stay open and requests are still read (and counted).
    pub fn silent() -> Self {
        Self::none().rule(FaultRule::new(PacketFault::Drop))
    }

    /// Adds a rule after the existing ones.
    pub fn rule(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Sets [`FaultPlan::drop_after_init`].
    pub fn drop_after_init(mut self, after: Duration) -> Self {
        self.drop_after_init = Some(after);
        self
    }

    /// Sets [`FaultPlan::push_flood_after_init`].
    pub fn push_flood_after_init(mut self, count: usize) -> Self {
        self.push_flood_after_init = Some(count);
        self
    }

    /// Whether the plan injects nothing.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.drop_after_init.is_none() && self.push_flood_after_init.is_none()
    }

    /// Finds the fault for one outgoing packet and consumes one use of its rule.
    pub(crate) fn take(&mut self, conn_id: u64, proto_id: u32, kind: PacketKind) -> Option<PacketFault> {
        let idx = self.rules.iter().position(|r| r.matches(conn_id, proto_id, kind))?;
        let rule = &mut self.rules[idx];
        let fault = rule.fault.clone();
        if let Some(n) = rule.times.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.rules.remove(idx);
            }
        }
        Some(fault)
    }
}

/// What goes on the wire for one packet (the TCP session queues these in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wire {
    /// Bytes written as they are.
    Bytes(Vec<u8>),
    /// Bytes written one per `write`, pausing between two ([`PacketFault::ByteByByte`]).
    Slow {
        /// The bytes.
        bytes: Vec<u8>,
        /// The pause after each byte.
        pause: Duration,
    },
    /// Bytes written, then the connection closed (the closing faults).
    ThenClose(Vec<u8>),
}

/// What `fault` makes of the packet `(proto_id, serial, plain)` sealed with `cipher`:
/// `None` when nothing is sent ([`PacketFault::Drop`]).
pub(crate) fn faulty_packet(
    fault: PacketFault,
    cipher: &PacketCipher,
    proto_id: u32,
    serial: u32,
    plain: &[u8],
) -> Result<Option<Wire>, CodecError> {
    let packet = || seal_packet(proto_id, serial, plain, cipher);
    Ok(Some(match fault {
        PacketFault::Drop => return Ok(None),
        PacketFault::Close => Wire::ThenClose(Vec::new()),
        PacketFault::CorruptSha1 => {
            let mut p = packet()?;
            p[16..36].iter_mut().for_each(|b| *b ^= 0xFF);
            Wire::Bytes(p)
        }
        PacketFault::Garbage { len } => Wire::Bytes((0..len).map(|i| 0x80 | (i as u8).wrapping_mul(37)).collect()),
        PacketFault::HugeBodyLen { body_len } => {
            let mut p = packet()?;
            p[12..16].copy_from_slice(&body_len.to_le_bytes());
            Wire::Bytes(p)
        }
        PacketFault::ByteByByte { pause } => Wire::Slow { bytes: packet()?, pause },
        PacketFault::CloseMidHeader => {
            let mut p = packet()?;
            p.truncate(MID_HEADER);
            Wire::ThenClose(p)
        }
        PacketFault::CloseMidBody => {
            let mut p = packet()?;
            let body = p.len() - HEADER_LEN;
            p.truncate(if body >= 2 { HEADER_LEN + body / 2 } else { HEADER_LEN });
            Wire::ThenClose(p)
        }
        PacketFault::BadMagic => {
            let mut p = packet()?;
            p[0..2].copy_from_slice(b"XX");
            Wire::Bytes(p)
        }
        PacketFault::Undecryptable(how) => {
            let body = undecryptable_body(cipher, plain, how)?;
            let header = FrameHeader {
                proto_id,
                serial_no: serial,
                body_len: body.len() as u32,
                body_sha1: sha1_digest(plain),
                ..Default::default()
            };
            let mut p = header.to_bytes().to_vec();
            p.extend_from_slice(&body);
            Wire::Bytes(p)
        }
        // Handled while building the InitConnect reply; anywhere else they cannot
        // match (see `FaultRule`), so the packet goes out unchanged.
        PacketFault::InitFail { .. } | PacketFault::InitNoS2c | PacketFault::InitBadAesKey | PacketFault::InitBadIv => {
            Wire::Bytes(packet()?)
        }
    }))
}

/// A body that `cipher` cannot decrypt (see [`BadCipher`]).
fn undecryptable_body(cipher: &PacketCipher, plain: &[u8], how: BadCipher) -> Result<Vec<u8>, CodecError> {
    Ok(match (cipher, how) {
        (PacketCipher::Plain, _) => {
            let mut b = plain.to_vec();
            match b.first_mut() {
                Some(x) => *x ^= 0xFF,
                None => b.push(0xFF),
            }
            b
        }
        (_, BadCipher::WrongLength) => {
            let mut b = cipher.encrypt(plain)?;
            b.pop();
            b
        }
        (PacketCipher::AesCbc { .. }, BadCipher::BadPadding) => {
            // Zero-fill to whole blocks plus one zero block: the last plaintext byte is
            // 0, which no PKCS#7 pad can be. CBC encrypts a prefix the same whatever
            // follows, so the padded encryption of these whole blocks, without its
            // final pad block, is their encryption without padding.
            let mut data = plain.to_vec();
            data.resize(plain.len().div_ceil(16) * 16 + 16, 0);
            let mut b = cipher.encrypt(&data)?;
            b.truncate(data.len());
            b
        }
        (PacketCipher::FtAesEcb { .. }, BadCipher::BadPadding) => {
            let mut b = cipher.encrypt(plain)?;
            if let Some(last) = b.last_mut() {
                *last = 0xFF;
            }
            b
        }
        // A block of all ones is larger than any modulus of that size.
        (PacketCipher::Rsa(k), BadCipher::BadPadding) => vec![0xFF; k.block_len()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins_and_times_expire() {
        let mut plan = FaultPlan::none()
            .rule(FaultRule::new(PacketFault::BadMagic).proto(1004).conn(7).times(1))
            .rule(FaultRule::new(PacketFault::CorruptSha1).replies_only());
        assert_eq!(plan.take(7, 1004, PacketKind::Reply), Some(PacketFault::BadMagic));
        assert_eq!(plan.rules.len(), 1);
        assert_eq!(plan.take(7, 1004, PacketKind::Reply), Some(PacketFault::CorruptSha1));
        assert_eq!(plan.take(7, 2208, PacketKind::Push), None);
    }

    #[test]
    fn init_faults_only_match_the_init_connect_reply() {
        let mut plan = FaultPlan::none().rule(FaultRule::new(PacketFault::InitNoS2c));
        assert_eq!(plan.take(1, 1004, PacketKind::Reply), None);
        assert_eq!(plan.take(1, 1001, PacketKind::Reply), Some(PacketFault::InitNoS2c));
    }

    #[test]
    fn bad_cbc_padding_does_not_decrypt_and_keeps_whole_blocks() {
        let cipher = PacketCipher::aes_cbc(b"0123456789abcdef", b"fedcba9876543210").unwrap();
        let body = undecryptable_body(&cipher, b"hello", BadCipher::BadPadding).unwrap();
        assert_eq!(body.len(), 32);
        assert!(cipher.decrypt(&body).is_err());
        // The same blocks with a valid pad after them decrypt to the zero-filled data.
        let full = cipher.encrypt(&[b"hello".as_slice(), &[0u8; 27]].concat()).unwrap();
        assert_eq!(&full[..32], &body[..]);
    }

    #[test]
    fn silent_drops_everything() {
        let mut plan = FaultPlan::silent();
        assert_eq!(plan.take(3, 1003, PacketKind::Push), Some(PacketFault::Drop));
        assert_eq!(plan.take(3, 1001, PacketKind::Reply), Some(PacketFault::Drop));
        assert!(!plan.is_empty());
    }
}
