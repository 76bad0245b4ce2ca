//! `ContextBuilder`: where to connect and how the context behaves.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::dispatch::{self, FillUpdate, Flow, Handlers, OrderUpdate, PushForwarder};
use super::rate_limit::{RateLimitMode, RateLimiter, RateLimits};
use super::session::{ConnectionEvent, ReconnectPolicy, Session, SessionSettings, TransportChoice};
use super::trade::{Inner, KindInfo, TradeContext};
use super::{default_encrypt, default_rsa_key, ContextKind, Securities};
use crate::codec::RsaKey;
#[cfg(feature = "websocket")]
use crate::conn::ws::WsTransport;
use crate::conn::ConnConfig;
use crate::error::{Error, Result};
use crate::types::{SecurityFirm, TrdMarket};

/// Builds and opens a [`TradeContext`]. Get one from
/// [`SecTradeContext::builder`](super::SecTradeContext::builder) or
/// [`FutureTradeContext::builder`](super::FutureTradeContext::builder).
///
/// Defaults follow the Python SDK where it has one: host `127.0.0.1`, port 11111,
/// market HK (securities) or FUTURES (futures), no firm filter (the firm of the first
/// real account is adopted), encryption from the process-wide default
/// ([`set_default_encrypt`](super::set_default_encrypt)). Unlike the Python SDK,
/// [`open`](ContextBuilder::open) gives up after the connect timeout (default 10 s)
/// instead of retrying forever.
///
/// Connection settings are one [`ConnConfig`] ([`conn_config`](Self::conn_config));
/// `connect_timeout`, `request_timeout`, `client_id` and `rsa_key` are shortcuts that
/// write into it. What is set on the builder always wins over the process-wide
/// defaults ([`set_default_encrypt`](super::set_default_encrypt),
/// [`set_default_rsa_key`](super::set_default_rsa_key)), which exist only as the
/// shortcut of the Python SDK's `SysConfig`.
///
/// ```no_run
/// use std::time::Duration;
/// use ftapi::context::SecTradeContext;
/// use ftapi::types::{SecurityFirm, TrdMarket};
/// let ctx = SecTradeContext::builder()
///     .host("127.0.0.1")
///     .port(11111)
///     .filter_trdmarket(TrdMarket::Us)
///     .security_firm(SecurityFirm::FutuInc)
///     .connect_timeout(Duration::from_secs(5))
///     .open()?;
/// # Ok::<(), ftapi::Error>(())
/// ```
pub struct ContextBuilder<K: ContextKind> {
    host: String,
    port: u16,
    market: TrdMarket,
    firm: SecurityFirm,
    encrypt: Option<bool>,
    #[cfg(feature = "websocket")]
    websocket: Option<WsChoice>,
    conn: ConnConfig,
    reconnect: ReconnectPolicy,
    disconnected_wait: Duration,
    rate_limits: RateLimits,
    push_queue: usize,
    handlers: Handlers,
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

impl<K: ContextKind> std::fmt::Debug for ContextBuilder<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("ContextBuilder");
        d.field("kind", &K::NAME)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("market", &self.market)
            .field("firm", &self.firm)
            .field("encrypt", &self.encrypt);
        #[cfg(feature = "websocket")]
        d.field("websocket", &self.websocket);
        d.field("reconnect", &self.reconnect).field("rate_limits", &self.rate_limits).finish_non_exhaustive()
    }
}

