//! Tests of the typed domain data: enums, codes, passwords, model conversion and the
//! account rules.

use std::collections::HashSet;
use std::str::FromStr;

use ftapi::pb;
use ftapi::types::*;

// ---------------------------------------------------------------- enums

/// For one enum: every named variant round-trips through i32 and through its
/// display string and variant name; unknown values are kept; the named values are
/// exactly the values prost knows for the same proto enum.
macro_rules! check_enum {
    ($ty:ty, $pb:ty, $unknown:expr) => {{
        let mut seen = HashSet::new();
        for v in <$ty>::ALL.iter().copied() {
            let n = i32::from(v);
            assert!(seen.insert(n), "{} has value {} twice", stringify!($ty), n);
            assert_eq!(<$ty>::from(n), v);
            assert!(v.is_known());
            let shown = v.to_string();
            assert_eq!(shown, v.as_str());
            assert_eq!(<$ty>::from_str(&shown).unwrap(), v, "{} {:?}", stringify!($ty), shown);
            assert_eq!(<$ty>::from_str(&shown.to_ascii_lowercase()).unwrap(), v);
            let name = format!("{v:?}");
            assert_eq!(<$ty>::from_str(&name).unwrap(), v, "{} by variant name {}", stringify!($ty), name);
            assert!(<$pb>::try_from(n).is_ok(), "{}: {} is not a proto value", stringify!($ty), n);
        }
        // Every value the proto knows is named here, and nothing else is.
        for n in -5..=1000 {
            assert_eq!(<$pb>::try_from(n).is_ok(), <$ty>::from(n).is_known(), "{} value {}", stringify!($ty), n);
        }
        let u: $ty = <$ty>::from($unknown);
        assert_eq!(u, <$ty>::Other($unknown));
        assert!(!u.is_known());
        assert_eq!(i32::from(u), $unknown);
        assert_eq!(u.to_string(), "N/A");
        assert!(<$ty>::from_str("definitely-not-a-value").is_err());
    }};
}

#[test]
fn every_enum_round_trips_and_matches_the_protos() {
    use pb::trd_common as tc;
    check_enum!(TrdEnv, tc::TrdEnv, 7);
    check_enum!(TrdCategory, tc::TrdCategory, 9);
    check_enum!(TrdMarket, tc::TrdMarket, 999);
    check_enum!(TrdSecMarket, tc::TrdSecMarket, 999);
    check_enum!(TrdSide, tc::TrdSide, 99);
    check_enum!(OrderType, tc::OrderType, 99);
    check_enum!(TrailType, tc::TrailType, 99);
    check_enum!(OrderStatus, tc::OrderStatus, 99);
    check_enum!(OrderFillStatus, tc::OrderFillStatus, 99);
    check_enum!(PositionSide, tc::PositionSide, 99);
    check_enum!(ModifyOrderOp, tc::ModifyOrderOp, 99);
    check_enum!(TrdAccType, tc::TrdAccType, 99);
    check_enum!(TrdAccStatus, tc::TrdAccStatus, 99);
    check_enum!(TrdAccRole, tc::TrdAccRole, 99);
    check_enum!(Currency, tc::Currency, 99);
    check_enum!(CltRiskLevel, tc::CltRiskLevel, 99);
    check_enum!(CltRiskStatus, tc::CltRiskStatus, 99);
    check_enum!(TimeInForce, tc::TimeInForce, 99);
    check_enum!(SimAccType, tc::SimAccType, 99);
    check_enum!(DtStatus, tc::DtStatus, 99);
    check_enum!(TrdSubAccType, tc::TrdSubAccType, 99);
    check_enum!(TrdAssetCategory, tc::TrdAssetCategory, 99);
    check_enum!(ExposureLevel, tc::ExposureLevel, 99);
    check_enum!(PositionType, tc::PositionType, 99);
    check_enum!(SecurityFirm, tc::SecurityFirm, 99);
    check_enum!(QotMarket, pb::qot_common::QotMarket, 999);
    check_enum!(QotMarketState, pb::qot_common::QotMarketState, 99);
    check_enum!(OptionStrategyType, pb::qot_common::OptionStrategyType, 99);
    check_enum!(Session, pb::common::Session, 99);
    check_enum!(PredSide, pb::common::PredSide, 99);
    check_enum!(ProgramStatusType, pb::common::ProgramStatusType, 99);
    check_enum!(CashFlowDirection, pb::trd_flow_summary::TrdCashFlowDirection, 99);
    check_enum!(NotifyType, pb::notify::NotifyType, 99);
    check_enum!(GtwEventType, pb::notify::GtwEventType, 99);
}

