//! Protobuf messages generated from `proto/` by prost, and the one table that maps
//! OpenD protocol ids to their request and response types.
//!
//! Every request/response protocol is described once, by a zero-sized type that
//! implements [`Protocol`]; the client, the simulator and the tests all go through it.
//!
//! ```
//! use ftapi::pb::{self, Protocol};
//! assert_eq!(pb::proto::PlaceOrder::PROTO_ID, 2202);
//! assert_eq!(pb::proto_name(2202), Some("Trd_PlaceOrder"));
//! ```
#![allow(missing_docs, clippy::all, clippy::pedantic)]

macro_rules! pb_mod {
    ($($name:ident => $file:literal),* $(,)?) => {
        $(
            #[doc = concat!("Messages of the `", $file, "` file.")]
            pub mod $name {
                include!(concat!(env!("OUT_DIR"), "/", stringify!($name), ".rs"));
            }
        )*
    };
}

pb_mod! {
    common => "Common.proto",
    qot_common => "Qot_Common.proto",
    init_connect => "InitConnect.proto",
    get_global_state => "GetGlobalState.proto",
    notify => "Notify.proto",
    keep_alive => "KeepAlive.proto",
    init_web_socket => "InitWebSocket.proto",
    trd_common => "Trd_Common.proto",
    trd_get_acc_list => "Trd_GetAccList.proto",
    trd_unlock_trade => "Trd_UnlockTrade.proto",
    trd_sub_acc_push => "Trd_SubAccPush.proto",
    trd_get_funds => "Trd_GetFunds.proto",
    trd_get_position_list => "Trd_GetPositionList.proto",
    trd_get_max_trd_qtys => "Trd_GetMaxTrdQtys.proto",
    trd_get_combo_max_trd_qtys => "Trd_GetComboMaxTrdQtys.proto",
    trd_get_order_list => "Trd_GetOrderList.proto",
    trd_place_order => "Trd_PlaceOrder.proto",
    trd_modify_order => "Trd_ModifyOrder.proto",
    trd_update_order => "Trd_UpdateOrder.proto",
    trd_get_order_fill_list => "Trd_GetOrderFillList.proto",
    trd_update_order_fill => "Trd_UpdateOrderFill.proto",
    trd_get_history_order_list => "Trd_GetHistoryOrderList.proto",
    trd_get_history_order_fill_list => "Trd_GetHistoryOrderFillList.proto",
    trd_get_margin_ratio => "Trd_GetMarginRatio.proto",
    trd_get_order_fee => "Trd_GetOrderFee.proto",
    trd_flow_summary => "Trd_FlowSummary.proto",
    trd_place_combo_order => "Trd_PlaceComboOrder.proto",
    trd_reconfirm_order => "Trd_ReconfirmOrder.proto",
    trd_notify => "Trd_Notify.proto",
}

/// The compiled `proto/` files as a serialized `google.protobuf.FileDescriptorSet`
/// (tests compare it field by field with the official definitions).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ftapi_fds.bin"));

// Secrets never reach Debug output: the trade password's MD5 and the connection's AES
// key and IV are redacted.
impl std::fmt::Debug for trd_unlock_trade::C2s {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("C2s")
            .field("unlock", &self.unlock)
            .field("pwd_md5", &self.pwd_md5.as_ref().map(|_| "<redacted>"))
            .field("security_firm", &self.security_firm)
            .finish()
    }
}

impl std::fmt::Debug for init_connect::S2c {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S2c")
            .field("server_ver", &self.server_ver)
            .field("login_user_id", &self.login_user_id)
            .field("conn_id", &self.conn_id)
            .field("conn_aes_key", &"<redacted>")
            .field("keep_alive_interval", &self.keep_alive_interval)
            .field("aes_cb_civ", &self.aes_cb_civ.as_ref().map(|_| "<redacted>"))
            .field("user_attribution", &self.user_attribution)
            .finish()
    }
}

/// The response envelope every OpenD protocol shares:
/// `retType` (required, default -400), `retMsg`, `errCode`, and the protocol's `s2c`.
pub trait ResponseEnvelope: prost::Message + Default + Clone + Send + 'static {
    /// The protocol's S2C payload type.
    type S2c: prost::Message + Default + Clone + Send + 'static;
    fn ret_type(&self) -> i32;
    fn ret_msg(&self) -> &str;
    fn err_code(&self) -> i32;
    fn s2c(&self) -> Option<&Self::S2c>;
    fn into_s2c(self) -> Option<Self::S2c>;
    /// Builds a response (used by the simulator and by tests).
    fn build(ret_type: i32, ret_msg: Option<String>, err_code: Option<i32>, s2c: Option<Self::S2c>) -> Self;
}

