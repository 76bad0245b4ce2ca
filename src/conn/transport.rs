//! The transport seam: how packets reach OpenD and come back.
//!
//! The connection core (serial numbers, pending requests, timeouts, liveness, push
//! routing, teardown) is the same for every transport. A transport only has to:
//!
//! 1. **open** a link ([`Transport::open`]): connect, run its own login or handshake
//!    (InitConnect on TCP, the Init message on WebSocket), and report what it learnt as
//!    [`InitInfo`] (connection id, login user id, the [`Liveness`] policy). Opening runs
//!    on the connection's I/O thread and must give up promptly once
//!    [`OpenContext::is_cancelled`] turns true; [`OpenContext::tcp_connect`] and
//!    [`OpenContext::on_cancel`] make that easy;
//! 2. **send** packets `(proto_id, serial, body)` from any thread ([`PacketSender`]);
//! 3. **receive** packets, waiting at most one tick per call, on the I/O thread alone
//!    ([`PacketReceiver`]);
//! 4. **shut down** from another thread, waking a blocked receiver
//!    ([`PacketSender::shutdown`]).
//!
//! Implementations: [`TcpTransport`](super::TcpTransport) (OpenD's TCP API port: 44-byte header, SHA-1,
//! RSA/AES, InitConnect, KeepAlive) and [`MemoryTransport`](super::memory::MemoryTransport)
//! (no socket: a scripted peer, for tests and fuzzing), and
//! [`WsTransport`](super::ws::WsTransport) (OpenD's WebSocket port: ws/wss, the Init login,
//! WebSocket pings).

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::failure::{ConnFailure, SocketFailKind};
use super::ConnConfig;
use crate::codec::AesMode;
use crate::error::Error;

/// What a transport's login told the core.
///
/// Construct it with [`InitInfo::new`] and set the other fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InitInfo {
    /// OpenD's connection id (also the `connID` of every `Common.PacketID`).
    pub conn_id: u64,
    /// The user logged into OpenD (0 if the transport's login does not say).
    pub login_user_id: u64,
    /// OpenD's version (0 if unknown).
    pub server_ver: i32,
    /// OpenD's keepalive interval in seconds (0 if the transport has none).
    pub keepalive_interval: i32,
    /// The AES mode in use, `None` for a plain connection.
    pub aes_mode: Option<AesMode>,
    /// `userAttribution` if OpenD sent it.
    pub user_attribution: Option<i32>,
    /// How the core keeps the link alive and detects a dead one.
    pub liveness: Liveness,
}

impl InitInfo {
    /// Login results with only the connection id set (no liveness checking).
    pub fn new(conn_id: u64) -> InitInfo {
        InitInfo {
            conn_id,
            login_user_id: 0,
            server_ver: 0,
            keepalive_interval: 0,
            aes_mode: None,
            user_attribution: None,
            liveness: Liveness::None,
        }
    }
}

/// How the core keeps a link alive and detects a dead one. Liveness is an answer to
/// our own keepalive or ping within `dead_after`: a KeepAlive (1004) reply, or
/// [`Incoming::Pong`]. Other traffic does not count (a peer that sends pushes but never
/// answers is dead), and neither does time spent in user callbacks: the time the I/O
/// thread itself did not read (waiting at the push queue's bound) restarts the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Liveness {
    /// The core sends OpenD's KeepAlive request (1004) every `every`, and declares the
    /// link dead when no KeepAlive reply came for `dead_after` (TCP).
    KeepAlive {
        /// Interval between KeepAlive requests.
        every: Duration,
        /// Silence after which the link is dead.
        dead_after: Duration,
    },
    /// The core calls [`PacketSender::ping`] every `every` (e.g. WebSocket pings), and
    /// declares the link dead when no [`Incoming::Pong`] came for `dead_after`.
    Ping {
        /// Interval between pings.
        every: Duration,
        /// Silence after which the link is dead.
        dead_after: Duration,
    },
    /// No keepalive and no dead-link detection.
    None,
}

/// What [`PacketReceiver::recv`] produced.
#[derive(Debug)]
#[non_exhaustive]
pub enum Incoming {
    /// A whole packet with its plaintext body.
    Packet {
        /// Protocol id.
        proto_id: u32,
        /// Serial number (echoes the request's; pushes carry whatever OpenD sent).
        serial: u32,
        /// Plaintext protobuf body.
        body: Vec<u8>,
    },
    /// A whole packet that could not be opened (decryption, checksum), or a reply the
    /// transport itself reports as failed. The link is still usable: the core answers the
    /// request `(proto_id, serial)` with `error` (a push is dropped).
    Failed {
        /// Protocol id.
        proto_id: u32,
        /// Serial number.
        serial: u32,
        /// What was wrong.
        error: Error,
    },
    /// An answer to [`PacketSender::ping`] (a WebSocket pong): the link is alive
    /// ([`Liveness::Ping`]).
    Pong,
    /// Bytes arrived but no whole packet yet, or a control message that answers
    /// nothing of ours. It does not count as liveness.
    Alive,
    /// Nothing arrived within one tick.
    Idle,
}

