//! The simulator's WebSocket port, as OpenD's JavaScript SDK talks to it (framing in
//! [`crate::codec::ws`]).
//!
//! | Situation | Answer |
//! |---|---|
//! | Init (command 1) whose `websocketKey` is the MD5 hex of the configured key | `InitWebSocket.Response` with the server time and the connID |
//! | Init with another key, or a body that is not an `InitWebSocket.Request` | **no reply** (as OpenD is documented to behave: the client's login times out) |
//! | any other command before a successful Init | retType -1 "Init required first" |
//! | a second Init | retType -1 "already logged in" |
//! | InitConnect (1001) | retType -1: not used on this port |
//! | anything else | the router shared with the TCP port (KeepAlive, GetGlobalState, the trade handler) |
//! | text messages | ignored |
//! | a binary message shorter than 20 bytes or without the `ft-v1.0` tag | the connection is closed |
//!
//! Replies echo the request's command and section, with header error 0. Pushes carry
//! section 0, which no request uses. Sessions share the server's connection ids,
//! trade handler and push routing with the TCP port, so an order placed on either port
//! is pushed to subscribers on both. The fault plan does not apply to this port.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prost::Message as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use crate::codec::decode_body;
use crate::codec::ws::{decode_request, encode_reply, WsReplyHeader, CMD_INIT};
use crate::pb::{self, init_web_socket, Protocol};
use crate::wsnet::{self, ReadSide, WriteSide};

pub use super::config::WsSettings;
use super::core::{Admission, Conn, Core, Overdue, SessionInfo};
use super::outbox::{self, Outbox, Refused};
use super::router::{error_body, replied, route, unix_now};
use super::{ConnInfo, PushSink};

/// Read timeout of a WebSocket session's socket (how often its reader looks up).
const TICK: Duration = Duration::from_millis(100);
/// Time allowed for the TLS and WebSocket handshakes of a new connection.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest message accepted from a client (OpenD requests are small).
const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// The rustls server configuration of `settings`, if TLS is on.
fn server_config(settings: &WsSettings) -> io::Result<Option<Arc<rustls::ServerConfig>>> {
    let Some((cert_pem, key_pem)) = settings.tls_pem() else {
        return Ok(None);
    };
    let bad =
        |what: &str, e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {e}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| bad("WebSocket certificate", &e))?;
    if certs.is_empty() {
        return Err(bad("WebSocket certificate", &"no certificate in the PEM text"));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| bad("WebSocket private key", &e))?;
    let provider = crate::wsnet::crypto_provider();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("WebSocket certificate and key", &e))?;
    Ok(Some(Arc::new(config)))
}

/// The listening side, built by [`super::SimServer`] at start.
pub(crate) struct WsListener {
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    key_md5: String,
}

