//! `ContextBuilder`: the one builder of every context (trade and quote): where to
//! connect and how the context behaves; and the kinds of context it builds
//! ([`BuilderKind`], [`ContextKind`], [`Securities`], [`Futures`], [`Quotes`]). Each
//! context's file implements [`BuilderKind`] for its kinds, so this file imports no
//! context: `trade.rs` and `quote.rs` import it.

use std::marker::PhantomData;
use std::time::Duration;

use super::defaults::{default_encrypt, default_rsa_key};
use super::dispatch::{FillUpdate, Handler, OrderUpdate, QuoteHandlers, TradeHandlers};
use super::quote_rules::QuoteRateLimits;
use super::rate_limit::{RateLimitMode, RateLimits};
use super::session::{ConnectionEvent, ReconnectPolicy, SessionSettings};
use crate::codec::RsaKey;
#[cfg(feature = "websocket")]
use crate::conn::ws::WsTransport;
use crate::conn::{ConnConfig, TransportChoice};
use crate::error::{Error, Result};
use crate::pb;
use crate::types::{SecurityFirm, TrdCategory, TrdEnv, TrdMarket};

/// Builds and opens a context: a [`TradeContext`](super::TradeContext) from
/// [`SecTradeContext::builder`](super::SecTradeContext::builder) or
/// [`FutureTradeContext::builder`](super::FutureTradeContext::builder), a
/// [`QuoteContext`](super::QuoteContext) from
/// [`QuoteContext::builder`](super::QuoteContext::builder). One implementation for
/// every kind: the connection settings (host, port, encryption, RSA key, WebSocket with
/// CA file and insecure opt-in, reconnect policy, push queue, client id, connection
/// config, handlers) are the same methods; what only one kind has (account filters and
/// the default trading environment; the subscription quota) is on that kind's builder.
///
/// Defaults follow the Python SDK where it has one: host `127.0.0.1`, port 11111,
/// market HK (securities) or FUTURES (futures), no firm filter (the firm of the first
/// real account is adopted), encryption from the process-wide default
/// ([`set_default_encrypt`](super::set_default_encrypt)). Unlike the Python SDK,
/// [`open`](ContextBuilder::open) gives up after the connect timeout (default 10 s)
/// instead of retrying forever.
///
/// Connection settings are one [`ConnConfig`] ([`conn_config`](Self::conn_config));
/// `connect_timeout`, `request_timeout`, `client_id`, `push_queue_capacity` and
/// `rsa_key` are shortcuts that write into it. What is set on the builder always wins
/// over the process-wide defaults ([`set_default_encrypt`](super::set_default_encrypt),
/// [`set_default_rsa_key`](super::set_default_rsa_key)), which exist only as the
/// shortcut of the Python SDK's `SysConfig`.
///
/// ```no_run
/// use std::time::Duration;
/// use ftapi::context::{QuoteContext, SecTradeContext};
/// use ftapi::types::{SecurityFirm, TrdEnv, TrdMarket};
/// let ctx = SecTradeContext::builder()
///     .host("127.0.0.1")
///     .port(11111)
///     .filter_trdmarket(TrdMarket::Us)
///     .security_firm(SecurityFirm::FutuInc)
///     .trd_env(TrdEnv::Simulate) // every request goes to paper trading unless it says otherwise
///     .connect_timeout(Duration::from_secs(5))
///     .open()?;
/// let quotes = QuoteContext::builder().port(33333).websocket(false, "ws-key").open()?;
/// # Ok::<(), ftapi::Error>(())
/// ```
pub struct ContextBuilder<K: BuilderKind> {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) encrypt: Option<bool>,
    #[cfg(feature = "websocket")]
    websocket: Option<WsChoice>,
    custom: Option<TransportChoice>,
    pub(crate) conn: ConnConfig,
    pub(crate) reconnect: ReconnectPolicy,
    pub(crate) disconnected_wait: Duration,
    pub(crate) state_handler: Handler<ConnectionEvent>,
    // Trade contexts.
    pub(crate) market: Option<TrdMarket>,
    pub(crate) firm: SecurityFirm,
    pub(crate) trd_env: TrdEnv,
    pub(crate) rate_limits: RateLimits,
    pub(crate) trade_handlers: TradeHandlers,
    // Quote contexts.
    pub(crate) quote_limits: QuoteRateLimits,
    pub(crate) quota: Option<Option<u32>>,
    pub(crate) unsubscribe_min_age: Duration,
    pub(crate) quote_handlers: QuoteHandlers,
    _kind: PhantomData<fn() -> K>,
}

