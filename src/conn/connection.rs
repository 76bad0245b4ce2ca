//! The connection state machine and its reader thread.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use prost::Message;

use super::pending::{PendingTable, Responder};
use super::transport::{Packet, PacketReader, PacketWriter, ReadError, ReadEvent, TcpOptions, TcpTransport};
use crate::codec::{decode_body, AesMode, PacketCipher, RsaKey};
use crate::error::Error;
use crate::pb::{self, init_connect, keep_alive, Protocol};

/// Settings of a connection. `Default` gives the official SDKs' values where they have
/// one.
///
/// ```
/// use std::time::Duration;
/// let cfg = ftapi::conn::ConnConfig { request_timeout: Duration::from_secs(5), ..Default::default() };
/// assert_eq!(cfg.client_id, "ftapi");
/// ```
#[derive(Debug, Clone)]
pub struct ConnConfig {
    /// TCP connect plus InitConnect must finish within this (default 10 s).
    pub connect_timeout: Duration,
    /// A request without a reply after this fails with [`Error::Timeout`] (default 12 s).
    pub request_timeout: Duration,
    /// Granularity of timeouts and keepalive (default 100 ms).
    pub tick: Duration,
    /// A socket write blocked for this long fails and closes the connection (default 10 s).
    pub write_timeout: Duration,
    /// Largest body accepted from OpenD (default 64 MiB).
    pub max_body_len: u32,
    /// `InitConnect.clientID` (default `"ftapi"`).
    pub client_id: String,
    /// `InitConnect.clientVer` (default 300, like the official SDKs).
    pub client_ver: i32,
    /// `InitConnect.programmingLanguage` (default `"Rust"`).
    pub programming_language: String,
    /// Ask OpenD for Notify (1003) pushes (default true).
    pub recv_notify: bool,
    /// The connection is declared dead after this many keepalive intervals without
    /// receiving anything (default 3).
    pub dead_after_intervals: u32,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(12),
            tick: Duration::from_millis(100),
            write_timeout: Duration::from_secs(10),
            max_body_len: crate::codec::DEFAULT_MAX_BODY_LEN,
            client_id: "ftapi".into(),
            client_ver: 300,
            programming_language: "Rust".into(),
            recv_notify: true,
            dead_after_intervals: 3,
        }
    }
}

/// What a successful InitConnect told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitInfo {
    /// OpenD's connection id (also the `connID` of every `Common.PacketID`).
    pub conn_id: u64,
    /// The user logged into OpenD.
    pub login_user_id: u64,
    /// OpenD's version.
    pub server_ver: i32,
    /// Keepalive interval in seconds; KeepAlive is sent every 4/5 of it.
    pub keepalive_interval: i32,
    /// The AES mode in use, `None` for a plain connection.
    pub aes_mode: Option<AesMode>,
    /// `userAttribution` if OpenD sent it.
    pub user_attribution: Option<i32>,
}

/// Lifecycle of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// TCP connect or InitConnect in progress.
    Connecting,
    /// InitConnect succeeded; requests may be sent.
    Ready,
    /// Closed or lost; it will not come back (a new connection is made instead).
    Closed,
}

/// Connection events, delivered on the reader thread with no lock held.
pub trait ConnEvents: Send + Sync + 'static {
    /// InitConnect finished (or connecting failed). Not called if the user closed first.
    fn init_done(&self, conn: &Arc<Connection>, result: Result<InitInfo, Error>);
    /// A push packet (1003, 2208, 2218, ...), plaintext body.
    fn push(&self, conn: &Arc<Connection>, proto_id: u32, body: Vec<u8>);
    /// A connection that was ready has been lost (never called after a user `close`).
    fn lost(&self, conn: &Arc<Connection>, error: Error);
}

const ST_CONNECTING: u8 = 0;
const ST_READY: u8 = 1;
const ST_CLOSED: u8 = 2;

