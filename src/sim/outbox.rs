//! One connection's outgoing queue, shared by both ports: bounded in bytes, written by
//! one writer at a time, so that no thread but the connection's own ever waits for its
//! socket.
//!
//! Whoever has something to send (the session's reader with its replies, the broker's
//! and the market data's push threads, a test) seals it and [`Outbox::push`]es it, in
//! wire order. Pushing never blocks: a connection whose queue would grow past its bound
//! is refused (and closed by its session, with a log line), whatever the others do.
//! The bytes go out on
//! - the connection's writer thread ([`Outbox::run_writer`]), woken by a push, or
//! - the reader's own thread ([`Outbox::drain_here`]) after it queued the replies of
//!   one read, if no write is in progress: the common case costs no thread hop, and the
//!   replies of one read still leave in one write.
//!
//! Whichever writes takes everything queued at once (one write per batch), marks the
//! queue busy, and writes without the lock. The time the current write started is kept
//! for the server's watchdog, which closes a connection whose write has not finished
//! within the write timeout: an overall deadline, not restarted by partial progress.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// Something that can be queued: its size against the bound, and how it merges with
/// the item before it.
pub(crate) trait Item: Sized {
    /// Bytes it counts against the bound.
    fn size(&self) -> usize;
    /// Appends `next` to `self` if both can go out as one write; gives it back if not.
    fn merge(&mut self, next: Self) -> Option<Self>;
}

/// Why [`Outbox::push`] refused an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The connection is closed (or closing after a fault).
    Closed,
    /// The queue would hold more than its bound: `queued` bytes are waiting.
    Full { queued: usize },
}

struct Queue<T> {
    items: VecDeque<T>,
    bytes: usize,
    /// A write is in progress (on the writer thread or the reader's).
    busy: bool,
    /// Nothing more is accepted; what is queued is still written.
    sealed: bool,
    /// Nothing more is written.
    closed: bool,
}

/// A bounded outgoing queue (see the module documentation).
pub(crate) struct Outbox<T> {
    q: Mutex<Queue<T>>,
    /// The writer thread waits here for work.
    work: Condvar,
    /// Woken after every write: for those waiting for the queue to shrink.
    idle: Condvar,
    limit: usize,
    epoch: Instant,
    /// When the current write started, in microseconds since `epoch` plus one; 0 when
    /// no write is in progress.
    busy_since: AtomicU64,
}

impl<T: Item> Outbox<T> {
    /// An empty queue holding at most `limit` bytes (at least one item is always
    /// accepted into an empty queue).
    pub(crate) fn new(limit: usize) -> Self {
        Outbox {
            q: Mutex::new(Queue { items: VecDeque::new(), bytes: 0, busy: false, sealed: false, closed: false }),
            work: Condvar::new(),
            idle: Condvar::new(),
            limit,
            epoch: Instant::now(),
            busy_since: AtomicU64::new(0),
        }
    }

    fn enqueue(&self, item: T, wake: bool) -> Result<(), Refused> {
        let mut q = self.q.lock();
        if q.closed || q.sealed {
            return Err(Refused::Closed);
        }
        let size = item.size();
        if q.bytes > 0 && q.bytes + size > self.limit {
            return Err(Refused::Full { queued: q.bytes });
        }
        q.bytes += size;
        let rest = match q.items.back_mut() {
            Some(last) => last.merge(item),
            None => Some(item),
        };
        if let Some(item) = rest {
            q.items.push_back(item);
        }
        let wake = wake && !q.busy;
        drop(q);
        if wake {
            self.work.notify_one();
        }
        Ok(())
    }

    /// Queues `item` and wakes the writer thread. Never blocks on the socket.
    pub(crate) fn push(&self, item: T) -> Result<(), Refused> {
        self.enqueue(item, true)
    }

    /// Queues `item` without waking the writer thread: the caller (the reader, which
    /// batches the replies of one read) calls [`Outbox::drain_here`] afterwards.
    pub(crate) fn push_quiet(&self, item: T) -> Result<(), Refused> {
        self.enqueue(item, false)
    }

    /// Queues `item` and accepts nothing after it (a fault that closes the connection
    /// once it has been written).
    pub(crate) fn push_last(&self, item: T) -> Result<(), Refused> {
        self.enqueue(item, true)?;
        self.q.lock().sealed = true;
        Ok(())
    }

    /// Takes the queue for one write: `None` if empty, busy or closed.
    fn take(&self, q: &mut Queue<T>) -> Option<VecDeque<T>> {
        if q.closed || q.busy || q.items.is_empty() {
            return None;
        }
        q.busy = true;
        q.bytes = 0;
        let since = self.epoch.elapsed().as_micros().min(u128::from(u64::MAX - 1)) as u64 + 1;
        self.busy_since.store(since, Ordering::Release);
        Some(std::mem::take(&mut q.items))
    }

    /// Ends a write started by `take`.
    fn done(&self, q: &mut Queue<T>) {
        q.busy = false;
        self.busy_since.store(0, Ordering::Release);
        self.idle.notify_all();
    }