/// The WebSocket choice of a builder.
#[cfg(feature = "websocket")]
#[derive(Default)]
struct WsChoice {
    ssl: bool,
    key: zeroize::Zeroizing<String>,
    ca_file: Option<std::path::PathBuf>,
    insecure: bool,
}

#[cfg(feature = "websocket")]
impl std::fmt::Debug for WsChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsChoice")
            .field("ssl", &self.ssl)
            .field("key", &"<redacted>")
            .field("ca_file", &self.ca_file)
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl<K: BuilderKind> std::fmt::Debug for ContextBuilder<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("ContextBuilder");
        d.field("kind", &K::NAME)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("market", &self.market)
            .field("firm", &self.firm)
            .field("trd_env", &self.trd_env)
            .field("encrypt", &self.encrypt);
        #[cfg(feature = "websocket")]
        d.field("websocket", &self.websocket);
        d.field("reconnect", &self.reconnect).field("rate_limits", &self.rate_limits).finish_non_exhaustive()
    }
}

impl<K: BuilderKind> ContextBuilder<K> {
    pub(crate) fn new() -> Self {
        ContextBuilder {
            host: "127.0.0.1".into(),
            port: 11111,
            encrypt: None,
            #[cfg(feature = "websocket")]
            websocket: None,
            custom: None,
            conn: ConnConfig { client_id: K::CLIENT_ID.into(), ..ConnConfig::default() },
            reconnect: ReconnectPolicy::default(),
            disconnected_wait: Duration::ZERO,
            state_handler: Handler::default(),
            market: None,
            firm: SecurityFirm::Unknown,
            trd_env: TrdEnv::Real,
            rate_limits: RateLimits::default(),
            trade_handlers: TradeHandlers::default(),
            quote_limits: QuoteRateLimits::default(),
            quota: None,
            unsubscribe_min_age: Duration::from_secs(60),
            quote_handlers: QuoteHandlers::default(),
            _kind: PhantomData,
        }
    }

    /// Opens the context. A trade context connects, runs InitConnect, reads and
    /// filters the account list and subscribes to the accounts' pushes; a quote context
    /// connects, runs InitConnect and (unless a quota was given) reads the subscription
    /// quota. Fails with the reason (refused, timed out, InitConnect refused, account
    /// list refused) after at most the connect timeout plus one request timeout; it
    /// does not retry.
    pub fn open(self) -> Result<K::Context> {
        K::open(self)
    }

    /// The session settings: transport, encryption and RSA key resolved against the
    /// process-wide defaults.
    pub(crate) fn session_settings(&mut self) -> Result<SessionSettings> {
        let rsa_key = self.conn.rsa_key.clone().or_else(default_rsa_key);
        let transport = match self.custom.clone().or_else(|| self.ws_choice()) {
            Some(t) => t,
            None => {
                let encrypt = self.encrypt.unwrap_or_else(default_encrypt);
                if encrypt && rsa_key.is_none() {
                    return Err(Error::InvalidArgument(
                        "encryption requested but no RSA key set (builder.rsa_key or context::set_default_rsa_key)"
                            .into(),
                    ));
                }
                TransportChoice::tcp(&self.host, self.port, encrypt, rsa_key.clone())
            }
        };
        Ok(SessionSettings {
            transport,
            conn: ConnConfig { rsa_key, ..self.conn.clone() },
            reconnect: self.reconnect.clone(),
            disconnected_wait: self.disconnected_wait,
        })
    }

