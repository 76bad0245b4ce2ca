//! One client connection of the simulator: its reader loop (InitConnect, KeepAlive,
//! GetGlobalState, hand-off of `Trd_*` requests to the trade handler) and its writer,
//! which seals every outgoing packet with the connection's cipher, applies the fault
//! plan, and doubles as the connection's [`PushSink`].

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prost::Message;
use rand::distributions::{Alphanumeric, DistString};

use crate::codec::{
    decode_body, open_frame, seal_packet, sha1_digest, AesMode, CodecError, Frame, FrameDecoder, FrameHeader,
    PacketCipher, HEADER_LEN,
};
use crate::pb::{self, common, init_connect, notify, Protocol, PushProtocol};

use super::faults::{BadCipher, FaultPlan, PacketFault, PacketKind};
use super::router::{error_body, replied, route};
use super::server::{Core, Counters};
use super::{ConnInfo, PushSink};

/// Bytes asked from the socket per `read`.
const READ_CHUNK: usize = 64 * 1024;
/// How many header bytes [`PacketFault::CloseMidHeader`] sends.
const MID_HEADER: usize = HEADER_LEN / 2;

/// What the server knows about one live connection (a snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The connection id (assigned at accept time, sent in the InitConnect reply).
    pub conn_id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether InitConnect succeeded on it.
    pub initialized: bool,
    /// Whether bodies after InitConnect are AES-encrypted.
    pub encrypted: bool,
    /// Whether the client asked for Notify pushes (`recvNotify`).
    pub recv_notify: bool,
    /// KeepAlive requests received on it.
    pub keepalives: u64,
}

/// The writer half: everything needed to put a packet on the wire, behind one mutex
/// so that replies (reader thread) and pushes (any thread) never interleave.
struct Out {
    stream: TcpStream,
    cipher: PacketCipher,
    ready: bool,
    encrypted: bool,
    recv_notify: bool,
    push_serial: u32,
    /// While the reader handles the frames of one read, replies without a fault are
    /// sealed into `batch` and written together at the end (one `write` instead of one
    /// per reply). Anything else written meanwhile flushes the batch first, so the
    /// order on the wire is unchanged.
    corked: bool,
    batch: Vec<u8>,
    /// The body of the last Trd_SubAccPush reply, for the push flood (`flood.rs`).
    sub_acc_push_reply: Option<Vec<u8>>,
}

/// One connection, shared by its reader thread, the server (for pushes, kills and
/// snapshots) and the trade handler (as a [`PushSink`]).
pub(crate) struct Session {
    pub(crate) conn_id: u64,
    pub(crate) peer: SocketAddr,
    /// A handle on the socket used only to shut it down.
    sock: TcpStream,
    out: Mutex<Out>,
    closed: AtomicBool,
    keepalives: AtomicU64,
    faults: Arc<Mutex<FaultPlan>>,
    counters: Arc<Counters>,
}

impl Session {
    /// Wraps an accepted socket. Returns the session and the stream its reader reads.
    pub(crate) fn new(
        conn_id: u64,
        stream: TcpStream,
        faults: Arc<Mutex<FaultPlan>>,
        counters: Arc<Counters>,
        write_timeout: Duration,
    ) -> io::Result<(Arc<Session>, TcpStream)> {
        let peer = stream.peer_addr()?;
        stream.set_nodelay(true)?;
        if !write_timeout.is_zero() {
            stream.set_write_timeout(Some(write_timeout))?;
        }
        let reader = stream.try_clone()?;
        let sock = stream.try_clone()?;
        let out = Out {
            stream,
            cipher: PacketCipher::Plain,
            ready: false,
            encrypted: false,
            recv_notify: false,
            push_serial: 0,
            corked: false,
            batch: Vec::new(),
            sub_acc_push_reply: None,
        };
        let sess = Session {
            conn_id,
            peer,
            sock,
            out: Mutex::new(out),
            closed: AtomicBool::new(false),
            keepalives: AtomicU64::new(0),
            faults,
            counters,
        };
        Ok((Arc::new(sess), reader))
    }

