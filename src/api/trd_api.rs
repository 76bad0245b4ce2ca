//! `TrdApi`: one trading connection to OpenD with callbacks, and the callback traits
//! [`ConnSpi`] and [`TrdSpi`]. The request methods and the `TrdSpi` callbacks are
//! generated from the one protocol table in [`crate::pb`], like those of the market-data
//! API built on it ([`QotApi`](crate::QotApi)).

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use prost::Message;

use crate::codec::{decode_body, RsaKey};
use crate::conn::{
    ConnConfig, ConnEvents, ConnFailure, ConnState, Connection, InitInfo, PushRun, ReplySlot, Responder, Serials,
    TcpTransport, Transport,
};
use crate::error::{ret_type, Error, Result};
use crate::pb::{self, C2s, Protocol, RequestEnvelope, ResponseEnvelope, S2c};

struct Settings {
    config: ConnConfig,
}

/// A crate-internal receiver of every push, used instead of the [`TrdSpi`] when set
/// (the market-data API and the quote context run on a `TrdApi` this way).
pub(crate) type PushHook = Arc<dyn Fn(&TrdApi, u32, &[u8]) + Send + Sync>;

struct ApiInner {
    settings: Mutex<Settings>,
    conn_spi: RwLock<Option<Arc<dyn ConnSpi>>>,
    trd_spi: RwLock<Option<Arc<dyn TrdSpi>>>,
    push_hook: RwLock<Option<PushHook>>,
    conn: Mutex<Option<Arc<Connection>>>,
    /// One serial counter for every connection of this API object: never reused.
    serials: Arc<Serials>,
    /// Why the last connection failed or was lost.
    last_failure: Mutex<Option<ConnFailure>>,
}

impl ApiInner {
    fn current(&self) -> Option<Arc<Connection>> {
        self.conn.lock().clone()
    }
    fn is_current(&self, conn: &Arc<Connection>) -> bool {
        self.conn.lock().as_ref().is_some_and(|c| Arc::ptr_eq(c, conn))
    }
}

/// One trading connection to OpenD (C++ `FTAPI_Trd`, Java/C# `FTAPI_Conn_Trd`).
///
/// [`init_connect`](TrdApi::init_connect) returns at once; a background I/O thread
/// connects, runs InitConnect and reports through [`ConnSpi::on_init_connect`]. Each
/// request method returns the request's serial number at once (0 if it could not be
/// sent) and the reply arrives in the matching [`TrdSpi`] `on_reply_*` callback. The
/// `call` family blocks for the reply instead.
///
/// `TrdApi` is `Send + Sync`: share it with `Arc`. Dropping it closes the connection
/// and joins its thread. Callbacks receive a `&TrdApi` they may use freely, including
/// calling [`close`](TrdApi::close).
///
/// ```no_run
/// use ftapi::{pb, TrdApi};
/// let api = TrdApi::new();
/// api.init_connect("127.0.0.1", 11111, false);
/// // once on_init_connect reported success:
/// let accounts = api.call::<pb::proto::GetAccList>(pb::trd_get_acc_list::C2s {
///     user_id: api.get_login_user_id(),
///     ..Default::default()
/// });
/// ```
#[doc(alias = "FTAPI_Trd")]
#[doc(alias = "FTAPI_Conn_Trd")]
#[doc(alias = "FTAPI_Conn")]
#[doc(alias = "CreateTrdApi")]
#[doc(alias = "ReleaseTrdApi")]
pub struct TrdApi {
    inner: Arc<ApiInner>,
    owner: bool,
}

impl std::fmt::Debug for TrdApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrdApi").field("conn", &self.inner.current()).finish()
    }
}

impl Default for TrdApi {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TrdApi {
    fn drop(&mut self) {
        if self.owner {
            self.close();
        }
    }
}

impl TrdApi {
    /// A new, unconnected API object (C++ `FTAPI::CreateTrdApi()`, C# `new FTAPI_Trd()`,
    /// Java `new FTAPI_Conn_Trd()`).
    #[doc(alias = "CreateTrdApi")]
    pub fn new() -> TrdApi {
        Self::with_config(ConnConfig::default())
    }

