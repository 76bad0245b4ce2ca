//! The callback traits.

use super::TrdApi;
use crate::error::Error;
use crate::pb;

/// Connection callbacks (C++ `FTSPI_Conn`: `OnInitConnect`, `OnDisConnect`).
///
/// Every method runs on the connection's callback thread with no lock held, in wire
/// order with replies and pushes; it may call any method of the [`TrdApi`] it is given,
/// including `close()` and the blocking `call`. A slow callback delays the callbacks
/// after it but not the connection: keepalive and request timeouts run on the I/O
/// thread. When `push_queue_capacity` pushes wait for the callbacks, the I/O thread
/// stops reading, so TCP pushes back on OpenD.
pub trait ConnSpi: Send + Sync {
    /// InitConnect finished. `err_code` is 0 and `desc` empty on success; otherwise
    /// `err_code` is the official composite code (high 32 bits the failure kind, low 32
    /// bits the OS error number or the InitConnect failure kind; decode it with
    /// [`ConnFailure::from_err_code`](crate::conn::ConnFailure::from_err_code)) and
    /// `desc` says why (OpenD's `retMsg`, or e.g. "connection refused", "RSA key not
    /// set"). [`TrdApi::last_conn_failure`] gives the same, typed.
    fn on_init_connect(&self, api: &TrdApi, err_code: i64, desc: &str) {
        let _ = (api, err_code, desc);
    }

    /// A connection that was up has been lost (never called after [`TrdApi::close`]).
    /// Fires exactly once per lost connection; every request in flight has already been
    /// answered with [`Error::Disconnected`]. `err_code` is the official composite code
    /// (e.g. `RecvFailed` in the high 32 bits, the OS error number in the low 32; see
    /// [`ConnFailure`](crate::conn::ConnFailure)); `desc` says why.
    fn on_disconnect(&self, api: &TrdApi, err_code: i64, desc: &str) {
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
        /// run on the connection's callback thread with no lock held (see [`ConnSpi`]).
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
