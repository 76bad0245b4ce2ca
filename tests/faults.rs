//! The fault matrix: every way a server (or the network) can misbehave, in plain, CBC
//! and FTAES-ECB modes, against the callback API. For each case the user sees a callback
//! or an error with a clear reason within a bounded time, every pending request is
//! answered, nothing panics or hangs, and no thread or socket is left behind.
//! docs/faults.md describes the same matrix in prose. Faults of the connection core
//! that do not depend on TCP framing or ciphers (unanswered requests, late replies, a
//! peer that drops the link, dead links, failed sends) run without a socket in
//! tests/transport.rs.

mod common;

use std::time::Duration;

use common::*;
use ftapi::sim::{BadCipher, FaultPlan, FaultRule, PacketFault};
use ftapi::{ConnState, Error, TrdApi};

/// What the user must see.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// `on_init_connect` with a non-zero code and a description containing this.
    InitFails(&'static str),
    /// The GetGlobalState request fails with this retType and text, the connection
    /// stays up, and the next request works.
    RequestFails(i32, &'static str),
    /// The request fails with Disconnected (-200), then `on_disconnect` fires once with a
    /// description containing this.
    Disconnects(&'static str),
    /// The request succeeds anyway.
    Works,
}

struct Case {
    name: &'static str,
    modes: &'static [Mode],
    plan: fn() -> FaultPlan,
    expect: Expect,
}

fn on_reply(fault: PacketFault) -> FaultPlan {
    FaultPlan::none().rule(FaultRule::new(fault).proto(1002).replies_only().times(1))
}

fn on_init(fault: PacketFault) -> FaultPlan {
    FaultPlan::none().rule(FaultRule::new(fault).proto(1001).replies_only())
}

const ENCRYPTED: &[Mode] = &[Mode::Cbc, Mode::Ecb];

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "server closes before the InitConnect reply",
            modes: &ALL_MODES,
            plan: || on_init(PacketFault::Close),
            expect: Expect::InitFails("connection lost during InitConnect"),
        },
        Case {
            name: "InitConnect retType -1 with a message",
            modes: &ALL_MODES,
            plan: || on_init(PacketFault::InitFail { message: "simulated: no login".into() }),
            expect: Expect::InitFails("simulated: no login"),
        },
        Case {
            name: "InitConnect success without s2c",
            modes: &ALL_MODES,
            plan: || on_init(PacketFault::InitNoS2c),
            expect: Expect::InitFails("no s2c"),
        },
        Case {
            name: "AES key of the wrong length",
            modes: ENCRYPTED,
            plan: || on_init(PacketFault::InitBadAesKey),
            expect: Expect::InitFails("AES key must be 16 bytes"),
        },
        Case {
            name: "AES IV of the wrong length",
            modes: ENCRYPTED,
            plan: || on_init(PacketFault::InitBadIv),
            expect: Expect::InitFails("AES IV must be 16 bytes"),
        },
        Case {
            name: "garbage instead of the InitConnect reply",
            modes: &ALL_MODES,
            plan: || on_init(PacketFault::Garbage { len: 100 }),
            expect: Expect::InitFails("bad header magic"),
        },
        Case {
            name: "InitConnect reply that does not decrypt",
            modes: ENCRYPTED,
            plan: || on_init(PacketFault::Undecryptable(BadCipher::BadPadding)),
            expect: Expect::InitFails("unreadable"),
        },
        Case {
            name: "closes mid-header",
            modes: &ALL_MODES,
            plan: || on_reply(PacketFault::CloseMidHeader),
            expect: Expect::Disconnects("connection lost"),
        },
        Case {
            name: "closes mid-body",
            modes: &ALL_MODES,
            plan: || on_reply(PacketFault::CloseMidBody),
            expect: Expect::Disconnects("connection lost"),
        },
        Case {
            name: "bad magic",
            modes: &ALL_MODES,
            plan: || on_reply(PacketFault::BadMagic),
            expect: Expect::Disconnects("bad header magic"),
        },
        Case {
            name: "random garbage instead of a reply",
            modes: &ALL_MODES,
            plan: || on_reply(PacketFault::Garbage { len: 300 }),
            expect: Expect::Disconnects("bad header magic"),
        },
        Case {
            name: "body length over the limit",
            modes: &ALL_MODES,
            plan: || on_reply(PacketFault::HugeBodyLen { body_len: u32::MAX }),
            expect: Expect::Disconnects("exceeds the limit"),
        },
        Case {
            name: "SHA-1 mismatch",
            modes: &ALL_MODES,
            plan: || on_reply(PacketFault::CorruptSha1),
            expect: Expect::RequestFails(-500, "SHA-1 mismatch"),
        },
        Case {
            name: "body with bad padding",
            modes: ENCRYPTED,
            plan: || on_reply(PacketFault::Undecryptable(BadCipher::BadPadding)),
            expect: Expect::RequestFails(-500, "decrypt failed"),
        },
        Case {
            name: "body of the wrong length for the cipher",
            modes: ENCRYPTED,
            plan: || on_reply(PacketFault::Undecryptable(BadCipher::WrongLength)),
            expect: Expect::RequestFails(-500, "decrypt failed"),
        },
        Case {
            name: "altered plaintext body",
            modes: &[Mode::Plain],
            plan: || on_reply(PacketFault::Undecryptable(BadCipher::BadPadding)),
            expect: Expect::RequestFails(-500, "SHA-1 mismatch"),
        },
        Case {
            name: "reply written one byte at a time",
            modes: &ALL_MODES,
            plan: || on_reply(PacketFault::ByteByByte { pause: Duration::from_millis(1) }),
            expect: Expect::Works,
        },
    ]
}

