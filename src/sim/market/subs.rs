//! Subscriptions per connection, OpenD's subscription quota and one-minute unsubscribe
//! rule, push registration, and the history K-line quota.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::pb::qot_common::Security;
use crate::sim::PushSink;

/// `Qot_Common.SubType` values the simulator serves.
pub fn is_served_sub_type(t: i32) -> bool {
    matches!(t, 1 | 2 | 4 | 5 | 6..=21 | 22)
}

/// The `KLType` of a K-line `SubType`, if it is one.
pub fn kl_type_of_sub(t: i32) -> Option<i32> {
    Some(match t {
        6 => 2,
        7 => 6,
        8 => 7,
        9 => 8,
        10 => 9,
        11 => 1,
        12 => 3,
        13 => 4,
        15 => 11,
        16 => 5,
        17 => 10,
        18 => 12,
        19 => 13,
        20 => 14,
        21 => 15,
        _ => return None,
    })
}

/// The K-line `SubType` of a `KLType`.
pub fn sub_of_kl_type(kl: i32) -> Option<i32> {
    (6..=21).find(|s| kl_type_of_sub(*s) == Some(kl))
}

/// One subscription of one connection.
#[derive(Clone)]
pub(crate) struct Item {
    pub(crate) since: Instant,
    pub(crate) push: bool,
    pub(crate) rehab: Vec<i32>,
    /// The security as the client named it (echoed in pushes).
    pub(crate) security: Security,
}

/// One connection's subscriptions.
pub(crate) struct ConnSubs {
    pub(crate) sink: Arc<dyn PushSink>,
    /// By (instrument index, SubType).
    pub(crate) items: BTreeMap<(usize, i32), Item>,
}

/// All subscriptions, and the history K-line quota's log.
#[derive(Default)]
pub(crate) struct Subs {
    pub(crate) conns: HashMap<u64, ConnSubs>,
    /// (instrument index, Unix time of the first request in the window).
    pub(crate) history: Vec<(usize, f64)>,
}

/// Thirty days, the history quota's window.
const HISTORY_WINDOW: f64 = 30.0 * 86_400.0;

impl Subs {
    /// Quota in use: subscriptions over all connections.
    pub(crate) fn used(&self) -> i32 {
        self.conns.values().map(|c| c.items.len() as i32).sum()
    }

    /// Quota in use by one connection.
    pub(crate) fn used_by(&self, conn_id: u64) -> i32 {
        self.conns.get(&conn_id).map(|c| c.items.len() as i32).unwrap_or(0)
    }

    /// Whether `conn_id` subscribed `sub_type` of instrument `idx`.
    pub(crate) fn has(&self, conn_id: u64, idx: usize, sub_type: i32) -> bool {
        self.conns.get(&conn_id).is_some_and(|c| c.items.contains_key(&(idx, sub_type)))
    }

    /// Adds subscriptions (all or none). Returns the keys that are new.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn subscribe(
        &mut self,
        conn_id: u64,
        sink: &Arc<dyn PushSink>,
        wanted: &[(usize, Security)],
        sub_types: &[i32],
        push: Option<bool>,
        rehab: &[i32],
        quota: i32,
    ) -> Result<Vec<(usize, i32)>, String> {
        let mut new = Vec::new();
        for (idx, _) in wanted {
            for t in sub_types {
                if !self.has(conn_id, *idx, *t) && !new.contains(&(*idx, *t)) {
                    new.push((*idx, *t));
                }
            }
        }
        let used = self.used();
        if used + new.len() as i32 > quota {
            return Err(format!(
                "Subscription quota exceeded: {used} of {quota} in use, this request needs {} more",
                new.len()
            ));
        }
        let conn = self.conns.entry(conn_id).or_insert_with(|| ConnSubs { sink: sink.clone(), items: BTreeMap::new() });
        conn.sink = sink.clone();
        let now = Instant::now();
        for (idx, sec) in wanted {
            for t in sub_types {
                let item = conn.items.entry((*idx, *t)).or_insert_with(|| Item {
                    since: now,
                    push: false,
                    rehab: Vec::new(),
                    security: sec.clone(),
                });
                if let Some(p) = push {
                    item.push = p;
                    if p && !rehab.is_empty() {
                        item.rehab = rehab.to_vec();
                    }
                }
            }
        }
        Ok(new)
    }

    /// Cancels subscriptions (all or none): each must have lasted `min`.
    pub(crate) fn unsubscribe(&mut self, conn_id: u64, keys: &[(usize, i32)], min: Duration) -> Result<(), String> {
        let Some(conn) = self.conns.get_mut(&conn_id) else { return Ok(()) };
        for k in keys {
            if let Some(item) = conn.items.get(k) {
                check_age(item, min)?;
            }
        }
        for k in keys {
            conn.items.remove(k);
        }
        Ok(())
    }

    /// Cancels every subscription of a connection (each must have lasted `min`).
    pub(crate) fn unsubscribe_all(&mut self, conn_id: u64, min: Duration) -> Result<(), String> {
        let Some(conn) = self.conns.get_mut(&conn_id) else { return Ok(()) };
        for item in conn.items.values() {
            check_age(item, min)?;
        }
        conn.items.clear();
        Ok(())
    }

    /// Turns pushes on or off for subscribed keys; returns the keys that were subscribed.
    pub(crate) fn reg_push(
        &mut self,
        conn_id: u64,
        keys: &[(usize, i32)],
        on: bool,
        rehab: &[i32],
    ) -> Vec<(usize, i32)> {
        let Some(conn) = self.conns.get_mut(&conn_id) else { return Vec::new() };
        let mut hit = Vec::new();
        for k in keys {
            if let Some(item) = conn.items.get_mut(k) {
                item.push = on;
                if on && !rehab.is_empty() {
                    item.rehab = rehab.to_vec();
                }
                hit.push(*k);
            }
        }
        hit
    }

    /// Forgets a connection.
    pub(crate) fn forget(&mut self, conn_id: u64) {
        self.conns.remove(&conn_id);
    }

    /// Counts a history request for instrument `idx` against the quota.
    pub(crate) fn use_history(&mut self, idx: usize, now: f64, quota: i32) -> Result<(), String> {
        self.history.retain(|(_, t)| now - *t < HISTORY_WINDOW);
        if self.history.iter().any(|(i, _)| *i == idx) {
            return Ok(());
        }
        if self.history.len() as i32 >= quota {
            return Err(format!(
                "History K-line quota exceeded: {} of {quota} securities requested in the last 30 days",
                self.history.len()
            ));
        }
        self.history.push((idx, now));
        Ok(())
    }

    /// History quota in use, and the log.
    pub(crate) fn history_used(&mut self, now: f64) -> &[(usize, f64)] {
        self.history.retain(|(_, t)| now - *t < HISTORY_WINDOW);
        &self.history
    }
}

fn check_age(item: &Item, min: Duration) -> Result<(), String> {
    let age = item.since.elapsed();
    if age < min {
        return Err(format!(
            "Unsubscribe failed: {}.{} has been subscribed for {} s; a subscription can be cancelled only after {} s",
            qot_market_prefix(item.security.market),
            item.security.code,
            age.as_secs(),
            min.as_secs_f64()
        ));
    }
    Ok(())
}

/// The SDK prefix of a `QotMarket` (`HK`, `US`, ...).
pub(crate) fn qot_market_prefix(m: i32) -> &'static str {
    match m {
        1 | 2 => "HK",
        11 => "US",
        21 => "SH",
        22 => "SZ",
        31 => "SG",
        41 => "JP",
        _ => "??",
    }
}
