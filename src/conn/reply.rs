//! The hand-off of one reply from the I/O thread to the thread blocked in a call, and
//! the policy deciding whether that thread spins before it parks.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::Error;

/// Whether a blocking call spins before it parks, per connection (see
/// [`ConnConfig::reply_spin`](crate::ConnConfig::reply_spin)).
///
/// A call spins for up to the budget only while the calls of this connection that spun
/// recently got their replies within the budget (an exponentially weighted moving
/// average of their round trips, from sending the request to the I/O thread handing
/// over the reply, weight 1/8 per call, each sample capped at 4× the budget), and only
/// while fewer callers of the whole process spin than there are CPUs minus one (at
/// least one). Otherwise it parks at once: against a slow server every call would burn
/// the whole budget and park anyway.
///
/// Only calls that spun are measured. The round trip of a parked call includes the
/// wake-ups of threads whose CPUs went idle meanwhile (tens of microseconds on a VM), so
/// a fast server looks slow to parked calls, and they would keep each other parked.
/// Instead, one call in [`PROBE_EVERY`] of a connection that parks spins anyway; a
/// probe answered within the budget starts the average afresh from its round trip.
#[derive(Debug)]
pub(crate) struct SpinPolicy {
    budget: Duration,
    /// The moving average of the round trips of calls that spun, in nanoseconds (0
    /// before the first call).
    avg_ns: AtomicU64,
    /// Calls parked at once since the last spin (counts towards the next probe).
    parked: AtomicU32,
}

/// While a connection's calls park at once, one call in this many spins anyway, to see
/// whether the server is fast again (against a slow server that costs one budget of
/// spinning per this many calls).
pub(crate) const PROBE_EVERY: u32 = 64;

/// Callers currently spinning, in the whole process.
static SPINNING: AtomicUsize = AtomicUsize::new(0);

/// How many callers may spin at once: the CPUs minus one for the I/O thread that must
/// deliver their replies, at least one.
fn max_spinners() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)))
}

/// A place among the spinning callers counted by `.0`, given back on drop.
struct SpinTicket<'a>(&'a AtomicUsize);

impl SpinTicket<'_> {
    /// A place if fewer than `max` are taken.
    fn take(spinning: &AtomicUsize, max: usize) -> Option<SpinTicket<'_>> {
        spinning
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| SpinTicket(spinning))
    }
}

impl Drop for SpinTicket<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SpinPolicy {
    /// A policy spinning for up to `budget` (`Duration::ZERO`: never).
    pub(crate) fn new(budget: Duration) -> SpinPolicy {
        SpinPolicy { budget, avg_ns: AtomicU64::new(0), parked: AtomicU32::new(0) }
    }

    /// The budget in nanoseconds (bounded so that 4× and 8× it cannot overflow).
    fn budget_ns(&self) -> u64 {
        self.budget.as_nanos().min(u128::from(u64::MAX / 8)) as u64
    }

    /// How long the next call may spin: the budget while the recent calls that spun
    /// were answered within it, and for one probe in [`PROBE_EVERY`] calls otherwise;
    /// else zero.
    fn spin_for(&self) -> Duration {
        let budget = self.budget_ns();
        if budget == 0 {
            return Duration::ZERO;
        }
        if self.avg_ns.load(Ordering::Relaxed) < budget {
            return self.budget;
        }
        if self.parked.fetch_add(1, Ordering::Relaxed) + 1 >= PROBE_EVERY {
            self.parked.store(0, Ordering::Relaxed);
            return self.budget;
        }
        Duration::ZERO
    }

    /// Adds the round trip of a call that spun (racing updates may lose a sample;
    /// harmless). A probe answered within the budget, on a connection whose average says
    /// it is slow, restarts the average from its own round trip.
    fn record(&self, rtt_ns: u64) {
        let budget = self.budget_ns();
        let avg = self.avg_ns.load(Ordering::Relaxed);
        if avg >= budget && rtt_ns < budget {
            self.avg_ns.store(rtt_ns, Ordering::Relaxed);
            return;
        }
        let sample = rtt_ns.min(budget.saturating_mul(4)) as i64;
        let avg = avg as i64;
        let next = avg + (sample - avg) / 8;
        self.avg_ns.store(next.max(0) as u64, Ordering::Relaxed);
    }

