//! OpenD's WebSocket port (the JavaScript SDK's `start(ip, port, ssl, key)`): a
//! [`Transport`] that speaks the framing of [`crate::codec::ws`] over `ws://` or
//! `wss://`.
//!
//! Opening connects TCP, runs the TLS handshake for `wss` (rustls: the system's roots,
//! or a root of your own with [`WsTransport::ca_file`], or no check at all with the
//! explicit [`WsTransport::insecure`]; IP addresses work as server names), upgrades to
//! WebSocket (request target `/`, no subprotocol, no extra headers), and logs in with
//! command 1 (`InitWebSocket.Request` carrying the MD5 hex of the key). OpenD does not
//! answer a wrong key, so the login fails with [`InitFailKind::Timeout`] after
//! [`WsTransport::login_timeout`] (default 20 s, as in the JavaScript SDK). A refused
//! upgrade (an HTTP status instead of 101), an Init reply with its header's `error`
//! set or `retType != 0`, and a success reply without `s2c` or with a `connID` of 0 or
//! none, are refused logins: a [`ConnFailure`] that
//! [`is_refusal`](ConnFailure::is_refusal), as the TCP transport refuses an
//! InitConnect success without `s2c`.
//!
//! After login every packet is one binary message: requests carry the 20-byte header,
//! replies and pushes the 44-byte one. There is no InitConnect, no KeepAlive and no
//! RSA/AES on this port; liveness is WebSocket pings ([`Liveness::Ping`]), and a link
//! whose pings go unanswered (no pong) for [`WsTransport::dead_after`] is dead, whatever
//! else it sends. A reply whose header `error` is set fails its request with
//! [`Error::Server`] (OpenD's WebSocket service refused it: `err_code` is the header's
//! `error`, `ret_msg` its text).
//!
//! ```no_run
//! use ftapi::conn::ws::WsTransport;
//! let api = ftapi::TrdApi::new();
//! // ws://127.0.0.1:33333 with key "secret" (what init_connect_ws does):
//! api.init_connect_ws("127.0.0.1", 33333, false, "secret");
//! // wss:// with OpenD's self-signed certificate as the root:
//! api.close();
//! api.init_connect_with(Box::new(
//!     WsTransport::new("127.0.0.1", 33333, true, "secret").ca_file("opend-cert.pem"),
//! ));
//! ```

use std::io;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prost::Message as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};
use zeroize::Zeroizing;

use super::failure::{ConnFailure, InitFailKind, SocketFailKind};
use super::transport::{Incoming, InitInfo, Link, Liveness, OpenContext, PacketReceiver, PacketSender, Transport};
use crate::codec::decode_body;
use crate::codec::ws::{decode_reply, encode_request_with, key_md5_hex, WsReplyHeader, CMD_INIT, CMD_OPEND_DISCONNECT};
use crate::error::Error;
use crate::pb::init_web_socket;
use crate::wsnet::{self, ReadSide, WriteSide};

/// Default time to wait for the Init reply (the JavaScript SDK's).
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(20);
/// Default interval between WebSocket pings.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(10);
/// Default silence after which the link is dead.
pub const DEFAULT_DEAD_AFTER: Duration = Duration::from_secs(30);
/// Default largest message accepted (tungstenite's default; big replies reach several MB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;

/// OpenD's WebSocket port as a [`Transport`]; one value opens one link.
#[derive(Clone)]
pub struct WsTransport {
    host: String,
    port: u16,
    ssl: bool,
    key: Zeroizing<String>,
    ca_file: Option<PathBuf>,
    insecure: bool,
    max_message_size: usize,
    login_timeout: Duration,
    ping_interval: Duration,
    dead_after: Duration,
}

impl std::fmt::Debug for WsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsTransport")
            .field("url", &self.url())
            .field("key", &"<redacted>")
            .field("ca_file", &self.ca_file)
            .field("insecure", &self.insecure)
            .field("max_message_size", &self.max_message_size)
            .field("login_timeout", &self.login_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("dead_after", &self.dead_after)
            .finish()
    }
}

impl WsTransport {
    /// `ws://host:port` (or `wss://` with `ssl`), logging in with the plaintext `key`
    /// (only its MD5 is sent; an empty key sends an empty string, as the JavaScript
    /// SDK does).
    pub fn new(host: &str, port: u16, ssl: bool, key: &str) -> WsTransport {
        WsTransport {
            host: host.to_string(),
            port,
            ssl,
            key: Zeroizing::new(key.to_string()),
            ca_file: None,
            insecure: false,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
            ping_interval: DEFAULT_PING_INTERVAL,
            dead_after: DEFAULT_DEAD_AFTER,
        }
    }