    /// The WebSocket transport, when chosen.
    #[cfg(feature = "websocket")]
    fn ws_choice(&self) -> Option<TransportChoice> {
        let w = self.websocket.as_ref()?;
        let mut t = WsTransport::new(&self.host, self.port, w.ssl, &w.key).insecure(w.insecure);
        if let Some(ca) = &w.ca_file {
            t = t.ca_file(ca.clone());
        }
        Some(TransportChoice::ws(t))
    }

    /// Always TCP without the `websocket` feature.
    #[cfg(not(feature = "websocket"))]
    fn ws_choice(&self) -> Option<TransportChoice> {
        None
    }

    /// OpenD's host (default `127.0.0.1`).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// OpenD's API port (default 11111).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Encrypt the connection (RSA InitConnect, then AES): `Some(true)`/`Some(false)`
    /// for this context, `None` (default) for the process-wide default
    /// ([`set_default_encrypt`](super::set_default_encrypt)), like the Python
    /// `is_encrypt=None`.
    #[doc(alias = "is_encrypt")]
    pub fn encrypt(mut self, encrypt: Option<bool>) -> Self {
        self.encrypt = encrypt;
        self
    }

    /// The RSA private key OpenD is configured with (sets [`ConnConfig::rsa_key`];
    /// default: the key of [`conn_config`](Self::conn_config), else the process-wide key
    /// from [`set_default_rsa_key`](super::set_default_rsa_key)).
    pub fn rsa_key(mut self, key: RsaKey) -> Self {
        self.conn.rsa_key = Some(key);
        self
    }

    /// Connect to OpenD's WebSocket port instead of its TCP API port (`port` is then
    /// the WebSocket port, e.g. 33333): `ws://`, or `wss://` with `ssl`, logging in with
    /// the WebSocket `key` (only its MD5 is sent). Encryption settings do not apply
    /// (TLS is the only protection there). A wrong key makes `open` fail after the
    /// login timeout (20 s): OpenD does not answer it.
    #[cfg(feature = "websocket")]
    pub fn websocket(mut self, ssl: bool, key: &str) -> Self {
        let (ca_file, insecure) = self.websocket.take().map(|w| (w.ca_file, w.insecure)).unwrap_or_default();
        self.websocket = Some(WsChoice { ssl, key: zeroize::Zeroizing::new(key.to_string()), ca_file, insecure });
        self
    }

