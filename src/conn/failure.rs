//! Why a connection could not be made or was lost, and the official composite error
//! code of `OnInitConnect` / `OnDisConnect`.

use std::fmt;

/// The `errCode` value of a connection that did not fail.
pub const ERR_CODE_OK: i64 = 0;

/// The high 32 bits of a composite error code that mean "InitConnect failed" (the
/// official C++ header's `FTAPI_InitFail`, C#'s `FTAPI_Conn.InitFail`); the low 32 bits
/// then hold an [`InitFailKind`].
pub const INIT_FAIL: i32 = 100;

/// The socket-level failure kinds, as numbered by the official C++ SDK's
/// `FTAPI_ConnectFailType` (the high 32 bits of the composite code, with the system
/// error number in the low 32 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketFailKind {
    /// -1 `Unknown`.
    Unknown,
    /// 1 `CreateFailed`: the socket could not be created.
    CreateFailed,
    /// 2 `CloseFailed`.
    CloseFailed,
    /// 3 `ShutdownFailed`.
    ShutdownFailed,
    /// 4 `GetHostByNameFailed`: the host name could not be resolved.
    GetHostByNameFailed,
    /// 5 `GetHostByNameWrong`: the host name resolved to no usable address.
    GetHostByNameWrong,
    /// 6 `ConnectFailed`: connecting failed (refused, unreachable, timed out).
    ConnectFailed,
    /// 7 `BindFailed`.
    BindFailed,
    /// 8 `ListenFailed`.
    ListenFailed,
    /// 9 `SelectReturnError`.
    SelectReturnError,
    /// 10 `SendFailed`: writing to the connection failed.
    SendFailed,
    /// 11 `RecvFailed`: reading failed, the peer closed the connection, the stream was
    /// corrupt, or nothing arrived within the keepalive bound.
    RecvFailed,
}

impl SocketFailKind {
    /// The official number (the high 32 bits of the composite code).
    pub fn code(self) -> i32 {
        match self {
            SocketFailKind::Unknown => -1,
            SocketFailKind::CreateFailed => 1,
            SocketFailKind::CloseFailed => 2,
            SocketFailKind::ShutdownFailed => 3,
            SocketFailKind::GetHostByNameFailed => 4,
            SocketFailKind::GetHostByNameWrong => 5,
            SocketFailKind::ConnectFailed => 6,
            SocketFailKind::BindFailed => 7,
            SocketFailKind::ListenFailed => 8,
            SocketFailKind::SelectReturnError => 9,
            SocketFailKind::SendFailed => 10,
            SocketFailKind::RecvFailed => 11,
        }
    }

    /// The kind with this official number, if any.
    pub fn from_code(code: i32) -> Option<SocketFailKind> {
        Some(match code {
            -1 => SocketFailKind::Unknown,
            1 => SocketFailKind::CreateFailed,
            2 => SocketFailKind::CloseFailed,
            3 => SocketFailKind::ShutdownFailed,
            4 => SocketFailKind::GetHostByNameFailed,
            5 => SocketFailKind::GetHostByNameWrong,
            6 => SocketFailKind::ConnectFailed,
            7 => SocketFailKind::BindFailed,
            8 => SocketFailKind::ListenFailed,
            9 => SocketFailKind::SelectReturnError,
            10 => SocketFailKind::SendFailed,
            11 => SocketFailKind::RecvFailed,
            _ => return None,
        })
    }
}

/// Why InitConnect (or a transport's login) failed, as numbered by the official C++
/// SDK's `FTAPI_InitFailType` (the low 32 bits when the high 32 bits are [`INIT_FAIL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InitFailKind {
    /// 0 `Unknow`: anything else (an unreadable reply, no RSA key set, a reply without
    /// the session key ...).
    Unknown,
    /// 1 `Timeout`: no reply within the connect timeout.
    Timeout,
    /// 3 `DisConnect`: the connection was lost before the reply.
    Disconnected,
    /// 4 `SendInitReqFailed` (the official header also gives `SeriaNoNotMatch` the
    /// number 4): the request could not be sent.
    SendFailed,
    /// 5 `OpenDReject`: OpenD answered with `retType != 0`; see
    /// [`ConnFailure::ret_type`] and [`ConnFailure::ret_msg`].
    OpenDRejected,
}

impl InitFailKind {
    /// The official number (the low 32 bits of the composite code).
    pub fn code(self) -> i32 {
        match self {
            InitFailKind::Unknown => 0,
            InitFailKind::Timeout => 1,
            InitFailKind::Disconnected => 3,
            InitFailKind::SendFailed => 4,
            InitFailKind::OpenDRejected => 5,
        }
    }