#[test]
fn enum_strings_follow_the_python_sdk() {
    assert_eq!(TrdMarket::Unknown.to_string(), "N/A");
    assert_eq!(TrdMarket::FuturesSimulateHk.to_string(), "FUTURES_SIMULATE_HK");
    assert_eq!(TrdMarket::HkFund.to_string(), "HKFUND");
    assert_eq!(TrdMarket::from(126).to_string(), "JPFUND");
    assert_eq!(TrdEnv::Simulate.to_string(), "SIMULATE");
    assert_eq!(OrderType::TwapMarket.to_string(), "TWAP");
    assert_eq!(OrderStatus::TimeOut.to_string(), "TIMEOUT");
    assert_eq!(OrderStatus::from(-1), OrderStatus::Unknown);
    assert_eq!(PositionSide::from(-1).to_string(), "N/A");
    assert_eq!(CltRiskLevel::from(-1), CltRiskLevel::Unknown);
    assert_eq!(DtStatus::from(2).to_string(), "EM_CALL");
    assert_eq!(SecurityFirm::FutuInc.to_string(), "FUTUINC");
    assert_eq!(GtwEventType::TradePwdChanged.to_string(), "TradePwdChanged");
    assert_eq!(QotMarketState::from(27).to_string(), "ASHARE_AFTER_HOURS_WAIT");
    assert_eq!(QotMarket::HkFuture.to_string(), "HK_FUTURE");
    assert_eq!(OrderFillStatus::Payout.to_string(), "PAYOUT");
    assert_eq!(format!("{:>6}", TrdSide::Buy), "   BUY");
}

#[test]
fn enum_parsing_accepts_aliases_and_none() {
    assert_eq!("NONE".parse::<TrdMarket>().unwrap(), TrdMarket::Unknown);
    assert_eq!("n/a".parse::<TrdMarket>().unwrap(), TrdMarket::Unknown);
    assert_eq!("hk_fund".parse::<TrdMarket>().unwrap(), TrdMarket::HkFund);
    assert_eq!("futures_simulate_us".parse::<TrdMarket>().unwrap(), TrdMarket::FuturesSimulateUs);
    assert_eq!(" Real ".parse::<TrdEnv>().unwrap(), TrdEnv::Real);
    assert_eq!("stib_after_hours_begin".parse::<QotMarketState>().unwrap(), QotMarketState::AShareAfterHoursBegin);
    assert_eq!("Moomoo US".parse::<SecurityFirm>().unwrap(), SecurityFirm::FutuInc);
    assert_eq!("none".parse::<SecurityFirm>().unwrap(), SecurityFirm::Unknown);
    assert_eq!("sh".parse::<TrdSecMarket>().unwrap(), TrdSecMarket::CnSh);
    assert_eq!("limit".parse::<OrderType>().unwrap(), OrderType::Normal);
    // TrdEnv has no "N/A" value, so NONE is not a TrdEnv.
    assert!("NONE".parse::<TrdEnv>().is_err());
    let err = "XYZ".parse::<OrderType>().unwrap_err();
    assert_eq!(err.type_name, "OrderType");
    assert!(err.to_string().contains("XYZ"));
    let e: ftapi::Error = err.into();
    assert_eq!(e.ret_type(), -1);
}

#[test]
fn other_holding_a_known_value_equals_the_named_variant() {
    assert_eq!(TrdMarket::Other(1), TrdMarket::Hk);
    assert_eq!(TrdMarket::Other(1).to_string(), "HK");
    let set: HashSet<TrdMarket> = [TrdMarket::Hk, TrdMarket::Other(1), TrdMarket::Other(77)].into_iter().collect();
    assert_eq!(set.len(), 2);
    assert!(TrdMarket::Other(1).is_known());
}

#[test]
fn order_status_helpers() {
    let finals: Vec<_> = OrderStatus::ALL.iter().copied().filter(|s| s.is_final()).collect();
    assert_eq!(
        finals,
        [
            OrderStatus::SubmitFailed,
            OrderStatus::FilledAll,
            OrderStatus::CancelledPart,
            OrderStatus::CancelledAll,
            OrderStatus::Failed,
            OrderStatus::Deleted,
            OrderStatus::FillCancelled,
        ]
    );
    assert!(OrderStatus::Submitted.is_open());
    assert!(OrderStatus::FilledPart.is_open());
    assert!(OrderStatus::Disabled.is_open());
    assert!(!OrderStatus::Unknown.is_open());
    assert!(!OrderStatus::Other(77).is_open());
    assert!(!OrderStatus::Other(77).is_final());
    assert!(OrderStatus::Failed.is_failed());
    assert!(!OrderStatus::FilledAll.is_failed());
}

#[test]
fn security_firm_and_moomoo_names() {
    assert_eq!(moomoo::MOOMOO_US.value(), 2);
    assert_eq!(moomoo::MOOMOO_JP.value(), 7);
    assert_eq!(moomoo::ALL.iter().map(|f| f.value()).collect::<Vec<_>>(), [2, 3, 4, 5, 6, 7]);
    assert!(!SecurityFirm::FutuSecurities.is_moomoo());
    assert_eq!(SecurityFirm::FutuSecurities.display_name(), "FUTU HK");
    assert_eq!(SecurityFirm::FutuAu.display_name(), "Moomoo AU");
    assert_eq!(SecurityFirm::Other(42).display_name(), "Unknown security");
    assert!(!SecurityFirm::Unknown.is_firm());
    assert!(!SecurityFirm::Other(42).is_firm());
    assert!(SecurityFirm::FutuMy.is_firm());
}

// ---------------------------------------------------------------- codes

