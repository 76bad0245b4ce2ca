//! Protobuf messages generated from `proto/` by prost, and the one table that maps
//! OpenD protocol ids to their request and response types.
//!
//! Every protocol is listed once, in one table (`protocol_table!` below): its marker
//! type, id, name, generated module and, for the API objects, its method and callback
//! names. Everything else is generated from that table: the envelope traits of each
//! module, the zero-sized marker types implementing [`Protocol`] / [`PushProtocol`],
//! [`proto_name`], [`is_push`], and the request methods and callbacks of both API objects
//! (`TrdApi`/`TrdSpi` and `QotApi`/`QotSpi`). The client, the simulator and the tests all go through it.
//!
//! ```
//! use ftapi::pb::{self, Protocol, PushProtocol};
//! assert_eq!(pb::proto::PlaceOrder::PROTO_ID, 2202);
//! assert_eq!(pb::proto_name(2202), Some("Trd_PlaceOrder"));
//! assert_eq!(pb::proto::GetBasicQot::PROTO_ID, 3004);
//! assert!(pb::is_push(pb::proto::UpdateBasicQot::PROTO_ID));
//! ```
#![allow(missing_docs, clippy::all, clippy::pedantic)]

macro_rules! pb_mod {
    ($($name:ident => $file:literal),* $(,)?) => {
        $(
            #[doc = concat!("Messages of the `", $file, "` file.")]
            pub mod $name {
                include!(concat!(env!("OUT_DIR"), "/", stringify!($name), ".rs"));
            }
        )*
    };
}