/// The sending side of an open link, shared by every thread that sends.
pub trait PacketSender: Send + Sync {
    /// Frames and writes one packet. `encode` appends the plaintext protobuf body to the
    /// buffer it is given. With `sensitive`, every buffer that held the body is zeroed
    /// afterwards (the request carries a secret).
    fn send(&self, proto_id: u32, serial: u32, sensitive: bool, encode: &mut dyn FnMut(&mut Vec<u8>))
        -> io::Result<()>;

    /// Like `send`, but only if no other thread is writing right now: `None` instead of
    /// waiting. The core sends KeepAlive this way so that its I/O thread never waits for
    /// another thread's slow write.
    fn try_send(&self, proto_id: u32, serial: u32, encode: &mut dyn FnMut(&mut Vec<u8>)) -> Option<io::Result<()>>;

    /// A transport-level ping, for [`Liveness::Ping`]; `None` if a write is in progress
    /// (the core tries again on the next tick). Its answer is reported by the receiver
    /// as [`Incoming::Pong`]. The default does nothing.
    fn ping(&self) -> Option<io::Result<()>> {
        Some(Ok(()))
    }

    /// Closes the link in both directions, from any thread. A receiver blocked in
    /// [`PacketReceiver::recv`] must return promptly (with an error or end of stream).
    fn shutdown(&self);
}

/// The receiving side of an open link, owned by the connection's I/O thread.
pub trait PacketReceiver: Send {
    /// Waits up to the configured tick ([`ConnConfig::tick`]) for the next packet. `Err`
    /// ends the link for good (peer closed, socket error, a stream out of sync).
    fn recv(&mut self) -> Result<Incoming, ConnFailure>;

    /// Appends to `out` everything that can be had with at most one wait of one tick:
    /// a transport that reads in chunks returns every whole packet of a chunk at once,
    /// so the core handles them as one batch (one clock reading, one hand-off to the
    /// callback thread). `Err` ends the link, after the packets already appended. The
    /// default calls [`recv`](Self::recv) once.
    fn recv_batch(&mut self, out: &mut Vec<Incoming>) -> Result<(), ConnFailure> {
        out.push(self.recv()?);
        Ok(())
    }
}

/// An open, logged-in link.
pub struct Link {
    /// What the login said.
    pub info: InitInfo,
    /// The sending side.
    pub sender: Arc<dyn PacketSender>,
    /// The receiving side.
    pub receiver: Box<dyn PacketReceiver>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("info", &self.info).finish_non_exhaustive()
    }
}

/// A way to reach OpenD: one value opens one link.
///
/// [`TrdApi::init_connect_with`](crate::TrdApi::init_connect_with) takes any transport.
/// The connection core (serial numbers, pending requests, timeouts, liveness, push
/// routing, teardown) is the same for every transport; a transport only has to:
///
/// 1. **open** a link ([`Transport::open`]): connect, run its own login or handshake
///    (InitConnect on TCP, the Init message on WebSocket), and report what it learnt as
///    [`InitInfo`] (connection id, login user id, the [`Liveness`] policy). Opening runs
///    on the connection's I/O thread, bounds its connect (and TLS/WebSocket handshake) by
///    [`OpenContext::deadline`] (the connect timeout), and must give up promptly once
///    [`OpenContext::is_cancelled`] turns true. A transport may bound its login by its
///    own timeout: the WebSocket transport waits up to its `login_timeout` (20 s by
///    default) for the Init reply after the handshake;
///    [`OpenContext::tcp_connect`] and [`OpenContext::on_cancel`] make that easy;
///    failures are a [`ConnFailure`] with the official failure kind;
/// 2. **send** packets `(proto_id, serial, body)` from any thread ([`PacketSender`]);
/// 3. **receive** packets, waiting at most one tick per call, on the I/O thread alone
///    ([`PacketReceiver`]);
/// 4. **shut down** from another thread, waking a blocked receiver
///    ([`PacketSender::shutdown`]).
///
/// Implementations: [`TcpTransport`](super::TcpTransport) and
/// [`MemoryTransport`](crate::conn::memory::MemoryTransport).
pub trait Transport: Send + 'static {
    /// Where it connects, for messages (e.g. `127.0.0.1:11111`).
    fn peer(&self) -> String;

    /// Connects and logs in, on the connection's I/O thread. The connect is bounded by
    /// [`OpenContext::deadline`], the login by it or by the transport's own login timeout;
    /// returns promptly once [`OpenContext::is_cancelled`].
    fn open(self: Box<Self>, ctx: &OpenContext) -> Result<Link, ConnFailure>;
}

/// The serial number counter of one API object: it keeps counting across connections,
/// so a number is never reused (0 is skipped).
#[derive(Debug)]
pub(crate) struct Serials(AtomicU32);

