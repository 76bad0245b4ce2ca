//! The error type: kept I/O errors, the domain variants a caller matches on, and the
//! connection-lost predicate.

use std::error::Error as _;
use std::io;

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
    assert_eq!(Error::NotConnected("x".into()).io_error_kind(), None);
}

#[test]
fn connection_lost_predicate() {
    let lost = [
        Error::Disconnected { proto_id: 2202, serial: 1, reason: "reset".into() },
        Error::NotConnected("closed".into()),
        Error::Connect("refused".into()),
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
    ];
    for e in &not_lost {
        assert!(!e.is_connection_lost(), "{e}");
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
