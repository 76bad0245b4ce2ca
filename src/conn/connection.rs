//! The connection core: one I/O thread that opens the link, reads, routes and runs the
//! timers, and one callback thread that runs user code in wire order.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Condvar, Mutex};
use prost::Message;

use super::config::ConnConfig;
use super::failure::{ConnFailure, SocketFailKind};
use super::pending::{AnswerFn, PendingEntry, PendingTable, Responder};
use super::reply::SpinPolicy;
use super::transport::{
    Cancel, Incoming, InitInfo, Liveness, OpenContext, PacketReceiver, PacketSender, Serials, Transport,
};
use crate::error::Error;
use crate::pb::{self, keep_alive, Protocol};

/// Lifecycle of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnState {
    /// Connecting and logging in (TCP connect and InitConnect, or a transport's own
    /// handshake).
    Connecting,
    /// Logged in; requests may be sent.
    Ready,
    /// Closed or lost; it will not come back (a new connection is made instead).
    Closed,
}

/// Connection events, delivered on the connection's callback thread with no lock held.
pub(crate) trait ConnEvents: Send + Sync + 'static {
    /// Opening finished (or failed). Not called if the user closed first.
    fn init_done(&self, conn: &Arc<Connection>, result: Result<InitInfo, ConnFailure>);
    /// Push packets (1003, 2208, 2218, ...) with their plaintext bodies, in wire order:
    /// the consecutive pushes of one read, so that whatever is looked up per push
    /// target is looked up once per run. The run ends early if the user closes.
    fn push(&self, conn: &Arc<Connection>, pushes: &mut PushRun<'_>);
    /// A connection that was ready has been lost (never called after a user `close`).
    fn lost(&self, conn: &Arc<Connection>, failure: ConnFailure);
}

const ST_CONNECTING: u8 = 0;
const ST_READY: u8 = 1;
const ST_CLOSED: u8 = 2;

/// One thing for the callback thread to do, in wire order.
enum Delivery {
    /// A push packet, its body at `start..end` of [`Job::bodies`]: counted against the
    /// push capacity, skipped after a user close.
    Push { proto_id: u32, start: usize, end: usize },
    /// The answer to a request whose responder runs on the callback thread.
    /// A successful reply's body is at `start..end` of [`Job::bodies`].
    Answer { serial: u32, respond: AnswerFn, result: Result<(usize, usize), Error> },
    /// A connection event (`init_done`, `lost`).
    Event(Box<dyn FnOnce() + Send>),
}

/// What the I/O thread hands the callback thread at once: everything one read brought
/// that user code must see (one channel message and at most one wake-up per read, not
/// per packet).
#[derive(Default)]
struct Job {
    deliveries: Vec<Delivery>,
    /// The bodies of the pushes and replies, one after the other. Copying them here
    /// lets the I/O thread free each packet's buffer itself: buffers allocated on one
    /// thread and freed on another make the allocator take its lock on every packet.
    bodies: Vec<u8>,
    /// How many of them are pushes (released from the push capacity when done).
    pushes: usize,
    /// The memory it holds, counted against the push byte bound when it carries pushes.
    bytes: usize,
}

impl Job {
    fn push(&mut self, proto_id: u32, body: &[u8]) {
        let (start, end) = self.keep(body);
        self.deliveries.push(Delivery::Push { proto_id, start, end });
        self.pushes += 1;
    }

    fn answer(&mut self, serial: u32, respond: AnswerFn, result: Result<Vec<u8>, Error>) {
        let result = result.map(|body| self.keep(&body));
        self.deliveries.push(Delivery::Answer { serial, respond, result });
    }

    /// The memory this job holds (its buffers' capacities), set before it is queued.
    fn measure(&mut self) -> usize {
        self.bytes = self.bodies.capacity() + self.deliveries.capacity() * std::mem::size_of::<Delivery>();
        self.bytes
    }

    fn keep(&mut self, body: &[u8]) -> (usize, usize) {
        let start = self.bodies.len();
        self.bodies.extend_from_slice(body);
        (start, self.bodies.len())
    }
}

/// A body kept in [`Job::bodies`].
fn job_body(bodies: &[u8], start: usize, end: usize) -> &[u8] {
    bodies.get(start..end).unwrap_or(&[])
}

/// The pushes of one run, as [`ConnEvents::push`] sees them: it stops yielding once the
/// user closed the connection.
pub(crate) struct PushRun<'a> {
    items: &'a mut std::iter::Peekable<std::vec::IntoIter<Delivery>>,
    bodies: &'a [u8],
    closed: &'a AtomicBool,
}