    /// A new API object with the given connection settings (the one way to configure
    /// everything; see [`ConnConfig::builder`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ftapi::{ConnConfig, TrdApi};
    /// let api = TrdApi::with_config(
    ///     ConnConfig::builder().client_info("mybot", 1).request_timeout(Duration::from_secs(5)).build(),
    /// );
    /// assert_eq!(api.config().client_id, "mybot");
    /// ```
    pub fn with_config(config: ConnConfig) -> TrdApi {
        TrdApi {
            inner: Arc::new(ApiInner {
                settings: Mutex::new(Settings { config }),
                conn_spi: RwLock::new(None),
                trd_spi: RwLock::new(None),
                push_hook: RwLock::new(None),
                conn: Mutex::new(None),
                serials: Arc::new(Serials::default()),
                last_failure: Mutex::new(None),
            }),
            owner: true,
        }
    }

    /// A non-owning handle for callbacks: dropping it does not close.
    fn view(inner: Arc<ApiInner>) -> TrdApi {
        TrdApi { inner, owner: false }
    }

    /// Sets `InitConnect.clientID` and `clientVer` (C++/C# `SetClientInfo`, Java
    /// `setClientInfo`), kept for porting: the same as
    /// [`ConnConfigBuilder::client_info`](crate::conn::ConnConfigBuilder::client_info).
    /// Takes effect at the next `init_connect`.
    #[doc(alias = "SetClientInfo")]
    #[doc(alias = "setClientInfo")]
    pub fn set_client_info(&self, client_id: &str, client_ver: i32) {
        let mut s = self.inner.settings.lock();
        s.config.client_id = client_id.to_string();
        s.config.client_ver = client_ver;
    }

    /// Replaces the connection settings (e.g. from [`ConnConfig::builder`], or
    /// `api.config().to_builder()...build()`). Takes effect at the next `init_connect`.
    pub fn set_config(&self, config: ConnConfig) {
        self.inner.settings.lock().config = config;
    }

    /// The connection settings.
    pub fn config(&self) -> ConnConfig {
        self.inner.settings.lock().config.clone()
    }

    /// Sets the request timeout (default 12 s). Takes effect at the next `init_connect`.
    #[deprecated(note = "use ConnConfig::builder().request_timeout(..) with TrdApi::with_config")]
    pub fn set_request_timeout(&self, timeout: Duration) {
        self.inner.settings.lock().config.request_timeout = timeout;
    }

    /// Sets the RSA private key (PKCS#1 or PKCS#8 PEM text) that encrypted connections
    /// use for InitConnect; the same key OpenD is configured with (C++/C#
    /// `SetRSAPrivateKey`, Java `setRSAPrivateKey`), kept for porting: the same as
    /// [`ConnConfig::rsa_key`]. Takes effect at the next `init_connect`.
    #[doc(alias = "SetRSAPrivateKey")]
    #[doc(alias = "setRSAPrivateKey")]
    pub fn set_rsa_private_key(&self, pem: &str) -> Result<()> {
        let key = RsaKey::from_pem(pem)?;
        self.set_rsa_key(key);
        Ok(())
    }

    /// [`set_rsa_private_key`](TrdApi::set_rsa_private_key) with an already parsed key.
    pub fn set_rsa_key(&self, key: RsaKey) {
        self.inner.settings.lock().config.rsa_key = Some(key);
    }

    /// Sets the connection callbacks (C++ `RegisterConnSpi`, C# `SetConnCallback`, Java
    /// `setConnSpi`).
    #[doc(alias = "RegisterConnSpi")]
    #[doc(alias = "SetConnCallback")]
    #[doc(alias = "setConnSpi")]
    pub fn set_conn_spi(&self, spi: Arc<dyn ConnSpi>) {
        *self.inner.conn_spi.write() = Some(spi);
    }

    /// Sets the reply and push callbacks (C++ `RegisterTrdSpi`, C# `SetTrdCallback`,
    /// Java `setTrdSpi`).
    #[doc(alias = "RegisterTrdSpi")]
    #[doc(alias = "SetTrdCallback")]
    #[doc(alias = "setTrdSpi")]
    pub fn set_trd_spi(&self, spi: Arc<dyn TrdSpi>) {
        *self.inner.trd_spi.write() = Some(spi);
    }

