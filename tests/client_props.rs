//! Property test of the client's dispatch path (`tests/support/client_dispatch.rs`): a
//! real `TrdApi` with requests in flight reads arbitrary scripted streams from a loopback
//! peer. Every request is answered exactly once, nothing panics, `on_disconnect` fires
//! once. Small fixed budget and seed so that `cargo test` stays fast and repeatable; a
//! longer run: `PROPTEST_CASES=2000 PROPTEST_RNG_SEED=$RANDOM cargo test --test client_props`.

#[path = "support/client_dispatch.rs"]
mod support;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use support::{client_dispatch, encode_input, ScriptOp};

const SEED: u64 = 0x0f7a_c0de_2026_0002;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, rng_seed: RngSeed::Fixed(SEED), failure_persistence: None, ..ProptestConfig::default() }
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn script_op() -> impl Strategy<Value = ScriptOp> {
    prop_oneof![
        1 => bytes(64).prop_map(ScriptOp::Raw),
        3 => (any::<u8>(), bytes(128)).prop_map(|(target, body)| ScriptOp::Reply { target, body }),
        3 => (any::<u8>(), any::<i8>(), bytes(128))
            .prop_map(|(target, ret_type, s2c)| ScriptOp::ReplyEnvelope { target, ret_type, s2c }),
        2 => (any::<u8>(), any::<u8>(), bytes(128))
            .prop_map(|(which, serial, s2c)| ScriptOp::PushEnvelope { which, serial, s2c }),
        1 => (any::<u8>(), any::<u8>(), bytes(64)).prop_map(|(which, serial, body)| ScriptOp::Push { which, serial, body }),
        1 => (any::<u32>(), any::<u32>(), bytes(64))
            .prop_map(|(proto_id, serial, body)| ScriptOp::Packet { proto_id, serial, body }),
        1 => (any::<u8>(), 0u8..4, bytes(64)).prop_map(|(target, how, body)| ScriptOp::Broken { target, how, body }),
        1 => Just(ScriptOp::Repeat),
    ]
}

#[test]
fn valid_replies_reach_the_callbacks() {
    // Every request answered by an empty success envelope, in every cipher mode.
    for selector in [0u8, 1, 2, 0x80] {
        let kinds: Vec<u8> = (0..8).collect();
        let script: Vec<ScriptOp> =
            (0..8).map(|t| ScriptOp::ReplyEnvelope { target: t, ret_type: 0, s2c: Vec::new() }).collect();
        let out = client_dispatch(&encode_input(selector, &kinds, &script));
        assert_eq!((out.requests, out.replies), (8, 8), "selector {selector}: {out:?}");
    }
}

#[test]
fn unanswered_requests_are_disconnected_or_timed_out() {
    let out = client_dispatch(&encode_input(0, &[3, 4, 5], &[]));
    assert_eq!(out.disconnected, 3, "{out:?}");
    let out = client_dispatch(&encode_input(0x0c, &[3, 4, 5], &[]));
    assert_eq!(out.timeouts + out.disconnected, 3, "{out:?}");
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn arbitrary_scripts(selector in any::<u8>(), kinds in prop::collection::vec(any::<u8>(), 1..8),
                         script in prop::collection::vec(script_op(), 0..12)) {
        let out = client_dispatch(&encode_input(selector, &kinds, &script));
        prop_assert_eq!(out.requests, kinds.len());
    }

    #[test]
    fn arbitrary_bytes(data in bytes(512)) {
        client_dispatch(&data);
    }
}