impl<'a> Iterator for PushRun<'a> {
    type Item = (u32, &'a [u8]);

    fn next(&mut self) -> Option<(u32, &'a [u8])> {
        if self.closed.load(Ordering::Acquire) {
            // Dropped with the job: pushes are not delivered after a user close.
            return None;
        }
        match self.items.next_if(|d| matches!(d, Delivery::Push { .. }))? {
            Delivery::Push { proto_id, start, end } => Some((proto_id, job_body(self.bodies, start, end))),
            _ => None,
        }
    }
}

/// Push admission between the I/O thread and the callback thread: the one flow control
/// of pushes in the crate (whoever consumes pushes on the callback thread, a `TrdSpi`,
/// a push hook or a context's handlers, is behind it). The counts are atomics; the
/// lock and condition variable are only touched when the I/O thread has to wait (at
/// the bound), or by a release that finds it waiting.
struct PushFlow {
    queued: AtomicUsize,
    /// Memory held by the queued jobs that carry pushes.
    bytes: AtomicUsize,
    /// The most `bytes` ever reached.
    peak_bytes: AtomicUsize,
    capacity: usize,
    byte_capacity: usize,
    /// The I/O thread is (about to be) waiting on `cv`.
    io_waiting: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
    /// Blocking calls made from the callback thread that are waiting for their reply.
    in_call: AtomicUsize,
}

impl PushFlow {
    fn release(&self, n: usize, bytes: usize) {
        self.queued.fetch_sub(n, Ordering::SeqCst);
        self.bytes.fetch_sub(bytes, Ordering::SeqCst);
        if self.io_waiting.load(Ordering::SeqCst) {
            self.wake();
        }
    }

    /// Counts `n` pushes held in `bytes` of memory as queued.
    fn count(&self, n: usize, bytes: usize) {
        self.queued.fetch_add(n, Ordering::SeqCst);
        let now = self.bytes.fetch_add(bytes, Ordering::SeqCst).saturating_add(bytes);
        self.peak_bytes.fetch_max(now, Ordering::SeqCst);
    }

    fn stats(&self) -> PushQueueStats {
        PushQueueStats {
            pushes: self.queued.load(Ordering::SeqCst),
            bytes: self.bytes.load(Ordering::SeqCst),
            peak_bytes: self.peak_bytes.load(Ordering::SeqCst),
        }
    }

    fn wake(&self) {
        let _g = self.lock.lock();
        self.cv.notify_all();
    }

    /// Whether `n` more pushes held in `bytes` may be queued now: both bounds have room,
    /// the queue is empty (a read bigger than the bounds still goes through, whole), or
    /// the callback thread waits in a blocking call whose reply must be read.
    fn admits(&self, n: usize, bytes: usize, closed: &AtomicBool) -> bool {
        let q = self.queued.load(Ordering::SeqCst);
        let fits = q.saturating_add(n) <= self.capacity
            && self.bytes.load(Ordering::SeqCst).saturating_add(bytes) <= self.byte_capacity;
        q == 0 || fits || self.in_call.load(Ordering::SeqCst) > 0 || closed.load(Ordering::Acquire)
    }
}

/// A snapshot of a connection's push queue: what waits for the callback thread
/// ([`TrdApi::push_queue_stats`](crate::TrdApi::push_queue_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushQueueStats {
    /// Pushes read but not yet handed to the callbacks.
    pub pushes: usize,
    /// Memory those pushes hold (bodies and bookkeeping), in bytes.
    pub bytes: usize,
    /// The most `bytes` ever held by this connection's queue. It stays within
    /// [`ConnConfig::push_queue_bytes`] plus one read, except while a callback waits in
    /// a blocking call (see [`ConnConfig::push_queue_capacity`]).
    pub peak_bytes: usize,
}

