//! The market-data callback trait, generated from the protocol table.

use super::qot_api::QotApi;
use super::trd_api::decode_push;
use crate::error::Error;
use crate::pb;

macro_rules! qot_spi {
    (
        session { $($_s:tt)* }
        conn { $($c_ty:ident = $c_id:literal, $c_name:literal, $c_m:ident, $c_fn:ident, $c_spi:ident;)* }
        trd { $($_t:tt)* }
        trd_secret { $($_x:tt)* }
        trd_write { $($_w:tt)* }
        qot { $($q_ty:ident = $q_id:literal, $q_name:literal, $q_m:ident, $q_fn:ident, $q_spi:ident;)* }
        push_conn { $($pc_ty:ident = $pc_id:literal, $pc_name:literal, $pc_m:ident, $pc_spi:ident;)* }
        push_trd { $($_pt:tt)* }
        push_qot { $($pq_ty:ident = $pq_id:literal, $pq_name:literal, $pq_m:ident, $pq_spi:ident;)* }
        unnumbered { $($_u:tt)* }
        unnumbered_push { $($_up:tt)* }
    ) => {
        /// Market-data replies and pushes (C++ `FTSPI_Qot`: `OnReply_GetBasicQot`,
        /// `OnPush_UpdateBasicQot`, ...).
        ///
        /// Each `on_reply_*` receives the serial number its request returned and either the
        /// reply's `s2c` or an [`Error`]: OpenD's refusal ([`Error::Server`] with retType,
        /// retMsg and errCode), a timeout ([`Error::Timeout`]) or a lost connection
        /// ([`Error::Disconnected`]). Every request that returned a non-zero serial gets
        /// exactly one call. Each `on_push_*` receives one decoded push (pushes that do not
        /// decode, or carry a non-zero retType, are logged and dropped). All methods default
        /// to doing nothing and run on the reader thread with no lock held.
        ///
        /// ```
        /// use ftapi::{pb, QotApi, QotSpi};
        /// struct Printer;
        /// impl QotSpi for Printer {
        ///     fn on_push_update_order_book(&self, _api: &QotApi, push: pb::qot_update_order_book::S2c) {
        ///         let best_bid = push.order_book_bid_list.first().map(|l| (l.price, l.volume));
        ///         println!("{} best bid {best_bid:?}", push.security.code);
        ///     }
        ///     fn on_push_update_ticker(&self, _api: &QotApi, push: pb::qot_update_ticker::S2c) {
        ///         println!("{} {} tickers", push.security.code, push.ticker_list.len());
        ///     }
        /// }
        /// ```
        pub trait QotSpi: Send + Sync {
            $(
                #[doc = concat!("`", $c_name, "` (", stringify!($c_id), ") reply, C++ `OnReply_", stringify!($c_ty), "`.")]
                fn $c_spi(&self, api: &QotApi, serial: u32, result: Result<pb::$c_m::S2c, Error>) {
                    let _ = (api, serial, result);
                }
            )*
            $(
                #[doc = concat!("`", $q_name, "` (", stringify!($q_id), ") reply, C++ `OnReply_", stringify!($q_ty), "`.")]
                #[doc(alias = $q_name)]
                fn $q_spi(&self, api: &QotApi, serial: u32, result: Result<pb::$q_m::S2c, Error>) {
                    let _ = (api, serial, result);
                }
            )*
            $(
                #[doc = concat!("`", $pq_name, "` push (", stringify!($pq_id), "), C++ `OnPush_", stringify!($pq_ty), "`.")]
                #[doc(alias = $pq_name)]
                fn $pq_spi(&self, api: &QotApi, push: pb::$pq_m::S2c) {
                    let _ = (api, push);
                }
            )*
            $(
                #[doc = concat!("`", $pc_name, "` push (", stringify!($pc_id), "): an OpenD system event (program status, login state, quote rights, ...).")]
                fn $pc_spi(&self, api: &QotApi, push: pb::$pc_m::S2c) {
                    let _ = (api, push);
                }
            )*
        }

        /// Decodes a push and calls its `QotSpi` callback; pushes without one (trade
        /// pushes, unknown ids) are logged and dropped.
        pub(crate) fn dispatch_push(spi: &dyn QotSpi, api: &QotApi, proto_id: u32, body: &[u8]) {
            match proto_id {
                $(
                    $pq_id => {
                        if let Some(s) = decode_push::<pb::$pq_m::Response>(proto_id, body) {
                            spi.$pq_spi(api, s);
                        }
                    }
                )*
                $(
                    $pc_id => {
                        if let Some(s) = decode_push::<pb::$pc_m::Response>(proto_id, body) {
                            spi.$pc_spi(api, s);
                        }
                    }
                )*
                other => log::debug!("push {other} has no QotSpi callback"),
            }
        }
    };
}

pb::protocol_table!(qot_spi);