    /// Whether the connection was closed (by either side).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Shuts the socket down in both directions; the reader thread then ends the
    /// session. Idempotent.
    pub(crate) fn close(&self, reason: &str) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            log::debug!("conn {} ({}): closing: {reason}", self.conn_id, self.peer);
            let _ = self.sock.shutdown(Shutdown::Both);
        }
    }

    /// A snapshot for [`super::SimServer::sessions`].
    pub(crate) fn info(&self) -> SessionInfo {
        let out = self.out.lock();
        SessionInfo {
            conn_id: self.conn_id,
            peer: self.peer,
            initialized: out.ready,
            encrypted: out.encrypted,
            recv_notify: out.recv_notify,
            keepalives: self.keepalives.load(Ordering::Relaxed),
        }
    }

    /// Sends a reply sealed with the session cipher, after consulting the fault plan.
    /// Returns `false` if the connection is closed afterwards.
    pub(crate) fn send_reply(&self, proto_id: u32, serial: u32, plain: &[u8]) -> bool {
        let mut out = self.out.lock();
        let fault = self.faults.lock().take(self.conn_id, proto_id, PacketKind::Reply);
        if proto_id == pb::proto::SubAccPush::PROTO_ID {
            out.sub_acc_push_reply = Some(plain.to_vec());
        }
        if fault.is_none() && out.corked {
            if self.is_closed() {
                return false;
            }
            let Out { cipher, batch, .. } = &mut *out;
            if let Some(p) = super::flood::IntoPacket::into_packet(seal_packet(proto_id, serial, plain, cipher)) {
                batch.extend_from_slice(&p);
            }
            return true;
        }
        if !self.flush_batch(&mut out) {
            return false;
        }
        let Out { stream, cipher, .. } = &mut *out;
        self.emit(stream, cipher, proto_id, serial, plain, fault)
    }

    /// Sends a push if the session is initialized (and, for `notify_only`, asked for
    /// Notify pushes). `None` if it was not eligible, else whether the connection is
    /// still alive.
    fn send_push(&self, proto_id: u32, plain: &[u8], notify_only: bool) -> Option<bool> {
        let mut out = self.out.lock();
        if self.is_closed() || !out.ready || (notify_only && !out.recv_notify) {
            return None;
        }
        let fault = self.faults.lock().take(self.conn_id, proto_id, PacketKind::Push);
        if !self.flush_batch(&mut out) {
            return Some(false);
        }
        out.push_serial = out.push_serial.wrapping_add(1);
        let serial = out.push_serial;
        let Out { stream, cipher, .. } = &mut *out;
        let alive = self.emit(stream, cipher, proto_id, serial, plain, fault);
        if alive {
            self.counters.pushes.fetch_add(1, Ordering::Relaxed);
        }
        Some(alive)
    }

    /// A Notify push to a session that asked for them. `true` if it was sent.
    pub(crate) fn push_notify(&self, body: &[u8]) -> bool {
        self.send_push(pb::proto::Notify::PROTO_ID, body, true) == Some(true)
    }

    /// Sends `count` Notify pushes (ProgramStatus Ready) as fast as possible, whatever
    /// `recvNotify` said. Returns how many were written.
    pub(crate) fn flood(&self, count: usize) -> usize {
        let mut sent = 0;
        for i in 0..count {
            let body = notify_body(notify::S2c {
                r#type: notify::NotifyType::ProgramStatus as i32,
                program_status: Some(notify::ProgramStatus {
                    program_status: common::ProgramStatus {
                        r#type: common::ProgramStatusType::Ready as i32,
                        str_ext_desc: Some(format!("push flood {}", i + 1)),
                    },
                }),
                ..Default::default()
            });
            match self.send_push(pb::proto::Notify::PROTO_ID, &body, false) {
                Some(true) => sent += 1,
                _ => break,
            }
        }
        sent
    }

    /// Runs `f` on the writer (socket, session cipher, push serial counter) under the
    /// writer lock, if the session is initialized and open; `None` otherwise. The push
    /// flood writes its pre-sealed batches this way.
    pub(crate) fn with_push_writer<R>(
        &self,
        f: impl FnOnce(&mut TcpStream, &PacketCipher, &mut u32) -> R,
    ) -> Option<R> {
        let mut out = self.out.lock();
        if self.is_closed() || !out.ready || !self.flush_batch(&mut out) {
            return None;
        }
        let Out { stream, cipher, push_serial, .. } = &mut *out;
        Some(f(stream, cipher, push_serial))
    }

    /// Starts batching replies (see `Out::corked`).
    pub(crate) fn cork(&self) {
        self.out.lock().corked = true;
    }

    /// Writes the batched replies and stops batching. `false` if the connection failed.
    pub(crate) fn uncork(&self) -> bool {
        let mut out = self.out.lock();
        out.corked = false;
        self.flush_batch(&mut out)
    }

    /// Writes the batched replies, if any. `false` (and the session closed) if the
    /// write failed.
    fn flush_batch(&self, out: &mut Out) -> bool {
        if out.batch.is_empty() {
            return true;
        }
        let Out { stream, batch, .. } = out;
        let res = if self.is_closed() { Ok(()) } else { stream.write_all(batch) };
        batch.clear();
        if batch.capacity() > 1024 * 1024 {
            *batch = Vec::new();
        }
        match res {
            Ok(()) => !self.is_closed(),
            Err(e) => {
                log::info!("conn {} ({}): write failed: {e}", self.conn_id, self.peer);
                self.close("write failed");
                false
            }
        }
    }

    /// Takes the body of the last Trd_SubAccPush reply sent, if any.
    pub(crate) fn take_sub_acc_push_reply(&self) -> Option<Vec<u8>> {
        self.out.lock().sub_acc_push_reply.take()
    }

    /// Adds `n` pushes written outside [`Session::send_push`] to the server's counter.
    pub(crate) fn count_pushes(&self, n: u64) {
        self.counters.pushes.fetch_add(n, Ordering::Relaxed);
    }

    /// Writes one packet, or what `fault` makes of it. Returns `false` if the
    /// connection is closed afterwards (write error, or a fault that closes).
    fn emit(
        &self,
        stream: &mut TcpStream,
        cipher: &PacketCipher,
        proto_id: u32,
        serial: u32,
        plain: &[u8],
        fault: Option<PacketFault>,
    ) -> bool {
        if self.is_closed() {
            return false;
        }
        let result = match fault {
            None => seal_packet(proto_id, serial, plain, cipher)
                .map_err(io::Error::other)
                .and_then(|p| stream.write_all(&p))
                .map(|_| true),
            Some(f) => {
                log::info!("conn {}: fault {f:?} on proto {proto_id} serial {serial}", self.conn_id);
                self.emit_faulty(stream, cipher, proto_id, serial, plain, f)
            }
        };
        match result {
            Ok(true) => true,
            Ok(false) => {
                self.close("closed by an injected fault");
                false
            }
            Err(e) => {
                log::info!("conn {} ({}): write failed: {e}", self.conn_id, self.peer);
                self.close("write failed");
                false
            }
        }
    }

    /// The faulty variants of [`Session::emit`]. `Ok(false)` = close now.
    fn emit_faulty(
        &self,
        stream: &mut TcpStream,
        cipher: &PacketCipher,
        proto_id: u32,
        serial: u32,
        plain: &[u8],
        fault: PacketFault,
    ) -> io::Result<bool> {
        let packet = || seal_packet(proto_id, serial, plain, cipher).map_err(io::Error::other);
        match fault {
            PacketFault::Drop => Ok(true),
            PacketFault::Close => Ok(false),
            PacketFault::CorruptSha1 => {
                let mut p = packet()?;
                p[16..36].iter_mut().for_each(|b| *b ^= 0xFF);
                stream.write_all(&p).map(|_| true)
            }
            PacketFault::Garbage { len } => {
                let junk: Vec<u8> = (0..len).map(|i| 0x80 | (i as u8).wrapping_mul(37)).collect();
                stream.write_all(&junk).map(|_| true)
            }
            PacketFault::HugeBodyLen { body_len } => {
                let mut p = packet()?;
                p[12..16].copy_from_slice(&body_len.to_le_bytes());
                stream.write_all(&p).map(|_| true)
            }
            PacketFault::ByteByByte { pause } => {
                for b in packet()? {
                    if self.is_closed() {
                        return Ok(false);
                    }
                    stream.write_all(&[b])?;
                    stream.flush()?;
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                }
                Ok(true)
            }
            PacketFault::CloseMidHeader => {
                let p = packet()?;
                stream.write_all(&p[..MID_HEADER])?;
                Ok(false)
            }
            PacketFault::CloseMidBody => {
                let p = packet()?;
                let body = p.len() - HEADER_LEN;
                let cut = if body >= 2 { HEADER_LEN + body / 2 } else { HEADER_LEN };
                stream.write_all(&p[..cut])?;
                Ok(false)
            }
            PacketFault::BadMagic => {
                let mut p = packet()?;
                p[0..2].copy_from_slice(b"XX");
                stream.write_all(&p).map(|_| true)
            }
            PacketFault::Undecryptable(how) => {
                let body = undecryptable_body(cipher, plain, how).map_err(io::Error::other)?;
                let header = FrameHeader {
                    proto_id,
                    serial_no: serial,
                    body_len: body.len() as u32,
                    body_sha1: sha1_digest(plain),
                    ..Default::default()
                };
                let mut p = header.to_bytes().to_vec();
                p.extend_from_slice(&body);
                stream.write_all(&p).map(|_| true)
            }
            // Handled while building the InitConnect reply; anywhere else they cannot
            // match (see `FaultRule`), so the packet goes out unchanged.
            PacketFault::InitFail { .. }
            | PacketFault::InitNoS2c
            | PacketFault::InitBadAesKey
            | PacketFault::InitBadIv => stream.write_all(&packet()?).map(|_| true),
        }
    }
}