#[test]
fn code_parsing_table() {
    let ok: &[(&str, Market, &str, i32, i32)] = &[
        ("HK.00700", Market::Hk, "00700", 1, 1),
        ("US.AAPL", Market::Us, "AAPL", 2, 11),
        ("SH.600519", Market::Sh, "600519", 31, 21),
        ("SZ.000001", Market::Sz, "000001", 32, 22),
        ("HK_FUTURE.HSImain", Market::HkFuture, "HSImain", 1, 2),
        ("SG.D05", Market::Sg, "D05", 41, 31),
        ("JP.7203", Market::Jp, "7203", 51, 41),
        ("AU.BHP", Market::Au, "BHP", 61, 51),
        ("MY.1155", Market::My, "1155", 71, 61),
        ("CA.RY", Market::Ca, "RY", 81, 71),
        ("FX.USDHKD", Market::Fx, "USDHKD", 91, 81),
        ("CC.BTCUSD", Market::Cc, "BTCUSD", 101, 91),
        ("EC.SOMEEVENT", Market::Ec, "SOMEEVENT", 111, 101),
        ("US..DJI", Market::Us, ".DJI", 2, 11),
        ("us.aapl", Market::Us, "aapl", 2, 11),
        ("US.BRK.B", Market::Us, "BRK.B", 2, 11),
    ];
    for &(s, market, code, sec, qot) in ok {
        let c: SecurityCode = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(c.market, market, "{s}");
        assert_eq!(c.code, code, "{s}");
        assert_eq!(c.sec_market().value(), sec, "{s}");
        assert_eq!(c.qot_market().value(), qot, "{s}");
        let pbs = c.to_pb_security();
        assert_eq!((pbs.market, pbs.code.as_str()), (qot, code));
        assert_eq!(SecurityCode::from_pb_security(&pbs), c);
        let shown = c.to_string();
        assert_eq!(shown.parse::<SecurityCode>().unwrap(), c);
    }
    assert_eq!("us.aapl".parse::<SecurityCode>().unwrap().to_string(), "US.aapl");

    assert_eq!("".parse::<SecurityCode>(), Err(ParseCodeError::Empty));
    assert!(matches!("00700".parse::<SecurityCode>(), Err(ParseCodeError::MissingMarket(_))));
    assert!(matches!(".00700".parse::<SecurityCode>(), Err(ParseCodeError::MissingMarket(_))));
    assert!(matches!("HK.".parse::<SecurityCode>(), Err(ParseCodeError::EmptySymbol(_))));
    assert!(matches!("XX.00700".parse::<SecurityCode>(), Err(ParseCodeError::UnknownMarket(p)) if p == "XX"));
    assert!(matches!("N/A.00700".parse::<SecurityCode>(), Err(ParseCodeError::UnknownMarket(_))));
    let e: ftapi::Error = "XX.1".parse::<SecurityCode>().unwrap_err().into();
    assert!(e.to_string().contains("XX"));
    assert_eq!(SecurityCode::try_from("HK.00700").unwrap(), SecurityCode::new(Market::Hk, "00700"));
}

#[test]
fn codes_from_opend_are_reprefixed_from_sec_market() {
    let table: &[(i32, &str)] = &[
        (1, "HK.X"),
        (2, "US.X"),
        (31, "SH.X"),
        (32, "SZ.X"),
        (41, "SG.X"),
        (51, "JP.X"),
        (61, "AU.X"),
        (71, "MY.X"),
        (81, "CA.X"),
        (91, "FX.X"),
        (101, "CC.X"),
        (111, "EC.X"),
        (0, "N/A.X"),
        (12345, "N/A.X"),
    ];
    for &(sec, want) in table {
        assert_eq!(SecurityCode::from_sec_market(sec, "X").to_string(), want, "secMarket {sec}");
    }
    assert_eq!(SecurityCode::from_opt_sec_market(None, "X").market, Market::Unknown);
    // Unknown quote market from OpenD.
    let s = pb::qot_common::Security { market: 4242, code: "Z".into() };
    assert_eq!(SecurityCode::from_pb_security(&s).to_string(), "N/A.Z");
    for m in Market::ALL {
        assert_eq!(m.as_str().parse::<Market>().unwrap(), *m);
        assert_eq!(Market::from_qot_market(m.qot_market()), *m);
    }
    assert_eq!("n/a".parse::<Market>().unwrap(), Market::Unknown);
}

