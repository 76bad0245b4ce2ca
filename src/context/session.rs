//! The one session of every context (trade and quote): one [`TrdApi`], a gate that
//! keeps user calls out while the connection is not ready, and the supervisor loop that
//! reconnects with backoff after an unexpected disconnect. What differs between the
//! kinds of context (restoring accounts, unlock and push subscription, or
//! subscriptions) is the [`SessionHooks`] of the context above it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::{Condvar, Mutex};

use crate::api::{ConnSpi, TrdApi};
use crate::conn::{ConnConfig, ConnFailure, InitFailKind, SocketFailKind, TransportChoice};
use crate::error::{Error, Result};
use crate::pb::{Protocol, RequestEnvelope, ResponseEnvelope};

/// The `s2c` type of protocol `P`.
pub(crate) type S2c<P> = <<P as Protocol>::Response as ResponseEnvelope>::S2c;
/// The `c2s` type of protocol `P`.
pub(crate) type C2s<P> = <<P as Protocol>::Request as RequestEnvelope>::C2s;

/// How a context reconnects after an unexpected disconnect.
///
/// `Default`: on, first attempt after 1 s, doubling up to 30 s between attempts,
/// retrying forever (each attempt is bounded by the connect timeout). The struct may
/// grow: build it from [`ReconnectPolicy::default`] (or [`disabled`](Self::disabled))
/// and the setters.
///
/// ```
/// use std::time::Duration;
/// use ftapi::context::ReconnectPolicy;
/// let p = ReconnectPolicy::default().max_attempts(Some(10)).initial_delay(Duration::from_millis(200));
/// assert!(p.enabled);
/// assert_eq!(p.max_attempts, Some(10));
/// assert!(!ReconnectPolicy::disabled().enabled);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconnectPolicy {
    /// Reconnect at all (default true). When off, a lost connection stays down and
    /// every call fails with [`Error::NotConnected`] until the context is dropped.
    pub enabled: bool,
    /// Delay before the first attempt (default 1 s).
    pub initial_delay: Duration,
    /// Largest delay between attempts; the delay doubles after each failure (default 30 s).
    pub max_delay: Duration,
    /// Give up after this many failed attempts (default `None`: never give up).
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

impl ReconnectPolicy {
    /// No automatic reconnect.
    pub fn disabled() -> Self {
        ReconnectPolicy { enabled: false, ..Self::default() }
    }

    /// Sets [`enabled`](Self::enabled).
    pub fn enabled(mut self, on: bool) -> Self {
        self.enabled = on;
        self
    }

    /// Sets [`initial_delay`](Self::initial_delay).
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// Sets [`max_delay`](Self::max_delay).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets [`max_attempts`](Self::max_attempts).
    pub fn max_attempts(mut self, max: Option<u32>) -> Self {
        self.max_attempts = max;
        self
    }
}

/// A change of the context's connection, given to the handler set with
/// `set_connection_handler` (or the builder's `connection_handler`), on the context's
/// reconnect thread (`ftapi-ctx-reconnect`), one event at a time. Reasons are the
/// typed [`ConnFailure`] of the connection core, with the official composite code
/// ([`ConnFailure::err_code`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// `open` connected: InitConnect done, account list read, pushes subscribed (trade),
    /// or the subscription quota read (quote). Only seen by a handler given to the
    /// builder.
    Connected {
        /// OpenD's connection id.
        conn_id: u64,
    },
    /// The connection was lost. Every call in flight failed with
    /// [`Error::Disconnected`]; writes among them have an unknown outcome.
    Disconnected {
        /// Why.
        reason: ConnFailure,
        /// Whether a reconnect follows (the policy is on).
        reconnecting: bool,
    },
    /// A reconnect attempt failed; the next one follows after `retry_in`.
    ReconnectFailed {
        /// Attempt number, from 1.
        attempt: u32,
        /// Why it failed.
        error: ConnFailure,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
    /// Connected again: InitConnect done and the context restored (trade: account list
    /// re-read, trading unlocked again if it was unlocked, pushes re-subscribed; quote:
    /// subscriptions made again). Failures of those restore steps follow as
    /// [`ConnectionEvent::RestoreFailed`].
    Reconnected {
        /// The new connection id.
        conn_id: u64,
        /// How many attempts it took.
        attempts: u32,
    },
    /// A step of restoring the context after a reconnect failed although the
    /// connection is up (e.g. the trade password was changed meanwhile).
    RestoreFailed {
        /// `"unlock_trade"`, `"get_acc_list"`, `"sub_acc_push"` or `"subscribe"`.
        step: &'static str,
        /// OpenD's answer or the local error.
        error: Error,
    },
    /// Reconnecting stopped after `ReconnectPolicy::max_attempts`; the context stays
    /// disconnected.
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        error: ConnFailure,
    },
}

