//! Request routing shared by the simulator's transports (the TCP port in `session.rs`,
//! the WebSocket port in `ws.rs`): once a connection is logged in, a plaintext request
//! body goes here whatever the framing, and the plaintext reply body comes back.
//!
//! | proto id | answer |
//! |---|---|
//! | KeepAlive (1004) | server time; counted per connection and server-wide |
//! | GetGlobalState (1002) | fixed market states, logged in, ProgramStatus Ready, the connID |
//! | anything else | the [`TradeHandler`](super::TradeHandler), then (if it declines) the [`QuoteHandler`](super::QuoteHandler); neither gives retType -1 "unknown protocol id N" |
//!
//! Connection-level commands (InitConnect, the WebSocket Init) stay with the transport.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

use crate::codec::decode_body;
use crate::pb::{self, common, get_global_state, keep_alive, Protocol};

use super::core::Core;
use super::ConnInfo;

/// Answers one request of a logged-in connection. `Ok` is the reply body, `Err` the
/// message of a retType -1 reply. `keepalives` is the connection's KeepAlive counter.
pub(crate) fn route(
    core: &Core,
    info: &ConnInfo,
    proto_id: u32,
    plain: &[u8],
    keepalives: &AtomicU64,
) -> Result<Vec<u8>, String> {
    core.counters.requests.fetch_add(1, Ordering::Relaxed);
    match proto_id {
        pb::proto::KeepAlive::PROTO_ID => keepalive(core, plain, keepalives),
        pb::proto::GetGlobalState::PROTO_ID => global_state(core, info.conn_id, plain),
        id => core
            .handler
            .as_ref()
            .and_then(|handler| handler.handle(info, id, plain))
            .or_else(|| core.quote.as_ref().and_then(|quote| quote.handle(info, id, plain)))
            .ok_or_else(|| format!("unknown protocol id {id}")),
    }
}

/// Tells the trade handler that the reply to `proto_id`, which it answered, has been
/// written (pushes that must follow the reply are released then). Call after sending an
/// `Ok` answer of [`route`]; a no-op for the server's own protocols.
pub(crate) fn replied(core: &Core, info: &ConnInfo, proto_id: u32) {
    if proto_id == pb::proto::KeepAlive::PROTO_ID || proto_id == pb::proto::GetGlobalState::PROTO_ID {
        return;
    }
    if let Some(handler) = core.handler.as_ref() {
        handler.replied(info, proto_id);
    }
}

/// A retType -1 response with `msg` (every Response shares the envelope, so any
/// protocol's Response type encodes it).
pub(crate) fn error_body(msg: &str) -> Vec<u8> {
    keep_alive::Response { ret_type: -1, ret_msg: Some(msg.to_owned()), err_code: None, s2c: None }.encode_to_vec()
}

/// Unix time in seconds, fractional.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn keepalive(core: &Core, plain: &[u8], keepalives: &AtomicU64) -> Result<Vec<u8>, String> {
    if let Err(e) = decode_body::<keep_alive::Request>(plain) {
        return Err(format!("bad KeepAlive request: {e}"));
    }
    keepalives.fetch_add(1, Ordering::Relaxed);
    core.counters.keepalives.fetch_add(1, Ordering::Relaxed);
    let rsp = keep_alive::Response {
        ret_type: 0,
        ret_msg: None,
        err_code: None,
        s2c: Some(keep_alive::S2c { time: unix_now() as i64 }),
    };
    Ok(rsp.encode_to_vec())
}

fn global_state(core: &Core, conn_id: u64, plain: &[u8]) -> Result<Vec<u8>, String> {
    if let Err(e) = decode_body::<get_global_state::Request>(plain) {
        return Err(format!("bad GetGlobalState request: {e}"));
    }
    let cfg = &core.config;
    let now = unix_now();
    // Market states at the simulated time of the trade handler's clock (or ours).
    let clock = core.handler.as_ref().and_then(|h| h.market_clock()).unwrap_or(cfg.clock);
    let st = clock.global_states();
    let s2c = get_global_state::S2c {
        market_hk: st.hk,
        market_us: st.us,
        market_sh: st.sh,
        market_sz: st.sz,
        market_hk_future: st.hk_future,
        market_us_future: Some(st.us_future),
        market_sg_future: Some(st.sg_future),
        market_jp_future: Some(st.jp_future),
        market_sg: Some(st.sg),
        market_my: Some(st.my),
        market_jp: Some(st.jp),
        qot_logined: true,
        trd_logined: true,
        server_ver: cfg.server_ver,
        server_build_no: cfg.server_build_no,
        time: st.time as i64,
        local_time: Some(now),
        program_status: Some(common::ProgramStatus {
            r#type: common::ProgramStatusType::Ready as i32,
            str_ext_desc: None,
        }),
        qot_svr_ip_addr: Some("127.0.0.1".into()),
        trd_svr_ip_addr: Some("127.0.0.1".into()),
        conn_id: Some(conn_id),
    };
    let rsp = get_global_state::Response { ret_type: 0, ret_msg: None, err_code: None, s2c: Some(s2c) };
    Ok(rsp.encode_to_vec())
}
