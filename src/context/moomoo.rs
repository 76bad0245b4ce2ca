//! The contexts under the names moomoo users know, with the moomoo broker entities.
//!
//! Nothing differs on the wire: these are the same types as in [`crate::context`].
//!
//! ```no_run
//! use ftapi::context::moomoo::{self, OpenSecTradeContext};
//! use ftapi::types::TrdMarket;
//! let ctx = OpenSecTradeContext::builder()
//!     .filter_trdmarket(TrdMarket::Us)
//!     .security_firm(moomoo::MOOMOO_US)
//!     .open()?;
//! # Ok::<(), ftapi::Error>(())
//! ```

pub use crate::types::moomoo::*;

/// `OpenSecTradeContext` of the moomoo SDK: [`super::SecTradeContext`].
pub type OpenSecTradeContext = super::trade::SecTradeContext;
/// `OpenFutureTradeContext` of the moomoo SDK: [`super::FutureTradeContext`].
pub type OpenFutureTradeContext = super::trade::FutureTradeContext;
