//! Arbitrary bytes -> FrameDecoder -> open_frame (cipher chosen by the first byte) ->
//! every protobuf message type. The harness itself lives in `tests/support/read_path.rs`
//! so that the regression test and the property tests run exactly the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/read_path.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    support::read_path(data);
});
