//! `QotApi`: one market-data connection to OpenD with callbacks.
//!
//! `QotApi` runs on the same machinery as [`TrdApi`]: it owns one `TrdApi` as its
//! connection engine (settings, I/O and callback threads, serials, timeouts, blocking calls) and
//! adds only what differs: its own [`QotSpi`] for replies and market-data pushes, and a
//! [`ConnSpi<QotApi>`] that is handed a `&QotApi`. The request methods and the `QotSpi`
//! callbacks are generated from the one protocol table in [`crate::pb`].

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;

use super::trd_api::{decode_push, ConnSpi, TrdApi};
use crate::codec::RsaKey;
use crate::conn::{ConnConfig, ConnState, InitInfo};
use crate::error::{Error, Result};
use crate::pb::{self, C2s, Protocol, S2c};

/// Hands a decoded reply to its `QotSpi` callback.
type Deliver<P> = fn(&dyn QotSpi, &QotApi, u32, Result<S2c<P>, Error>);

struct QotShared {
    /// The connection engine; its push hook and connection callbacks lead back here.
    engine: TrdApi,
    conn_spi: RwLock<Option<Arc<dyn ConnSpi<QotApi>>>>,
    qot_spi: RwLock<Option<Arc<dyn QotSpi>>>,
}

/// One market-data connection to OpenD (C++ `FTAPI_Qot`, Java/C# `FTAPI_Conn_Qot`).
///
/// Shaped like [`TrdApi`]: [`init_connect`](QotApi::init_connect) returns at once and
/// reports through [`ConnSpi::on_init_connect`]; each request method (one per `Qot_*`
/// request protocol, plus GetGlobalState, GetUserInfo, Verification and
/// GetDelayStatistics) returns the request's serial number at once (0 if it could not be
/// sent), and the reply arrives in the matching [`QotSpi`] `on_reply_*` callback.
/// Pushes of subscribed data (3005 basic quote, 3007 K-line, 3009 time-sharing, 3011
/// ticker, 3013 order book, 3015 broker queue, 3019 price reminder, ...) arrive in the
/// `on_push_*` callbacks. [`call`](QotApi::call) blocks for a reply instead.
///
/// One `QotApi` per connection, like the official SDKs. It is `Send + Sync`: share it
/// with `Arc`. Dropping it closes the connection.
///
/// ```no_run
/// use std::sync::Arc;
/// use ftapi::{pb, ConnSpi, Error, QotApi, QotSpi};
///
/// struct Spi;
/// impl ConnSpi<QotApi> for Spi {
///     fn on_init_connect(&self, api: &QotApi, err_code: i64, desc: &str) {
///         println!("connected: {err_code} {desc} conn_id={}", api.get_connect_id());
///     }
/// }
/// impl QotSpi for Spi {
///     fn on_reply_get_basic_qot(&self, _api: &QotApi, serial: u32, r: Result<pb::qot_get_basic_qot::S2c, Error>) {
///         println!("reply {serial}: {r:?}");
///     }
///     fn on_push_update_basic_qot(&self, _api: &QotApi, push: pb::qot_update_basic_qot::S2c) {
///         for q in &push.basic_qot_list {
///             println!("{} last={}", q.security.code, q.cur_price);
///         }
///     }
/// }
///
/// let api = QotApi::new();
/// let spi = Arc::new(Spi);
/// api.set_conn_spi(spi.clone());
/// api.set_qot_spi(spi);
/// api.init_connect("127.0.0.1", 11111, false);
/// // once on_init_connect reported success: subscribe, then pushes flow
/// let hk00700 = pb::qot_common::Security { market: 1, code: "00700".into() };
/// let sub = api.call::<pb::proto::Sub>(pb::qot_sub::C2s {
///     security_list: vec![hk00700.clone()],
///     sub_type_list: vec![1], // SubType_Basic
///     is_sub_or_un_sub: true,
///     is_reg_or_un_reg_push: Some(true),
///     ..Default::default()
/// })?;
/// let serial = api.get_basic_qot(pb::qot_get_basic_qot::Request {
///     c2s: pb::qot_get_basic_qot::C2s { security_list: vec![hk00700], ..Default::default() },
/// });
/// # Ok::<(), Error>(())
/// ```
pub struct QotApi {
    shared: Arc<QotShared>,
    owner: bool,
}

