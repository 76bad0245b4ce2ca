//! Coalesced writes of one TCP link: the outbox every sealed packet goes through.
//!
//! Packets are appended to one buffer; whoever finds no write in progress becomes the
//! writer and writes the whole buffer in one call, then **drains what others appended
//! meanwhile** before giving the role up, all decided under one mutex. A thread that
//! finds a write in progress only appends and returns: the writer in progress writes
//! its packet before it stops. So a packet never waits for a later one, and concurrent
//! senders share `write` calls instead of queueing on a lock.
//!
//! Deferral: when many requests are in flight and their replies are streaming in (at
//! least [`DEFER_MIN_IN_FLIGHT`] packets written and not yet matched by packets read,
//! the last read less than [`STREAMING`] ago) a non-secret packet is left in the buffer
//! (up to [`DEFER_MAX_BYTES`]) for the I/O thread, which drains the outbox after every
//! read ([`Outbox::after_read`]): a pipelining sender then costs one `write` per read
//! batch instead of one per request. The decision and the I/O thread's drain take the
//! same mutex, and packets are counted as written before they are written, so a
//! deferred packet always has replies still to come whose read flushes it (or the next
//! tick's). The I/O thread never blocks on the socket: its drain writes only what the
//! socket takes at once and leaves the rest for the next read, tick or sender.
//!
//! A write error shuts the socket down (the I/O thread then fails every pending
//! request, including those whose packets were queued behind the failed write).

use std::io;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

/// Below this many unanswered packets, packets are written at once.
pub(crate) const DEFER_MIN_IN_FLIGHT: usize = 16;
/// A buffer this large is written at once.
pub(crate) const DEFER_MAX_BYTES: usize = 64 * 1024;
/// Replies count as streaming in if the last read was less than this ago.
pub(crate) const STREAMING: Duration = Duration::from_micros(100);

/// Where the outbox writes (the socket; a fake in tests).
pub(crate) trait Wire {
    /// Writes all of `buf`, blocking as long as needed (up to the write timeout).
    fn write_all(&self, buf: &[u8]) -> io::Result<()>;
    /// Writes what the socket takes without blocking; returns how much.
    fn write_nonblocking(&self, buf: &[u8]) -> io::Result<usize>;
    /// Shuts the connection down after a write error.
    fn shutdown(&self);
}

impl Wire for std::net::TcpStream {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        io::Write::write_all(&mut &*self, buf)
    }

    /// Only called by the I/O thread while it holds the writer role: no other thread
    /// writes meanwhile, and the I/O thread is the only reader, so switching the shared
    /// socket to non-blocking for this call affects no one else.
    fn write_nonblocking(&self, buf: &[u8]) -> io::Result<usize> {
        self.set_nonblocking(true)?;
        let mut done = 0;
        let res = loop {
            if done == buf.len() {
                break Ok(done);
            }
            match io::Write::write(&mut &*self, &buf[done..]) {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(done),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let back = self.set_nonblocking(false);
        res.and_then(|n| back.map(|()| n))
    }

    fn shutdown(&self) {
        let _ = std::net::TcpStream::shutdown(self, std::net::Shutdown::Both);
    }
}

/// The packets waiting to be written and who writes them.
pub(crate) struct Outbox {
    state: Mutex<State>,
    epoch: Instant,
}

#[derive(Default)]
struct State {
    buf: Vec<u8>,
    /// Packets in `buf`.
    packets: usize,
    /// `buf` holds a packet that must be wiped once written.
    secret: bool,
    /// A thread is writing; it drains `buf` before clearing this.
    writing: bool,
    /// Packets handed to the socket minus packets read (replies and pushes), at least 0.
    unanswered: usize,
    /// When the I/O thread last read, in ns since `epoch`.
    last_read_ns: u64,
    /// A spare buffer (the capacity of the last one written).
    spare: Vec<u8>,
}

/// How the writer writes.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// A user thread: blocks until everything is written.
    Blocking,
    /// The I/O thread: only what the socket takes at once.
    NonBlocking,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox { state: Mutex::new(State::default()), epoch: Instant::now() }
    }
}

