//! The order-push flood of `opend-sim --push-flood N` ([`SimConfig::push_flood`]): right
//! after a connection's Trd_SubAccPush succeeds, that connection gets N Trd_UpdateOrder
//! (2208) pushes for the first account of the subscription, written as fast as the
//! socket takes them; then the session carries on normally. The flood is a
//! [`ReplyHook`] of the session: the server hands it to every session, and the session
//! knows nothing else of it.
//!
//! The simulator must never be what limits a client's push throughput, so the push is
//! sealed (serialized, hashed, encrypted) once, copied into a batch buffer, and each
//! batch (256 KiB) is queued whole, with only the 4 serial-number bytes of each header
//! patched in between, and goes out in one `write` of the connection's writer thread
//! while the next batch is prepared. Every push therefore carries the same order (same id, same
//! status) under its own push serial number. The fault plan is not consulted for
//! flood packets.
//!
//! [`SimConfig::push_flood`]: super::SimConfig::push_flood

use std::sync::Arc;

use prost::Message;

use crate::codec::{open_frame, Frame, FrameHeader, PacketCipher};
use crate::pb::{self, Protocol, PushProtocol, ResponseEnvelope};

use super::session::{ReplyHook, Session};
use super::{ConnInfo, TradeHandler};

/// Bytes queued per batch during a flood (rounded to whole packets).
const BATCH_BYTES: usize = 256 * 1024;

/// The flood, as the session's [`ReplyHook`]: the server hands it to every session
/// when [`SimConfig::push_flood`](super::SimConfig::push_flood) is set.
pub(crate) struct PushFlood {
    count: usize,
    handler: Option<Arc<dyn TradeHandler>>,
}

impl PushFlood {
    /// The hook for `count` pushes (`None` for no flood), asking `handler` for the
    /// account's header.
    pub(crate) fn hook(count: Option<usize>, handler: Option<Arc<dyn TradeHandler>>) -> Option<Arc<dyn ReplyHook>> {
        let count = count.filter(|n| *n > 0)?;
        Some(Arc::new(PushFlood { count, handler }))
    }
}

impl ReplyHook for PushFlood {
    /// A Trd_SubAccPush request may start a flood.
    fn wants(&self, header: &FrameHeader) -> bool {
        header.proto_id == pb::proto::SubAccPush::PROTO_ID
    }

    /// Starts the flood if the reply the session sent says success.
    fn after_reply(&self, sess: &Session, info: &ConnInfo, cipher: &PacketCipher, req: Frame) {
        let ok = sess
            .take_sub_acc_push_reply()
            .is_some_and(|b| pb::trd_sub_acc_push::Response::decode(b.as_slice()).is_ok_and(|r| r.ret_type == 0));
        let first = open_frame(req, cipher)
            .ok()
            .and_then(|p| pb::trd_sub_acc_push::Request::decode(p.as_slice()).ok())
            .and_then(|r| r.c2s.acc_id_list.first().copied());
        let (true, Some(acc_id)) = (ok, first) else {
            return;
        };
        let header = account_header(self.handler.as_deref(), info, acc_id);
        let body = order_push_body(header);
        let sent = flood(sess, pb::proto::UpdateOrder::PROTO_ID, &body, self.count);
        log::info!(
            "conn {}: push flood after Trd_SubAccPush: {sent} of {} order pushes sent",
            info.conn_id,
            self.count
        );
    }
}

/// The push header for `acc_id`: its environment and first authorized market, asked
/// from the trade handler the way a client would (Trd_GetAccList), so the flood does
/// not need to know the handler's internals. Falls back to REAL / HK.
fn account_header(handler: Option<&dyn TradeHandler>, info: &ConnInfo, acc_id: u64) -> pb::trd_common::TrdHeader {
    let mut header = pb::trd_common::TrdHeader { trd_env: 1, acc_id, trd_market: 1, jp_acc_type: None };
    let req = pb::trd_get_acc_list::Request {
        c2s: pb::trd_get_acc_list::C2s {
            user_id: info.login_user_id,
            trd_category: None,
            need_general_sec_account: Some(true),
        },
    };
    let reply = handler.and_then(|h| h.handle(info, pb::proto::GetAccList::PROTO_ID, &req.encode_to_vec()));
    let accounts = reply
        .and_then(|b| pb::trd_get_acc_list::Response::decode(b.as_slice()).ok())
        .and_then(|r| r.s2c)
        .map(|s| s.acc_list)
        .unwrap_or_default();
    if let Some(acc) = accounts.iter().find(|a| a.acc_id == acc_id) {
        header.trd_env = acc.trd_env;
        header.trd_market = acc.trd_market_auth_list.first().copied().unwrap_or(1);
    }
    header
}

/// The plaintext body of the flood's Trd_UpdateOrder push: a submitted limit order.
pub(crate) fn order_push_body(header: pb::trd_common::TrdHeader) -> Vec<u8> {
    let order = pb::trd_common::Order {
        trd_side: 1,
        order_type: 1,
        order_status: 5,
        order_id: 8_000_001,
        order_id_ex: "FLOOD-8000001".into(),
        code: "00700".into(),
        name: "TENCENT".into(),
        qty: 100.0,
        price: Some(350.0),
        create_time: "2026-01-02 10:00:00.000".into(),
        update_time: "2026-01-02 10:00:00.000".into(),
        fill_qty: Some(0.0),
        fill_avg_price: Some(0.0),
        sec_market: Some(1),
        create_timestamp: Some(1_767_319_200.0),
        update_timestamp: Some(1_767_319_200.0),
        time_in_force: Some(0),
        fill_outside_rth: Some(false),
        currency: Some(1),
        trd_market: Some(header.trd_market),
        ..Default::default()
    };
    let s2c = pb::trd_update_order::S2c { header, order };
    pb::trd_update_order::Response::build(0, None, None, Some(s2c)).encode_to_vec()
}

/// Queues `count` pushes of `proto_id` with plaintext `body` for `sess` (sealed once
/// with the session cipher, batched, one push serial each), at the pace the socket
/// takes them. Returns how many were queued; stops early if the session is not
/// initialized or the connection fails.
pub(crate) fn flood(sess: &Session, proto_id: u32, body: &[u8], count: usize) -> usize {
    let Some(template) = sess.push_template(proto_id, body) else {
        return 0;
    };
    let len = template.len();
    let per_batch = (BATCH_BYTES / len).max(1);
    let mut batch = Vec::with_capacity(per_batch * len);
    for _ in 0..per_batch.min(count) {
        batch.extend_from_slice(&template);
    }
    let mut sent = 0;
    while sent < count {
        let n = per_batch.min(count - sent);
        // The next batch is queued while the writer writes the previous one.
        if !sess.push_batch(&mut batch, len, n, 0) {
            break;
        }
        sent += n;
    }
    sent
}