/// The request envelope: `Request { required C2S c2s = 1; }`.
pub trait RequestEnvelope: prost::Message + Default + Clone + Send + 'static {
    type C2s: prost::Message + Default + Clone + Send + 'static;
    fn c2s(&self) -> &Self::C2s;
    fn from_c2s(c2s: Self::C2s) -> Self;
}

/// One OpenD protocol: its id and message types.
pub trait Protocol: Send + Sync + 'static {
    /// The `nProtoID` of the 44-byte header.
    const PROTO_ID: u32;
    /// The file/package name, e.g. `"Trd_PlaceOrder"`.
    const NAME: &'static str;
    type Request: RequestEnvelope;
    type Response: ResponseEnvelope;
    /// Whether this is a trading write that carries `Common.PacketID` (replay protection).
    const IS_WRITE: bool = false;
    /// Fills `c2s.packetID` with `{conn_id, serial}` unless the caller already set one.
    /// A no-op for protocols without a PacketID.
    fn fill_packet_id(_req: &mut Self::Request, _conn_id: u64, _serial: u32) {}
    /// Whether the request carries a secret (the trade password's MD5): its buffers are
    /// wiped after sending.
    const SENSITIVE: bool = false;
    /// Wipes the secrets of a request after it was encoded. A no-op for most protocols.
    fn wipe(_req: &mut Self::Request) {}
}

/// A push-only protocol (no request).
pub trait PushProtocol: Send + Sync + 'static {
    const PROTO_ID: u32;
    const NAME: &'static str;
    type Response: ResponseEnvelope;
}

macro_rules! envelopes {
    ($($m:ident),* $(,)?) => {$(
        impl ResponseEnvelope for $m::Response {
            type S2c = $m::S2c;
            fn ret_type(&self) -> i32 { self.ret_type }
            fn ret_msg(&self) -> &str { self.ret_msg.as_deref().unwrap_or("") }
            fn err_code(&self) -> i32 { self.err_code.unwrap_or(0) }
            fn s2c(&self) -> Option<&Self::S2c> { self.s2c.as_ref() }
            fn into_s2c(self) -> Option<Self::S2c> { self.s2c }
            fn build(ret_type: i32, ret_msg: Option<String>, err_code: Option<i32>, s2c: Option<Self::S2c>) -> Self {
                $m::Response { ret_type, ret_msg, err_code, s2c }
            }
        }
    )*};
}

macro_rules! requests {
    ($($m:ident),* $(,)?) => {$(
        impl RequestEnvelope for $m::Request {
            type C2s = $m::C2s;
            fn c2s(&self) -> &Self::C2s { &self.c2s }
            fn from_c2s(c2s: Self::C2s) -> Self { $m::Request { c2s } }
        }
    )*};
}

envelopes!(
    init_connect,
    get_global_state,
    notify,
    keep_alive,
    trd_get_acc_list,
    trd_unlock_trade,
    trd_sub_acc_push,
    trd_get_funds,
    trd_get_position_list,
    trd_get_max_trd_qtys,
    trd_get_combo_max_trd_qtys,
    trd_get_order_list,
    trd_place_order,
    trd_modify_order,
    trd_update_order,
    trd_get_order_fill_list,
    trd_update_order_fill,
    trd_get_history_order_list,
    trd_get_history_order_fill_list,
    trd_get_margin_ratio,
    trd_get_order_fee,
    trd_flow_summary,
    trd_place_combo_order,
    trd_reconfirm_order,
    trd_notify,
);

requests!(
    init_connect,
    get_global_state,
    keep_alive,
    trd_get_acc_list,
    trd_unlock_trade,
    trd_sub_acc_push,
    trd_get_funds,
    trd_get_position_list,
    trd_get_max_trd_qtys,
    trd_get_combo_max_trd_qtys,
    trd_get_order_list,
    trd_place_order,
    trd_modify_order,
    trd_get_order_fill_list,
    trd_get_history_order_list,
    trd_get_history_order_fill_list,
    trd_get_margin_ratio,
    trd_get_order_fee,
    trd_flow_summary,
    trd_place_combo_order,
    trd_reconfirm_order,
);

/// Marker types, one per protocol, carrying the id and message types.
pub mod proto {
    use super::*;

