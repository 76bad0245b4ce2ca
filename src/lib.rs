//! ftapi: the Rust SDK for Futu / moomoo OpenD.
#![warn(missing_docs)]

pub mod api;
pub mod codec;
pub mod conn;
pub mod error;
pub mod pb;
#[cfg(feature = "sim")]
pub mod sim;

pub use api::{ConnSpi, TrdApi, TrdSpi};
pub use conn::{ConnConfig, ConnState, InitInfo};
pub use error::{Error, Result};
