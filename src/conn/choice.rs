//! [`TransportChoice`]: how a reconnecting client (the contexts' session) makes the
//! transport of each connection attempt.

use std::sync::Arc;
use std::time::Duration;

use super::{TcpTransport, Transport};
use crate::codec::RsaKey;

/// A transport factory: makes a fresh [`Transport`] for each connection attempt, and
/// says how much longer than the connect timeout its login may take (the WebSocket
/// login has its own timeout).
#[derive(Clone)]
pub(crate) struct TransportChoice {
    make: Arc<dyn Fn() -> Box<dyn Transport> + Send + Sync>,
    login_wait: Duration,
    peer: String,
}

impl std::fmt::Debug for TransportChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportChoice").field("peer", &self.peer).field("login_wait", &self.login_wait).finish()
    }
}

impl TransportChoice {
    /// OpenD's TCP API port, optionally encrypted with `rsa_key`.
    pub(crate) fn tcp(host: &str, port: u16, encrypt: bool, rsa_key: Option<RsaKey>) -> TransportChoice {
        let t = TcpTransport::new(host, port, encrypt, rsa_key);
        TransportChoice::new(move || Box::new(t.clone()), Duration::ZERO, format!("{host}:{port}"))
    }

    /// OpenD's WebSocket port, as `t` is configured.
    #[cfg(feature = "websocket")]
    pub(crate) fn ws(t: super::WsTransport) -> TransportChoice {
        let login_wait = t.get_login_timeout();
        let peer = Transport::peer(&t);
        TransportChoice::new(move || Box::new(t.clone()), login_wait, peer)
    }

    /// Any factory.
    pub(crate) fn new(
        make: impl Fn() -> Box<dyn Transport> + Send + Sync + 'static,
        login_wait: Duration,
        peer: String,
    ) -> TransportChoice {
        TransportChoice { make: Arc::new(make), login_wait, peer }
    }

    /// The transport of one connection attempt.
    pub(crate) fn make(&self) -> Box<dyn Transport> {
        (self.make)()
    }

    /// How long the login may take beyond the connect timeout.
    pub(crate) fn login_wait(&self) -> Duration {
        self.login_wait
    }

    /// Where it connects, for messages.
    pub(crate) fn peer(&self) -> &str {
        &self.peer
    }
}
