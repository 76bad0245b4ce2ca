//! Porting from the official SDKs: every official name and the ftapi item that
//! replaces it.
//!
//! This module holds documentation only. Every official name in the tables below is
//! also a `#[doc(alias = ...)]` of the ftapi item next to it, so typing the name you know
//! (`OnReply_PlaceOrder`, `SetConnCallback`, `initConnect`, `OpenSecTradeContext` ...)
//! into the documentation's search box finds the item. Names marked "(no alias)" are
//! not needed in ftapi or have no single counterpart.
//!
//! # The callback SDKs: C++, C# and Java
//!
//! The three official callback SDKs share one design and differ in spelling:
//!
//! | | C++ (`FTAPI.h`, `FTSPI.h`) | C# (FTAPI4NET) | Java (FTAPI4J) |
//! |---|---|---|---|
//! | trade connection class | `FTAPI_Trd`, made by `FTAPI::CreateTrdApi()`, freed by `FTAPI::ReleaseTrdApi(p)` | `FTAPI_Trd` (`new FTAPI_Trd()`) | `FTAPI_Conn_Trd` (`new FTAPI_Conn_Trd()`) |
//! | callback interfaces | `FTSPI_Conn`, `FTSPI_Trd` | `FTSPI_Conn`, `FTSPI_Trd` | `FTSPI_Conn`, `FTSPI_Trd` |
//! | setting the callbacks | `RegisterConnSpi`, `RegisterTrdSpi` | `SetConnCallback`, `SetTrdCallback` | `setConnSpi`, `setTrdSpi` |
//! | method names | `PascalCase` | `PascalCase` | `camelCase` |
//! | disconnect callback | `OnDisConnect` (capital C) | `OnDisconnect` | `onDisconnect` |
//!
//! ftapi has one [`TrdApi`](crate::TrdApi) and the two traits [`ConnSpi`](crate::ConnSpi)
//! and [`TrdSpi`](crate::TrdSpi), named after the protocols in `snake_case`:
//!
//! | C++ | C# | Java | ftapi |
//! |---|---|---|---|
//! | `FTAPI::Init()` / `FTAPI::UnInit()` | `FTAPI.Init()` | `FTAPI.init()` | not needed (no alias) |
//! | `FTAPI::CreateTrdApi()` | `new FTAPI_Trd()` | `new FTAPI_Conn_Trd()` | [`TrdApi::new`](crate::TrdApi::new) (type [`TrdApi`](crate::TrdApi): aliases `FTAPI_Trd`, `FTAPI_Conn_Trd`, `FTAPI_Conn`) |
//! | `FTAPI::ReleaseTrdApi(p)` | `Close()` | `close()` | drop the [`TrdApi`](crate::TrdApi), or [`TrdApi::close`](crate::TrdApi::close) |
//! | `SetClientInfo(id, ver)` | `SetClientInfo` | `setClientInfo` | [`TrdApi::set_client_info`](crate::TrdApi::set_client_info) |
//! | `SetRSAPrivateKey(pem)` | `SetRSAPrivateKey` | `setRSAPrivateKey` | [`TrdApi::set_rsa_private_key`](crate::TrdApi::set_rsa_private_key) (PKCS#1 or PKCS#8 PEM) |
//! | `RegisterConnSpi(spi)` | `SetConnCallback(spi)` | `setConnSpi(spi)` | [`TrdApi::set_conn_spi`](crate::TrdApi::set_conn_spi) |
//! | `RegisterTrdSpi(spi)` | `SetTrdCallback(spi)` | `setTrdSpi(spi)` | [`TrdApi::set_trd_spi`](crate::TrdApi::set_trd_spi) |
//! | `InitConnect(ip, port, encrypt)` | `InitConnect` | `initConnect` | [`TrdApi::init_connect`](crate::TrdApi::init_connect) |
//! | `GetConnectID()` | `GetConnectID` | `getConnectID` | [`TrdApi::get_connect_id`](crate::TrdApi::get_connect_id) |
//! | (login user id, no method) | | | [`TrdApi::get_login_user_id`](crate::TrdApi::get_login_user_id) |
//! | `Close()` | `Close()` | `close()` | [`TrdApi::close`](crate::TrdApi::close) (idempotent; safe inside callbacks) |
//! | `FTSPI_Conn` | `FTSPI_Conn` | `FTSPI_Conn` | [`ConnSpi`](crate::ConnSpi) |
//! | `OnInitConnect(conn, errCode, desc)` | `OnInitConnect` | `onInitConnect` | [`ConnSpi::on_init_connect`](crate::ConnSpi::on_init_connect) |
//! | `OnDisConnect(conn, errCode)` | `OnDisconnect` | `onDisconnect` | [`ConnSpi::on_disconnect`](crate::ConnSpi::on_disconnect) (also gets a description) |
//! | `FTSPI_Trd` | `FTSPI_Trd` | `FTSPI_Trd` | [`TrdSpi`](crate::TrdSpi) |
//! | `GetGlobalState(req)` | `GetGlobalState` | `getGlobalState` | [`TrdApi::get_global_state`](crate::TrdApi::get_global_state) → [`TrdSpi::on_reply_get_global_state`](crate::TrdSpi::on_reply_get_global_state) |
//! | `GetAccList(req)` | `GetAccList` | `getAccList` | [`TrdApi::get_acc_list`](crate::TrdApi::get_acc_list) |
//! | `UnlockTrade(req)` | `UnlockTrade` | `unlockTrade` | [`TrdApi::unlock_trade`](crate::TrdApi::unlock_trade) |
//! | `SubAccPush(req)` | `SubAccPush` | `subAccPush` | [`TrdApi::sub_acc_push`](crate::TrdApi::sub_acc_push) |
//! | `GetFunds(req)` | `GetFunds` | `getFunds` | [`TrdApi::get_funds`](crate::TrdApi::get_funds) |
//! | `GetPositionList(req)` | `GetPositionList` | `getPositionList` | [`TrdApi::get_position_list`](crate::TrdApi::get_position_list) |
//! | `GetMaxTrdQtys(req)` | `GetMaxTrdQtys` | `getMaxTrdQtys` | [`TrdApi::get_max_trd_qtys`](crate::TrdApi::get_max_trd_qtys) |
//! | `GetComboMaxTrdQtys(req)` | `GetComboMaxTrdQtys` | `getComboMaxTrdQtys` | [`TrdApi::get_combo_max_trd_qtys`](crate::TrdApi::get_combo_max_trd_qtys) |
//! | `GetOrderList(req)` | `GetOrderList` | `getOrderList` | [`TrdApi::get_order_list`](crate::TrdApi::get_order_list) |
//! | `PlaceOrder(req)` | `PlaceOrder` | `placeOrder` | [`TrdApi::place_order`](crate::TrdApi::place_order) (`packetID` filled for you) |
//! | `ModifyOrder(req)` | `ModifyOrder` | `modifyOrder` | [`TrdApi::modify_order`](crate::TrdApi::modify_order) (`packetID` filled for you) |
//! | `GetOrderFillList(req)` | `GetOrderFillList` | `getOrderFillList` | [`TrdApi::get_order_fill_list`](crate::TrdApi::get_order_fill_list) |
//! | `GetHistoryOrderList(req)` | `GetHistoryOrderList` | `getHistoryOrderList` | [`TrdApi::get_history_order_list`](crate::TrdApi::get_history_order_list) |
//! | `GetHistoryOrderFillList(req)` | `GetHistoryOrderFillList` | `getHistoryOrderFillList` | [`TrdApi::get_history_order_fill_list`](crate::TrdApi::get_history_order_fill_list) |
//! | `GetMarginRatio(req)` | `GetMarginRatio` | `getMarginRatio` | [`TrdApi::get_margin_ratio`](crate::TrdApi::get_margin_ratio) |
//! | `GetOrderFee(req)` | `GetOrderFee` | `getOrderFee` | [`TrdApi::get_order_fee`](crate::TrdApi::get_order_fee) |
//! | `GetFlowSummary(req)` | `GetFlowSummary` | `getFlowSummary` | [`TrdApi::get_flow_summary`](crate::TrdApi::get_flow_summary) |
//! | `PlaceComboOrder(req)` | `PlaceComboOrder` | `placeComboOrder` | [`TrdApi::place_combo_order`](crate::TrdApi::place_combo_order) (`packetID` filled for you) |
//! | `OnReply_GetAccList(serial, rsp)` ... | `OnReply_GetAccList(conn, serial, rsp)` ... | `onReply_GetAccList(conn, serial, rsp)` ... | [`TrdSpi::on_reply_get_acc_list`](crate::TrdSpi::on_reply_get_acc_list) ... (one `on_reply_*` per request above; each is aliased `OnReply_X` and `onReply_X`) |
//! | `OnReply_PlaceOrder(serial, rsp)` | `OnReply_PlaceOrder` | `onReply_PlaceOrder` | [`TrdSpi::on_reply_place_order`](crate::TrdSpi::on_reply_place_order) |
//! | `OnPush_UpdateOrder(rsp)` | `OnPush_UpdateOrder` | `onPush_UpdateOrder` | [`TrdSpi::on_push_update_order`](crate::TrdSpi::on_push_update_order) |
//! | `OnPush_UpdateOrderFill(rsp)` | `OnPush_UpdateOrderFill` | `onPush_UpdateOrderFill` | [`TrdSpi::on_push_update_order_fill`](crate::TrdSpi::on_push_update_order_fill) |
//! | `OnPush_Notify(rsp)` (on `FTSPI_Qot` in C++) | `OnPush_Notify` | `onPush_Notify` | [`TrdSpi::on_push_notify`](crate::TrdSpi::on_push_notify) |
//!
//! What changes in the shape of the calls:
//!
//! - Requests take the protocol's generated `Request` type (`ftapi::pb::trd_place_order::Request`
//!   and so on: the message and field names of the official `.proto` files, in
//!   `snake_case`) and return the serial number at once, as in the official SDKs.
//! - A reply callback gets `Result<S2c, Error>` instead of the whole `Response`: `Ok`
//!   is `retType == 0`; OpenD's refusals are [`Error::Server`](crate::Error::Server)
//!   with `retType`, `retMsg` and `errCode`; a local timeout is
//!   [`Error::Timeout`](crate::Error::Timeout) (retType -100) and a lost connection
//!   [`Error::Disconnected`](crate::Error::Disconnected) (-200).
//!   [`Error::ret_type`](crate::Error::ret_type) gives the number for code that compares
//!   numbers.
//! - Every request that returned a serial gets exactly one reply callback.
//! - [`TrdApi::call`](crate::TrdApi::call) is a blocking request over the same connection,
//!   which the official SDKs do not have.
//!
//! # The connection error code (`errCode` of `OnInitConnect` / `OnDisConnect`)
//!
//! The official SDKs pass one 64-bit number to `OnInitConnect(errCode, desc)` and
//! `OnDisConnect(errCode)`. Zero means success. Otherwise it is composite:
//!
//! - the **high 32 bits** hold the kind of failure: a connect-failure kind (C++
//!   `FTAPI_ConnectFailType`) for socket, connect, send, receive and close failures, or
//!   the value 100 (`FTAPI_InitFail`) when InitConnect itself failed;
//! - the **low 32 bits** hold the operating system's error number (errno) for a
//!   connect-failure kind, or the InitConnect-failure kind (C++ `FTAPI_InitFailType`)
//!   for 100.
//!
//! | connect-failure kind (high 32 bits) | meaning |
//! |---:|---|
//! | -1 | unknown |
//! | 0 | none |
//! | 1 | the socket could not be created |
//! | 2 | closing failed |
//! | 3 | shutting down failed |
//! | 4 | the host name could not be resolved |
//! | 5 | resolving the host name gave an unusable result |
//! | 6 | connecting failed (refused, unreachable ...) |
//! | 7 | binding failed |
//! | 8 | listening failed |
//! | 9 | select/poll failed |
//! | 10 | sending failed |
//! | 11 | receiving failed |
//! | 100 | InitConnect failed: see the low 32 bits below |
//!
//! | InitConnect-failure kind (low 32 bits, with 100 above) | meaning |
//! |---:|---|
//! | 0 | unknown |
//! | 1 | OpenD did not answer InitConnect in time |
//! | 3 | the connection dropped during InitConnect |
//! | 4 | InitConnect could not be sent, or its reply had the wrong serial number |
//! | 5 | OpenD refused InitConnect; its `retMsg` is the description |
//!
//! For example a refused TCP connect on Linux (ECONNREFUSED = 111) reads
//! `(6 << 32) | 111`, and an InitConnect that OpenD refuses reads `(100 << 32) | 5`;
//! ported code can keep testing `errCode >> 32`. The description string carries the
//! readable reason (the OS message, or OpenD's `retMsg`). [`ConnSpi`](crate::ConnSpi)
//! documents the value ftapi passes;
//! [`ConnFailure::from_err_code`](crate::conn::ConnFailure::from_err_code) decodes it
//! into the kind and the OS error, and
//! [`TrdApi::last_conn_failure`](crate::TrdApi::last_conn_failure) gives the same typed,
//! with OpenD's `retType`/`retMsg` when it refused InitConnect.
//!
//! # The Python SDK (`futu` / `moomoo`)
//!
//! The blocking trade contexts in [`context`](crate::context) follow the Python SDK's
//! `OpenSecTradeContext` / `OpenFutureTradeContext`: same defaults, same account
//! filtering and selection rules, same method names where the call is the same. Where
//! ftapi's name differs, the Python name is an alias.
//!
//! | Python | ftapi |
//! |---|---|
//! | `OpenSecTradeContext(filter_trdmarket, host, port, is_encrypt, security_firm)` | [`SecTradeContext::builder`](crate::SecTradeContext::builder)`().filter_trdmarket(..).host(..).port(..).encrypt(..).security_firm(..).open()` |
//! | `OpenFutureTradeContext(host, port, is_encrypt, security_firm)` | [`FutureTradeContext::builder`](crate::FutureTradeContext::builder)`()...open()` |
//! | `is_encrypt=` (`None`, `True`, `False`) | [`ContextBuilder::encrypt`](crate::context::ContextBuilder::encrypt) (`None`, `Some(true)`, `Some(false)`) |
//! | `SysConfig.enable_proto_encrypt(bool)` | [`context::set_default_encrypt`](crate::context::set_default_encrypt) |
//! | `SysConfig.set_init_rsa_file(path)` | [`context::set_default_rsa_key_file`](crate::context::set_default_rsa_key_file), [`context::set_default_rsa_key`](crate::context::set_default_rsa_key) |
//! | `get_acc_list()` | [`get_acc_list`](crate::TradeContext::get_acc_list) (cached), [`refresh_acc_list`](crate::TradeContext::refresh_acc_list) |
//! | `unlock_trade(password, password_md5, is_unlock)` | [`unlock_trade`](crate::TradeContext::unlock_trade)`(pwd, unlock)`, [`unlock_trade_md5`](crate::TradeContext::unlock_trade_md5)`(md5, unlock)` |
//! | `place_order(price, qty, code, trd_side, order_type, ...)` | [`place_order`](crate::TradeContext::place_order)`(PlaceOrder::limit(code, side).qty(qty).price(price)...)` |
//! | `modify_order(op, order_id, qty, price, ...)` | [`modify_order`](crate::TradeContext::modify_order)`(ModifyOrder::new(op, order_id)...)` |
//! | `change_order(order_id, price, qty, ...)` | [`modify_order`](crate::TradeContext::modify_order)`(`[`ModifyOrder::change`](crate::context::ModifyOrder::change)`(order_id).qty(qty).price(price))` |
//! | `cancel_all_order(trd_env, acc_id, acc_index, trdmarket)` | [`cancel_all_order`](crate::TradeContext::cancel_all_order)`(CancelAll::new()...)` |
//! | `order_list_query(...)` | [`order_list_query`](crate::TradeContext::order_list_query)`(OrderQuery)` |
//! | `deal_list_query(...)` | [`deal_list_query`](crate::TradeContext::deal_list_query)`(DealQuery)` |
//! | `history_order_list_query(...)` | [`history_order_list_query`](crate::TradeContext::history_order_list_query)`(HistoryOrderQuery)` |
//! | `history_deal_list_query(...)` | [`history_deal_list_query`](crate::TradeContext::history_deal_list_query)`(HistoryDealQuery)` |
//! | `position_list_query(...)` | [`position_list_query`](crate::TradeContext::position_list_query)`(PositionQuery)` |
//! | `accinfo_query(...)` | [`accinfo_query`](crate::TradeContext::accinfo_query)`(FundsQuery)` |
//! | `acctradinginfo_query(...)` | [`acctradinginfo_query`](crate::TradeContext::acctradinginfo_query)`(MaxQtyQuery)` |
//! | `get_margin_ratio(code_list)` | [`get_margin_ratio`](crate::TradeContext::get_margin_ratio)`(codes)` |
//! | `order_fee_query(order_id_list, ...)` | [`order_fee_query`](crate::TradeContext::order_fee_query)`(OrderFeeQuery)` |
//! | `get_acc_cash_flow(clearing_date, ...)` | [`get_acc_cash_flow`](crate::TradeContext::get_acc_cash_flow)`(CashFlowQuery)` |
//! | `place_combo_order(...)` | [`place_combo_order`](crate::TradeContext::place_combo_order)`(ComboOrder)` |
//! | `comboorder_tradinginfo_query(...)` | [`comboorder_tradinginfo_query`](crate::TradeContext::comboorder_tradinginfo_query)`(ComboMaxQtyQuery)` |
//! | `get_global_state()` | [`get_global_state`](crate::TradeContext::get_global_state) |
//! | `set_handler(TradeOrderHandlerBase)` | [`set_order_handler`](crate::TradeContext::set_order_handler) |
//! | `set_handler(TradeDealHandlerBase)` | [`set_fill_handler`](crate::TradeContext::set_fill_handler) |
//! | `set_handler(SysNotifyHandlerBase)` | [`set_notify_handler`](crate::TradeContext::set_notify_handler) |
//! | (connection state in logs only) | [`set_connection_handler`](crate::TradeContext::set_connection_handler), [`connection_state`](crate::TradeContext::connection_state) |
//! | `trd_env=`, `acc_id=`, `acc_index=` arguments (no alias) | `.env(..)`, `.acc_id(..)`, `.acc_index(..)` on every request ([`AccSel`](crate::context::AccSel)) |
//! | `code=`, `trdmarket=`, `start=`, `end=` arguments (no alias) | `.code(..)`, `.filter_market(..)`, `.window(..)` ([`CodeFilter`](crate::context::CodeFilter), [`TimeWindow`](crate::context::TimeWindow)) |
//! | `close()` / `with` (same name) | [`close`](crate::TradeContext::close) / drop |
//! | `set_all_thread_daemon(True)` | not needed: nothing keeps the process alive (no alias) |
//! | (a request the context does not wrap) | [`call`](crate::TradeContext::call), [`trd_api`](crate::TradeContext::trd_api) |
//!
//! The moomoo SDK uses the same names; [`context::moomoo`](crate::context::moomoo) has
//! `OpenSecTradeContext` / `OpenFutureTradeContext` type aliases and the moomoo firm
//! constants.
//!
//! # The JavaScript SDK (`futu-api` on npm): OpenD's WebSocket port
//!
//! The JavaScript SDK talks to OpenD's WebSocket port, not its TCP API port (the wire
//! differs: see [`codec::ws`](crate::codec::ws)). ftapi reaches that port with the same
//! [`TrdApi`](crate::TrdApi), SPI traits and contexts as over TCP; only the connect call
//! changes.
//!
//! | JavaScript (`ftWebsocket`) | ftapi |
//! |---|---|
//! | `new ftWebsocket()` then `start(ip, port, ssl, key)` | [`TrdApi::init_connect_ws`](crate::TrdApi::init_connect_ws); [`WsTransport`](crate::conn::WsTransport) with [`TrdApi::init_connect_with`](crate::TrdApi::init_connect_with) for a CA file, the insecure mode, timeouts; [`ContextBuilder::websocket`](crate::context::ContextBuilder::websocket) for a context |
//! | `onlogin(ok, info)` | [`ConnSpi::on_init_connect`](crate::ConnSpi::on_init_connect) (`err_code` 0 = logged in; a wrong key is an Init timeout) |
//! | `getConnID()` | [`TrdApi::get_connect_id`](crate::TrdApi::get_connect_id) |
//! | `onPush(cmd, rsp)` (no alias) | [`TrdSpi::on_push_update_order`](crate::TrdSpi::on_push_update_order), [`TrdSpi::on_push_update_order_fill`](crate::TrdSpi::on_push_update_order_fill), [`TrdSpi::on_push_notify`](crate::TrdSpi::on_push_notify) |
//! | `stop()` (unregisters the push callback, no alias) | [`TrdApi::set_trd_spi`](crate::TrdApi::set_trd_spi) with another handler |
//! | `close()` of the lower layer (same name) | [`TrdApi::close`](crate::TrdApi::close): closes the socket, requests in flight fail with [`Error::Disconnected`](crate::Error::Disconnected) |
//! | `PlaceOrder({c2s: {packetID, ...}})` (you fill `packetID`) | [`TrdApi::place_order`](crate::TrdApi::place_order) (PacketID filled for you) |
