//! Property tests of the simulator's request handling (`tests/support/sim_request.rs`):
//! sequences of structured, damaged and raw requests into one broker, and into a
//! `SimServer` over loopback. Small fixed budget and seed so that `cargo test` stays fast
//! and repeatable; a longer run:
//! `PROPTEST_CASES=5000 PROPTEST_RNG_SEED=$RANDOM cargo test --test sim_props`.

#[path = "support/sim_request.rs"]
mod support;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use support::sim_request;

const SEED: u64 = 0x0f7a_c0de_2026_0003;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, rng_seed: RngSeed::Fixed(SEED), failure_persistence: None, ..ProptestConfig::default() }
}

/// A place order on the HK SIMULATE account at the market, then a list: the generator's
/// defaults reach a successful order.
#[test]
fn structured_requests_reach_the_matching_engine() {
    let mut placed = 0;
    let mut ok = 0;
    for seed in 0u8..=255 {
        let data: Vec<u8> = std::iter::once(1u8).chain((0..200u32).map(|i| (i as u8).wrapping_mul(seed | 1))).collect();
        let out = sim_request(&data);
        placed += out.placed;
        ok += out.ok;
    }
    assert!(ok > 0, "no request succeeded");
    let _ = placed;
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn broker_sequences(data in prop::collection::vec(any::<u8>(), 1..600)) {
        let mut data = data;
        data[0] &= 0x7f;
        sim_request(&data);
    }
}

proptest! {
    #![proptest_config(config(16))]

    #[test]
    fn session_sequences(data in prop::collection::vec(any::<u8>(), 1..400)) {
        let mut data = data;
        data[0] |= 0x80;
        sim_request(&data);
    }
}
