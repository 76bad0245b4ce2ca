//! The blocking trade contexts against the in-process OpenD simulator (loopback only).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ftapi::context::{
    AccSel, CancelAll, CashFlowQuery, ComboMaxQtyQuery, ComboOrder, ConnectionEvent, ConnectionState, ContextBuilder,
    DealQuery, FundsQuery, FutureTradeContext, Futures, HistoryDealQuery, HistoryOrderQuery, MaxQtyQuery, ModifyOrder,
    OrderFeeQuery, OrderQuery, PlaceOrder, PositionQuery, RateLimit, RateLimitMode, RateLimits, ReconnectPolicy,
    SecTradeContext, Securities,
};
use ftapi::sim::accounts::default_ids::*;
use ftapi::sim::{Broker, FaultPlan, FaultRule, PacketFault, SimServer};
use ftapi::types::{
    ComboLeg, ModifyOrderOp, OrderStatus, OrderType, ParseCodeError, SecurityCode, SecurityFirm, SelectError, TrdEnv,
    TrdMarket, TrdSide,
};
use ftapi::{Error, FillUpdate, OrderUpdate};

const WAIT: Duration = Duration::from_secs(10);

struct Sim {
    server: SimServer,
    broker: Arc<Broker>,
}

fn sim() -> Sim {
    let broker = Arc::new(Broker::relaxed_default());
    let server = SimServer::builder()
        .port(0)
        .keepalive_interval(60)
        .trade_handler(broker.clone())
        .start()
        .expect("simulator starts");
    Sim { server, broker }
}

fn fast_reconnect() -> ReconnectPolicy {
    ReconnectPolicy::default().initial_delay(Duration::from_millis(20)).max_delay(Duration::from_millis(200))
}

fn sec(s: &Sim) -> ContextBuilder<Securities> {
    SecTradeContext::builder()
        .host("127.0.0.1")
        .port(s.server.local_addr().port())
        .encrypt(Some(false))
        .connect_timeout(Duration::from_secs(3))
        .request_timeout(Duration::from_secs(5))
        .reconnect(fast_reconnect())
}

fn fut(s: &Sim) -> ContextBuilder<Futures> {
    FutureTradeContext::builder()
        .host("127.0.0.1")
        .port(s.server.local_addr().port())
        .encrypt(Some(false))
        .connect_timeout(Duration::from_secs(3))
        .request_timeout(Duration::from_secs(5))
        .reconnect(fast_reconnect())
}

fn ids(accs: &[ftapi::Account]) -> Vec<u64> {
    accs.iter().map(|a| a.acc_id).collect()
}

fn events() -> (Sender<ConnectionEvent>, Receiver<ConnectionEvent>) {
    crossbeam_channel::unbounded()
}

/// Waits for the first event matching `pred`, returning it.
fn wait_event(rx: &Receiver<ConnectionEvent>, what: &str, pred: impl Fn(&ConnectionEvent) -> bool) -> ConnectionEvent {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(_) => panic!("no {what} event within {WAIT:?}"),
        }
    }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn is_invalid(e: &Error, needle: &str) -> bool {
    matches!(e, Error::InvalidArgument(m) if m.contains(needle))
}

// ---------------------------------------------------------------- open and accounts

/// Held by the tests that set, or depend on the absence of, the process-wide encryption
/// defaults (tests of one binary run in parallel).
static ENCRYPTION_DEFAULTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn open_reads_and_filters_accounts_by_market() {
    let s = sim();
    let hk = sec(&s).filter_trdmarket(TrdMarket::Hk).open().unwrap();
    assert!(hk.is_connected());
    assert_eq!(hk.market(), TrdMarket::Hk);
    assert_eq!(ids(&hk.get_acc_list().unwrap()), vec![HK_REAL, HK_SIM]);
    // The firm of the first real account is adopted, as the Python SDK does.
    assert_eq!(hk.security_firm(), SecurityFirm::FutuSecurities);

    let us = sec(&s).filter_trdmarket(TrdMarket::Us).open().unwrap();
    // US_REAL belongs to FutuInc and is dropped after adopting FutuSecurities.
    assert_eq!(ids(&us.get_acc_list().unwrap()), vec![HK_REAL, US_SIM]);

    let cn = sec(&s).filter_trdmarket(TrdMarket::Cn).open().unwrap();
    assert_eq!(ids(&cn.get_acc_list().unwrap()), vec![CN_SIM]);
    assert_eq!(cn.security_firm(), SecurityFirm::Unknown);

    let all = sec(&s).filter_trdmarket(TrdMarket::Unknown).open().unwrap();
    let all_ids = ids(&all.get_acc_list().unwrap());
    for id in [HK_REAL, HK_SIM, US_SIM, CN_SIM] {
        assert!(all_ids.contains(&id), "{id} in {all_ids:?}");
    }
    assert!(!all_ids.contains(&FUTURES_REAL), "no futures accounts in a securities context");

    let futures = fut(&s).open().unwrap();
    assert_eq!(futures.market(), TrdMarket::Futures);
    assert_eq!(ids(&futures.get_acc_list().unwrap()), vec![FUTURES_REAL, FUT_HK_SIM, FUT_US_SIM, FUT_SG_SIM]);
}