/// Coarse connection state of a context.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Being opened.
    Connecting,
    /// Connected and restored; calls go through.
    Connected {
        /// OpenD's connection id.
        conn_id: u64,
    },
    /// Lost; reconnect attempts are running.
    Reconnecting {
        /// Attempts made so far.
        attempt: u32,
        /// Why the connection was lost (or why the last attempt failed).
        reason: ConnFailure,
    },
    /// Lost, and no reconnect will happen (policy off, or it gave up).
    Disconnected {
        /// Why.
        reason: ConnFailure,
    },
    /// Closed by the user (or dropped).
    Closed,
}

/// Where a session connects and how.
#[derive(Clone)]
pub(crate) struct SessionSettings {
    /// Makes the transport of each connection (TCP, or OpenD's WebSocket port).
    pub transport: TransportChoice,
    /// Every connection setting, the resolved RSA key included.
    pub conn: ConnConfig,
    pub reconnect: ReconnectPolicy,
    /// How long a call made while not connected waits for the connection.
    pub disconnected_wait: Duration,
}

/// What the supervisor needs from the context above it.
pub(crate) trait SessionHooks: Send + Sync {
    /// Reports a connection event to the user.
    fn emit(&self, event: ConnectionEvent);
    /// Restores the context on a fresh connection (unlock, account list, push
    /// subscription; or subscriptions). Steps that failed with OpenD's answer are
    /// returned; `Err` means the connection itself failed and the attempt counts as
    /// failed.
    fn restore(&self) -> Result<Vec<(&'static str, Error)>>;
}

/// Forwards the connection callbacks of the [`TrdApi`] to the session's channels, as
/// the typed [`ConnFailure`] the core reported (no parsing of descriptions).
struct ConnForwarder {
    init_tx: Sender<std::result::Result<(), ConnFailure>>,
    lost_tx: Sender<ConnFailure>,
}

impl ConnForwarder {
    fn failure(api: &TrdApi, err_code: i64, desc: &str) -> ConnFailure {
        // The core records the failure before it calls back, on this same thread.
        api.last_conn_failure()
            .filter(|f| f.err_code() == err_code)
            .or_else(|| ConnFailure::from_err_code(err_code))
            .unwrap_or_else(|| ConnFailure::socket(SocketFailKind::Unknown, desc))
    }
}

impl ConnSpi for ConnForwarder {
    fn on_init_connect(&self, api: &TrdApi, err_code: i64, desc: &str) {
        let r = if err_code == 0 { Ok(()) } else { Err(Self::failure(api, err_code, desc)) };
        let _ = self.init_tx.send(r);
    }

    fn on_disconnect(&self, api: &TrdApi, err_code: i64, desc: &str) {
        let _ = self.lost_tx.send(Self::failure(api, err_code, desc));
    }
}

// ----- the errors of the session, built in one place -----

/// A local failure (nothing failed on the wire): the context is closed, or not
/// connected yet.
pub(crate) fn local_failure(message: impl Into<String>) -> ConnFailure {
    ConnFailure::local(message)
}

/// [`Error::NotConnected`] for a failure.
pub(crate) fn not_connected(failure: ConnFailure) -> Error {
    Error::NotConnected(failure)
}

/// [`Error::NotConnected`] of a closed context.
pub(crate) fn closed_error() -> Error {
    not_connected(local_failure("the context is closed"))
}

/// [`Error::Connect`] for a failure of connecting to `peer`.
pub(crate) fn connect_error(peer: &str, failure: ConnFailure) -> Error {
    Error::Connect(match failure.ret_type() {
        Some(rt) => failure.context(&format!("{peer}: login refused by OpenD (retType {rt})")),
        None if failure.is_init_failure() => failure.context(peer),
        // Socket failures already name the address.
        None => failure,
    })
}

/// The connection failure behind a connection error, for [`ConnectionEvent`]s.
pub(crate) fn failure_of(e: &Error) -> ConnFailure {
    e.conn_failure().cloned().unwrap_or_else(|| ConnFailure::socket(SocketFailKind::Unknown, e.to_string()))
}

/// Whether an error means the connection itself is gone (rather than OpenD refusing).
pub(crate) fn is_connection_error(e: &Error) -> bool {
    matches!(e, Error::Disconnected { .. } | Error::NotConnected(_) | Error::Io(_) | Error::Connect(_))
}

/// One reconnecting connection.
pub(crate) struct Session {
    settings: SessionSettings,
    api: TrdApi,
    state: Mutex<ConnectionState>,
    cond: Condvar,
    closed: AtomicBool,
    init_rx: Receiver<std::result::Result<(), ConnFailure>>,
    lost_rx: Receiver<ConnFailure>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.settings.transport.peer())
            .field("state", &*self.state.lock())
            .finish()
    }
}

