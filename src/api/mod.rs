//! The callback API, shaped like the official C#/Java/C++ SDKs: one [`TrdApi`] (trading)
//! or [`QotApi`] (market data) per connection, a background I/O thread, a callback
//! thread, and the user's [`ConnSpi`] / [`TrdSpi`] / [`QotSpi`] callbacks. `QotApi` runs
//! on a `TrdApi` engine, so both share the connection machinery.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ftapi::{ConnSpi, TrdApi};
//!
//! struct MySpi;
//! impl ConnSpi for MySpi {
//!     fn on_init_connect(&self, api: &TrdApi, err_code: i64, desc: &str) {
//!         println!("connected: {err_code} {desc} conn_id={}", api.get_connect_id());
//!     }
//! }
//!
//! let api = TrdApi::new();
//! api.set_client_info("mybot", 1);
//! api.set_conn_spi(Arc::new(MySpi));
//! assert!(api.init_connect("127.0.0.1", 11111, false)); // returns at once
//! // ... on_init_connect arrives on the callback thread ...
//! api.close();
//! ```

mod qot_api;
mod trd_api;

pub use self::qot_api::{QotApi, QotSpi};
pub(crate) use self::trd_api::decode_push;
pub use self::trd_api::{ConnSpi, TrdApi, TrdSpi};