impl PushSink for Session {
    fn push(&self, proto_id: u32, plain_body: Vec<u8>) -> bool {
        self.send_push(proto_id, &plain_body, false) == Some(true)
    }
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
        (PacketCipher::AesCbc { key, iv }, BadCipher::BadPadding) => {
            // Zero-fill to whole blocks plus one zero block: the last plaintext byte is
            // 0, which no PKCS#7 pad can be.
            let mut data = plain.to_vec();
            data.resize(plain.len().div_ceil(16) * 16 + 16, 0);
            key.cbc_encrypt_blocks(iv, &data)
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

/// A 16-character alphanumeric string (AES key or IV).
fn random_ascii16() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 16)
}

/// The plaintext body of a Notify push.
pub(crate) fn notify_body(s2c: notify::S2c) -> Vec<u8> {
    notify::Response { ret_type: 0, ret_msg: None, err_code: None, s2c: Some(s2c) }.encode_to_vec()
}

/// The reader side of one session: owns the read half, the frame decoder and the
/// receive cipher.
pub(crate) struct Reader {
    sess: Arc<Session>,
    stream: TcpStream,
    core: Arc<Core>,
    dec: FrameDecoder,
    cipher: PacketCipher,
    info: Option<ConnInfo>,
    drop_at: Option<Instant>,
}