#[test]
fn trd_market_for_code_matches_the_sdk_table() {
    use TrdCategory::{Crypto, Future, Security};
    use TrdEnv::{Real, Simulate};
    use TrdMarket as M;
    let rows: &[(&str, M, M, M, M)] = &[
        // code, SECURITY real, SECURITY simulate, FUTURE real, FUTURE simulate
        ("HK.00700", M::Hk, M::Hk, M::Futures, M::FuturesSimulateHk),
        ("US.AAPL", M::Us, M::Us, M::Futures, M::FuturesSimulateUs),
        ("SH.600519", M::Hkcc, M::Cn, M::Futures, M::Unknown),
        ("SZ.000001", M::Hkcc, M::Cn, M::Futures, M::Unknown),
        ("SG.D05", M::Sg, M::Sg, M::Futures, M::FuturesSimulateSg),
        ("JP.7203", M::Jp, M::Jp, M::Futures, M::FuturesSimulateJp),
        ("AU.BHP", M::Au, M::Au, M::Futures, M::Unknown),
        ("MY.1155", M::My, M::My, M::Futures, M::Unknown),
        ("CA.RY", M::Ca, M::Ca, M::Futures, M::Unknown),
        ("CC.BTCUSD", M::Crypto, M::Crypto, M::Futures, M::Unknown),
        ("EC.X", M::Unknown, M::Unknown, M::Prediction, M::Unknown),
        ("FX.USDHKD", M::Unknown, M::Unknown, M::Futures, M::Unknown),
        ("HK_FUTURE.HSImain", M::Unknown, M::Unknown, M::Futures, M::Unknown),
    ];
    for &(s, sec_real, sec_sim, fut_real, fut_sim) in rows {
        let c: SecurityCode = s.parse().unwrap();
        assert_eq!(trd_market_for_code(&c, Security, Real), sec_real, "{s}");
        assert_eq!(trd_market_for_code(&c, Security, Simulate), sec_sim, "{s}");
        assert_eq!(trd_market_for_code(&c, Crypto, Real), sec_real, "{s}");
        assert_eq!(trd_market_for_code(&c, Future, Real), fut_real, "{s}");
        assert_eq!(trd_market_for_code(&c, Future, Simulate), fut_sim, "{s}");
    }
}

// ---------------------------------------------------------------- passwords

#[test]
fn password_md5() {
    let p = TradePassword::plain("123456");
    assert!(!p.is_md5());
    assert_eq!(p.pwd_md5().as_str(), "e10adc3949ba59abbe56e057f20f883e");
    assert_eq!(TradePassword::plain("").pwd_md5().as_str(), "d41d8cd98f00b204e9800998ecf8427e");
    // UTF-8 bytes are hashed.
    assert_eq!(TradePassword::plain("密码").pwd_md5().len(), 32);

    let m = TradePassword::md5("E10ADC3949BA59ABBE56E057F20F883E").unwrap();
    assert!(m.is_md5());
    assert_eq!(m.pwd_md5().as_str(), "e10adc3949ba59abbe56e057f20f883e");
    assert_eq!(TradePassword::md5("e10adc3949ba59abbe56e057f20f883").unwrap_err(), InvalidMd5 { len: 31 });
    assert!(TradePassword::md5("g10adc3949ba59abbe56e057f20f883e").is_err());
    assert!(TradePassword::md5("").is_err());

    let either = TradePassword::from_plain_or_md5("e10adc3949ba59abbe56e057f20f883e");
    assert!(either.is_md5());
    assert_eq!(either.pwd_md5().as_str(), "e10adc3949ba59abbe56e057f20f883e");
    let either = TradePassword::from_plain_or_md5("123456");
    assert!(!either.is_md5());
    assert_eq!(either.pwd_md5().as_str(), "e10adc3949ba59abbe56e057f20f883e");
}

#[test]
fn password_debug_is_redacted() {
    let p = TradePassword::plain("hunter2-secret");
    let shown = format!("{p:?} {:#?}", p.clone());
    assert!(!shown.contains("hunter2"), "{shown}");
    let m = TradePassword::md5("e10adc3949ba59abbe56e057f20f883e").unwrap();
    let shown = format!("{m:?}");
    assert!(!shown.contains("e10adc"), "{shown}");
    assert!(shown.contains("redacted"));
}

// ---------------------------------------------------------------- model

#[test]
fn account_from_pb() {
    let wire = pb::trd_common::TrdAcc {
        trd_env: 1,
        acc_id: 281756455982434,
        trd_market_auth_list: vec![1, 2, 999],
        acc_type: Some(2),
        card_num: Some("1001 1234".into()),
        security_firm: Some(2),
        sim_acc_type: None,
        uni_card_num: Some("1001".into()),
        acc_status: Some(0),
        acc_role: Some(2),
        jp_acc_type: vec![1, 2],
        competition_acc_name: None,
    };
    let a = Account::from(&wire);
    assert_eq!(a.env, TrdEnv::Real);
    assert!(a.is_real());
    assert_eq!(a.acc_id, 281756455982434);
    assert_eq!(a.trd_market_auth, [TrdMarket::Hk, TrdMarket::Us, TrdMarket::Other(999)]);
    assert_eq!(a.first_market(), TrdMarket::Hk);
    assert_eq!(a.acc_type, TrdAccType::Margin);
    assert_eq!(a.security_firm, SecurityFirm::FutuInc);
    assert_eq!(a.sim_acc_type, SimAccType::Unknown);
    assert_eq!(a.acc_status, Some(TrdAccStatus::Active));
    assert_eq!(a.acc_role, TrdAccRole::Master);
    assert_eq!(a.jp_acc_types, [TrdSubAccType::JpGeneral, TrdSubAccType::JpTokutei]);
    assert_eq!(a.card_num.as_deref(), Some("1001 1234"));
    assert_eq!(a.default_ref(), AccountRef::new(TrdEnv::Real, 281756455982434, TrdMarket::Hk));
    assert_eq!(Account::from(&a.to_pb()), a);

    let empty = Account::new(TrdEnv::Simulate, 5, vec![]);
    assert_eq!(empty.first_market(), TrdMarket::Unknown);
    assert_eq!(Account::from(&empty.to_pb()), empty);
}