pb_mod! {
    common => "Common.proto",
    qot_common => "Qot_Common.proto",
    init_connect => "InitConnect.proto",
    get_global_state => "GetGlobalState.proto",
    notify => "Notify.proto",
    keep_alive => "KeepAlive.proto",
    init_web_socket => "InitWebSocket.proto",
    trd_common => "Trd_Common.proto",
    trd_get_acc_list => "Trd_GetAccList.proto",
    trd_unlock_trade => "Trd_UnlockTrade.proto",
    trd_sub_acc_push => "Trd_SubAccPush.proto",
    trd_get_funds => "Trd_GetFunds.proto",
    trd_get_position_list => "Trd_GetPositionList.proto",
    trd_get_max_trd_qtys => "Trd_GetMaxTrdQtys.proto",
    trd_get_combo_max_trd_qtys => "Trd_GetComboMaxTrdQtys.proto",
    trd_get_order_list => "Trd_GetOrderList.proto",
    trd_place_order => "Trd_PlaceOrder.proto",
    trd_modify_order => "Trd_ModifyOrder.proto",
    trd_update_order => "Trd_UpdateOrder.proto",
    trd_get_order_fill_list => "Trd_GetOrderFillList.proto",
    trd_update_order_fill => "Trd_UpdateOrderFill.proto",
    trd_get_history_order_list => "Trd_GetHistoryOrderList.proto",
    trd_get_history_order_fill_list => "Trd_GetHistoryOrderFillList.proto",
    trd_get_margin_ratio => "Trd_GetMarginRatio.proto",
    trd_get_order_fee => "Trd_GetOrderFee.proto",
    trd_flow_summary => "Trd_FlowSummary.proto",
    trd_place_combo_order => "Trd_PlaceComboOrder.proto",
    trd_reconfirm_order => "Trd_ReconfirmOrder.proto",
    trd_notify => "Trd_Notify.proto",
    get_delay_statistics => "GetDelayStatistics.proto",
    get_user_info => "GetUserInfo.proto",
    qot_filter_competition => "Qot_FilterCompetition.proto",
    qot_get_ark_active_transaction => "Qot_GetArkActiveTransaction.proto",
    qot_get_ark_fund_holding => "Qot_GetArkFundHolding.proto",
    qot_get_ark_stock_dynamic => "Qot_GetArkStockDynamic.proto",
    qot_get_basic_qot => "Qot_GetBasicQot.proto",
    qot_get_broker => "Qot_GetBroker.proto",
    qot_get_capital_distribution => "Qot_GetCapitalDistribution.proto",
    qot_get_capital_flow => "Qot_GetCapitalFlow.proto",
    qot_get_code_change => "Qot_GetCodeChange.proto",
    qot_get_company_executive_background => "Qot_GetCompanyExecutiveBackground.proto",
    qot_get_company_executives => "Qot_GetCompanyExecutives.proto",
    qot_get_company_operational_efficiency => "Qot_GetCompanyOperationalEfficiency.proto",
    qot_get_company_profile => "Qot_GetCompanyProfile.proto",
    qot_get_corporate_actions_buybacks => "Qot_GetCorporateActionsBuybacks.proto",
    qot_get_corporate_actions_dividends => "Qot_GetCorporateActionsDividends.proto",
    qot_get_corporate_actions_stock_splits => "Qot_GetCorporateActionsStockSplits.proto",
    qot_get_daily_short_volume => "Qot_GetDailyShortVolume.proto",
    qot_get_dividend_calendar => "Qot_GetDividendCalendar.proto",
    qot_get_dividend_rank => "Qot_GetDividendRank.proto",
    qot_get_earnings_beat_rank => "Qot_GetEarningsBeatRank.proto",
    qot_get_earnings_calendar => "Qot_GetEarningsCalendar.proto",
    qot_get_economic_calendar => "Qot_GetEconomicCalendar.proto",
    qot_get_event_contract => "Qot_GetEventContract.proto",
    qot_get_event_contract_category => "Qot_GetEventContractCategory.proto",
    qot_get_event_contract_combo_list => "Qot_GetEventContractComboList.proto",
    qot_get_event_contract_combo_rfq => "Qot_GetEventContractComboRfq.proto",
    qot_get_event_contract_event_list => "Qot_GetEventContractEventList.proto",
    qot_get_event_contract_kline => "Qot_GetEventContractKline.proto",
    qot_get_event_contract_milestone_list => "Qot_GetEventContractMilestoneList.proto",
    qot_get_event_contract_order_book => "Qot_GetEventContractOrderBook.proto",
    qot_get_event_contract_series_list => "Qot_GetEventContractSeriesList.proto",
    qot_get_event_contract_snapshot => "Qot_GetEventContractSnapshot.proto",
    qot_get_event_contract_ticker => "Qot_GetEventContractTicker.proto",
    qot_get_fed_watch_dot_plot => "Qot_GetFedWatchDotPlot.proto",
    qot_get_fed_watch_target_rate => "Qot_GetFedWatchTargetRate.proto",
    qot_get_financials_earnings_price_history => "Qot_GetFinancialsEarningsPriceHistory.proto",
    qot_get_financials_earnings_price_move => "Qot_GetFinancialsEarningsPriceMove.proto",
    qot_get_financials_revenue_breakdown => "Qot_GetFinancialsRevenueBreakdown.proto",
    qot_get_financials_statements => "Qot_GetFinancialsStatements.proto",
    qot_get_future_info => "Qot_GetFutureInfo.proto",
    qot_get_heat_map_data => "Qot_GetHeatMapData.proto",
    qot_get_high_dividend_soe_rank => "Qot_GetHighDividendSOERank.proto",
    qot_get_history_kl => "Qot_GetHistoryKL.proto",
    qot_get_history_kl_points => "Qot_GetHistoryKLPoints.proto",
    qot_get_holding_change_list => "Qot_GetHoldingChangeList.proto",
    qot_get_hot_list => "Qot_GetHotList.proto",
    qot_get_indicator_list => "Qot_GetIndicatorList.proto",
    qot_get_industrial_chain_by_plate => "Qot_GetIndustrialChainByPlate.proto",
    qot_get_industrial_chain_detail => "Qot_GetIndustrialChainDetail.proto",
    qot_get_industrial_chain_list => "Qot_GetIndustrialChainList.proto",
    qot_get_industrial_plate_info => "Qot_GetIndustrialPlateInfo.proto",
    qot_get_industrial_plate_stock => "Qot_GetIndustrialPlateStock.proto",
    qot_get_insider_holder_list => "Qot_GetInsiderHolderList.proto",
    qot_get_insider_trade_list => "Qot_GetInsiderTradeList.proto",
    qot_get_institution_distribution => "Qot_GetInstitutionDistribution.proto",
    qot_get_institution_holding_change => "Qot_GetInstitutionHoldingChange.proto",
    qot_get_institution_holding_list => "Qot_GetInstitutionHoldingList.proto",
    qot_get_institution_list => "Qot_GetInstitutionList.proto",
    qot_get_institution_profile => "Qot_GetInstitutionProfile.proto",
    qot_get_ipo_list => "Qot_GetIpoList.proto",
    qot_get_kl => "Qot_GetKL.proto",
    qot_get_macro_indicator_history => "Qot_GetMacroIndicatorHistory.proto",
    qot_get_macro_indicator_list => "Qot_GetMacroIndicatorList.proto",
    qot_get_market_state => "Qot_GetMarketState.proto",
    qot_get_option_chain => "Qot_GetOptionChain.proto",
    qot_get_option_earnings_screener => "Qot_GetOptionEarningsScreener.proto",
    qot_get_option_event => "Qot_GetOptionEvent.proto",
    qot_get_option_event_alert => "Qot_GetOptionEventAlert.proto",
    qot_get_option_exercise_probability => "Qot_GetOptionExerciseProbability.proto",
    qot_get_option_expiration_date => "Qot_GetOptionExpirationDate.proto",
    qot_get_option_market_statistic => "Qot_GetOptionMarketStatistic.proto",
    qot_get_option_quote => "Qot_GetOptionQuote.proto",
    qot_get_option_rank => "Qot_GetOptionRank.proto",
    qot_get_option_seller_screener => "Qot_GetOptionSellerScreener.proto",
    qot_get_option_strategy => "Qot_GetOptionStrategy.proto",
    qot_get_option_strategy_analysis => "Qot_GetOptionStrategyAnalysis.proto",
    qot_get_option_strategy_spread => "Qot_GetOptionStrategySpread.proto",
    qot_get_option_underlying_his_statistic => "Qot_GetOptionUnderlyingHisStatistic.proto",
    qot_get_option_underlying_his_volatility => "Qot_GetOptionUnderlyingHisVolatility.proto",
    qot_get_option_underlying_overview => "Qot_GetOptionUnderlyingOverview.proto",
    qot_get_option_underlying_rank => "Qot_GetOptionUnderlyingRank.proto",
    qot_get_option_volatility => "Qot_GetOptionVolatility.proto",
    qot_get_option_zero_dte_contract => "Qot_GetOptionZeroDteContract.proto",
    qot_get_option_zero_dte_screener => "Qot_GetOptionZeroDteScreener.proto",
    qot_get_order_book => "Qot_GetOrderBook.proto",
    qot_get_owner_plate => "Qot_GetOwnerPlate.proto",
    qot_get_period_change_rank => "Qot_GetPeriodChangeRank.proto",
    qot_get_plate_security => "Qot_GetPlateSecurity.proto",
    qot_get_plate_set => "Qot_GetPlateSet.proto",
    qot_get_price_reminder => "Qot_GetPriceReminder.proto",
    qot_get_rating_change => "Qot_GetRatingChange.proto",
    qot_get_reference => "Qot_GetReference.proto",
    qot_get_rehab => "Qot_GetRehab.proto",
    qot_get_research_analyst_consensus => "Qot_GetResearchAnalystConsensus.proto",
    qot_get_research_morningstar_report => "Qot_GetResearchMorningstarReport.proto",
    qot_get_research_rating_summary => "Qot_GetResearchRatingSummary.proto",
    qot_get_rise_fall_distribution => "Qot_GetRiseFallDistribution.proto",
    qot_get_rt => "Qot_GetRT.proto",
    qot_get_search_news => "Qot_GetSearchNews.proto",
    qot_get_search_quote => "Qot_GetSearchQuote.proto",
    qot_get_security_snapshot => "Qot_GetSecuritySnapshot.proto",
    qot_get_shareholders_holder_detail => "Qot_GetShareholdersHolderDetail.proto",
    qot_get_shareholders_holding_changes => "Qot_GetShareholdersHoldingChanges.proto",
    qot_get_shareholders_institutional => "Qot_GetShareholdersInstitutional.proto",
    qot_get_shareholders_overview => "Qot_GetShareholdersOverview.proto",
    qot_get_short_interest => "Qot_GetShortInterest.proto",
    qot_get_short_selling_rank => "Qot_GetShortSellingRank.proto",
    qot_get_static_info => "Qot_GetStaticInfo.proto",
    qot_get_sub_info => "Qot_GetSubInfo.proto",
    qot_get_suspend => "Qot_GetSuspend.proto",
    qot_get_ticker => "Qot_GetTicker.proto",
    qot_get_top_movers_rank => "Qot_GetTopMoversRank.proto",
    qot_get_top_ten_buy_sell_brokers => "Qot_GetTopTenBuySellBrokers.proto",
    qot_get_us_after_hours_rank => "Qot_GetUSAfterHoursRank.proto",
    qot_get_us_overnight_rank => "Qot_GetUSOvernightRank.proto",
    qot_get_us_pre_market_rank => "Qot_GetUSPreMarketRank.proto",
    qot_get_user_security => "Qot_GetUserSecurity.proto",
    qot_get_user_security_group => "Qot_GetUserSecurityGroup.proto",
    qot_get_valuation_detail => "Qot_GetValuationDetail.proto",
    qot_get_valuation_plate_stock_list => "Qot_GetValuationPlateStockList.proto",
    qot_get_warrant => "Qot_GetWarrant.proto",
    qot_modify_user_security => "Qot_ModifyUserSecurity.proto",
    qot_option_common => "Qot_OptionCommon.proto",
    qot_option_screen => "Qot_OptionScreen.proto",
    qot_push_indicator_calc => "Qot_PushIndicatorCalc.proto",
    qot_reg_qot_push => "Qot_RegQotPush.proto",
    qot_request_history_event_contract_kl => "Qot_RequestHistoryEventContractKL.proto",
    qot_request_history_kl => "Qot_RequestHistoryKL.proto",
    qot_request_history_kl_quota => "Qot_RequestHistoryKLQuota.proto",
    qot_request_indicator_calc => "Qot_RequestIndicatorCalc.proto",
    qot_request_rehab => "Qot_RequestRehab.proto",
    qot_request_trade_date => "Qot_RequestTradeDate.proto",
    qot_set_option_event_alert => "Qot_SetOptionEventAlert.proto",
    qot_set_price_reminder => "Qot_SetPriceReminder.proto",
    qot_stock_filter => "Qot_StockFilter.proto",
    qot_stock_screen => "Qot_StockScreen.proto",
    qot_sub => "Qot_Sub.proto",
    qot_sub_event_contract => "Qot_SubEventContract.proto",
    qot_update_basic_qot => "Qot_UpdateBasicQot.proto",
    qot_update_broker => "Qot_UpdateBroker.proto",
    qot_update_event_contract_kline => "Qot_UpdateEventContractKline.proto",
    qot_update_event_contract_order_book => "Qot_UpdateEventContractOrderBook.proto",
    qot_update_event_contract_ticker => "Qot_UpdateEventContractTicker.proto",
    qot_update_kl => "Qot_UpdateKL.proto",
    qot_update_option_event => "Qot_UpdateOptionEvent.proto",
    qot_update_order_book => "Qot_UpdateOrderBook.proto",
    qot_update_price_reminder => "Qot_UpdatePriceReminder.proto",
    qot_update_rt => "Qot_UpdateRT.proto",
    qot_update_ticker => "Qot_UpdateTicker.proto",
    qot_warrant_screen => "Qot_WarrantScreen.proto",
    verification => "Verification.proto",
}

/// The compiled `proto/` files as a serialized `google.protobuf.FileDescriptorSet`
/// (tests compare it field by field with the official definitions).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ftapi_fds.bin"));

