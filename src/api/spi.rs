//! The callback traits.

use super::TrdApi;
use crate::error::Error;
use crate::pb;

/// Connection callbacks (C++, C# and Java `FTSPI_Conn`: `OnInitConnect` /
/// `onInitConnect`, and C++ `OnDisConnect`, C# `OnDisconnect`, Java `onDisconnect`).
///
/// `A` is the API object the callbacks are given: [`TrdApi`] (the default, so
/// `impl ConnSpi for MySpi` serves a `TrdApi`) or [`QotApi`](crate::QotApi)
/// (`impl ConnSpi<QotApi> for MySpi`). One type may implement both.
///
/// Every method runs on the connection's callback thread with no lock held, in wire
/// order with replies and pushes; it may call any method of the API object it is given,
/// including `close()` and the blocking `call`. A slow callback delays the callbacks
/// after it but not the connection: keepalive and request timeouts run on the I/O
/// thread, and replies to blocking calls are read however many pushes wait. Only when
/// the push queue reaches its bound ([`ConnConfig::push_queue_capacity`] or
/// [`ConnConfig::push_queue_bytes`]) does the I/O thread stop reading, so TCP pushes back
/// on OpenD. `close()` from another thread does not wait for a running callback.
///
/// [`ConnConfig::push_queue_capacity`]: crate::ConnConfig::push_queue_capacity
/// [`ConnConfig::push_queue_bytes`]: crate::ConnConfig::push_queue_bytes
#[doc(alias = "FTSPI_Conn")]
pub trait ConnSpi<A: ?Sized = TrdApi>: Send + Sync {
    /// InitConnect finished. `err_code` is 0 and `desc` empty on success; otherwise
    /// `err_code` is the official composite code (high 32 bits the failure kind, low 32
    /// bits the OS error number or the InitConnect failure kind; decode it with
    /// [`ConnFailure::from_err_code`](crate::conn::ConnFailure::from_err_code)) and
    /// `desc` says why (OpenD's `retMsg`, or e.g. "connection refused", "RSA key not
    /// set"). [`TrdApi::last_conn_failure`] gives the same, typed.
    #[doc(alias = "OnInitConnect")]
    #[doc(alias = "onInitConnect")]
    #[doc(alias = "onlogin")]
    fn on_init_connect(&self, api: &A, err_code: i64, desc: &str) {
        let _ = (api, err_code, desc);
    }

    /// A connection that was up has been lost (never called after `close()`).
    /// Fires exactly once per lost connection; every request in flight has already been
    /// answered with [`Error::Disconnected`]. `err_code` is the official composite code
    /// (e.g. `RecvFailed` in the high 32 bits, the OS error number in the low 32; see
    /// [`ConnFailure`](crate::conn::ConnFailure)); `desc` says why.
    #[doc(alias = "OnDisConnect")]
    #[doc(alias = "OnDisconnect")]
    #[doc(alias = "onDisconnect")]
    fn on_disconnect(&self, api: &A, err_code: i64, desc: &str) {
        let _ = (api, err_code, desc);
    }
}

