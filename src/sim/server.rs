//! The simulator's server: the TCP accept loop (the WebSocket one is in `ws.rs`), the
//! watchdog that closes overdue connections, `SimServerBuilder::start`, and the
//! test-facing controls (faults, kills, pushes, statistics). The shared state and the
//! registry of live connections are in `core.rs`.
//!
//! What a session does with each packet (details in `session.rs`):
//!
//! | Situation | Answer |
//! |---|---|
//! | anything but InitConnect before a successful InitConnect | plain retType -1 "InitConnect required first" |
//! | InitConnect whose raw body matches the header SHA-1 | decoded as plain |
//! | InitConnect whose RSA-decrypted body matches (server has a key) | decoded as RSA |
//! | InitConnect that is neither | plain retType -1 "InitConnect could not be decoded (...)" |
//! | InitConnect reply | RSA iff the request was RSA and `packetEncAlgo != -1`, else plain |
//! | later bodies | AES (the server's [`crate::codec::AesMode`]) iff the server has a key and `packetEncAlgo` is present and not -1 (absent counts as "encrypt" only for an RSA request), else plain |
//! | KeepAlive (1004) | server time; counted per connection |
//! | GetGlobalState (1002) | fixed market states, logged in, ProgramStatus Ready, the connID |
//! | a second InitConnect | retType -1 "InitConnect already done on this connection" |
//! | any other id | the [`TradeHandler`], then the [`QuoteHandler`] if it declined; neither gives retType -1 "unknown protocol id N" |
//! | a `Qot_*` id (3000-3999) or 1005-1009 the market data does not model | retType -1 "opend-sim does not serve Qot_X (proto N): ..." |
//! | JSON bodies (format byte 1) | retType -1 (protobuf only) |
//! | bad magic, body over the limit, SHA-1 mismatch, undecryptable body | that connection is closed and logged |
//!
//! Replies echo the request's protocol id and serial number; pushes carry a
//! per-connection serial counter starting at 1.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::pb::notify;

use super::config::{SimConfig, SimServerBuilder};
use super::core::{Admission, Core, Overdue};
use super::faults::FaultPlan;
use super::flood::PushFlood;
use super::quote_flood::{BothFloods, QuoteFlood};
use super::session::{notify_body, Reader, ReplyHook, Session, SessionInfo};
use super::ws::WsListener;
use super::{QuoteHandler, TradeHandler};

/// How often the watchdog looks for overdue connections.
const WATCH_TICK: Duration = Duration::from_millis(100);

/// Server-wide totals since start (a snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimStats {
    /// Connections accepted (both ports; refused ones not counted).
    pub connections_accepted: u64,
    /// Connections refused because [`SimConfig::max_connections`] were open.
    pub connections_refused: u64,
    /// Connections currently open.
    pub connections_live: usize,
    /// InitConnects that initialized a session.
    pub init_connects_ok: u64,
    /// KeepAlive requests received on initialized sessions.
    pub keepalives_received: u64,
    /// Requests received after InitConnect (KeepAlive, GetGlobalState, `Trd_*`, ...).
    pub requests_received: u64,
    /// Pushes sent (queued for writing; including Notify and floods).
    pub pushes_sent: u64,
    /// Connections closed because the client sent malformed input.
    pub malformed_closed: u64,
    /// Connections closed because the client did not read: its outgoing queue went
    /// over [`SimConfig::out_queue_bytes`], or a write did not finish within
    /// [`SimConfig::write_timeout`].
    pub slow_closed: u64,
}