// Secrets never reach Debug output: the trade password's MD5 and the connection's AES
// key and IV are redacted.
impl std::fmt::Debug for trd_unlock_trade::C2s {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("C2s")
            .field("unlock", &self.unlock)
            .field("pwd_md5", &self.pwd_md5.as_ref().map(|_| "<redacted>"))
            .field("security_firm", &self.security_firm)
            .finish()
    }
}

impl std::fmt::Debug for init_connect::S2c {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S2c")
            .field("server_ver", &self.server_ver)
            .field("login_user_id", &self.login_user_id)
            .field("conn_id", &self.conn_id)
            .field("conn_aes_key", &"<redacted>")
            .field("keep_alive_interval", &self.keep_alive_interval)
            .field("aes_cb_civ", &self.aes_cb_civ.as_ref().map(|_| "<redacted>"))
            .field("user_attribution", &self.user_attribution)
            .finish()
    }
}

/// The response envelope every OpenD protocol shares:
/// `retType` (required, default -400), `retMsg`, `errCode`, and the protocol's `s2c`.
pub trait ResponseEnvelope: prost::Message + Default + Clone + Send + 'static {
    /// The protocol's S2C payload type.
    type S2c: prost::Message + Default + Clone + Send + 'static;
    fn ret_type(&self) -> i32;
    fn ret_msg(&self) -> &str;
    fn err_code(&self) -> i32;
    fn s2c(&self) -> Option<&Self::S2c>;
    fn into_s2c(self) -> Option<Self::S2c>;
    /// Builds a response (used by the simulator and by tests).
    fn build(ret_type: i32, ret_msg: Option<String>, err_code: Option<i32>, s2c: Option<Self::S2c>) -> Self;
}

/// The request envelope: `Request { required C2S c2s = 1; }`.
pub trait RequestEnvelope: prost::Message + Default + Clone + Send + 'static {
    type C2s: prost::Message + Default + Clone + Send + 'static;
    fn c2s(&self) -> &Self::C2s;
    fn from_c2s(c2s: Self::C2s) -> Self;
}

/// One OpenD protocol: its id and message types.
pub trait Protocol: Send + Sync + 'static {
    /// The `nProtoID` of the 44-byte header.
    const PROTO_ID: u32;
    /// The file/package name, e.g. `"Trd_PlaceOrder"`.
    const NAME: &'static str;
    type Request: RequestEnvelope;
    type Response: ResponseEnvelope;
    /// Whether this is a trading write that carries `Common.PacketID` (replay protection).
    const IS_WRITE: bool = false;
    /// Fills `c2s.packetID` with `{conn_id, serial}` unless the caller already set one.
    /// A no-op for protocols without a PacketID.
    fn fill_packet_id(_req: &mut Self::Request, _conn_id: u64, _serial: u32) {}
    /// Whether the request carries a secret (the trade password's MD5): its buffers are
    /// wiped after sending.
    const SENSITIVE: bool = false;
    /// Wipes the secrets of a request after it was encoded. A no-op for most protocols.
    fn wipe(_req: &mut Self::Request) {}
}

/// The `s2c` type of protocol `P`.
pub type S2c<P> = <<P as Protocol>::Response as ResponseEnvelope>::S2c;
/// The `c2s` type of protocol `P`.
pub type C2s<P> = <<P as Protocol>::Request as RequestEnvelope>::C2s;

/// OpenD's documented frequency limits of the quote protocols: at most `n` requests per
/// 30 s window, `(proto_id, n)`. The one table: the client's quote context
/// (`ftapi::context::QUOTE_FREQUENCY_LIMITS`) and the simulator's market data both read it.
/// Protocols not listed (the subscription-backed reads such as `get_stock_quote`,
/// `get_order_book`, and `get_stock_basicinfo`, `get_history_kl_quota`,
/// `get_global_state`) are not limited. For `request_history_kline` only first pages
/// count (OpenD does not limit follow-up pages).
pub const QUOTE_FREQUENCY_LIMITS: &[(u32, u32)] = &[
    (proto::GetSecuritySnapshot::PROTO_ID, 60),
    (proto::RequestHistoryKL::PROTO_ID, 60),
    (proto::RequestRehab::PROTO_ID, 60),
    (proto::GetPlateSet::PROTO_ID, 10),
    (proto::GetPlateSecurity::PROTO_ID, 10),
    (proto::GetReference::PROTO_ID, 10),
    (proto::GetOwnerPlate::PROTO_ID, 10),
    (proto::GetHoldingChangeList::PROTO_ID, 10),
    (proto::GetOptionChain::PROTO_ID, 10),
    (proto::GetWarrant::PROTO_ID, 60),
    (proto::GetCapitalFlow::PROTO_ID, 30),
    (proto::GetCapitalDistribution::PROTO_ID, 30),
    (proto::GetUserSecurity::PROTO_ID, 10),
    (proto::ModifyUserSecurity::PROTO_ID, 10),
    (proto::StockFilter::PROTO_ID, 10),
    (proto::GetCodeChange::PROTO_ID, 30),
    (proto::GetIpoList::PROTO_ID, 10),
    (proto::GetFutureInfo::PROTO_ID, 30),
    (proto::RequestTradeDate::PROTO_ID, 30),
    (proto::SetPriceReminder::PROTO_ID, 60),
    (proto::GetPriceReminder::PROTO_ID, 10),
    (proto::GetUserSecurityGroup::PROTO_ID, 10),
    (proto::GetMarketState::PROTO_ID, 10),
    (proto::GetOptionExpirationDate::PROTO_ID, 60),
];

/// The frequency limit of `proto_id` in [`QUOTE_FREQUENCY_LIMITS`] (requests per 30 s),
/// `None` for a protocol OpenD does not limit.
///
/// ```
/// use ftapi::pb::{proto, quote_frequency_limit, Protocol};
/// assert_eq!(quote_frequency_limit(proto::GetPlateSet::PROTO_ID), Some(10));
/// assert_eq!(quote_frequency_limit(proto::GetBasicQot::PROTO_ID), None);
/// ```
pub fn quote_frequency_limit(proto_id: u32) -> Option<u32> {
    QUOTE_FREQUENCY_LIMITS.iter().find(|(id, _)| *id == proto_id).map(|(_, n)| *n)
}

/// A push-only protocol (no request).
pub trait PushProtocol: Send + Sync + 'static {
    const PROTO_ID: u32;
    const NAME: &'static str;
    type Response: ResponseEnvelope;
}

