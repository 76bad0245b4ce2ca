//! Settings of the simulated OpenD, and the builder that starts a [`SimServer`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::codec::{AesMode, RsaKey};

use super::calendar::{ClockSpec, MarketClock};
use super::faults::FaultPlan;
use super::market::{PriceSource, QuoteConfig};
use super::server::SimServer;
use super::ws::WsSettings;
use super::{QuoteHandler, TradeHandler};

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
/// Default socket write timeout; a client that stops reading for this long is dropped.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything that shapes the simulator's protocol behaviour. Plain data with
/// defaults; [`SimServer::builder`] is the usual way to fill it.
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
    /// Socket write timeout per session.
    pub write_timeout: Duration,
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

/// Builds and starts a [`SimServer`].
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

    /// Socket write timeout per session.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout;
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
    /// [`SimServer::ws_addr`]) on the same IP, sharing accounts, orders and pushes with
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
    /// 0 and the key empty. Bad PEM makes [`SimServerBuilder::start`] fail.
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

    /// Faults to inject from the start (change them later with [`SimServer::set_faults`]).
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

    /// Binds the listener and starts the accept thread.
    pub fn start(mut self) -> std::io::Result<SimServer> {
        if self.default_broker {
            let cfg = super::accounts::BrokerConfig {
                clock: self.config.clock.spec(),
                relaxed: self.config.relaxed,
                fill_delay_ms: self.config.fill_delay.as_millis().min(u128::from(u64::MAX)) as u64,
                ..Default::default()
            };
            let broker = super::Broker::with_clock(cfg, self.config.clock)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
            let broker = Arc::new(broker);
            self.prices = broker.clone().price_source();
            self.handler = Some(broker);
        }
        SimServer::start(self)
    }
}