impl Default for Serials {
    fn default() -> Self {
        Serials(AtomicU32::new(1))
    }
}

impl Serials {
    /// Makes the next number `n` (tests of wrapping).
    #[cfg(test)]
    pub(crate) fn set_next(&self, n: u32) {
        self.0.store(n, Ordering::Relaxed);
    }

    pub(crate) fn next(&self) -> u32 {
        loop {
            let s = self.0.fetch_add(1, Ordering::Relaxed);
            if s != 0 {
                return s;
            }
        }
    }
}

type Canceller = Box<dyn FnOnce() + Send>;

/// Cancellation of an open in progress: a flag and the actions that wake it.
#[derive(Default)]
pub(crate) struct Cancel {
    flag: AtomicBool,
    actions: Mutex<Vec<Canceller>>,
}

impl Cancel {
    pub(crate) fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Sets the flag and runs every registered action (once).
    pub(crate) fn fire(&self) {
        self.flag.store(true, Ordering::Release);
        let actions: Vec<Canceller> = std::mem::take(&mut *self.actions.lock());
        for a in actions {
            a();
        }
    }

    fn register(&self, action: Canceller) {
        let mut actions = self.actions.lock();
        if self.is_set() {
            drop(actions);
            action();
        } else {
            actions.push(action);
        }
    }

    /// Drops the registered actions (the open finished).
    pub(crate) fn clear(&self) {
        self.actions.lock().clear();
    }
}

/// What a transport gets while opening a link.
pub struct OpenContext {
    pub(crate) config: ConnConfig,
    pub(crate) cancel: Arc<Cancel>,
    pub(crate) serials: Arc<Serials>,
    pub(crate) deadline: Instant,
}

impl std::fmt::Debug for OpenContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenContext").field("cancelled", &self.is_cancelled()).finish_non_exhaustive()
    }
}

/// How often a cancellable wait checks for cancellation.
const CANCEL_SLICE: Duration = Duration::from_millis(10);

impl OpenContext {
    /// The connection settings.
    pub fn config(&self) -> &ConnConfig {
        &self.config
    }

    /// Whether the user closed the connection: stop and return any error.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_set()
    }

    /// When opening must have finished (start + [`ConnConfig::connect_timeout`]).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The next serial number, for a login request.
    pub fn next_serial(&self) -> u32 {
        self.serials.next()
    }

    /// Registers an action run once if the open is cancelled (at once if it already
    /// is), e.g. shutting down the socket a handshake is blocked on. Actions are
    /// dropped when the open returns.
    pub fn on_cancel(&self, action: impl FnOnce() + Send + 'static) {
        self.cancel.register(Box::new(action));
    }

    /// The failure to return when [`is_cancelled`](Self::is_cancelled).
    pub fn cancelled_failure(&self) -> ConnFailure {
        ConnFailure::socket(SocketFailKind::ConnectFailed, "closed by the user while connecting")
    }

    /// Resolves `host` and connects a TCP stream to `host:port` within `timeout` (each
    /// address in turn), returning promptly if the open is cancelled meanwhile. The
    /// stream is shut down if the open is cancelled later. Name resolution and the
    /// connect run on a short-lived helper thread, so a cancelled open never waits for
    /// an unreachable host; the helper ends on its own within `timeout`.
    pub fn tcp_connect(&self, host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ConnFailure> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let host_owned = host.to_string();
        std::thread::Builder::new()
            .name("ftapi-connect".into())
            .spawn(move || {
                let _ = tx.send(connect_any(&host_owned, port, timeout));
            })
            .map_err(|e| ConnFailure::io(SocketFailKind::CreateFailed, "cannot start the connect thread", &e))?;
        let stream = loop {
            if self.is_cancelled() {
                return Err(self.cancelled_failure());
            }
            match rx.recv_timeout(CANCEL_SLICE) {
                Ok(r) => break r.map_err(|f| f.context(&format!("{host}:{port}")))?,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(ConnFailure::socket(SocketFailKind::Unknown, "the connect thread ended"))
                }
            }
        };
        if let Ok(clone) = stream.try_clone() {
            self.on_cancel(move || {
                let _ = clone.shutdown(std::net::Shutdown::Both);
            });
        }
        if self.is_cancelled() {
            return Err(self.cancelled_failure());
        }
        Ok(stream)
    }
}

fn connect_any(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ConnFailure> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| ConnFailure::io(SocketFailKind::GetHostByNameFailed, "cannot resolve the host", &e))?
        .collect();
    let deadline = super::deadline::deadline_after(timeout);
    let mut last = ConnFailure::socket(SocketFailKind::GetHostByNameWrong, "the host has no address");
    for addr in addrs {
        let left =
            deadline.map_or(timeout, |d| d.saturating_duration_since(Instant::now())).max(Duration::from_millis(1));
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) => last = ConnFailure::io(SocketFailKind::ConnectFailed, "", &e),
        }
    }
    Err(last)
}