    /// Writes what is queued on the calling thread, unless a write is already in
    /// progress (that writer takes the rest). `write` returns `false` when the
    /// connection failed; so does this.
    pub(crate) fn drain_here(&self, write: &mut dyn FnMut(VecDeque<T>) -> bool) -> bool {
        let mut q = self.q.lock();
        loop {
            let Some(batch) = self.take(&mut q) else {
                return !q.closed;
            };
            drop(q);
            let ok = write(batch);
            q = self.q.lock();
            self.done(&mut q);
            if !ok {
                return false;
            }
        }
    }

    /// The writer thread's loop: waits for work and writes it until the queue is
    /// closed or `write` fails.
    pub(crate) fn run_writer(&self, write: &mut dyn FnMut(VecDeque<T>) -> bool) {
        let mut q = self.q.lock();
        loop {
            if q.closed {
                return;
            }
            let Some(batch) = self.take(&mut q) else {
                self.work.wait(&mut q);
                continue;
            };
            drop(q);
            let ok = write(batch);
            q = self.q.lock();
            self.done(&mut q);
            if !ok {
                return;
            }
        }
    }

    /// Waits until at most `bytes` are queued (not counting a write in progress), or
    /// the queue closes (`false`). For floods, which must follow the socket's pace.
    pub(crate) fn wait_below(&self, bytes: usize) -> bool {
        let mut q = self.q.lock();
        while !q.closed && q.bytes > bytes {
            self.wake_writer(&q);
            self.idle.wait(&mut q);
        }
        !q.closed
    }

    /// Wakes the writer thread if something queued quietly waits for it.
    fn wake_writer(&self, q: &Queue<T>) {
        if !q.busy && !q.items.is_empty() {
            self.work.notify_one();
        }
    }

    /// Waits until everything queued has been written, for at most `timeout`. `true`
    /// if it has.
    pub(crate) fn wait_drained(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut q = self.q.lock();
        while !q.closed && (q.busy || !q.items.is_empty()) {
            self.wake_writer(&q);
            if self.idle.wait_until(&mut q, deadline).timed_out() {
                return false;
            }
        }
        q.items.is_empty()
    }

    /// Accepts and writes nothing more; drops what is queued and wakes every waiter.
    pub(crate) fn close(&self) {
        let mut q = self.q.lock();
        q.closed = true;
        q.items.clear();
        q.bytes = 0;
        drop(q);
        self.work.notify_all();
        self.idle.notify_all();
    }

    /// How long the write in progress has been running, if one is.
    pub(crate) fn stalled_for(&self, now: Instant) -> Option<Duration> {
        match self.busy_since.load(Ordering::Acquire) {
            0 => None,
            t => Some(now.saturating_duration_since(self.epoch + Duration::from_micros(t - 1))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    impl Item for Vec<u8> {
        fn size(&self) -> usize {
            self.len()
        }
        fn merge(&mut self, next: Self) -> Option<Self> {
            self.extend_from_slice(&next);
            None
        }
    }

    #[test]
    fn bounded_in_bytes_and_merged_in_order() {
        let out = Outbox::<Vec<u8>>::new(8);
        out.push_quiet(vec![1, 2, 3]).unwrap();
        out.push_quiet(vec![4, 5, 6]).unwrap();
        assert_eq!(out.push_quiet(vec![7, 8, 9]), Err(Refused::Full { queued: 6 }));
        let mut seen = Vec::new();
        assert!(out.drain_here(&mut |b: VecDeque<Vec<u8>>| {
            seen.extend(b);
            true
        }));
        assert_eq!(seen, vec![vec![1, 2, 3, 4, 5, 6]]);
        // An item larger than the bound still goes into an empty queue.
        out.push_quiet(vec![0; 20]).unwrap();
        out.push_last(vec![1]).unwrap_err();
    }

    #[test]
    fn writer_thread_drains_and_stall_is_measured() {
        let out = Arc::new(Outbox::<Vec<u8>>::new(1 << 20));
        let (tx, rx) = std::sync::mpsc::channel();
        let o = out.clone();
        let writer = std::thread::spawn(move || {
            o.run_writer(&mut |b: VecDeque<Vec<u8>>| {
                std::thread::sleep(Duration::from_millis(200));
                tx.send(b.into_iter().flatten().collect::<Vec<u8>>()).is_ok()
            })
        });
        out.push(vec![1]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while out.stalled_for(Instant::now()).is_none() {
            assert!(Instant::now() < deadline, "the writer thread never started writing");
            std::thread::yield_now();
        }
        out.push(vec![2]).unwrap();
        out.push(vec![3]).unwrap();
        assert!(out.wait_drained(Duration::from_secs(5)));
        assert_eq!(out.stalled_for(Instant::now()), None);
        let got: Vec<u8> = rx.try_iter().flatten().collect();
        assert_eq!(got, vec![1, 2, 3]);
        out.close();
        writer.join().unwrap();
        assert_eq!(out.push(vec![4]), Err(Refused::Closed));
    }
}