    /// For `wss`: trust the certificates in this PEM file (e.g. OpenD's self-signed
    /// certificate) instead of the system's roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// For `wss`: accept any server certificate (invalid, expired, self-signed, for
    /// another name). The connection is still encrypted but no longer authenticated;
    /// off by default.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Largest WebSocket message (and frame) accepted from OpenD (default 64 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.max(1024);
        self
    }

    /// How long to wait for the Init reply (default 20 s). OpenD does not answer a
    /// wrong key, so this is also how long a wrong key takes to be reported.
    pub fn login_timeout(mut self, timeout: Duration) -> Self {
        self.login_timeout = timeout;
        self
    }

    /// Interval between WebSocket pings (default 10 s).
    pub fn ping_interval(mut self, every: Duration) -> Self {
        self.ping_interval = every;
        self
    }

    /// Silence after which the link is declared dead (default 30 s).
    pub fn dead_after(mut self, after: Duration) -> Self {
        self.dead_after = after;
        self
    }

    /// The login timeout in force.
    pub fn get_login_timeout(&self) -> Duration {
        self.login_timeout
    }

    /// The URL it connects to.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}://{host}:{}/", if self.ssl { "wss" } else { "ws" }, self.port)
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, ConnFailure> {
        let fail = |what: String| ConnFailure::socket(SocketFailKind::ConnectFailed, what);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(format!("TLS setup: {e}")))?;
        if self.insecure {
            log::warn!("wss to {}:{}: certificate checks are off (insecure)", self.host, self.port);
            let verifier = Arc::new(AcceptAnyCert(provider));
            return Ok(Arc::new(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth()));
        }
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<_, _>>())
                    .map_err(|e| fail(format!("CA file {}: {e}", path.display())))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(fail(format!("CA file {}: no usable certificate", path.display())));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for e in &found.errors {
                    log::debug!("system root certificates: {e}");
                }
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(fail("no system root certificates found (use a CA file)".into()));
                }
            }
        }
        Ok(Arc::new(builder.with_root_certificates(roots).with_no_client_auth()))
    }
}

impl Transport for WsTransport {
    fn peer(&self) -> String {
        self.url()
    }

    fn open(self: Box<Self>, ctx: &OpenContext) -> Result<Link, ConnFailure> {
        let cfg = ctx.config();
        let tls_config = if self.ssl { Some(self.tls_config()?) } else { None };
        let mut stream = ctx.tcp_connect(&self.host, self.port, cfg.connect_timeout)?;
        let setup = |e: io::Error| ConnFailure::io(SocketFailKind::CreateFailed, "socket setup", &e);
        stream.set_nodelay(true).map_err(setup)?;
        stream.set_read_timeout(Some(cfg.tick.max(Duration::from_millis(1)))).map_err(setup)?;
        stream.set_write_timeout(Some(cfg.write_timeout.max(Duration::from_millis(1)))).map_err(setup)?;
        let closer = stream.try_clone().map_err(setup)?;
        let deadline = ctx.deadline();
        let handshake_failed = |what: &str, e: io::Error| {
            if ctx.is_cancelled() {
                ctx.cancelled_failure()
            } else {
                ConnFailure::io(SocketFailKind::ConnectFailed, &format!("{}: {what}", self.url()), &e)
            }
        };
        let tls = match tls_config {
            Some(config) => {
                let name = ServerName::try_from(self.host.clone()).map_err(|e| {
                    ConnFailure::socket(SocketFailKind::GetHostByNameWrong, format!("{}: server name: {e}", self.host))
                })?;
                let client = rustls::ClientConnection::new(config, name)
                    .map_err(|e| ConnFailure::socket(SocketFailKind::ConnectFailed, format!("TLS setup: {e}")))?;
                let mut conn = rustls::Connection::Client(client);
                wsnet::tls_handshake(&mut stream, &mut conn, deadline, &|| ctx.is_cancelled())
                    .map_err(|e| handshake_failed("TLS handshake", e))?;
                Some(conn)
            }
            None => None,
        };
        let (read_side, write_side) = wsnet::split(stream, tls).map_err(setup)?;
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_message_size));
        let mut attempt = tungstenite::client::client_with_config(self.url(), read_side, Some(ws_config));
        let reader = loop {
            match attempt {
                Ok((ws, _response)) => break ws,
                Err(HandshakeError::Interrupted(mid)) => {
                    if ctx.is_cancelled() {
                        return Err(ctx.cancelled_failure());
                    }
                    if Instant::now() >= deadline {
                        return Err(handshake_failed(
                            "WebSocket handshake",
                            io::Error::new(io::ErrorKind::TimedOut, "timed out"),
                        ));
                    }
                    attempt = mid.handshake();
                }
                // An HTTP answer other than 101: the server refused the upgrade.
                Err(HandshakeError::Failure(tungstenite::Error::Http(rsp))) => {
                    let status = rsp.status();
                    return Err(ConnFailure::rejected(
                        i32::from(status.as_u16()),
                        format!("{}: WebSocket upgrade refused: HTTP {status}", self.url()),
                    ));
                }
                Err(HandshakeError::Failure(e)) => {
                    return Err(handshake_failed("WebSocket handshake", wsnet::ws_io_error(e)))
                }
            }
        };
        let sender = Arc::new(WsSender {
            ws: Mutex::new(wsnet::write_socket(write_side, Role::Client, ws_config)),
            closer,
            closed: AtomicBool::new(false),
        });
        let mut receiver = WsReceiver { ws: reader };
        let info = self.login(ctx, &sender, &mut receiver)?;
        Ok(Link { info, sender, receiver: Box::new(receiver) })
    }
}