impl std::fmt::Debug for QotApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QotApi").field("engine", &self.shared.engine).finish()
    }
}

impl Default for QotApi {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for QotApi {
    fn drop(&mut self) {
        if self.owner {
            self.close();
        }
    }
}

/// The engine's connection callbacks, forwarded to the user's `ConnSpi<QotApi>`.
struct ConnAdapter(Weak<QotShared>);

impl ConnSpi for ConnAdapter {
    fn on_init_connect(&self, _engine: &TrdApi, err_code: i64, desc: &str) {
        let Some(shared) = self.0.upgrade() else { return };
        let spi = shared.conn_spi.read().clone();
        match spi {
            Some(spi) => spi.on_init_connect(&QotApi::view(shared), err_code, desc),
            None => log::info!("QotApi InitConnect finished ({err_code} {desc}) but no ConnSpi is set"),
        }
    }

    fn on_disconnect(&self, _engine: &TrdApi, err_code: i64, desc: &str) {
        let Some(shared) = self.0.upgrade() else { return };
        let spi = shared.conn_spi.read().clone();
        match spi {
            Some(spi) => spi.on_disconnect(&QotApi::view(shared), err_code, desc),
            None => log::warn!("QotApi connection lost ({desc}) and no ConnSpi is set"),
        }
    }
}

impl QotApi {
    /// A new, unconnected API object (C++ `CreateQotApi`).
    pub fn new() -> QotApi {
        Self::with_config(ConnConfig::default())
    }

    /// A new API object with the given connection settings.
    pub fn with_config(config: ConnConfig) -> QotApi {
        let shared = Arc::new_cyclic(|weak: &Weak<QotShared>| {
            let engine = TrdApi::with_config(config);
            engine.set_conn_spi(Arc::new(ConnAdapter(weak.clone())));
            let w = weak.clone();
            engine.set_push_hook(Arc::new(move |_engine: &TrdApi, proto_id: u32, body: &[u8]| {
                let Some(shared) = w.upgrade() else { return };
                let spi = shared.qot_spi.read().clone();
                match spi {
                    Some(spi) => dispatch_push(&*spi, &QotApi::view(shared), proto_id, body),
                    None => log::debug!("push {proto_id} dropped: no QotSpi set"),
                }
            }));
            QotShared { engine, conn_spi: RwLock::new(None), qot_spi: RwLock::new(None) }
        });
        QotApi { shared, owner: true }
    }

    /// A non-owning handle for callbacks: dropping it does not close.
    fn view(shared: Arc<QotShared>) -> QotApi {
        QotApi { shared, owner: false }
    }

    /// Sets `InitConnect.clientID` and `clientVer` (C++ `SetClientInfo`). Takes effect at
    /// the next `init_connect`.
    pub fn set_client_info(&self, client_id: &str, client_ver: i32) {
        self.shared.engine.set_client_info(client_id, client_ver);
    }

    /// Replaces the connection settings. Takes effect at the next `init_connect`.
    pub fn set_config(&self, config: ConnConfig) {
        self.shared.engine.set_config(config);
    }

    /// The connection settings.
    pub fn config(&self) -> ConnConfig {
        self.shared.engine.config()
    }

    /// Sets the request timeout (default 12 s). Takes effect at the next `init_connect`.
    #[deprecated(note = "use ConnConfig::builder().request_timeout(..) with QotApi::with_config")]
    pub fn set_request_timeout(&self, timeout: Duration) {
        let config = self.shared.engine.config().to_builder().request_timeout(timeout).build();
        self.shared.engine.set_config(config);
    }

