//! One connection to OpenD, over any transport.
//!
//! The core here owns what does not depend on the wire: serial numbers, the table of
//! pending requests and their timeouts, keepalive and dead-link detection, push routing,
//! teardown, and the rule that every request gets exactly one answer. A [`Transport`]
//! only opens a link (connect and log in), sends and receives packets, and shuts down:
//! [`TcpTransport`] for OpenD's TCP API port, [`WsTransport`] for its WebSocket port
//! ([`ws`]), [`memory::MemoryTransport`] for tests and fuzzing (a scripted peer, no
//! socket).
//!
//! Threads: each connection has an I/O thread (`ftapi-reader`: opens the link, reads,
//! routes replies and pushes, runs timeouts and keepalive) and a callback thread
//! (`ftapi-callback`: runs every user callback in wire order). A slow callback therefore
//! never stops keepalive or the timeouts of calls made from other threads.
//!
//! Failures are typed: [`ConnFailure`] carries the official composite error code.

mod choice;
mod config;
mod connection;
mod deadline;
mod failure;
pub mod memory;
mod outbox;
mod pending;
mod reply;
mod tcp;
mod transport;
#[cfg(feature = "websocket")]
pub mod ws;

pub(crate) use self::choice::TransportChoice;
pub use self::config::{ConnConfig, ConnConfigBuilder};
pub(crate) use self::connection::{ConnEvents, Connection, PushRun};
pub use self::connection::{ConnState, PushQueueStats};
pub(crate) use self::deadline::deadline_after;
pub use self::failure::{ConnFailure, FailKind, InitFailKind, SocketFailKind, ERR_CODE_OK, INIT_FAIL};
pub(crate) use self::pending::Responder;
pub(crate) use self::reply::ReplySlot;
pub use self::tcp::TcpTransport;
pub(crate) use self::transport::Serials;
pub use self::transport::{Incoming, InitInfo, Link, Liveness, OpenContext, PacketReceiver, PacketSender, Transport};
#[cfg(feature = "websocket")]
pub use self::ws::WsTransport;