impl WsTransport {
    /// Sends Init and waits for its reply.
    fn login(&self, ctx: &OpenContext, sender: &WsSender, receiver: &mut WsReceiver) -> Result<InitInfo, ConnFailure> {
        let cfg = ctx.config();
        let req = init_web_socket::Request {
            c2s: Some(init_web_socket::C2s {
                websocket_key: Some(key_md5_hex(&self.key)),
                client_id: Some(cfg.client_id.clone()),
                programming_language: Some(cfg.programming_language.clone()),
                ..Default::default()
            }),
        };
        let serial = ctx.next_serial();
        sender
            .send(CMD_INIT, serial, true, &mut |buf| req.encode_raw(buf))
            .map_err(|e| ConnFailure::init(InitFailKind::SendFailed, format!("sending the WebSocket Init: {e}")))?;
        // A login timeout beyond what an Instant holds means "no timeout".
        let deadline = Instant::now().checked_add(self.login_timeout);
        loop {
            if ctx.is_cancelled() {
                return Err(ctx.cancelled_failure());
            }
            match receiver.next() {
                Ok(Got::Packet(h, body)) if h.cmd == CMD_INIT && h.section == u64::from(serial) => {
                    if h.error != 0 {
                        let msg = format!("WebSocket Init refused: {}", h.errmsg_text());
                        return Err(ConnFailure::rejected(h.error, msg));
                    }
                    return self.login_reply(&body);
                }
                Ok(Got::Packet(h, _)) => {
                    log::debug!("ignoring cmd {} section {} before the WebSocket Init reply", h.cmd, h.section);
                }
                Ok(Got::Alive | Got::Pong | Got::Idle) => {}
                Err(f) => {
                    return Err(ConnFailure::init(
                        InitFailKind::Disconnected,
                        format!("connection lost during the WebSocket Init: {}", f.message()),
                    ))
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(ConnFailure::init(
                    InitFailKind::Timeout,
                    format!(
                        "no reply to the WebSocket Init within {:?} (OpenD does not answer a wrong key)",
                        self.login_timeout
                    ),
                ));
            }
        }
    }

    fn login_reply(&self, body: &[u8]) -> Result<InitInfo, ConnFailure> {
        let rsp = decode_body::<init_web_socket::Response>(body)
            .map_err(|e| ConnFailure::init(InitFailKind::Unknown, format!("WebSocket Init reply unreadable: {e}")))?;
        if rsp.ret_type != 0 {
            return Err(ConnFailure::rejected(rsp.ret_type, rsp.ret_msg.unwrap_or_default()));
        }
        // A success reply without what a session needs is a refused login.
        let refused = |what: &str| ConnFailure::init(InitFailKind::Unknown, format!("WebSocket Init succeeded {what}"));
        let s2c = rsp.s2c.ok_or_else(|| refused("but carried no s2c"))?;
        let conn_id = match s2c.conn_id {
            None => return Err(refused("but carried no connID")),
            Some(0) => return Err(refused("with connID 0")),
            Some(id) => id,
        };
        let mut info = InitInfo::new(conn_id);
        info.liveness = if self.ping_interval.is_zero() {
            Liveness::None
        } else {
            Liveness::Ping { every: self.ping_interval, dead_after: self.dead_after.max(self.ping_interval) }
        };
        Ok(info)
    }
}

/// The sending side: the writers' WebSocket behind a lock.
struct WsSender {
    ws: Mutex<WebSocket<WriteSide>>,
    closer: TcpStream,
    closed: AtomicBool,
}

impl WsSender {
    fn write(ws: &mut WebSocket<WriteSide>, msg: Message) -> io::Result<()> {
        ws.send(msg).map_err(wsnet::ws_io_error)
    }
}

impl PacketSender for WsSender {
    fn send(
        &self,
        proto_id: u32,
        serial: u32,
        sensitive: bool,
        encode: &mut dyn FnMut(&mut Vec<u8>),
    ) -> io::Result<()> {
        let msg = encode_request_with(proto_id, u64::from(serial), encode);
        let payload = if sensitive {
            // The buffer is zeroed when tungstenite drops the payload.
            tungstenite::Bytes::from_owner(Zeroizing::new(msg))
        } else {
            tungstenite::Bytes::from(msg)
        };
        Self::write(&mut self.ws.lock(), Message::Binary(payload))
    }

