//! One client connection of the TCP port: its reader loop (InitConnect, then every
//! request through the router) and its outgoing side, which seals every packet with
//! the connection's cipher, applies the fault plan, queues the result in the
//! connection's outgoing queue (`outbox.rs`) and doubles as the connection's [`PushSink`].
//!
//! Nothing but the connection's own threads ever waits for its socket: the reader
//! writes the replies of one read itself (one write) when no write is in progress, and
//! the connection's writer thread writes everything else (pushes from the broker's and
//! the market data's threads). A queue over its bound closes the connection.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prost::Message;
use rand::distributions::{Alphanumeric, DistString};

use crate::codec::{
    decode_body, open_frame, seal_packet, sha1_digest, AesMode, CodecError, Frame, FrameDecoder, FrameHeader,
    PacketCipher,
};
use crate::pb::{self, common, init_connect, notify, Protocol, PushProtocol};

pub use super::core::SessionInfo;
use super::core::{Conn, Core, Counters, Overdue};
use super::faults::{faulty_packet, FaultPlan, PacketFault, PacketKind, Wire};
use super::outbox::{self, Outbox, Refused};
use super::router::{error_body, replied, route};
use super::{ConnInfo, PushSink};

/// Bytes asked from the socket per `read`.
const READ_CHUNK: usize = 64 * 1024;
/// A Notify flood waits while more than this is queued (at most a quarter of the
/// queue's bound).
const FLOOD_WATER: usize = 256 * 1024;

/// The codec's sealers return the packet, or a `Result` of it where sealing can fail;
/// this takes either (`None` after logging the error).
pub(crate) trait IntoPacket {
    /// The packet, or `None` (logged).
    fn into_packet(self) -> Option<Vec<u8>>;
}

impl IntoPacket for Vec<u8> {
    fn into_packet(self) -> Option<Vec<u8>> {
        Some(self)
    }
}

impl<E: std::fmt::Display> IntoPacket for Result<Vec<u8>, E> {
    fn into_packet(self) -> Option<Vec<u8>> {
        self.map_err(|e| log::error!("sealing a packet failed: {e}")).ok()
    }
}

impl outbox::Item for Wire {
    fn size(&self) -> usize {
        match self {
            Wire::Bytes(b) | Wire::Slow { bytes: b, .. } | Wire::ThenClose(b) => b.len(),
        }
    }

    fn merge(&mut self, next: Self) -> Option<Self> {
        match (self, next) {
            (Wire::Bytes(a), Wire::Bytes(b)) => {
                a.extend_from_slice(&b);
                None
            }
            (_, next) => Some(next),
        }
    }
}

/// Something a session runs after it answered a request; the server hands it to every
/// session. The benchmark push flood (`flood.rs`) is one, so that the session does not
/// need to know it.
pub(crate) trait ReplyHook: Send + Sync {
    /// Whether the request with this header must be kept for [`ReplyHook::after_reply`].
    fn wants(&self, header: &FrameHeader) -> bool;
    /// Runs on the reader thread once the reply to `req` (the frame as received) is
    /// queued. `cipher` is the session's.
    fn after_reply(&self, sess: &Session, info: &ConnInfo, cipher: &PacketCipher, req: Frame);
}

/// The sealing state, behind one mutex so that packets are sealed and queued in one
/// order (push serial numbers and the cipher switch after InitConnect included).
struct Out {
    cipher: PacketCipher,
    ready: bool,
    encrypted: bool,
    recv_notify: bool,
    push_serial: u32,
    /// The body of the last Trd_SubAccPush reply, for the push flood (`flood.rs`).
    sub_acc_push_reply: Option<Vec<u8>>,
}

/// One connection, shared by its reader thread, its writer thread, the server (for
/// pushes, kills and snapshots) and the handlers (as a [`PushSink`]).
pub(crate) struct Session {
    pub(crate) conn_id: u64,
    pub(crate) peer: SocketAddr,
    /// Written only by whoever holds the outbox's write turn; also shut down by `close`.
    stream: TcpStream,
    out: Mutex<Out>,
    outbox: Outbox<Wire>,
    closed: AtomicBool,
    keepalives: AtomicU64,
    faults: Arc<Mutex<FaultPlan>>,
    counters: Arc<Counters>,
    write_timeout: Duration,
    queue_limit: usize,
    /// The reader thread: its pushes (relaxed mode pushes before the reply) wait for
    /// the reader's write of the replies instead of waking the writer thread.
    reader: OnceLock<ThreadId>,
}