#[test]
fn security_firm_filter_covers_every_firm() {
    let s = sim();
    for firm in SecurityFirm::ALL.iter().copied() {
        let ctx = sec(&s).filter_trdmarket(TrdMarket::Us).security_firm(firm).open().unwrap();
        let accs = ctx.get_acc_list().unwrap();
        let real: Vec<u64> = accs.iter().filter(|a| a.is_real()).map(|a| a.acc_id).collect();
        let expected: Vec<u64> = match firm {
            SecurityFirm::Unknown | SecurityFirm::FutuSecurities => vec![HK_REAL],
            SecurityFirm::FutuInc => vec![US_REAL],
            _ => vec![],
        };
        assert_eq!(real, expected, "real accounts for firm {firm}");
        assert!(accs.iter().any(|a| a.acc_id == US_SIM), "simulated accounts are kept for firm {firm}");
    }
    // The moomoo names are the same values.
    let ctx = sec(&s).filter_trdmarket(TrdMarket::Us).security_firm(ftapi::context::moomoo::MOOMOO_US).open().unwrap();
    assert_eq!(ctx.security_firm(), SecurityFirm::FutuInc);
    let u: ftapi::context::moomoo::OpenSecTradeContext = ctx;
    assert!(u.get_acc_list().unwrap().iter().any(|a| a.acc_id == US_REAL));
}

#[test]
fn open_fails_with_the_reason_and_does_not_retry() {
    // Its last case needs no process-wide RSA key, which process_wide_encryption_default sets.
    let _defaults = ENCRYPTION_DEFAULTS.lock().unwrap_or_else(|e| e.into_inner());
    // Nothing listens on this port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = SecTradeContext::builder()
        .port(port)
        .encrypt(Some(false))
        .connect_timeout(Duration::from_secs(2))
        .open()
        .unwrap_err();
    assert!(matches!(e, Error::Connect(_)), "{e:?}");

    // A simulator that never answers: open gives up after the connect timeout.
    let s = sim();
    s.server.set_faults(FaultPlan::silent());
    let e = sec(&s).connect_timeout(Duration::from_millis(300)).open().unwrap_err();
    assert!(matches!(e, Error::Connect(ref m) if m.message().contains("InitConnect")), "{e:?}");

    // InitConnect refused: the server's message is in the error.
    s.server.set_faults(
        FaultPlan::none().rule(FaultRule::new(PacketFault::InitFail { message: "too many connections".into() })),
    );
    let e = sec(&s).open().unwrap_err();
    assert!(e.to_string().contains("too many connections"), "{e}");

    // A securities context cannot use the FUTURES market.
    s.server.set_faults(FaultPlan::none());
    let e = sec(&s).filter_trdmarket(TrdMarket::Futures).open().unwrap_err();
    assert!(is_invalid(&e, "FutureTradeContext"), "{e}");

    // Encryption without a key is refused before connecting.
    let e = sec(&s).encrypt(Some(true)).open().unwrap_err();
    assert!(is_invalid(&e, "RSA"), "{e}");
}

#[test]
fn encrypted_context_works() {
    let key = ftapi::codec::RsaKey::generate(1024).unwrap();
    let broker = Arc::new(Broker::relaxed_default());
    let server =
        SimServer::builder().port(0).rsa_key(key.clone()).trade_handler(broker.clone()).start().expect("simulator");
    let ctx =
        SecTradeContext::builder().port(server.local_addr().port()).encrypt(Some(true)).rsa_key(key).open().unwrap();
    assert_eq!(ids(&ctx.get_acc_list().unwrap()), vec![HK_REAL, HK_SIM]);
    let placed = ctx
        .place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(1.0).env(TrdEnv::Simulate))
        .unwrap();
    assert!(!placed.order_id_ex.is_empty());
}

#[test]
fn process_wide_encryption_default() {
    // Every other test sets `encrypt(Some(false))` or holds ENCRYPTION_DEFAULTS, so changing
    // the default here is safe.
    let _defaults = ENCRYPTION_DEFAULTS.lock().unwrap_or_else(|e| e.into_inner());
    let key = ftapi::codec::RsaKey::generate(1024).unwrap();
    let broker = Arc::new(Broker::relaxed_default());
    let server = SimServer::builder().port(0).rsa_key(key.clone()).trade_handler(broker).start().expect("simulator");
    ftapi::context::set_default_encrypt(true);
    ftapi::context::set_default_rsa_key(None);
    let e = SecTradeContext::builder().port(server.local_addr().port()).open().unwrap_err();
    assert!(is_invalid(&e, "RSA"), "{e}");
    ftapi::context::set_default_rsa_key(Some(key));
    let ctx = SecTradeContext::builder().port(server.local_addr().port()).open();
    ftapi::context::set_default_encrypt(false);
    ftapi::context::set_default_rsa_key(None);
    let ctx = ctx.unwrap();
    assert!(server.sessions().iter().all(|s| s.encrypted), "{:?}", server.sessions());
    assert_eq!(ids(&ctx.get_acc_list().unwrap()), vec![HK_REAL, HK_SIM]);
}

