//! The crate's one error type.

use std::sync::Arc;
use std::time::Duration;

use crate::codec::CodecError;
use crate::conn::ConnFailure;
use crate::types::{ParseCodeError, SelectError};

/// OpenD's `Common.RetType` values, as the official SDKs use them for local failures too.
pub mod ret_type {
    /// Success.
    pub const SUCCEED: i32 = 0;
    /// Failed (OpenD refused the request).
    pub const FAILED: i32 = -1;
    /// Timed out locally.
    pub const TIMEOUT: i32 = -100;
    /// The connection was lost.
    pub const DISCONNECT: i32 = -200;
    /// Unknown (also the proto2 default of `retType`).
    pub const UNKNOWN: i32 = -400;
    /// The packet content was invalid.
    pub const INVALID: i32 = -500;
}

/// Everything that can go wrong in ftapi.
///
/// OpenD's own answers keep their `retType`, `retMsg` and `errCode`
/// ([`Error::Server`]); local failures map onto the same `retType` scale through
/// [`Error::ret_type`], so code ported from the C++/Java SDKs can keep comparing
/// numbers.
///
/// ```
/// use ftapi::Error;
/// let e = Error::Server { proto_id: 2202, ret_type: -1, ret_msg: "insufficient buying power".into(), err_code: 0 };
/// assert_eq!(e.ret_type(), -1);
/// assert!(e.to_string().contains("insufficient buying power"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// OpenD answered with `retType != 0`.
    #[error("OpenD refused proto {proto_id}: retType={ret_type} errCode={err_code} retMsg={ret_msg}")]
    Server {
        /// Protocol id of the request.
        proto_id: u32,
        /// `retType` of the response.
        ret_type: i32,
        /// `retMsg` of the response.
        ret_msg: String,
        /// `errCode` of the response (0 if absent).
        err_code: i32,
    },
    /// No reply within the request timeout (`retType` -100). A late reply is dropped.
    #[error("proto {proto_id} serial {serial} timed out after {after:?}")]
    Timeout {
        /// Protocol id of the request.
        proto_id: u32,
        /// Serial number of the request.
        serial: u32,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The connection was lost (or closed) while the request was in flight (`retType`
    /// -200). For write requests (place/modify/combo) the outcome on OpenD's side is
    /// unknown (the trade contexts say so in the failure's description): reconcile with
    /// the order list. `failure` says why the connection ended, with the official
    /// composite code ([`ConnFailure::err_code`]); a close by the user is
    /// [`ConnFailure::is_local`].
    #[error("connection lost before the reply to proto {proto_id} serial {serial}: {failure}")]
    Disconnected {
        /// Protocol id of the request.
        proto_id: u32,
        /// Serial number of the request.
        serial: u32,
        /// Why the connection ended.
        failure: ConnFailure,
    },
    /// No connection is up (never connected, closed, or reconnecting). The
    /// [`ConnFailure`] says why: the failure that ended the last connection, or a
    /// [local](ConnFailure::is_local) one ("closed by the user", "InitConnect has not
    /// finished").
    #[error("not connected: {0}")]
    NotConnected(ConnFailure),
    /// Connecting or the login (InitConnect, or the WebSocket handshake and login)
    /// failed. A refusal (OpenD answered, and said no or answered without what a session
    /// needs) is [`ConnFailure::is_refusal`].
    #[error("connect failed: {0}")]
    Connect(ConnFailure),
    /// A packet could not be decoded, decrypted or verified (`retType` -500).
    #[error("invalid packet: {0}")]
    Codec(#[from] CodecError),
    /// A socket error. The [`std::io::Error`] is kept (behind an `Arc`, so that `Error`
    /// stays `Clone`): [`io_error_kind`](Error::io_error_kind) gives its kind and
    /// [`std::error::Error::source`] the error itself.
    #[error("I/O error: {0}")]
    Io(#[source] Arc<std::io::Error>),
    /// The caller passed something that cannot be sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No account of the context's (cached) list matches the request's environment,
    /// `acc_id` or `acc_index`, or the context's market has no such environment. The
    /// [`SelectError`] says which. Nothing was sent.
    #[error("{0} (the account list is cached: call refresh_acc_list after changes)")]
    NoSuchAccount(SelectError),
    /// The request's account selection names more than one account of the context's
    /// list ([`SelectError::Ambiguous`]): ftapi refuses to guess. Nothing was sent.
    #[error("{0}")]
    AccountAmbiguous(SelectError),
    /// OpenD refused a REAL-environment order or modification because trading is
    /// locked: call `unlock_trade` first (or again, if it was locked since). Recognized
    /// by the `retMsg` of OpenD's refusal, which is kept here.
    #[error("trading is locked (unlock_trade first): OpenD refused proto {proto_id}: {ret_msg}")]
    NotUnlocked {
        /// Protocol id of the refused request.
        proto_id: u32,
        /// `retMsg` of OpenD's refusal.
        ret_msg: String,
    },
    /// A security code is not `MARKET.CODE` with a known market (e.g. `HK.00700`).
    /// Nothing was sent.
    #[error("bad security code: {0}")]
    BadSecurityCode(#[from] ParseCodeError),
    /// A client-side rate limit (OpenD's documented limits, applied by the trade
    /// contexts) had no free slot within the allowed wait. Nothing was sent.
    #[error("rate limit reached for {what}; next slot in {retry_after:?}")]
    RateLimited {
        /// Which limit, e.g. "place_order (at most 15 per 30s for account 123)".
        what: String,
        /// When the next call would be allowed.
        retry_after: Duration,
    },
    /// A market-data rule OpenD enforces refused the call on the client side (the quote
    /// context checks them before sending): the subscription quota, the one-minute
    /// unsubscribe rule or the history K-line quota. Nothing was sent.
    #[error("{rule}: {what}")]
    QuoteRule {
        /// Which rule.
        rule: QuoteRule,
        /// What was refused and why, e.g. "HK.00700 QUOTE was subscribed 12s ago".
        what: String,
    },
}

/// The market-data rules behind [`Error::QuoteRule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuoteRule {
    /// The subscription would use more quota than is left (each security and sub
    /// type pair uses one unit).
    SubscriptionQuota,
    /// OpenD refuses to unsubscribe a sub type less than a minute after subscribing it.
    UnsubscribeTooEarly {
        /// How long until the unsubscribe would be allowed.
        retry_after: Duration,
    },
    /// Every security whose history was not pulled in the last 30 days uses one unit of
    /// the history K-line quota, and none is left.
    HistoryKlQuota,
}

impl std::fmt::Display for QuoteRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuoteRule::SubscriptionQuota => f.write_str("subscription quota exceeded"),
            QuoteRule::UnsubscribeTooEarly { retry_after } => {
                write!(f, "unsubscribe too early (allowed in {retry_after:?})")
            }
            QuoteRule::HistoryKlQuota => f.write_str("history K-line quota exhausted"),
        }
    }
}