/// The delay thread of `--reply-delay-us` writes its replies through the session's own
/// methods.
impl super::reply_delay::ReplyWriter for Session {
    fn conn_id(&self) -> u64 {
        self.conn_id
    }
    fn send_reply(&self, proto_id: u32, serial: u32, plain: &[u8]) -> bool {
        Session::send_reply(self, proto_id, serial, plain)
    }
    fn flush(&self) -> bool {
        Session::flush(self)
    }
    fn close(&self, reason: &str) {
        Session::close(self, reason)
    }
}

impl Session {
    /// Wraps an accepted socket. Returns the session and the stream its reader reads.
    pub(crate) fn new(conn_id: u64, stream: TcpStream, core: &Core) -> io::Result<(Arc<Session>, TcpStream)> {
        let peer = stream.peer_addr()?;
        stream.set_nodelay(true)?;
        let reader = stream.try_clone()?;
        let out = Out {
            cipher: PacketCipher::Plain,
            ready: false,
            encrypted: false,
            recv_notify: false,
            push_serial: 0,
            sub_acc_push_reply: None,
        };
        let sess = Session {
            conn_id,
            peer,
            stream,
            out: Mutex::new(out),
            outbox: Outbox::new(core.config.out_queue_bytes),
            closed: AtomicBool::new(false),
            keepalives: AtomicU64::new(0),
            faults: core.faults.clone(),
            counters: core.counters.clone(),
            write_timeout: core.config.write_timeout,
            queue_limit: core.config.out_queue_bytes,
            reader: OnceLock::new(),
        };
        Ok((Arc::new(sess), reader))
    }