impl WsListener {
    /// Binds the WebSocket port on `ip`. OpenD refuses a non-local address without
    /// TLS; so does the simulator.
    pub(crate) fn bind(ip: std::net::IpAddr, settings: &WsSettings) -> io::Result<WsListener> {
        let tls = server_config(settings)?;
        if tls.is_none() && !ip.is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the WebSocket port listens on a non-local address only with TLS (a certificate and key)",
            ));
        }
        let listener = TcpListener::bind(SocketAddr::new(ip, settings.port))?;
        Ok(WsListener { listener, tls, key_md5: settings.key_md5().to_owned() })
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts until the server stops.
    pub(crate) fn accept_loop(self, core: Arc<Core>) {
        let shared = Arc::new((self.tls, self.key_md5));
        for conn in self.listener.incoming() {
            if core.is_stopping() {
                break;
            }
            match conn {
                Ok(stream) => match core.admit() {
                    Some(place) => spawn_session(&core, stream, shared.clone(), place),
                    None => refuse(&core, stream),
                },
                Err(e) => {
                    log::warn!("opend-sim: WebSocket accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        log::debug!("opend-sim: WebSocket accept loop stopped");
    }
}

type Shared = Arc<(Option<Arc<rustls::ServerConfig>>, String)>;

/// Closes a connection over the connection limit, with a log line.
fn refuse(core: &Core, stream: TcpStream) {
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    log::warn!(
        "opend-sim: WebSocket connection from {peer} refused: {} connections are open (the limit)",
        core.config.max_connections
    );
}

fn spawn_session(core: &Arc<Core>, stream: TcpStream, shared: Shared, place: Admission) {
    let conn_id = core.next_conn_id();
    let c = core.clone();
    let spawned = std::thread::Builder::new().name(format!("opend-sim-ws-{conn_id}")).spawn(move || {
        run_session(c, conn_id, stream, shared);
        drop(place);
    });
    match spawned {
        Ok(handle) => core.track_thread(handle),
        Err(e) => log::warn!("opend-sim: ws conn {conn_id}: could not start its thread: {e}"),
    }
}

/// What a WebSocket session queues: whole binary messages, in order.
pub(crate) struct WsBatch(Vec<Vec<u8>>);

impl outbox::Item for WsBatch {
    fn size(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }

    fn merge(&mut self, next: Self) -> Option<Self> {
        self.0.extend(next.0);
        None
    }
}

/// One WebSocket connection, shared by its reader thread, its writer thread, the
/// server and the handlers (as a [`PushSink`]). Like a TCP session, it queues every
/// message in its [`Outbox`]; the reader writes its own replies when no write is in
/// progress, the writer thread everything else.
pub(crate) struct WsSession {
    pub(crate) conn_id: u64,
    pub(crate) peer: SocketAddr,
    sock: TcpStream,
    /// Used only by whoever holds the outbox's write turn.
    out: Mutex<WebSocket<WriteSide>>,
    outbox: Outbox<WsBatch>,
    closed: AtomicBool,
    logged_in: AtomicBool,
    keepalives: AtomicU64,
    core: Arc<Core>,
    /// When the upgrade finished (the login timeout runs from here).
    upgraded: Instant,
    reader: OnceLock<ThreadId>,
}

impl WsSession {
    /// Whether Init succeeded on it.
    pub(crate) fn is_logged_in(&self) -> bool {
        self.logged_in.load(Ordering::Acquire)
    }

    /// Shuts the socket down and drops what is queued; the reader and writer threads
    /// then end the session. Idempotent.
    pub(crate) fn close(&self, reason: &str) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            log::debug!("ws conn {} ({}): closing: {reason}", self.conn_id, self.peer);
            self.outbox.close();
            let _ = self.sock.shutdown(std::net::Shutdown::Both);
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Writes one batch of messages (one flush). `false` if the connection failed.
    fn write_batch(&self, batch: VecDeque<WsBatch>) -> bool {
        let mut ws = self.out.lock();
        let mut res = Ok(());
        for msg in batch.into_iter().flat_map(|b| b.0) {
            res = ws.write(Message::Binary(msg.into()));
            if res.is_err() {
                break;
            }
        }
        if res.is_ok() {
            res = ws.flush();
        }
        drop(ws);
        match res {
            Ok(()) => !self.is_closed(),
            Err(e) => {
                if !self.is_closed() {
                    log::info!("ws conn {} ({}): write failed: {e}", self.conn_id, self.peer);
                }
                self.close("write failed");
                false
            }
        }
    }

    /// The writer thread: writes what others queue until the connection closes.
    fn run_writer(&self) {
        self.outbox.run_writer(&mut |batch| self.write_batch(batch));
    }

    /// Queues one packet; the reader's own packets wait for its [`WsSession::flush`].
    /// `false` if the connection is closed afterwards.
    fn send(&self, cmd: u32, section: u64, body: &[u8]) -> bool {
        if self.is_closed() {
            return false;
        }
        let msg = WsBatch(vec![encode_reply(&WsReplyHeader::new(cmd, section), body)]);
        let on_reader = self.reader.get() == Some(&std::thread::current().id());
        let res = if on_reader { self.outbox.push_quiet(msg) } else { self.outbox.push(msg) };
        match res {
            Ok(()) => true,
            Err(Refused::Closed) => false,
            Err(Refused::Full { queued }) => {
                log::warn!(
                    "ws conn {} ({}): {queued} bytes waiting to be sent (limit {}): the client does not read; closing",
                    self.conn_id,
                    self.peer,
                    self.core.config.out_queue_bytes
                );
                self.core.counters.slow_closed.fetch_add(1, Ordering::Relaxed);
                self.close("outgoing queue full");
                false
            }
        }
    }

    /// Writes what the reader queued, unless a write is in progress (which then takes
    /// it). `false` if the connection failed.
    fn flush(&self) -> bool {
        self.outbox.drain_here(&mut |batch| self.write_batch(batch))
    }
}

impl PushSink for WsSession {
    fn push(&self, proto_id: u32, plain_body: Vec<u8>) -> bool {
        if !self.is_logged_in() {
            return false;
        }
        let ok = self.send(proto_id, 0, &plain_body);
        if ok {
            self.core.counters.pushes.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }
}

impl Conn for WsSession {
    fn conn_id(&self) -> u64 {
        self.conn_id
    }

    fn info(&self) -> SessionInfo {
        SessionInfo {
            conn_id: self.conn_id,
            peer: self.peer,
            initialized: self.is_logged_in(),
            encrypted: false,
            recv_notify: false,
            keepalives: self.keepalives.load(Ordering::Relaxed),
        }
    }

    fn close(&self, reason: &str) {
        WsSession::close(self, reason);
    }

    fn overdue(&self, now: Instant) -> Option<Overdue> {
        let cfg = &self.core.config;
        if let Some(o) = Overdue::write(self.outbox.stalled_for(now), cfg.write_timeout) {
            return Some(o);
        }
        let waited = now.saturating_duration_since(self.upgraded);
        (!self.is_logged_in() && !cfg.ws_login_timeout.is_zero() && waited >= cfg.ws_login_timeout)
            .then_some(Overdue::Login(waited))
    }
}

fn run_session(core: Arc<Core>, conn_id: u64, stream: TcpStream, shared: Shared) {
    let peer = match stream.peer_addr() {
        Ok(p) => p,
        Err(e) => {
            log::info!("ws conn {conn_id}: no peer address: {e}");
            return;
        }
    };
    log::info!("ws conn {conn_id}: accepted from {peer}");
    let (sess, ws) = match handshake(&core, conn_id, peer, stream, &shared.0) {
        Ok(x) => x,
        Err(e) => {
            log::info!("ws conn {conn_id} ({peer}): handshake failed: {e}");
            return;
        }
    };
    let s = sess.clone();
    match std::thread::Builder::new().name(format!("opend-sim-ws-w-{conn_id}")).spawn(move || s.run_writer()) {
        Ok(handle) => core.track_thread(handle),
        Err(e) => {
            log::warn!("ws conn {conn_id}: could not start its writer thread: {e}");
            sess.close("no writer thread");
        }
    }
    let _ = sess.reader.set(std::thread::current().id());
    let mut reader = WsReader { core: core.clone(), sess: sess.clone(), ws, key_md5: &shared.1, info: None };
    let reason = reader.serve();
    if !sess.is_closed() {
        sess.flush();
        sess.outbox.wait_drained(core.config.write_timeout.max(Duration::from_millis(1)));
    }
    sess.close(&reason);
    core.unregister(conn_id);
    if reader.info.is_some() {
        if let Some(h) = &core.handler {
            h.disconnected(conn_id);
        }
        if let Some(q) = &core.quote {
            q.disconnected(conn_id);
        }
    }
    log::info!("ws conn {conn_id} ({peer}): session ended: {reason}");
}

fn handshake(
    core: &Arc<Core>,
    conn_id: u64,
    peer: SocketAddr,
    mut stream: TcpStream,
    tls: &Option<Arc<rustls::ServerConfig>>,
) -> io::Result<(Arc<WsSession>, WebSocket<ReadSide>)> {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(TICK))?;
    let write_timeout = core.config.write_timeout;
    if !write_timeout.is_zero() {
        stream.set_write_timeout(Some(write_timeout))?;
    }
    let sock = stream.try_clone()?;
    let handshake_sock = stream.try_clone()?;
    let tls = match tls {
        Some(cfg) => {
            let mut conn = rustls::Connection::Server(
                rustls::ServerConnection::new(cfg.clone()).map_err(|e| io::Error::other(e.to_string()))?,
            );
            wsnet::tls_handshake(&mut stream, &mut conn, deadline, &|| core.is_stopping())?;
            Some(conn)
        }
        None => None,
    };
    let (read_side, write_side) = wsnet::split(stream, tls)?;
    let config = WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE)).max_frame_size(Some(MAX_MESSAGE));
    let mut attempt = tungstenite::accept_with_config(read_side, Some(config));
    let ws = loop {
        match attempt {
            Ok(ws) => break ws,
            Err(HandshakeError::Interrupted(mid)) => {
                if Instant::now() >= deadline {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "WebSocket handshake timed out"));
                }
                if core.is_stopping() {
                    return Err(io::Error::new(io::ErrorKind::Interrupted, "the server is stopping"));
                }
                attempt = mid.handshake();
            }
            Err(HandshakeError::Failure(e)) => return Err(wsnet::ws_io_error(e)),
        }
    };
    // From here on, the server's watchdog enforces the write timeout, as an overall
    // deadline per write (a socket timeout would restart with every partial write).
    handshake_sock.set_write_timeout(None)?;
    let sess = Arc::new(WsSession {
        conn_id,
        peer,
        sock,
        out: Mutex::new(wsnet::write_socket(write_side, Role::Server, config)),
        outbox: Outbox::new(core.config.out_queue_bytes),
        closed: AtomicBool::new(false),
        logged_in: AtomicBool::new(false),
        keepalives: AtomicU64::new(0),
        core: core.clone(),
        upgraded: Instant::now(),
        reader: OnceLock::new(),
    });
    core.register(sess.clone());
    Ok((sess, ws))
}