    /// The kind with this official number, if any.
    pub fn from_code(code: i32) -> Option<InitFailKind> {
        Some(match code {
            0 => InitFailKind::Unknown,
            1 => InitFailKind::Timeout,
            3 => InitFailKind::Disconnected,
            4 => InitFailKind::SendFailed,
            5 => InitFailKind::OpenDRejected,
            _ => return None,
        })
    }
}

/// The failure kind: the high 32 bits of the composite code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailKind {
    /// A socket-level failure; the low 32 bits are the OS error number (0 if none).
    Socket(SocketFailKind),
    /// InitConnect (or a transport's login) failed; the low 32 bits say how.
    Init(InitFailKind),
}

/// Why a connection could not be made, or why it was lost: the typed form of the
/// composite 64-bit `errCode` that [`ConnSpi::on_init_connect`] and
/// [`ConnSpi::on_disconnect`] receive, as the official SDKs pass it.
///
/// # The composite code
///
/// `err_code == 0` means success. Otherwise the high 32 bits hold the failure kind and
/// the low 32 bits a detail:
///
/// | high 32 bits | meaning | low 32 bits |
/// |---|---|---|
/// | -1 | `FTAPI_ConnectFailType_Unknown` | OS error number or 0 |
/// | 1 | `CreateFailed` (socket creation) | OS error number |
/// | 4 | `GetHostByNameFailed` (name resolution) | OS error number or 0 |
/// | 5 | `GetHostByNameWrong` (no usable address) | 0 |
/// | 6 | `ConnectFailed` (refused, unreachable, timed out, TLS/WebSocket handshake) | OS error number or 0 |
/// | 10 | `SendFailed` | OS error number or 0 |
/// | 11 | `RecvFailed` (read error, peer closed, corrupt stream, keepalive timeout) | OS error number or 0 |
/// | 2, 3, 7, 8, 9 | `CloseFailed`, `ShutdownFailed`, `BindFailed`, `ListenFailed`, `SelectReturnError` (decoded, never produced by ftapi) | OS error number |
/// | 100 | `FTAPI_InitFail`: InitConnect failed | `FTAPI_InitFailType`: 0 unknown, 1 timeout, 3 disconnected, 4 send failed, 5 OpenD rejected |
///
/// The numbers are those of the official C++ header (`FTAPI_ConnectFailType`,
/// `FTAPI_InitFail`, `FTAPI_InitFailType`), so `err_code >> 32` checks ported from C++,
/// Java or C# keep working. Which socket kind the official SDK reports for a
/// keepalive timeout or a corrupt stream is not documented; ftapi reports
/// `RecvFailed` with 0 and says which in the description. OpenD's `retType` and
/// `retMsg` do not fit in the code (its low bits hold the init-fail kind): they are in
/// the description and in the [`ConnFailure`] that
/// [`TrdApi::last_conn_failure`](crate::TrdApi::last_conn_failure) returns.
///
/// ```
/// use ftapi::conn::{ConnFailure, FailKind, InitFailKind, SocketFailKind};
/// let refused = (6i64 << 32) | 111; // ConnectFailed, ECONNREFUSED on Linux
/// let f = ConnFailure::from_err_code(refused).unwrap();
/// assert_eq!(f.kind(), FailKind::Socket(SocketFailKind::ConnectFailed));
/// assert_eq!(f.os_error(), Some(111));
/// assert_eq!(f.err_code(), refused);
/// let rejected = ConnFailure::from_err_code((100i64 << 32) | 5).unwrap();
/// assert_eq!(rejected.kind(), FailKind::Init(InitFailKind::OpenDRejected));
/// assert!(ConnFailure::from_err_code(0).is_none());
/// ```
///
/// [`ConnSpi::on_init_connect`]: crate::ConnSpi::on_init_connect
/// [`ConnSpi::on_disconnect`]: crate::ConnSpi::on_disconnect
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnFailure {
    kind: FailKind,
    os_error: Option<i32>,
    ret_type: Option<i32>,
    ret_msg: Option<String>,
    message: String,
    local: bool,
}

impl ConnFailure {
    /// A socket-level failure with a description.
    pub fn socket(kind: SocketFailKind, message: impl Into<String>) -> ConnFailure {
        ConnFailure {
            kind: FailKind::Socket(kind),
            os_error: None,
            ret_type: None,
            ret_msg: None,
            message: message.into(),
            local: false,
        }
    }

    /// A socket-level failure caused by `err` (its OS error number is kept).
    pub fn io(kind: SocketFailKind, context: &str, err: &std::io::Error) -> ConnFailure {
        let message = if context.is_empty() { err.to_string() } else { format!("{context}: {err}") };
        ConnFailure { os_error: err.raw_os_error(), ..ConnFailure::socket(kind, message) }
    }