    /// Whether the connection was closed (by either side).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Shuts the socket down in both directions and drops what is queued; the reader
    /// and writer threads then end the session. Idempotent.
    pub(crate) fn close(&self, reason: &str) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            log::debug!("conn {} ({}): closing: {reason}", self.conn_id, self.peer);
            self.outbox.close();
            let _ = self.stream.shutdown(Shutdown::Both);
        }
    }

    /// The writer thread: writes what others queue until the connection closes.
    pub(crate) fn run_writer(&self) {
        self.outbox.run_writer(&mut |batch| self.write_batch(batch));
    }

    /// Writes one batch taken from the outbox. `false` if the connection is closed
    /// afterwards.
    fn write_batch(&self, batch: VecDeque<Wire>) -> bool {
        let mut stream = &self.stream;
        for wire in batch {
            let res = match wire {
                Wire::Bytes(b) => stream.write_all(&b),
                Wire::Slow { bytes, pause } => (|| {
                    for b in bytes {
                        if self.is_closed() {
                            return Ok(());
                        }
                        stream.write_all(&[b])?;
                        stream.flush()?;
                        if !pause.is_zero() {
                            std::thread::sleep(pause);
                        }
                    }
                    Ok(())
                })(),
                Wire::ThenClose(b) => {
                    let _ = stream.write_all(&b);
                    self.close("closed by an injected fault");
                    return false;
                }
            };
            if let Err(e) = res {
                if !self.is_closed() {
                    log::info!("conn {} ({}): write failed: {e}", self.conn_id, self.peer);
                }
                self.close("write failed");
                return false;
            }
        }
        !self.is_closed()
    }

    /// Queues one packet (`None`: a fault dropped it). `quiet`: the caller writes the
    /// queue itself afterwards ([`Session::flush`]). Returns `false` if the connection
    /// is closed or closing afterwards (a closing fault, or a full queue).
    fn queue(&self, wire: Option<Wire>, quiet: bool) -> bool {
        let Some(wire) = wire else {
            return !self.is_closed();
        };
        let res = match wire {
            Wire::ThenClose(_) => {
                let _ = self.outbox.push_last(wire);
                return false;
            }
            w if quiet => self.outbox.push_quiet(w),
            w => self.outbox.push(w),
        };
        match res {
            Ok(()) => true,
            Err(Refused::Closed) => false,
            Err(Refused::Full { queued }) => {
                log::warn!(
                    "conn {} ({}): {queued} bytes waiting to be sent (limit {}): the client does not read; closing",
                    self.conn_id,
                    self.peer,
                    self.queue_limit
                );
                self.counters.slow_closed.fetch_add(1, Ordering::Relaxed);
                self.close("outgoing queue full");
                false
            }
        }
    }

    /// Seals a packet with `cipher`, or builds what `fault` makes of it.
    fn seal(
        &self,
        cipher: &PacketCipher,
        proto_id: u32,
        serial: u32,
        plain: &[u8],
        fault: Option<PacketFault>,
    ) -> Option<Wire> {
        match fault {
            None => seal_packet(proto_id, serial, plain, cipher).into_packet().map(Wire::Bytes),
            Some(f) => {
                log::info!("conn {}: fault {f:?} on proto {proto_id} serial {serial}", self.conn_id);
                faulty_packet(f, cipher, proto_id, serial, plain)
                    .map_err(|e| log::error!("conn {}: building a faulty packet failed: {e}", self.conn_id))
                    .ok()
                    .flatten()
            }
        }
    }

    /// Whether the calling thread is this session's reader.
    fn on_reader(&self) -> bool {
        self.reader.get() == Some(&std::thread::current().id())
    }

    /// Queues a reply sealed with the session cipher, after consulting the fault plan;
    /// it goes out at the next [`Session::flush`]. Returns `false` if the connection is
    /// closed (or closing) afterwards.
    pub(crate) fn send_reply(&self, proto_id: u32, serial: u32, plain: &[u8]) -> bool {
        let mut out = self.out.lock();
        if self.is_closed() {
            return false;
        }
        let fault = self.faults.lock().take(self.conn_id, proto_id, PacketKind::Reply);
        if proto_id == pb::proto::SubAccPush::PROTO_ID {
            out.sub_acc_push_reply = Some(plain.to_vec());
        }
        let wire = self.seal(&out.cipher, proto_id, serial, plain, fault);
        self.queue(wire, true)
    }

    /// Queues a push if the session is initialized (and, for `notify_only`, asked for
    /// Notify pushes). `None` if it was not eligible, else whether the connection is
    /// still alive. Never waits for the socket.
    fn send_push(&self, proto_id: u32, plain: &[u8], notify_only: bool) -> Option<bool> {
        let mut out = self.out.lock();
        if self.is_closed() || !out.ready || (notify_only && !out.recv_notify) {
            return None;
        }
        let fault = self.faults.lock().take(self.conn_id, proto_id, PacketKind::Push);
        out.push_serial = out.push_serial.wrapping_add(1);
        let wire = self.seal(&out.cipher, proto_id, out.push_serial, plain, fault);
        let alive = self.queue(wire, self.on_reader());
        if alive {
            self.counters.pushes.fetch_add(1, Ordering::Relaxed);
        }
        Some(alive)
    }

    /// Writes what the reader queued (the replies of one read, in one write) unless a
    /// write is in progress, which then takes them. `false` if the connection failed.
    pub(crate) fn flush(&self) -> bool {
        self.outbox.drain_here(&mut |batch| self.write_batch(batch))
    }

    /// The reader is done: lets the queue drain (within the write timeout), then
    /// closes.
    fn finish(&self, reason: &str) {
        if !self.is_closed() {
            self.flush();
            let wait = if self.write_timeout.is_zero() { Duration::from_secs(30) } else { self.write_timeout };
            self.outbox.wait_drained(wait);
        }
        self.close(reason);
    }

    /// Sends `count` Notify pushes (ProgramStatus Ready) as fast as the socket takes
    /// them, whatever `recvNotify` said. Returns how many were queued.
    fn flood_notify(&self, count: usize) -> usize {
        let water = FLOOD_WATER.min(self.queue_limit / 4);
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
            if !self.outbox.wait_below(water) {
                break;
            }
            match self.send_push(pb::proto::Notify::PROTO_ID, &body, false) {
                Some(true) => sent += 1,
                _ => break,
            }
        }
        sent
    }

    /// Seals `plain` as a push of `proto_id` with the session cipher and serial 0, the
    /// template of a batch of pushes ([`Session::push_batch`]). `None` if the session is
    /// not initialized or is closed.
    pub(crate) fn push_template(&self, proto_id: u32, plain: &[u8]) -> Option<Vec<u8>> {
        let out = self.out.lock();
        if self.is_closed() || !out.ready {
            return None;
        }
        seal_packet(proto_id, 0, plain, &out.cipher).into_packet()
    }

    /// Queues the first `n` packets of `batch` (copies of one template of `len` bytes),
    /// each with the next push serial number patched into its header, once at most
    /// `water` bytes are queued (so a flood follows the socket's pace; the fault plan
    /// is not consulted). `false` if the connection is closed.
    pub(crate) fn push_batch(&self, batch: &mut [u8], len: usize, n: usize, water: usize) -> bool {
        if !self.outbox.wait_below(water) {
            return false;
        }
        let out = &mut *self.out.lock();
        for p in batch.chunks_exact_mut(len).take(n) {
            out.push_serial = out.push_serial.wrapping_add(1);
            p[8..12].copy_from_slice(&out.push_serial.to_le_bytes());
        }
        let ok = self.queue(Some(Wire::Bytes(batch[..n * len].to_vec())), false);
        if ok {
            self.counters.pushes.fetch_add(n as u64, Ordering::Relaxed);
        }
        ok
    }

    /// Takes the body of the last Trd_SubAccPush reply sent, if any.
    pub(crate) fn take_sub_acc_push_reply(&self) -> Option<Vec<u8>> {
        self.out.lock().sub_acc_push_reply.take()
    }
}