#[test]
fn header_round_trip() {
    let h = pb::trd_common::TrdHeader { trd_env: 0, acc_id: 9, trd_market: 13, jp_acc_type: Some(11) };
    let r = AccountRef::from(&h);
    assert_eq!(r.env, TrdEnv::Simulate);
    assert_eq!(r.market, TrdMarket::FuturesSimulateJp);
    assert_eq!(r.jp_acc_type, Some(TrdSubAccType::JpDerivativeLong));
    assert_eq!(r.to_pb_header(), h);
    assert_eq!(pb::trd_common::TrdHeader::from(r), h);
}

#[test]
fn funds_from_pb() {
    let wire = pb::trd_common::Funds {
        power: 1000.0,
        total_assets: 2000.0,
        cash: 500.0,
        market_val: 1500.0,
        frozen_cash: 10.0,
        debt_cash: 0.0,
        avl_withdrawal_cash: 490.0,
        currency: Some(1),
        risk_level: Some(-1),
        risk_status: Some(3),
        dt_status: Some(77),
        is_pdt: Some(false),
        cash_info_list: vec![pb::trd_common::AccCashInfo {
            currency: Some(2),
            cash: Some(64.0),
            available_balance: None,
            net_cash_power: Some(60.0),
        }],
        market_info_list: vec![pb::trd_common::AccMarketInfo { trd_market: Some(2), assets: Some(99.5) }],
        exposure_level: Some(7),
        ..Default::default()
    };
    let f = Funds::from(&wire);
    assert_eq!((f.power, f.total_assets, f.cash, f.market_val), (1000.0, 2000.0, 500.0, 1500.0));
    assert_eq!(f.avl_withdrawal_cash, 490.0);
    assert_eq!(f.currency, Currency::Hkd);
    assert_eq!(f.risk_level, Some(CltRiskLevel::Unknown));
    assert_eq!(f.risk_status, CltRiskStatus::Level3);
    assert_eq!(f.dt_status, DtStatus::Other(77));
    assert_eq!(f.is_pdt, Some(false));
    assert_eq!(f.unrealized_pl, None);
    assert_eq!(f.cash_info.len(), 1);
    assert_eq!(f.cash_info[0].currency, Currency::Usd);
    assert_eq!(f.cash_info[0].cash, Some(64.0));
    assert_eq!(f.cash_info[0].available_balance, None);
    assert_eq!(f.market_info[0].trd_market, TrdMarket::Us);
    assert_eq!(f.market_info[0].assets, Some(99.5));
    assert_eq!(f.exposure_level, ExposureLevel::MarginCall);
}

#[test]
fn position_from_pb() {
    let wire = pb::trd_common::Position {
        position_id: 77,
        position_side: 1,
        code: "AAPL".into(),
        name: "Apple".into(),
        qty: -10.0,
        can_sell_qty: 0.0,
        price: 190.5,
        cost_price: None,
        val: -1905.0,
        pl_val: 12.0,
        pl_ratio: Some(0.0063),
        sec_market: Some(2),
        td_buy_qty: Some(3.0),
        currency: Some(2),
        trd_market: Some(2),
        strategy_type: Some(6),
        position_type: Some(2),
        acc_id: Some(1001),
        ..Default::default()
    };
    let p = Position::from(&wire);
    assert_eq!(p.code.to_string(), "US.AAPL");
    assert_eq!(p.position_side, PositionSide::Short);
    assert_eq!(p.qty, -10.0);
    assert_eq!(p.cost_price, None);
    assert_eq!(p.pl_ratio, Some(0.0063));
    assert_eq!(p.td_buy_qty, Some(3.0));
    assert_eq!(p.td_sell_qty, None);
    assert_eq!(p.currency, Currency::Usd);
    assert_eq!(p.trd_market, TrdMarket::Us);
    assert_eq!(p.strategy_type, OptionStrategyType::Straddle);
    assert_eq!(p.position_type, PositionType::Leg);
    assert_eq!(p.acc_id, Some(1001));
    assert_eq!(p.jp_acc_type, TrdSubAccType::None);

    // No secMarket: the SDK's N/A prefix.
    let bare = pb::trd_common::Position { code: "00700".into(), ..Default::default() };
    assert_eq!(Position::from(&bare).code.to_string(), "N/A.00700");
}

