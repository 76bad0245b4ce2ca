//! The callback traits.

use super::TrdApi;
use crate::error::Error;
use crate::pb;

/// Connection callbacks (C++ `FTSPI_Conn`: `OnInitConnect`, `OnDisConnect`).
///
/// `A` is the API object the callbacks are given: [`TrdApi`] (the default, so
/// `impl ConnSpi for MySpi` serves a `TrdApi`) or [`QotApi`](crate::QotApi)
/// (`impl ConnSpi<QotApi> for MySpi`). One type may implement both.
///
/// Every method runs on the connection's reader thread with no lock held; it may call
/// any method of the API object it is given, including `close()`, but should return
/// promptly (the reader does nothing else while a callback runs, which is also how a
/// slow consumer pushes back on OpenD through TCP).
pub trait ConnSpi<A: ?Sized = TrdApi>: Send + Sync {
    /// InitConnect finished. `err_code` is 0 and `desc` empty on success; otherwise
    /// `err_code` is OpenD's `retType` (or the local equivalent: -200 for network
    /// failures, -500 for undecodable data, see [`Error::ret_type`]) and `desc` says why
    /// (OpenD's `retMsg`, or e.g. "connection refused", "RSA key not set").
    fn on_init_connect(&self, api: &A, err_code: i64, desc: &str) {
        let _ = (api, err_code, desc);
    }

    /// A connection that was up has been lost (never called after `close()`).
    /// Fires exactly once per lost connection; every request in flight has already been
    /// answered with [`Error::Disconnected`]. `err_code` is -200 (`RetType_DisConnect`);
    /// `desc` says why.
    fn on_disconnect(&self, api: &A, err_code: i64, desc: &str) {
        let _ = (api, err_code, desc);
    }
}

macro_rules! trd_spi {
    ($( $(#[$doc:meta])* $method:ident => $m:ident; )*) => {
        /// Replies and pushes (C++ `FTSPI_Trd`: `OnReply_PlaceOrder`, `OnPush_UpdateOrder`, ...).
        ///
        /// Each `on_reply_*` receives the serial number its request returned and either the
        /// reply's `s2c` or an [`Error`]: OpenD's refusal ([`Error::Server`] with retType,
        /// retMsg and errCode), a timeout ([`Error::Timeout`], retType -100) or a lost
        /// connection ([`Error::Disconnected`], retType -200). Every request that returned a
        /// non-zero serial gets exactly one call. All methods default to doing nothing and
        /// run on the reader thread with no lock held.
        pub trait TrdSpi: Send + Sync {
            $(
                $(#[$doc])*
                fn $method(&self, api: &TrdApi, serial: u32, result: Result<pb::$m::S2c, Error>) {
                    let _ = (api, serial, result);
                }
            )*

            /// Trd_UpdateOrder (2208): an order of a subscribed account changed.
            fn on_push_update_order(&self, api: &TrdApi, push: pb::trd_update_order::S2c) {
                let _ = (api, push);
            }

            /// Trd_UpdateOrderFill (2218): a fill of a subscribed account.
            fn on_push_update_order_fill(&self, api: &TrdApi, push: pb::trd_update_order_fill::S2c) {
                let _ = (api, push);
            }

            /// Notify (1003): an OpenD system event (program status, login state, ...).
            fn on_push_notify(&self, api: &TrdApi, push: pb::notify::S2c) {
                let _ = (api, push);
            }
        }
    };
}

trd_spi! {
    /// GetGlobalState (1002).
    on_reply_get_global_state => get_global_state;
    /// Trd_GetAccList (2001).
    on_reply_get_acc_list => trd_get_acc_list;
    /// Trd_UnlockTrade (2005).
    on_reply_unlock_trade => trd_unlock_trade;
    /// Trd_SubAccPush (2008).
    on_reply_sub_acc_push => trd_sub_acc_push;
    /// Trd_GetFunds (2101).
    on_reply_get_funds => trd_get_funds;
    /// Trd_GetPositionList (2102).
    on_reply_get_position_list => trd_get_position_list;
    /// Trd_GetMaxTrdQtys (2111).
    on_reply_get_max_trd_qtys => trd_get_max_trd_qtys;
    /// Trd_GetComboMaxTrdQtys (2112).
    on_reply_get_combo_max_trd_qtys => trd_get_combo_max_trd_qtys;
    /// Trd_GetOrderList (2201).
    on_reply_get_order_list => trd_get_order_list;
    /// Trd_PlaceOrder (2202).
    on_reply_place_order => trd_place_order;
    /// Trd_ModifyOrder (2205).
    on_reply_modify_order => trd_modify_order;
    /// Trd_GetOrderFillList (2211).
    on_reply_get_order_fill_list => trd_get_order_fill_list;
    /// Trd_GetHistoryOrderList (2221).
    on_reply_get_history_order_list => trd_get_history_order_list;
    /// Trd_GetHistoryOrderFillList (2222).
    on_reply_get_history_order_fill_list => trd_get_history_order_fill_list;
    /// Trd_GetMarginRatio (2223).
    on_reply_get_margin_ratio => trd_get_margin_ratio;
    /// Trd_GetOrderFee (2225).
    on_reply_get_order_fee => trd_get_order_fee;
    /// Trd_FlowSummary (2226).
    on_reply_get_flow_summary => trd_flow_summary;
    /// Trd_PlaceComboOrder (2227).
    on_reply_place_combo_order => trd_place_combo_order;
}
