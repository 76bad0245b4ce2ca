//! Connection settings and their builder.

use std::time::Duration;

use crate::codec::RsaKey;
use crate::error::Result;

/// Settings of a connection. `Default` gives the official SDKs' values where they have
/// one.
///
/// It holds the settings every transport shares: build it with
/// [`ConnConfig::builder`] and hand it to [`TrdApi::with_config`](crate::TrdApi::with_config)
/// or to a trade context's [`conn_config`](crate::context::ContextBuilder::conn_config).
/// The official-named setters kept for porting ([`TrdApi::set_client_info`],
/// [`TrdApi::set_rsa_private_key`]) and the context builder's shortcuts
/// (`connect_timeout`, `request_timeout`, `client_id`, `rsa_key`) write into the same
/// settings. The WebSocket port's own settings (key, TLS, login timeout, message size)
/// live on the WebSocket transport, `conn::ws::WsTransport` (feature `websocket`).
///
/// ```
/// use std::time::Duration;
/// use ftapi::ConnConfig;
/// let cfg = ConnConfig::builder()
///     .request_timeout(Duration::from_secs(5))
///     .client_info("mybot", 1)
///     .build();
/// assert_eq!(cfg.client_id, "mybot");
/// assert_eq!(cfg.request_timeout, Duration::from_secs(5));
/// // From existing settings:
/// let cfg = cfg.to_builder().tick(Duration::from_millis(20)).build();
/// assert_eq!(cfg.client_id, "mybot");
/// ```
///
/// The struct is `#[non_exhaustive]` (settings may be added): build it with the
/// builder rather than a struct literal; the fields stay readable.
///
/// [`TrdApi::set_client_info`]: crate::TrdApi::set_client_info
/// [`TrdApi::set_rsa_private_key`]: crate::TrdApi::set_rsa_private_key
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnConfig {
    /// Connecting plus the login (TCP connect and InitConnect) must finish within this
    /// (default 10 s). Here and for every timeout of the crate, `Duration::MAX` (or any
    /// duration too large for an [`Instant`](std::time::Instant)) means "no timeout".
    pub connect_timeout: Duration,
    /// A request without a reply after this fails with [`Error::Timeout`](crate::Error::Timeout) (default 12 s;
    /// `Duration::MAX`: never).
    pub request_timeout: Duration,
    /// Granularity of timeouts and keepalive (default 100 ms).
    pub tick: Duration,
    /// A socket write blocked for this long fails and closes the connection (default 10 s).
    pub write_timeout: Duration,
    /// Largest body accepted from OpenD (default 64 MiB).
    pub max_body_len: u32,
    /// `InitConnect.clientID` (default `"ftapi"`).
    pub client_id: String,
    /// `InitConnect.clientVer` (default 300, like the official SDKs).
    pub client_ver: i32,
    /// `InitConnect.programmingLanguage` (default `"Rust"`).
    pub programming_language: String,
    /// Ask OpenD for Notify (1003) pushes (default true).
    pub recv_notify: bool,
    /// The connection is declared dead after this many keepalive intervals without an
    /// answer to its KeepAlive (or WebSocket ping) (default 3). Other traffic does not
    /// count.
    pub dead_after_intervals: u32,
    /// How many pushes may wait for the callback thread (default 1,048,576): with
    /// [`push_queue_bytes`](Self::push_queue_bytes), the hard bound of the push queue.
    ///
    /// The I/O thread reads on while the callbacks are slow, so a blocking call's
    /// reply reaches its caller as soon as it is read, whatever the pushes ahead of it.
    /// Only when either bound is reached does it stop reading (with a `warn` log line),
    /// until the callbacks have made room: TCP then pushes back on OpenD, and replies
    /// wait too. Timeouts and keepalive go on meanwhile; no push is ever dropped. Two
    /// exceptions keep things moving: a read is always taken whole (its pushes are
    /// queued even beyond the bounds when the queue is empty), and while a callback waits
    /// in a blocking call the I/O thread reads on regardless, so that the callback gets
    /// its reply (the queue may then exceed the bounds for as long as that call lasts).
    pub push_queue_capacity: usize,
    /// How much memory pushes waiting for the callback thread may hold, in bytes
    /// (default 64 MiB): their bodies plus bookkeeping. See
    /// [`push_queue_capacity`](Self::push_queue_capacity) for what happens at the bound;
    /// [`TrdApi::push_queue_stats`](crate::TrdApi::push_queue_stats) shows the queue.
    pub push_queue_bytes: usize,
    /// How long a blocking call may spin, watching for its reply, before it parks its
    /// thread (default 50 µs; `Duration::ZERO` always parks at once). Spinning saves the
    /// wake-up of a parked thread (several microseconds, tens on an idle VM) on replies
    /// that come back quickly, at the price of keeping a core busy meanwhile, so a call
    /// spins only when that is likely to pay:
    ///
    /// * while the recent calls of this connection that spun were answered within this
    ///   budget: each connection keeps a moving average of their round trips, from
    ///   sending a request to its reply reaching the I/O thread (weight 1/8 per call,
    ///   each sample capped at 4× the budget; a call that times out sets it to the cap).
    ///   Against a server that answers in a millisecond, calls park at once instead of
    ///   burning the whole budget first. Parked calls are not measured (their round trip
    ///   includes the wake-up of threads whose CPUs went idle, so a fast server would
    ///   look slow); instead one call in 64 spins anyway as a probe, and a probe answered
    ///   within the budget brings spinning back at once. Against a slow server the
    ///   probes cost one budget of spinning per 64 calls;
    /// * and while fewer callers of the whole process spin than there are CPUs minus one
    ///   (at least one), so spinning callers never starve the I/O thread that must
    ///   deliver their replies; the others park at once.
    ///
    /// Whether it spun or parked, a call returns as soon as its reply is handed over.
    pub reply_spin: Duration,
    /// The RSA private key OpenD is configured with, used by encrypted TCP connections
    /// for InitConnect (C++ `SetRSAPrivateKey`; default none). Its `Debug` output is
    /// redacted.
    pub rsa_key: Option<RsaKey>,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(12),
            tick: Duration::from_millis(100),
            write_timeout: Duration::from_secs(10),
            max_body_len: crate::codec::DEFAULT_MAX_BODY_LEN,
            client_id: "ftapi".into(),
            client_ver: 300,
            programming_language: "Rust".into(),
            recv_notify: true,
            dead_after_intervals: 3,
            push_queue_capacity: 1 << 20,
            push_queue_bytes: 64 << 20,
            reply_spin: Duration::from_micros(50),
            rsa_key: None,
        }
    }
}

