//! Client-side rate limiting that mirrors OpenD's documented limits, so a burst of
//! requests waits on our side instead of being refused by OpenD.
//!
//! The table (the same one `opend-sim` enforces, see docs/simulator.md):
//!
//! | requests | limit |
//! |---|---|
//! | PlaceOrder, PlaceComboOrder | 15 per 30 s per account, at least 0.02 s apart |
//! | ModifyOrder (also cancel, cancel-all) | 20 per 30 s per account, at least 0.04 s apart |
//! | UnlockTrade | 10 per 30 s |
//! | history orders, history deals, max quantities (`acctradinginfo_query`), order fees | 10 per 30 s per account, each kind counted on its own |
//! | orders, deals, positions, funds with `refresh_cache` | 10 per 30 s per account, each kind counted on its own |
//!
//! The limiter keeps the send times of the last calls per (kind, account) and, when
//! the window is full or the minimum interval has not passed, either waits for the
//! slot (up to a bound) or fails at once with [`Error::RateLimited`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// At most `max_calls` calls in any `window`, and consecutive calls at least
/// `min_interval` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls allowed per window (0 disables this limit).
    pub max_calls: u32,
    /// The sliding window.
    pub window: Duration,
    /// The least time between two consecutive calls (zero: no minimum).
    pub min_interval: Duration,
}

impl RateLimit {
    /// `max_calls` per `window`, no minimum interval.
    pub const fn new(max_calls: u32, window: Duration) -> Self {
        RateLimit { max_calls, window, min_interval: Duration::ZERO }
    }

    /// The same limit with consecutive calls at least `min_interval` apart.
    pub const fn with_min_interval(mut self, min_interval: Duration) -> Self {
        self.min_interval = min_interval;
        self
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
/// assert_eq!(limits.place_order.min_interval, Duration::from_millis(20));
/// assert_eq!(limits.query.max_calls, 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// PlaceOrder and PlaceComboOrder, per account (OpenD: 15 per 30 s, 0.02 s apart).
    pub place_order: RateLimit,
    /// ModifyOrder, including cancel and cancel-all, per account (OpenD: 20 per 30 s,
    /// 0.04 s apart).
    pub modify_order: RateLimit,
    /// UnlockTrade, per context (OpenD: 10 per 30 s).
    pub unlock_trade: RateLimit,
    /// Each of: history orders, history deals, max quantities, order fees, and the
    /// order, deal, position and funds queries that refresh OpenD's cache; per account
    /// and per kind (OpenD: 10 per 30 s).
    pub query: RateLimit,
    /// What a call does when its window is full.
    pub mode: RateLimitMode,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            place_order: RateLimit::new(15, Duration::from_secs(30)).with_min_interval(Duration::from_millis(20)),
            modify_order: RateLimit::new(20, Duration::from_secs(30)).with_min_interval(Duration::from_millis(40)),
            unlock_trade: RateLimit::new(10, Duration::from_secs(30)),
            query: RateLimit::new(10, Duration::from_secs(30)),
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
    /// A limited query, by its protocol id (see [`LimitKind::query`]).
    Query(u32),
}

impl LimitKind {
    fn name(self) -> &'static str {
        match self {
            LimitKind::Place => "place_order",
            LimitKind::Modify => "modify_order",
            LimitKind::Unlock => "unlock_trade",
            LimitKind::Query(2221) => "history_order_list_query",
            LimitKind::Query(2222) => "history_deal_list_query",
            LimitKind::Query(2111) => "acctradinginfo_query",
            LimitKind::Query(2225) => "order_fee_query",
            LimitKind::Query(2201) => "order_list_query (refresh_cache)",
            LimitKind::Query(2211) => "deal_list_query (refresh_cache)",
            LimitKind::Query(2102) => "position_list_query (refresh_cache)",
            LimitKind::Query(2101) => "accinfo_query (refresh_cache)",
            LimitKind::Query(_) => "query",
        }
    }