    /// Routes every push to `hook` instead of the [`TrdSpi`].
    pub(crate) fn set_push_hook(&self, hook: PushHook) {
        *self.inner.push_hook.write() = Some(hook);
    }

    fn trd_spi(&self) -> Option<Arc<dyn TrdSpi>> {
        self.inner.trd_spi.read().clone()
    }

    /// Starts connecting to OpenD at `ip:port` and returns at once (C++/C# `InitConnect`,
    /// Java `initConnect`).
    /// The result arrives in [`ConnSpi::on_init_connect`] on the callback thread. With
    /// `encrypt`, InitConnect is RSA-encrypted with the key from
    /// [`set_rsa_private_key`](TrdApi::set_rsa_private_key) and every later packet is
    /// AES-encrypted as OpenD chooses (CBC, or FTAES-ECB).
    ///
    /// Returns `false` if a connection is already being made or is up (call `close`
    /// first) or the thread could not be started. May be called again after `close` or
    /// after a disconnect: each call makes a new connection with a new connection id.
    #[doc(alias = "InitConnect")]
    #[doc(alias = "initConnect")]
    pub fn init_connect(&self, ip: &str, port: u16, encrypt: bool) -> bool {
        let key = self.inner.settings.lock().config.rsa_key.clone();
        self.init_connect_with(Box::new(TcpTransport::new(ip, port, encrypt, key)))
    }

    /// Starts connecting to OpenD's WebSocket port (`ws://ip:port`, or `wss://` with
    /// `ssl`; feature `websocket`, on by default) and returns at once, like [`init_connect`](TrdApi::init_connect): the
    /// JavaScript SDK's `start(ip, port, ssl, key)`. `key` is OpenD's WebSocket key in
    /// plaintext (only its MD5 is sent). OpenD does not answer a wrong key: the result
    /// is then an Init timeout after 20 s. For a CA file, the insecure mode, other
    /// timeouts or the message size limit, use
    /// [`init_connect_with`](TrdApi::init_connect_with) and a
    /// [`WsTransport`](crate::conn::WsTransport).
    #[doc(alias = "start")]
    #[doc(alias = "ftWebsocket")]
    #[cfg(feature = "websocket")]
    pub fn init_connect_ws(&self, ip: &str, port: u16, ssl: bool, key: &str) -> bool {
        self.init_connect_with(Box::new(crate::conn::WsTransport::new(ip, port, ssl, key)))
    }

    /// Starts connecting over any [`Transport`] and returns at once, like
    /// [`init_connect`](TrdApi::init_connect) (which is this with a
    /// [`TcpTransport`]). The result arrives in [`ConnSpi::on_init_connect`].
    ///
    /// Returns `false` if a connection is already being made or is up, or the threads
    /// could not be started.
    pub fn init_connect_with(&self, transport: Box<dyn Transport>) -> bool {
        let config = self.inner.settings.lock().config.clone();
        let mut slot = self.inner.conn.lock();
        if slot.as_ref().is_some_and(|c| c.state() != ConnState::Closed) {
            return false;
        }
        let events = Arc::new(ApiEvents { api: Arc::downgrade(&self.inner) });
        match Connection::start(transport, config, self.inner.serials.clone(), events) {
            Ok(conn) => {
                // A previous, closed connection is replaced; its threads have ended or
                // are ending on their own.
                *slot = Some(conn);
                true
            }
            Err(e) => {
                log::error!("cannot start the connection threads: {e}");
                false
            }
        }
    }

    /// The current connection's push queue: pushes read but not yet handed to the
    /// callbacks, the memory they hold and its peak (all 0 without a connection). See
    /// [`ConnConfig::push_queue_capacity`] for the bounds.
    pub fn push_queue_stats(&self) -> crate::conn::PushQueueStats {
        self.inner.current().map(|c| c.push_queue_stats()).unwrap_or_default()
    }

    /// Why the last connection failed to open or was lost (`None` if none did): the
    /// typed form of the `err_code` and `desc` that [`ConnSpi`] received, with OpenD's
    /// `retType`/`retMsg` when it refused InitConnect.
    pub fn last_conn_failure(&self) -> Option<ConnFailure> {
        self.inner.last_failure.lock().clone()
    }

