//! The error type: kept I/O errors, the domain variants a caller matches on, and the
//! connection-lost predicate.

use std::error::Error as _;
use std::io;

use ftapi::conn::{ConnFailure, FailKind, InitFailKind, SocketFailKind};
use ftapi::types::{select_account, Account, ParseCodeError, SecurityCode, SelectError, TrdEnv, TrdMarket};
use ftapi::Error;

#[test]
fn io_errors_keep_the_io_error() {
    let e = Error::from(io::Error::new(io::ErrorKind::ConnectionReset, "peer reset"));
    assert!(matches!(&e, Error::Io(inner) if inner.kind() == io::ErrorKind::ConnectionReset));
    assert_eq!(e.io_error_kind(), Some(io::ErrorKind::ConnectionReset));
    let source = e.source().expect("the io::Error is the source");
    assert_eq!(source.to_string(), "peer reset");
    let kept = source.downcast_ref::<std::sync::Arc<io::Error>>().expect("the shared io::Error");
    assert_eq!(kept.kind(), io::ErrorKind::ConnectionReset);
    // Still Clone, and the clone shares the same error.
    let c = e.clone();
    assert_eq!(c.io_error_kind(), Some(io::ErrorKind::ConnectionReset));
    assert_eq!(e.ret_type(), -200);
    assert_eq!(Error::NotConnected(ConnFailure::local("x")).io_error_kind(), None);
}

#[test]
fn connection_lost_predicate() {
    let lost = [
        Error::Disconnected {
            proto_id: 2202,
            serial: 1,
            failure: ConnFailure::socket(SocketFailKind::RecvFailed, "reset"),
        },
        Error::NotConnected(ConnFailure::local("closed")),
        Error::Connect(ConnFailure::socket(SocketFailKind::ConnectFailed, "refused")),
        Error::Connect(ConnFailure::init(InitFailKind::Timeout, "no InitConnect reply")),
        Error::from(io::Error::from(io::ErrorKind::BrokenPipe)),
    ];
    for e in &lost {
        assert!(e.is_connection_lost(), "{e}");
        assert_eq!(e.ret_type(), -200, "{e}");
    }
    let not_lost = [
        Error::Server { proto_id: 2202, ret_type: -1, ret_msg: "no".into(), err_code: 0 },
        Error::Timeout { proto_id: 2202, serial: 1, after: std::time::Duration::from_secs(1) },
        Error::InvalidArgument("x".into()),
        Error::NotUnlocked { proto_id: 2202, ret_msg: "please unlock".into() },
        Error::NoSuchAccount(SelectError::NoAccount { env: TrdEnv::Real }),
        // A refused login is a refusal, not a lost connection.
        Error::Connect(ConnFailure::rejected(-1, "bad client version")),
        Error::Connect(ConnFailure::init(InitFailKind::Unknown, "Init succeeded without connID")),
    ];
    for e in &not_lost {
        assert!(!e.is_connection_lost(), "{e}");
    }
}

#[test]
fn conn_failure_is_typed_behind_every_connection_error() {
    let refused = ConnFailure::io(SocketFailKind::ConnectFailed, "127.0.0.1:1", &io::Error::from_raw_os_error(111));
    let e = Error::Connect(refused.clone());
    assert_eq!(e.conn_failure(), Some(&refused));
    assert_eq!(e.conn_failure().unwrap().err_code(), (6i64 << 32) | 111);
    let lost = ConnFailure::socket(SocketFailKind::RecvFailed, "keepalive timeout");
    let e = Error::Disconnected { proto_id: 2202, serial: 3, failure: lost.clone() };
    assert_eq!(e.conn_failure().map(|f| f.kind()), Some(FailKind::Socket(SocketFailKind::RecvFailed)));
    assert!(e.to_string().contains("keepalive timeout"), "{e}");
    let e = Error::NotConnected(ConnFailure::local("closed by the user"));
    assert!(e.conn_failure().unwrap().is_local());
    assert!(!lost.is_local() && !lost.is_refusal());
    let rejected = ConnFailure::rejected(-1, "wrong key");
    assert!(rejected.is_refusal());
    assert_eq!(Error::Connect(rejected).conn_failure().and_then(|f| f.ret_msg()), Some("wrong key"));
    for other in [
        Error::InvalidArgument("x".into()),
        Error::Timeout { proto_id: 1, serial: 1, after: std::time::Duration::ZERO },
        Error::from(io::Error::from(io::ErrorKind::BrokenPipe)),
    ] {
        assert!(other.conn_failure().is_none(), "{other}");
    }
}

#[test]
fn bad_security_codes_are_their_own_variant() {
    let e: Error = "XX.1".parse::<SecurityCode>().unwrap_err().into();
    assert!(matches!(&e, Error::BadSecurityCode(ParseCodeError::UnknownMarket(m)) if m == "XX"), "{e:?}");
    assert_eq!(e.ret_type(), -1);
    assert!(e.to_string().contains("XX"), "{e}");
    let e: Error = "00700".parse::<SecurityCode>().unwrap_err().into();
    assert!(matches!(e, Error::BadSecurityCode(ParseCodeError::MissingMarket(_))), "{e:?}");
}

#[test]
fn account_selection_errors_map_to_matchable_variants() {
    let a = Account::new(TrdEnv::Real, 7, vec![TrdMarket::Hk]);
    let b = Account::new(TrdEnv::Real, 8, vec![TrdMarket::Hk]);
    // OpenD listing the same account twice makes a selection by acc_id ambiguous.
    let twice = [a.clone(), b.clone(), a.clone()];
    let e = select_account(&twice, TrdEnv::Real, 7, 0).unwrap_err();
    assert_eq!(e, SelectError::Ambiguous { acc_id: 7, env: TrdEnv::Real, count: 2 });
    let e = Error::from(e);
    assert!(matches!(e, Error::AccountAmbiguous(SelectError::Ambiguous { acc_id: 7, .. })), "{e:?}");
    assert_eq!(e.ret_type(), -1);
    // The index rule is unchanged (Python's), and a unique acc_id is fine.
    assert_eq!(select_account(&twice, TrdEnv::Real, 0, 1).unwrap().acc_id, 8);
    assert_eq!(select_account(&twice, TrdEnv::Real, 8, 0).unwrap().acc_id, 8);

    let e = Error::from(select_account(&twice, TrdEnv::Real, 9, 0).unwrap_err());
    assert!(matches!(e, Error::NoSuchAccount(SelectError::AccIdNotFound { acc_id: 9, .. })), "{e:?}");
    assert!(e.to_string().contains("refresh_acc_list"), "{e}");
    let e = Error::from(select_account(&twice, TrdEnv::Simulate, 0, 0).unwrap_err());
    assert!(matches!(e, Error::NoSuchAccount(SelectError::NoAccount { env: TrdEnv::Simulate })), "{e:?}");
}

#[test]
fn not_unlocked_keeps_opend_message() {
    let e = Error::NotUnlocked { proto_id: 2202, ret_msg: "Please unlock trade first".into() };
    assert_eq!(e.ret_type(), -1);
    assert_eq!(e.ret_msg(), "Please unlock trade first");
    assert!(e.to_string().contains("unlock_trade"), "{e}");
}
