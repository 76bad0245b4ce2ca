//! An OpenD simulator: a real TCP server speaking OpenD's protocol on the same codec
//! as the client (never the client itself), holding accounts, orders and fills,
//! pushing updates, and able to inject faults.
//!
//! Layout: `server` (accept loops, the watchdog, test controls) runs sessions of two
//! ports, `session` (TCP: InitConnect, ciphers, faults) and `ws` (WebSocket), over the
//! shared state of `core`; each connection queues what it sends in its own bounded
//! `outbox`. Both ports hand every request to `router` (KeepAlive, GetGlobalState), which
//! hands `Trd_*` requests to the [`TradeHandler`] (`broker`: accounts, unlock state,
//! orders, fills, funds, positions, over `matching`'s price paths and fills) and `Qot_*`
//! requests to the [`QuoteHandler`] (`market`: quotes, order books, tickers, K-lines,
//! subscriptions and their pushes, over a [`PriceSource`], the broker's prices). The
//! seams between them are the traits below. Below both sides lie the instrument table
//! (`instrument`), the market calendar (`calendar`) and the one market model, the
//! [`tape`] of bars that prices, quotes and backtests all read.

pub mod accounts;
pub mod broker;
pub mod calendar;
pub mod config;
mod core;
pub mod faults;
mod flood;
pub mod instrument;
pub mod market;
pub mod matching;
mod outbox;
mod quote_flood;
pub mod replay;
mod reply_delay;
mod router;
pub mod server;
pub mod session;
pub mod tape;
pub mod ws;

pub use broker::Broker;
pub use config::{SimConfig, SimServerBuilder, WsSettings};
pub use faults::{BadCipher, FaultPlan, FaultRule, PacketFault, PacketKind};
pub use market::{MarketData, QuoteConfig};
pub use server::{SimServer, SimStats};
pub use session::SessionInfo;

// The seam between the protocol server and the trading logic. The server owns
// sockets and ciphers; the broker owns trading state and never sees a socket.

/// Where the broker and the market data send pushes for one connection. Implemented by
/// the server's sessions (both ports); the body is the plaintext protobuf `Response` of
/// the push protocol (the session seals and encrypts it). The callers push from their
/// shared threads, so an implementation must not block: the sessions queue the push in
/// the connection's bounded outgoing queue, for its own writer.
pub trait PushSink: Send + Sync {
    /// Queues one push. Returns `false` if the connection is gone (or was just closed
    /// because its queue overflowed).
    fn push(&self, proto_id: u32, plain_body: Vec<u8>) -> bool;
}

/// What the broker knows about the connection a request came in on.
#[derive(Clone)]
pub struct ConnInfo {
    /// The connection id handed out in InitConnect.
    pub conn_id: u64,
    /// The login user id of the simulated OpenD.
    pub login_user_id: u64,
    /// Where pushes for this connection go.
    pub sink: std::sync::Arc<dyn PushSink>,
}

/// The trading side of the simulator, as the server sees it.
pub trait TradeHandler: Send + Sync {
    /// Handles one request whose plaintext body is `body`. Returns the plaintext
    /// protobuf `Response` body to send back, or `None` if `proto_id` is not a trading
    /// protocol this handler knows (the server then answers retType -1 "unknown protocol").
    /// Pushes caused by the request may be sent through `conn.sink` before this returns
    /// (a real OpenD may push an order update before the PlaceOrder reply).
    fn handle(&self, conn: &ConnInfo, proto_id: u32, body: &[u8]) -> Option<Vec<u8>>;
    /// The connection closed: forget its push subscription.
    fn disconnected(&self, conn_id: u64);
    /// The reply to a request `handle` answered has been written to the connection.
    /// Pushes the request caused that must follow the reply (an order's status and
    /// fill pushes) are released now. The default does nothing.
    fn replied(&self, _conn: &ConnInfo, _proto_id: u32) {}
    /// The market clock of the trading side, if it has one: GetGlobalState then
    /// reports the market states at its time. The default is `None` (the server's own
    /// clock is used).
    fn market_clock(&self) -> Option<calendar::MarketClock> {
        None
    }
    /// The prices this handler trades at, if it has a market of its own: the server's
    /// default market data then quotes these prices, so that an order fills at the
    /// quote's last price. `None` (the default): the market data keeps its own prices.
    fn price_source(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<dyn PriceSource>> {
        None
    }
}

/// Where the market data reads current prices: the broker (its impl is in `broker`),
/// or a market of its own ([`market::OwnMarket`]).
pub trait PriceSource: Send + Sync {
    /// Every instrument, in table order (read once, at start).
    fn instruments(&self) -> Vec<instrument::Instrument>;
    /// The current price of an instrument (`TrdSecMarket`, bare code).
    fn price(&self, sec_market: i32, code: &str) -> Option<f64>;
    /// Called once per [`MarketData::step`] before prices are read: a source that owns
    /// its prices moves them here; the broker moves its own and does nothing.
    fn advance(&self) {}
    /// The market clock whose sessions the market-state queries report (the broker's);
    /// `None`: the fixed states of `tape::clock::market_state`.
    fn market_clock(&self) -> Option<calendar::MarketClock> {
        None
    }
    /// The tape the source's prices are read from, which the market data then reads
    /// too (the broker's); `None`: the market data builds the seeded tape itself.
    fn tape(&self) -> Option<std::sync::Arc<dyn tape::Tape>> {
        None
    }
}

/// The market-data side of the simulator, as the server sees it: every request the
/// trade handler does not take goes here ([`MarketData`] answers the `Qot_*` protocols).
pub trait QuoteHandler: Send + Sync {
    /// Handles one request (plaintext body). Returns the plaintext `Response` body, or
    /// `None` if `proto_id` is not one this handler answers (the server then answers
    /// retType -1 "unknown protocol id N"). Pushes go through `conn.sink`.
    fn handle(&self, conn: &ConnInfo, proto_id: u32, body: &[u8]) -> Option<Vec<u8>>;
    /// The connection closed: forget its subscriptions.
    fn disconnected(&self, conn_id: u64);
}