impl PushSink for Session {
    fn push(&self, proto_id: u32, plain_body: Vec<u8>) -> bool {
        self.send_push(proto_id, &plain_body, false) == Some(true)
    }
}

impl Conn for Session {
    fn conn_id(&self) -> u64 {
        self.conn_id
    }

    fn info(&self) -> SessionInfo {
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

    fn close(&self, reason: &str) {
        Session::close(self, reason);
    }

    fn push_notify(&self, body: &[u8]) -> bool {
        self.send_push(pb::proto::Notify::PROTO_ID, body, true) == Some(true)
    }

    fn flood(&self, count: usize) -> usize {
        self.flood_notify(count)
    }

    fn overdue(&self, now: Instant) -> Option<Overdue> {
        Overdue::write(self.outbox.stalled_for(now), self.write_timeout)
    }
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
    hook: Option<Arc<dyn ReplyHook>>,
    dec: FrameDecoder,
    cipher: PacketCipher,
    info: Option<ConnInfo>,
    drop_at: Option<Instant>,
}

impl Reader {
    /// A reader for a freshly accepted session.
    pub(crate) fn new(
        sess: Arc<Session>,
        stream: TcpStream,
        core: Arc<Core>,
        hook: Option<Arc<dyn ReplyHook>>,
    ) -> Self {
        let dec = FrameDecoder::with_max_body_len(core.config.max_body_len);
        Reader { sess, stream, core, hook, dec, cipher: PacketCipher::Plain, info: None, drop_at: None }
    }

    /// Serves the connection until it ends, then cleans up.
    pub(crate) fn run(mut self) {
        let conn_id = self.sess.conn_id;
        log::info!("conn {conn_id}: accepted from {}", self.sess.peer);
        let _ = self.sess.reader.set(std::thread::current().id());
        let reason = self.serve();
        self.sess.finish(&reason);
        self.core.unregister(conn_id);
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
            // The replies to every frame of this read are queued, then go out in one write.
            let ended = loop {
                match self.dec.next_frame() {
                    Ok(Some(frame)) => {
                        // A request the hook (`--push-flood`) wants is kept for after its reply.
                        let kept =
                            self.hook.as_ref().filter(|h| h.wants(&frame.header)).map(|h| (h.clone(), frame.clone()));
                        if let Err(reason) = self.on_frame(frame) {
                            break Some(reason);
                        }
                        if let (Some((hook, req)), Some(info)) = (kept, &self.info) {
                            hook.after_reply(&self.sess, info, &self.cipher, req);
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
            let flushed = self.sess.flush();
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
            // Queue the reply and switch ciphers under the sealing lock, so that no push
            // sealed with the new cipher can be queued before the reply.
            let mut out = self.sess.out.lock();
            let wire = self.sess.seal(&reply_cipher, h.proto_id, h.serial_no, &body, wire_fault);
            if !self.sess.queue(wire, true) {
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
            // The InitConnect reply goes first.
            if !self.sess.flush() {
                return Err("write failed".into());
            }
            let sent = self.sess.flood_notify(n);
            log::info!("conn {conn_id}: push flood after InitConnect: {sent} of {n} sent");
        }
        Ok(())
    }
}
