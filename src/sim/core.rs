//! The state a simulator server shares with its sessions: the configuration, the
//! trade and quote handlers, the fault plan, the counters, the registry of live
//! connections (both ports) and the connection limit.
//!
//! Both ports' sessions register here as [`Conn`] trait objects, so this file knows no
//! session type: `server.rs` (accept loop, test controls), `session.rs` (TCP), `ws.rs`
//! (WebSocket) and `router.rs` all import it, and it imports none of them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::config::SimConfig;
use super::faults::FaultPlan;
use super::{PushSink, QuoteHandler, TradeHandler};

/// Counters shared by the server and its sessions.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) init_ok: AtomicU64,
    pub(crate) keepalives: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) pushes: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) slow_closed: AtomicU64,
}

/// What the server knows about one live connection (a snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The connection id (assigned at accept time, sent in the InitConnect reply).
    pub conn_id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether InitConnect (on the WebSocket port: Init) succeeded on it.
    pub initialized: bool,
    /// Whether bodies after InitConnect are AES-encrypted.
    pub encrypted: bool,
    /// Whether the client asked for Notify pushes (`recvNotify`).
    pub recv_notify: bool,
    /// KeepAlive requests received on it.
    pub keepalives: u64,
}

/// One live connection of either port, as the server sees it.
pub(crate) trait Conn: PushSink {
    /// Its connection id.
    fn conn_id(&self) -> u64;
    /// A snapshot for `SimServer::sessions`.
    fn info(&self) -> SessionInfo;
    /// Closes it (idempotent); its threads then end the session.
    fn close(&self, reason: &str);
    /// A Notify push, if the connection asked for them. `true` if it was queued.
    fn push_notify(&self, _body: &[u8]) -> bool {
        false
    }
    /// `count` Notify pushes whatever `recvNotify` said (`SimServer::push_flood`).
    /// Returns how many were sent.
    fn flood(&self, _count: usize) -> usize {
        0
    }
    /// Why the connection must be closed now, if it must. Checked by the server's
    /// watchdog.
    fn overdue(&self, _now: Instant) -> Option<Overdue> {
        None
    }
}

/// Why the watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Overdue {
    /// A write has been running this long, past the write timeout (the client does not
    /// read).
    Write(Duration),
    /// A WebSocket connection has not logged in this long after its upgrade.
    Login(Duration),
}

impl Overdue {
    /// `Write` if `stalled` (how long the write in progress has run) reached a
    /// non-zero `timeout`.
    pub(crate) fn write(stalled: Option<Duration>, timeout: Duration) -> Option<Overdue> {
        stalled.filter(|d| !timeout.is_zero() && *d >= timeout).map(Overdue::Write)
    }
}

impl std::fmt::Display for Overdue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Overdue::Write(d) => {
                write!(f, "a write has not finished in {:.1} s (the client does not read)", d.as_secs_f64())
            }
            Overdue::Login(d) => write!(f, "no Init (login) within {:.1} s of the upgrade", d.as_secs_f64()),
        }
    }
}

/// State shared by the server handle, the accept threads and the sessions.
pub(crate) struct Core {
    pub(crate) config: SimConfig,
    pub(crate) handler: Option<Arc<dyn TradeHandler>>,
    pub(crate) quote: Option<Arc<dyn QuoteHandler>>,
    pub(crate) faults: Arc<Mutex<FaultPlan>>,
    pub(crate) counters: Arc<Counters>,
    conns: Mutex<HashMap<u64, Arc<dyn Conn>>>,
    /// Connections admitted and not yet ended (both ports, from accept to thread end).
    admitted: AtomicUsize,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_conn_id: AtomicU64,
    stopping: AtomicBool,
}

impl Core {
    /// The state of a server about to start.
    pub(crate) fn new(
        config: SimConfig,
        handler: Option<Arc<dyn TradeHandler>>,
        quote: Option<Arc<dyn QuoteHandler>>,
        faults: FaultPlan,
    ) -> Core {
        Core {
            next_conn_id: AtomicU64::new(config.first_conn_id),
            config,
            handler,
            quote,
            faults: Arc::new(Mutex::new(faults)),
            counters: Arc::default(),
            conns: Mutex::default(),
            admitted: AtomicUsize::new(0),
            threads: Mutex::default(),
            stopping: AtomicBool::new(false),
        }
    }

    /// Takes one of the `max_connections` places for a just-accepted connection, or
    /// `None` (the caller refuses it) when all are taken. The place is given back when
    /// the returned guard is dropped (at the end of the session's thread).
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Admission> {
        let max = self.config.max_connections;
        let taken = self.admitted.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1));
        match taken {
            Ok(_) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                Some(Admission(self.clone()))
            }
            Err(_) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Adds a live connection to the registry.
    pub(crate) fn register(&self, conn: Arc<dyn Conn>) {
        self.conns.lock().insert(conn.conn_id(), conn);
    }

    /// Removes a connection from the registry.
    pub(crate) fn unregister(&self, conn_id: u64) {
        self.conns.lock().remove(&conn_id);
    }

    /// One live connection.
    pub(crate) fn conn(&self, conn_id: u64) -> Option<Arc<dyn Conn>> {
        self.conns.lock().get(&conn_id).cloned()
    }

    /// Every live connection (both ports).
    pub(crate) fn live(&self) -> Vec<Arc<dyn Conn>> {
        self.conns.lock().values().cloned().collect()
    }

    /// How many connections are registered.
    pub(crate) fn live_count(&self) -> usize {
        self.conns.lock().len()
    }

    /// The next connection id (shared by both ports).
    pub(crate) fn next_conn_id(&self) -> u64 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether the server is shutting down.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Marks the server as shutting down.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Keeps a thread to join at shutdown.
    pub(crate) fn track_thread(&self, handle: JoinHandle<()>) {
        let mut threads = self.threads.lock();
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
    }

    /// The threads to join at shutdown.
    pub(crate) fn take_threads(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut *self.threads.lock())
    }
}

/// One admitted connection's place under the connection limit ([`Core::admit`]).
pub(crate) struct Admission(Arc<Core>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}
