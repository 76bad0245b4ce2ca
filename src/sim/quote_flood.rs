//! The quote-push flood of `opend-sim --quote-flood N` ([`SimConfig::quote_flood`]):
//! right after a connection's Qot_Sub subscribing SubType Quote with push registration
//! succeeds, that connection gets N Qot_UpdateBasicQot (3005) pushes for the first
//! subscribed security, written the way the order flood writes its pushes
//! ([`super::flood::flood`]: sealed once, batched, one push serial each); then the
//! session carries on normally.
//!
//! Every push carries the security's basic quote as Qot_GetBasicQot answers it at the
//! moment of the subscription. The fault plan is not consulted for flood packets.
//!
//! [`SimConfig::quote_flood`]: super::SimConfig::quote_flood

use std::sync::Arc;

use prost::Message;

use crate::codec::{open_frame, Frame, FrameHeader, PacketCipher};
use crate::pb::{self, Protocol, PushProtocol, ResponseEnvelope};

use super::session::{ReplyHook, Session};
use super::{ConnInfo, QuoteHandler};

/// SubType Quote (`Qot_Common.SubType_Basic`).
const SUB_TYPE_QUOTE: i32 = 1;

/// The quote flood, as the session's [`ReplyHook`]: the server hands it to every session
/// when [`SimConfig::quote_flood`](super::SimConfig::quote_flood) is set.
pub(crate) struct QuoteFlood {
    count: usize,
    quote: Option<Arc<dyn QuoteHandler>>,
}

impl QuoteFlood {
    /// The hook for `count` pushes (`None` for no flood), asking `quote` for the quote.
    pub(crate) fn hook(count: Option<usize>, quote: Option<Arc<dyn QuoteHandler>>) -> Option<Arc<dyn ReplyHook>> {
        let count = count.filter(|n| *n > 0)?;
        Some(Arc::new(QuoteFlood { count, quote }))
    }
}

impl ReplyHook for QuoteFlood {
    /// A Qot_Sub request may start a quote flood.
    fn wants(&self, header: &FrameHeader) -> bool {
        header.proto_id == pb::proto::Sub::PROTO_ID
    }

    /// Starts the flood if the request subscribed quotes with pushes and the
    /// subscription took.
    fn after_reply(&self, sess: &Session, info: &ConnInfo, cipher: &PacketCipher, req: Frame) {
        let count = self.count;
        let Some(c2s) =
            open_frame(req, cipher).ok().and_then(|p| pb::qot_sub::Request::decode(p.as_slice()).ok()).map(|r| r.c2s)
        else {
            return;
        };
        let wants_quotes = c2s.is_sub_or_un_sub
            && c2s.is_reg_or_un_reg_push == Some(true)
            && c2s.sub_type_list.contains(&SUB_TYPE_QUOTE);
        let Some(security) = c2s.security_list.first().filter(|_| wants_quotes).cloned() else {
            return;
        };
        // Asked from the quote handler the way a client would: Qot_GetBasicQot only
        // answers for a subscribed security, so an answer also says the subscription took.
        let get = pb::qot_get_basic_qot::Request {
            c2s: pb::qot_get_basic_qot::C2s { security_list: vec![security], header: None },
        };
        let quote = self
            .quote
            .as_ref()
            .and_then(|q| q.handle(info, pb::proto::GetBasicQot::PROTO_ID, &get.encode_to_vec()))
            .and_then(|b| pb::qot_get_basic_qot::Response::decode(b.as_slice()).ok())
            .filter(|r| r.ret_type == 0)
            .and_then(|r| r.s2c)
            .and_then(|s| s.basic_qot_list.into_iter().next());
        let Some(quote) = quote else {
            log::info!("conn {}: no quote flood: the Qot_Sub did not subscribe a quote", info.conn_id);
            return;
        };
        let s2c = pb::qot_update_basic_qot::S2c { basic_qot_list: vec![quote] };
        let body = pb::qot_update_basic_qot::Response::build(0, None, None, Some(s2c)).encode_to_vec();
        let sent = super::flood::flood(sess, pb::proto::UpdateBasicQot::PROTO_ID, &body, count);
        log::info!("conn {}: quote flood after Qot_Sub: {sent} of {count} quote pushes sent", info.conn_id);
    }
}

/// Both floods at once: each runs after the requests it wants.
pub(crate) struct BothFloods(pub(crate) Arc<dyn ReplyHook>, pub(crate) Arc<dyn ReplyHook>);

impl ReplyHook for BothFloods {
    fn wants(&self, header: &FrameHeader) -> bool {
        self.0.wants(header) || self.1.wants(header)
    }

    fn after_reply(&self, sess: &Session, info: &ConnInfo, cipher: &PacketCipher, req: Frame) {
        if self.0.wants(&req.header) {
            self.0.after_reply(sess, info, cipher, req.clone());
        }
        if self.1.wants(&req.header) {
            self.1.after_reply(sess, info, cipher, req);
        }
    }
}