    /// Closes the connection (C++/C# `Close`, Java `close`; dropping the `TrdApi` does it
    /// too, as C++ `FTAPI::ReleaseTrdApi` does): idempotent, safe from any thread including
    /// inside a callback, and prompt even while connecting or logging in. Requests in
    /// flight are answered with [`Error::Disconnected`]; `on_disconnect` is not called;
    /// pushes not yet delivered are dropped. Joins the connection's I/O thread, and its
    /// callback thread unless a callback is running there (never the calling thread):
    /// a running callback (say an `on_init_connect` that sleeps) is not waited for. It
    /// finishes on its own thread, which then delivers only the answers still owed
    /// (`on_reply_*` with [`Error::Disconnected`]) and exits.
    #[doc(alias = "ReleaseTrdApi")]
    #[doc(alias = "Close")]
    pub fn close(&self) {
        let conn = self.inner.conn.lock().take();
        if let Some(c) = conn {
            c.close();
        }
    }

    /// OpenD's connection id, 0 when not connected (C++/C# `GetConnectID`, Java
    /// `getConnectID`).
    #[doc(alias = "GetConnectID")]
    #[doc(alias = "getConnectID")]
    #[doc(alias = "getConnID")]
    pub fn get_connect_id(&self) -> u64 {
        self.init_info().map_or(0, |i| i.conn_id)
    }

    /// The user logged into OpenD, 0 when not connected.
    pub fn get_login_user_id(&self) -> u64 {
        self.init_info().map_or(0, |i| i.login_user_id)
    }

    /// Everything InitConnect told us, when connected.
    pub fn init_info(&self) -> Option<InitInfo> {
        self.inner.current().and_then(|c| c.init_info().cloned())
    }

    /// The connection's state (`Closed` if none was started).
    pub fn state(&self) -> ConnState {
        self.inner.current().map_or(ConnState::Closed, |c| c.state())
    }

    /// Whether InitConnect succeeded and the connection is up.
    pub fn is_connected(&self) -> bool {
        self.state() == ConnState::Ready
    }

    /// Requests in flight.
    pub fn pending_requests(&self) -> usize {
        self.inner.current().map_or(0, |c| c.pending_len())
    }

    /// Pushes read but not yet handled by the callback thread.
    pub(crate) fn queued_pushes(&self) -> usize {
        self.inner.current().map_or(0, |c| c.queued_pushes())
    }

    /// Sends any request and delivers the reply to `on_reply` on the callback thread.
    /// Returns the serial number, or an error if nothing was sent (then `on_reply` is
    /// never called). Write requests get their `Common.PacketID` filled with
    /// `{conn_id, serial}` unless the caller set one.
    pub fn send<P: Protocol>(
        &self,
        req: P::Request,
        on_reply: impl FnOnce(&TrdApi, u32, Result<S2c<P>>) + Send + 'static,
    ) -> Result<u32> {
        let conn = self
            .inner
            .current()
            .ok_or_else(|| Error::NotConnected(ConnFailure::local("init_connect was not called")))?;
        // Held until the answer is delivered (every request is answered: reply, timeout
        // or teardown), so that an answer owed after a close reaches `on_reply` even if
        // the owner dropped the `TrdApi` meanwhile (close does not wait for a running
        // callback, see `close`).
        let inner = self.inner.clone();
        let responder = Responder::Callback(Box::new(move |serial: u32, res: Result<&[u8]>| {
            on_reply(&TrdApi::view(inner), serial, res.and_then(decode_reply::<P>));
        }));
        Self::send_on::<P>(&conn, req, None, responder)
    }

    fn send_on<P: Protocol>(
        conn: &Connection,
        mut req: P::Request,
        timeout: Option<Duration>,
        responder: Responder,
    ) -> Result<u32> {
        let conn_id = conn.init_info().map_or(0, |i| i.conn_id);
        let res = conn.request(
            P::PROTO_ID,
            timeout,
            P::SENSITIVE,
            &mut |buf, serial| {
                P::fill_packet_id(&mut req, conn_id, serial);
                req.encode_raw(buf);
            },
            responder,
        );
        P::wipe(&mut req);
        res
    }