    /// Sets the RSA private key (PEM) for encrypted connections (C++ `SetRSAPrivateKey`).
    pub fn set_rsa_private_key(&self, pem: &str) -> Result<()> {
        self.shared.engine.set_rsa_private_key(pem)
    }

    /// Sets an already parsed RSA key.
    pub fn set_rsa_key(&self, key: RsaKey) {
        self.shared.engine.set_rsa_key(key);
    }

    /// Sets the connection callbacks (C++ `RegisterConnSpi`, C# `SetConnCallback`, Java
    /// `setConnSpi`).
    pub fn set_conn_spi(&self, spi: Arc<dyn ConnSpi<QotApi>>) {
        *self.shared.conn_spi.write() = Some(spi);
    }

    /// Sets the reply and push callbacks (C++ `RegisterQotSpi`, C# `SetQotCallback`, Java
    /// `setQotSpi`).
    #[doc(alias = "RegisterQotSpi")]
    #[doc(alias = "SetQotCallback")]
    #[doc(alias = "setQotSpi")]
    pub fn set_qot_spi(&self, spi: Arc<dyn QotSpi>) {
        *self.shared.qot_spi.write() = Some(spi);
    }

    fn qot_spi(&self) -> Option<Arc<dyn QotSpi>> {
        self.shared.qot_spi.read().clone()
    }

    /// Starts connecting to OpenD and returns at once (C++ `InitConnect`); see
    /// [`TrdApi::init_connect`], which this is.
    pub fn init_connect(&self, ip: &str, port: u16, encrypt: bool) -> bool {
        self.shared.engine.init_connect(ip, port, encrypt)
    }

    /// Connects over OpenD's WebSocket port (the JavaScript SDK's `start(ip, port, ssl,
    /// key)`); see [`TrdApi::init_connect_ws`], which this is.
    #[cfg(feature = "websocket")]
    pub fn init_connect_ws(&self, ip: &str, port: u16, ssl: bool, key: &str) -> bool {
        self.shared.engine.init_connect_ws(ip, port, ssl, key)
    }

    /// Connects over any [`Transport`](crate::conn::Transport); see
    /// [`TrdApi::init_connect_with`], which this is.
    pub fn init_connect_with(&self, transport: Box<dyn crate::conn::Transport>) -> bool {
        self.shared.engine.init_connect_with(transport)
    }

    /// Why the last connection failed to open or was lost, typed; see
    /// [`TrdApi::last_conn_failure`].
    pub fn last_conn_failure(&self) -> Option<crate::conn::ConnFailure> {
        self.shared.engine.last_conn_failure()
    }

    /// Closes the connection (C++ `Close`); see [`TrdApi::close`].
    pub fn close(&self) {
        self.shared.engine.close();
    }

    /// OpenD's connection id, 0 when not connected (C++ `GetConnectID`).
    pub fn get_connect_id(&self) -> u64 {
        self.shared.engine.get_connect_id()
    }

    /// The user logged into OpenD, 0 when not connected.
    pub fn get_login_user_id(&self) -> u64 {
        self.shared.engine.get_login_user_id()
    }

    /// Everything InitConnect told us, when connected.
    pub fn init_info(&self) -> Option<InitInfo> {
        self.shared.engine.init_info()
    }

    /// The connection's state (`Closed` if none was started).
    pub fn state(&self) -> ConnState {
        self.shared.engine.state()
    }

    /// Whether InitConnect succeeded and the connection is up.
    pub fn is_connected(&self) -> bool {
        self.shared.engine.is_connected()
    }

    /// Requests in flight.
    pub fn pending_requests(&self) -> usize {
        self.shared.engine.pending_requests()
    }

