//! ftapi: the Rust SDK for Futu / moomoo OpenD.
#![warn(missing_docs)]

pub mod api;
pub mod codec;
pub mod conn;
pub mod error;
pub mod pb;
#[cfg(feature = "sim")]
pub mod sim;
pub mod types;

pub use api::{ConnSpi, TrdApi, TrdSpi};
pub use conn::{ConnConfig, ConnState, InitInfo};
pub use error::{Error, Result};
pub use types::{
    Account, AccountRef, Currency, Funds, Market, ModifyOrderOp, Order, OrderFill, OrderStatus, OrderType, Position,
    SecurityCode, SecurityFirm, Session, TimeInForce, TradePassword, TrdCategory, TrdEnv, TrdMarket, TrdSide,
};