    /// Sends a request and blocks for its reply (or the request timeout). May be called
    /// from any thread, callbacks included (the reply is read by the connection's I/O
    /// thread, not by the callback thread). Because the reply skips the callback queue,
    /// `call` may return before pushes that OpenD sent ahead of the reply have reached
    /// their callbacks; replies to the non-blocking requests keep wire order with pushes.
    /// While it waits, the calling thread may first spin for up to
    /// [`ConnConfig::reply_spin`] (50 µs by default: a reply that comes back quickly is
    /// seen without the cost of waking a parked thread), then parks; it spins only while
    /// this connection's recent round trips were shorter than that budget and few other
    /// callers spin (the policy is on [`ConnConfig::reply_spin`]).
    ///
    /// ```no_run
    /// # let api = ftapi::TrdApi::new();
    /// use ftapi::pb;
    /// let state = api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 })?;
    /// println!("OpenD {} trd_logined={}", state.server_ver, state.trd_logined);
    /// # Ok::<(), ftapi::Error>(())
    /// ```
    pub fn call<P: Protocol>(&self, c2s: C2s<P>) -> Result<S2c<P>> {
        self.call_request::<P>(P::Request::from_c2s(c2s), None)
    }

    /// [`call`](TrdApi::call) with an explicit timeout and a whole `Request`.
    pub fn call_request<P: Protocol>(&self, req: P::Request, timeout: Option<Duration>) -> Result<S2c<P>> {
        let conn = self
            .inner
            .current()
            .ok_or_else(|| Error::NotConnected(ConnFailure::local("init_connect was not called")))?;
        if conn.on_io_thread() {
            return Err(Error::InvalidArgument("blocking call from the connection's I/O thread".into()));
        }
        let _in_call = conn.enter_call();
        let slot = Arc::new(ReplySlot::new());
        let serial = Self::send_on::<P>(&conn, req, timeout, Responder::Slot(slot.clone()))?;
        let wait = timeout.unwrap_or_else(|| conn.request_timeout());
        // The I/O thread answers at the deadline; the margin only matters if it is stuck.
        // A timeout beyond what an Instant holds (Duration::MAX) means "no timeout".
        let deadline = crate::conn::deadline_after(wait.saturating_add(Duration::from_secs(2)));
        match slot.wait(conn.reply_spin(), deadline) {
            Some(r) => r.and_then(|b| decode_reply::<P>(&b)),
            None => Err(Error::Timeout { proto_id: P::PROTO_ID, serial, after: wait }),
        }
    }

    /// GetGlobalState (1002); the reply arrives in `TrdSpi::on_reply_get_global_state`.
    #[doc(alias = "GetGlobalState")]
    #[doc(alias = "getGlobalState")]
    pub fn get_global_state(&self) -> u32 {
        let req =
            pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: self.get_login_user_id() } };
        self.send_to_spi::<pb::proto::GetGlobalState>(req, |spi, api, serial, r| {
            spi.on_reply_get_global_state(api, serial, r)
        })
    }

    fn send_to_spi<P: Protocol>(&self, req: P::Request, deliver: fn(&dyn TrdSpi, &TrdApi, u32, Result<S2c<P>>)) -> u32 {
        let res = self.send::<P>(req, move |api, serial, r| match api.trd_spi() {
            Some(spi) => deliver(&*spi, api, serial, r),
            None => log::warn!("reply to {} serial {serial} but no TrdSpi is set", P::NAME),
        });
        match res {
            Ok(serial) => serial,
            Err(e) => {
                log::warn!("{} not sent: {e}", P::NAME);
                0
            }
        }
    }
}

