//! Settings of the simulated OpenD (with those of its WebSocket port), and the builder
//! that starts a [`SimServer`] (its `start` lives with the server, in `server.rs`).
//!
//! [`SimServer`]: super::SimServer

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::codec::ws::key_md5_hex;
use crate::codec::{AesMode, RsaKey};

use super::calendar::{ClockSpec, MarketClock};
use super::faults::FaultPlan;
use super::market::QuoteConfig;
use super::{PriceSource, QuoteHandler, TradeHandler};

/// OpenD's default API port.
pub const DEFAULT_PORT: u16 = 11111;
/// Default `keepAliveInterval` sent in the InitConnect reply, in seconds.
pub const DEFAULT_KEEPALIVE_SECS: i32 = 10;
/// Default `loginUserID` of the simulated OpenD.
pub const DEFAULT_LOGIN_USER_ID: u64 = 10_000_001;
/// Default `serverVer` (what a 10.11 OpenD might report).
pub const DEFAULT_SERVER_VER: i32 = 1011;
/// Default `serverBuildNo` reported by GetGlobalState.
pub const DEFAULT_SERVER_BUILD_NO: i32 = 7108;
/// Default limit on the body length of a client packet (1 MiB: OpenD requests are tiny).
pub const DEFAULT_SIM_MAX_BODY_LEN: u32 = 1024 * 1024;
/// Default write timeout: a write to a client (everything queued for it at the time)
/// that has not finished after this long closes the connection.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// OpenD's documented limit on concurrent API connections (both ports together).
pub const DEFAULT_MAX_CONNECTIONS: usize = 128;
/// Default bound of one connection's outgoing queue, in bytes.
pub const DEFAULT_OUT_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// Default time a WebSocket connection has to log in (Init) after its upgrade. Longer
/// than the clients' own Init timeout (20 s in ftapi): OpenD does not answer an Init
/// with a wrong key, and the client should report that ("wrong key?") before the
/// server closes the connection.
pub const DEFAULT_WS_LOGIN_TIMEOUT: Duration = Duration::from_secs(25);

/// The WebSocket service of a simulated OpenD (`websocket_port`, `websocket_key_md5`,
/// `websocket_cert` and `websocket_private_key` in OpenD's configuration).
#[derive(Clone)]
pub struct WsSettings {
    /// Port to listen on, on the server's IP (0 picks a free one).
    pub port: u16,
    key_md5: String,
    tls: Option<(String, Zeroizing<String>)>,
}

impl std::fmt::Debug for WsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsSettings")
            .field("port", &self.port)
            .field("key_md5", &"<redacted>")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl WsSettings {
    /// A plain `ws://` service on `port` whose clients must log in with `key` (the
    /// plaintext key; clients send its MD5). An empty key accepts clients that send
    /// an empty one.
    pub fn new(port: u16, key: &str) -> Self {
        WsSettings { port, key_md5: key_md5_hex(key), tls: None }
    }

    /// Serves `wss://` with this certificate chain and private key (PEM text; the key
    /// must not be encrypted).
    pub fn with_tls_pem(mut self, cert_chain_pem: &str, private_key_pem: &str) -> Self {
        self.tls = Some((cert_chain_pem.to_owned(), Zeroizing::new(private_key_pem.to_owned())));
        self
    }

    /// The same TLS settings with another port and key.
    pub(crate) fn rekeyed(self, port: u16, key: &str) -> Self {
        WsSettings { port, key_md5: key_md5_hex(key), tls: self.tls }
    }

    /// Whether the service uses TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The MD5 hex of the key clients log in with.
    pub(crate) fn key_md5(&self) -> &str {
        &self.key_md5
    }

    /// The certificate chain and private key (PEM text), if TLS is on.
    pub(crate) fn tls_pem(&self) -> Option<(&str, &str)> {
        self.tls.as_ref().map(|(c, k)| (c.as_str(), k.as_str()))
    }
}

