//! The order-push flood of `opend-sim --push-flood N` ([`SimConfig::push_flood`]): right
//! after a connection's Trd_SubAccPush succeeds, that connection gets N Trd_UpdateOrder
//! (2208) pushes for the first account of the subscription, written as fast as the
//! socket takes them; then the session carries on normally.
//!
//! The simulator must never be what limits a client's push throughput, so the push is
//! sealed (serialized, hashed, encrypted) once, copied into a batch buffer, and each
//! batch goes out in one `write` with only the 4 serial-number bytes of each header
//! patched in between. Every push therefore carries the same order (same id, same
//! status) under its own push serial number. The fault plan is not consulted for
//! flood packets.
//!
//! [`SimConfig::push_flood`]: super::SimConfig::push_flood

use std::io::Write;

use prost::Message;

use crate::codec::{open_frame, seal_packet, Frame, FrameHeader, PacketCipher};
use crate::pb::{self, Protocol, PushProtocol, ResponseEnvelope};

use super::server::Core;
use super::session::Session;
use super::ConnInfo;

/// Bytes written per `write` call during a flood (rounded to whole packets).
const BATCH_BYTES: usize = 256 * 1024;

/// The codec's sealers return the packet, or a `Result` of it where sealing can fail;
/// this takes either (`None` after logging the error).
pub(crate) trait IntoPacket {
    fn into_packet(self) -> Option<Vec<u8>>;
}

impl IntoPacket for Vec<u8> {
    fn into_packet(self) -> Option<Vec<u8>> {
        Some(self)
    }
}

impl<E: std::fmt::Display> IntoPacket for Result<Vec<u8>, E> {
    fn into_packet(self) -> Option<Vec<u8>> {
        self.map_err(|e| log::error!("sealing a packet failed: {e}")).ok()
    }
}

/// Whether `header` is a Trd_SubAccPush request that may start a flood (or a Qot_Sub
/// that may start a quote flood, `quote_flood.rs`).
pub(crate) fn wanted(core: &Core, header: &FrameHeader) -> bool {
    (core.config.push_flood.is_some_and(|n| n > 0) && header.proto_id == pb::proto::SubAccPush::PROTO_ID)
        || super::quote_flood::wanted(core, header)
}

/// Called after the session handled the Trd_SubAccPush request `req` (a frame as
/// received): starts the flood if the reply it sent says success.
pub(crate) fn after_sub_acc_push(core: &Core, info: &ConnInfo, sess: &Session, cipher: &PacketCipher, req: Frame) {
    if req.header.proto_id == pb::proto::Sub::PROTO_ID {
        return super::quote_flood::after_qot_sub(core, info, sess, cipher, req);
    }
    let Some(count) = core.config.push_flood.filter(|n| *n > 0) else {
        return;
    };
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
    let header = account_header(core, info, acc_id);
    let body = order_push_body(header);
    let sent = flood(sess, pb::proto::UpdateOrder::PROTO_ID, &body, count);
    log::info!("conn {}: push flood after Trd_SubAccPush: {sent} of {count} order pushes sent", info.conn_id);
}

/// The push header for `acc_id`: its environment and first authorized market, asked
/// from the trade handler the way a client would (Trd_GetAccList), so the flood does
/// not need to know the handler's internals. Falls back to REAL / HK.
fn account_header(core: &Core, info: &ConnInfo, acc_id: u64) -> pb::trd_common::TrdHeader {
    let mut header = pb::trd_common::TrdHeader { trd_env: 1, acc_id, trd_market: 1, jp_acc_type: None };
    let req = pb::trd_get_acc_list::Request {
        c2s: pb::trd_get_acc_list::C2s {
            user_id: info.login_user_id,
            trd_category: None,
            need_general_sec_account: Some(true),
        },
    };
    let reply =
        core.handler.as_ref().and_then(|h| h.handle(info, pb::proto::GetAccList::PROTO_ID, &req.encode_to_vec()));
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

/// Writes `count` pushes of `proto_id` with plaintext `body` to `sess` (sealed once
/// with the session cipher, batched, one push serial each). Returns how many were
/// written; stops early if the session is not initialized or the connection fails.
pub(crate) fn flood(sess: &Session, proto_id: u32, body: &[u8], count: usize) -> usize {
    let Some(Some(template)) =
        sess.with_push_writer(|_, cipher, _| seal_packet(proto_id, 0, body, cipher).into_packet())
    else {
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
        let res = sess.with_push_writer(|stream, _, serial| {
            for p in batch.chunks_exact_mut(len).take(n) {
                *serial = serial.wrapping_add(1);
                p[8..12].copy_from_slice(&serial.to_le_bytes());
            }
            stream.write_all(&batch[..n * len])
        });
        match res {
            Some(Ok(())) => {
                sent += n;
                sess.count_pushes(n as u64);
            }
            Some(Err(e)) => {
                sess.close(&format!("write failed during the push flood: {e}"));
                break;
            }
            None => break,
        }
    }
    sent
}