/// Connection callbacks (C++, C# and Java `FTSPI_Conn`: `OnInitConnect` /
/// `onInitConnect`, and C++ `OnDisConnect`, C# `OnDisconnect`, Java `onDisconnect`).
///
/// `A` is the API object the callbacks are given: [`TrdApi`] (the default, so
/// `impl ConnSpi for MySpi` serves a `TrdApi`) or [`QotApi`](crate::QotApi)
/// (`impl ConnSpi<QotApi> for MySpi`). One type may implement both.
///
/// Every method runs on the connection's callback thread with no lock held, in wire
/// order with replies and pushes; it may call any method of the API object it is given,
/// including `close()` and the blocking `call`. A slow callback delays the callbacks
/// after it but not the connection: keepalive and request timeouts run on the I/O
/// thread, and replies to blocking calls are read however many pushes wait. Only when
/// the push queue reaches its bound ([`ConnConfig::push_queue_capacity`] or
/// [`ConnConfig::push_queue_bytes`]) does the I/O thread stop reading, so TCP pushes back
/// on OpenD. `close()` from another thread does not wait for a running callback.
///
/// [`ConnConfig::push_queue_capacity`]: crate::ConnConfig::push_queue_capacity
/// [`ConnConfig::push_queue_bytes`]: crate::ConnConfig::push_queue_bytes
#[doc(alias = "FTSPI_Conn")]
pub trait ConnSpi<A: ?Sized = TrdApi>: Send + Sync {
    /// InitConnect finished. `err_code` is 0 and `desc` empty on success; otherwise
    /// `err_code` is the official composite code (high 32 bits the failure kind, low 32
    /// bits the OS error number or the InitConnect failure kind; decode it with
    /// [`ConnFailure::from_err_code`](crate::conn::ConnFailure::from_err_code)) and
    /// `desc` says why (OpenD's `retMsg`, or e.g. "connection refused", "RSA key not
    /// set"). [`TrdApi::last_conn_failure`] gives the same, typed.
    #[doc(alias = "OnInitConnect")]
    #[doc(alias = "onInitConnect")]
    #[doc(alias = "onlogin")]
    fn on_init_connect(&self, api: &A, err_code: i64, desc: &str) {
        let _ = (api, err_code, desc);
    }

    /// A connection that was up has been lost (never called after `close()`).
    /// Fires exactly once per lost connection; every request in flight has already been
    /// answered with [`Error::Disconnected`]. `err_code` is the official composite code
    /// (e.g. `RecvFailed` in the high 32 bits, the OS error number in the low 32; see
    /// [`ConnFailure`](crate::conn::ConnFailure)); `desc` says why.
    #[doc(alias = "OnDisConnect")]
    #[doc(alias = "OnDisconnect")]
    #[doc(alias = "onDisconnect")]
    fn on_disconnect(&self, api: &A, err_code: i64, desc: &str) {
        let _ = (api, err_code, desc);
    }
}