#[test]
fn account_selection_errors() {
    let s = sim();
    let ctx = sec(&s).open().unwrap();
    // no such account
    let e = ctx.accinfo_query(FundsQuery::new().acc_id(42)).unwrap_err();
    assert!(matches!(e, Error::NoSuchAccount(SelectError::AccIdNotFound { acc_id: 42, .. })), "{e}");
    assert!(e.to_string().contains("acc_id 42 not found"), "{e}");
    // the account exists, but in the other environment
    let e = ctx.accinfo_query(FundsQuery::new().env(TrdEnv::Simulate).acc_id(HK_REAL)).unwrap_err();
    assert!(matches!(e, Error::NoSuchAccount(SelectError::AccIdNotFound { env: TrdEnv::Simulate, .. })), "{e}");
    // index out of range
    let e = ctx.order_list_query(OrderQuery::new().acc_index(3)).unwrap_err();
    assert!(matches!(e, Error::NoSuchAccount(SelectError::AccIndexOutOfRange { acc_index: 3, .. })), "{e}");
    // an account of another market is not in this context's list
    let e = ctx.position_list_query(PositionQuery::new().env(TrdEnv::Simulate).acc_id(US_SIM)).unwrap_err();
    assert!(matches!(e, Error::NoSuchAccount(SelectError::AccIdNotFound { .. })), "{e}");
    // a market without paper trading
    let hkcc = sec(&s).filter_trdmarket(TrdMarket::Hkcc).open().unwrap();
    let e = hkcc.order_list_query(OrderQuery::new().env(TrdEnv::Simulate)).unwrap_err();
    assert!(matches!(e, Error::NoSuchAccount(SelectError::EnvNotEnabled { .. })), "{e}");
    assert!(e.to_string().contains("not available"), "{e}");
    // no account at all for the environment
    let cn = sec(&s).filter_trdmarket(TrdMarket::Cn).open().unwrap();
    let e = cn.order_list_query(OrderQuery::new().env(TrdEnv::Simulate).acc_index(1)).unwrap_err();
    assert!(matches!(e, Error::NoSuchAccount(SelectError::AccIndexOutOfRange { .. })), "{e}");
    // CN has no real trading: as in the Python SDK, "no need to unlock", nothing sent
    let before = s.server.stats().requests_received;
    cn.unlock_trade("123456", true).unwrap();
    assert_eq!(s.server.stats().requests_received, before);
    // SG has real trading but this simulator has no SG account
    let sg = sec(&s).filter_trdmarket(TrdMarket::Sg).open().unwrap();
    assert!(sg.get_acc_list().unwrap().is_empty());
    let e = sg.unlock_trade("123456", true).unwrap_err();
    assert!(matches!(e, Error::NoSuchAccount(SelectError::NoAccount { env: TrdEnv::Real })), "{e}");
    assert!(e.to_string().contains("no REAL account"), "{e}");
    let e = sg.accinfo_query(FundsQuery::new()).unwrap_err();
    assert!(matches!(e, Error::NoSuchAccount(SelectError::NoAccount { env: TrdEnv::Real })), "{e}");
    assert!(e.to_string().contains("no REAL account"), "{e}");
    // a bad code is refused locally
    let e = ctx.place_order(PlaceOrder::limit("XX.1", TrdSide::Buy).qty(1.0).price(1.0)).unwrap_err();
    assert!(matches!(e, Error::BadSecurityCode(ParseCodeError::UnknownMarket(_))), "{e}");
    let long = "x".repeat(65);
    let e =
        ctx.place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(1.0).remark(long)).unwrap_err();
    assert!(is_invalid(&e, "64 bytes"), "{e}");
}

// ---------------------------------------------------------------- unlock and orders

#[test]
fn unlock_keeps_opend_error_and_enables_real_orders() {
    let s = sim();
    let ctx = sec(&s).open().unwrap();
    // Not unlocked: OpenD refuses the real order; the error says so and keeps retMsg.
    let e = ctx.place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(300.0)).unwrap_err();
    assert!(matches!(e, Error::NotUnlocked { proto_id: 2202, .. }), "{e:?}");
    assert_eq!(e.ret_type(), -1);
    assert!(e.ret_msg().contains("unlock"), "{e}");

    let e = ctx.unlock_trade("wrong", true).unwrap_err();
    assert!(matches!(e, Error::Server { proto_id: 2005, ret_type: -1, .. }), "{e:?}");
    assert!(!ctx.is_unlocked());
    ctx.unlock_trade("123456", true).unwrap();
    assert!(ctx.is_unlocked());
    assert!(s.broker.is_unlocked(ctx.conn_id()));

    let placed = ctx
        .place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(300.0).remark("ctx test"))
        .unwrap();
    assert_eq!(placed.account.acc_id, HK_REAL);
    assert_eq!(placed.account.market, TrdMarket::Hk);
    let order = placed.order.expect("read back");
    assert_eq!(order.code.to_string(), "HK.00700");
    assert_eq!(order.qty, 100.0);
    assert_eq!(order.remark, "ctx test");

    ctx.unlock_trade("", false).unwrap();
    assert!(!ctx.is_unlocked());
    assert!(!s.broker.is_unlocked(ctx.conn_id()));

    // MD5 form
    ctx.unlock_trade_md5("E10ADC3949BA59ABBE56E057F20F883E", true).unwrap();
    assert!(s.broker.is_unlocked(ctx.conn_id()));
}