#[test]
fn order_from_pb_with_combo_legs() {
    let leg = |market: i32, code: &str, side: Option<i32>, ratio: f64| pb::qot_common::ComboLeg {
        security: pb::qot_common::Security { market, code: code.into() },
        side,
        qty_ratio: Some(ratio),
        position_id: None,
        pred_side: None,
    };
    let wire = pb::trd_common::Order {
        trd_side: 2,
        order_type: 14,
        order_status: 10,
        order_id: 123456789,
        order_id_ex: "FT123".into(),
        code: "AAPL240119C190000".into(),
        name: "AAPL call".into(),
        qty: 5.0,
        price: None,
        create_time: "2024-01-02 09:30:00.123".into(),
        update_time: "2024-01-02 09:31:00".into(),
        fill_qty: Some(2.0),
        fill_avg_price: Some(3.5),
        last_err_msg: None,
        sec_market: Some(2),
        remark: Some("mine".into()),
        time_in_force: Some(1),
        fill_outside_rth: Some(true),
        aux_price: Some(3.0),
        trail_type: Some(1),
        trail_value: Some(5.0),
        trail_spread: Some(0.1),
        currency: Some(2),
        trd_market: Some(2),
        session: Some(3),
        strategy_type: Some(4),
        combo_legs: vec![leg(11, "AAPL240119C190000", Some(1), 1.0), leg(11, "AAPL240119C200000", Some(2), 1.0)],
        ..Default::default()
    };
    let o = Order::from(&wire);
    assert_eq!(o.trd_side, TrdSide::Sell);
    assert_eq!(o.order_type, OrderType::TrailingStop);
    assert_eq!(o.order_status, OrderStatus::FilledPart);
    assert!(o.order_status.is_open());
    assert_eq!(o.order_id, 123456789);
    assert_eq!(o.order_id_ex, "FT123");
    assert_eq!(o.code.to_string(), "US.AAPL240119C190000");
    assert_eq!(o.price, 0.0);
    assert_eq!((o.fill_qty, o.fill_avg_price, o.remaining_qty()), (2.0, 3.5, 3.0));
    assert_eq!(o.last_err_msg, "");
    assert_eq!(o.remark, "mine");
    assert_eq!(o.time_in_force, Some(TimeInForce::Gtc));
    assert_eq!(o.fill_outside_rth, Some(true));
    assert_eq!(o.trail_type, TrailType::Ratio);
    assert_eq!(o.session, Session::All);
    assert_eq!(o.strategy_type, OptionStrategyType::Spread);
    assert_eq!(o.combo_legs.len(), 2);
    assert_eq!(o.combo_legs[0].code.to_string(), "US.AAPL240119C190000");
    assert_eq!(o.combo_legs[0].side, TrdSide::Buy);
    assert_eq!(o.combo_legs[1].side, TrdSide::Sell);
    assert_eq!(o.combo_legs[1].qty_ratio, Some(1.0));
    assert_eq!(o.combo_legs[0].to_pb(), wire.combo_legs[0]);

    // Unknown enum values survive.
    let odd = pb::trd_common::Order { order_status: 99, trd_side: 9, order_type: 55, ..Default::default() };
    let o = Order::from(&odd);
    assert_eq!(o.order_status, OrderStatus::Other(99));
    assert_eq!(o.trd_side, TrdSide::Other(9));
    assert_eq!(o.order_type, OrderType::Other(55));
    assert_eq!(o.time_in_force, None);
}

#[test]
fn order_fill_from_pb() {
    let wire = pb::trd_common::OrderFill {
        trd_side: 1,
        fill_id: 55,
        fill_id_ex: "F55".into(),
        order_id: Some(42),
        order_id_ex: Some("FT42".into()),
        code: "00700".into(),
        name: "TENCENT".into(),
        qty: 100.0,
        price: 380.0,
        create_time: "2024-01-02 09:30:01".into(),
        counter_broker_id: Some(1234),
        counter_broker_name: Some("Broker".into()),
        sec_market: Some(1),
        status: Some(1),
        trd_market: Some(1),
        ..Default::default()
    };
    let f = OrderFill::from(&wire);
    assert_eq!(f.code.to_string(), "HK.00700");
    assert_eq!(f.trd_side, TrdSide::Buy);
    assert_eq!((f.fill_id, f.fill_id_ex.as_str()), (55, "F55"));
    assert_eq!(f.order_id_ex.as_deref(), Some("FT42"));
    assert_eq!(f.status, Some(OrderFillStatus::Cancelled));
    assert_eq!(f.counter_broker_id, Some(1234));
    assert_eq!(f.trd_market, TrdMarket::Hk);
    let no_status = pb::trd_common::OrderFill { ..Default::default() };
    assert_eq!(OrderFill::from(&no_status).status, None);
}

