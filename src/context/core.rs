//! The one context core under every context (trade and quote): the session, the
//! connection handler, the reconnect thread, the gated call and the one close.
//!
//! Threads: the connection's I/O thread reads and answers blocking calls; its callback
//! thread runs the push handlers (through the engine's push hook, [`ContextPart::on_push`]);
//! the context's reconnect thread (`ftapi-ctx-reconnect`) runs the supervisor and the
//! connection handler. There is no dispatch thread of the context's own: the
//! connection's push queue (bounded, [`ConnConfig::push_queue_capacity`]) is the only
//! flow control.
//!
//! [`ConnConfig::push_queue_capacity`]: crate::conn::ConnConfig::push_queue_capacity

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use super::dispatch::Handler;
use super::session::{C2s, ConnectionEvent, ConnectionState, S2c, Session, SessionHooks, SessionSettings};
use crate::api::TrdApi;
use crate::error::{Error, Result};
use crate::pb::Protocol;

/// What differs between the kinds of context: the per-kind part above the [`Core`].
pub(crate) trait ContextPart: Send + Sync + 'static {
    /// The shared core.
    fn core(&self) -> &Core;
    /// A push (decoded by the part), on the connection's callback thread.
    fn on_push(&self, proto_id: u32, body: &[u8]);
    /// What the first connection needs beyond InitConnect (accounts and push
    /// subscription; the subscription quota). Fails `open` with the reason.
    fn on_open(&self) -> Result<()>;
    /// Restores the part on a fresh connection after a reconnect (see
    /// [`SessionHooks::restore`]).
    fn restore(&self) -> Result<Vec<(&'static str, Error)>>;
    /// Forgets what must not outlive the context (handlers, secrets).
    fn on_close(&self);
}

/// The supervisor's view of a part.
struct Hooks<P: ContextPart>(Arc<P>);

impl<P: ContextPart> SessionHooks for Hooks<P> {
    fn emit(&self, event: ConnectionEvent) {
        self.0.core().emit(event);
    }
    fn restore(&self) -> Result<Vec<(&'static str, Error)>> {
        self.0.restore()
    }
}

/// The part of a context every kind shares.
pub(crate) struct Core {
    /// The context's name in messages.
    pub name: &'static str,
    pub session: Session,
    /// The connection handler.
    pub state_handler: Handler<ConnectionEvent>,
    shutdown_tx: Mutex<Option<Sender<()>>>,
    shutdown_rx: Receiver<()>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
    /// The reconnect thread is running the connection handler.
    in_handler: AtomicBool,
}

impl Core {
    pub(crate) fn new(name: &'static str, settings: SessionSettings, state_handler: Handler<ConnectionEvent>) -> Core {
        let (shutdown_tx, shutdown_rx) = crossbeam_channel::bounded(0);
        Core {
            name,
            session: Session::new(settings),
            state_handler,
            shutdown_tx: Mutex::new(Some(shutdown_tx)),
            shutdown_rx,
            supervisor: Mutex::new(None),
            in_handler: AtomicBool::new(false),
        }
    }

    pub(crate) fn api(&self) -> &TrdApi {
        self.session.api()
    }

    /// Runs the connection handler on the calling thread (the reconnect thread), unless
    /// the context is closed.
    pub(crate) fn emit(&self, event: ConnectionEvent) {
        // Announced before the closed check: `close` either sees the flag (and does not
        // wait for this thread) or this thread sees the close (and runs nothing).
        self.in_handler.store(true, Ordering::SeqCst);
        if !self.session.is_closed() {
            self.state_handler.deliver("connection", &event);
        }
        self.in_handler.store(false, Ordering::SeqCst);
    }

    /// A gated blocking call: waits (bounded) for the connection, then sends. May be
    /// made from any handler: the connection goes on reading while a callback waits.
    pub(crate) fn call<P: Protocol>(&self, c2s: C2s<P>) -> Result<S2c<P>> {
        self.session.wait_ready()?;
        self.session.api().call::<P>(c2s)
    }

    /// Pushes read but not yet handled.
    pub(crate) fn queued_pushes(&self) -> usize {
        self.session.api().queued_pushes()
    }

    /// The one close of every context: stops reconnecting, closes the connection (calls
    /// in flight fail with `Error::Disconnected`, queued pushes are dropped), removes the
    /// handlers. Idempotent and prompt from any thread, handlers included: it never
    /// waits for a handler that is running (that one finishes on its own thread; no
    /// other handler is called after it).
    pub(crate) fn close(&self, part: &dyn ContextPart) {
        let first = self.shutdown_tx.lock().take().is_some();
        let queued = self.queued_pushes();
        self.session.close();
        if first && queued > 0 {
            log::info!("{}: closed; {queued} queued push(es) dropped", self.name);
        }
        part.on_close();
        self.state_handler.clear();
        let supervisor = self.supervisor.lock().take();
        if let Some(h) = supervisor {
            if h.thread().id() == std::thread::current().id() {
                // Closed from the connection handler: the thread ends on its own.
            } else if self.in_handler.load(Ordering::SeqCst) {
                log::debug!("{}: not waiting for the running connection handler", self.name);
            } else {
                let _ = h.join();
            }
        }
        // A reconnect attempt racing with close may have started a connection.
        self.session.api().close();
    }
}

/// Opens a context: installs the push hook, connects, runs the part's first steps and
/// starts the reconnect thread. On `Err` the caller's handle closes what was started.
pub(crate) fn start<P: ContextPart>(part: &Arc<P>) -> Result<()> {
    let core = part.core();
    let weak = Arc::downgrade(part);
    core.api().set_push_hook(Arc::new(move |_api: &TrdApi, proto_id: u32, body: &[u8]| {
        if let Some(part) = weak.upgrade() {
            part.on_push(proto_id, body);
        }
    }));
    let conn_id = core.session.connect(&core.shutdown_rx)?;
    part.on_open()?;
    core.session.set_state(ConnectionState::Connected { conn_id });
    let hooks = Hooks(part.clone());
    let shutdown = core.shutdown_rx.clone();
    let supervisor = std::thread::Builder::new().name("ftapi-ctx-reconnect".into()).spawn(move || {
        hooks.emit(ConnectionEvent::Connected { conn_id });
        hooks.0.core().session.supervise(&shutdown, &hooks);
    })?;
    *core.supervisor.lock() = Some(supervisor);
    Ok(())
}