impl<K: ContextKind> ContextBuilder<K> {
    pub(crate) fn new() -> Self {
        ContextBuilder {
            host: "127.0.0.1".into(),
            port: 11111,
            market: K::default_market(),
            firm: SecurityFirm::Unknown,
            encrypt: None,
            #[cfg(feature = "websocket")]
            websocket: None,
            conn: ConnConfig { client_id: "ftapi-ctx".into(), ..ConnConfig::default() },
            reconnect: ReconnectPolicy::default(),
            disconnected_wait: Duration::ZERO,
            rate_limits: RateLimits::default(),
            push_queue: 4096,
            handlers: Handlers::default(),
            _kind: PhantomData,
        }
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

    /// Keep only accounts of this broker entity (default `Unknown`: adopt the firm of
    /// the first real account, as the Python SDK does). Moomoo users find the moomoo
    /// names in [`crate::types::moomoo`].
    pub fn security_firm(mut self, firm: SecurityFirm) -> Self {
        self.firm = firm;
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

    /// How many pushes may wait for the handlers (default 4096). Beyond it the
    /// connection's callback thread waits for a handler to return; its I/O thread goes on
    /// reading replies and sending keepalive until the connection's own
    /// [`ConnConfig::push_queue_capacity`] is full too, then stops reading so TCP pushes
    /// back on OpenD. No push is dropped.
    pub fn push_queue_capacity(mut self, capacity: usize) -> Self {
        self.push_queue = capacity.max(1);
        self
    }

    /// `InitConnect.clientID` (default `"ftapi-ctx"`); sets [`ConnConfig::client_id`].
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.conn.client_id = client_id.into();
        self
    }

    /// An order-push handler installed before connecting, so no push is missed.
    pub fn order_handler(self, handler: impl Fn(&OrderUpdate) + Send + Sync + 'static) -> Self {
        *self.handlers.order.write() = Some(Arc::new(handler));
        self
    }

    /// A fill-push handler installed before connecting.
    pub fn fill_handler(self, handler: impl Fn(&FillUpdate) + Send + Sync + 'static) -> Self {
        *self.handlers.fill.write() = Some(Arc::new(handler));
        self
    }

    /// A connection handler installed before connecting (it also sees
    /// [`ConnectionEvent::Connected`]).
    pub fn connection_handler(self, handler: impl Fn(&ConnectionEvent) + Send + Sync + 'static) -> Self {
        *self.handlers.state.write() = Some(Arc::new(handler));
        self
    }

    /// The transport for the session when it is not TCP.
    #[cfg(feature = "websocket")]
    fn transport_choice(&self) -> Option<TransportChoice> {
        let w = self.websocket.as_ref()?;
        let mut t = WsTransport::new(&self.host, self.port, w.ssl, &w.key).insecure(w.insecure);
        if let Some(ca) = &w.ca_file {
            t = t.ca_file(ca.clone());
        }
        let login_wait = t.get_login_timeout();
        Some(TransportChoice { make: Arc::new(move || Box::new(t.clone())), login_wait })
    }

    /// The transport for the session when it is not TCP: always TCP without the
    /// `websocket` feature.
    #[cfg(not(feature = "websocket"))]
    fn transport_choice(&self) -> Option<TransportChoice> {
        None
    }

    /// Connects, runs InitConnect, reads and filters the account list and subscribes
    /// to the accounts' pushes. Fails with the reason (refused, timed out, InitConnect
    /// refused, account list refused) after at most the connect timeout plus one request
    /// timeout; it does not retry.
    pub fn open(self) -> Result<TradeContext<K>> {
        if K::CATEGORY == crate::types::TrdCategory::Security && self.market == TrdMarket::Futures {
            return Err(Error::InvalidArgument(
                "a securities trade context cannot filter by market FUTURES; use FutureTradeContext".into(),
            ));
        }
        let transport = self.transport_choice();
        let encrypt = self.encrypt.unwrap_or_else(default_encrypt) && transport.is_none();
        let rsa_key = self.conn.rsa_key.clone().or_else(default_rsa_key);
        if encrypt && rsa_key.is_none() {
            return Err(Error::InvalidArgument(
                "encryption requested but no RSA key set (builder.rsa_key or context::set_default_rsa_key)".into(),
            ));
        }
        let client_id = self.conn.client_id.clone();
        let settings = SessionSettings {
            transport,
            host: self.host,
            port: self.port,
            encrypt,
            conn: ConnConfig { rsa_key, ..self.conn },
            reconnect: self.reconnect,
            disconnected_wait: self.disconnected_wait,
        };
        let (item_tx, item_rx) = crossbeam_channel::unbounded();
        let flow = Arc::new(Flow::new(self.push_queue));
        let forwarder = PushForwarder { tx: item_tx.clone(), flow: flow.clone() };
        let session = Session::new(settings, &client_id, Arc::new(forwarder));
        let info = KindInfo {
            name: K::NAME,
            category: K::CATEGORY,
            need_general_sec_account: K::NEED_GENERAL_SEC_ACCOUNT,
            futures: K::FUTURES,
            market: self.market,
        };
        let handlers = Arc::new(self.handlers);
        let inner = Arc::new(Inner::new(
            info,
            session,
            handlers.clone(),
            RateLimiter::new(self.rate_limits),
            self.firm,
            item_tx,
            flow.clone(),
        ));
        // The handle owns the shutdown from here on: an early return closes everything.
        let ctx = TradeContext::<K>::from_inner(inner.clone());
        let shutdown = inner.shutdown_rx.clone();
        let dispatcher = std::thread::Builder::new()
            .name("ftapi-ctx-dispatch".into())
            .spawn(move || dispatch::run(handlers, flow, item_rx, shutdown))?;
        inner.add_thread(dispatcher);
        inner.open_connection()?;
        let sup = inner.clone();
        let supervisor = std::thread::Builder::new()
            .name("ftapi-ctx-reconnect".into())
            .spawn(move || sup.session.supervise(&sup.shutdown_rx, &*sup))?;
        inner.add_thread(supervisor);
        Ok(ctx)
    }
}

impl ContextBuilder<Securities> {
    /// Keep only accounts that may trade this market (Python `filter_trdmarket`,
    /// default HK; `Unknown` keeps every account). FUTURES is refused: use a
    /// futures context.
    pub fn filter_trdmarket(mut self, market: TrdMarket) -> Self {
        self.market = market;
        self
    }
}