#[test]
fn small_results_from_pb() {
    let m = MaxTrdQtys::from(&pb::trd_common::MaxTrdQtys {
        max_cash_buy: 100.0,
        max_cash_and_margin_buy: Some(300.0),
        max_position_sell: 0.0,
        max_sell_short: None,
        max_buy_back: None,
        long_required_im: Some(1.5),
        short_required_im: None,
        session: Some(4),
    });
    assert_eq!((m.max_cash_buy, m.max_cash_and_margin_buy, m.max_position_sell), (100.0, Some(300.0), 0.0));
    assert_eq!(m.long_required_im, Some(1.5));
    assert_eq!(m.session, Session::Overnight);

    let c = ComboMaxTrdQtys::from(&pb::trd_common::ComboMaxTrdQtys {
        nlv_change: Some(-1.0),
        max_with_draw_change: Some(2.0),
        ..Default::default()
    });
    assert_eq!((c.nlv_change, c.max_withdraw_change, c.option_buy_power), (Some(-1.0), Some(2.0), None));

    let r = MarginRatio::from(&pb::trd_get_margin_ratio::MarginRatioInfo {
        security: pb::qot_common::Security { market: 1, code: "00700".into() },
        is_long_permit: Some(true),
        is_short_permit: Some(false),
        im_long_ratio: Some(0.3),
        mm_short_ratio: Some(0.25),
        ..Default::default()
    });
    assert_eq!(r.code.to_string(), "HK.00700");
    assert_eq!((r.is_long_permit, r.is_short_permit), (Some(true), Some(false)));
    assert_eq!((r.im_long_ratio, r.mm_short_ratio, r.short_fee_rate), (Some(0.3), Some(0.25), None));

    let fee = OrderFee::from(&pb::trd_common::OrderFee {
        order_id_ex: "FT1".into(),
        fee_amount: Some(15.5),
        fee_list: vec![
            pb::trd_common::OrderFeeItem { title: Some("Commission".into()), value: Some(10.0) },
            pb::trd_common::OrderFeeItem { title: None, value: None },
        ],
    });
    assert_eq!(fee.order_id_ex, "FT1");
    assert_eq!(fee.fee_amount, Some(15.5));
    assert_eq!(fee.fee_list[0].title, "Commission");
    assert_eq!(fee.fee_list[0].value, 10.0);
    assert_eq!((fee.fee_list[1].title.as_str(), fee.fee_list[1].value), ("", 0.0));

    let cf = CashFlow::from(&pb::trd_flow_summary::FlowSummaryInfo {
        clearing_date: Some("2024-01-02".into()),
        settlement_date: Some("2024-01-04".into()),
        currency: Some(1),
        cash_flow_type: Some("Dividend".into()),
        cash_flow_direction: Some(1),
        cash_flow_amount: Some(88.8),
        cash_flow_remark: None,
        cash_flow_id: Some(7),
        create_time: None,
    });
    assert_eq!(cf.cash_flow_id, Some(7));
    assert_eq!(cf.clearing_date.as_deref(), Some("2024-01-02"));
    assert_eq!(cf.currency, Currency::Hkd);
    assert_eq!(cf.direction, CashFlowDirection::In);
    assert_eq!(cf.amount, Some(88.8));
    assert_eq!(cf.remark, None);
}

// ---------------------------------------------------------------- account rules

fn acc(env: TrdEnv, id: u64, markets: &[TrdMarket], firm: SecurityFirm) -> Account {
    let mut a = Account::new(env, id, markets.to_vec());
    a.security_firm = firm;
    a
}

fn ids(accounts: &[Account]) -> Vec<u64> {
    accounts.iter().map(|a| a.acc_id).collect()
}

fn sample_accounts() -> Vec<Account> {
    use SecurityFirm as F;
    use TrdEnv::{Real, Simulate};
    use TrdMarket as M;
    vec![
        acc(Real, 1, &[M::Hk, M::Us, M::Hkcc], F::FutuSecurities),
        acc(Real, 2, &[M::Us], F::FutuInc),
        acc(Real, 3, &[M::Futures], F::FutuSecurities),
        acc(Simulate, 4, &[M::Hk], F::Unknown),
        acc(Simulate, 5, &[M::Us], F::FutuInc),
        acc(Simulate, 6, &[M::FuturesSimulateHk], F::Unknown),
        acc(Simulate, 7, &[M::Prediction], F::Unknown),
        acc(Real, 8, &[M::Hk], F::Unknown),
        acc(Real, 9, &[M::Hk], F::Other(99)),
        acc(Simulate, 10, &[M::Cn], F::Unknown),
    ]
}

#[test]
fn filtering_by_market() {
    let all = sample_accounts();
    let none = SecurityFirm::Unknown;
    assert_eq!(ids(&filter_accounts(&all, TrdMarket::Unknown, none, false)), (1..=10).collect::<Vec<_>>());
    assert_eq!(ids(&filter_accounts(&all, TrdMarket::Hk, none, false)), [1, 4, 8, 9]);
    assert_eq!(ids(&filter_accounts(&all, TrdMarket::Us, none, false)), [1, 2, 5]);
    assert_eq!(ids(&filter_accounts(&all, TrdMarket::Cn, none, false)), [10]);
    // A futures context keeps real futures accounts and the simulated-futures / prediction ones.
    assert_eq!(ids(&filter_accounts(&all, TrdMarket::Futures, none, true)), [3, 6, 7]);
    // As in the SDK, the clause follows the FUTURES market even without the flag.
    assert_eq!(ids(&filter_accounts(&all, TrdMarket::Futures, none, false)), [3, 6, 7]);
    // Unknown market numbers in the auth list do not match anything but themselves.
    let odd = [acc(TrdEnv::Real, 11, &[TrdMarket::Other(500)], none)];
    assert!(filter_accounts(&odd, TrdMarket::Hk, none, false).is_empty());
    assert_eq!(ids(&filter_accounts(&odd, TrdMarket::Unknown, none, false)), [11]);
}