    /// A call got no reply in time: counted as slow as a sample can be.
    fn timed_out(&self) {
        self.avg_ns.store(self.budget_ns().saturating_mul(4), Ordering::Relaxed);
    }

    /// The current average round trip (for tests).
    #[cfg(test)]
    fn average(&self) -> Duration {
        Duration::from_nanos(self.avg_ns.load(Ordering::Relaxed))
    }
}

/// A one-shot cell for the answer to one blocking call. The I/O thread fills it; the
/// calling thread spins on it for a short while if the [`SpinPolicy`] says so (a reply
/// on loopback takes a few microseconds, less than parking and being woken), then parks
/// until it is filled.
pub(crate) struct ReplySlot {
    ready: AtomicBool,
    value: Mutex<Option<Result<Vec<u8>, Error>>>,
    waiter: Thread,
    /// When the call started (the slot is made just before the request is sent).
    started: Instant,
    /// Nanoseconds from `started` to the fill.
    rtt_ns: AtomicU64,
}

impl ReplySlot {
    /// A slot that the current thread will wait on; make it just before sending.
    pub(crate) fn new() -> ReplySlot {
        ReplySlot {
            ready: AtomicBool::new(false),
            value: Mutex::new(None),
            waiter: std::thread::current(),
            started: Instant::now(),
            rtt_ns: AtomicU64::new(0),
        }
    }

    /// Stores the answer and wakes the waiter (no system call if it is still spinning).
    pub(crate) fn fill(&self, answer: Result<Vec<u8>, Error>) {
        let rtt = self.started.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
        self.rtt_ns.store(rtt, Ordering::Relaxed);
        *self.value.lock() = Some(answer);
        self.ready.store(true, Ordering::Release);
        self.waiter.unpark();
    }