impl Reader {
    /// A reader for a freshly accepted session.
    pub(crate) fn new(sess: Arc<Session>, stream: TcpStream, core: Arc<Core>) -> Self {
        let dec = FrameDecoder::with_max_body_len(core.config.max_body_len);
        Reader { sess, stream, core, dec, cipher: PacketCipher::Plain, info: None, drop_at: None }
    }

    /// Serves the connection until it ends, then cleans up.
    pub(crate) fn run(mut self) {
        let conn_id = self.sess.conn_id;
        log::info!("conn {conn_id}: accepted from {}", self.sess.peer);
        let reason = self.serve();
        self.sess.close(&reason);
        self.core.remove_session(conn_id);
        if self.info.is_some() {
            if let Some(h) = &self.core.handler {
                h.disconnected(conn_id);
            }
            if let Some(q) = &self.core.quote {
                q.disconnected(conn_id);
            }
        }
        log::info!("conn {conn_id} ({}): session ended: {reason}", self.sess.peer);
    }

    fn serve(&mut self) -> String {
        loop {
            if self.sess.is_closed() {
                return "closed by the server".into();
            }
            if let Some(at) = self.drop_at {
                let now = Instant::now();
                if now >= at {
                    return "dropped by the drop_after_init fault".into();
                }
                let left = (at - now).max(Duration::from_millis(1));
                if let Err(e) = self.stream.set_read_timeout(Some(left)) {
                    return format!("set_read_timeout failed: {e}");
                }
            }
            match self.dec.read_from(&mut self.stream, READ_CHUNK) {
                Ok(0) => return "peer closed the connection".into(),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return format!("read failed: {e}"),
            }
            // The replies to every frame of this read go out in one write.
            self.sess.cork();
            let ended = loop {
                match self.dec.next_frame() {
                    Ok(Some(frame)) => {
                        // `--push-flood`: a Trd_SubAccPush request is kept for after its reply.
                        let sub = super::flood::wanted(&self.core, &frame.header).then(|| frame.clone());
                        if let Err(reason) = self.on_frame(frame) {
                            break Some(reason);
                        }
                        if let (Some(req), Some(info)) = (sub, &self.info) {
                            super::flood::after_sub_acc_push(&self.core, info, &self.sess, &self.cipher, req);
                        }
                    }
                    Ok(None) => break None,
                    Err(e) => {
                        self.core.counters.malformed.fetch_add(1, Ordering::Relaxed);
                        log::warn!("conn {} ({}): malformed input, closing: {e}", self.sess.conn_id, self.sess.peer);
                        break Some(format!("malformed input: {e}"));
                    }
                }
            };
            let flushed = self.sess.uncork();
            if let Some(reason) = ended {
                return reason;
            }
            if !flushed {
                return "write failed".into();
            }
        }
    }

