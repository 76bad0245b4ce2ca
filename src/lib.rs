//! ftapi: the Rust SDK for Futu / moomoo OpenD.
//!
//! Two ways in, each for trading and for market data:
//!
//! - [`TrdApi`] with the [`ConnSpi`] / [`TrdSpi`] callback traits, shaped like the official
//!   C#/Java/C++ SDKs: `init_connect` returns at once, requests return their serial number,
//!   replies and pushes arrive on the connection's callback thread. `TrdApi::call` blocks
//!   for a reply over the same machinery. [`QotApi`] with [`QotSpi`] is its market-data
//!   half (C++ `FTAPI_Qot`).
//! - [`SecTradeContext`] / [`FutureTradeContext`], shaped like the Python SDK's trade
//!   contexts: blocking, typed results, automatic reconnect, rate limits, push handlers;
//!   and [`QuoteContext`], the Python SDK's `OpenQuoteContext`: blocking, typed quotes,
//!   subscriptions restored after a reconnect, OpenD's quota and frequency rules checked
//!   before sending.
//!
//! The layers, each usable without the ones above it: [`codec`] (the wire: 44-byte header,
//! frame decoder, RSA/AES, SHA-1; no I/O) → [`conn`] (one connection over a transport:
//! TCP or in-memory; serials, pending requests, keepalive, I/O and callback threads) →
//! [`api`] → [`context`]. [`pb`] holds the protobuf
//! messages, [`types`] the typed domain data, and [`sim`] an OpenD simulator built on the
//! same codec (feature `sim`, on by default).
//!
//! Porting from the official C++, C#, Java or Python SDK? [`porting`] maps every official
//! name to its ftapi item, and the documentation search knows the official names too
//! (`OnReply_PlaceOrder`, `SetConnCallback`, `initConnect`, `OpenSecTradeContext` ...).
//! The wire protocol the crate implements is described in `docs/protocol.md` in the
//! repository.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ftapi::{pb, ConnSpi, TrdApi};
//!
//! struct Spi;
//! impl ConnSpi for Spi {
//!     fn on_init_connect(&self, api: &TrdApi, err_code: i64, desc: &str) {
//!         println!("on_init_connect: ret={err_code} desc={desc} conn_id={}", api.get_connect_id());
//!     }
//! }
//!
//! let sim = ftapi::sim::SimServer::builder().port(0).start()?; // or a real OpenD
//! let api = TrdApi::new();
//! api.set_conn_spi(Arc::new(Spi));
//! api.init_connect("127.0.0.1", sim.local_addr().port(), false);
//! # std::thread::sleep(std::time::Duration::from_millis(200));
//! let accounts = api.call::<pb::proto::GetAccList>(pb::trd_get_acc_list::C2s {
//!     user_id: api.get_login_user_id(),
//!     trd_category: Some(1),
//!     need_general_sec_account: Some(true),
//! })?;
//! println!("{} accounts", accounts.acc_list.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod api;
pub mod codec;
pub mod conn;
pub mod context;
pub mod error;
pub mod pb;
pub mod porting;
#[cfg(feature = "sim")]
pub mod sim;
pub mod types;
#[cfg(feature = "websocket")]
mod wsnet;

pub use api::{ConnSpi, QotApi, QotSpi, TrdApi, TrdSpi};
pub use conn::{ConnConfig, ConnState, InitInfo};
pub use context::{
    ConnectionEvent, FillUpdate, FutureTradeContext, OrderUpdate, PlaceOrder, QuoteContext, ReconnectPolicy,
    SecTradeContext, TradeContext,
};
pub use error::{Error, QuoteRule, Result};
pub use types::{
    Account, AccountRef, Currency, Funds, Market, ModifyOrderOp, Order, OrderFill, OrderStatus, OrderType, Position,
    SecurityCode, SecurityFirm, Session, TimeInForce, TradePassword, TrdCategory, TrdEnv, TrdMarket, TrdSide,
};