impl Outbox {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64
    }

    /// Queues `packet` and writes it (with whatever else is queued) unless a write is
    /// in progress, which will then write it, or it may be deferred (see the module
    /// doc). `wipe`: the packet holds secrets; its bytes are zeroed once written.
    /// Blocks while writing.
    pub(crate) fn send(&self, wire: &dyn Wire, packet: &[u8], wipe: bool) -> io::Result<()> {
        let mut st = self.state.lock();
        st.buf.extend_from_slice(packet);
        st.packets += 1;
        st.secret |= wipe;
        if st.writing {
            return Ok(());
        }
        if !st.secret
            && st.unanswered >= DEFER_MIN_IN_FLIGHT
            && st.buf.len() < DEFER_MAX_BYTES
            && self.now_ns().saturating_sub(st.last_read_ns) < STREAMING.as_nanos() as u64
        {
            return Ok(());
        }
        st.writing = true;
        self.drain(st, wire, Mode::Blocking)
    }

    /// [`send`](Self::send) for the I/O thread: never blocks on the socket (what it
    /// does not take stays queued for the next read or tick).
    pub(crate) fn send_nonblocking(&self, wire: &dyn Wire, packet: &[u8]) -> io::Result<()> {
        let mut st = self.state.lock();
        st.buf.extend_from_slice(packet);
        st.packets += 1;
        if st.writing {
            return Ok(());
        }
        st.writing = true;
        self.drain(st, wire, Mode::NonBlocking)
    }

    /// Called by the I/O thread after each read (`packets` whole packets read; 0 for a
    /// read that timed out): updates the count of unanswered packets and writes what is
    /// queued without blocking, unless a write is in progress.
    pub(crate) fn after_read(&self, wire: &dyn Wire, packets: usize) -> io::Result<()> {
        let mut st = self.state.lock();
        st.unanswered = st.unanswered.saturating_sub(packets);
        if packets > 0 {
            st.last_read_ns = self.now_ns();
        }
        if st.writing || st.buf.is_empty() {
            return Ok(());
        }
        st.writing = true;
        self.drain(st, wire, Mode::NonBlocking)
    }

    /// The writer's loop: writes the buffer until it is found empty after a write.
    /// Called with `writing` set by the caller.
    fn drain<'a>(&'a self, mut st: MutexGuard<'a, State>, wire: &dyn Wire, mode: Mode) -> io::Result<()> {
        loop {
            if st.buf.is_empty() {
                st.writing = false;
                return Ok(());
            }
            let spare = std::mem::take(&mut st.spare);
            let mut chunk = std::mem::replace(&mut st.buf, spare);
            let secret = std::mem::take(&mut st.secret);
            // Counted before the write: a reply can never be read before its request
            // is counted, so `unanswered` never overstates what is in flight.
            st.unanswered += std::mem::take(&mut st.packets);
            drop(st);
            let res = match mode {
                Mode::Blocking => wire.write_all(&chunk).map(|()| chunk.len()),
                Mode::NonBlocking => wire.write_nonblocking(&chunk),
            };
            st = self.state.lock();
            match res {
                Ok(n) if n == chunk.len() => {}
                Ok(n) => {
                    // The socket is full: the rest goes first, for the next read, tick
                    // or sender (it is already counted).
                    let rest = chunk.split_off(n);
                    let later = std::mem::replace(&mut st.buf, rest);
                    st.buf.extend_from_slice(&later);
                    st.secret |= secret;
                    st.writing = false;
                    wipe_if(&mut chunk, secret);
                    return Ok(());
                }
                Err(e) => {
                    st.writing = false;
                    let lost_secret = std::mem::take(&mut st.secret);
                    wipe_if(&mut st.buf, lost_secret);
                    st.buf.clear();
                    st.packets = 0;
                    drop(st);
                    wipe_if(&mut chunk, secret);
                    wire.shutdown();
                    return Err(e);
                }
            }
            wipe_if(&mut chunk, secret);
            chunk.clear();
            if chunk.capacity() <= 4 * DEFER_MAX_BYTES {
                st.spare = chunk;
            }
        }
    }

    /// Bytes queued and not yet written (for tests).
    #[cfg(test)]
    fn queued(&self) -> usize {
        self.state.lock().buf.len()
    }
}

