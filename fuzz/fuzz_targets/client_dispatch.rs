//! The client's read path including dispatch: a `TrdApi` with requests in flight reads
//! a scripted, fuzzed stream from a loopback "OpenD". The harness (and what it checks)
//! lives in `tests/support/client_dispatch.rs`, shared with the property test and the
//! regression replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/client_dispatch.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    // Keep inputs small: every byte becomes wire data, and a run costs a connection.
    if data.len() > 64 * 1024 {
        return;
    }
    support::client_dispatch(data);
});