    /// Sends any request and delivers the reply to `on_reply` on the callback thread.
    /// Returns the serial number, or an error if nothing was sent (then `on_reply` is
    /// never called).
    pub fn send<P: Protocol>(
        &self,
        req: P::Request,
        on_reply: impl FnOnce(&QotApi, u32, Result<S2c<P>>) + Send + 'static,
    ) -> Result<u32> {
        let weak = Arc::downgrade(&self.shared);
        self.shared.engine.send::<P>(req, move |_engine, serial, r| match weak.upgrade() {
            Some(shared) => on_reply(&QotApi::view(shared), serial, r),
            None => log::debug!("reply to {} serial {serial} after the QotApi was dropped", P::NAME),
        })
    }

    /// Sends a request and blocks for its reply (or the request timeout); see
    /// [`TrdApi::call`]. Like it, may be called from any thread, callbacks included.
    ///
    /// ```no_run
    /// # let api = ftapi::QotApi::new();
    /// use ftapi::pb;
    /// let quota = api.call::<pb::proto::RequestHistoryKLQuota>(pb::qot_request_history_kl_quota::C2s {
    ///     b_get_detail: Some(false),
    ///     ..Default::default()
    /// })?;
    /// println!("used {} of the history K-line quota, {} left", quota.used_quota, quota.remain_quota);
    /// # Ok::<(), ftapi::Error>(())
    /// ```
    pub fn call<P: Protocol>(&self, c2s: C2s<P>) -> Result<S2c<P>> {
        self.shared.engine.call::<P>(c2s)
    }

    /// [`call`](QotApi::call) with an explicit timeout and a whole `Request`.
    pub fn call_request<P: Protocol>(&self, req: P::Request, timeout: Option<Duration>) -> Result<S2c<P>> {
        self.shared.engine.call_request::<P>(req, timeout)
    }

