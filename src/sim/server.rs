//! The simulator's TCP server: accept loop, the table of live sessions, and the
//! test-facing controls (faults, kills, pushes, statistics).
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

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use crate::pb::notify;

use super::config::{SimConfig, SimServerBuilder};
use super::faults::FaultPlan;
use super::session::{notify_body, Reader, Session, SessionInfo};
use super::{QuoteHandler, TradeHandler};

/// Counters shared by the server and its sessions.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) init_ok: AtomicU64,
    pub(crate) keepalives: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) pushes: AtomicU64,
    pub(crate) malformed: AtomicU64,
}

/// Server-wide totals since start (a snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimStats {
    /// TCP connections accepted.
    pub connections_accepted: u64,
    /// Connections currently open.
    pub connections_live: usize,
    /// InitConnects that initialized a session.
    pub init_connects_ok: u64,
    /// KeepAlive requests received on initialized sessions.
    pub keepalives_received: u64,
    /// Requests received after InitConnect (KeepAlive, GetGlobalState, `Trd_*`, ...).
    pub requests_received: u64,
    /// Pushes written (including Notify and floods).
    pub pushes_sent: u64,
    /// Connections closed because the client sent malformed input.
    pub malformed_closed: u64,
}

/// State shared by the server handle, the accept thread and the session readers.
pub(crate) struct Core {
    pub(crate) config: SimConfig,
    pub(crate) handler: Option<Arc<dyn TradeHandler>>,
    pub(crate) quote: Option<Arc<dyn QuoteHandler>>,
    pub(crate) faults: Arc<Mutex<FaultPlan>>,
    pub(crate) counters: Arc<Counters>,
    sessions: Mutex<HashMap<u64, Arc<Session>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_conn_id: AtomicU64,
    stopping: AtomicBool,
}

impl Core {
    pub(crate) fn remove_session(&self, conn_id: u64) {
        self.sessions.lock().remove(&conn_id);
    }

    fn live(&self) -> Vec<Arc<Session>> {
        self.sessions.lock().values().cloned().collect()
    }

    fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        for conn in listener.incoming() {
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            match conn {
                Ok(stream) => self.spawn_session(stream),
                Err(e) => {
                    log::warn!("opend-sim: accept failed: {e}");
                    // Out of file descriptors and the like: do not spin.
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        log::debug!("opend-sim: accept loop stopped");
    }

    fn spawn_session(self: &Arc<Self>, stream: TcpStream) {
        let conn_id = self.next_conn_id.fetch_add(1, Ordering::Relaxed);
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        let (sess, reader) = match Session::new(
            conn_id,
            stream,
            self.faults.clone(),
            self.counters.clone(),
            self.config.write_timeout,
        ) {
            Ok(x) => x,
            Err(e) => {
                log::warn!("opend-sim: conn {conn_id}: could not set up the socket: {e}");
                return;
            }
        };
        self.sessions.lock().insert(conn_id, sess.clone());
        let reader = Reader::new(sess.clone(), reader, self.clone());
        let spawned = std::thread::Builder::new().name(format!("opend-sim-conn-{conn_id}")).spawn(move || reader.run());
        match spawned {
            Ok(handle) => {
                let mut threads = self.threads.lock();
                threads.retain(|t| !t.is_finished());
                threads.push(handle);
            }
            Err(e) => {
                log::warn!("opend-sim: conn {conn_id}: could not start its thread: {e}");
                sess.close("no thread");
                self.remove_session(conn_id);
            }
        }
    }
}

/// A simulated OpenD listening on TCP, speaking OpenD's protocol (InitConnect with
/// optional RSA, AES-CBC or FTAES-ECB bodies, KeepAlive, GetGlobalState, Notify pushes)
/// and handing every other request to a [`TradeHandler`].
///
/// One reader thread per connection; writes go through a per-connection lock, so the
/// trade handler may push from any thread. Dropping the server (or
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

    pub(crate) fn start(b: SimServerBuilder) -> io::Result<SimServer> {
        let SimServerBuilder { config, handler, faults, prices, quote, quote_config, .. } = b;
        let quote: Option<Arc<dyn QuoteHandler>> = match quote {
            None => None,
            Some(Some(q)) => Some(q),
            Some(None) => Some(Arc::new(super::market::default_for(prices, quote_config)?)),
        };
        let listener = TcpListener::bind(SocketAddr::new(config.ip, config.port))?;
        let local_addr = listener.local_addr()?;
        let core = Arc::new(Core {
            next_conn_id: AtomicU64::new(config.first_conn_id),
            config,
            handler,
            quote,
            faults: Arc::new(Mutex::new(faults)),
            counters: Arc::default(),
            sessions: Mutex::default(),
            threads: Mutex::default(),
            stopping: AtomicBool::new(false),
        });
        let c = core.clone();
        let accept =
            std::thread::Builder::new().name("opend-sim-accept".into()).spawn(move || c.accept_loop(listener))?;
        log::info!("opend-sim: listening on {local_addr}");
        Ok(SimServer { core, local_addr, accept: Mutex::new(Some(accept)) })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
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
        let sess = self.core.sessions.lock().get(&conn_id).cloned();
        match sess {
            Some(s) => {
                s.close("killed by kill_connection");
                true
            }
            None => false,
        }
    }

    /// Connections currently open (initialized or not).
    pub fn connection_count(&self) -> usize {
        self.core.sessions.lock().len()
    }

    /// Snapshots of the live connections, ordered by connection id.
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
            connections_live: self.connection_count(),
            init_connects_ok: c.init_ok.load(Ordering::Relaxed),
            keepalives_received: c.keepalives.load(Ordering::Relaxed),
            requests_received: c.requests.load(Ordering::Relaxed),
            pushes_sent: c.pushes.load(Ordering::Relaxed),
            malformed_closed: c.malformed.load(Ordering::Relaxed),
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
        let sess = self.core.sessions.lock().get(&conn_id).cloned();
        sess.is_some_and(|s| super::PushSink::push(&*s, proto_id, plain_body))
    }

    /// Floods one connection (`Some(id)`) or every initialized connection (`None`)
    /// with `count` Notify pushes (ProgramStatus Ready), written as fast as the
    /// sockets take them, ignoring `recvNotify`. Returns the number written. Runs on
    /// the caller's thread.
    pub fn push_flood(&self, conn_id: Option<u64>, count: usize) -> usize {
        let targets: Vec<Arc<Session>> = match conn_id {
            Some(id) => self.core.sessions.lock().get(&id).cloned().into_iter().collect(),
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
        self.core.stopping.store(true, Ordering::Release);
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
        for s in self.core.live() {
            s.close("server shutting down");
        }
        let threads = std::mem::take(&mut *self.core.threads.lock());
        for t in threads {
            let _ = t.join();
        }
        log::info!("opend-sim: stopped ({})", self.local_addr);
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
