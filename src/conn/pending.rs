//! The table of requests waiting for their reply.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::reply::ReplySlot;
use crate::error::Error;

/// The function that receives an answer on the callback thread: the request's serial
/// number and the reply's plaintext body, or why there is none.
pub(crate) type AnswerFn = Box<dyn FnOnce(u32, Result<&[u8], Error>) + Send>;

/// Where a reply goes; called exactly once.
pub(crate) enum Responder {
    /// Filled on the I/O thread as soon as the answer is known, for a thread blocked in
    /// a call (no user code runs on the I/O thread).
    Slot(Arc<ReplySlot>),
    /// Run on the connection's callback thread, in order with pushes (user callbacks).
    Callback(AnswerFn),
}

/// One waiting request.
pub(crate) struct PendingEntry {
    /// When it times out (`None`: never, the timeout is beyond what an `Instant` holds).
    pub(crate) deadline: Option<Instant>,
    /// The timeout it was given (for the error message).
    pub(crate) timeout: Duration,
    /// Who gets the answer.
    pub(crate) responder: Responder,
}

/// Requests in flight on one connection, keyed by `(proto_id, serial)` as OpenD echoes
/// both in the reply header. The lock is only held for a map operation, never while an
/// answer is delivered.
#[derive(Default)]
pub(crate) struct PendingTable {
    map: Mutex<HashMap<(u32, u32), PendingEntry, BuildHasherDefault<KeyHasher>>>,
}

/// The hash of a `(proto_id, serial)` key. Keys come from our own serial counter, not
/// from the network (a reply whose key is not in the table is only looked up), so a
/// multiplicative hash is enough and much cheaper than the default SipHash.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl PendingTable {
    /// Registers request `serial` of `proto_id`, unless a request with that key is
    /// still waiting (a serial number that wrapped around): then the responder comes
    /// back and nothing changed.
    pub(crate) fn insert(
        &self,
        proto_id: u32,
        serial: u32,
        timeout: Duration,
        responder: Responder,
    ) -> Result<(), Responder> {
        let mut map = self.map.lock();
        match map.entry((proto_id, serial)) {
            std::collections::hash_map::Entry::Occupied(_) => Err(responder),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(PendingEntry { deadline: super::deadline::deadline_after(timeout), timeout, responder });
                Ok(())
            }
        }
    }

    /// Removes and returns the entry for `key`, if it is still waiting.
    pub(crate) fn take(&self, key: (u32, u32)) -> Option<PendingEntry> {
        self.map.lock().remove(&key)
    }

    /// Removes and returns every entry whose deadline has passed.
    pub(crate) fn take_expired(&self, now: Instant) -> Vec<((u32, u32), PendingEntry)> {
        let mut map = self.map.lock();
        let expired = |e: &PendingEntry| e.deadline.is_some_and(|d| d <= now);
        if !map.values().any(expired) {
            return Vec::new();
        }
        let keys: Vec<(u32, u32)> = map.iter().filter(|(_, e)| expired(e)).map(|(k, _)| *k).collect();
        keys.into_iter().filter_map(|k| map.remove(&k).map(|e| (k, e))).collect()
    }

    /// Removes and returns every entry.
    pub(crate) fn drain(&self) -> Vec<((u32, u32), PendingEntry)> {
        std::mem::take(&mut *self.map.lock()).into_iter().collect()
    }

    /// Number of requests waiting.
    pub(crate) fn len(&self) -> usize {
        self.map.lock().len()
    }
}
