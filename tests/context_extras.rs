//! What the trade contexts give beyond the Python-named calls: OpenD's global state, the
//! login user id, Notify (1003) pushes, and requests the context does not wrap.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
use ftapi::context::{ContextBuilder, Securities};
use ftapi::pb;
use ftapi::sim::{Broker, SimServer};
use ftapi::SecTradeContext;

const WAIT: Duration = Duration::from_secs(10);
const LOGIN_USER_ID: u64 = 4242;

fn sim() -> SimServer {
    SimServer::builder()
        .port(0)
        .login_user_id(LOGIN_USER_ID)
        .keepalive_interval(60)
        .trade_handler(Arc::new(Broker::with_default_accounts()))
        .start()
        .expect("simulator starts")
}

fn sec(s: &SimServer) -> ContextBuilder<Securities> {
    SecTradeContext::builder()
        .host("127.0.0.1")
        .port(s.local_addr().port())
        .encrypt(Some(false))
        .connect_timeout(Duration::from_secs(3))
        .request_timeout(Duration::from_secs(5))
}

#[test]
fn global_state_and_login_user_id() {
    let s = sim();
    let ctx = sec(&s).open().unwrap();
    assert_eq!(ctx.login_user_id(), LOGIN_USER_ID);
    let before = s.stats().requests_received;
    let g = ctx.get_global_state().unwrap();
    assert!(g.trd_logined && g.qot_logined, "{g:?}");
    assert_eq!(g.server_ver, s.config().server_ver);
    assert!(g.time > 0);
    assert_eq!(s.stats().requests_received, before + 1, "one GetGlobalState request");
    // A closed context refuses instead of sending.
    ctx.close();
    assert!(ctx.get_global_state().unwrap_err().is_connection_lost());
}

#[test]
fn notify_pushes_reach_the_handler_in_order() {
    let s = sim();
    let ctx = sec(&s).open().unwrap();
    // Without a handler a Notify is dropped (and does not block anything).
    assert_eq!(s.push_gtw_event(1, "before the handler"), 1);
    let (tx, rx) = crossbeam_channel::unbounded();
    ctx.set_notify_handler(move |n: &pb::notify::S2c| {
        let _ = tx.send(n.event.as_ref().map(|e| (n.r#type, e.event_type, e.desc.clone())));
    });
    // Make sure the first push was handled (dropped) before asserting on the next ones.
    // A non-blocking request's reply is delivered on the connection's callback thread in
    // wire order with pushes (a blocking call's reply is not: it skips that queue), so
    // once it arrives the earlier push has reached the context's queue.
    let (sync_tx, sync_rx) = crossbeam_channel::bounded(1);
    ctx.trd_api()
        .send::<pb::proto::GetGlobalState>(
            pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: 0 } },
            move |_api, _serial, _r| {
                let _ = sync_tx.send(());
            },
        )
        .unwrap();
    sync_rx.recv_timeout(WAIT).unwrap();
    while ctx.queued_pushes() > 0 {
        std::thread::yield_now();
    }
    while rx.try_recv().is_ok() {}
    assert_eq!(s.push_gtw_event(14, "trade password changed"), 1);
    assert_eq!(s.push_gtw_event(3, "second"), 1);
    let gtw = pb::notify::NotifyType::GtwEvent as i32;
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Some((gtw, 14, "trade password changed".to_string())));
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Some((gtw, 3, "second".to_string())));
    // clear_handlers removes it too.
    ctx.clear_handlers();
    assert_eq!(s.push_gtw_event(5, "after clear"), 1);
    ctx.get_global_state().unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_millis(200)), Err(RecvTimeoutError::Disconnected));
}

#[test]
fn requests_the_context_does_not_wrap() {
    let s = sim();
    let ctx = sec(&s).filter_trdmarket(ftapi::TrdMarket::Hk).open().unwrap();
    let filtered = ctx.get_acc_list().unwrap().len();
    // The context's gated call: the whole, unfiltered account list.
    let all = ctx
        .call::<pb::proto::GetAccList>(pb::trd_get_acc_list::C2s {
            user_id: ctx.login_user_id(),
            trd_category: None,
            need_general_sec_account: Some(true),
        })
        .unwrap();
    assert!(all.acc_list.len() > filtered, "{} accounts vs {filtered} kept by the HK filter", all.acc_list.len());
    // The TrdApi underneath is the context's connection.
    let api = ctx.trd_api();
    assert_eq!(api.get_connect_id(), ctx.conn_id());
    assert_eq!(api.get_login_user_id(), LOGIN_USER_ID);
    let state = api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }).unwrap();
    assert!(state.trd_logined);
    // OpenD's refusals come back as they are.
    let e = ctx
        .call::<pb::proto::GetFunds>(pb::trd_get_funds::C2s {
            header: pb::trd_common::TrdHeader { trd_env: 1, acc_id: 999_999, trd_market: 1, jp_acc_type: None },
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(e, ftapi::Error::Server { proto_id: 2101, .. }), "{e:?}");
}