    /// For [`websocket`](Self::websocket) with `ssl`: trust the certificates of this PEM
    /// file (e.g. OpenD's self-signed one) instead of the system's roots.
    #[cfg(feature = "websocket")]
    pub fn websocket_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        let w = self.websocket.get_or_insert_with(WsChoice::default);
        w.ca_file = Some(path.into());
        self
    }

    /// For [`websocket`](Self::websocket) with `ssl`: accept any certificate (encrypted
    /// but not authenticated). Off by default.
    #[cfg(feature = "websocket")]
    pub fn websocket_insecure(mut self, insecure: bool) -> Self {
        self.websocket.get_or_insert_with(WsChoice::default).insecure = insecure;
        self
    }

    /// Connect through any [`Transport`](crate::conn::Transport) instead of TCP or the
    /// WebSocket port: `make` is called for each connection attempt (the first one and
    /// every reconnect), e.g. with a [`MemoryTransport`](crate::conn::memory::MemoryTransport)
    /// in tests. Host, port, encryption and WebSocket settings do not apply then.
    pub fn transport(mut self, make: impl Fn() -> Box<dyn crate::conn::Transport> + Send + Sync + 'static) -> Self {
        self.custom = Some(TransportChoice::new(make, Duration::ZERO, "custom transport".into()));
        self
    }

    /// [`rsa_key`](Self::rsa_key) from PEM text (PKCS#1 or PKCS#8).
    pub fn rsa_key_pem(self, pem: &str) -> Result<Self> {
        Ok(self.rsa_key(RsaKey::from_pem(pem)?))
    }

    /// Bound on connecting plus InitConnect (default 10 s); sets
    /// [`ConnConfig::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.conn.connect_timeout = timeout;
        self
    }

    /// Bound on every call (default 12 s, as in the official SDKs); sets
    /// [`ConnConfig::request_timeout`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.conn.request_timeout = timeout;
        self
    }

    /// All connection settings at once (timeouts, limits, `clientID`, RSA key), e.g.
    /// from [`ConnConfig::builder`]. Replaces what the shortcuts set before it.
    pub fn conn_config(mut self, config: ConnConfig) -> Self {
        self.conn = config;
        self
    }

    /// The reconnect policy (default: on, 1 s doubling to 30 s, forever).
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// Turns automatic reconnect on or off, keeping the other policy settings.
    pub fn auto_reconnect(mut self, on: bool) -> Self {
        self.reconnect.enabled = on;
        self
    }

    /// How long a call made while the context is reconnecting waits for the connection
    /// before failing with [`Error::NotConnected`] (default 0: fail at once).
    pub fn disconnected_wait(mut self, wait: Duration) -> Self {
        self.disconnected_wait = wait;
        self
    }

    /// How many pushes may wait for the handlers (default 4096); sets
    /// [`ConnConfig::push_queue_capacity`], the connection's push queue, which is the
    /// only flow control of a context: handlers run on the connection's callback thread,
    /// and when the queue is full the connection stops reading until a handler returns,
    /// so TCP pushes back on OpenD. Replies to blocking calls are not held up by it, and
    /// no push is dropped (until `close`, which drops what is still queued).
    pub fn push_queue_capacity(mut self, capacity: usize) -> Self {
        self.conn.push_queue_capacity = capacity.max(1);
        self
    }

    /// `InitConnect.clientID` (default `"ftapi-ctx"` for trade contexts, `"ftapi-quote"`
    /// for quote contexts); sets [`ConnConfig::client_id`].
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.conn.client_id = client_id.into();
        self
    }

    /// A connection handler installed before connecting (it also sees
    /// [`ConnectionEvent::Connected`]). It runs on the context's reconnect thread.
    pub fn connection_handler(self, handler: impl Fn(&ConnectionEvent) + Send + Sync + 'static) -> Self {
        self.state_handler.set(handler);
        self
    }
}

impl<K: ContextKind> ContextBuilder<K> {
    /// Keep only accounts of this broker entity (default `Unknown`: adopt the firm of
    /// the first real account, as the Python SDK does). Moomoo users find the moomoo
    /// names in [`crate::types::moomoo`].
    pub fn security_firm(mut self, firm: SecurityFirm) -> Self {
        self.firm = firm;
        self
    }

    /// The context's default trading environment (default REAL, as in the Python SDK):
    /// every request that does not choose one with `.env(..)` uses it. A paper-trading
    /// program sets `TrdEnv::Simulate` here once instead of on every call.
    ///
    /// ```no_run
    /// use ftapi::context::{PlaceOrder, SecTradeContext};
    /// use ftapi::types::{TrdEnv, TrdSide};
    /// let ctx = SecTradeContext::builder().trd_env(TrdEnv::Simulate).open()?;
    /// ctx.place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(350.0))?; // SIMULATE
    /// # Ok::<(), ftapi::Error>(())
    /// ```
    pub fn trd_env(mut self, env: TrdEnv) -> Self {
        self.trd_env = env;
        self
    }

    /// Client-side rate limits (default: OpenD's documented limits, waiting up to 30 s
    /// for a slot).
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Shortcut for the rate-limit mode only.
    pub fn rate_limit_mode(mut self, mode: RateLimitMode) -> Self {
        self.rate_limits.mode = mode;
        self
    }

    /// An order-push handler installed before connecting, so no push is missed.
    pub fn order_handler(self, handler: impl Fn(&OrderUpdate) + Send + Sync + 'static) -> Self {
        self.trade_handlers.order.set(handler);
        self
    }

    /// A fill-push handler installed before connecting.
    pub fn fill_handler(self, handler: impl Fn(&FillUpdate) + Send + Sync + 'static) -> Self {
        self.trade_handlers.fill.set(handler);
        self
    }

    /// A notification handler (Notify, 1003) installed before connecting.
    pub fn notify_handler(self, handler: impl Fn(&pb::notify::S2c) + Send + Sync + 'static) -> Self {
        self.trade_handlers.notify.set(handler);
        self
    }
}