    macro_rules! protocols {
        ($($ty:ident = $id:literal, $name:literal, $m:ident;)*) => {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($id), ").")]
                #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                pub struct $ty;
                impl Protocol for $ty {
                    const PROTO_ID: u32 = $id;
                    const NAME: &'static str = $name;
                    type Request = $m::Request;
                    type Response = $m::Response;
                }
            )*
            /// Every request/response protocol except the writes: (id, name).
            pub const ALL: &[(u32, &str)] = &[$(($id, $name),)* (2005, "Trd_UnlockTrade")];
        };
    }

    protocols! {
        InitConnect = 1001, "InitConnect", init_connect;
        GetGlobalState = 1002, "GetGlobalState", get_global_state;
        KeepAlive = 1004, "KeepAlive", keep_alive;
        GetAccList = 2001, "Trd_GetAccList", trd_get_acc_list;
        SubAccPush = 2008, "Trd_SubAccPush", trd_sub_acc_push;
        GetFunds = 2101, "Trd_GetFunds", trd_get_funds;
        GetPositionList = 2102, "Trd_GetPositionList", trd_get_position_list;
        GetMaxTrdQtys = 2111, "Trd_GetMaxTrdQtys", trd_get_max_trd_qtys;
        GetComboMaxTrdQtys = 2112, "Trd_GetComboMaxTrdQtys", trd_get_combo_max_trd_qtys;
        GetOrderList = 2201, "Trd_GetOrderList", trd_get_order_list;
        GetOrderFillList = 2211, "Trd_GetOrderFillList", trd_get_order_fill_list;
        GetHistoryOrderList = 2221, "Trd_GetHistoryOrderList", trd_get_history_order_list;
        GetHistoryOrderFillList = 2222, "Trd_GetHistoryOrderFillList", trd_get_history_order_fill_list;
        GetMarginRatio = 2223, "Trd_GetMarginRatio", trd_get_margin_ratio;
        GetOrderFee = 2225, "Trd_GetOrderFee", trd_get_order_fee;
        FlowSummary = 2226, "Trd_FlowSummary", trd_flow_summary;
    }

    /// `Trd_UnlockTrade` (2005): carries the MD5 of the trade password, wiped after sending.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct UnlockTrade;
    impl Protocol for UnlockTrade {
        const PROTO_ID: u32 = 2005;
        const NAME: &'static str = "Trd_UnlockTrade";
        type Request = trd_unlock_trade::Request;
        type Response = trd_unlock_trade::Response;
        const SENSITIVE: bool = true;
        fn wipe(req: &mut Self::Request) {
            if let Some(md5) = req.c2s.pwd_md5.as_mut() {
                zeroize::Zeroize::zeroize(md5);
            }
        }
    }

    macro_rules! writes {
        ($($ty:ident = $id:literal, $name:literal, $m:ident;)*) => {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($id), "), a write carrying `Common.PacketID`.")]
                #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                pub struct $ty;
                impl Protocol for $ty {
                    const PROTO_ID: u32 = $id;
                    const NAME: &'static str = $name;
                    type Request = $m::Request;
                    type Response = $m::Response;
                    const IS_WRITE: bool = true;
                    fn fill_packet_id(req: &mut Self::Request, conn_id: u64, serial: u32) {
                        let p = &mut req.c2s.packet_id;
                        if p.conn_id == 0 && p.serial_no == 0 {
                            *p = common::PacketId { conn_id, serial_no: serial };
                        }
                    }
                }
            )*
            /// Every write protocol: (id, name).
            pub const WRITES: &[(u32, &str)] = &[$(($id, $name)),*];
        };
    }

    writes! {
        PlaceOrder = 2202, "Trd_PlaceOrder", trd_place_order;
        ModifyOrder = 2205, "Trd_ModifyOrder", trd_modify_order;
        PlaceComboOrder = 2227, "Trd_PlaceComboOrder", trd_place_combo_order;
    }

    macro_rules! pushes {
        ($($ty:ident = $id:literal, $name:literal, $m:ident;)*) => {
            $(
                #[doc = concat!("`", $name, "` push (", stringify!($id), ").")]
                #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                pub struct $ty;
                impl PushProtocol for $ty {
                    const PROTO_ID: u32 = $id;
                    const NAME: &'static str = $name;
                    type Response = $m::Response;
                }
            )*
            /// Every push protocol the trading side receives: (id, name).
            pub const PUSHES: &[(u32, &str)] = &[$(($id, $name)),*];
        };
    }

    pushes! {
        Notify = 1003, "Notify", notify;
        UpdateOrder = 2208, "Trd_UpdateOrder", trd_update_order;
        UpdateOrderFill = 2218, "Trd_UpdateOrderFill", trd_update_order_fill;
    }
}

/// The protocol name for an id, if the trading side knows it.
pub fn proto_name(proto_id: u32) -> Option<&'static str> {
    proto::ALL.iter().chain(proto::WRITES).chain(proto::PUSHES).find(|(id, _)| *id == proto_id).map(|(_, n)| *n)
}

/// Whether `proto_id` is one of the push protocols (1003, 2208, 2218).
pub fn is_push(proto_id: u32) -> bool {
    proto::PUSHES.iter().any(|(id, _)| *id == proto_id)
}
