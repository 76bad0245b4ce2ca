//! The market-data rules OpenD enforces, checked by the quote context before it sends:
//! the subscription quota and the one-minute unsubscribe rule, the history K-line quota,
//! and the request frequency limits of the quote protocols.
//!
//! The frequency limits use the trade contexts' sliding-window [`RateLimiter`] with the
//! table below (OpenD documents each as "at most N requests in any 30 seconds").

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::rate_limit::{LimitTable, RateLimit, RateLimitMode};
use crate::error::{Error, QuoteRule, Result};
use crate::pb;
use crate::types::SubType;

pub use crate::pb::QUOTE_FREQUENCY_LIMITS;

/// The frequency limits a quote context applies, by protocol id. `Default` is
/// [`QUOTE_FREQUENCY_LIMITS`] over 30 s windows, waiting up to 30 s for a slot.
///
/// ```
/// use std::time::Duration;
/// use ftapi::context::{QuoteRateLimits, RateLimit, RateLimitMode};
/// use ftapi::pb::{proto, Protocol};
/// let mut limits = QuoteRateLimits::default();
/// assert_eq!(limits.get(proto::GetSecuritySnapshot::PROTO_ID), Some(RateLimit::new(60, Duration::from_secs(30))));
/// limits.set(proto::GetSecuritySnapshot::PROTO_ID, RateLimit::new(2, Duration::from_secs(1)));
/// limits.mode = RateLimitMode::FailFast;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRateLimits {
    table: HashMap<u32, RateLimit>,
    /// What a call does when its window is full.
    pub mode: RateLimitMode,
}

impl Default for QuoteRateLimits {
    fn default() -> Self {
        let window = Duration::from_secs(30);
        QuoteRateLimits {
            table: QUOTE_FREQUENCY_LIMITS.iter().map(|(id, n)| (*id, RateLimit::new(*n, window))).collect(),
            mode: RateLimitMode::Wait(Duration::from_secs(30)),
        }
    }
}

impl QuoteRateLimits {
    /// No client-side frequency limits.
    pub fn off() -> Self {
        QuoteRateLimits { mode: RateLimitMode::Off, ..Self::default() }
    }

    /// The limit of a protocol, if it has one.
    pub fn get(&self, proto_id: u32) -> Option<RateLimit> {
        self.table.get(&proto_id).copied()
    }

    /// Sets (or with `max_calls` 0 lifts) the limit of a protocol.
    pub fn set(&mut self, proto_id: u32, limit: RateLimit) {
        self.table.insert(proto_id, limit);
    }
}

impl LimitTable for QuoteRateLimits {
    type Kind = u32;
    fn limit(&self, kind: u32) -> RateLimit {
        self.get(kind).unwrap_or(RateLimit::new(0, Duration::from_secs(30)))
    }
    fn mode(&self) -> RateLimitMode {
        self.mode
    }
    fn name(kind: u32) -> &'static str {
        pb::proto_name(kind).unwrap_or("quote request")
    }
}

/// One subscription unit: a code (`MARKET.CODE`) and a sub type.
pub(crate) type SubKey = (String, SubType);

/// The context's own subscriptions, with the time each was made, checked against the
/// quota and the unsubscribe rule.
#[derive(Debug)]
pub(crate) struct Subscriptions {
    /// Units in subscription order, with when they were subscribed.
    subs: Vec<(SubKey, Instant)>,
    /// The quota limit: from the builder, or learned from OpenD at open
    /// (used + remain), `None` while unknown (then OpenD alone decides).
    pub quota: Option<u32>,
    /// How long after subscribing a unit may be unsubscribed (OpenD: one minute).
    pub min_age: Duration,
}

impl Subscriptions {
    pub(crate) fn new(quota: Option<u32>, min_age: Duration) -> Self {
        Subscriptions { subs: Vec::new(), quota, min_age }
    }

    /// The units of `keys` not subscribed yet.
    pub(crate) fn new_units<'a>(&self, keys: &'a [SubKey]) -> Vec<&'a SubKey> {
        let mut out: Vec<&SubKey> = Vec::new();
        for k in keys {
            if !self.subs.iter().any(|(s, _)| s == k) && !out.contains(&k) {
                out.push(k);
            }
        }
        out
    }

    /// Refuses a subscription that would exceed the quota.
    pub(crate) fn check_subscribe(&self, keys: &[SubKey]) -> Result<()> {
        let Some(quota) = self.quota else { return Ok(()) };
        let adding = self.new_units(keys).len();
        let used = self.subs.len();
        if used + adding > quota as usize {
            return Err(Error::QuoteRule {
                rule: QuoteRule::SubscriptionQuota,
                what: format!("{adding} new unit(s) asked, {used} of {quota} in use by this context"),
            });
        }
        Ok(())
    }

    pub(crate) fn record_subscribe(&mut self, keys: &[SubKey], now: Instant) {
        for k in keys {
            if !self.subs.iter().any(|(s, _)| s == k) {
                self.subs.push((k.clone(), now));
            }
        }
    }

    /// Refuses unsubscribing a unit younger than `min_age`; units not subscribed are
    /// ignored (OpenD accepts them).
    pub(crate) fn check_unsubscribe(&self, keys: &[SubKey], now: Instant) -> Result<()> {
        for k in keys {
            if let Some((_, at)) = self.subs.iter().find(|(s, _)| s == k) {
                let age = now.saturating_duration_since(*at);
                if age < self.min_age {
                    return Err(Error::QuoteRule {
                        rule: QuoteRule::UnsubscribeTooEarly { retry_after: self.min_age - age },
                        what: format!("{} {} was subscribed {age:?} ago", k.0, k.1),
                    });
                }
            }
        }
        Ok(())
    }

    pub(crate) fn record_unsubscribe(&mut self, keys: &[SubKey]) {
        self.subs.retain(|(s, _)| !keys.contains(s));
    }

    /// Every unit, in subscription order.
    pub(crate) fn all(&self) -> Vec<SubKey> {
        self.subs.iter().map(|(k, _)| k.clone()).collect()
    }

    /// Units in use.
    pub(crate) fn used(&self) -> usize {
        self.subs.len()
    }
}