impl ContextBuilder<Securities> {
    /// Keep only accounts that may trade this market (Python `filter_trdmarket`,
    /// default HK; `Unknown` keeps every account). FUTURES is refused: use a
    /// futures context.
    pub fn filter_trdmarket(mut self, market: TrdMarket) -> Self {
        self.market = Some(market);
        self
    }
}

impl ContextBuilder<Quotes> {
    /// The frequency limits (default: OpenD's documented ones).
    pub fn rate_limits(mut self, limits: QuoteRateLimits) -> Self {
        self.quote_limits = limits;
        self
    }

    /// What a call does when its frequency window is full.
    pub fn rate_limit_mode(mut self, mode: RateLimitMode) -> Self {
        self.quote_limits.mode = mode;
        self
    }

    /// The subscription quota this context may use: `Some(n)` units, or `None` for no
    /// client-side check. Unset (the default), the context asks OpenD at open and may use
    /// what is left then.
    pub fn subscription_quota(mut self, quota: Option<u32>) -> Self {
        self.quota = Some(quota);
        self
    }

    /// How long after subscribing a unit may be unsubscribed (default one minute, as
    /// OpenD requires; shorter values only make sense against a simulator configured the
    /// same way).
    pub fn unsubscribe_min_age(mut self, age: Duration) -> Self {
        self.unsubscribe_min_age = age;
        self
    }
}

mod sealed {
    pub trait Sealed {}
}

/// The kind of a [`ContextBuilder`] and of the context it opens: [`Securities`] and
/// [`Futures`] (trade contexts, [`ContextKind`]) or [`Quotes`] (the
/// [`QuoteContext`](super::QuoteContext)). Sealed.
pub trait BuilderKind: sealed::Sealed + Send + Sync + Sized + 'static {
    /// The context's name in messages (`"SecTradeContext"`).
    const NAME: &'static str;
    /// The default `InitConnect.clientID` of its builder.
    const CLIENT_ID: &'static str;
    /// The context [`ContextBuilder::open`] returns.
    type Context;
    /// Opens the context the builder describes.
    #[doc(hidden)]
    fn open(builder: ContextBuilder<Self>) -> Result<Self::Context>;
}

/// The kind of a [`TradeContext`](super::TradeContext): which accounts it asks OpenD for
/// and how it filters them. Implemented by [`Securities`] and [`Futures`] only.
pub trait ContextKind: BuilderKind {
    /// `trdCategory` sent in Trd_GetAccList.
    const CATEGORY: TrdCategory;
    /// `needGeneralSecAccount` sent in Trd_GetAccList.
    const NEED_GENERAL_SEC_ACCOUNT: bool;
    /// Whether futures filtering rules apply (docs/protocol.md 6.2).
    const FUTURES: bool;
    /// The market accounts are filtered by unless the builder says otherwise.
    fn default_market() -> TrdMarket;
}

/// Securities accounts (stocks, options, funds): [`SecTradeContext`](super::SecTradeContext).
#[derive(Debug)]
pub enum Securities {}

/// Futures accounts: [`FutureTradeContext`](super::FutureTradeContext).
#[derive(Debug)]
pub enum Futures {}

/// Market data: [`QuoteContext`](super::QuoteContext).
#[derive(Debug)]
pub enum Quotes {}

impl sealed::Sealed for Securities {}
impl sealed::Sealed for Futures {}
impl sealed::Sealed for Quotes {}

impl ContextKind for Securities {
    const CATEGORY: TrdCategory = TrdCategory::Security;
    const NEED_GENERAL_SEC_ACCOUNT: bool = true;
    const FUTURES: bool = false;
    fn default_market() -> TrdMarket {
        TrdMarket::Hk
    }
}

impl ContextKind for Futures {
    const CATEGORY: TrdCategory = TrdCategory::Future;
    const NEED_GENERAL_SEC_ACCOUNT: bool = false;
    const FUTURES: bool = true;
    fn default_market() -> TrdMarket {
        TrdMarket::Futures
    }
}