fn run_case(case: &Case, mode: Mode) {
    let label = format!("{} [{mode:?}]", case.name);
    eprintln!("fault case: {label}");
    // The plan is installed after start so that the silent/drop cases hit this
    // connection; the keepalive interval is short so dead-connection detection is quick.
    let sim = sim_with(mode, |b| b.keepalive_interval(1).faults((case.plan)()));
    let (api, rx) = recorded_api(mode);
    api.set_config(api.config().to_builder().request_timeout(Duration::from_millis(500)).build());
    let addr = sim.local_addr();
    assert!(api.init_connect(&addr.ip().to_string(), addr.port(), mode != Mode::Plain), "{label}");
    let (code, desc) = wait_init(&rx);
    match case.expect {
        Expect::InitFails(text) => {
            assert_ne!(code, 0, "{label}: InitConnect should fail");
            assert!(desc.contains(text), "{label}: desc {desc:?} should mention {text:?}");
            assert_eq!(api.state(), ConnState::Closed, "{label}");
            return;
        }
        _ => assert_eq!((code, desc.as_str()), (0, ""), "{label}: InitConnect"),
    }
    let serial = api.get_global_state();
    assert_ne!(serial, 0, "{label}: request sent");
    let reply = wait_for(&rx, &label, |e| match e {
        Event::GlobalState(s, r) if s == serial => Some(r),
        _ => None,
    });
    match case.expect {
        Expect::Works => {
            reply.unwrap_or_else(|e| panic!("{label}: {e}"));
        }
        Expect::RequestFails(ret_type, text) => {
            let e = reply.expect_err(&label);
            assert_eq!(e.ret_type(), ret_type, "{label}: {e}");
            assert!(e.to_string().contains(text), "{label}: {e} should mention {text:?}");
            assert!(api.is_connected(), "{label}: the connection survives");
            api.call::<ftapi::pb::proto::GetGlobalState>(ftapi::pb::get_global_state::C2s { user_id: 0 })
                .unwrap_or_else(|e| panic!("{label}: the next request works: {e}"));
        }
        Expect::Disconnects(text) => {
            // drop_after_init may fire before or after the reply: both are fine.
            if let Err(e) = &reply {
                assert!(matches!(e, Error::Disconnected { .. }), "{label}: {e}");
            }
            let desc = wait_for(&rx, &label, |e| match e {
                Event::Disconnect(code, desc) => {
                    // A socket failure kind (FTAPI_ConnectFailType) in the high 32 bits.
                    let kind = ftapi::conn::ConnFailure::from_err_code(code).map(|f| f.kind());
                    assert!(matches!(kind, Some(ftapi::conn::FailKind::Socket(_))), "{label}: {code:#x}");
                    Some(desc)
                }
                _ => None,
            });
            assert!(desc.contains(text), "{label}: {desc:?} should mention {text:?}");
            assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "{label}: one callback only");
        }
        Expect::InitFails(_) => unreachable!(),
    }
    api.close();
}

#[test]
fn fault_matrix() {
    // One test function so the thread and descriptor counts are not disturbed by other
    // tests of this binary running in parallel.
    let warm = sim(Mode::Plain);
    drop(warm);
    let (threads, fds) = (thread_count(), fd_count());
    for case in cases() {
        for &mode in case.modes {
            run_case(&case, mode);
        }
    }
    silent_server_is_detected_as_dead();
    connection_refused();
    wait_until("threads back to the baseline", || thread_count() <= threads);
    wait_until("descriptors back to the baseline", || fd_count() <= fds);
}

/// A server that stops answering everything (connection kept open) is declared dead
/// after about three keepalive intervals; the pending request is answered. (The same
/// rule is checked without a socket in tests/transport.rs; once over TCP here.)
fn silent_server_is_detected_as_dead() {
    let mode = Mode::Plain;
    let sim = sim_with(mode, |b| b.keepalive_interval(1));
    let (api, rx) = recorded_api(mode);
    connect(&api, &rx, &sim, mode);
    sim.set_faults(FaultPlan::silent());
    let serial = api.get_global_state();
    let reply = wait_for(&rx, "the pending answer", |e| match e {
        Event::GlobalState(s, r) if s == serial => Some(r),
        _ => None,
    });
    // The 500 ms request timeout may win the race against the dead-connection timer.
    let e = reply.expect_err("no reply from a silent server");
    assert!(matches!(e, Error::Timeout { .. } | Error::Disconnected { .. }), "{e}");
    let desc = wait_for(&rx, "the disconnect", |e| match e {
        Event::Disconnect(_, desc) => Some(desc),
        _ => None,
    });
    assert!(desc.contains("keepalive timeout"), "{desc}");
}

fn connection_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap();
    let api = TrdApi::new();
    let (tx, rx) = crossbeam_channel::unbounded();
    api.set_conn_spi(std::sync::Arc::new(Recorder { tx }));
    assert!(api.init_connect("127.0.0.1", port, false));
    let (code, desc) = wait_init(&rx);
    assert_eq!(code >> 32, 6, "ConnectFailed: {code:#x}");
    assert!(desc.to_lowercase().contains("refused"), "{desc}");
}
