//! The simulator's request handling: a fresh `Broker` fed a sequence of structured and
//! damaged requests through `TradeHandler::handle`, or (selector bit 7) a `SimServer`
//! on loopback fed sealed requests, raw bytes and broken frames. The harness (and what
//! it checks) lives in `tests/support/sim_request.rs`, shared with the property tests
//! and the regression replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/sim_request.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    if data.len() > 16 * 1024 {
        return;
    }
    support::sim_request(data);
});
