//! Deadlines that cannot overflow: the one place the connection layer turns a timeout
//! into an [`Instant`].

use std::time::{Duration, Instant};

/// A time `d` from now, or `None` if that is beyond what an [`Instant`] can hold
/// (`Duration::MAX` and other huge durations mean "never").
pub(crate) fn deadline_after(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}