/// The one protocol table. Invokes `$cb!` with every protocol, grouped by kind:
///
/// * `session`: the connection's own protocols (no API method): `Marker = id, "Name", module;`
/// * `conn`, `qot`: request/reply protocols,
///   `Marker = id, "Name", module, api_method, spi_callback;`
/// * `trd`, `trd_secret`, `trd_write`: the trading request/reply protocols, with the
///   official SDKs' names of the method and of the callback (doc aliases) and a summary:
///   `Marker = id, "Name", module, api_method, spi_callback, ["Method", "method"],
///   ["OnReply_Method", "onReply_Method"], "summary";` (`trd_secret` requests carry the
///   trade password's MD5 and are wiped after sending; `trd_write` requests carry a
///   `Common.PacketID`);
/// * `push_qot`: pushes, `Marker = id, "Name", module, spi_callback;`
/// * `push_conn`, `push_trd`: pushes the trading API receives too, with the official names
///   of the callback and a summary: `Marker = id, "Name", module, spi_callback,
///   ["OnPush_Name", "onPush_Name"], "summary";`
/// * `unnumbered`, `unnumbered_push`: modules of official files whose protocol has no id in
///   the SDKs any more (retired, or never sent to API clients): envelopes only.
macro_rules! protocol_table {
    ($cb:ident) => {
        $cb! {
            session {
                InitConnect = 1001, "InitConnect", init_connect;
                KeepAlive = 1004, "KeepAlive", keep_alive;
            }
            conn {
                GetGlobalState = 1002, "GetGlobalState", get_global_state, get_global_state, on_reply_get_global_state;
                GetUserInfo = 1005, "GetUserInfo", get_user_info, get_user_info, on_reply_get_user_info;
                Verification = 1006, "Verification", verification, verification, on_reply_verification;
                GetDelayStatistics = 1007, "GetDelayStatistics", get_delay_statistics, get_delay_statistics, on_reply_get_delay_statistics;
            }
            trd {
                GetAccList = 2001, "Trd_GetAccList", trd_get_acc_list, get_acc_list, on_reply_get_acc_list, ["GetAccList", "getAccList"], ["OnReply_GetAccList", "onReply_GetAccList"], "the trading accounts.";
                SubAccPush = 2008, "Trd_SubAccPush", trd_sub_acc_push, sub_acc_push, on_reply_sub_acc_push, ["SubAccPush", "subAccPush"], ["OnReply_SubAccPush", "onReply_SubAccPush"], "the accounts whose order and fill pushes this connection receives.";
                GetFunds = 2101, "Trd_GetFunds", trd_get_funds, get_funds, on_reply_get_funds, ["GetFunds", "getFunds"], ["OnReply_GetFunds", "onReply_GetFunds"], "the account's funds.";
                GetPositionList = 2102, "Trd_GetPositionList", trd_get_position_list, get_position_list, on_reply_get_position_list, ["GetPositionList", "getPositionList"], ["OnReply_GetPositionList", "onReply_GetPositionList"], "the account's positions.";
                GetMaxTrdQtys = 2111, "Trd_GetMaxTrdQtys", trd_get_max_trd_qtys, get_max_trd_qtys, on_reply_get_max_trd_qtys, ["GetMaxTrdQtys", "getMaxTrdQtys"], ["OnReply_GetMaxTrdQtys", "onReply_GetMaxTrdQtys"], "the maximum quantities an order could buy or sell.";
                GetComboMaxTrdQtys = 2112, "Trd_GetComboMaxTrdQtys", trd_get_combo_max_trd_qtys, get_combo_max_trd_qtys, on_reply_get_combo_max_trd_qtys, ["GetComboMaxTrdQtys", "getComboMaxTrdQtys"], ["OnReply_GetComboMaxTrdQtys", "onReply_GetComboMaxTrdQtys"], "the maximum quantities of a combo order.";
                GetOrderList = 2201, "Trd_GetOrderList", trd_get_order_list, get_order_list, on_reply_get_order_list, ["GetOrderList", "getOrderList"], ["OnReply_GetOrderList", "onReply_GetOrderList"], "today's orders.";
                GetOrderFillList = 2211, "Trd_GetOrderFillList", trd_get_order_fill_list, get_order_fill_list, on_reply_get_order_fill_list, ["GetOrderFillList", "getOrderFillList"], ["OnReply_GetOrderFillList", "onReply_GetOrderFillList"], "today's fills.";
                GetHistoryOrderList = 2221, "Trd_GetHistoryOrderList", trd_get_history_order_list, get_history_order_list, on_reply_get_history_order_list, ["GetHistoryOrderList", "getHistoryOrderList"], ["OnReply_GetHistoryOrderList", "onReply_GetHistoryOrderList"], "orders of past days.";
                GetHistoryOrderFillList = 2222, "Trd_GetHistoryOrderFillList", trd_get_history_order_fill_list, get_history_order_fill_list, on_reply_get_history_order_fill_list, ["GetHistoryOrderFillList", "getHistoryOrderFillList"], ["OnReply_GetHistoryOrderFillList", "onReply_GetHistoryOrderFillList"], "fills of past days.";
                GetMarginRatio = 2223, "Trd_GetMarginRatio", trd_get_margin_ratio, get_margin_ratio, on_reply_get_margin_ratio, ["GetMarginRatio", "getMarginRatio"], ["OnReply_GetMarginRatio", "onReply_GetMarginRatio"], "the margin ratios of securities.";
                GetOrderFee = 2225, "Trd_GetOrderFee", trd_get_order_fee, get_order_fee, on_reply_get_order_fee, ["GetOrderFee", "getOrderFee"], ["OnReply_GetOrderFee", "onReply_GetOrderFee"], "the fees of orders.";
                FlowSummary = 2226, "Trd_FlowSummary", trd_flow_summary, get_flow_summary, on_reply_get_flow_summary, ["GetFlowSummary", "getFlowSummary"], ["OnReply_GetFlowSummary", "onReply_GetFlowSummary"], "cash flow.";
            }
            trd_secret {
                UnlockTrade = 2005, "Trd_UnlockTrade", trd_unlock_trade, unlock_trade, on_reply_unlock_trade, ["UnlockTrade", "unlockTrade"], ["OnReply_UnlockTrade", "onReply_UnlockTrade"], "unlock (or lock) trading; `pwdMD5` is the MD5 of the trade password.";
            }
            trd_write {
                PlaceOrder = 2202, "Trd_PlaceOrder", trd_place_order, place_order, on_reply_place_order, ["PlaceOrder", "placeOrder"], ["OnReply_PlaceOrder", "onReply_PlaceOrder"], "places an order.";
                ModifyOrder = 2205, "Trd_ModifyOrder", trd_modify_order, modify_order, on_reply_modify_order, ["ModifyOrder", "modifyOrder"], ["OnReply_ModifyOrder", "onReply_ModifyOrder"], "modify, cancel, disable, enable, delete, or cancel all.";
                PlaceComboOrder = 2227, "Trd_PlaceComboOrder", trd_place_combo_order, place_combo_order, on_reply_place_combo_order, ["PlaceComboOrder", "placeComboOrder"], ["OnReply_PlaceComboOrder", "onReply_PlaceComboOrder"], "places a combo order.";
            }
            qot {
                Sub = 3001, "Qot_Sub", qot_sub, sub, on_reply_sub;
                RegQotPush = 3002, "Qot_RegQotPush", qot_reg_qot_push, reg_qot_push, on_reply_reg_qot_push;
                GetSubInfo = 3003, "Qot_GetSubInfo", qot_get_sub_info, get_sub_info, on_reply_get_sub_info;
                GetBasicQot = 3004, "Qot_GetBasicQot", qot_get_basic_qot, get_basic_qot, on_reply_get_basic_qot;
                GetKL = 3006, "Qot_GetKL", qot_get_kl, get_kl, on_reply_get_kl;
                GetRT = 3008, "Qot_GetRT", qot_get_rt, get_rt, on_reply_get_rt;
                GetTicker = 3010, "Qot_GetTicker", qot_get_ticker, get_ticker, on_reply_get_ticker;
                GetOrderBook = 3012, "Qot_GetOrderBook", qot_get_order_book, get_order_book, on_reply_get_order_book;
                GetBroker = 3014, "Qot_GetBroker", qot_get_broker, get_broker, on_reply_get_broker;
                RequestHistoryKL = 3103, "Qot_RequestHistoryKL", qot_request_history_kl, request_history_kl, on_reply_request_history_kl;
                RequestHistoryKLQuota = 3104, "Qot_RequestHistoryKLQuota", qot_request_history_kl_quota, request_history_kl_quota, on_reply_request_history_kl_quota;
                RequestRehab = 3105, "Qot_RequestRehab", qot_request_rehab, request_rehab, on_reply_request_rehab;
                GetSuspend = 3201, "Qot_GetSuspend", qot_get_suspend, get_suspend, on_reply_get_suspend;
                GetStaticInfo = 3202, "Qot_GetStaticInfo", qot_get_static_info, get_static_info, on_reply_get_static_info;
                GetSecuritySnapshot = 3203, "Qot_GetSecuritySnapshot", qot_get_security_snapshot, get_security_snapshot, on_reply_get_security_snapshot;
                GetPlateSet = 3204, "Qot_GetPlateSet", qot_get_plate_set, get_plate_set, on_reply_get_plate_set;
                GetPlateSecurity = 3205, "Qot_GetPlateSecurity", qot_get_plate_security, get_plate_security, on_reply_get_plate_security;
                GetReference = 3206, "Qot_GetReference", qot_get_reference, get_reference, on_reply_get_reference;
                GetOwnerPlate = 3207, "Qot_GetOwnerPlate", qot_get_owner_plate, get_owner_plate, on_reply_get_owner_plate;
                GetHoldingChangeList = 3208, "Qot_GetHoldingChangeList", qot_get_holding_change_list, get_holding_change_list, on_reply_get_holding_change_list;
                GetOptionChain = 3209, "Qot_GetOptionChain", qot_get_option_chain, get_option_chain, on_reply_get_option_chain;
                GetWarrant = 3210, "Qot_GetWarrant", qot_get_warrant, get_warrant, on_reply_get_warrant;
                GetCapitalFlow = 3211, "Qot_GetCapitalFlow", qot_get_capital_flow, get_capital_flow, on_reply_get_capital_flow;
                GetCapitalDistribution = 3212, "Qot_GetCapitalDistribution", qot_get_capital_distribution, get_capital_distribution, on_reply_get_capital_distribution;
                GetUserSecurity = 3213, "Qot_GetUserSecurity", qot_get_user_security, get_user_security, on_reply_get_user_security;
                ModifyUserSecurity = 3214, "Qot_ModifyUserSecurity", qot_modify_user_security, modify_user_security, on_reply_modify_user_security;
                StockFilter = 3215, "Qot_StockFilter", qot_stock_filter, stock_filter, on_reply_stock_filter;
                GetCodeChange = 3216, "Qot_GetCodeChange", qot_get_code_change, get_code_change, on_reply_get_code_change;
                GetIpoList = 3217, "Qot_GetIpoList", qot_get_ipo_list, get_ipo_list, on_reply_get_ipo_list;
                GetFutureInfo = 3218, "Qot_GetFutureInfo", qot_get_future_info, get_future_info, on_reply_get_future_info;
                RequestTradeDate = 3219, "Qot_RequestTradeDate", qot_request_trade_date, request_trade_date, on_reply_request_trade_date;
                SetPriceReminder = 3220, "Qot_SetPriceReminder", qot_set_price_reminder, set_price_reminder, on_reply_set_price_reminder;
                GetPriceReminder = 3221, "Qot_GetPriceReminder", qot_get_price_reminder, get_price_reminder, on_reply_get_price_reminder;
                GetUserSecurityGroup = 3222, "Qot_GetUserSecurityGroup", qot_get_user_security_group, get_user_security_group, on_reply_get_user_security_group;
                GetMarketState = 3223, "Qot_GetMarketState", qot_get_market_state, get_market_state, on_reply_get_market_state;
                GetOptionExpirationDate = 3224, "Qot_GetOptionExpirationDate", qot_get_option_expiration_date, get_option_expiration_date, on_reply_get_option_expiration_date;
                GetFinancialsEarningsPriceMove = 3225, "Qot_GetFinancialsEarningsPriceMove", qot_get_financials_earnings_price_move, get_financials_earnings_price_move, on_reply_get_financials_earnings_price_move;
                GetFinancialsEarningsPriceHistory = 3226, "Qot_GetFinancialsEarningsPriceHistory", qot_get_financials_earnings_price_history, get_financials_earnings_price_history, on_reply_get_financials_earnings_price_history;
                GetFinancialsStatements = 3227, "Qot_GetFinancialsStatements", qot_get_financials_statements, get_financials_statements, on_reply_get_financials_statements;
                GetFinancialsRevenueBreakdown = 3228, "Qot_GetFinancialsRevenueBreakdown", qot_get_financials_revenue_breakdown, get_financials_revenue_breakdown, on_reply_get_financials_revenue_breakdown;
                GetResearchAnalystConsensus = 3229, "Qot_GetResearchAnalystConsensus", qot_get_research_analyst_consensus, get_research_analyst_consensus, on_reply_get_research_analyst_consensus;
                GetResearchRatingSummary = 3230, "Qot_GetResearchRatingSummary", qot_get_research_rating_summary, get_research_rating_summary, on_reply_get_research_rating_summary;
                GetResearchMorningstarReport = 3231, "Qot_GetResearchMorningstarReport", qot_get_research_morningstar_report, get_research_morningstar_report, on_reply_get_research_morningstar_report;
                GetValuationDetail = 3232, "Qot_GetValuationDetail", qot_get_valuation_detail, get_valuation_detail, on_reply_get_valuation_detail;
                GetValuationPlateStockList = 3233, "Qot_GetValuationPlateStockList", qot_get_valuation_plate_stock_list, get_valuation_plate_stock_list, on_reply_get_valuation_plate_stock_list;
                GetCorporateActionsDividends = 3234, "Qot_GetCorporateActionsDividends", qot_get_corporate_actions_dividends, get_corporate_actions_dividends, on_reply_get_corporate_actions_dividends;
                GetCorporateActionsBuybacks = 3235, "Qot_GetCorporateActionsBuybacks", qot_get_corporate_actions_buybacks, get_corporate_actions_buybacks, on_reply_get_corporate_actions_buybacks;
                GetCorporateActionsStockSplits = 3236, "Qot_GetCorporateActionsStockSplits", qot_get_corporate_actions_stock_splits, get_corporate_actions_stock_splits, on_reply_get_corporate_actions_stock_splits;
                GetShareholdersOverview = 3237, "Qot_GetShareholdersOverview", qot_get_shareholders_overview, get_shareholders_overview, on_reply_get_shareholders_overview;
                GetShareholdersHoldingChanges = 3238, "Qot_GetShareholdersHoldingChanges", qot_get_shareholders_holding_changes, get_shareholders_holding_changes, on_reply_get_shareholders_holding_changes;
                GetShareholdersHolderDetail = 3239, "Qot_GetShareholdersHolderDetail", qot_get_shareholders_holder_detail, get_shareholders_holder_detail, on_reply_get_shareholders_holder_detail;
                GetShareholdersInstitutional = 3240, "Qot_GetShareholdersInstitutional", qot_get_shareholders_institutional, get_shareholders_institutional, on_reply_get_shareholders_institutional;
                GetInsiderHolderList = 3241, "Qot_GetInsiderHolderList", qot_get_insider_holder_list, get_insider_holder_list, on_reply_get_insider_holder_list;
                GetInsiderTradeList = 3242, "Qot_GetInsiderTradeList", qot_get_insider_trade_list, get_insider_trade_list, on_reply_get_insider_trade_list;
                GetCompanyProfile = 3243, "Qot_GetCompanyProfile", qot_get_company_profile, get_company_profile, on_reply_get_company_profile;
                GetCompanyExecutives = 3244, "Qot_GetCompanyExecutives", qot_get_company_executives, get_company_executives, on_reply_get_company_executives;
                GetCompanyExecutiveBackground = 3245, "Qot_GetCompanyExecutiveBackground", qot_get_company_executive_background, get_company_executive_background, on_reply_get_company_executive_background;
                GetCompanyOperationalEfficiency = 3246, "Qot_GetCompanyOperationalEfficiency", qot_get_company_operational_efficiency, get_company_operational_efficiency, on_reply_get_company_operational_efficiency;
                GetTopTenBuySellBrokers = 3247, "Qot_GetTopTenBuySellBrokers", qot_get_top_ten_buy_sell_brokers, get_top_ten_buy_sell_brokers, on_reply_get_top_ten_buy_sell_brokers;
                GetDailyShortVolume = 3248, "Qot_GetDailyShortVolume", qot_get_daily_short_volume, get_daily_short_volume, on_reply_get_daily_short_volume;
                GetShortInterest = 3249, "Qot_GetShortInterest", qot_get_short_interest, get_short_interest, on_reply_get_short_interest;
                GetOptionVolatility = 3250, "Qot_GetOptionVolatility", qot_get_option_volatility, get_option_volatility, on_reply_get_option_volatility;
                GetOptionExerciseProbability = 3251, "Qot_GetOptionExerciseProbability", qot_get_option_exercise_probability, get_option_exercise_probability, on_reply_get_option_exercise_probability;
                StockScreen = 3252, "Qot_StockScreen", qot_stock_screen, stock_screen, on_reply_stock_screen;
                OptionScreen = 3253, "Qot_OptionScreen", qot_option_screen, option_screen, on_reply_option_screen;
                WarrantScreen = 3254, "Qot_WarrantScreen", qot_warrant_screen, warrant_screen, on_reply_warrant_screen;
                GetOptionQuote = 3255, "Qot_GetOptionQuote", qot_get_option_quote, get_option_quote, on_reply_get_option_quote;
                GetOptionStrategy = 3256, "Qot_GetOptionStrategy", qot_get_option_strategy, get_option_strategy, on_reply_get_option_strategy;
                GetOptionStrategyAnalysis = 3257, "Qot_GetOptionStrategyAnalysis", qot_get_option_strategy_analysis, get_option_strategy_analysis, on_reply_get_option_strategy_analysis;
                GetOptionStrategySpread = 3258, "Qot_GetOptionStrategySpread", qot_get_option_strategy_spread, get_option_strategy_spread, on_reply_get_option_strategy_spread;
                GetIndicatorList = 3259, "Qot_GetIndicatorList", qot_get_indicator_list, get_indicator_list, on_reply_get_indicator_list;
                RequestIndicatorCalc = 3260, "Qot_RequestIndicatorCalc", qot_request_indicator_calc, request_indicator_calc, on_reply_request_indicator_calc;
                GetSearchQuote = 3262, "Qot_GetSearchQuote", qot_get_search_quote, get_search_quote, on_reply_get_search_quote;
                GetSearchNews = 3263, "Qot_GetSearchNews", qot_get_search_news, get_search_news, on_reply_get_search_news;
                GetOptionMarketStatistic = 3301, "Qot_GetOptionMarketStatistic", qot_get_option_market_statistic, get_option_market_statistic, on_reply_get_option_market_statistic;
                GetOptionUnderlyingHisStatistic = 3302, "Qot_GetOptionUnderlyingHisStatistic", qot_get_option_underlying_his_statistic, get_option_underlying_his_statistic, on_reply_get_option_underlying_his_statistic;
                GetOptionUnderlyingOverview = 3303, "Qot_GetOptionUnderlyingOverview", qot_get_option_underlying_overview, get_option_underlying_overview, on_reply_get_option_underlying_overview;
                GetOptionUnderlyingHisVolatility = 3304, "Qot_GetOptionUnderlyingHisVolatility", qot_get_option_underlying_his_volatility, get_option_underlying_his_volatility, on_reply_get_option_underlying_his_volatility;
                GetOptionUnderlyingRank = 3305, "Qot_GetOptionUnderlyingRank", qot_get_option_underlying_rank, get_option_underlying_rank, on_reply_get_option_underlying_rank;
                GetOptionRank = 3306, "Qot_GetOptionRank", qot_get_option_rank, get_option_rank, on_reply_get_option_rank;
                GetOptionEvent = 3307, "Qot_GetOptionEvent", qot_get_option_event, get_option_event, on_reply_get_option_event;
                GetOptionEventAlert = 3308, "Qot_GetOptionEventAlert", qot_get_option_event_alert, get_option_event_alert, on_reply_get_option_event_alert;
                SetOptionEventAlert = 3309, "Qot_SetOptionEventAlert", qot_set_option_event_alert, set_option_event_alert, on_reply_set_option_event_alert;
                GetOptionZeroDteScreener = 3311, "Qot_GetOptionZeroDteScreener", qot_get_option_zero_dte_screener, get_option_zero_dte_screener, on_reply_get_option_zero_dte_screener;
                GetOptionZeroDteContract = 3312, "Qot_GetOptionZeroDteContract", qot_get_option_zero_dte_contract, get_option_zero_dte_contract, on_reply_get_option_zero_dte_contract;
                GetOptionEarningsScreener = 3313, "Qot_GetOptionEarningsScreener", qot_get_option_earnings_screener, get_option_earnings_screener, on_reply_get_option_earnings_screener;
                GetOptionSellerScreener = 3314, "Qot_GetOptionSellerScreener", qot_get_option_seller_screener, get_option_seller_screener, on_reply_get_option_seller_screener;
                GetEarningsCalendar = 3401, "Qot_GetEarningsCalendar", qot_get_earnings_calendar, get_earnings_calendar, on_reply_get_earnings_calendar;
                GetMacroIndicatorList = 3402, "Qot_GetMacroIndicatorList", qot_get_macro_indicator_list, get_macro_indicator_list, on_reply_get_macro_indicator_list;
                GetMacroIndicatorHistory = 3403, "Qot_GetMacroIndicatorHistory", qot_get_macro_indicator_history, get_macro_indicator_history, on_reply_get_macro_indicator_history;
                GetFedWatchTargetRate = 3404, "Qot_GetFedWatchTargetRate", qot_get_fed_watch_target_rate, get_fed_watch_target_rate, on_reply_get_fed_watch_target_rate;
                GetFedWatchDotPlot = 3405, "Qot_GetFedWatchDotPlot", qot_get_fed_watch_dot_plot, get_fed_watch_dot_plot, on_reply_get_fed_watch_dot_plot;
                GetEarningsBeatRank = 3406, "Qot_GetEarningsBeatRank", qot_get_earnings_beat_rank, get_earnings_beat_rank, on_reply_get_earnings_beat_rank;
                GetDividendRank = 3407, "Qot_GetDividendRank", qot_get_dividend_rank, get_dividend_rank, on_reply_get_dividend_rank;
                GetDividendCalendar = 3408, "Qot_GetDividendCalendar", qot_get_dividend_calendar, get_dividend_calendar, on_reply_get_dividend_calendar;
                GetEconomicCalendar = 3409, "Qot_GetEconomicCalendar", qot_get_economic_calendar, get_economic_calendar, on_reply_get_economic_calendar;
                GetUSPreMarketRank = 3410, "Qot_GetUSPreMarketRank", qot_get_us_pre_market_rank, get_us_pre_market_rank, on_reply_get_us_pre_market_rank;
                GetUSAfterHoursRank = 3411, "Qot_GetUSAfterHoursRank", qot_get_us_after_hours_rank, get_us_after_hours_rank, on_reply_get_us_after_hours_rank;
                GetUSOvernightRank = 3412, "Qot_GetUSOvernightRank", qot_get_us_overnight_rank, get_us_overnight_rank, on_reply_get_us_overnight_rank;
                GetTopMoversRank = 3413, "Qot_GetTopMoversRank", qot_get_top_movers_rank, get_top_movers_rank, on_reply_get_top_movers_rank;
                GetHotList = 3414, "Qot_GetHotList", qot_get_hot_list, get_hot_list, on_reply_get_hot_list;
                GetShortSellingRank = 3415, "Qot_GetShortSellingRank", qot_get_short_selling_rank, get_short_selling_rank, on_reply_get_short_selling_rank;
                GetPeriodChangeRank = 3416, "Qot_GetPeriodChangeRank", qot_get_period_change_rank, get_period_change_rank, on_reply_get_period_change_rank;
                GetHighDividendSOERank = 3417, "Qot_GetHighDividendSOERank", qot_get_high_dividend_soe_rank, get_high_dividend_soe_rank, on_reply_get_high_dividend_soe_rank;
                GetInstitutionList = 3418, "Qot_GetInstitutionList", qot_get_institution_list, get_institution_list, on_reply_get_institution_list;
                GetInstitutionProfile = 3419, "Qot_GetInstitutionProfile", qot_get_institution_profile, get_institution_profile, on_reply_get_institution_profile;
                GetInstitutionDistribution = 3420, "Qot_GetInstitutionDistribution", qot_get_institution_distribution, get_institution_distribution, on_reply_get_institution_distribution;
                GetInstitutionHoldingChange = 3421, "Qot_GetInstitutionHoldingChange", qot_get_institution_holding_change, get_institution_holding_change, on_reply_get_institution_holding_change;
                GetInstitutionHoldingList = 3422, "Qot_GetInstitutionHoldingList", qot_get_institution_holding_list, get_institution_holding_list, on_reply_get_institution_holding_list;
                GetArkFundHolding = 3423, "Qot_GetArkFundHolding", qot_get_ark_fund_holding, get_ark_fund_holding, on_reply_get_ark_fund_holding;
                GetArkStockDynamic = 3424, "Qot_GetArkStockDynamic", qot_get_ark_stock_dynamic, get_ark_stock_dynamic, on_reply_get_ark_stock_dynamic;
                GetArkActiveTransaction = 3425, "Qot_GetArkActiveTransaction", qot_get_ark_active_transaction, get_ark_active_transaction, on_reply_get_ark_active_transaction;
                GetRatingChange = 3426, "Qot_GetRatingChange", qot_get_rating_change, get_rating_change, on_reply_get_rating_change;
                GetIndustrialChainList = 3427, "Qot_GetIndustrialChainList", qot_get_industrial_chain_list, get_industrial_chain_list, on_reply_get_industrial_chain_list;
                GetIndustrialChainDetail = 3428, "Qot_GetIndustrialChainDetail", qot_get_industrial_chain_detail, get_industrial_chain_detail, on_reply_get_industrial_chain_detail;
                GetIndustrialChainByPlate = 3429, "Qot_GetIndustrialChainByPlate", qot_get_industrial_chain_by_plate, get_industrial_chain_by_plate, on_reply_get_industrial_chain_by_plate;
                GetIndustrialPlateInfo = 3430, "Qot_GetIndustrialPlateInfo", qot_get_industrial_plate_info, get_industrial_plate_info, on_reply_get_industrial_plate_info;
                GetIndustrialPlateStock = 3431, "Qot_GetIndustrialPlateStock", qot_get_industrial_plate_stock, get_industrial_plate_stock, on_reply_get_industrial_plate_stock;
                GetHeatMapData = 3432, "Qot_GetHeatMapData", qot_get_heat_map_data, get_heat_map_data, on_reply_get_heat_map_data;
                GetRiseFallDistribution = 3433, "Qot_GetRiseFallDistribution", qot_get_rise_fall_distribution, get_rise_fall_distribution, on_reply_get_rise_fall_distribution;
                GetEventContractCategory = 3434, "Qot_GetEventContractCategory", qot_get_event_contract_category, get_event_contract_category, on_reply_get_event_contract_category;
                FilterCompetition = 3435, "Qot_FilterCompetition", qot_filter_competition, filter_competition, on_reply_filter_competition;
                GetEventContractSeriesList = 3436, "Qot_GetEventContractSeriesList", qot_get_event_contract_series_list, get_event_contract_series_list, on_reply_get_event_contract_series_list;
                GetEventContractEventList = 3437, "Qot_GetEventContractEventList", qot_get_event_contract_event_list, get_event_contract_event_list, on_reply_get_event_contract_event_list;
                GetEventContract = 3438, "Qot_GetEventContract", qot_get_event_contract, get_event_contract, on_reply_get_event_contract;
                GetEventContractMilestoneList = 3439, "Qot_GetEventContractMilestoneList", qot_get_event_contract_milestone_list, get_event_contract_milestone_list, on_reply_get_event_contract_milestone_list;
                GetEventContractSnapshot = 3445, "Qot_GetEventContractSnapshot", qot_get_event_contract_snapshot, get_event_contract_snapshot, on_reply_get_event_contract_snapshot;
                GetEventContractOrderBook = 3446, "Qot_GetEventContractOrderBook", qot_get_event_contract_order_book, get_event_contract_order_book, on_reply_get_event_contract_order_book;
                GetEventContractKline = 3447, "Qot_GetEventContractKline", qot_get_event_contract_kline, get_event_contract_kline, on_reply_get_event_contract_kline;
                GetEventContractTicker = 3448, "Qot_GetEventContractTicker", qot_get_event_contract_ticker, get_event_contract_ticker, on_reply_get_event_contract_ticker;
                GetEventContractComboList = 3453, "Qot_GetEventContractComboList", qot_get_event_contract_combo_list, get_event_contract_combo_list, on_reply_get_event_contract_combo_list;
                GetEventContractComboRfq = 3454, "Qot_GetEventContractComboRfq", qot_get_event_contract_combo_rfq, get_event_contract_combo_rfq, on_reply_get_event_contract_combo_rfq;
                SubEventContract = 3455, "Qot_SubEventContract", qot_sub_event_contract, sub_event_contract, on_reply_sub_event_contract;
                RequestHistoryEventContractKL = 3456, "Qot_RequestHistoryEventContractKL", qot_request_history_event_contract_kl, request_history_event_contract_kl, on_reply_request_history_event_contract_kl;
            }
            push_conn {
                Notify = 1003, "Notify", notify, on_push_notify, ["OnPush_Notify", "onPush_Notify"], "an OpenD system event (program status, login state, quote rights, ...).";
            }
            push_trd {
                UpdateOrder = 2208, "Trd_UpdateOrder", trd_update_order, on_push_update_order, ["OnPush_UpdateOrder", "onPush_UpdateOrder"], "an order of a subscribed account changed.";
                UpdateOrderFill = 2218, "Trd_UpdateOrderFill", trd_update_order_fill, on_push_update_order_fill, ["OnPush_UpdateOrderFill", "onPush_UpdateOrderFill"], "a fill of a subscribed account.";
            }
            push_qot {
                UpdateBasicQot = 3005, "Qot_UpdateBasicQot", qot_update_basic_qot, on_push_update_basic_qot;
                UpdateKL = 3007, "Qot_UpdateKL", qot_update_kl, on_push_update_kl;
                UpdateRT = 3009, "Qot_UpdateRT", qot_update_rt, on_push_update_rt;
                UpdateTicker = 3011, "Qot_UpdateTicker", qot_update_ticker, on_push_update_ticker;
                UpdateOrderBook = 3013, "Qot_UpdateOrderBook", qot_update_order_book, on_push_update_order_book;
                UpdateBroker = 3015, "Qot_UpdateBroker", qot_update_broker, on_push_update_broker;
                UpdatePriceReminder = 3019, "Qot_UpdatePriceReminder", qot_update_price_reminder, on_push_update_price_reminder;
                PushIndicatorCalc = 3261, "Qot_PushIndicatorCalc", qot_push_indicator_calc, on_push_indicator_calc;
                UpdateOptionEvent = 3310, "Qot_UpdateOptionEvent", qot_update_option_event, on_push_update_option_event;
                UpdateEventContractOrderBook = 3450, "Qot_UpdateEventContractOrderBook", qot_update_event_contract_order_book, on_push_update_event_contract_order_book;
                UpdateEventContractKline = 3451, "Qot_UpdateEventContractKline", qot_update_event_contract_kline, on_push_update_event_contract_kline;
                UpdateEventContractTicker = 3452, "Qot_UpdateEventContractTicker", qot_update_event_contract_ticker, on_push_update_event_contract_ticker;
            }
            unnumbered {
                trd_reconfirm_order, qot_get_history_kl, qot_get_history_kl_points, qot_get_rehab
            }
            unnumbered_push {
                trd_notify
            }
        }
    };
}
pub(crate) use protocol_table;