impl ConnConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> ConnConfigBuilder {
        ConnConfigBuilder { config: ConnConfig::default() }
    }

    /// A builder starting from these settings.
    pub fn to_builder(&self) -> ConnConfigBuilder {
        ConnConfigBuilder { config: self.clone() }
    }
}

/// Builds a [`ConnConfig`]; every setter has the name of the field it sets.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConnConfigBuilder {
    config: ConnConfig,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        impl ConnConfigBuilder {
            $(
                $(#[$doc])*
                pub fn $name(mut self, value: $ty) -> Self {
                    self.config.$name = value;
                    self
                }
            )*
        }
    };
}

setters! {
    /// See [`ConnConfig::connect_timeout`].
    connect_timeout: Duration;
    /// See [`ConnConfig::request_timeout`].
    request_timeout: Duration;
    /// See [`ConnConfig::tick`].
    tick: Duration;
    /// See [`ConnConfig::write_timeout`].
    write_timeout: Duration;
    /// See [`ConnConfig::max_body_len`].
    max_body_len: u32;
    /// See [`ConnConfig::client_ver`].
    client_ver: i32;
    /// See [`ConnConfig::recv_notify`].
    recv_notify: bool;
    /// See [`ConnConfig::dead_after_intervals`].
    dead_after_intervals: u32;
    /// See [`ConnConfig::push_queue_capacity`].
    push_queue_capacity: usize;
    /// See [`ConnConfig::push_queue_bytes`].
    push_queue_bytes: usize;
    /// See [`ConnConfig::reply_spin`].
    reply_spin: Duration;
}

impl ConnConfigBuilder {
    /// See [`ConnConfig::client_id`].
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.config.client_id = client_id.into();
        self
    }

    /// `InitConnect.clientID` and `clientVer` at once (C++ `SetClientInfo`).
    pub fn client_info(self, client_id: impl Into<String>, client_ver: i32) -> Self {
        self.client_id(client_id).client_ver(client_ver)
    }

    /// See [`ConnConfig::programming_language`].
    pub fn programming_language(mut self, language: impl Into<String>) -> Self {
        self.config.programming_language = language.into();
        self
    }

    /// See [`ConnConfig::rsa_key`].
    pub fn rsa_key(mut self, key: RsaKey) -> Self {
        self.config.rsa_key = Some(key);
        self
    }

    /// [`rsa_key`](Self::rsa_key) from PEM text (PKCS#1 or PKCS#8).
    pub fn rsa_private_key(self, pem: &str) -> Result<Self> {
        Ok(self.rsa_key(RsaKey::from_pem(pem)?))
    }

    /// The settings.
    pub fn build(self) -> ConnConfig {
        self.config
    }
}