/// The TCP accept loop: admits up to `max_connections`, one session each.
fn accept_loop(core: Arc<Core>, listener: TcpListener, hook: Option<Arc<dyn ReplyHook>>) {
    for conn in listener.incoming() {
        if core.is_stopping() {
            break;
        }
        match conn {
            Ok(stream) => match core.admit() {
                Some(place) => spawn_session(&core, stream, place, &hook),
                None => {
                    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                    log::warn!(
                        "opend-sim: connection from {peer} refused: {} connections are open (the limit)",
                        core.config.max_connections
                    );
                }
            },
            Err(e) => {
                log::warn!("opend-sim: accept failed: {e}");
                // Out of file descriptors and the like: do not spin.
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    log::debug!("opend-sim: accept loop stopped");
}

/// Starts the reader and writer threads of one TCP connection.
fn spawn_session(core: &Arc<Core>, stream: TcpStream, place: Admission, hook: &Option<Arc<dyn ReplyHook>>) {
    let conn_id = core.next_conn_id();
    let (sess, reader) = match Session::new(conn_id, stream, core) {
        Ok(x) => x,
        Err(e) => {
            log::warn!("opend-sim: conn {conn_id}: could not set up the socket: {e}");
            return;
        }
    };
    core.register(sess.clone());
    let reader = Reader::new(sess.clone(), reader, core.clone(), hook.clone());
    let spawned = std::thread::Builder::new().name(format!("opend-sim-conn-{conn_id}")).spawn(move || {
        reader.run();
        drop(place);
    });
    match spawned {
        Ok(handle) => core.track_thread(handle),
        Err(e) => {
            log::warn!("opend-sim: conn {conn_id}: could not start its thread: {e}");
            sess.close("no thread");
            core.unregister(conn_id);
            return;
        }
    }
    let s = sess.clone();
    match std::thread::Builder::new().name(format!("opend-sim-conn-w-{conn_id}")).spawn(move || s.run_writer()) {
        Ok(handle) => core.track_thread(handle),
        Err(e) => {
            log::warn!("opend-sim: conn {conn_id}: could not start its writer thread: {e}");
            sess.close("no writer thread");
        }
    }
}

/// The watchdog: closes, with a log line, every connection that is overdue (a write
/// past the write timeout, a WebSocket not logged in in time).
fn watch_loop(core: Arc<Core>) {
    while !core.is_stopping() {
        std::thread::sleep(WATCH_TICK);
        let now = Instant::now();
        for conn in core.live() {
            if let Some(why) = conn.overdue(now) {
                log::warn!("opend-sim: conn {}: {why}; closing it", conn.conn_id());
                if matches!(why, Overdue::Write(_)) {
                    core.counters.slow_closed.fetch_add(1, Ordering::Relaxed);
                }
                conn.close(&why.to_string());
            }
        }
    }
}

/// A simulated OpenD listening on TCP, speaking OpenD's protocol (InitConnect with
/// optional RSA, AES-CBC or FTAES-ECB bodies, KeepAlive, GetGlobalState, Notify pushes)
/// and handing every other request to a [`TradeHandler`].
///
/// Two threads per connection, a reader and a writer, and a bounded outgoing queue
/// (`outbox.rs`): the handlers push from any thread without ever waiting for a socket,
/// so a client that does not read delays nobody else; it is closed when its queue
/// overflows or a write to it misses the write timeout (a watchdog thread checks).
/// At most [`SimConfig::max_connections`] connections (both ports) are served; more
/// are refused. Dropping the server (or
/// [`SimServer::shutdown`]) stops accepting, closes every connection and joins every
/// thread.
///
/// ```
/// use ftapi::sim::SimServer;
/// let server = SimServer::builder().port(0).start().unwrap();
/// assert!(server.local_addr().port() != 0);
/// assert_eq!(server.connection_count(), 0);
/// server.shutdown();
/// ```
pub struct SimServer {
    core: Arc<Core>,
    local_addr: SocketAddr,
    accept: Mutex<Option<JoinHandle<()>>>,
    watch: Mutex<Option<JoinHandle<()>>>,
    ws_addr: Option<SocketAddr>,
    ws_accept: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl SimServer {
    /// A builder with OpenD's defaults (127.0.0.1:11111, no RSA key, CBC, keep-alive 10 s).
    pub fn builder() -> SimServerBuilder {
        SimServerBuilder::new()
    }

    fn start(b: SimServerBuilder) -> io::Result<SimServer> {
        let SimServerBuilder { config, handler, faults, prices, quote, quote_config, .. } = b;
        let quote: Option<Arc<dyn QuoteHandler>> = match quote {
            None => None,
            Some(Some(q)) => Some(q),
            Some(None) => Some(Arc::new(super::market::default_for(prices, quote_config)?)),
        };
        let listener = TcpListener::bind(SocketAddr::new(config.ip, config.port))?;
        let local_addr = listener.local_addr()?;
        let ws_listener = match &config.websocket {
            Some(ws) => Some(WsListener::bind(config.ip, ws)?),
            None => None,
        };
        let ws_addr = match &ws_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let hook = match (
            PushFlood::hook(config.push_flood, handler.clone()),
            QuoteFlood::hook(config.quote_flood, quote.clone()),
        ) {
            (Some(a), Some(b)) => Some(Arc::new(BothFloods(a, b)) as Arc<dyn super::session::ReplyHook>),
            (a, b) => a.or(b),
        };
        let core = Arc::new(Core::new(config, handler, quote, faults));
        let c = core.clone();
        let accept = std::thread::Builder::new()
            .name("opend-sim-accept".into())
            .spawn(move || accept_loop(c, listener, hook))?;
        log::info!("opend-sim: listening on {local_addr}");
        let c = core.clone();
        let watch = std::thread::Builder::new().name("opend-sim-watch".into()).spawn(move || watch_loop(c))?;
        let ws_accept = match ws_listener {
            Some(l) => {
                let c = core.clone();
                let handle =
                    std::thread::Builder::new().name("opend-sim-ws-accept".into()).spawn(move || l.accept_loop(c))?;
                log::info!("opend-sim: WebSocket on {}", ws_addr.map(|a| a.to_string()).unwrap_or_default());
                Some(handle)
            }
            None => None,
        };
        Ok(SimServer {
            core,
            local_addr,
            accept: Mutex::new(Some(accept)),
            watch: Mutex::new(Some(watch)),
            ws_addr,
            ws_accept: Mutex::new(ws_accept),
        })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the WebSocket port, if the server has one
    /// ([`SimServerBuilder::websocket`]).
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.ws_addr
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &SimConfig {
        &self.core.config
    }

    /// The market clock GetGlobalState reports from: the trade handler's if it has one,
    /// else the configuration's (`SimServerBuilder::clock`).
    pub fn market_clock(&self) -> super::calendar::MarketClock {
        self.core.handler.as_ref().and_then(|h| h.market_clock()).unwrap_or(self.core.config.clock)
    }

    /// Replaces the fault plan; applies to packets sent from now on.
    pub fn set_faults(&self, plan: FaultPlan) {
        *self.core.faults.lock() = plan;
    }

    /// Edits the fault plan in place (e.g. to add one rule).
    pub fn update_faults(&self, edit: impl FnOnce(&mut FaultPlan)) {
        edit(&mut self.core.faults.lock());
    }

    /// The current fault plan (rules with a `times` count show what is left).
    pub fn faults(&self) -> FaultPlan {
        self.core.faults.lock().clone()
    }

    /// Closes every live connection (as a crashed or restarted OpenD would). Returns
    /// how many were closed. New connections are still accepted.
    pub fn kill_connections(&self) -> usize {
        let live = self.core.live();
        for s in &live {
            s.close("killed by kill_connections");
        }
        live.len()
    }

    /// Closes one connection. `false` if it is not live.
    pub fn kill_connection(&self, conn_id: u64) -> bool {
        match self.core.conn(conn_id) {
            Some(s) => {
                s.close("killed by kill_connection");
                true
            }
            None => false,
        }
    }

    /// Connections currently open (initialized or not), on both ports.
    pub fn connection_count(&self) -> usize {
        self.core.live_count()
    }

    /// Snapshots of the live connections of both ports, ordered by connection id (a
    /// WebSocket session counts as initialized once its Init succeeded).
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let mut v: Vec<SessionInfo> = self.core.live().iter().map(|s| s.info()).collect();
        v.sort_by_key(|s| s.conn_id);
        v
    }

    /// Server-wide counters.
    pub fn stats(&self) -> SimStats {
        let c = &self.core.counters;
        SimStats {
            connections_accepted: c.accepted.load(Ordering::Relaxed),
            connections_refused: c.refused.load(Ordering::Relaxed),
            connections_live: self.connection_count(),
            init_connects_ok: c.init_ok.load(Ordering::Relaxed),
            keepalives_received: c.keepalives.load(Ordering::Relaxed),
            requests_received: c.requests.load(Ordering::Relaxed),
            pushes_sent: c.pushes.load(Ordering::Relaxed),
            malformed_closed: c.malformed.load(Ordering::Relaxed),
            slow_closed: c.slow_closed.load(Ordering::Relaxed),
        }
    }

    /// KeepAlive requests received so far, over all connections.
    pub fn keepalives_received(&self) -> u64 {
        self.core.counters.keepalives.load(Ordering::Relaxed)
    }

    /// Sends a Notify (1003) push to every initialized connection whose InitConnect
    /// had `recvNotify = true`. Returns how many connections it was written to.
    pub fn push_notify(&self, s2c: notify::S2c) -> usize {
        let body = notify_body(s2c);
        self.core.live().iter().filter(|s| s.push_notify(&body)).count()
    }

    /// Convenience for [`SimServer::push_notify`] with a `GtwEvent`
    /// (`Notify.GtwEventType`, e.g. 14 = TradePwdChanged).
    pub fn push_gtw_event(&self, event_type: i32, desc: &str) -> usize {
        self.push_notify(notify::S2c {
            r#type: notify::NotifyType::GtwEvent as i32,
            event: Some(notify::GtwEvent { event_type, desc: desc.to_owned() }),
            ..Default::default()
        })
    }

    /// Sends one push (plaintext protobuf `Response` body) to one initialized
    /// connection. `false` if it is not live or not initialized.
    pub fn push(&self, conn_id: u64, proto_id: u32, plain_body: Vec<u8>) -> bool {
        self.core.conn(conn_id).is_some_and(|s| s.push(proto_id, plain_body))
    }

    /// Floods one connection (`Some(id)`) or every initialized connection (`None`)
    /// with `count` Notify pushes (ProgramStatus Ready), sent as fast as the
    /// sockets take them, ignoring `recvNotify` (TCP connections only). Returns the
    /// number sent. Runs on the caller's thread, which waits for the sockets.
    pub fn push_flood(&self, conn_id: Option<u64>, count: usize) -> usize {
        let targets = match conn_id {
            Some(id) => self.core.conn(id).into_iter().collect(),
            None => self.core.live(),
        };
        targets.iter().map(|s| s.flood(count)).sum()
    }

    /// Stops accepting, closes every connection and joins every thread. Idempotent;
    /// also run by `Drop`.
    pub fn shutdown(&self) {
        let Some(accept) = self.accept.lock().take() else {
            return;
        };
        self.core.stop();
        // Wake the blocking accept with a connection of our own.
        let wake = match self.local_addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(Ipv4Addr::LOCALHOST.into(), self.local_addr.port())
            }
            IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(Ipv6Addr::LOCALHOST.into(), self.local_addr.port())
            }
            _ => self.local_addr,
        };
        match TcpStream::connect_timeout(&wake, Duration::from_secs(2)) {
            Ok(_) => {
                let _ = accept.join();
            }
            Err(e) => {
                // Leave the accept thread behind rather than hang; it exits on the
                // next connection it sees.
                log::warn!("opend-sim: could not wake the accept loop ({e}); not joining it");
            }
        }
        if let (Some(ws_accept), Some(addr)) = (self.ws_accept.lock().take(), self.ws_addr) {
            match TcpStream::connect_timeout(&loopback_for(addr), Duration::from_secs(2)) {
                Ok(_) => {
                    let _ = ws_accept.join();
                }
                Err(e) => log::warn!("opend-sim: could not wake the WebSocket accept loop ({e}); not joining it"),
            }
        }
        if let Some(watch) = self.watch.lock().take() {
            let _ = watch.join();
        }
        for s in self.core.live() {
            s.close("server shutting down");
        }
        for t in self.core.take_threads() {
            let _ = t.join();
        }
        log::info!("opend-sim: stopped ({})", self.local_addr);
    }
}

/// Where to connect to reach a listener bound to `addr` (loopback for a wildcard).
fn loopback_for(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    }
}

impl SimServerBuilder {
    /// Binds the listener(s) and starts the accept threads.
    pub fn start(mut self) -> io::Result<SimServer> {
        if self.default_broker {
            let cfg = super::accounts::BrokerConfig {
                clock: self.config.clock.spec(),
                relaxed: self.config.relaxed,
                fill_delay_ms: self.config.fill_delay.as_millis().min(u128::from(u64::MAX)) as u64,
                ..Default::default()
            };
            let broker = super::Broker::with_clock(cfg, self.config.clock)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
            let broker = Arc::new(broker);
            self.prices = broker.clone().price_source();
            self.handler = Some(broker);
        }
        SimServer::start(self)
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