#[test]
fn every_order_and_query_method() {
    let s = sim();
    let ctx = sec(&s).open().unwrap();
    let paper = AccSel::env(TrdEnv::Simulate);

    // place a resting limit order far below the market, then change and cancel it
    let placed =
        ctx.place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(10.0).account(paper)).unwrap();
    assert_eq!(placed.account.acc_id, HK_SIM);
    let id = placed.order_id_ex.clone();
    let order = placed.order.clone().expect("read back");
    assert_eq!(order.order_status, OrderStatus::Submitted);

    let listed = ctx.order_list_query(OrderQuery::new().env(TrdEnv::Simulate).order_id(&id)).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].order_id_ex, id);
    let by_code = ctx.order_list_query(OrderQuery::new().env(TrdEnv::Simulate).code("HK.00700")).unwrap();
    assert!(by_code.iter().any(|o| o.order_id_ex == id));
    let none = ctx.order_list_query(OrderQuery::new().env(TrdEnv::Simulate).code("HK.09988")).unwrap();
    assert!(none.iter().all(|o| o.order_id_ex != id));

    let m = ctx.modify_order(ModifyOrder::change(&id).qty(200.0).price(11.0).env(TrdEnv::Simulate)).unwrap();
    assert_eq!(m.order_id_ex, id);
    let o = &ctx.order_list_query(OrderQuery::new().env(TrdEnv::Simulate).order_id(&id)).unwrap()[0];
    assert_eq!((o.qty, o.price), (200.0, 11.0));

    ctx.modify_order(ModifyOrder::cancel(&id).env(TrdEnv::Simulate)).unwrap();
    let o = &ctx.order_list_query(OrderQuery::new().env(TrdEnv::Simulate).order_id(&id)).unwrap()[0];
    assert_eq!(o.order_status, OrderStatus::CancelledAll);
    // modifying a final order is refused by OpenD
    let e = ctx.modify_order(ModifyOrder::new(ModifyOrderOp::Normal, &id).env(TrdEnv::Simulate)).unwrap_err();
    assert!(matches!(e, Error::Server { proto_id: 2205, .. }), "{e:?}");

    // cancel_all_order
    let a = ctx.place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(10.0).account(paper)).unwrap();
    let b = ctx.place_order(PlaceOrder::limit("HK.09988", TrdSide::Buy).qty(100.0).price(1.0).account(paper)).unwrap();
    ctx.cancel_all_order(CancelAll::new().env(TrdEnv::Simulate)).unwrap();
    let open = ctx.order_list_query(OrderQuery::new().env(TrdEnv::Simulate).status(OrderStatus::Submitted)).unwrap();
    assert!(open.iter().all(|o| o.order_id_ex != a.order_id_ex && o.order_id_ex != b.order_id_ex), "{open:?}");

    // a market order fills at once: deals, positions, funds, fees, cash flow
    let filled = ctx.place_order(PlaceOrder::market("HK.00700", TrdSide::Buy, 100.0).account(paper)).unwrap();
    let deals = ctx.deal_list_query(DealQuery::new().env(TrdEnv::Simulate)).unwrap();
    assert!(deals.iter().any(|d| d.order_id_ex.as_deref() == Some(filled.order_id_ex.as_str())), "{deals:?}");
    let deals = ctx.deal_list_query(DealQuery::new().env(TrdEnv::Simulate).code("HK.00700")).unwrap();
    assert!(!deals.is_empty());

    let positions = ctx.position_list_query(PositionQuery::new().env(TrdEnv::Simulate)).unwrap();
    let tencent: SecurityCode = "HK.00700".parse().unwrap();
    let p = positions.iter().find(|p| p.code == tencent).expect("00700 position");
    assert_eq!(p.qty, 300.0);

    let funds = ctx.accinfo_query(FundsQuery::new().env(TrdEnv::Simulate)).unwrap();
    assert!(funds.cash > 0.0 && funds.total_assets > 0.0, "{funds:?}");

    let fees = ctx.order_fee_query(OrderFeeQuery::new([filled.order_id_ex.clone()]).env(TrdEnv::Simulate)).unwrap();
    assert_eq!(fees.len(), 1);
    assert_eq!(fees[0].order_id_ex, filled.order_id_ex);

    let max = ctx.acctradinginfo_query(MaxQtyQuery::new(OrderType::Normal, "HK.00700", 300.0).env(TrdEnv::Simulate));
    let max = max.unwrap();
    assert!(max.max_cash_buy > 0.0, "{max:?}");

    let today = {
        let d = filled.order.as_ref().map(|o| o.create_time.clone()).unwrap_or_default();
        d.get(..10).unwrap_or("").to_string()
    };
    let flows = ctx.get_acc_cash_flow(CashFlowQuery::new(today).env(TrdEnv::Simulate)).unwrap();
    assert!(!flows.is_empty(), "a fill creates a cash flow entry");

    // history: the simulator has past orders and fills
    let hist = ctx.history_order_list_query(HistoryOrderQuery::new().env(TrdEnv::Simulate)).unwrap();
    assert!(!hist.is_empty());
    let hist_real = ctx.history_order_list_query(HistoryOrderQuery::new()).unwrap();
    assert!(!hist_real.is_empty());
    let hist_deals = ctx.history_deal_list_query(HistoryDealQuery::new()).unwrap();
    assert!(!hist_deals.is_empty());
    let code = hist_deals[0].code.to_string();
    let by_code = ctx.history_deal_list_query(HistoryDealQuery::new().code(&code)).unwrap();
    assert!(!by_code.is_empty() && by_code.iter().all(|d| d.code.to_string() == code), "{by_code:?}");
    let window =
        ctx.history_order_list_query(HistoryOrderQuery::new().window(Some("2000-01-01"), Some("2000-01-31"))).unwrap();
    assert!(window.is_empty(), "nothing in January 2000");

    // margin ratio asks with the first real account
    let ratios = ctx.get_margin_ratio(["HK.00700", "HK.09988", "HK.00700"]).unwrap();
    assert_eq!(ratios.len(), 2);
    assert_eq!(ratios[0].code, tencent);
}