/// One connection to OpenD. Created by [`Connection::start`], which returns at once;
/// a background thread connects, performs InitConnect, then reads and dispatches.
pub struct Connection {
    config: ConnConfig,
    events: Arc<dyn ConnEvents>,
    state: AtomicU8,
    user_closed: AtomicBool,
    serial: AtomicU32,
    pending: PendingTable,
    writer: OnceLock<Arc<dyn PacketWriter>>,
    init: OnceLock<InitInfo>,
    reader_id: OnceLock<ThreadId>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.state())
            .field("init", &self.init.get())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Connection {
    /// Starts connecting to `host:port` in a background thread and returns at once.
    /// With `encrypt`, `rsa_key` must be set (else `init_done` reports "RSA key not set").
    pub fn start(
        host: &str,
        port: u16,
        encrypt: bool,
        rsa_key: Option<RsaKey>,
        config: ConnConfig,
        events: Arc<dyn ConnEvents>,
    ) -> std::io::Result<Arc<Connection>> {
        let conn = Arc::new(Connection {
            config,
            events,
            state: AtomicU8::new(ST_CONNECTING),
            user_closed: AtomicBool::new(false),
            serial: AtomicU32::new(1),
            pending: PendingTable::default(),
            writer: OnceLock::new(),
            init: OnceLock::new(),
            reader_id: OnceLock::new(),
            reader: Mutex::new(None),
        });
        let c = conn.clone();
        let host = host.to_string();
        let handle = std::thread::Builder::new()
            .name("ftapi-reader".into())
            .spawn(move || ReaderThread::run(c, host, port, encrypt, rsa_key))?;
        *conn.reader.lock() = Some(handle);
        Ok(conn)
    }

    /// Current state.
    pub fn state(&self) -> ConnState {
        match self.state.load(Ordering::Acquire) {
            ST_CONNECTING => ConnState::Connecting,
            ST_READY => ConnState::Ready,
            _ => ConnState::Closed,
        }
    }

    /// InitConnect's result, once it succeeded.
    pub fn init_info(&self) -> Option<&InitInfo> {
        self.init.get()
    }

    /// Number of requests waiting for a reply.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The configured request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.config.request_timeout
    }

    /// Whether the calling thread is this connection's reader thread (where callbacks run).
    pub fn on_reader_thread(&self) -> bool {
        self.reader_id.get() == Some(&std::thread::current().id())
    }

    fn next_serial(&self) -> u32 {
        loop {
            let s = self.serial.fetch_add(1, Ordering::Relaxed);
            if s != 0 {
                return s;
            }
        }
    }

    /// Sends a request. `encode` appends the plaintext body and is given the serial
    /// number (for `Common.PacketID`); with `sensitive` the packet buffers are wiped
    /// after the write. On `Ok(serial)` the responder will be called
    /// exactly once (reply, timeout or disconnect); on `Err` it is dropped uncalled and
    /// nothing was sent.
    pub fn request(
        &self,
        proto_id: u32,
        timeout: Option<Duration>,
        sensitive: bool,
        encode: &mut dyn FnMut(&mut Vec<u8>, u32),
        responder: Responder,
    ) -> Result<u32, Error> {
        let writer = match (self.state(), self.writer.get()) {
            (ConnState::Ready, Some(w)) => w.clone(),
            (ConnState::Connecting, _) => return Err(Error::NotConnected("InitConnect has not finished".into())),
            _ => return Err(Error::NotConnected("connection is closed".into())),
        };
        let serial = self.next_serial();
        let key = (proto_id, serial);
        self.pending.insert(key, timeout.unwrap_or(self.config.request_timeout), responder);
        // Teardown marks the state closed before it drains the table: if we still see it
        // open, our entry will be drained; if not, whoever takes the entry answers it.
        if self.state() != ConnState::Ready {
            return match self.pending.take(key) {
                Some(_) => Err(Error::NotConnected("connection is closed".into())),
                None => Ok(serial),
            };
        }
        match writer.send_wiping(proto_id, serial, sensitive, &mut |buf| encode(buf, serial)) {
            Ok(()) => Ok(serial),
            Err(e) => {
                log::warn!("send of proto {proto_id} failed: {e}; closing the connection");
                writer.shutdown();
                match self.pending.take(key) {
                    Some(_) => Err(Error::from(e)),
                    None => Ok(serial),
                }
            }
        }
    }

    /// Closes the connection (idempotent). Pending requests are answered with
    /// [`Error::Disconnected`]; no `lost` event follows. Joins the reader thread unless
    /// called from it.
    pub fn close(&self) {
        self.user_closed.store(true, Ordering::Release);
        self.state.store(ST_CLOSED, Ordering::Release);
        if let Some(w) = self.writer.get() {
            w.shutdown();
        }
        if self.on_reader_thread() {
            return;
        }
        let handle = self.reader.lock().take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// The body of the background thread: connect, InitConnect, then read and dispatch
/// until the connection ends.
struct ReaderThread {
    conn: Arc<Connection>,
    reader: Box<dyn PacketReader>,
    writer: Arc<dyn PacketWriter>,
    last_rx: Instant,
    last_keepalive: Instant,
    keepalive_every: Duration,
    dead_after: Duration,
    next_timer: Instant,
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl ReaderThread {
    fn run(conn: Arc<Connection>, host: String, port: u16, encrypt: bool, rsa_key: Option<RsaKey>) {
        let _ = conn.reader_id.set(std::thread::current().id());
        let init_cipher = match (encrypt, rsa_key) {
            (false, _) => PacketCipher::Plain,
            (true, Some(k)) => PacketCipher::Rsa(k),
            (true, None) => {
                return Self::fail_init(&conn, None, Error::Connect("RSA key not set (set_rsa_private_key)".into()))
            }
        };
        let opts = TcpOptions {
            connect_timeout: conn.config.connect_timeout,
            tick: conn.config.tick,
            write_timeout: conn.config.write_timeout,
            max_body_len: conn.config.max_body_len,
            read_chunk: 128 * 1024,
        };
        let (writer, reader) = match TcpTransport::connect(&host, port, &opts, init_cipher) {
            Ok(halves) => halves,
            Err(e) => return Self::fail_init(&conn, None, Error::Connect(format!("{host}:{port}: {e}"))),
        };
        let writer: Arc<dyn PacketWriter> = Arc::new(writer);
        let _ = conn.writer.set(writer.clone());
        if conn.user_closed.load(Ordering::Acquire) {
            writer.shutdown();
            return;
        }
        let now = Instant::now();
        let mut rt = ReaderThread {
            conn,
            reader: Box::new(reader),
            writer,
            last_rx: now,
            last_keepalive: now,
            keepalive_every: Duration::from_secs(8),
            dead_after: Duration::from_secs(30),
            next_timer: now,
        };
        match rt.init_connect(encrypt) {
            Ok(info) => {
                rt.keepalive_every = Duration::from_millis(info.keepalive_interval.max(1) as u64 * 800);
                rt.dead_after = Duration::from_secs(
                    info.keepalive_interval.max(1) as u64 * rt.conn.config.dead_after_intervals.max(1) as u64,
                );
                let _ = rt.conn.init.set(info.clone());
                rt.conn.state.store(ST_READY, Ordering::Release);
                let now = Instant::now();
                rt.last_keepalive = now;
                rt.last_rx = now;
                if rt.conn.user_closed.load(Ordering::Acquire) {
                    return rt.teardown(Error::NotConnected("closed by the user".into()));
                }
                rt.conn.events.init_done(&rt.conn, Ok(info));
                rt.main_loop();
            }
            Err(e) => {
                let w = rt.writer.clone();
                Self::fail_init(&rt.conn, Some(&*w), e)
            }
        }
    }

    fn fail_init(conn: &Arc<Connection>, writer: Option<&dyn PacketWriter>, e: Error) {
        conn.state.store(ST_CLOSED, Ordering::Release);
        if let Some(w) = writer {
            w.shutdown();
        }
        if conn.user_closed.load(Ordering::Acquire) {
            return;
        }
        log::info!("InitConnect failed: {e}");
        conn.events.init_done(conn, Err(e));
    }

    fn init_connect(&mut self, encrypt: bool) -> Result<InitInfo, Error> {
        let cfg = &self.conn.config;
        let c2s = init_connect::C2s {
            client_ver: cfg.client_ver,
            client_id: cfg.client_id.clone(),
            recv_notify: Some(cfg.recv_notify),
            packet_enc_algo: Some(if encrypt { pb::common::PacketEncAlgo::AesCbc as i32 } else { -1 }),
            push_proto_fmt: Some(0),
            programming_language: Some(cfg.programming_language.clone()),
            ai_type: Some(0),
        };
        let req = init_connect::Request { c2s };
        let serial = self.conn.next_serial();
        self.writer
            .send(pb::proto::InitConnect::PROTO_ID, serial, &mut |buf| req.encode_raw(buf))
            .map_err(|e| Error::Connect(format!("sending InitConnect: {e}")))?;
        let deadline = Instant::now() + cfg.connect_timeout;
        loop {
            if self.conn.user_closed.load(Ordering::Acquire) {
                return Err(Error::NotConnected("closed by the user".into()));
            }
            match self.reader.read_packet() {
                Ok(ReadEvent::Packet(p)) if p.header.proto_id == pb::proto::InitConnect::PROTO_ID => {
                    return self.init_reply(p, encrypt);
                }
                Ok(ReadEvent::Packet(p)) => {
                    log::debug!("ignoring proto {} before InitConnect finished", p.header.proto_id);
                }
                Ok(ReadEvent::BadPacket { header, error }) if header.proto_id != pb::proto::InitConnect::PROTO_ID => {
                    log::debug!("ignoring bad packet proto {} before InitConnect finished: {error}", header.proto_id);
                }
                Ok(ReadEvent::Idle) => {}
                Err(ReadError::Io(e)) => {
                    return Err(Error::Connect(format!("connection lost during InitConnect: {e}")));
                }
                Ok(ReadEvent::BadPacket { error: e, .. }) | Err(ReadError::Codec(e)) => {
                    let hint = if encrypt {
                        " (wrong RSA key, or OpenD answered without encryption)"
                    } else {
                        " (is OpenD expecting an encrypted connection?)"
                    };
                    return Err(Error::Connect(format!("InitConnect reply unreadable: {e}{hint}")));
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::Connect(format!("no InitConnect reply within {:?}", cfg.connect_timeout)));
            }
        }
    }

    fn init_reply(&mut self, mut p: Packet, encrypt: bool) -> Result<InitInfo, Error> {
        let decoded = decode_body::<init_connect::Response>(&p.body);
        // The reply carries the session key: wipe every copy once the cipher is built.
        zeroize::Zeroize::zeroize(&mut p.body);
        let mut rsp = decoded?;
        let result = self.init_from(&rsp, encrypt);
        if let Some(s2c) = rsp.s2c.as_mut() {
            zeroize::Zeroize::zeroize(&mut s2c.conn_aes_key);
            if let Some(iv) = s2c.aes_cb_civ.as_mut() {
                zeroize::Zeroize::zeroize(iv);
            }
        }
        result
    }

    fn init_from(&mut self, rsp: &init_connect::Response, encrypt: bool) -> Result<InitInfo, Error> {
        if rsp.ret_type != 0 {
            return Err(Error::Server {
                proto_id: pb::proto::InitConnect::PROTO_ID,
                ret_type: rsp.ret_type,
                ret_msg: rsp.ret_msg.clone().unwrap_or_default(),
                err_code: rsp.err_code.unwrap_or(0),
            });
        }
        let s2c = rsp.s2c.as_ref().ok_or_else(|| Error::Connect("InitConnect succeeded but carried no s2c".into()))?;
        let aes_mode = if encrypt {
            if s2c.conn_aes_key.is_empty() {
                return Err(Error::Connect(
                    "OpenD sent no AES key for an encrypted connection; refusing to continue unencrypted".into(),
                ));
            }
            let cipher = PacketCipher::from_init_connect(&s2c.conn_aes_key, s2c.aes_cb_civ.as_deref())?;
            let mode = if s2c.aes_cb_civ.is_some() { AesMode::Cbc } else { AesMode::FtAesEcb };
            self.reader.set_session_cipher(cipher.clone());
            self.writer.set_session_cipher(cipher);
            Some(mode)
        } else {
            self.reader.set_session_cipher(PacketCipher::Plain);
            self.writer.set_session_cipher(PacketCipher::Plain);
            None
        };
        Ok(InitInfo {
            conn_id: s2c.conn_id,
            login_user_id: s2c.login_user_id,
            server_ver: s2c.server_ver,
            keepalive_interval: s2c.keep_alive_interval,
            aes_mode,
            user_attribution: s2c.user_attribution,
        })
    }

    fn main_loop(mut self) {
        loop {
            if self.conn.user_closed.load(Ordering::Acquire) {
                return self.teardown(Error::NotConnected("closed by the user".into()));
            }
            match self.reader.read_packet() {
                Ok(ReadEvent::Packet(p)) => {
                    self.last_rx = Instant::now();
                    self.dispatch(p);
                }
                Ok(ReadEvent::BadPacket { header, error }) => {
                    // The stream is still in sync: fail only what this packet answers.
                    self.last_rx = Instant::now();
                    self.bad_packet(header, error);
                }
                Ok(ReadEvent::Idle) => {}
                Err(ReadError::Io(e)) => {
                    let reason = if self.conn.user_closed.load(Ordering::Acquire) {
                        "closed by the user".to_string()
                    } else {
                        format!("connection lost: {e}")
                    };
                    return self.teardown(Error::NotConnected(reason));
                }
                Err(ReadError::Codec(e)) => {
                    return self.teardown(Error::NotConnected(format!("corrupt data from OpenD: {e}")));
                }
            }
            if let Err(e) = self.timers() {
                return self.teardown(e);
            }
        }
    }

    fn dispatch(&mut self, p: Packet) {
        let proto_id = p.header.proto_id;
        if pb::is_push(proto_id) {
            self.conn.events.push(&self.conn, proto_id, p.body);
            return;
        }
        match self.conn.pending.take((proto_id, p.header.serial_no)) {
            Some(entry) => (entry.responder)(p.header.serial_no, Ok(p.body)),
            None if proto_id == pb::proto::KeepAlive::PROTO_ID => {}
            None => log::debug!(
                "dropping unexpected reply proto {proto_id} serial {} (late or unknown)",
                p.header.serial_no
            ),
        }
    }

    fn bad_packet(&mut self, header: crate::codec::FrameHeader, error: crate::codec::CodecError) {
        let proto_id = header.proto_id;
        if pb::is_push(proto_id) {
            log::warn!("push {proto_id} dropped: {error}");
            return;
        }
        match self.conn.pending.take((proto_id, header.serial_no)) {
            Some(entry) => {
                log::warn!("reply to proto {proto_id} serial {} is invalid: {error}", header.serial_no);
                (entry.responder)(header.serial_no, Err(Error::Codec(error)));
            }
            None => log::warn!("invalid packet proto {proto_id} serial {} dropped: {error}", header.serial_no),
        }
    }

    fn timers(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        if now < self.next_timer {
            return Ok(());
        }
        self.next_timer = now + self.conn.config.tick;
        for ((proto_id, serial), entry) in self.conn.pending.take_expired(now) {
            (entry.responder)(serial, Err(Error::Timeout { proto_id, serial, after: entry.timeout }));
        }
        if now.duration_since(self.last_rx) > self.dead_after {
            return Err(Error::NotConnected(format!(
                "nothing received from OpenD for {:?} (keepalive timeout)",
                self.dead_after
            )));
        }
        if now.duration_since(self.last_keepalive) >= self.keepalive_every {
            let req = keep_alive::Request { c2s: keep_alive::C2s { time: unix_now() } };
            let serial = self.conn.next_serial();
            // Never wait for another thread's write: if one is in progress, try again on
            // the next tick.
            match self.writer.try_send(pb::proto::KeepAlive::PROTO_ID, serial, &mut |buf| req.encode_raw(buf)) {
                Some(Ok(())) => self.last_keepalive = now,
                Some(Err(e)) => return Err(Error::NotConnected(format!("sending KeepAlive failed: {e}"))),
                None => log::trace!("KeepAlive postponed: another thread is writing"),
            }
        }
        Ok(())
    }

    fn teardown(self, error: Error) {
        let was_ready = self.conn.state.swap(ST_CLOSED, Ordering::AcqRel) == ST_READY;
        self.writer.shutdown();
        let user = self.conn.user_closed.load(Ordering::Acquire);
        let reason = match &error {
            Error::NotConnected(r) => r.clone(),
            e => e.to_string(),
        };
        for ((proto_id, serial), entry) in self.conn.pending.drain() {
            (entry.responder)(serial, Err(Error::Disconnected { proto_id, serial, reason: reason.clone() }));
        }
        if was_ready && !user {
            log::info!("connection lost: {reason}");
            self.conn.events.lost(&self.conn, error);
        }
    }
}
