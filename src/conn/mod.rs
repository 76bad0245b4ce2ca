//! One connection to OpenD: the transport, the reader thread, InitConnect, keepalive,
//! serial numbers, pending requests and their timeouts.
//!
//! This layer knows packets, not trading: it sends `(proto_id, body)` and hands
//! replies to the responder registered for `(proto_id, serial)`, pushes and connection
//! events to a [`ConnEvents`] implementation (the API layer).

mod connection;
mod pending;
pub mod transport;

pub use self::connection::{ConnConfig, ConnEvents, ConnState, Connection, InitInfo};
pub use self::pending::{PendingEntry, PendingTable, Responder};