/// Everything that shapes the simulator's protocol behaviour. Plain data with
/// defaults; [`SimServer::builder`](super::SimServer::builder) is the usual way to fill it.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on (default `127.0.0.1`).
    pub ip: IpAddr,
    /// Port to listen on (default 11111; 0 picks a free port).
    pub port: u16,
    /// OpenD's RSA private key (`rsa_private_key` in OpenD's config). Without it,
    /// nothing is ever encrypted.
    pub rsa_key: Option<RsaKey>,
    /// AES mode for encrypted connections: CBC (the reply carries `aesCBCiv`) or
    /// FTAES-ECB (no IV).
    pub aes_mode: AesMode,
    /// `keepAliveInterval` in the InitConnect reply, seconds.
    pub keepalive_interval: i32,
    /// `loginUserID` in the InitConnect reply.
    pub login_user_id: u64,
    /// `serverVer` in InitConnect and GetGlobalState replies.
    pub server_ver: i32,
    /// `serverBuildNo` in GetGlobalState replies.
    pub server_build_no: i32,
    /// `userAttribution` in the InitConnect reply (`Common.UserAttribution`, 1 = NN).
    pub user_attribution: i32,
    /// The `connID` of the first accepted connection; each further one gets the next.
    pub first_conn_id: u64,
    /// Client packets whose header claims a longer body close the connection.
    pub max_body_len: u32,
    /// Deadline of one write to a client (of everything queued for it at the time),
    /// not restarted by partial progress: a connection whose write has not finished
    /// after this long is closed (a client that does not read). Zero: no deadline.
    pub write_timeout: Duration,
    /// At most this many connections (both ports together) are served at once; more
    /// are closed at once, with a log line (OpenD documents 128).
    pub max_connections: usize,
    /// Bound of each connection's outgoing queue in bytes (pushes and replies not yet
    /// written). A connection whose queue would grow past it is closed, with a log
    /// line, so that a client that does not read costs bounded memory and delays
    /// nobody else.
    pub out_queue_bytes: usize,
    /// A WebSocket connection that has not logged in (Init) this long after its
    /// upgrade is closed. Zero: no limit.
    pub ws_login_timeout: Duration,
    /// The WebSocket port (OpenD's `websocket_port`); `None` = TCP only.
    pub websocket: Option<WsSettings>,
    /// The market clock GetGlobalState reports from when the trade handler has none,
    /// and the default broker's clock (`opend-sim --clock`).
    pub clock: MarketClock,
    /// Relaxed mode of the default broker (`opend-sim --relaxed`).
    pub relaxed: bool,
    /// Fill delay of the default broker (`opend-sim --fill-delay-ms`).
    pub fill_delay: Duration,
    /// After a connection's Trd_SubAccPush succeeds, send it this many Trd_UpdateOrder
    /// pushes for the first subscribed account, as fast as the socket takes them
    /// (`opend-sim --push-flood N`; default `None`, no flood).
    pub push_flood: Option<usize>,
    /// After a connection's Qot_Sub subscribing SubType Quote with pushes succeeds, send
    /// it this many Qot_UpdateBasicQot pushes for the first subscribed security, as fast
    /// as the socket takes them (`opend-sim --quote-flood N`; default `None`, no flood).
    pub quote_flood: Option<usize>,
    /// Every reply (not pushes, not the InitConnect reply) is written this long after
    /// its request was read, without holding up other connections or later requests'
    /// reading (`opend-sim --reply-delay-us N`; default zero, no delay). For measuring
    /// clients against a slow OpenD.
    pub reply_delay: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            rsa_key: None,
            aes_mode: AesMode::Cbc,
            keepalive_interval: DEFAULT_KEEPALIVE_SECS,
            login_user_id: DEFAULT_LOGIN_USER_ID,
            server_ver: DEFAULT_SERVER_VER,
            server_build_no: DEFAULT_SERVER_BUILD_NO,
            user_attribution: 1,
            first_conn_id: 1,
            max_body_len: DEFAULT_SIM_MAX_BODY_LEN,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            out_queue_bytes: DEFAULT_OUT_QUEUE_BYTES,
            ws_login_timeout: DEFAULT_WS_LOGIN_TIMEOUT,
            websocket: None,
            clock: MarketClock::new(ClockSpec::Real),
            relaxed: false,
            fill_delay: Duration::from_millis(super::accounts::DEFAULT_FILL_DELAY_MS),
            push_flood: None,
            quote_flood: None,
            reply_delay: Duration::ZERO,
        }
    }
}

