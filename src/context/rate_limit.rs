//! Client-side rate limiting that mirrors OpenD's documented limits, so a burst of
//! orders waits on our side instead of being refused by OpenD.
//!
//! OpenD allows, per account, 15 PlaceOrder calls and 20 ModifyOrder calls in any 30 s
//! window, and 10 UnlockTrade calls per 30 s. The limiter keeps the send times of the
//! last calls per (kind, account) and, when the window is full, either waits for the
//! oldest call to leave it (up to a bound) or fails at once with
//! [`Error::RateLimited`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// At most `max_calls` calls in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls allowed per window (0 disables this limit).
    pub max_calls: u32,
    /// The sliding window.
    pub window: Duration,
}

impl RateLimit {
    /// `max_calls` per `window`.
    pub const fn new(max_calls: u32, window: Duration) -> Self {
        RateLimit { max_calls, window }
    }
}

/// What a call does when its window is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitMode {
    /// Wait for a free slot, but fail at once with [`Error::RateLimited`] if the slot
    /// is further away than this bound.
    Wait(Duration),
    /// Fail at once with [`Error::RateLimited`].
    FailFast,
    /// No client-side limiting (OpenD still enforces its own limits).
    Off,
}

/// The limits a trade context applies. `Default` is OpenD's documented limits, waiting
/// up to 30 s for a slot.
///
/// ```
/// use std::time::Duration;
/// use ftapi::context::{RateLimitMode, RateLimits};
/// let limits = RateLimits { mode: RateLimitMode::FailFast, ..RateLimits::default() };
/// assert_eq!(limits.place_order.max_calls, 15);
/// assert_eq!(limits.place_order.window, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// PlaceOrder and PlaceComboOrder, per account (OpenD: 15 per 30 s).
    pub place_order: RateLimit,
    /// ModifyOrder, including cancel and cancel-all, per account (OpenD: 20 per 30 s).
    pub modify_order: RateLimit,
    /// UnlockTrade, per context (OpenD: 10 per 30 s).
    pub unlock_trade: RateLimit,
    /// What a call does when its window is full.
    pub mode: RateLimitMode,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            place_order: RateLimit::new(15, Duration::from_secs(30)),
            modify_order: RateLimit::new(20, Duration::from_secs(30)),
            unlock_trade: RateLimit::new(10, Duration::from_secs(30)),
            mode: RateLimitMode::Wait(Duration::from_secs(30)),
        }
    }
}

impl RateLimits {
    /// No client-side limits.
    pub fn off() -> Self {
        RateLimits { mode: RateLimitMode::Off, ..Self::default() }
    }
}

/// The kind of call a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum LimitKind {
    Place,
    Modify,
    Unlock,
}

impl LimitKind {
    fn name(self) -> &'static str {
        match self {
            LimitKind::Place => "place_order",
            LimitKind::Modify => "modify_order",
            LimitKind::Unlock => "unlock_trade",
        }
    }
}

/// A table of limits a [`RateLimiter`] applies: the trade table ([`RateLimits`]) or
/// the quote table (`quote_rules.rs`).
pub(crate) trait LimitTable: std::fmt::Debug + Send + Sync {
    /// The kind of call a limit applies to.
    type Kind: Copy + Eq + std::hash::Hash + std::fmt::Debug + Send + Sync;
    /// The limit for a kind.
    fn limit(&self, kind: Self::Kind) -> RateLimit;
    /// What a call does when its window is full.
    fn mode(&self) -> RateLimitMode;
    /// The kind's name in errors and logs.
    fn name(kind: Self::Kind) -> &'static str;
}

impl LimitTable for RateLimits {
    type Kind = LimitKind;
    fn limit(&self, kind: LimitKind) -> RateLimit {
        match kind {
            LimitKind::Place => self.place_order,
            LimitKind::Modify => self.modify_order,
            LimitKind::Unlock => self.unlock_trade,
        }
    }
    fn mode(&self) -> RateLimitMode {
        self.mode
    }
    fn name(kind: LimitKind) -> &'static str {
        kind.name()
    }
}

/// The send times of the recent calls, per (kind, key).
type Windows<K> = Mutex<HashMap<(K, u64), VecDeque<Instant>>>;

/// Sliding-window limiter shared by the calls of one context.
#[derive(Debug)]
pub(crate) struct RateLimiter<T: LimitTable = RateLimits> {
    limits: T,
    windows: Windows<T::Kind>,
}

impl<T: LimitTable> RateLimiter<T> {
    pub(crate) fn new(limits: T) -> Self {
        RateLimiter { limits, windows: Mutex::new(HashMap::new()) }
    }

    fn limit(&self, kind: T::Kind) -> RateLimit {
        self.limits.limit(kind)
    }