/// What the context knows of the history K-line quota: the codes pulled within the
/// last 30 days and how many more may be pulled. Learned from OpenD on first use.
#[derive(Debug, Default)]
pub(crate) struct HistoryQuota {
    pub known: Option<(HashSet<String>, i32)>,
}

impl HistoryQuota {
    /// Refuses a first pull of a new code when nothing remains; `Ok(true)` when the pull
    /// uses a unit.
    pub(crate) fn check(&self, code: &str) -> Result<bool> {
        match &self.known {
            None => Ok(false),
            Some((codes, _)) if codes.contains(code) => Ok(false),
            Some((codes, remain)) if *remain <= 0 => Err(Error::QuoteRule {
                rule: QuoteRule::HistoryKlQuota,
                what: format!("{code} would be a new security; {} pulled in the last 30 days, none left", codes.len()),
            }),
            Some(_) => Ok(true),
        }
    }

    pub(crate) fn record(&mut self, code: &str) {
        if let Some((codes, remain)) = &mut self.known {
            if codes.insert(code.to_string()) {
                *remain -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: &str, t: SubType) -> SubKey {
        (code.to_string(), t)
    }

    #[test]
    fn quota_counts_new_units_only() {
        let mut s = Subscriptions::new(Some(3), Duration::from_secs(60));
        let t0 = Instant::now();
        let a = [key("HK.00700", SubType::Quote), key("HK.00700", SubType::OrderBook)];
        s.check_subscribe(&a).unwrap();
        s.record_subscribe(&a, t0);
        // the same units again cost nothing
        s.check_subscribe(&a).unwrap();
        let b = [key("HK.00700", SubType::Quote), key("HK.00700", SubType::Ticker), key("US.AAPL", SubType::Quote)];
        let e = s.check_subscribe(&b).unwrap_err();
        assert!(matches!(e, Error::QuoteRule { rule: QuoteRule::SubscriptionQuota, .. }), "{e}");
        s.check_subscribe(&b[..2]).unwrap();
        // no known quota: OpenD alone decides
        let s = Subscriptions::new(None, Duration::from_secs(60));
        s.check_subscribe(&b).unwrap();
    }

    #[test]
    fn unsubscribe_waits_for_the_minimum_age() {
        let mut s = Subscriptions::new(None, Duration::from_secs(60));
        let t0 = Instant::now();
        let a = [key("HK.00700", SubType::Quote)];
        s.record_subscribe(&a, t0);
        match s.check_unsubscribe(&a, t0 + Duration::from_secs(20)) {
            Err(Error::QuoteRule { rule: QuoteRule::UnsubscribeTooEarly { retry_after }, .. }) => {
                assert_eq!(retry_after, Duration::from_secs(40))
            }
            other => panic!("{other:?}"),
        }
        s.check_unsubscribe(&a, t0 + Duration::from_secs(60)).unwrap();
        // units never subscribed are not checked
        s.check_unsubscribe(&[key("US.AAPL", SubType::Quote)], t0).unwrap();
        s.record_unsubscribe(&a);
        assert_eq!(s.used(), 0);
    }

    #[test]
    fn history_quota_refuses_new_codes_when_nothing_remains() {
        let mut q = HistoryQuota::default();
        assert!(!q.check("HK.00700").unwrap());
        q.known = Some((["HK.00700".to_string()].into_iter().collect(), 1));
        assert!(!q.check("HK.00700").unwrap());
        assert!(q.check("US.AAPL").unwrap());
        q.record("US.AAPL");
        assert!(matches!(q.check("HK.00005"), Err(Error::QuoteRule { rule: QuoteRule::HistoryKlQuota, .. })));
        q.check("US.AAPL").unwrap();
    }

    #[test]
    fn the_default_table_is_the_documented_one() {
        let l = QuoteRateLimits::default();
        assert_eq!(l.get(3203), Some(RateLimit::new(60, Duration::from_secs(30))));
        assert_eq!(l.get(3204), Some(RateLimit::new(10, Duration::from_secs(30))));
        assert_eq!(l.get(3004), None);
        assert_eq!(QuoteRateLimits::name(3203), "Qot_GetSecuritySnapshot");
    }
}