/// Wipes a request's secrets after it was encoded (the `trd_secret` protocols).
trait Secret {
    fn wipe_secret(&mut self);
}

impl Secret for trd_unlock_trade::Request {
    fn wipe_secret(&mut self) {
        if let Some(md5) = self.c2s.pwd_md5.as_mut() {
            zeroize::Zeroize::zeroize(md5);
        }
    }
}

macro_rules! impl_envelopes {
    (requests: $($m:ident),*; pushes: $($p:ident),*) => {
        $(
            impl_envelopes!(@response $m);
            impl RequestEnvelope for $m::Request {
                type C2s = $m::C2s;
                fn c2s(&self) -> &Self::C2s { &self.c2s }
                fn from_c2s(c2s: Self::C2s) -> Self { $m::Request { c2s } }
            }
        )*
        $( impl_envelopes!(@response $p); )*
    };
    (@response $m:ident) => {
        impl ResponseEnvelope for $m::Response {
            type S2c = $m::S2c;
            fn ret_type(&self) -> i32 { self.ret_type }
            fn ret_msg(&self) -> &str { self.ret_msg.as_deref().unwrap_or("") }
            fn err_code(&self) -> i32 { self.err_code.unwrap_or(0) }
            fn s2c(&self) -> Option<&Self::S2c> { self.s2c.as_ref() }
            fn into_s2c(self) -> Option<Self::S2c> { self.s2c }
            fn build(ret_type: i32, ret_msg: Option<String>, err_code: Option<i32>, s2c: Option<Self::S2c>) -> Self {
                $m::Response { ret_type, ret_msg, err_code, s2c }
            }
        }
    };
}