impl Error {
    /// The OpenD `retType` this error corresponds to.
    pub fn ret_type(&self) -> i32 {
        match self {
            Error::Server { ret_type, .. } => *ret_type,
            Error::Timeout { .. } => ret_type::TIMEOUT,
            Error::Disconnected { .. } | Error::NotConnected(_) | Error::Connect(_) | Error::Io(_) => {
                ret_type::DISCONNECT
            }
            Error::Codec(_) => ret_type::INVALID,
            Error::InvalidArgument(_)
            | Error::RateLimited { .. }
            | Error::QuoteRule { .. }
            | Error::NoSuchAccount(_)
            | Error::AccountAmbiguous(_)
            | Error::NotUnlocked { .. }
            | Error::BadSecurityCode(_) => ret_type::FAILED,
        }
    }

    /// Whether the error means that there is no usable connection: it was lost while
    /// the request was in flight ([`Disconnected`](Error::Disconnected)), there was none
    /// ([`NotConnected`](Error::NotConnected)), connecting failed
    /// ([`Connect`](Error::Connect)) other than by a refusal, or the socket failed
    /// ([`Io`](Error::Io)). These are the errors worth retrying once a connection is
    /// back; OpenD's refusals (of a request or of the login:
    /// [`ConnFailure::is_refusal`]), timeouts and local argument errors are not.
    ///
    /// ```
    /// use ftapi::conn::ConnFailure;
    /// use ftapi::Error;
    /// assert!(Error::NotConnected(ConnFailure::local("closed")).is_connection_lost());
    /// assert!(Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset)).is_connection_lost());
    /// assert!(!Error::Connect(ConnFailure::rejected(-1, "bad key")).is_connection_lost());
    /// assert!(!Error::InvalidArgument("x".into()).is_connection_lost());
    /// ```
    pub fn is_connection_lost(&self) -> bool {
        match self {
            Error::Connect(f) => !f.is_refusal(),
            Error::Disconnected { .. } | Error::NotConnected(_) | Error::Io(_) => true,
            _ => false,
        }
    }

    /// The [`ConnFailure`] behind a connection error ([`Connect`](Error::Connect),
    /// [`Disconnected`](Error::Disconnected), [`NotConnected`](Error::NotConnected)),
    /// with the official composite code of `OnInitConnect` / `OnDisConnect`; `None` for
    /// every other error.
    ///
    /// ```
    /// use ftapi::conn::{ConnFailure, FailKind, SocketFailKind};
    /// use ftapi::Error;
    /// let e = Error::Connect(ConnFailure::socket(SocketFailKind::ConnectFailed, "refused"));
    /// assert_eq!(e.conn_failure().map(|f| f.kind()), Some(FailKind::Socket(SocketFailKind::ConnectFailed)));
    /// assert!(Error::InvalidArgument("x".into()).conn_failure().is_none());
    /// ```
    pub fn conn_failure(&self) -> Option<&ConnFailure> {
        match self {
            Error::Connect(f) | Error::NotConnected(f) | Error::Disconnected { failure: f, .. } => Some(f),
            _ => None,
        }
    }

    /// The kind of the I/O error behind [`Error::Io`]; `None` for every other error.
    pub fn io_error_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            Error::Io(e) => Some(e.kind()),
            _ => None,
        }
    }

    /// OpenD's `retMsg` for its refusals ([`Server`](Error::Server),
    /// [`NotUnlocked`](Error::NotUnlocked)), else the error's text.
    pub fn ret_msg(&self) -> String {
        match self {
            Error::Server { ret_msg, .. } | Error::NotUnlocked { ret_msg, .. } => ret_msg.clone(),
            e => e.to_string(),
        }
    }

    /// OpenD's `errCode` for server errors, else 0.
    pub fn err_code(&self) -> i32 {
        match self {
            Error::Server { err_code, .. } => *err_code,
            _ => 0,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

impl From<SelectError> for Error {
    /// [`SelectError::Ambiguous`] becomes [`Error::AccountAmbiguous`], every other
    /// selection failure [`Error::NoSuchAccount`].
    fn from(e: SelectError) -> Self {
        match e {
            SelectError::Ambiguous { .. } => Error::AccountAmbiguous(e),
            e => Error::NoSuchAccount(e),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