    /// An InitConnect (login) failure with a description.
    pub fn init(kind: InitFailKind, message: impl Into<String>) -> ConnFailure {
        ConnFailure {
            kind: FailKind::Init(kind),
            os_error: None,
            ret_type: None,
            ret_msg: None,
            message: message.into(),
            local: false,
        }
    }

    /// OpenD refused InitConnect (or a login) with `retType` and `retMsg` (the
    /// description is `retMsg`, as in the official SDKs).
    pub fn rejected(ret_type: i32, ret_msg: impl Into<String>) -> ConnFailure {
        let ret_msg = ret_msg.into();
        ConnFailure {
            kind: FailKind::Init(InitFailKind::OpenDRejected),
            os_error: None,
            ret_type: Some(ret_type),
            message: ret_msg.clone(),
            ret_msg: Some(ret_msg),
            local: false,
        }
    }

    /// A connection closed (or not opened) on this side: by the user, or not connected
    /// yet. Nothing failed; its kind is `Socket(Unknown)` (the official SDKs have no
    /// code for it: they do not report a close they were asked for) and
    /// [`is_local`](Self::is_local) says so.
    pub fn local(message: impl Into<String>) -> ConnFailure {
        ConnFailure { local: true, ..ConnFailure::socket(SocketFailKind::Unknown, message) }
    }

    /// Whether the connection was closed (or not opened) on this side, rather than
    /// failing ([`local`](Self::local)).
    pub fn is_local(&self) -> bool {
        self.local
    }

    /// Whether the login was refused rather than cut short: OpenD answered InitConnect
    /// (or the WebSocket login) with `retType != 0` (`Init(OpenDRejected)`), or the
    /// login could not be used (`Init(Unknown)`: an unreadable reply, a success reply
    /// without what a session needs, no RSA key set). Retrying the same login will not
    /// help, unlike after a socket failure, a timeout or a disconnect.
    pub fn is_refusal(&self) -> bool {
        matches!(self.kind, FailKind::Init(InitFailKind::OpenDRejected | InitFailKind::Unknown))
    }

    /// Decodes a composite code as [`ConnSpi`](crate::ConnSpi) receives it; `None` for 0
    /// (success). Unknown kinds decode as `Socket(Unknown)`. The description and
    /// OpenD's `retType`/`retMsg` are not part of the code and come back empty.
    pub fn from_err_code(err_code: i64) -> Option<ConnFailure> {
        if err_code == ERR_CODE_OK {
            return None;
        }
        let high = (err_code >> 32) as i32;
        let low = err_code as u32 as i32;
        let mut f = if high == INIT_FAIL {
            ConnFailure::init(InitFailKind::from_code(low).unwrap_or(InitFailKind::Unknown), String::new())
        } else {
            ConnFailure::socket(SocketFailKind::from_code(high).unwrap_or(SocketFailKind::Unknown), String::new())
        };
        if matches!(f.kind, FailKind::Socket(_)) && low != 0 {
            f.os_error = Some(low);
        }
        Some(f)
    }

    /// The composite code (never 0).
    pub fn err_code(&self) -> i64 {
        let (high, low) = match self.kind {
            FailKind::Socket(k) => (k.code(), self.os_error.unwrap_or(0)),
            FailKind::Init(k) => (INIT_FAIL, k.code()),
        };
        let code = (i64::from(high) << 32) | i64::from(low as u32);
        if code == 0 {
            // Cannot happen with the official tables (no kind is 0); keep "0 = success".
            (i64::from(SocketFailKind::Unknown.code())) << 32
        } else {
            code
        }
    }

    /// The failure kind.
    pub fn kind(&self) -> FailKind {
        self.kind
    }

    /// The OS error number, for socket-level failures that had one.
    pub fn os_error(&self) -> Option<i32> {
        self.os_error
    }

    /// OpenD's `retType` when it refused InitConnect.
    pub fn ret_type(&self) -> Option<i32> {
        self.ret_type
    }

    /// OpenD's `retMsg` when it refused InitConnect.
    pub fn ret_msg(&self) -> Option<&str> {
        self.ret_msg.as_deref()
    }

    /// The description (what `desc` of the callbacks carries).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same failure with `prefix: ` put before its description.
    pub fn context(mut self, prefix: &str) -> ConnFailure {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// Whether this is a failure of InitConnect (or of a transport's login) rather than
    /// of the socket.
    pub fn is_init_failure(&self) -> bool {
        matches!(self.kind, FailKind::Init(_))
    }
}

impl fmt::Display for ConnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnFailure {}