macro_rules! trd_spi {
    ($( $(#[$doc:meta])* $method:ident => $m:ident; )*) => {
        /// Replies and pushes (C++, C# and Java `FTSPI_Trd`: `OnReply_PlaceOrder` /
        /// `onReply_PlaceOrder`, `OnPush_UpdateOrder` / `onPush_UpdateOrder`, ...).
        ///
        /// Each `on_reply_*` receives the serial number its request returned and either the
        /// reply's `s2c` or an [`Error`]: OpenD's refusal ([`Error::Server`] with retType,
        /// retMsg and errCode), a timeout ([`Error::Timeout`], retType -100) or a lost
        /// connection ([`Error::Disconnected`], retType -200). Every request that returned a
        /// non-zero serial gets exactly one call. All methods default to doing nothing and
        /// run on the connection's callback thread with no lock held (see [`ConnSpi`]).
        #[doc(alias = "FTSPI_Trd")]
        pub trait TrdSpi: Send + Sync {
            $(
                $(#[$doc])*
                fn $method(&self, api: &TrdApi, serial: u32, result: Result<pb::$m::S2c, Error>) {
                    let _ = (api, serial, result);
                }
            )*

            /// Trd_UpdateOrder (2208): an order of a subscribed account changed.
            #[doc(alias = "OnPush_UpdateOrder")]
            #[doc(alias = "onPush_UpdateOrder")]
            fn on_push_update_order(&self, api: &TrdApi, push: pb::trd_update_order::S2c) {
                let _ = (api, push);
            }

            /// Trd_UpdateOrderFill (2218): a fill of a subscribed account.
            #[doc(alias = "OnPush_UpdateOrderFill")]
            #[doc(alias = "onPush_UpdateOrderFill")]
            fn on_push_update_order_fill(&self, api: &TrdApi, push: pb::trd_update_order_fill::S2c) {
                let _ = (api, push);
            }

            /// Notify (1003): an OpenD system event (program status, login state, ...).
            #[doc(alias = "OnPush_Notify")]
            #[doc(alias = "onPush_Notify")]
            fn on_push_notify(&self, api: &TrdApi, push: pb::notify::S2c) {
                let _ = (api, push);
            }
        }
    };
}

trd_spi! {
    /// GetGlobalState (1002).
    #[doc(alias = "OnReply_GetGlobalState")]
    #[doc(alias = "onReply_GetGlobalState")]
    on_reply_get_global_state => get_global_state;
    /// Trd_GetAccList (2001).
    #[doc(alias = "OnReply_GetAccList")]
    #[doc(alias = "onReply_GetAccList")]
    on_reply_get_acc_list => trd_get_acc_list;
    /// Trd_UnlockTrade (2005).
    #[doc(alias = "OnReply_UnlockTrade")]
    #[doc(alias = "onReply_UnlockTrade")]
    on_reply_unlock_trade => trd_unlock_trade;
    /// Trd_SubAccPush (2008).
    #[doc(alias = "OnReply_SubAccPush")]
    #[doc(alias = "onReply_SubAccPush")]
    on_reply_sub_acc_push => trd_sub_acc_push;
    /// Trd_GetFunds (2101).
    #[doc(alias = "OnReply_GetFunds")]
    #[doc(alias = "onReply_GetFunds")]
    on_reply_get_funds => trd_get_funds;
    /// Trd_GetPositionList (2102).
    #[doc(alias = "OnReply_GetPositionList")]
    #[doc(alias = "onReply_GetPositionList")]
    on_reply_get_position_list => trd_get_position_list;
    /// Trd_GetMaxTrdQtys (2111).
    #[doc(alias = "OnReply_GetMaxTrdQtys")]
    #[doc(alias = "onReply_GetMaxTrdQtys")]
    on_reply_get_max_trd_qtys => trd_get_max_trd_qtys;
    /// Trd_GetComboMaxTrdQtys (2112).
    #[doc(alias = "OnReply_GetComboMaxTrdQtys")]
    #[doc(alias = "onReply_GetComboMaxTrdQtys")]
    on_reply_get_combo_max_trd_qtys => trd_get_combo_max_trd_qtys;
    /// Trd_GetOrderList (2201).
    #[doc(alias = "OnReply_GetOrderList")]
    #[doc(alias = "onReply_GetOrderList")]
    on_reply_get_order_list => trd_get_order_list;
    /// Trd_PlaceOrder (2202).
    #[doc(alias = "OnReply_PlaceOrder")]
    #[doc(alias = "onReply_PlaceOrder")]
    on_reply_place_order => trd_place_order;
    /// Trd_ModifyOrder (2205).
    #[doc(alias = "OnReply_ModifyOrder")]
    #[doc(alias = "onReply_ModifyOrder")]
    on_reply_modify_order => trd_modify_order;
    /// Trd_GetOrderFillList (2211).
    #[doc(alias = "OnReply_GetOrderFillList")]
    #[doc(alias = "onReply_GetOrderFillList")]
    on_reply_get_order_fill_list => trd_get_order_fill_list;
    /// Trd_GetHistoryOrderList (2221).
    #[doc(alias = "OnReply_GetHistoryOrderList")]
    #[doc(alias = "onReply_GetHistoryOrderList")]
    on_reply_get_history_order_list => trd_get_history_order_list;
    /// Trd_GetHistoryOrderFillList (2222).
    #[doc(alias = "OnReply_GetHistoryOrderFillList")]
    #[doc(alias = "onReply_GetHistoryOrderFillList")]
    on_reply_get_history_order_fill_list => trd_get_history_order_fill_list;
    /// Trd_GetMarginRatio (2223).
    #[doc(alias = "OnReply_GetMarginRatio")]
    #[doc(alias = "onReply_GetMarginRatio")]
    on_reply_get_margin_ratio => trd_get_margin_ratio;
    /// Trd_GetOrderFee (2225).
    #[doc(alias = "OnReply_GetOrderFee")]
    #[doc(alias = "onReply_GetOrderFee")]
    on_reply_get_order_fee => trd_get_order_fee;
    /// Trd_FlowSummary (2226).
    #[doc(alias = "OnReply_GetFlowSummary")]
    #[doc(alias = "onReply_GetFlowSummary")]
    on_reply_get_flow_summary => trd_flow_summary;
    /// Trd_PlaceComboOrder (2227).
    #[doc(alias = "OnReply_PlaceComboOrder")]
    #[doc(alias = "onReply_PlaceComboOrder")]
    on_reply_place_combo_order => trd_place_combo_order;
}
