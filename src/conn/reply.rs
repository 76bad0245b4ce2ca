//! The hand-off of one reply from the I/O thread to the thread blocked in a call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::Error;

/// A one-shot cell for the answer to one blocking call. The I/O thread fills it; the
/// calling thread first spins on it for a short while (a reply on loopback takes a few
/// microseconds, less than parking and being woken), then parks until it is filled.
pub(crate) struct ReplySlot {
    ready: AtomicBool,
    value: Mutex<Option<Result<Vec<u8>, Error>>>,
    waiter: Thread,
}

impl ReplySlot {
    /// A slot that the current thread will wait on.
    pub(crate) fn new() -> ReplySlot {
        ReplySlot { ready: AtomicBool::new(false), value: Mutex::new(None), waiter: std::thread::current() }
    }

    /// Stores the answer and wakes the waiter (no system call if it is still spinning).
    pub(crate) fn fill(&self, answer: Result<Vec<u8>, Error>) {
        *self.value.lock() = Some(answer);
        self.ready.store(true, Ordering::Release);
        self.waiter.unpark();
    }

    /// Waits for the answer: spins for up to `spin`, then parks until `deadline`
    /// (`None`: no deadline). `None` if the deadline passed first.
    pub(crate) fn wait(&self, spin: Duration, deadline: Option<Instant>) -> Option<Result<Vec<u8>, Error>> {
        if !spin.is_zero() {
            let until = super::connection::deadline_after(spin.min(Duration::from_secs(1)))?;
            'spin: loop {
                for _ in 0..64 {
                    if self.ready.load(Ordering::Acquire) {
                        break 'spin;
                    }
                    std::hint::spin_loop();
                }
                if Instant::now() >= until {
                    break;
                }
            }
        }
        loop {
            if self.ready.load(Ordering::Acquire) {
                return self.value.lock().take();
            }
            let now = Instant::now();
            // Spurious wake-ups (and unpark tokens left by earlier slots) just loop.
            match deadline {
                Some(d) if now >= d => return None,
                Some(d) => std::thread::park_timeout(d - now),
                None => std::thread::park(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn an_answer_from_another_thread_reaches_a_parked_waiter() {
        for spin in [Duration::ZERO, Duration::from_micros(50)] {
            let slot = Arc::new(ReplySlot::new());
            let s = slot.clone();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                s.fill(Ok(vec![1, 2, 3]));
            });
            let got = slot.wait(spin, Some(Instant::now() + Duration::from_secs(10)));
            assert_eq!(got.expect("answered").expect("ok"), vec![1, 2, 3]);
            t.join().expect("join");
        }
    }

    #[test]
    fn an_unanswered_slot_gives_up_at_the_deadline() {
        let slot = ReplySlot::new();
        assert!(slot.wait(Duration::from_micros(10), Some(Instant::now() + Duration::from_millis(30))).is_none());
        // No deadline: waits until filled (Duration::MAX means "no timeout").
        let slot = Arc::new(ReplySlot::new());
        let s = slot.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            s.fill(Ok(vec![9]));
        });
        assert_eq!(slot.wait(Duration::ZERO, None).expect("answered").expect("ok"), vec![9]);
        t.join().expect("join");
    }
}