/// Marks a blocking call made on the callback thread (see [`Connection::enter_call`]).
pub(crate) struct CallGuard(Arc<Connection>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.flow.in_call.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One connection. Created by [`Connection::start`], which returns at once; the I/O
/// thread opens the link through the transport, then reads and routes.
pub(crate) struct Connection {
    config: ConnConfig,
    peer: String,
    events: Arc<dyn ConnEvents>,
    state: AtomicU8,
    user_closed: AtomicBool,
    serials: Arc<Serials>,
    pending: PendingTable,
    spin: SpinPolicy,
    sender: OnceLock<Arc<dyn PacketSender>>,
    init: OnceLock<InitInfo>,
    cancel: Arc<Cancel>,
    io_id: OnceLock<ThreadId>,
    callback_id: OnceLock<ThreadId>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    flow: PushFlow,
    /// Why the connection ended (set once, by the teardown or a failed open).
    ended: OnceLock<ConnFailure>,
    /// The callback thread is running user code (close does not wait for it then).
    in_user_code: AtomicBool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("state", &self.state())
            .field("init", &self.init.get())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Connection {
    /// Starts opening `transport` on a new I/O thread and returns at once.
    pub(crate) fn start(
        transport: Box<dyn Transport>,
        config: ConnConfig,
        serials: Arc<Serials>,
        events: Arc<dyn ConnEvents>,
    ) -> std::io::Result<Arc<Connection>> {
        let capacity = config.push_queue_capacity.max(1);
        let spin = SpinPolicy::new(config.reply_spin);
        let byte_capacity = config.push_queue_bytes.max(1);
        let conn = Arc::new(Connection {
            config,
            peer: transport.peer(),
            events,
            state: AtomicU8::new(ST_CONNECTING),
            user_closed: AtomicBool::new(false),
            serials,
            pending: PendingTable::default(),
            spin,
            sender: OnceLock::new(),
            init: OnceLock::new(),
            cancel: Arc::new(Cancel::default()),
            io_id: OnceLock::new(),
            callback_id: OnceLock::new(),
            threads: Mutex::new(Vec::new()),
            ended: OnceLock::new(),
            in_user_code: AtomicBool::new(false),
            flow: PushFlow {
                queued: AtomicUsize::new(0),
                bytes: AtomicUsize::new(0),
                peak_bytes: AtomicUsize::new(0),
                capacity,
                byte_capacity,
                io_waiting: AtomicBool::new(false),
                lock: Mutex::new(()),
                cv: Condvar::new(),
                in_call: AtomicUsize::new(0),
            },
        });
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let c = conn.clone();
        let callback = std::thread::Builder::new().name("ftapi-callback".into()).spawn(move || callback_loop(c, rx))?;
        let c = conn.clone();
        let io = match std::thread::Builder::new()
            .name("ftapi-reader".into())
            .spawn(move || IoThread::run(c, transport, tx))
        {
            Ok(h) => h,
            Err(e) => {
                // The job sender went with the failed closure: the callback thread ends.
                conn.state.store(ST_CLOSED, Ordering::Release);
                let _ = callback.join();
                return Err(e);
            }
        };
        conn.threads.lock().extend([io, callback]);
        Ok(conn)
    }

    /// Current state.
    pub(crate) fn state(&self) -> ConnState {
        match self.state.load(Ordering::Acquire) {
            ST_CONNECTING => ConnState::Connecting,
            ST_READY => ConnState::Ready,
            _ => ConnState::Closed,
        }
    }

    /// The login's result, once it succeeded.
    pub(crate) fn init_info(&self) -> Option<&InitInfo> {
        self.init.get()
    }

    /// What waits for the callback thread.
    pub(crate) fn push_queue_stats(&self) -> PushQueueStats {
        self.flow.stats()
    }

    /// Number of requests waiting for a reply.
    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Pushes read but not yet handled by the callback thread.
    pub(crate) fn queued_pushes(&self) -> usize {
        self.flow.queued.load(Ordering::SeqCst)
    }

    /// Whether a blocking call spins for its reply before parking (see [`SpinPolicy`]).
    pub(crate) fn reply_spin(&self) -> &SpinPolicy {
        &self.spin
    }

    /// The configured request timeout.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.config.request_timeout
    }

    /// Whether the calling thread is this connection's I/O thread (no user code runs
    /// there).
    pub(crate) fn on_io_thread(&self) -> bool {
        self.io_id.get() == Some(&std::thread::current().id())
    }

    /// Whether the calling thread is this connection's callback thread.
    pub(crate) fn on_callback_thread(&self) -> bool {
        self.callback_id.get() == Some(&std::thread::current().id())
    }

    /// Marks a blocking call made from a callback, so the I/O thread does not wait for
    /// the callback thread (to queue a push) while the callback waits for the I/O thread
    /// (to read its reply). `None` on other threads.
    pub(crate) fn enter_call(self: &Arc<Self>) -> Option<CallGuard> {
        if !self.on_callback_thread() {
            return None;
        }
        self.flow.in_call.fetch_add(1, Ordering::SeqCst);
        self.flow.wake();
        Some(CallGuard(self.clone()))
    }

    /// Sends a request. `encode` appends the plaintext body and is given the serial
    /// number (for `Common.PacketID`); with `sensitive` the packet buffers are wiped
    /// after the write. On `Ok(serial)` the responder will be called exactly once
    /// (reply, timeout or disconnect); on `Err` it is dropped uncalled and nothing was
    /// sent.
    pub(crate) fn request(
        &self,
        proto_id: u32,
        timeout: Option<Duration>,
        sensitive: bool,
        encode: &mut dyn FnMut(&mut Vec<u8>, u32),
        responder: Responder,
    ) -> Result<u32, Error> {
        let sender = match (self.state(), self.sender.get()) {
            (ConnState::Ready, Some(s)) => s.clone(),
            (ConnState::Connecting, _) => {
                return Err(Error::NotConnected(ConnFailure::local("InitConnect has not finished")))
            }
            _ => return Err(Error::NotConnected(self.closed_failure())),
        };
        // A serial number that wrapped around onto a request still waiting is skipped.
        let timeout = timeout.unwrap_or(self.config.request_timeout);
        let mut responder = responder;
        let (serial, key) = loop {
            let serial = self.serials.next();
            match self.pending.insert(proto_id, serial, timeout, responder) {
                Ok(()) => break (serial, (proto_id, serial)),
                Err(r) => responder = r,
            }
        };
        // Teardown marks the state closed before it drains the table: if we still see it
        // open, our entry will be drained; if not, whoever takes the entry answers it.
        if self.state() != ConnState::Ready {
            return match self.pending.take(key) {
                Some(_) => Err(Error::NotConnected(self.closed_failure())),
                None => Ok(serial),
            };
        }
        // A custom transport that panics fails this send instead of the caller.
        let sent =
            catch_unwind(AssertUnwindSafe(|| sender.send(proto_id, serial, sensitive, &mut |buf| encode(buf, serial))))
                .unwrap_or_else(|p| Err(std::io::Error::other(format!("the transport panicked: {}", panic_text(&*p)))));
        match sent {
            Ok(()) => Ok(serial),
            Err(e) => {
                log::warn!("send of proto {proto_id} failed: {e}; closing the connection");
                // Take this request's entry before the shutdown starts the teardown, which
                // would otherwise answer it with `Disconnected` instead of the send's error.
                let mine = self.pending.take(key);
                sender.shutdown();
                match mine {
                    Some(_) => Err(Error::from(e)),
                    None => Ok(serial),
                }
            }
        }
    }

    /// Why the connection is closed: the failure that ended it, or a local "connection
    /// is closed".
    fn closed_failure(&self) -> ConnFailure {
        self.ended.get().cloned().unwrap_or_else(|| ConnFailure::local("connection is closed"))
    }

    /// Closes the connection (idempotent), also while it is still opening. Pending
    /// requests are answered with [`Error::Disconnected`]; no `lost` event follows.
    ///
    /// Joins the I/O thread (no user code runs there: it ends within a tick or so),
    /// then waits for the callback thread only while it runs no user code: a callback
    /// running on it (on another thread than the caller's) is not waited for. It
    /// finishes on its own thread, which then delivers only the answers still owed
    /// (requests failing with [`Error::Disconnected`]; no push, no event) and exits.
    /// Never joins the calling thread.
    pub(crate) fn close(&self) {
        self.user_closed.store(true, Ordering::Release);
        self.state.store(ST_CLOSED, Ordering::Release);
        self.cancel.fire();
        if let Some(s) = self.sender.get() {
            if catch_unwind(AssertUnwindSafe(|| s.shutdown())).is_err() {
                log::error!("the transport panicked while shutting down");
            }
        }
        self.flow.wake();
        let me = std::thread::current().id();
        let handles: Vec<JoinHandle<()>> = self.threads.lock().drain(..).collect();
        for h in handles {
            let id = h.thread().id();
            if id == me {
                continue;
            }
            if self.callback_id.get() == Some(&id) || h.thread().name() == Some("ftapi-callback") {
                self.finish_callback_thread(h);
            } else {
                let _ = h.join();
            }
        }
    }

    /// Joins the callback thread unless (or as soon as) it runs user code, which is
    /// then left to finish on its own.
    fn finish_callback_thread(&self, h: JoinHandle<()>) {
        loop {
            if h.is_finished() {
                let _ = h.join();
                return;
            }
            if self.in_user_code.load(Ordering::Acquire) {
                log::debug!("close: a callback is running; its thread finishes on its own");
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn callback_loop(conn: Arc<Connection>, rx: Receiver<Job>) {
    let _ = conn.callback_id.set(std::thread::current().id());
    for job in rx.iter() {
        let (pushes, bytes) = (job.pushes, job.bytes);
        let mut items = job.deliveries.into_iter().peekable();
        while let Some(first) = items.peek() {
            conn.in_user_code.store(true, Ordering::Release);
            let outcome = match first {
                Delivery::Push { .. } => {
                    // After a user close, pushes are dropped; answers are still delivered.
                    let mut run = PushRun { items: &mut items, bodies: &job.bodies, closed: &conn.user_closed };
                    let outcome = catch_unwind(AssertUnwindSafe(|| conn.events.push(&conn, &mut run)));
                    // Whatever the run did not take (a close, a panic) is skipped.
                    while items.next_if(|d| matches!(d, Delivery::Push { .. })).is_some() {}
                    outcome
                }
                _ => match items.next() {
                    Some(Delivery::Answer { serial, respond, result }) => {
                        let result = result.map(|(start, end)| job_body(&job.bodies, start, end));
                        catch_unwind(AssertUnwindSafe(move || respond(serial, result)))
                    }
                    Some(Delivery::Event(run)) => catch_unwind(AssertUnwindSafe(run)),
                    _ => Ok(()),
                },
            };
            conn.in_user_code.store(false, Ordering::Release);
            if outcome.is_err() {
                log::error!("a callback panicked; the panic was caught and the connection goes on");
            }
        }
        if pushes > 0 {
            conn.flow.release(pushes, bytes);
        }
    }
}

/// The text of a panic's payload.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The I/O thread: open, then read, route and run the timers until the link ends.
struct IoThread {
    conn: Arc<Connection>,
    tx: Sender<Job>,
    sender: Arc<dyn PacketSender>,
    receiver: Box<dyn PacketReceiver>,
    liveness: Liveness,
    /// When the peer last answered our keepalive or ping (or the I/O thread last
    /// resumed reading after waiting for the callbacks).
    last_alive: Instant,
    last_beat: Instant,
    next_timer: Instant,
    /// What the current read brought (reused).
    incoming: Vec<Incoming>,
    /// What the callback thread will get for the current read.
    job: Job,
}

/// Queues a connection event for the callback thread.
fn enqueue(tx: &Sender<Job>, run: impl FnOnce() + Send + 'static) {
    // The callback thread only ends once every sender is gone, so this cannot fail
    // while the I/O thread runs.
    let _ = tx.send(Job { deliveries: vec![Delivery::Event(Box::new(run))], ..Job::default() });
}

impl IoThread {
    /// The I/O thread's body, guarded: a panic in it (or in the transport) becomes an
    /// ordinary teardown with a typed failure.
    fn run(conn: Arc<Connection>, transport: Box<dyn Transport>, tx: Sender<Job>) {
        let _ = conn.io_id.set(std::thread::current().id());
        let guard_tx = tx.clone();
        let c = conn.clone();
        if let Err(p) = catch_unwind(AssertUnwindSafe(move || IoThread::open_and_run(c, transport, tx))) {
            let failure = ConnFailure::socket(
                SocketFailKind::Unknown,
                format!("internal error: the I/O thread panicked: {}", panic_text(&*p)),
            );
            log::error!("connection to {}: {failure}", conn.peer);
            IoThread::after_panic(&conn, &guard_tx, failure);
        }
    }

    /// Tears down after a panic: the state is closed, the link shut, every pending
    /// request answered, and the user told (`init_done` or `lost`) unless they closed.
    fn after_panic(conn: &Arc<Connection>, tx: &Sender<Job>, failure: ConnFailure) {
        let before = conn.state.swap(ST_CLOSED, Ordering::AcqRel);
        conn.cancel.clear();
        if let Some(s) = conn.sender.get() {
            let _ = catch_unwind(AssertUnwindSafe(|| s.shutdown()));
        }
        let user = conn.user_closed.load(Ordering::Acquire);
        let ended = if user { ConnFailure::local("closed by the user") } else { failure.clone() };
        let _ = conn.ended.set(ended.clone());
        let mut job = Job::default();
        for ((proto_id, serial), entry) in conn.pending.drain() {
            let error = Error::Disconnected { proto_id, serial, failure: ended.clone() };
            match entry.responder {
                Responder::Slot(slot) => slot.fill(Err(error)),
                Responder::Callback(respond) => job.answer(serial, respond, Err(error)),
            }
        }
        if !user {
            let (c, ev) = (conn.clone(), conn.events.clone());
            match before {
                ST_CONNECTING => job.deliveries.push(Delivery::Event(Box::new(move || ev.init_done(&c, Err(failure))))),
                ST_READY => job.deliveries.push(Delivery::Event(Box::new(move || ev.lost(&c, failure)))),
                _ => {}
            }
        }
        if !job.deliveries.is_empty() {
            let _ = tx.send(job);
        }
    }

    fn open_and_run(conn: Arc<Connection>, transport: Box<dyn Transport>, tx: Sender<Job>) {
        let now = Instant::now();
        let ctx = OpenContext {
            config: conn.config.clone(),
            cancel: conn.cancel.clone(),
            serials: conn.serials.clone(),
            // A connect timeout too large for an Instant: a century is "never".
            deadline: now
                .checked_add(conn.config.connect_timeout)
                .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
                .unwrap_or(now),
        };
        let result = if ctx.is_cancelled() { Err(ctx.cancelled_failure()) } else { transport.open(&ctx) };
        let link = match result {
            Ok(link) => link,
            Err(f) => {
                conn.cancel.clear();
                let _ = conn.ended.set(f.clone());
                conn.state.store(ST_CLOSED, Ordering::Release);
                if !conn.user_closed.load(Ordering::Acquire) {
                    log::info!("connecting to {} failed: {f}", conn.peer);
                    let (c, ev) = (conn.clone(), conn.events.clone());
                    enqueue(&tx, move || ev.init_done(&c, Err(f)));
                }
                return;
            }
        };
        let _ = conn.sender.set(link.sender.clone());
        conn.cancel.clear();
        if conn.user_closed.load(Ordering::Acquire) {
            link.sender.shutdown();
            return;
        }
        let info = link.info;
        let _ = conn.init.set(info.clone());
        let now = Instant::now();
        let io = IoThread {
            conn,
            tx,
            sender: link.sender,
            receiver: link.receiver,
            liveness: info.liveness,
            last_alive: now,
            last_beat: now,
            next_timer: now,
            incoming: Vec::new(),
            job: Job::default(),
        };
        if io.conn.state.compare_exchange(ST_CONNECTING, ST_READY, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return io.teardown(ConnFailure::local("closed by the user"));
        }
        let (c, ev) = (io.conn.clone(), io.conn.events.clone());
        enqueue(&io.tx, move || ev.init_done(&c, Ok(info)));
        io.main_loop();
    }

    fn main_loop(mut self) {
        loop {
            if self.conn.user_closed.load(Ordering::Acquire) {
                return self.teardown(ConnFailure::local("closed by the user"));
            }
            let mut incoming = std::mem::take(&mut self.incoming);
            let read = self.receiver.recv_batch(&mut incoming);
            let mut answered = false;
            for item in incoming.drain(..) {
                match item {
                    Incoming::Packet { proto_id, serial, body } => answered |= self.dispatch(proto_id, serial, body),
                    // The stream is still in sync: fail only what this packet answers.
                    Incoming::Failed { proto_id, serial, error } => self.failed(proto_id, serial, error),
                    Incoming::Pong => answered = true,
                    Incoming::Alive | Incoming::Idle => {}
                }
            }
            // Liveness is an answer to our keepalive or ping, not any traffic. One clock
            // reading per read, not per packet.
            if answered {
                self.last_alive = Instant::now();
            }
            self.incoming = incoming;
            // What came before a failure is delivered first.
            let step = self.flush_job().and(read.map_err(|f| f.context("connection lost")));
            // Timeouts answered by the timers go out now, not after the next read.
            if let Err(f) = step.and_then(|()| self.timers(true)).and_then(|()| self.flush_job()) {
                return self.teardown(f);
            }
        }
    }

    /// Delivers an answer: at once on this thread for a blocked caller, else in order
    /// with the pushes on the callback thread.
    fn answer(&mut self, serial: u32, entry: PendingEntry, result: Result<Vec<u8>, Error>) {
        match entry.responder {
            Responder::Slot(slot) => slot.fill(result),
            Responder::Callback(respond) => self.job.answer(serial, respond, result),
        }
    }

    /// Routes one packet; `true` if it answers our keepalive.
    fn dispatch(&mut self, proto_id: u32, serial: u32, body: Vec<u8>) -> bool {
        if pb::is_push(proto_id) {
            self.job.push(proto_id, &body);
            return false;
        }
        match self.conn.pending.take((proto_id, serial)) {
            Some(entry) => self.answer(serial, entry, Ok(body)),
            None if proto_id == pb::proto::KeepAlive::PROTO_ID => return true,
            None => log::debug!("dropping unexpected reply proto {proto_id} serial {serial} (late or unknown)"),
        }
        false
    }

    /// Hands what this read brought to the callback thread, once the push capacity has
    /// room for its pushes.
    fn flush_job(&mut self) -> Result<(), ConnFailure> {
        if self.job.deliveries.is_empty() {
            return Ok(());
        }
        if self.job.pushes > 0 {
            let bytes = self.job.measure();
            self.admit_pushes(self.job.pushes, bytes)?;
        }
        let _ = self.tx.send(std::mem::take(&mut self.job));
        Ok(())
    }

    /// Counts `n` more pushes held in `bytes` as queued, first waiting, if the queue is
    /// at its bound (count or bytes), until the callbacks made room: the I/O thread
    /// stops reading only then. Meanwhile timeouts and keepalive go on; the link is not
    /// declared dead for the time the I/O thread itself did not read.
    fn admit_pushes(&mut self, n: usize, bytes: usize) -> Result<(), ConnFailure> {
        let flow = &self.conn.flow;
        if flow.admits(n, bytes, &self.conn.user_closed) {
            flow.count(n, bytes);
            return Ok(());
        }
        log::warn!(
            "connection to {}: the push queue is at its bound ({} pushes, {} bytes; bounds {} pushes, {} bytes): \
             reading paused until the callbacks catch up (replies wait meanwhile)",
            self.conn.peer,
            flow.queued.load(Ordering::SeqCst),
            flow.bytes.load(Ordering::SeqCst),
            flow.capacity,
            flow.byte_capacity
        );
        loop {
            {
                let flow = &self.conn.flow;
                let mut g = flow.lock.lock();
                flow.io_waiting.store(true, Ordering::SeqCst);
                // Checked again after announcing the wait: a release that came before
                // it is seen here, one that comes after it wakes us.
                let admitted = flow.admits(n, bytes, &self.conn.user_closed);
                if !admitted {
                    flow.cv.wait_for(&mut g, self.conn.config.tick.max(Duration::from_millis(1)));
                }
                flow.io_waiting.store(false, Ordering::SeqCst);
                if admitted || flow.admits(n, bytes, &self.conn.user_closed) {
                    flow.count(n, bytes);
                    break;
                }
            }
            self.timers(false)?;
        }
        log::debug!("connection to {}: reading again", self.conn.peer);
        self.last_alive = Instant::now();
        Ok(())
    }

    fn failed(&mut self, proto_id: u32, serial: u32, error: Error) {
        if pb::is_push(proto_id) {
            log::warn!("push {proto_id} dropped: {error}");
            return;
        }
        match self.conn.pending.take((proto_id, serial)) {
            Some(entry) => {
                log::warn!("reply to proto {proto_id} serial {serial} is invalid: {error}");
                self.answer(serial, entry, Err(error));
            }
            None => log::warn!("invalid packet proto {proto_id} serial {serial} dropped: {error}"),
        }
    }

    fn timers(&mut self, check_dead: bool) -> Result<(), ConnFailure> {
        let now = Instant::now();
        if now < self.next_timer {
            return Ok(());
        }
        // A tick too large for an Instant: the timers run on every read instead.
        self.next_timer = now.checked_add(self.conn.config.tick).unwrap_or(now);
        for ((proto_id, serial), entry) in self.conn.pending.take_expired(now) {
            let after = entry.timeout;
            self.answer(serial, entry, Err(Error::Timeout { proto_id, serial, after }));
        }
        let (every, dead_after, ping) = match self.liveness {
            Liveness::KeepAlive { every, dead_after } => (every, dead_after, false),
            Liveness::Ping { every, dead_after } => (every, dead_after, true),
            Liveness::None => return Ok(()),
        };
        if check_dead && now.duration_since(self.last_alive) > dead_after {
            let what = if ping { "ping" } else { "KeepAlive" };
            return Err(ConnFailure::socket(
                SocketFailKind::RecvFailed,
                format!("no answer to our {what} received from OpenD for {dead_after:?} (keepalive timeout)"),
            ));
        }
        if now.duration_since(self.last_beat) >= every {
            // Never wait for another thread's write: if one is in progress, try again on
            // the next tick.
            let sent = if ping {
                self.sender.ping()
            } else {
                let req = keep_alive::Request { c2s: keep_alive::C2s { time: unix_now() } };
                let serial = self.conn.serials.next();
                self.sender.try_send(pb::proto::KeepAlive::PROTO_ID, serial, &mut |buf| req.encode_raw(buf))
            };
            match sent {
                Some(Ok(())) => self.last_beat = now,
                Some(Err(e)) => {
                    return Err(ConnFailure::io(SocketFailKind::SendFailed, "sending KeepAlive failed", &e))
                }
                None => log::trace!("keepalive postponed: another thread is writing"),
            }
        }
        Ok(())
    }

    fn teardown(mut self, failure: ConnFailure) {
        let was_ready = self.conn.state.swap(ST_CLOSED, Ordering::AcqRel) == ST_READY;
        self.sender.shutdown();
        let user = self.conn.user_closed.load(Ordering::Acquire);
        let ended = if user { ConnFailure::local("closed by the user") } else { failure.clone() };
        let _ = self.conn.ended.set(ended.clone());
        for ((proto_id, serial), entry) in self.conn.pending.drain() {
            self.answer(serial, entry, Err(Error::Disconnected { proto_id, serial, failure: ended.clone() }));
        }
        if was_ready && !user {
            log::info!("connection to {} lost: {ended}", self.conn.peer);
            let (c, ev) = (self.conn.clone(), self.conn.events.clone());
            self.job.deliveries.push(Delivery::Event(Box::new(move || ev.lost(&c, failure))));
        }
        // Whatever is still queued for this read, then the answers and `lost`, in order;
        // after a teardown pushes no longer wait for room.
        if !self.job.deliveries.is_empty() {
            if self.job.pushes > 0 {
                let bytes = self.job.measure();
                self.conn.flow.count(self.job.pushes, bytes);
            }
            let _ = self.tx.send(std::mem::take(&mut self.job));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::deadline_after;
    use crate::conn::memory::MemoryTransport;
    use crate::conn::ReplySlot;
    use crate::pb::ResponseEnvelope;

    struct NoEvents;

    impl ConnEvents for NoEvents {
        fn init_done(&self, _conn: &Arc<Connection>, _result: Result<InitInfo, ConnFailure>) {}
        fn push(&self, _conn: &Arc<Connection>, pushes: &mut PushRun<'_>) {
            for _ in pushes {}
        }
        fn lost(&self, _conn: &Arc<Connection>, _failure: ConnFailure) {}
    }

    fn send(conn: &Connection, slot: &Arc<ReplySlot>) -> u32 {
        conn.request(1002, None, false, &mut |_buf, _serial| {}, Responder::Slot(slot.clone())).expect("sent")
    }

    #[test]
    fn wrapped_serials_never_replace_a_live_request() {
        let (transport, peer) = MemoryTransport::pair();
        let serials = Arc::new(Serials::default());
        let conn = Connection::start(Box::new(transport), ConnConfig::default(), serials.clone(), Arc::new(NoEvents))
            .expect("started");
        assert!(peer.wait_open(Duration::from_secs(20)));
        peer.accept(InitInfo::new(1));
        let t0 = Instant::now();
        while conn.state() != ConnState::Ready {
            assert!(t0.elapsed() < Duration::from_secs(20), "ready");
            std::thread::sleep(Duration::from_millis(1));
        }
        let first = Arc::new(ReplySlot::new());
        assert_eq!(send(&conn, &first), 1);
        // The counter wraps: u32::MAX, then 0 (never used), then 1 (still waiting).
        serials.set_next(u32::MAX);
        let last = Arc::new(ReplySlot::new());
        assert_eq!(send(&conn, &last), u32::MAX);
        let wrapped = Arc::new(ReplySlot::new());
        assert_eq!(send(&conn, &wrapped), 2, "serial 1 is still waiting: skipped");
        assert_eq!(conn.pending_len(), 3);
        // The first request still gets its own reply.
        let ok = |ver: i32| {
            pb::get_global_state::Response::build(
                0,
                None,
                None,
                Some(pb::get_global_state::S2c { server_ver: ver, ..Default::default() }),
            )
            .encode_to_vec()
        };
        peer.send_packet(1002, 1, ok(11));
        let got = first
            .wait(&SpinPolicy::new(Duration::ZERO), deadline_after(Duration::from_secs(20)))
            .expect("answered")
            .expect("ok");
        assert_eq!(got, ok(11));
        conn.close();
        for slot in [last, wrapped] {
            let r =
                slot.wait(&SpinPolicy::new(Duration::ZERO), deadline_after(Duration::from_secs(20))).expect("answered");
            assert!(matches!(r, Err(Error::Disconnected { .. })));
        }
    }
}
