//! An OpenD simulator: a real TCP server speaking OpenD's protocol on the same codec
//! as the client (never the client itself), holding accounts, orders and fills,
//! pushing updates, and able to inject faults.
//!
//! Layout: `server` (accept loop, sessions, InitConnect/KeepAlive/GetGlobalState,
//! fault injection) hands every `Trd_*` request to `broker` (accounts, unlock state,
//! orders, fills, funds, positions) which uses `matching` (price paths and fills), and
//! every `Qot_*` request to `market` (quotes, order books, tickers, K-lines,
//! subscriptions and their pushes, over the broker's prices).

pub mod accounts;
pub mod broker;
pub mod calendar;
pub mod config;
pub mod faults;
mod flood;
pub mod market;
pub mod matching;
mod quote_flood;
mod reply_delay;
mod router;
pub mod server;
pub mod session;
pub mod ws;

pub use broker::Broker;
pub use config::{SimConfig, SimServerBuilder};
pub use faults::{BadCipher, FaultPlan, FaultRule, PacketFault, PacketKind};
pub use market::{MarketData, QuoteConfig};
pub use server::{SimServer, SimStats};
pub use session::SessionInfo;
pub use ws::WsSettings;

// The seam between the protocol server and the trading logic. The server owns
// sockets and ciphers; the broker owns trading state and never sees a socket.

/// Where the broker sends pushes for one connection. Implemented by the server's
/// session writer; the body is the plaintext protobuf `Response` of the push protocol
/// (the session seals and encrypts it).
pub trait PushSink: Send + Sync {
    /// Queues or writes one push. Returns `false` if the connection is gone.
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
    fn price_source(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<dyn market::PriceSource>> {
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