/// Builds and starts a [`SimServer`](super::SimServer).
///
/// ```no_run
/// use ftapi::sim::SimServer;
/// let server = SimServer::builder().port(0).keepalive_interval(5).start().unwrap();
/// println!("simulator on {}", server.local_addr());
/// ```
pub struct SimServerBuilder {
    pub(crate) config: SimConfig,
    pub(crate) handler: Option<Arc<dyn TradeHandler>>,
    pub(crate) faults: FaultPlan,
    /// The handler is the default broker, rebuilt at start with the clock, relaxed and
    /// fill-delay settings.
    pub(crate) default_broker: bool,
    /// The prices the default market data quotes: the trade handler's
    /// ([`TradeHandler::price_source`]), else its own.
    pub(crate) prices: Option<Arc<dyn PriceSource>>,
    /// The market-data side: `None` = none, `Some(None)` = the default [`super::MarketData`].
    pub(crate) quote: Option<Option<Arc<dyn QuoteHandler>>>,
    /// Settings of the default market data.
    pub(crate) quote_config: QuoteConfig,
}

impl Default for SimServerBuilder {
    fn default() -> Self {
        // A placeholder (no threads): `start` builds the default broker with the
        // clock, relaxed and fill-delay settings unless another handler was given.
        let broker = Arc::new(super::Broker::relaxed_default());
        SimServerBuilder {
            config: SimConfig::default(),
            handler: Some(broker.clone()),
            faults: FaultPlan::default(),
            default_broker: true,
            prices: Some(broker),
            quote: Some(None),
            quote_config: QuoteConfig::default(),
        }
    }
}