    /// Takes a slot now, or says how long until one frees up.
    fn try_take(&self, kind: T::Kind, key: u64, now: Instant) -> Result<(), Duration> {
        let limit = self.limit(kind);
        if limit.max_calls == 0 {
            return Ok(());
        }
        let mut windows = self.windows.lock();
        let stamps = windows.entry((kind, key)).or_default();
        while stamps.front().is_some_and(|t| now.saturating_duration_since(*t) >= limit.window) {
            stamps.pop_front();
        }
        if stamps.len() < limit.max_calls as usize {
            stamps.push_back(now);
            return Ok(());
        }
        let oldest = stamps.front().copied().unwrap_or(now);
        Err((oldest + limit.window).saturating_duration_since(now).max(Duration::from_millis(1)))
    }

    /// Takes a slot for a call of `kind` about account `key` (0 for per-context
    /// limits), waiting as the mode allows. `cancelled` is polled while waiting: when
    /// it returns an error (the context was closed), that error is returned.
    pub(crate) fn acquire(&self, kind: T::Kind, key: u64, cancelled: &dyn Fn() -> Result<()>) -> Result<()> {
        let max_wait = match self.limits.mode() {
            RateLimitMode::Off => return Ok(()),
            RateLimitMode::FailFast => Duration::ZERO,
            RateLimitMode::Wait(d) => d,
        };
        let start = Instant::now();
        loop {
            let now = Instant::now();
            let retry_after = match self.try_take(kind, key, now) {
                Ok(()) => return Ok(()),
                Err(d) => d,
            };
            let waited = now.saturating_duration_since(start);
            if waited + retry_after > max_wait {
                let limit = self.limit(kind);
                return Err(Error::RateLimited {
                    what: format!(
                        "{} (at most {} per {:?}{})",
                        T::name(kind),
                        limit.max_calls,
                        limit.window,
                        if key != 0 { format!(" for account {key}") } else { String::new() }
                    ),
                    retry_after,
                });
            }
            log::debug!("{} rate limit reached; waiting {retry_after:?}", T::name(kind));
            std::thread::sleep(retry_after.min(Duration::from_millis(50)));
            cancelled()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(mode: RateLimitMode) -> RateLimits {
        RateLimits {
            place_order: RateLimit::new(2, Duration::from_millis(200)),
            modify_order: RateLimit::new(1, Duration::from_secs(3600)),
            unlock_trade: RateLimit::new(0, Duration::from_secs(1)),
            mode,
        }
    }

    #[test]
    fn window_counts_per_kind_and_account() {
        let l = RateLimiter::new(limits(RateLimitMode::FailFast));
        let t0 = Instant::now();
        assert!(l.try_take(LimitKind::Place, 1, t0).is_ok());
        assert!(l.try_take(LimitKind::Place, 1, t0).is_ok());
        let wait = l.try_take(LimitKind::Place, 1, t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(200));
        // another account and another kind have their own windows
        assert!(l.try_take(LimitKind::Place, 2, t0).is_ok());
        assert!(l.try_take(LimitKind::Modify, 1, t0).is_ok());
        // once the window has passed, a slot is free again
        assert!(l.try_take(LimitKind::Place, 1, t0 + Duration::from_millis(200)).is_ok());
        // max_calls 0 = unlimited
        for _ in 0..100 {
            assert!(l.try_take(LimitKind::Unlock, 0, t0).is_ok());
        }
    }

    #[test]
    fn fail_fast_and_bounded_wait() {
        let never = || Ok(());
        let l = RateLimiter::new(limits(RateLimitMode::FailFast));
        l.acquire(LimitKind::Modify, 7, &never).unwrap();
        let e = l.acquire(LimitKind::Modify, 7, &never).unwrap_err();
        assert!(matches!(e, Error::RateLimited { .. }), "{e}");
        assert!(e.to_string().contains("modify_order"), "{e}");

        // waiting: the slot an hour away is beyond the bound, so it fails at once
        let l = RateLimiter::new(limits(RateLimitMode::Wait(Duration::from_secs(5))));
        l.acquire(LimitKind::Modify, 7, &never).unwrap();
        assert!(matches!(l.acquire(LimitKind::Modify, 7, &never), Err(Error::RateLimited { .. })));
        // a slot within the bound is waited for
        l.acquire(LimitKind::Place, 7, &never).unwrap();
        l.acquire(LimitKind::Place, 7, &never).unwrap();
        l.acquire(LimitKind::Place, 7, &never).unwrap();
    }

    #[test]
    fn waiting_stops_when_cancelled() {
        let l = RateLimiter::new(limits(RateLimitMode::Wait(Duration::from_secs(5))));
        let never = || Ok(());
        l.acquire(LimitKind::Place, 1, &never).unwrap();
        l.acquire(LimitKind::Place, 1, &never).unwrap();
        let closed = || Err(Error::NotConnected("closed".into()));
        assert!(matches!(l.acquire(LimitKind::Place, 1, &closed), Err(Error::NotConnected(_))));
    }

    #[test]
    fn off_never_limits() {
        let l = RateLimiter::new(RateLimits::off());
        for _ in 0..100 {
            l.acquire(LimitKind::Place, 1, &|| Ok(())).unwrap();
        }
    }
}
