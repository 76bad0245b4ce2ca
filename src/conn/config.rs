//! Connection settings.

use std::time::Duration;

/// Settings of a connection. `Default` gives the official SDKs' values where they have
/// one.
///
/// ```
/// use std::time::Duration;
/// let cfg = ftapi::conn::ConnConfig { request_timeout: Duration::from_secs(5), ..Default::default() };
/// assert_eq!(cfg.client_id, "ftapi");
/// ```
#[derive(Debug, Clone)]
pub struct ConnConfig {
    /// Connecting plus the login (TCP connect and InitConnect) must finish within this
    /// (default 10 s).
    pub connect_timeout: Duration,
    /// A request without a reply after this fails with [`Error::Timeout`](crate::Error::Timeout) (default 12 s).
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
    /// The connection is declared dead after this many keepalive intervals without
    /// receiving anything (default 3).
    pub dead_after_intervals: u32,
    /// How many pushes may wait for the callback thread (default 4096). Beyond it the
    /// connection stops reading until a callback returns, so TCP pushes back on OpenD;
    /// timeouts and keepalive go on meanwhile, and no push is dropped.
    pub push_queue_capacity: usize,
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
            push_queue_capacity: 4096,
        }
    }
}