#[test]
fn combo_orders() {
    let s = sim();
    let ctx = sec(&s).filter_trdmarket(TrdMarket::Us).open().unwrap();
    ctx.unlock_trade("123456", true).unwrap();
    let legs = vec![
        ComboLeg::new("US.AAPL271217C200000".parse().unwrap(), TrdSide::Buy, 1.0),
        ComboLeg::new("US.AAPL271217C220000".parse().unwrap(), TrdSide::Sell, 1.0),
    ];
    let max = ctx.comboorder_tradinginfo_query(ComboMaxQtyQuery::new(legs.clone(), 1.0, 7.0)).unwrap();
    let _ = max.option_buy_power;
    let placed = ctx.place_combo_order(ComboOrder::new(legs, 1.0, 7.0)).unwrap();
    assert!(!placed.order_id_ex.is_empty());
    assert_eq!(placed.account.market, TrdMarket::Us);
    let e = ctx.place_combo_order(ComboOrder::new(Vec::new(), 1.0, 1.0)).unwrap_err();
    assert!(is_invalid(&e, "leg"), "{e}");
}

#[test]
fn futures_context_orders() {
    let s = sim();
    let ctx = fut(&s).open().unwrap();
    let placed = ctx.place_order(PlaceOrder::market("HK.HSImain", TrdSide::Buy, 1.0).env(TrdEnv::Simulate)).unwrap();
    assert_eq!(placed.account.acc_id, FUT_HK_SIM);
    assert_eq!(placed.account.market, TrdMarket::FuturesSimulateHk);
    let positions = ctx.position_list_query(PositionQuery::new().env(TrdEnv::Simulate)).unwrap();
    assert!(!positions.is_empty());
    ctx.unlock_trade("123456", true).unwrap();
    let funds = ctx.accinfo_query(FundsQuery::new()).unwrap();
    assert!(funds.total_assets > 0.0);
    let placed = ctx.place_order(PlaceOrder::limit("HK.HSImain", TrdSide::Buy).qty(1.0).price(100.0)).unwrap();
    assert_eq!(placed.account.acc_id, FUTURES_REAL);
    assert_eq!(placed.account.market, TrdMarket::Futures);
}

// ---------------------------------------------------------------- pushes

#[test]
fn pushes_reach_the_handlers_and_handlers_may_call_the_context() {
    let s = sim();
    let (otx, orx) = crossbeam_channel::unbounded::<OrderUpdate>();
    let (ftx, frx) = crossbeam_channel::unbounded::<FillUpdate>();
    let ctx = Arc::new(sec(&s).order_handler(move |u| drop(otx.send(u.clone()))).open().unwrap());
    ctx.set_fill_handler(move |f| drop(ftx.send(f.clone())));
    let placed = ctx.place_order(PlaceOrder::market("HK.00700", TrdSide::Buy, 100.0).env(TrdEnv::Simulate)).unwrap();
    let fill = frx.recv_timeout(WAIT).expect("fill push");
    assert_eq!(fill.account.acc_id, HK_SIM);
    assert_eq!(fill.account.env, TrdEnv::Simulate);
    assert_eq!(fill.fill.order_id_ex.as_deref(), Some(placed.order_id_ex.as_str()));
    let mut saw_filled = false;
    while let Ok(u) = orx.recv_timeout(Duration::from_secs(2)) {
        assert_eq!(u.account.acc_id, HK_SIM);
        if u.order.order_id_ex == placed.order_id_ex && u.order.order_status == OrderStatus::FilledAll {
            saw_filled = true;
            break;
        }
    }
    assert!(saw_filled, "an order push with FILLED_ALL");

    // A handler that makes a blocking call on the context does not deadlock.
    let (rtx, rrx) = crossbeam_channel::unbounded();
    let weak = Arc::downgrade(&ctx);
    ctx.set_order_handler(move |_u| {
        if let Some(c) = weak.upgrade() {
            let _ = rtx.send(c.order_list_query(OrderQuery::new().env(TrdEnv::Simulate)).map(|l| l.len()));
        }
    });
    ctx.place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(10.0).env(TrdEnv::Simulate)).unwrap();
    let n = rrx.recv_timeout(WAIT).expect("handler ran").expect("call from handler");
    assert!(n >= 2);
}