    fn reply(&self, h: &FrameHeader, body: &[u8]) -> Result<(), String> {
        if super::reply_delay::wanted(&self.core) {
            return super::reply_delay::later(&self.core, &self.sess, None, h, body);
        }
        if self.sess.send_reply(h.proto_id, h.serial_no, body) {
            Ok(())
        } else {
            Err("connection closed while replying".into())
        }
    }

    fn reply_error(&self, h: &FrameHeader, msg: &str) -> Result<(), String> {
        log::debug!("conn {}: proto {} serial {}: retType -1: {msg}", self.sess.conn_id, h.proto_id, h.serial_no);
        self.reply(h, &error_body(msg))
    }

    fn on_frame(&mut self, frame: Frame) -> Result<(), String> {
        let h = frame.header;
        let Some(info) = self.info.clone() else {
            if h.proto_id == pb::proto::InitConnect::PROTO_ID {
                return self.on_init_connect(frame);
            }
            return self.reply_error(&h, "InitConnect required first");
        };
        let plain = match open_frame(frame, &self.cipher) {
            Ok(p) => p,
            Err(CodecError::UnsupportedFormat(f)) => {
                return self.reply_error(&h, &format!("unsupported body format {f} (this simulator speaks protobuf)"));
            }
            Err(e) => {
                self.core.counters.malformed.fetch_add(1, Ordering::Relaxed);
                log::warn!("conn {} ({}): bad packet, closing: {e}", self.sess.conn_id, self.sess.peer);
                return Err(format!("bad packet: {e}"));
            }
        };
        if h.proto_id == pb::proto::InitConnect::PROTO_ID {
            self.core.counters.requests.fetch_add(1, Ordering::Relaxed);
            return self.reply_error(&h, "InitConnect already done on this connection");
        }
        match route(&self.core, &info, h.proto_id, &plain, &self.sess.keepalives) {
            Ok(body) if super::reply_delay::wanted(&self.core) => {
                super::reply_delay::later(&self.core, &self.sess, Some(&info), &h, &body)
            }
            Ok(body) => {
                let sent = self.reply(&h, &body);
                replied(&self.core, &info, h.proto_id);
                sent
            }
            Err(msg) => self.reply_error(&h, &msg),
        }
    }