macro_rules! define_protocols {
    (
        session { $($s_ty:ident = $s_id:literal, $s_name:literal, $s_m:ident;)* }
        conn { $($c_ty:ident = $c_id:literal, $c_name:literal, $c_m:ident, $c_fn:ident, $c_spi:ident;)* }
        trd { $($t_ty:ident = $t_id:literal, $t_name:literal, $t_m:ident, $t_fn:ident, $t_spi:ident, [$($t_fa:literal),*], [$($t_sa:literal),*], $t_doc:literal;)* }
        trd_secret { $($x_ty:ident = $x_id:literal, $x_name:literal, $x_m:ident, $x_fn:ident, $x_spi:ident, [$($x_fa:literal),*], [$($x_sa:literal),*], $x_doc:literal;)* }
        trd_write { $($w_ty:ident = $w_id:literal, $w_name:literal, $w_m:ident, $w_fn:ident, $w_spi:ident, [$($w_fa:literal),*], [$($w_sa:literal),*], $w_doc:literal;)* }
        qot { $($q_ty:ident = $q_id:literal, $q_name:literal, $q_m:ident, $q_fn:ident, $q_spi:ident;)* }
        push_conn { $($pc_ty:ident = $pc_id:literal, $pc_name:literal, $pc_m:ident, $pc_spi:ident, [$($pc_sa:literal),*], $pc_doc:literal;)* }
        push_trd { $($pt_ty:ident = $pt_id:literal, $pt_name:literal, $pt_m:ident, $pt_spi:ident, [$($pt_sa:literal),*], $pt_doc:literal;)* }
        push_qot { $($pq_ty:ident = $pq_id:literal, $pq_name:literal, $pq_m:ident, $pq_spi:ident;)* }
        unnumbered { $($u_m:ident),* }
        unnumbered_push { $($up_m:ident),* }
    ) => {
        impl_envelopes! {
            requests: $($s_m,)* $($c_m,)* $($t_m,)* $($x_m,)* $($w_m,)* $($q_m,)* $($u_m),*;
            pushes: $($pc_m,)* $($pt_m,)* $($pq_m,)* $($up_m),*
        }

        /// Marker types, one per protocol, carrying the id and message types.
        pub mod proto {
            use super::*;

            $( define_protocols!(@plain $s_ty, $s_id, $s_name, $s_m); )*
            $( define_protocols!(@plain $c_ty, $c_id, $c_name, $c_m); )*
            $( define_protocols!(@plain $t_ty, $t_id, $t_name, $t_m); )*
            $( define_protocols!(@plain $q_ty, $q_id, $q_name, $q_m); )*
            $(
                #[doc = concat!("`", $x_name, "` (", stringify!($x_id), "): carries the MD5 of the trade password, wiped after sending.")]
                #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                pub struct $x_ty;
                impl Protocol for $x_ty {
                    const PROTO_ID: u32 = $x_id;
                    const NAME: &'static str = $x_name;
                    type Request = $x_m::Request;
                    type Response = $x_m::Response;
                    const SENSITIVE: bool = true;
                    fn wipe(req: &mut Self::Request) {
                        Secret::wipe_secret(req);
                    }
                }
            )*
            $(
                #[doc = concat!("`", $w_name, "` (", stringify!($w_id), "), a write carrying `Common.PacketID`.")]
                #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                pub struct $w_ty;
                impl Protocol for $w_ty {
                    const PROTO_ID: u32 = $w_id;
                    const NAME: &'static str = $w_name;
                    type Request = $w_m::Request;
                    type Response = $w_m::Response;
                    const IS_WRITE: bool = true;
                    fn fill_packet_id(req: &mut Self::Request, conn_id: u64, serial: u32) {
                        let p = &mut req.c2s.packet_id;
                        if p.conn_id == 0 && p.serial_no == 0 {
                            *p = common::PacketId { conn_id, serial_no: serial };
                        }
                    }
                }
            )*
            $( define_protocols!(@push $pc_ty, $pc_id, $pc_name, $pc_m); )*
            $( define_protocols!(@push $pt_ty, $pt_id, $pt_name, $pt_m); )*
            $( define_protocols!(@push $pq_ty, $pq_id, $pq_name, $pq_m); )*

            /// Every request/response protocol except the writes: (id, name).
            pub const ALL: &[(u32, &str)] = &[
                $(($s_id, $s_name),)* $(($c_id, $c_name),)* $(($t_id, $t_name),)* $(($x_id, $x_name),)* $(($q_id, $q_name),)*
            ];
            /// Every write protocol: (id, name).
            pub const WRITES: &[(u32, &str)] = &[$(($w_id, $w_name)),*];
            /// Every push protocol: (id, name).
            pub const PUSHES: &[(u32, &str)] = &[$(($pc_id, $pc_name),)* $(($pt_id, $pt_name),)* $(($pq_id, $pq_name),)*];
            /// The market-data request protocols (`Qot_*`, 3001-3456): (id, name).
            pub const QOT: &[(u32, &str)] = &[$(($q_id, $q_name)),*];
            /// The market-data push protocols: (id, name).
            pub const QOT_PUSHES: &[(u32, &str)] = &[$(($pq_id, $pq_name)),*];
        }

        /// The protocol name for an id, if the table knows it.
        pub fn proto_name(proto_id: u32) -> Option<&'static str> {
            match proto_id {
                $($s_id => Some($s_name),)*
                $($c_id => Some($c_name),)*
                $($t_id => Some($t_name),)*
                $($x_id => Some($x_name),)*
                $($w_id => Some($w_name),)*
                $($q_id => Some($q_name),)*
                $($pc_id => Some($pc_name),)*
                $($pt_id => Some($pt_name),)*
                $($pq_id => Some($pq_name),)*
                _ => None,
            }
        }

        /// Whether `proto_id` is a push protocol (Notify 1003, the trade pushes 2208 and
        /// 2218, and the market-data pushes such as 3005 UpdateBasicQot).
        pub fn is_push(proto_id: u32) -> bool {
            matches!(proto_id, $($pc_id)|* | $($pt_id)|* | $($pq_id)|*)
        }
    };
    (@plain $ty:ident, $id:literal, $name:literal, $m:ident) => {
        #[doc = concat!("`", $name, "` (", stringify!($id), ").")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $ty;
        impl Protocol for $ty {
            const PROTO_ID: u32 = $id;
            const NAME: &'static str = $name;
            type Request = $m::Request;
            type Response = $m::Response;
        }
    };
    (@push $ty:ident, $id:literal, $name:literal, $m:ident) => {
        #[doc = concat!("`", $name, "` push (", stringify!($id), ").")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $ty;
        impl PushProtocol for $ty {
            const PROTO_ID: u32 = $id;
            const NAME: &'static str = $name;
            type Response = $m::Response;
        }
    };
}

protocol_table!(define_protocols);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_unique_ids_and_names() {
        let mut all: Vec<(u32, &str)> = proto::ALL.iter().chain(proto::WRITES).chain(proto::PUSHES).copied().collect();
        let n = all.len();
        all.sort();
        all.dedup_by_key(|(id, _)| *id);
        assert_eq!(all.len(), n, "duplicate protocol id");
        for (id, name) in &all {
            assert_eq!(proto_name(*id), Some(*name));
            assert_eq!(is_push(*id), proto::PUSHES.iter().any(|(p, _)| p == id), "{name}");
        }
        assert!(proto::QOT.iter().all(|(id, name)| name.starts_with("Qot_") && (3000..4000).contains(id)));
        assert!(proto::QOT_PUSHES.iter().all(|(id, _)| is_push(*id)));
        assert_eq!(proto_name(3005), Some("Qot_UpdateBasicQot"));
        assert_eq!(proto_name(9999), None);
    }
}