#[test]
fn subscription_is_made_once_per_connection() {
    let s = sim();
    let ctx = sec(&s).open().unwrap();
    let conn = ctx.conn_id();
    let mut subs = s.broker.subscriptions(conn);
    subs.sort_unstable();
    let mut want = vec![HK_REAL, HK_SIM];
    want.sort_unstable();
    assert_eq!(subs, want);
    // unlock and refresh do not re-send Trd_SubAccPush when nothing changed:
    // refresh costs exactly one request (2001), unlock exactly one (2005).
    let before = s.server.stats().requests_received;
    ctx.refresh_acc_list().unwrap();
    ctx.unlock_trade("123456", true).unwrap();
    assert_eq!(s.server.stats().requests_received - before, 2);
    // get_acc_list is served from the cache
    ctx.get_acc_list().unwrap();
    ctx.get_acc_list().unwrap();
    assert_eq!(s.server.stats().requests_received - before, 2);
}

// ---------------------------------------------------------------- reconnect

#[test]
fn reconnect_restores_unlock_and_pushes() {
    let s = sim();
    let (etx, erx) = events();
    let (otx, orx) = crossbeam_channel::unbounded::<OrderUpdate>();
    let ctx = sec(&s)
        .connection_handler(move |e| drop(etx.send(e.clone())))
        .order_handler(move |u| drop(otx.send(u.clone())))
        .open()
        .unwrap();
    wait_event(&erx, "Connected", |e| matches!(e, ConnectionEvent::Connected { .. }));
    ctx.unlock_trade("123456", true).unwrap();
    let old = ctx.conn_id();

    assert!(s.server.kill_connections() >= 1);
    let e = wait_event(&erx, "Disconnected", |e| matches!(e, ConnectionEvent::Disconnected { .. }));
    assert!(matches!(e, ConnectionEvent::Disconnected { reconnecting: true, .. }), "{e:?}");
    let e = wait_event(&erx, "Reconnected", |e| matches!(e, ConnectionEvent::Reconnected { .. }));
    let ConnectionEvent::Reconnected { conn_id, .. } = e else { unreachable!() };
    assert_ne!(conn_id, old);
    assert_eq!(ctx.conn_id(), conn_id);
    assert!(matches!(ctx.connection_state(), ConnectionState::Connected { .. }));

    // unlock restored on the new connection, pushes re-subscribed
    assert!(s.broker.is_unlocked(conn_id), "unlock restored");
    let mut subs = s.broker.subscriptions(conn_id);
    subs.sort_unstable();
    let mut want = vec![HK_REAL, HK_SIM];
    want.sort_unstable();
    assert_eq!(subs, want);

    // a real order goes through without unlocking again, and its push arrives
    while orx.try_recv().is_ok() {}
    let placed = ctx.place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(10.0)).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let u = orx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("push after reconnect");
        if u.order.order_id_ex == placed.order_id_ex {
            assert_eq!(u.account.acc_id, HK_REAL);
            break;
        }
    }
    assert!(!erx.try_iter().any(|e| matches!(e, ConnectionEvent::RestoreFailed { .. })));
}

#[test]
fn calls_in_flight_fail_with_disconnect_and_writes_are_not_resent() {
    let s = sim();
    let (etx, erx) = events();
    let ctx = Arc::new(sec(&s).connection_handler(move |e| drop(etx.send(e.clone()))).open().unwrap());

    // A query in flight at the disconnect fails with Disconnected.
    s.server.set_faults(FaultPlan::none().rule(FaultRule::new(PacketFault::Drop).proto(2201)));
    let before = s.server.stats().requests_received;
    let c = ctx.clone();
    let query = std::thread::spawn(move || c.order_list_query(OrderQuery::new().env(TrdEnv::Simulate)));
    wait_until("the query to reach the simulator", || s.server.stats().requests_received > before);
    s.server.kill_connections();
    let e = query.join().unwrap().unwrap_err();
    assert!(matches!(e, Error::Disconnected { proto_id: 2201, .. }), "{e:?}");
    assert_eq!(e.ret_type(), -200);
    wait_event(&erx, "Reconnected", |e| matches!(e, ConnectionEvent::Reconnected { .. }));

    // A place_order in flight: the error says the outcome is unknown, and it is not re-sent.
    s.server.set_faults(FaultPlan::none().rule(FaultRule::new(PacketFault::Drop).proto(2202)));
    let orders_before = ctx.order_list_query(OrderQuery::new().env(TrdEnv::Simulate)).unwrap().len();
    let before = s.server.stats().requests_received;
    let c = ctx.clone();
    let place = std::thread::spawn(move || {
        c.place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(10.0).env(TrdEnv::Simulate))
    });
    wait_until("the order to reach the simulator", || s.server.stats().requests_received > before);
    s.server.kill_connections();
    let e = place.join().unwrap().unwrap_err();
    assert!(
        matches!(e, Error::Disconnected { proto_id: 2202, ref failure, .. } if failure.message().contains("unknown")),
        "{e:?}"
    );
    wait_event(&erx, "Reconnected", |e| matches!(e, ConnectionEvent::Reconnected { .. }));
    s.server.set_faults(FaultPlan::none());
    // The simulator did place it (only the reply was dropped); the context sent it once.
    let orders_after = ctx.order_list_query(OrderQuery::new().env(TrdEnv::Simulate)).unwrap().len();
    assert_eq!(orders_after, orders_before + 1);
}