impl Session {
    /// A session that is not connected yet. Pushes go to the engine's push hook, which
    /// the context above sets.
    pub(crate) fn new(settings: SessionSettings) -> Session {
        let api = TrdApi::with_config(settings.conn.clone());
        let (init_tx, init_rx) = crossbeam_channel::unbounded();
        let (lost_tx, lost_rx) = crossbeam_channel::unbounded();
        api.set_conn_spi(Arc::new(ConnForwarder { init_tx, lost_tx }));
        Session {
            settings,
            api,
            state: Mutex::new(ConnectionState::Connecting),
            cond: Condvar::new(),
            closed: AtomicBool::new(false),
            init_rx,
            lost_rx,
        }
    }

    pub(crate) fn api(&self) -> &TrdApi {
        &self.api
    }

    pub(crate) fn state(&self) -> ConnectionState {
        self.state.lock().clone()
    }

    pub(crate) fn set_state(&self, s: ConnectionState) {
        let mut g = self.state.lock();
        if *g == ConnectionState::Closed {
            return;
        }
        *g = s;
        self.cond.notify_all();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// `Err` once the context is closed (for loops that wait).
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(closed_error())
        } else {
            Ok(())
        }
    }

    /// Connects once: connect plus InitConnect (or the WebSocket login), bounded by the
    /// connect timeout. Returns the new connection id.
    pub(crate) fn connect(&self, shutdown: &Receiver<()>) -> Result<u64> {
        while self.init_rx.try_recv().is_ok() {}
        self.check_open()?;
        let transport = &self.settings.transport;
        if !self.api.init_connect_with(transport.make()) {
            return Err(Error::Connect(local_failure(format!("{}: could not start connecting", transport.peer()))));
        }
        // The I/O thread bounds connecting plus the login by the connect timeout (the
        // WebSocket login has its own); this bound only matters if it is stuck.
        let bound = self
            .settings
            .conn
            .connect_timeout
            .saturating_add(transport.login_wait())
            .saturating_add(Duration::from_secs(1));
        let outcome = crossbeam_channel::select! {
            recv(self.init_rx) -> r => match r {
                Ok(Ok(())) => Ok(self.api.get_connect_id()),
                Ok(Err(f)) => Err(connect_error(transport.peer(), f)),
                Err(_) => Err(connect_error(transport.peer(), local_failure("connection events ended"))),
            },
            recv(shutdown) -> _ => Err(closed_error()),
            default(bound) => Err(Error::Connect(ConnFailure::init(
                InitFailKind::Timeout,
                format!("{}: no login answer within {bound:?}", transport.peer()),
            ))),
        };
        if outcome.is_err() {
            self.api.close();
        }
        outcome
    }

    /// Waits until the connection is ready, up to the configured bound (`Duration::MAX`:
    /// no bound); fails with a clear [`Error::NotConnected`] otherwise.
    pub(crate) fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now().checked_add(self.settings.disconnected_wait);
        let mut g = self.state.lock();
        loop {
            match &*g {
                ConnectionState::Connected { .. } => return Ok(()),
                ConnectionState::Closed => return Err(closed_error()),
                ConnectionState::Disconnected { reason } => {
                    return Err(not_connected(reason.clone().context("disconnected from OpenD; not reconnecting")))
                }
                ConnectionState::Connecting | ConnectionState::Reconnecting { .. } => {}
            }
            let timed_out = match deadline {
                Some(d) => self.cond.wait_until(&mut g, d).timed_out(),
                None => {
                    self.cond.wait(&mut g);
                    false
                }
            };
            if timed_out {
                return match &*g {
                    ConnectionState::Reconnecting { attempt, reason } => Err(not_connected(
                        reason.clone().context(&format!("reconnecting to OpenD (attempts so far: {attempt})")),
                    )),
                    ConnectionState::Connected { .. } => Ok(()),
                    ConnectionState::Closed => Err(closed_error()),
                    other => Err(not_connected(local_failure(format!("not connected to OpenD ({other:?})")))),
                };
            }
        }
    }

    /// A blocking call that bypasses the gate (used while opening and restoring).
    pub(crate) fn call_now<P: Protocol>(&self, c2s: C2s<P>) -> Result<S2c<P>> {
        self.check_open()?;
        self.api.call::<P>(c2s)
    }

    /// Closes the connection and wakes every waiter. Idempotent.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        {
            let mut g = self.state.lock();
            *g = ConnectionState::Closed;
            self.cond.notify_all();
        }
        self.api.close();
    }

    /// The supervisor loop: waits for a lost connection and reconnects per the policy.
    /// Returns when `shutdown` is closed.
    pub(crate) fn supervise(&self, shutdown: &Receiver<()>, hooks: &dyn SessionHooks) {
        loop {
            let reason = crossbeam_channel::select! {
                recv(self.lost_rx) -> m => match m {
                    Ok(f) => f,
                    Err(_) => return,
                },
                recv(shutdown) -> _ => return,
            };
            if self.is_closed() {
                return;
            }
            if self.api.is_connected() {
                log::debug!("ignoring a stale disconnect event ({reason})");
                continue;
            }
            let policy = &self.settings.reconnect;
            if !policy.enabled {
                log::warn!("disconnected from OpenD ({reason}); automatic reconnect is off");
                self.set_state(ConnectionState::Disconnected { reason: reason.clone() });
                hooks.emit(ConnectionEvent::Disconnected { reason, reconnecting: false });
                continue;
            }
            log::warn!("disconnected from OpenD ({reason}); reconnecting");
            self.set_state(ConnectionState::Reconnecting { attempt: 0, reason: reason.clone() });
            hooks.emit(ConnectionEvent::Disconnected { reason: reason.clone(), reconnecting: true });
            if !self.reconnect(shutdown, hooks, reason) {
                return;
            }
        }
    }

    /// Reconnect attempts until one succeeds (true), the policy gives up (true), or
    /// the context is closed (false).
    fn reconnect(&self, shutdown: &Receiver<()>, hooks: &dyn SessionHooks, mut last: ConnFailure) -> bool {
        let policy = self.settings.reconnect.clone();
        let mut delay = policy.initial_delay;
        let mut attempt = 0u32;
        loop {
            // `recv_timeout` treats a delay too large for an `Instant` as no timeout.
            match shutdown.recv_timeout(delay) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return false,
            }
            if self.is_closed() {
                return false;
            }
            attempt = attempt.saturating_add(1);
            self.set_state(ConnectionState::Reconnecting { attempt, reason: last.clone() });
            let result = self.connect(shutdown).and_then(|conn_id| match hooks.restore() {
                Ok(failures) => Ok((conn_id, failures)),
                Err(e) => {
                    // The fresh connection failed while restoring: drop it and retry.
                    self.api.close();
                    while self.lost_rx.try_recv().is_ok() {}
                    Err(e)
                }
            });
            if self.is_closed() {
                return false;
            }
            match result {
                Ok((conn_id, failures)) => {
                    log::info!("reconnected to OpenD after {attempt} attempt(s), conn_id {conn_id}");
                    self.set_state(ConnectionState::Connected { conn_id });
                    hooks.emit(ConnectionEvent::Reconnected { conn_id, attempts: attempt });
                    for (step, error) in failures {
                        log::warn!("after reconnecting, {step} failed: {error}");
                        hooks.emit(ConnectionEvent::RestoreFailed { step, error });
                    }
                    return true;
                }
                Err(e) => {
                    last = failure_of(&e);
                    if policy.max_attempts.is_some_and(|max| attempt >= max) {
                        log::error!("giving up reconnecting after {attempt} attempt(s): {last}");
                        self.set_state(ConnectionState::Disconnected { reason: last.clone() });
                        hooks.emit(ConnectionEvent::GaveUp { attempts: attempt, error: last });
                        return true;
                    }
                    delay = delay.saturating_mul(2).min(policy.max_delay.max(policy.initial_delay));
                    log::warn!("reconnect attempt {attempt} failed: {last}; next in {delay:?}");
                    hooks.emit(ConnectionEvent::ReconnectFailed { attempt, error: last.clone(), retry_in: delay });
                }
            }
        }
    }
}