/// Generates [`TrdSpi`], the request methods of [`TrdApi`] and the dispatch of its pushes
/// from the one protocol table in [`crate::pb`] (`trd`, `trd_secret` and `trd_write`
/// requests, `push_trd` and `push_conn` pushes). GetGlobalState, whose method fills the
/// request itself, is written by hand.
macro_rules! trade_half {
    (
        session { $($_s:tt)* }
        conn { $($_c:tt)* }
        trd { $($t_ty:ident = $t_id:literal, $t_name:literal, $t_m:ident, $t_fn:ident, $t_spi:ident, [$($t_fa:literal),*], [$($t_sa:literal),*], $t_doc:literal;)* }
        trd_secret { $($x_ty:ident = $x_id:literal, $x_name:literal, $x_m:ident, $x_fn:ident, $x_spi:ident, [$($x_fa:literal),*], [$($x_sa:literal),*], $x_doc:literal;)* }
        trd_write { $($w_ty:ident = $w_id:literal, $w_name:literal, $w_m:ident, $w_fn:ident, $w_spi:ident, [$($w_fa:literal),*], [$($w_sa:literal),*], $w_doc:literal;)* }
        qot { $($_q:tt)* }
        push_conn { $($pc_ty:ident = $pc_id:literal, $pc_name:literal, $pc_m:ident, $pc_spi:ident, [$($pc_sa:literal),*], $pc_doc:literal;)* }
        push_trd { $($pt_ty:ident = $pt_id:literal, $pt_name:literal, $pt_m:ident, $pt_spi:ident, [$($pt_sa:literal),*], $pt_doc:literal;)* }
        push_qot { $($_pq:tt)* }
        unnumbered { $($_u:tt)* }
        unnumbered_push { $($_up:tt)* }
    ) => {
        /// Replies and pushes (C++, C# and Java `FTSPI_Trd`: `OnReply_PlaceOrder` /
        /// `onReply_PlaceOrder`, `OnPush_UpdateOrder` / `onPush_UpdateOrder`, ...).
        ///
        /// Each `on_reply_*` receives the serial number its request returned and either the
        /// reply's `s2c` or an [`Error`]: OpenD's refusal ([`Error::Server`] with retType,
        /// retMsg and errCode), a timeout ([`Error::Timeout`], retType -100) or a lost
        /// connection ([`Error::Disconnected`], retType -200). Every request that returned a
        /// non-zero serial gets exactly one call. All methods default to doing nothing and
        /// run on the connection's callback thread with no lock held (see [`ConnSpi`]).
        #[doc(alias = "FTSPI_Trd")]
        pub trait TrdSpi: Send + Sync {
            /// `GetGlobalState` (1002) reply.
            #[doc(alias = "OnReply_GetGlobalState")]
            #[doc(alias = "onReply_GetGlobalState")]
            fn on_reply_get_global_state(&self, api: &TrdApi, serial: u32, result: Result<pb::get_global_state::S2c, Error>) {
                let _ = (api, serial, result);
            }
            $( trade_half!(@reply $t_id, $t_name, $t_m, $t_spi, [$($t_sa),*]); )*
            $( trade_half!(@reply $x_id, $x_name, $x_m, $x_spi, [$($x_sa),*]); )*
            $( trade_half!(@reply $w_id, $w_name, $w_m, $w_spi, [$($w_sa),*]); )*
            $( trade_half!(@push $pt_id, $pt_name, $pt_m, $pt_spi, [$($pt_sa),*], $pt_doc); )*
            $( trade_half!(@push $pc_id, $pc_name, $pc_m, $pc_spi, [$($pc_sa),*], $pc_doc); )*
        }

        impl TrdApi {
            $( trade_half!(@method $t_ty, $t_id, $t_name, $t_fn, $t_spi, [$($t_fa),*], $t_doc, ""); )*
            $( trade_half!(@method $x_ty, $x_id, $x_name, $x_fn, $x_spi, [$($x_fa),*], $x_doc,
                "The request's `pwdMD5` is wiped from memory after it was sent."); )*
            $( trade_half!(@method $w_ty, $w_id, $w_name, $w_fn, $w_spi, [$($w_fa),*], $w_doc,
                "`packetID` is filled with `{conn_id, serial}` unless set."); )*
        }

        /// Decodes a push and calls its `TrdSpi` callback; pushes without one (market-data
        /// pushes, unknown ids) are logged and dropped.
        fn dispatch_push(spi: &dyn TrdSpi, api: &TrdApi, proto_id: u32, body: &[u8]) {
            match proto_id {
                $(
                    $pt_id => {
                        if let Some(s) = decode_push::<pb::$pt_m::Response>(proto_id, body) {
                            spi.$pt_spi(api, s);
                        }
                    }
                )*
                $(
                    $pc_id => {
                        if let Some(s) = decode_push::<pb::$pc_m::Response>(proto_id, body) {
                            spi.$pc_spi(api, s);
                        }
                    }
                )*
                other => log::debug!("push {other} has no TrdSpi callback"),
            }
        }
    };
    (@reply $id:literal, $name:literal, $m:ident, $spi:ident, [$($alias:literal),*]) => {
        #[doc = concat!("`", $name, "` (", stringify!($id), ") reply.")]
        #[doc(alias = $name)]
        $( #[doc(alias = $alias)] )*
        fn $spi(&self, api: &TrdApi, serial: u32, result: Result<pb::$m::S2c, Error>) {
            let _ = (api, serial, result);
        }
    };
    (@push $id:literal, $name:literal, $m:ident, $spi:ident, [$($alias:literal),*], $doc:literal) => {
        #[doc = concat!("`", $name, "` push (", stringify!($id), "): ", $doc)]
        #[doc(alias = $name)]
        $( #[doc(alias = $alias)] )*
        fn $spi(&self, api: &TrdApi, push: pb::$m::S2c) {
            let _ = (api, push);
        }
    };
    (@method $ty:ident, $id:literal, $name:literal, $fn:ident, $spi:ident, [$($alias:literal),*], $doc:literal, $more:literal) => {
        #[doc = concat!("`", $name, "` (", stringify!($id), "): ", $doc, " ", $more)]
        #[doc = ""]
        #[doc = concat!("Returns the serial number at once (0 if it could not be sent); the reply arrives in [`TrdSpi::", stringify!($spi), "`].")]
        #[doc(alias = $name)]
        $( #[doc(alias = $alias)] )*
        pub fn $fn(&self, req: <pb::proto::$ty as Protocol>::Request) -> u32 {
            self.send_to_spi::<pb::proto::$ty>(req, |spi, api, serial, r| spi.$spi(api, serial, r))
        }
    };
}

pb::protocol_table!(trade_half);

/// Decodes a reply body: `retType != 0` becomes [`Error::Server`]; a success without
/// `s2c` yields the default `s2c` (OpenD omits empty ones).
pub(crate) fn decode_reply<P: Protocol>(body: &[u8]) -> Result<S2c<P>> {
    let rsp: P::Response = decode_body(body)?;
    if rsp.ret_type() != ret_type::SUCCEED {
        return Err(Error::Server {
            proto_id: P::PROTO_ID,
            ret_type: rsp.ret_type(),
            ret_msg: rsp.ret_msg().to_string(),
            err_code: rsp.err_code(),
        });
    }
    Ok(rsp.into_s2c().unwrap_or_default())
}

/// Decodes a push body to its `s2c`; a push that fails to decode, carries a non-zero
/// `retType` or has no `s2c` is logged and dropped (`None`).
pub(crate) fn decode_push<R: ResponseEnvelope>(proto_id: u32, body: &[u8]) -> Option<R::S2c> {
    match decode_body::<R>(body) {
        Ok(r) if r.ret_type() == 0 => r.into_s2c().or_else(|| {
            log::warn!("push {proto_id} without s2c dropped");
            None
        }),
        Ok(r) => {
            log::warn!("push {proto_id} with retType {} dropped: {}", r.ret_type(), r.ret_msg());
            None
        }
        Err(e) => {
            log::warn!("undecodable push {proto_id} dropped: {e}");
            None
        }
    }
}

/// Runs the callback of one push: a panic costs that push only, not the rest of the run.
fn guarded(proto_id: u32, deliver: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(deliver)).is_err() {
        log::error!("the callback of push {proto_id} panicked; the panic was caught and the connection goes on");
    }
}

struct ApiEvents {
    api: Weak<ApiInner>,
}

impl ApiEvents {
    fn target(&self, conn: &Arc<Connection>) -> Option<Arc<ApiInner>> {
        self.api.upgrade().filter(|inner| inner.is_current(conn))
    }
}

impl ConnEvents for ApiEvents {
    fn init_done(&self, conn: &Arc<Connection>, result: std::result::Result<InitInfo, ConnFailure>) {
        let Some(inner) = self.target(conn) else { return };
        if let Err(f) = &result {
            *inner.last_failure.lock() = Some(f.clone());
        }
        let spi = inner.conn_spi.read().clone();
        let api = TrdApi::view(inner);
        let Some(spi) = spi else {
            log::info!("InitConnect finished ({:?}) but no ConnSpi is set", result.as_ref().err());
            return;
        };
        match result {
            Ok(_) => spi.on_init_connect(&api, 0, ""),
            Err(f) => spi.on_init_connect(&api, f.err_code(), f.message()),
        }
    }

    fn push(&self, conn: &Arc<Connection>, pushes: &mut PushRun<'_>) {
        // Looked up once for the whole run of pushes.
        let Some(inner) = self.target(conn) else { return };
        let hook = inner.push_hook.read().clone();
        let spi = inner.trd_spi.read().clone();
        let api = TrdApi::view(inner);
        if let Some(hook) = hook {
            for (proto_id, body) in pushes {
                guarded(proto_id, || hook(&api, proto_id, body));
            }
            return;
        }
        let Some(spi) = spi else {
            log::debug!("{} push(es) dropped: no TrdSpi set", pushes.count());
            return;
        };
        for (proto_id, body) in pushes {
            guarded(proto_id, || dispatch_push(&*spi, &api, proto_id, body));
        }
    }

    fn lost(&self, conn: &Arc<Connection>, failure: ConnFailure) {
        let Some(inner) = self.target(conn) else { return };
        *inner.last_failure.lock() = Some(failure.clone());
        let spi = inner.conn_spi.read().clone();
        let api = TrdApi::view(inner);
        match spi {
            Some(spi) => spi.on_disconnect(&api, failure.err_code(), failure.message()),
            None => log::warn!("connection lost ({failure}) and no ConnSpi is set"),
        }
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<TrdApi>();
}