#[test]
fn calls_while_disconnected_fail_fast_or_wait_bounded() {
    let s = sim();
    let (etx, erx) = events();
    let ctx = sec(&s).auto_reconnect(false).connection_handler(move |e| drop(etx.send(e.clone()))).open().unwrap();
    s.server.kill_connections();
    let e = wait_event(&erx, "Disconnected", |e| matches!(e, ConnectionEvent::Disconnected { .. }));
    assert!(matches!(e, ConnectionEvent::Disconnected { reconnecting: false, .. }), "{e:?}");
    let e = ctx.order_list_query(OrderQuery::new()).unwrap_err();
    assert!(matches!(e, Error::NotConnected(ref m) if m.message().contains("not reconnecting")), "{e:?}");
    assert!(matches!(ctx.connection_state(), ConnectionState::Disconnected { .. }));

    // Reconnecting to an OpenD that refuses every InitConnect: calls fail fast with
    // "reconnecting", and the context gives up after max_attempts.
    let s2 = sim();
    let (etx, erx) = events();
    let policy = fast_reconnect().max_attempts(Some(3));
    let ctx = sec(&s2).reconnect(policy).connection_handler(move |e| drop(etx.send(e.clone()))).open().unwrap();
    s2.server.set_faults(
        FaultPlan::none().rule(FaultRule::new(PacketFault::InitFail { message: "OpenD is restarting".into() })),
    );
    s2.server.kill_connections();
    wait_event(&erx, "Disconnected", |e| matches!(e, ConnectionEvent::Disconnected { .. }));
    let e = ctx.order_list_query(OrderQuery::new()).unwrap_err();
    assert!(matches!(e, Error::NotConnected(_)), "{e:?}");
    let e = wait_event(&erx, "ReconnectFailed", |e| matches!(e, ConnectionEvent::ReconnectFailed { .. }));
    assert!(
        matches!(e, ConnectionEvent::ReconnectFailed { attempt: 1, ref error, .. } if error.to_string().contains("OpenD is restarting")),
        "{e:?}"
    );
    let e = wait_event(&erx, "GaveUp", |e| matches!(e, ConnectionEvent::GaveUp { .. }));
    assert!(matches!(e, ConnectionEvent::GaveUp { attempts: 3, .. }), "{e:?}");
    let e = ctx.accinfo_query(FundsQuery::new()).unwrap_err();
    assert!(matches!(e, Error::NotConnected(ref m) if m.message().contains("not reconnecting")), "{e:?}");
}

#[test]
fn a_call_may_wait_for_the_reconnect() {
    let s = sim();
    let (etx, erx) = events();
    let ctx = Arc::new(
        sec(&s)
            .disconnected_wait(WAIT)
            .reconnect(fast_reconnect().initial_delay(Duration::from_millis(300)))
            .connection_handler(move |e| drop(etx.send(e.clone())))
            .open()
            .unwrap(),
    );
    s.server.kill_connections();
    wait_event(&erx, "Disconnected", |e| matches!(e, ConnectionEvent::Disconnected { .. }));
    // The reconnect is at least 300 ms away; this call waits for it instead of failing.
    let orders = ctx.order_list_query(OrderQuery::new().env(TrdEnv::Simulate));
    assert!(orders.is_ok(), "{orders:?}");
    assert!(ctx.is_connected());
}