    fn try_send(&self, proto_id: u32, serial: u32, encode: &mut dyn FnMut(&mut Vec<u8>)) -> Option<io::Result<()>> {
        let mut ws = self.ws.try_lock()?;
        let msg = encode_request_with(proto_id, u64::from(serial), encode);
        Some(Self::write(&mut ws, Message::Binary(msg.into())))
    }

    fn ping(&self) -> Option<io::Result<()>> {
        let mut ws = self.ws.try_lock()?;
        Some(Self::write(&mut ws, Message::Ping(tungstenite::Bytes::new())))
    }

    fn shutdown(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        // A Close frame if nobody is writing; never wait long for it.
        if let Some(mut ws) = self.ws.try_lock() {
            let _ = self.closer.set_write_timeout(Some(Duration::from_millis(50)));
            let _ = ws.close(None);
            let _ = ws.flush();
        }
        let _ = self.closer.shutdown(std::net::Shutdown::Both);
    }
}

/// The receiving side: the reader's WebSocket.
struct WsReceiver {
    ws: WebSocket<ReadSide>,
}

/// What one read produced.
enum Got {
    /// A whole packet: its header and body.
    Packet(WsReplyHeader, Vec<u8>),
    /// A pong: an answer to our ping.
    Pong,
    /// A ping or a text message: not an answer to anything of ours.
    Alive,
    /// Nothing within one tick.
    Idle,
}

impl WsReceiver {
    fn next(&mut self) -> Result<Got, ConnFailure> {
        let lost = |what: String| ConnFailure::socket(SocketFailKind::RecvFailed, what);
        match self.ws.read() {
            Ok(Message::Binary(data)) => {
                let (h, body) = decode_reply(&data).map_err(|e| lost(format!("corrupt data from OpenD: {e}")))?;
                Ok(Got::Packet(h, body.to_vec()))
            }
            Ok(Message::Close(frame)) => {
                let why = frame.map(|f| format!(" ({} {})", u16::from(f.code), f.reason)).unwrap_or_default();
                Err(lost(format!("OpenD closed the WebSocket{why}")))
            }
            Ok(Message::Pong(_)) => Ok(Got::Pong),
            // Text is not part of the protocol; a ping is answered by tungstenite.
            Ok(_) => Ok(Got::Alive),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(Got::Idle)
            }
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                Err(lost("the WebSocket is closed".into()))
            }
            Err(tungstenite::Error::Io(e)) => Err(ConnFailure::io(SocketFailKind::RecvFailed, "connection lost", &e)),
            Err(e) => Err(lost(format!("WebSocket error: {e}"))),
        }
    }
}

impl PacketReceiver for WsReceiver {
    fn recv(&mut self) -> Result<Incoming, ConnFailure> {
        let (h, body) = match self.next()? {
            Got::Packet(h, body) => (h, body),
            Got::Alive => return Ok(Incoming::Alive),
            Got::Pong => return Ok(Incoming::Pong),
            Got::Idle => return Ok(Incoming::Idle),
        };
        if h.cmd == CMD_OPEND_DISCONNECT {
            return Err(ConnFailure::socket(
                SocketFailKind::RecvFailed,
                "OpenD's WebSocket service lost its link to OpenD",
            ));
        }
        // Serials are 32-bit here; a section beyond that answers nothing of ours.
        let serial = u32::try_from(h.section).unwrap_or(0);
        if h.error != 0 {
            // A refusal by OpenD's WebSocket service, not a socket failure.
            let error = Error::Server {
                proto_id: h.cmd,
                ret_type: crate::error::ret_type::FAILED,
                ret_msg: format!("OpenD's WebSocket service reported error {}: {}", h.error, h.errmsg_text()),
                err_code: h.error,
            };
            return Ok(Incoming::Failed { proto_id: h.cmd, serial, error });
        }
        Ok(Incoming::Packet { proto_id: h.cmd, serial, body })
    }
}

/// The explicit "insecure" mode: any certificate is accepted, but the handshake
/// signatures are still verified with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