struct WsReader<'a> {
    core: Arc<Core>,
    sess: Arc<WsSession>,
    ws: WebSocket<ReadSide>,
    key_md5: &'a str,
    info: Option<ConnInfo>,
}

impl WsReader<'_> {
    fn serve(&mut self) -> String {
        loop {
            if self.sess.is_closed() {
                return "closed by the server".into();
            }
            match self.ws.read() {
                Ok(Message::Binary(data)) => {
                    if let Err(reason) = self.on_message(&data) {
                        return reason;
                    }
                }
                Ok(Message::Text(_)) => log::debug!("ws conn {}: text message ignored", self.sess.conn_id),
                Ok(Message::Close(_)) => {
                    let _ = self.ws.flush();
                    return "peer closed the WebSocket".into();
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                    ) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return "peer closed the WebSocket".into()
                }
                Err(e @ (tungstenite::Error::Capacity(_) | tungstenite::Error::Protocol(_))) => {
                    self.core.counters.malformed.fetch_add(1, Ordering::Relaxed);
                    log::warn!("ws conn {} ({}): bad WebSocket input, closing: {e}", self.sess.conn_id, self.sess.peer);
                    return format!("bad WebSocket input: {e}");
                }
                Err(e) => return format!("read failed: {e}"),
            }
        }
    }

    fn reply(&self, cmd: u32, section: u64, body: &[u8]) -> Result<(), String> {
        if self.sess.send(cmd, section, body) && self.sess.flush() {
            Ok(())
        } else {
            Err("connection closed while replying".into())
        }
    }

    fn reply_error(&self, cmd: u32, section: u64, msg: &str) -> Result<(), String> {
        log::debug!("ws conn {}: cmd {cmd} section {section}: retType -1: {msg}", self.sess.conn_id);
        self.reply(cmd, section, &error_body(msg))
    }

    fn on_message(&mut self, data: &[u8]) -> Result<(), String> {
        let (h, body) = match decode_request(data) {
            Ok(x) => x,
            Err(e) => {
                self.core.counters.malformed.fetch_add(1, Ordering::Relaxed);
                log::warn!("ws conn {} ({}): malformed packet, closing: {e}", self.sess.conn_id, self.sess.peer);
                return Err(format!("malformed packet: {e}"));
            }
        };
        let Some(info) = self.info.clone() else {
            if h.cmd == CMD_INIT {
                self.on_init(h.section, body);
                return Ok(());
            }
            return self.reply_error(h.cmd, h.section, "Init required first");
        };
        match h.cmd {
            CMD_INIT => {
                self.core.counters.requests.fetch_add(1, Ordering::Relaxed);
                self.reply_error(h.cmd, h.section, "already logged in")
            }
            pb::proto::InitConnect::PROTO_ID => {
                self.core.counters.requests.fetch_add(1, Ordering::Relaxed);
                self.reply_error(h.cmd, h.section, "InitConnect is not used on the WebSocket port (Init is command 1)")
            }
            cmd => match route(&self.core, &info, cmd, body, &self.sess.keepalives) {
                Ok(rsp) => {
                    let sent = self.reply(cmd, h.section, &rsp);
                    replied(&self.core, &info, cmd);
                    sent
                }
                Err(msg) => self.reply_error(cmd, h.section, &msg),
            },
        }
    }

    /// The login. A wrong key or an undecodable body gets no reply at all.
    fn on_init(&mut self, section: u64, body: &[u8]) {
        let conn_id = self.sess.conn_id;
        let c2s = match decode_body::<init_web_socket::Request>(body) {
            Ok(req) => req.c2s.unwrap_or_default(),
            Err(e) => {
                log::info!("ws conn {conn_id}: Init body is not an InitWebSocket request ({e}); no reply");
                return;
            }
        };
        if c2s.websocket_key.as_deref().unwrap_or("") != self.key_md5 {
            log::info!("ws conn {conn_id}: Init with a wrong key; no reply");
            return;
        }
        let rsp = init_web_socket::Response {
            ret_type: 0,
            ret_msg: None,
            err_code: None,
            s2c: Some(init_web_socket::S2c { server_time: Some(unix_now() as i64), conn_id: Some(conn_id) }),
        };
        // Logged in before the reply leaves, so that the client never sees a reply for a
        // session the server does not yet count as initialized.
        self.info = Some(ConnInfo { conn_id, login_user_id: self.core.config.login_user_id, sink: self.sess.clone() });
        self.sess.logged_in.store(true, Ordering::Release);
        self.core.counters.init_ok.fetch_add(1, Ordering::Relaxed);
        if !(self.sess.send(CMD_INIT, section, &rsp.encode_to_vec()) && self.sess.flush()) {
            return;
        }
        log::info!(
            "ws conn {conn_id}: Init ok (language {:?}, client {:?})",
            c2s.programming_language.as_deref().unwrap_or(""),
            c2s.client_id.as_deref().unwrap_or("")
        );
    }
}