#[test]
fn a_slow_handler_slows_the_connection_but_loses_no_push() {
    let s = sim();
    let filled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let fills = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (f1, f2) = (filled.clone(), fills.clone());
    let ctx = sec(&s)
        .push_queue_capacity(1)
        .order_handler(move |u| {
            std::thread::sleep(Duration::from_millis(20));
            if u.order.order_status == ftapi::OrderStatus::FilledAll {
                f1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
        .fill_handler(move |_| {
            std::thread::sleep(Duration::from_millis(20));
            f2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .open()
        .unwrap();
    const ORDERS: usize = 10;
    for _ in 0..ORDERS {
        ctx.place_order(PlaceOrder::market("HK.00700", TrdSide::Buy, 100.0).env(TrdEnv::Simulate)).unwrap();
    }
    // With room for one push, the reader waited for the handler instead of dropping.
    wait_until("every push handled", || {
        filled.load(std::sync::atomic::Ordering::Relaxed) == ORDERS
            && fills.load(std::sync::atomic::Ordering::Relaxed) == ORDERS
    });
    assert_eq!(ctx.queued_pushes(), 0);
    ctx.order_list_query(OrderQuery::new().env(TrdEnv::Simulate)).unwrap();
}

#[test]
fn restore_failure_is_reported() {
    let s = sim();
    let (etx, erx) = events();
    let ctx = sec(&s)
        .request_timeout(Duration::from_millis(500))
        .connection_handler(move |e| drop(etx.send(e.clone())))
        .open()
        .unwrap();
    ctx.unlock_trade("123456", true).unwrap();
    // The unlock after the reconnect gets no answer once (it times out).
    s.server.set_faults(FaultPlan::none().rule(FaultRule::new(PacketFault::Drop).proto(2005).times(1)));
    s.server.kill_connections();
    wait_event(&erx, "Reconnected", |e| matches!(e, ConnectionEvent::Reconnected { .. }));
    let e = wait_event(&erx, "RestoreFailed", |e| matches!(e, ConnectionEvent::RestoreFailed { .. }));
    assert!(matches!(e, ConnectionEvent::RestoreFailed { step: "unlock_trade", .. }), "{e:?}");
    // The context is usable; pushes are still subscribed.
    assert!(!s.broker.subscriptions(ctx.conn_id()).is_empty());
    ctx.order_list_query(OrderQuery::new()).unwrap();
}

// ---------------------------------------------------------------- rate limits and lifetime

#[test]
fn rate_limits_fail_or_wait() {
    let s = sim();
    let limits = RateLimits {
        place_order: RateLimit::new(2, Duration::from_secs(3600)),
        mode: RateLimitMode::FailFast,
        ..RateLimits::default()
    };
    let ctx = sec(&s).rate_limits(limits).open().unwrap();
    let order = || PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(10.0).env(TrdEnv::Simulate);
    ctx.place_order(order()).unwrap();
    ctx.place_order(order()).unwrap();
    let e = ctx.place_order(order()).unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert!(e.to_string().contains("place_order"), "{e}");
    // another account has its own window: the real order reaches OpenD (which refuses
    // it because trading is locked)
    let e = ctx.place_order(order().env(TrdEnv::Real)).unwrap_err();
    assert!(matches!(e, Error::NotUnlocked { proto_id: 2202, .. }), "{e:?}");
    // the default limits are OpenD's
    assert_eq!(
        RateLimits::default().place_order,
        RateLimit::new(15, Duration::from_secs(30)).with_min_interval(Duration::from_millis(20))
    );
    assert_eq!(
        RateLimits::default().modify_order,
        RateLimit::new(20, Duration::from_secs(30)).with_min_interval(Duration::from_millis(40))
    );
    assert_eq!(RateLimits::default().unlock_trade, RateLimit::new(10, Duration::from_secs(30)));
    assert_eq!(RateLimits::default().query, RateLimit::new(10, Duration::from_secs(30)));
}

#[test]
fn drop_and_close_release_everything() {
    let s = sim();
    let ctx = sec(&s).open().unwrap();
    wait_until("one connection", || s.server.connection_count() == 1);
    drop(ctx);
    wait_until("the connection to close", || s.server.connection_count() == 0);

    let ctx = fut(&s).open().unwrap();
    ctx.close();
    ctx.close();
    assert_eq!(ctx.connection_state(), ConnectionState::Closed);
    let e = ctx.get_acc_list().unwrap_err();
    assert!(matches!(e, Error::NotConnected(_)), "{e:?}");
    wait_until("the connection to close", || s.server.connection_count() == 0);

    // closing from a handler works too
    let (tx, rx) = crossbeam_channel::unbounded();
    let ctx = Arc::new(sec(&s).open().unwrap());
    let weak = Arc::downgrade(&ctx);
    ctx.set_order_handler(move |_| {
        if let Some(c) = weak.upgrade() {
            c.close();
            let _ = tx.send(());
        }
    });
    // The order push may come before the PlaceOrder reply, so the reply may be cut off
    // by the close: then the call fails with the disconnect error.
    match ctx.place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(10.0).env(TrdEnv::Simulate)) {
        Ok(_) | Err(Error::Disconnected { .. }) | Err(Error::NotConnected(_)) => {}
        Err(e) => panic!("unexpected {e:?}"),
    }
    rx.recv_timeout(WAIT).expect("handler closed the context");
    wait_until("the connection to close", || s.server.connection_count() == 0);
    drop(ctx);
}

#[test]
fn a_server_restart_is_survived_with_unlock_and_pushes_restored() {
    let first = sim();
    let port = first.server.local_addr().port();
    let (etx, erx) = events();
    let (otx, orx) = crossbeam_channel::unbounded::<OrderUpdate>();
    let ctx = sec(&first)
        .connection_handler(move |e| drop(etx.send(e.clone())))
        .order_handler(move |u| drop(otx.send(u.clone())))
        .open()
        .unwrap();
    ctx.unlock_trade("123456", true).unwrap();

    // OpenD goes away entirely (its state with it) ...
    drop(first);
    wait_event(&erx, "Disconnected", |e| matches!(e, ConnectionEvent::Disconnected { .. }));
    // ... and comes back on the same port, with fresh state.
    let broker = Arc::new(Broker::relaxed_default());
    let second = SimServer::builder()
        .port(port)
        .keepalive_interval(60)
        .trade_handler(broker.clone())
        .start()
        .expect("restart on the same port");
    let e = wait_event(&erx, "Reconnected", |e| matches!(e, ConnectionEvent::Reconnected { .. }));
    let ConnectionEvent::Reconnected { conn_id, .. } = e else { unreachable!() };
    assert!(broker.is_unlocked(conn_id), "the new OpenD was unlocked again");
    assert!(!broker.subscriptions(conn_id).is_empty(), "pushes subscribed again");
    while orx.try_recv().is_ok() {}
    let placed = ctx.place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(10.0)).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let u = orx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("push after the restart");
        if u.order.order_id_ex == placed.order_id_ex {
            break;
        }
    }
    drop(ctx);
    drop(second);
}