impl SimServerBuilder {
    /// A builder with [`SimConfig::default`], a [`Broker`](super::Broker) with the default
    /// accounts as the trade handler, and no faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: SimConfig) -> Self {
        self.config = config;
        self
    }

    /// Listening IP address.
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.config.ip = ip;
        self
    }

    /// Listening port (0 = any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }

    /// Listening address (IP and port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.config.ip = addr.ip();
        self.config.port = addr.port();
        self
    }

    /// OpenD's RSA private key; enables encrypted connections.
    pub fn rsa_key(mut self, key: RsaKey) -> Self {
        self.config.rsa_key = Some(key);
        self
    }

    /// AES mode handed to encrypted connections.
    pub fn aes_mode(mut self, mode: AesMode) -> Self {
        self.config.aes_mode = mode;
        self
    }

    /// `keepAliveInterval` in seconds.
    pub fn keepalive_interval(mut self, secs: i32) -> Self {
        self.config.keepalive_interval = secs;
        self
    }

    /// `loginUserID` of the simulated OpenD.
    pub fn login_user_id(mut self, id: u64) -> Self {
        self.config.login_user_id = id;
        self
    }

    /// `serverVer` of the simulated OpenD.
    pub fn server_ver(mut self, ver: i32) -> Self {
        self.config.server_ver = ver;
        self
    }

    /// `userAttribution` sent in the InitConnect reply.
    pub fn user_attribution(mut self, attribution: i32) -> Self {
        self.config.user_attribution = attribution;
        self
    }

    /// `connID` of the first connection.
    pub fn first_conn_id(mut self, id: u64) -> Self {
        self.config.first_conn_id = id;
        self
    }

    /// Limit on client body lengths.
    pub fn max_body_len(mut self, len: u32) -> Self {
        self.config.max_body_len = len;
        self
    }

    /// Deadline of one write to a client (see [`SimConfig::write_timeout`]).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout;
        self
    }

    /// Most connections served at once, both ports together (default 128, OpenD's
    /// limit; see [`SimConfig::max_connections`]).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config.max_connections = max;
        self
    }

    /// Bound of each connection's outgoing queue in bytes (see
    /// [`SimConfig::out_queue_bytes`]).
    pub fn out_queue_bytes(mut self, bytes: usize) -> Self {
        self.config.out_queue_bytes = bytes;
        self
    }

    /// How long a WebSocket connection may stay without logging in after its upgrade
    /// (default 25 s; see [`SimConfig::ws_login_timeout`]).
    pub fn ws_login_timeout(mut self, timeout: Duration) -> Self {
        self.config.ws_login_timeout = timeout;
        self
    }

    /// Floods every connection with `count` Trd_UpdateOrder pushes right after its
    /// Trd_SubAccPush succeeds (see [`SimConfig::push_flood`]).
    pub fn push_flood(mut self, count: usize) -> Self {
        self.config.push_flood = Some(count);
        self
    }

    /// Floods every connection with `count` Qot_UpdateBasicQot pushes right after its
    /// Qot_Sub for quotes succeeds (see [`SimConfig::quote_flood`]).
    pub fn quote_flood(mut self, count: usize) -> Self {
        self.config.quote_flood = Some(count);
        self
    }

    /// Delays every reply by `delay` (see [`SimConfig::reply_delay`]).
    pub fn reply_delay(mut self, delay: Duration) -> Self {
        self.config.reply_delay = delay;
        self
    }

    /// Also serves OpenD's WebSocket port on `port` (0 = any free port; see
    /// [`SimServer::ws_addr`](super::SimServer::ws_addr)) on the same IP, sharing accounts, orders and pushes with
    /// the TCP port. Clients log in with `key` (they send its MD5).
    pub fn websocket(mut self, port: u16, key: &str) -> Self {
        let tls = self.config.websocket.take().filter(|w| w.is_tls());
        let mut ws = WsSettings::new(port, key);
        if let Some(old) = tls {
            ws = old.rekeyed(port, key);
        }
        self.config.websocket = Some(ws);
        self
    }

    /// Serves the WebSocket port over TLS (`wss://`) with this certificate chain and
    /// unencrypted private key, both PEM text (OpenD's `websocket_cert` and
    /// `websocket_private_key`). Without [`SimServerBuilder::websocket`], the port is
    /// 0 and the key empty. Bad PEM makes `start` fail.
    pub fn websocket_tls_pem(mut self, cert_chain_pem: &str, private_key_pem: &str) -> Self {
        let ws = self.config.websocket.take().unwrap_or_else(|| WsSettings::new(0, ""));
        self.config.websocket = Some(ws.with_tls_pem(cert_chain_pem, private_key_pem));
        self
    }

    /// The trading side. By default a [`Broker`](super::Broker) with the default
    /// accounts; pass your own `Arc<Broker>` to reach it from a test (e.g. `set_price`),
    /// or any other [`TradeHandler`].
    ///
    /// The default market data quotes the handler's prices when it has some
    /// ([`TradeHandler::price_source`]; a broker does).
    pub fn trade_handler(mut self, handler: Arc<dyn TradeHandler>) -> Self {
        self.prices = handler.clone().price_source();
        self.handler = Some(handler);
        self.default_broker = false;
        self
    }

    /// The market-data side: every request the trade handler does not take goes here.
    /// By default a [`MarketData`](super::MarketData) over the trade handler's prices
    /// (the broker's), or over a market of its own when the handler has none.
    pub fn quote_handler(mut self, handler: Arc<dyn QuoteHandler>) -> Self {
        self.quote = Some(Some(handler));
        self
    }

    /// No market-data side: every `Qot_*` request is answered retType -1
    /// "unknown protocol id N".
    pub fn no_quote_handler(mut self) -> Self {
        self.quote = None;
        self
    }

    /// Settings of the default market data (seed, ticker, quotas).
    pub fn quote_config(mut self, cfg: QuoteConfig) -> Self {
        self.quote_config = cfg;
        self
    }

    /// How long a subscription must last before it may be cancelled (OpenD's rule is
    /// one minute; shorten it for tests). Applies to the default market data.
    pub fn unsubscribe_after(mut self, d: Duration) -> Self {
        self.quote_config.unsub_min = d;
        self
    }

    /// No trading side: every `Trd_*` request is answered retType -1
    /// "unknown protocol id N" (a protocol-only server). This also drops the default
    /// market data (a [`SimServerBuilder::quote_handler`] given before or after stays).
    pub fn no_trade_handler(mut self) -> Self {
        self.handler = None;
        self.default_broker = false;
        self.prices = None;
        if matches!(self.quote, Some(None)) {
            self.quote = None;
        }
        self
    }

    /// Faults to inject from the start (change them later with [`SimServer::set_faults`](super::SimServer::set_faults)).
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }

    /// The market clock (`opend-sim --clock`): wall time by default, `ClockSpec::Open`
    /// to hold every market in its regular session, or a start instant and speed.
    /// Applies to GetGlobalState and to the default broker (a broker passed with
    /// [`trade_handler`](Self::trade_handler) has its own clock in its
    /// `BrokerConfig`).
    pub fn clock(mut self, clock: ClockSpec) -> Self {
        self.config.clock = MarketClock::new(clock);
        self
    }

    /// The permissive mode of the default broker (`opend-sim --relaxed`): see
    /// `BrokerConfig::relaxed` and docs/simulator.md.
    pub fn relaxed(mut self, relaxed: bool) -> Self {
        self.config.relaxed = relaxed;
        self
    }

    /// Delay between an order's acknowledgement and its first fill push, for the
    /// default broker (`opend-sim --fill-delay-ms`).
    pub fn fill_delay(mut self, delay: Duration) -> Self {
        self.config.fill_delay = delay;
        self
    }
}