    /// InitConnect on a fresh connection: detect RSA or plain, answer with a new AES
    /// key (and IV in CBC mode), switch the session cipher.
    fn on_init_connect(&mut self, frame: Frame) -> Result<(), String> {
        let h = frame.header;
        let conn_id = self.sess.conn_id;
        if h.proto_fmt != 0 {
            return self.reply_error(&h, &format!("unsupported body format {} (protobuf only)", h.proto_fmt));
        }
        let cfg = &self.core.config;
        // Plain if the raw body matches the header's SHA-1, RSA if its decryption does.
        let (plain, rsa_request) = if sha1_digest(&frame.body) == h.body_sha1 {
            (frame.body, false)
        } else {
            let Some(key) = &cfg.rsa_key else {
                return self
                    .reply_error(&h, "InitConnect could not be decoded (encrypted, but this OpenD has no RSA key?)");
            };
            match key.decrypt(&frame.body) {
                Ok(p) if sha1_digest(&p) == h.body_sha1 => (p, true),
                _ => {
                    return self.reply_error(
                        &h,
                        "InitConnect could not be decoded (SHA-1 mismatch; encrypted with a different RSA key?)",
                    )
                }
            }
        };
        let c2s = match decode_body::<init_connect::Request>(&plain) {
            Ok(req) => req.c2s,
            Err(e) => return self.reply_error(&h, &format!("InitConnect body is not an InitConnect request: {e}")),
        };
        let algo = c2s.packet_enc_algo;
        // Encrypted iff OpenD has a key and the client did not opt out; an absent
        // packetEncAlgo means "OpenD's default" when the client used RSA, "none" when not.
        let encrypted = cfg.rsa_key.is_some()
            && match algo {
                Some(-1) => false,
                Some(_) => true,
                None => rsa_request,
            };
        let reply_cipher = match &cfg.rsa_key {
            Some(k) if rsa_request && algo != Some(-1) => PacketCipher::Rsa(k.clone()),
            _ => PacketCipher::Plain,
        };
        let mut aes_key = random_ascii16();
        let mut iv = (cfg.aes_mode == AesMode::Cbc).then(random_ascii16);
        let fault = self.core.faults.lock().take(conn_id, pb::proto::InitConnect::PROTO_ID, PacketKind::Reply);
        let mut refuse = None;
        let mut wire_fault = None;
        match fault {
            Some(PacketFault::InitFail { message }) => refuse = Some((-1, Some(message))),
            Some(PacketFault::InitNoS2c) => refuse = Some((0, None)),
            Some(PacketFault::InitBadAesKey) => {
                aes_key.pop();
            }
            Some(PacketFault::InitBadIv) => {
                let mut bad = random_ascii16();
                bad.pop();
                iv = Some(bad);
            }
            other => wire_fault = other,
        }
        let session_cipher = if !encrypted {
            Ok(PacketCipher::Plain)
        } else {
            match cfg.aes_mode {
                AesMode::Cbc => PacketCipher::aes_cbc(aes_key.as_bytes(), iv.as_deref().unwrap_or("").as_bytes()),
                AesMode::FtAesEcb => PacketCipher::ft_aes_ecb(aes_key.as_bytes()),
            }
        };
        let rsp = match &refuse {
            Some((ret_type, msg)) => {
                init_connect::Response { ret_type: *ret_type, ret_msg: msg.clone(), err_code: None, s2c: None }
            }
            None => init_connect::Response {
                ret_type: 0,
                ret_msg: None,
                err_code: None,
                s2c: Some(init_connect::S2c {
                    server_ver: cfg.server_ver,
                    login_user_id: cfg.login_user_id,
                    conn_id,
                    conn_aes_key: aes_key,
                    keep_alive_interval: cfg.keepalive_interval,
                    aes_cb_civ: iv,
                    user_attribution: Some(cfg.user_attribution),
                }),
            },
        };
        let session_cipher = match (refuse, session_cipher) {
            (None, Ok(c)) => Some(c),
            _ => None,
        };
        let body = rsp.encode_to_vec();
        {
            // Reply and switch ciphers under the writer lock, so that no push can be
            // sealed with the new cipher before the reply is on the wire.
            let mut out = self.sess.out.lock();
            if !self.sess.flush_batch(&mut out) {
                return Err("connection closed while answering InitConnect".into());
            }
            let Out { stream, .. } = &mut *out;
            if !self.sess.emit(stream, &reply_cipher, h.proto_id, h.serial_no, &body, wire_fault) {
                return Err("connection closed while answering InitConnect".into());
            }
            if let Some(c) = &session_cipher {
                out.cipher = c.clone();
                out.ready = true;
                out.encrypted = encrypted;
                out.recv_notify = c2s.recv_notify.unwrap_or(false);
            }
        }
        let Some(cipher) = session_cipher else {
            log::info!("conn {conn_id}: InitConnect answered without initializing the session (fault)");
            return Ok(());
        };
        self.cipher = cipher;
        self.info = Some(ConnInfo { conn_id, login_user_id: cfg.login_user_id, sink: self.sess.clone() });
        self.core.counters.init_ok.fetch_add(1, Ordering::Relaxed);
        log::info!(
            "conn {conn_id}: InitConnect ok (client {:?} ver {}, request {}, session {})",
            c2s.client_id,
            c2s.client_ver,
            if rsa_request { "RSA" } else { "plain" },
            if encrypted { format!("{:?}", cfg.aes_mode) } else { "plain".into() }
        );
        let (drop_after, flood) = {
            let plan = self.core.faults.lock();
            (plan.drop_after_init, plan.push_flood_after_init)
        };
        if let Some(d) = drop_after {
            self.drop_at = Some(Instant::now() + d);
        }
        if let Some(n) = flood {
            let sent = self.sess.flood(n);
            log::info!("conn {conn_id}: push flood after InitConnect: {sent} of {n} sent");
        }
        Ok(())
    }
}