#[test]
fn filtering_by_firm() {
    let all = sample_accounts();
    // Real accounts of another firm disappear; simulated ones and firm-less ones stay
    // (an unknown firm number counts as no firm, as in the SDK).
    assert_eq!(ids(&filter_accounts(&all, TrdMarket::Hk, SecurityFirm::FutuInc, false)), [4, 8, 9]);
    assert_eq!(ids(&filter_accounts(&all, TrdMarket::Us, SecurityFirm::FutuInc, false)), [2, 5]);
    assert_eq!(ids(&filter_accounts(&all, TrdMarket::Us, SecurityFirm::FutuSecurities, false)), [1, 5]);
    assert_eq!(
        ids(&filter_accounts(&all, TrdMarket::Unknown, SecurityFirm::FutuSecurities, false)),
        [1, 3, 4, 5, 6, 7, 8, 9, 10]
    );
}

#[test]
fn firm_adoption() {
    let all = sample_accounts();
    assert_eq!(adopt_security_firm(&all), Some(SecurityFirm::FutuSecurities));
    let us = filter_accounts(&all, TrdMarket::Us, SecurityFirm::Unknown, false);
    assert_eq!(adopt_security_firm(&us), Some(SecurityFirm::FutuSecurities));
    let firmless =
        [acc(TrdEnv::Simulate, 1, &[], SecurityFirm::FutuInc), acc(TrdEnv::Real, 2, &[], SecurityFirm::Other(9))];
    assert_eq!(adopt_security_firm(&firmless), None);
}

#[test]
fn selecting_an_account() {
    let hk = filter_accounts(&sample_accounts(), TrdMarket::Hk, SecurityFirm::Unknown, false);
    assert_eq!(select_account(&hk, TrdEnv::Real, 0, 0).unwrap().acc_id, 1);
    assert_eq!(select_account(&hk, TrdEnv::Real, 0, 2).unwrap().acc_id, 9);
    assert_eq!(select_account(&hk, TrdEnv::Simulate, 0, 0).unwrap().acc_id, 4);
    assert_eq!(select_account(&hk, TrdEnv::Real, 8, 0).unwrap().acc_id, 8);
    // acc_index is ignored when acc_id is given.
    assert_eq!(select_account(&hk, TrdEnv::Real, 8, 99).unwrap().acc_id, 8);

    let e = select_account(&hk, TrdEnv::Real, 0, 3).unwrap_err();
    assert_eq!(e, SelectError::AccIndexOutOfRange { acc_index: 3, count: 3, env: TrdEnv::Real });
    assert!(e.to_string().contains("acc_index 3 out of range"), "{e}");

    let e = select_account(&hk, TrdEnv::Simulate, 8, 0).unwrap_err();
    assert_eq!(e, SelectError::AccIdNotFound { acc_id: 8, env: TrdEnv::Simulate });
    assert!(e.to_string().contains("acc_id 8 not found"), "{e}");

    let real_only: Vec<_> = hk.iter().filter(|a| a.is_real()).cloned().collect();
    let e = select_account(&real_only, TrdEnv::Simulate, 0, 0).unwrap_err();
    assert_eq!(e, SelectError::NoAccount { env: TrdEnv::Simulate });
    assert!(e.to_string().contains("no SIMULATE account"), "{e}");
    assert_eq!(select_account(&[], TrdEnv::Real, 0, 0).unwrap_err(), SelectError::NoAccount { env: TrdEnv::Real });

    let err: ftapi::Error = e.into();
    assert!(err.to_string().contains("no SIMULATE account"));
}

#[test]
fn market_env_table() {
    use TrdEnv::{Real, Simulate};
    use TrdMarket as M;
    let both = [M::Unknown, M::Hk, M::Us, M::Futures];
    let real_only = [M::Hkcc, M::Sg, M::HkFund, M::UsFund, M::Ca, M::My, M::Jp, M::Crypto, M::Prediction];
    let neither = [
        M::Au,
        M::SgFund,
        M::MyFund,
        M::JpFund,
        M::FuturesSimulateHk,
        M::FuturesSimulateUs,
        M::FuturesSimulateSg,
        M::FuturesSimulateJp,
        M::Other(1000),
    ];
    for m in both {
        assert!(market_env_enabled(m, Real) && market_env_enabled(m, Simulate), "{m}");
    }
    for m in real_only {
        assert!(market_env_enabled(m, Real) && !market_env_enabled(m, Simulate), "{m}");
    }
    assert!(!market_env_enabled(M::Cn, Real) && market_env_enabled(M::Cn, Simulate));
    for m in neither {
        assert!(!market_env_enabled(m, Real) && !market_env_enabled(m, Simulate), "{m}");
    }
    // Every named market is covered by exactly one of the rows above.
    assert_eq!(both.len() + real_only.len() + 1 + neither.len() - 1, TrdMarket::ALL.len());
    assert!(!market_env_enabled(M::Hk, TrdEnv::Other(2)));

    assert_eq!(check_trd_env(TrdCategory::Security, M::Hk, Simulate), Ok(()));
    assert_eq!(
        check_trd_env(TrdCategory::Security, M::Hkcc, Simulate),
        Err(SelectError::EnvNotEnabled { market: M::Hkcc, env: Simulate })
    );
    assert_eq!(check_trd_env(TrdCategory::Security, M::Futures, Real), Err(SelectError::FuturesInSecurityContext));
    assert_eq!(check_trd_env(TrdCategory::Future, M::Futures, Simulate), Ok(()));
}