    /// The limit kind of a query of protocol `proto_id`, or `None` if OpenD does not
    /// limit it: history orders (2221), history deals (2222), max quantities (2111)
    /// and order fees (2225) always; orders (2201), deals (2211), positions (2102) and
    /// funds (2101) only when they ask OpenD to refresh its cache.
    pub(crate) fn query(proto_id: u32, refresh_cache: bool) -> Option<LimitKind> {
        match proto_id {
            2221 | 2222 | 2111 | 2225 => Some(LimitKind::Query(proto_id)),
            2201 | 2211 | 2102 | 2101 if refresh_cache => Some(LimitKind::Query(proto_id)),
            _ => None,
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
            LimitKind::Query(_) => self.query,
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
        if let Some(last) = stamps.back() {
            let since = now.saturating_duration_since(*last);
            if since < limit.min_interval {
                return Err(limit.min_interval - since);
            }
        }
        while stamps.front().is_some_and(|t| now.saturating_duration_since(*t) >= limit.window) {
            // Keep the newest stamp for the minimum interval.
            if stamps.len() == 1 && !limit.min_interval.is_zero() {
                break;
            }
            stamps.pop_front();
        }
        let in_window = stamps.iter().filter(|t| now.saturating_duration_since(**t) < limit.window).count();
        if in_window < limit.max_calls as usize {
            stamps.push_back(now);
            return Ok(());
        }
        let oldest = stamps.iter().copied().find(|t| now.saturating_duration_since(*t) < limit.window).unwrap_or(now);
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

impl RateLimiter<RateLimits> {
    /// Takes a slot for a query of protocol `proto_id` about `account`, if OpenD limits
    /// that query (see [`LimitKind::query`]).
    pub(crate) fn acquire_query(
        &self,
        proto_id: u32,
        refresh_cache: bool,
        account: u64,
        cancelled: &dyn Fn() -> Result<()>,
    ) -> Result<()> {
        match LimitKind::query(proto_id, refresh_cache) {
            Some(kind) => self.acquire(kind, account, cancelled),
            None => Ok(()),
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
            query: RateLimit::new(1, Duration::from_secs(3600)),
            mode,
        }
    }

    #[test]
    fn minimum_interval_between_calls() {
        let l = RateLimiter::new(RateLimits { mode: RateLimitMode::FailFast, ..RateLimits::default() });
        let t0 = Instant::now();
        assert!(l.try_take(LimitKind::Place, 1, t0).is_ok());
        // 0.02 s must pass between two orders of an account.
        assert_eq!(l.try_take(LimitKind::Place, 1, t0 + Duration::from_millis(5)), Err(Duration::from_millis(15)));
        assert!(l.try_take(LimitKind::Place, 1, t0 + Duration::from_millis(20)).is_ok());
        assert!(l.try_take(LimitKind::Place, 2, t0).is_ok(), "another account");
        assert!(l.try_take(LimitKind::Modify, 1, t0).is_ok());
        assert_eq!(l.try_take(LimitKind::Modify, 1, t0 + Duration::from_millis(30)), Err(Duration::from_millis(10)));
        // 15 per 30 s still holds with the interval respected.
        let l = RateLimiter::new(RateLimits::default());
        for i in 0..15 {
            assert!(l.try_take(LimitKind::Place, 1, t0 + Duration::from_millis(25 * i)).is_ok(), "order {i}");
        }
        let wait = l.try_take(LimitKind::Place, 1, t0 + Duration::from_millis(25 * 15)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(30) - Duration::from_millis(25 * 15));
        assert!(l.try_take(LimitKind::Place, 1, t0 + Duration::from_secs(30)).is_ok());
    }

    #[test]
    fn query_table() {
        assert_eq!(LimitKind::query(2221, false), Some(LimitKind::Query(2221)));
        assert_eq!(LimitKind::query(2225, false), Some(LimitKind::Query(2225)));
        assert_eq!(LimitKind::query(2201, false), None);
        assert_eq!(LimitKind::query(2201, true), Some(LimitKind::Query(2201)));
        assert_eq!(LimitKind::query(2008, true), None);
        let l = RateLimiter::new(RateLimits { mode: RateLimitMode::FailFast, ..RateLimits::default() });
        let never = || Ok(());
        for _ in 0..10 {
            l.acquire_query(2221, false, 7, &never).unwrap();
            l.acquire_query(2201, false, 7, &never).unwrap();
        }
        let e = l.acquire_query(2221, false, 7, &never).unwrap_err();
        assert!(e.to_string().contains("history_order_list_query"), "{e}");
        l.acquire_query(2222, false, 7, &never).unwrap();
        l.acquire_query(2221, false, 8, &never).unwrap();
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
        let closed = || Err(Error::NotConnected(crate::conn::ConnFailure::local("closed")));
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