    /// Waits for the answer: spins if `policy` allows it, then parks until `deadline`
    /// (`None`: no deadline). `None` if the deadline passed first. The round trip is
    /// added to `policy`.
    pub(crate) fn wait(&self, policy: &SpinPolicy, deadline: Option<Instant>) -> Option<Result<Vec<u8>, Error>> {
        let spin = policy.spin_for();
        let mut spun = false;
        if !spin.is_zero() {
            if let Some(_ticket) = SpinTicket::take(&SPINNING, max_spinners()) {
                spun = true;
                // The spin is at most a second, which an Instant always holds.
                let until = super::deadline::deadline_after(spin.min(Duration::from_secs(1)));
                'spin: loop {
                    for _ in 0..64 {
                        if self.ready.load(Ordering::Acquire) {
                            break 'spin;
                        }
                        std::hint::spin_loop();
                    }
                    if until.is_none_or(|u| Instant::now() >= u) {
                        break;
                    }
                }
            }
        }
        loop {
            if self.ready.load(Ordering::Acquire) {
                if spun {
                    policy.record(self.rtt_ns.load(Ordering::Relaxed));
                }
                return self.value.lock().take();
            }
            let now = Instant::now();
            // Spurious wake-ups (and unpark tokens left by earlier slots) just loop.
            match deadline {
                Some(d) if now >= d => {
                    policy.timed_out();
                    return None;
                }
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
            let policy = SpinPolicy::new(spin);
            let slot = Arc::new(ReplySlot::new());
            let s = slot.clone();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                s.fill(Ok(vec![1, 2, 3]));
            });
            let got = slot.wait(&policy, Some(Instant::now() + Duration::from_secs(10)));
            assert_eq!(got.expect("answered").expect("ok"), vec![1, 2, 3]);
            t.join().expect("join");
        }
    }

    #[test]
    fn an_unanswered_slot_gives_up_at_the_deadline() {
        let slot = ReplySlot::new();
        let policy = SpinPolicy::new(Duration::from_micros(10));
        assert!(slot.wait(&policy, Some(Instant::now() + Duration::from_millis(30))).is_none());
        assert!(policy.spin_for().is_zero(), "a timeout counts as a slow round trip");
        // No deadline: waits until filled (Duration::MAX means "no timeout").
        let slot = Arc::new(ReplySlot::new());
        let s = slot.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            s.fill(Ok(vec![9]));
        });
        assert_eq!(slot.wait(&SpinPolicy::new(Duration::ZERO), None).expect("answered").expect("ok"), vec![9]);
        t.join().expect("join");
    }

    #[test]
    fn slow_round_trips_stop_the_spin_and_a_fast_probe_brings_it_back() {
        let budget = Duration::from_micros(50);
        let policy = SpinPolicy::new(budget);
        assert_eq!(policy.spin_for(), budget, "a fresh connection spins");
        // Replies taking 1 ms: after a few calls the caller parks at once.
        for _ in 0..20 {
            policy.record(1_000_000);
        }
        assert!(policy.average() <= budget * 4, "samples are capped");
        // Parked, except for one probe in PROBE_EVERY calls.
        let spins = (0..PROBE_EVERY * 3).filter(|_| !policy.spin_for().is_zero()).count();
        assert_eq!(spins, 3);
        // A slow probe keeps it parked.
        policy.record(1_000_000);
        assert!(policy.spin_for().is_zero());
        // A fast probe: spinning resumes at once.
        policy.record(10_000);
        assert_eq!(policy.spin_for(), budget);
        assert_eq!(policy.average(), Duration::from_micros(10));
        // An occasional slow reply does not stop it.
        policy.record(1_000_000);
        assert_eq!(policy.spin_for(), budget);
        // A zero budget never spins.
        assert!(SpinPolicy::new(Duration::ZERO).spin_for().is_zero());
    }

    #[test]
    fn parked_calls_are_not_measured() {
        // A parked call's round trip includes wake-ups from idle: a fast server would
        // look slow and keep its callers parked.
        let policy = SpinPolicy::new(Duration::from_micros(50));
        policy.timed_out();
        assert!(policy.spin_for().is_zero());
        for _ in 0..PROBE_EVERY - 2 {
            let slot = Arc::new(ReplySlot::new());
            let s = slot.clone();
            let t = std::thread::spawn(move || s.fill(Ok(Vec::new())));
            assert!(slot.wait(&policy, Some(Instant::now() + Duration::from_secs(10))).is_some());
            t.join().expect("join");
        }
        assert_eq!(policy.average(), Duration::from_micros(200), "no parked call was recorded");
    }

    #[test]
    fn spinning_callers_are_capped() {
        assert!(max_spinners() >= 1);
        let spinning = AtomicUsize::new(0);
        let tickets: Vec<SpinTicket> = (0..3).map(|_| SpinTicket::take(&spinning, 3).expect("room")).collect();
        assert!(SpinTicket::take(&spinning, 3).is_none(), "no more than 3 spin at once");
        drop(tickets);
        assert_eq!(spinning.load(Ordering::Relaxed), 0);
        assert!(SpinTicket::take(&spinning, 3).is_some());
    }

    #[test]
    fn the_round_trip_is_taken_at_the_fill_not_at_the_wake_up() {
        let policy = SpinPolicy::new(Duration::from_millis(50));
        let slot = Arc::new(ReplySlot::new());
        slot.fill(Ok(Vec::new()));
        std::thread::sleep(Duration::from_millis(120));
        assert!(slot.wait(&policy, Some(Instant::now() + Duration::from_secs(1))).is_some());
        assert!(policy.average() < Duration::from_millis(50) / 8, "the late wake-up is not counted");
    }
}