fn wipe_if(buf: &mut Vec<u8>, secret: bool) {
    if secret {
        zeroize::Zeroize::zeroize(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// A wire that records what it is given, slowly, so that writers overlap.
    #[derive(Default)]
    struct Recorder {
        out: Mutex<Vec<u8>>,
        writes: std::sync::atomic::AtomicUsize,
        in_write: AtomicBool,
    }

    impl Wire for Recorder {
        fn write_all(&self, buf: &[u8]) -> io::Result<()> {
            assert!(!self.in_write.swap(true, Ordering::SeqCst), "two writers at once");
            std::thread::sleep(Duration::from_micros(50));
            self.out.lock().extend_from_slice(buf);
            self.writes.fetch_add(1, Ordering::Relaxed);
            self.in_write.store(false, Ordering::SeqCst);
            Ok(())
        }
        fn write_nonblocking(&self, buf: &[u8]) -> io::Result<usize> {
            self.write_all(buf).map(|()| buf.len())
        }
        fn shutdown(&self) {}
    }

    fn packet(thread: u8, i: u16) -> [u8; 4] {
        let [a, b] = i.to_le_bytes();
        [0xA5, thread, a, b]
    }

    #[test]
    fn racing_senders_never_strand_a_packet_and_share_writes() {
        const THREADS: u8 = 4;
        const EACH: u16 = 300;
        let outbox = Arc::new(Outbox::default());
        let wire = Arc::new(Recorder::default());
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (outbox, wire) = (outbox.clone(), wire.clone());
                std::thread::spawn(move || {
                    for i in 0..EACH {
                        outbox.send(&*wire, &packet(t, i), false).expect("send");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("sender");
        }
        // Every send has returned and nothing is in flight (no reads: never deferred),
        // so every packet must be on the wire, exactly once, in each thread's order.
        assert_eq!(outbox.queued(), 0, "a packet was left in the outbox");
        let out = wire.out.lock();
        assert_eq!(out.len(), 4 * usize::from(THREADS) * usize::from(EACH));
        let mut next = [0u16; THREADS as usize];
        for p in out.chunks_exact(4) {
            assert_eq!(p[0], 0xA5, "packets are never split");
            let t = usize::from(p[1]);
            assert_eq!(u16::from_le_bytes([p[2], p[3]]), next[t], "in order per sender");
            next[t] += 1;
        }
        let writes = wire.writes.load(Ordering::Relaxed);
        assert!(writes < out.len() / 4, "concurrent senders shared writes ({writes} writes)");
    }

    /// A wire whose first write waits until the test lets it go.
    struct Gate {
        first: AtomicBool,
        entered: crossbeam_channel::Sender<()>,
        go: crossbeam_channel::Receiver<()>,
        out: Mutex<Vec<u8>>,
    }
    impl Wire for Gate {
        fn write_all(&self, buf: &[u8]) -> io::Result<()> {
            if self.first.swap(false, Ordering::SeqCst) {
                self.entered.send(()).expect("the test waits");
                self.go.recv_timeout(Duration::from_secs(10)).expect("released");
            }
            self.out.lock().extend_from_slice(buf);
            Ok(())
        }
        fn write_nonblocking(&self, buf: &[u8]) -> io::Result<usize> {
            self.write_all(buf).map(|()| buf.len())
        }
        fn shutdown(&self) {}
    }

    #[test]
    fn a_packet_queued_during_a_write_is_written_by_that_writer() {
        let (entered, in_write) = crossbeam_channel::bounded(1);
        let (release, go) = crossbeam_channel::bounded(1);
        let wire = Arc::new(Gate { first: AtomicBool::new(true), entered, go, out: Mutex::new(Vec::new()) });
        let outbox = Arc::new(Outbox::default());
        let (o, w) = (outbox.clone(), wire.clone());
        let writer = std::thread::spawn(move || o.send(&*w, &[1], false));
        in_write.recv_timeout(Duration::from_secs(10)).expect("the first sender is writing");
        // A second sender meanwhile only queues its packet and returns at once.
        outbox.send(&*wire, &[2], false).expect("send");
        assert_eq!(outbox.queued(), 1);
        release.send(()).expect("release");
        writer.join().expect("writer").expect("send");
        // The first sender wrote the second packet before it gave the role up.
        assert_eq!(outbox.queued(), 0, "the packet queued during the write was stranded");
        assert_eq!(*wire.out.lock(), vec![1, 2]);
    }

    #[test]
    fn a_deferred_packet_is_written_by_the_next_read() {
        let outbox = Outbox::default();
        let wire = Recorder::default();
        for i in 0..DEFER_MIN_IN_FLIGHT as u16 {
            outbox.send(&wire, &packet(0, i), false).expect("send");
        }
        assert_eq!(outbox.queued(), 0, "few in flight: written at once");
        // Replies are streaming in (a read just happened) and 16 are in flight: deferred.
        outbox.after_read(&wire, 0).expect("read");
        outbox.state.lock().last_read_ns = outbox.now_ns();
        outbox.send(&wire, &packet(0, 100), false).expect("send");
        outbox.send(&wire, &packet(0, 101), false).expect("send");
        assert_eq!(outbox.queued(), 8, "deferred while replies stream in");
        // A secret packet is never deferred, and takes the queue with it.
        outbox.send(&wire, &packet(0, 102), true).expect("send");
        assert_eq!(outbox.queued(), 0);
        outbox.state.lock().last_read_ns = outbox.now_ns();
        outbox.send(&wire, &packet(0, 103), false).expect("send");
        assert_eq!(outbox.queued(), 4);
        // The next read writes it.
        outbox.after_read(&wire, 1).expect("read");
        assert_eq!(outbox.queued(), 0, "the read flushed the deferred packet");
        assert_eq!(wire.out.lock().len(), 4 * (DEFER_MIN_IN_FLIGHT + 4));
        // Without recent reads nothing is deferred.
        outbox.state.lock().last_read_ns = 0;
        std::thread::sleep(STREAMING * 2);
        outbox.send(&wire, &packet(0, 104), false).expect("send");
        assert_eq!(outbox.queued(), 0);
    }

    /// A wire that fails every write.
    struct Broken(AtomicBool);
    impl Wire for Broken {
        fn write_all(&self, _buf: &[u8]) -> io::Result<()> {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
        }
        fn write_nonblocking(&self, _buf: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
        }
        fn shutdown(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_failed_write_shuts_the_wire_down_and_reports_the_error() {
        let outbox = Outbox::default();
        let wire = Broken(AtomicBool::new(false));
        assert!(outbox.send(&wire, &packet(0, 1), true).is_err());
        assert!(wire.0.load(Ordering::SeqCst));
        assert_eq!(outbox.queued(), 0);
        assert!(!outbox.state.lock().writing, "the writer role is given back");
    }

    /// A wire that takes only a few bytes per non-blocking write.
    #[derive(Default)]
    struct Narrow(Mutex<Vec<u8>>);
    impl Wire for Narrow {
        fn write_all(&self, buf: &[u8]) -> io::Result<()> {
            self.0.lock().extend_from_slice(buf);
            Ok(())
        }
        fn write_nonblocking(&self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.lock().extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn shutdown(&self) {}
    }

    #[test]
    fn the_io_threads_partial_write_keeps_the_rest_in_order() {
        let outbox = Outbox::default();
        let wire = Narrow::default();
        outbox.send_nonblocking(&wire, &[1, 2, 3, 4, 5]).expect("send");
        assert_eq!(outbox.queued(), 2);
        outbox.send_nonblocking(&wire, &[6, 7]).expect("send");
        outbox.after_read(&wire, 0).expect("read");
        outbox.send(&wire, &[8], false).expect("send");
        assert_eq!(outbox.queued(), 0);
        assert_eq!(*wire.0.lock(), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