    fn send_to_spi<P: Protocol>(&self, req: P::Request, deliver: Deliver<P>) -> u32 {
        let res = self.send::<P>(req, move |api, serial, r| match api.qot_spi() {
            Some(spi) => deliver(&*spi, api, serial, r),
            None => log::warn!("reply to {} serial {serial} but no QotSpi is set", P::NAME),
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

/// Generates [`QotSpi`] and the dispatch of its pushes from the one protocol table in
/// [`crate::pb`] (`conn` and `qot` replies, `push_qot` and `push_conn` pushes).
macro_rules! qot_spi {
    (
        session { $($_s:tt)* }
        conn { $($c_ty:ident = $c_id:literal, $c_name:literal, $c_m:ident, $c_fn:ident, $c_spi:ident;)* }
        trd { $($_t:tt)* }
        trd_secret { $($_x:tt)* }
        trd_write { $($_w:tt)* }
        qot { $($q_ty:ident = $q_id:literal, $q_name:literal, $q_m:ident, $q_fn:ident, $q_spi:ident;)* }
        push_conn { $($pc_ty:ident = $pc_id:literal, $pc_name:literal, $pc_m:ident, $pc_spi:ident, [$($pc_sa:literal),*], $pc_doc:literal;)* }
        push_trd { $($_pt:tt)* }
        push_qot { $($pq_ty:ident = $pq_id:literal, $pq_name:literal, $pq_m:ident, $pq_spi:ident;)* }
        unnumbered { $($_u:tt)* }
        unnumbered_push { $($_up:tt)* }
    ) => {
        /// Market-data replies and pushes (C++ `FTSPI_Qot`: `OnReply_GetBasicQot`,
        /// `OnPush_UpdateBasicQot`, ...).
        ///
        /// Each `on_reply_*` receives the serial number its request returned and either the
        /// reply's `s2c` or an [`Error`]: OpenD's refusal ([`Error::Server`] with retType,
        /// retMsg and errCode), a timeout ([`Error::Timeout`]) or a lost connection
        /// ([`Error::Disconnected`]). Every request that returned a non-zero serial gets
        /// exactly one call. Each `on_push_*` receives one decoded push (pushes that do not
        /// decode, or carry a non-zero retType, are logged and dropped). All methods default
        /// to doing nothing and run on the connection's callback thread with no lock held, in
        /// wire order; they may call any method of the `QotApi`, the blocking `call` included
        /// (see [`ConnSpi`]).
        ///
        /// ```
        /// use ftapi::{pb, QotApi, QotSpi};
        /// struct Printer;
        /// impl QotSpi for Printer {
        ///     fn on_push_update_order_book(&self, _api: &QotApi, push: pb::qot_update_order_book::S2c) {
        ///         let best_bid = push.order_book_bid_list.first().map(|l| (l.price, l.volume));
        ///         println!("{} best bid {best_bid:?}", push.security.code);
        ///     }
        ///     fn on_push_update_ticker(&self, _api: &QotApi, push: pb::qot_update_ticker::S2c) {
        ///         println!("{} {} tickers", push.security.code, push.ticker_list.len());
        ///     }
        /// }
        /// ```
        pub trait QotSpi: Send + Sync {
            $(
                #[doc = concat!("`", $c_name, "` (", stringify!($c_id), ") reply, C++ `OnReply_", stringify!($c_ty), "`.")]
                fn $c_spi(&self, api: &QotApi, serial: u32, result: Result<pb::$c_m::S2c, Error>) {
                    let _ = (api, serial, result);
                }
            )*
            $(
                #[doc = concat!("`", $q_name, "` (", stringify!($q_id), ") reply, C++ `OnReply_", stringify!($q_ty), "`.")]
                #[doc(alias = $q_name)]
                fn $q_spi(&self, api: &QotApi, serial: u32, result: Result<pb::$q_m::S2c, Error>) {
                    let _ = (api, serial, result);
                }
            )*
            $(
                #[doc = concat!("`", $pq_name, "` push (", stringify!($pq_id), "), C++ `OnPush_", stringify!($pq_ty), "`.")]
                #[doc(alias = $pq_name)]
                fn $pq_spi(&self, api: &QotApi, push: pb::$pq_m::S2c) {
                    let _ = (api, push);
                }
            )*
            $(
                #[doc = concat!("`", $pc_name, "` push (", stringify!($pc_id), "): ", $pc_doc)]
                #[doc(alias = $pc_name)]
                $( #[doc(alias = $pc_sa)] )*
                fn $pc_spi(&self, api: &QotApi, push: pb::$pc_m::S2c) {
                    let _ = (api, push);
                }
            )*
        }

        /// Decodes a push and calls its `QotSpi` callback; pushes without one (trade
        /// pushes, unknown ids) are logged and dropped.
        pub(crate) fn dispatch_push(spi: &dyn QotSpi, api: &QotApi, proto_id: u32, body: &[u8]) {
            match proto_id {
                $(
                    $pq_id => {
                        if let Some(s) = decode_push::<pb::$pq_m::Response>(proto_id, body) {
                            spi.$pq_spi(api, s);
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
                other => log::debug!("push {other} has no QotSpi callback"),
            }
        }
    };
}

pb::protocol_table!(qot_spi);

macro_rules! qot_request_methods {
    (
        session { $($_s:tt)* }
        conn { $($c_ty:ident = $c_id:literal, $c_name:literal, $c_m:ident, $c_fn:ident, $c_spi:ident;)* }
        trd { $($_t:tt)* }
        trd_secret { $($_x:tt)* }
        trd_write { $($_w:tt)* }
        qot { $($q_ty:ident = $q_id:literal, $q_name:literal, $q_m:ident, $q_fn:ident, $q_spi:ident;)* }
        push_conn { $($_pc:tt)* }
        push_trd { $($_pt:tt)* }
        push_qot { $($_pq:tt)* }
        unnumbered { $($_u:tt)* }
        unnumbered_push { $($_up:tt)* }
    ) => {
        impl QotApi {
            $( qot_request_methods!(@one $c_ty, $c_id, $c_name, $c_fn, $c_spi); )*
            $( qot_request_methods!(@one $q_ty, $q_id, $q_name, $q_fn, $q_spi); )*
        }
    };
    (@one $ty:ident, $id:literal, $name:literal, $fn:ident, $spi:ident) => {
        #[doc = concat!("`", $name, "` (", stringify!($id), "), C++ `FTAPI_Qot::", stringify!($ty), "`.")]
        #[doc = ""]
        #[doc = concat!("Returns the serial number at once (0 if it could not be sent); the reply arrives in [`QotSpi::", stringify!($spi), "`].")]
        #[doc(alias = $name)]
        pub fn $fn(&self, req: <pb::proto::$ty as Protocol>::Request) -> u32 {
            self.send_to_spi::<pb::proto::$ty>(req, |spi, api, serial, r| spi.$spi(api, serial, r))
        }
    };
}

pb::protocol_table!(qot_request_methods);

#[allow(dead_code)]
fn assert_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<QotApi>();
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use parking_lot::Mutex;

    use super::*;

    /// Records `(callback, serial, ok)` for every reply.
    #[derive(Default)]
    struct Every(Mutex<Vec<(&'static str, u32, bool)>>);

    macro_rules! every_request {
        (
            session { $($_s:tt)* }
            conn { $($c_ty:ident = $c_id:literal, $c_name:literal, $c_m:ident, $c_fn:ident, $c_spi:ident;)* }
            trd { $($_t:tt)* }
            trd_secret { $($_x:tt)* }
            trd_write { $($_w:tt)* }
            qot { $($q_ty:ident = $q_id:literal, $q_name:literal, $q_m:ident, $q_fn:ident, $q_spi:ident;)* }
            push_conn { $($_pc:tt)* }
            push_trd { $($_pt:tt)* }
            push_qot { $($_pq:tt)* }
            unnumbered { $($_u:tt)* }
            unnumbered_push { $($_up:tt)* }
        ) => {
            impl QotSpi for Every {
                $(
                    fn $c_spi(&self, _api: &QotApi, serial: u32, r: Result<pb::$c_m::S2c, Error>) {
                        self.0.lock().push((stringify!($c_spi), serial, r.is_ok()));
                    }
                )*
                $(
                    fn $q_spi(&self, _api: &QotApi, serial: u32, r: Result<pb::$q_m::S2c, Error>) {
                        self.0.lock().push((stringify!($q_spi), serial, r.is_ok()));
                    }
                )*
            }

            /// Sends a default request with every generated method: `(callback, serial)`.
            fn send_every(api: &QotApi) -> Vec<(&'static str, u32)> {
                vec![
                    $( (stringify!($c_spi), api.$c_fn(Default::default())), )*
                    $( (stringify!($q_spi), api.$q_fn(Default::default())), )*
                ]
            }
        };
    }

    pb::protocol_table!(every_request);

    #[test]
    fn every_request_method_gets_exactly_one_reply_in_its_own_callback() {
        let sim = crate::sim::SimServer::builder().port(0).start().expect("simulator");
        let api = QotApi::new();
        let every = Arc::new(Every::default());
        api.set_qot_spi(every.clone());
        assert!(api.init_connect("127.0.0.1", sim.local_addr().port(), false));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !api.is_connected() {
            assert!(Instant::now() < deadline, "not connected");
            std::thread::sleep(Duration::from_millis(10));
        }
        let sent = send_every(&api);
        assert!(sent.len() > 130, "{} request methods", sent.len());
        assert!(sent.iter().all(|(_, serial)| *serial != 0), "every request was sent");
        while every.0.lock().len() < sent.len() {
            assert!(Instant::now() < deadline, "{} of {} replies", every.0.lock().len(), sent.len());
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(50));
        let got = every.0.lock().clone();
        assert_eq!(got.len(), sent.len(), "exactly one reply each");
        for (spi, serial) in &sent {
            assert!(got.iter().any(|(s, n, _)| s == spi && n == serial), "{spi} serial {serial} not answered there");
        }
        // The simulator serves the market data it models (GetGlobalState among them).
        assert!(got.iter().any(|(s, _, ok)| *s == "on_reply_get_global_state" && *ok));
        assert_eq!(api.pending_requests(), 0);
    }
}
