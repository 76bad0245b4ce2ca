//! ftapi: the Rust SDK for Futu / moomoo OpenD.
#![warn(missing_docs)]

pub mod codec;
pub mod error;
pub mod pb;
#[cfg(feature = "sim")]
pub mod sim;

pub use error::{Error, Result};
