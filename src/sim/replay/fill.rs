//! Orders against the recorded path: the fill model of a replay.
//!
//! Each time the broker looks at a working order on a replayed code, the order is
//! walked along the price path from where it was last looked at (its creation, at
//! first) to "now":
//! - at the first point (the order's arrival, or the open of a later bar after a gap)
//!   the order trades at that price if it would trade there at all (a limit order that
//!   is already better than the market fills at the market's price, a market order at
//!   the current price);
//! - inside a bar, a limit order whose limit the path crosses fills **at the limit**,
//!   at the instant the path first reaches it, and not before;
//! - other order types (stops, if-touched, trailing) are evaluated at the corners of the
//!   path (open, the two extremes, close).
//!
//! The quantity filled within one bar, over all orders, is at most that bar's volume
//! (rounded down to whole lots); the rest waits for the next bar. There is no queue
//! position and no market impact beyond that.

use std::collections::HashMap;
use std::sync::Arc;

use crate::sim::matching::{evaluate, order_type, OrderTerms, Side, TriggerState};

use super::tape::ReplayTape;

/// What the path says about one order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PathMatch {
    /// The order's code is not replayed: the broker's usual rules apply.
    NotOnTape,
    /// No trade up to now.
    Wait,
    /// A trade of at most `max_qty` at `price` at simulated time `ts`.
    Fill {
        /// When the path reached the price, Unix seconds.
        ts: f64,
        /// The fill price.
        price: f64,
        /// The most the bar's remaining volume allows.
        max_qty: f64,
        /// (code index, bar index) whose volume the fill uses.
        bar: (usize, usize),
    },
}

/// The parts of an order the path needs.
#[derive(Debug, Clone, Copy)]
pub struct PathOrder<'a> {
    /// The order id (to remember how far it was looked at).
    pub id: u64,
    /// `MARKET.CODE`.
    pub code: &'a str,
    /// When the order was placed (simulated).
    pub since: f64,
    /// Price, side and type.
    pub terms: &'a OrderTerms,
    /// Board lot.
    pub lot: f64,
}

/// The replay fill model's state: how far each order has been walked, and how much of
/// each bar's volume fills have used.
#[derive(Debug)]
pub struct PathFills {
    tape: Arc<ReplayTape>,
    checked: HashMap<u64, f64>,
    used: HashMap<(usize, usize), f64>,
}

fn limit_like(t: i32) -> bool {
    use order_type::*;
    matches!(t, NORMAL | ABSOLUTE_LIMIT | AUCTION_LIMIT | SPECIAL_LIMIT | SPECIAL_LIMIT_ALL)
}

impl PathFills {
    /// The fill model over `tape`.
    pub fn new(tape: Arc<ReplayTape>) -> PathFills {
        PathFills { tape, checked: HashMap::new(), used: HashMap::new() }
    }

    /// Walks `o` from where it was last looked at to `now`; see the module docs.
    pub fn next_fill(&mut self, o: PathOrder<'_>, trig: &mut TriggerState, now: f64) -> PathMatch {
        let Some(ci) = self.tape.index_of(o.code) else {
            return PathMatch::NotOnTape;
        };
        let ct = &self.tape.all()[ci];
        let from = self.checked.get(&o.id).copied().unwrap_or(o.since).min(now);
        let lot = if o.lot > 0.0 { o.lot } else { 1.0 };
        let mut prev: Option<(f64, f64, usize)> = None;
        for (t, p, bi) in ct.path_points(from, now) {
            let used = self.used.get(&(ci, bi)).copied().unwrap_or(0.0);
            let avail = ((ct.bars()[bi].volume as f64 - used) / lot).floor() * lot;
            if avail <= 0.0 {
                prev = None;
                continue;
            }
            let fill = |ts: f64, price: f64| PathMatch::Fill { ts, price, max_qty: avail, bar: (ci, bi) };
            if let Some((pt, pp, pb)) = prev {
                if pb == bi && limit_like(o.terms.order_type) {
                    let l = o.terms.price;
                    let crosses = match o.terms.side {
                        Side::Buy => pp > l && p <= l + 1e-9,
                        Side::Sell => pp < l && p >= l - 1e-9,
                    };
                    if crosses {
                        let ts = pt + (l - pp) / (p - pp) * (t - pt);
                        self.checked.insert(o.id, ts);
                        return fill(ts, l);
                    }
                }
            }
            if let Some(price) = evaluate(o.terms, trig, p) {
                self.checked.insert(o.id, t);
                return fill(t, price);
            }
            prev = Some((t, p, bi));
        }
        self.checked.insert(o.id, now);
        PathMatch::Wait
    }

    /// Books `qty` of a fill against its bar's volume.
    pub fn commit(&mut self, bar: (usize, usize), qty: f64) {
        *self.used.entry(bar).or_default() += qty;
    }
}
