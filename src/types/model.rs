//! Typed views of the trading messages: named fields, Rust enums and market-prefixed
//! codes instead of raw protobuf.
//!
//! Every type converts from its protobuf counterpart with `From<&pb::...>`. The
//! conversion cannot fail: enum values OpenD adds later land in `Other(_)`, and a code
//! whose market is unknown is prefixed `N/A`, as in the SDK.
//!
//! Field conventions: required wire fields are plain values. Optional wire fields are
//! `Option` where absence means "not applicable / not reported" (most numbers in
//! funds and positions, flags such as `is_pdt`); they are plain values where absence and
//! the default mean the same thing (an absent enum with an `Unknown`/`None` variant
//! at 0, an absent `remark`, an absent fill quantity of an order). Ratios are kept as
//! OpenD sends them (the Python SDK multiplies some by 100 for display).
//!
//! ```
//! use ftapi::pb;
//! use ftapi::types::{Order, OrderStatus, TrdSide};
//! let wire = pb::trd_common::Order {
//!     trd_side: 1,
//!     order_type: 1,
//!     order_status: 5,
//!     order_id: 42,
//!     order_id_ex: "FT42".into(),
//!     code: "00700".into(),
//!     name: "TENCENT".into(),
//!     qty: 100.0,
//!     price: Some(380.2),
//!     create_time: "2024-01-02 09:30:00".into(),
//!     update_time: "2024-01-02 09:30:00".into(),
//!     sec_market: Some(1),
//!     ..Default::default()
//! };
//! let order = Order::from(&wire);
//! assert_eq!(order.code.to_string(), "HK.00700");
//! assert_eq!(order.trd_side, TrdSide::Buy);
//! assert_eq!(order.order_status, OrderStatus::Submitted);
//! assert_eq!(order.price, 380.2);
//! ```

use super::code::SecurityCode;
use super::enums::{
    CashFlowDirection, CltRiskLevel, CltRiskStatus, Currency, DtStatus, ExposureLevel, OptionStrategyType,
    OrderFillStatus, OrderStatus, OrderType, PositionSide, PositionType, PredSide, SecurityFirm, Session, SimAccType,
    TimeInForce, TrailType, TrdAccRole, TrdAccStatus, TrdAccType, TrdEnv, TrdMarket, TrdSide, TrdSubAccType,
};
use crate::pb;

fn opt_enum<E: From<i32>>(v: Option<i32>) -> Option<E> {
    v.map(E::from)
}

fn enum_or_default<E: From<i32>>(v: Option<i32>) -> E {
    E::from(v.unwrap_or(0))
}

/// Which account a request is about: the `Trd_Common.TrdHeader` of requests and
/// responses.
///
/// ```
/// use ftapi::types::{AccountRef, TrdEnv, TrdMarket};
/// let r = AccountRef::new(TrdEnv::Real, 281756455982434, TrdMarket::Hk);
/// let h = r.to_pb_header();
/// assert_eq!((h.trd_env, h.acc_id, h.trd_market), (1, 281756455982434, 1));
/// assert_eq!(AccountRef::from(&h), r);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountRef {
    /// Real or paper trading.
    pub env: TrdEnv,
    /// The account ID.
    pub acc_id: u64,
    /// The market the request is about.
    pub market: TrdMarket,
    /// The JP sub-account, if any (`jpAccType`).
    pub jp_acc_type: Option<TrdSubAccType>,
}

impl AccountRef {
    /// A header without a JP sub-account.
    pub const fn new(env: TrdEnv, acc_id: u64, market: TrdMarket) -> Self {
        AccountRef { env, acc_id, market, jp_acc_type: None }
    }

    /// As the protobuf `TrdHeader`.
    pub fn to_pb_header(&self) -> pb::trd_common::TrdHeader {
        pb::trd_common::TrdHeader {
            trd_env: self.env.value(),
            acc_id: self.acc_id,
            trd_market: self.market.value(),
            jp_acc_type: self.jp_acc_type.map(|t| t.value()),
        }
    }
}

impl From<&pb::trd_common::TrdHeader> for AccountRef {
    fn from(h: &pb::trd_common::TrdHeader) -> Self {
        AccountRef {
            env: TrdEnv::from(h.trd_env),
            acc_id: h.acc_id,
            market: TrdMarket::from(h.trd_market),
            jp_acc_type: opt_enum(h.jp_acc_type),
        }
    }
}

impl From<AccountRef> for pb::trd_common::TrdHeader {
    fn from(r: AccountRef) -> Self {
        r.to_pb_header()
    }
}

/// A trading account from Trd_GetAccList (`Trd_Common.TrdAcc`).
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Real or paper trading.
    pub env: TrdEnv,
    /// The account ID.
    pub acc_id: u64,
    /// Markets the account may trade, in OpenD's order (`trdMarketAuthList`).
    pub trd_market_auth: Vec<TrdMarket>,
    /// Account type (`Unknown` if absent).
    pub acc_type: TrdAccType,
    /// Card number.
    pub card_num: Option<String>,
    /// Broker entity (`Unknown` if absent; the SDK treats absent, 0 and unknown
    /// values alike as "no firm").
    pub security_firm: SecurityFirm,
    /// Kind of paper account (`Unknown` if absent).
    pub sim_acc_type: SimAccType,
    /// Card number of the parent universal account.
    pub uni_card_num: Option<String>,
    /// Status (absent is not the same as `Active`, which is 0).
    pub acc_status: Option<TrdAccStatus>,
    /// Role (`Unknown` if absent).
    pub acc_role: TrdAccRole,
    /// JP sub-account types.
    pub jp_acc_types: Vec<TrdSubAccType>,
    /// Name of a competition account.
    pub competition_acc_name: Option<String>,
}

impl Account {
    /// An account with the given environment, ID and markets, every other field
    /// unknown/absent (handy for tests and simulators).
    pub fn new(env: TrdEnv, acc_id: u64, trd_market_auth: Vec<TrdMarket>) -> Self {
        Account {
            env,
            acc_id,
            trd_market_auth,
            acc_type: TrdAccType::Unknown,
            card_num: None,
            security_firm: SecurityFirm::Unknown,
            sim_acc_type: SimAccType::Unknown,
            uni_card_num: None,
            acc_status: None,
            acc_role: TrdAccRole::Unknown,
            jp_acc_types: Vec::new(),
            competition_acc_name: None,
        }
    }

    /// Whether this is a real-money account.
    pub fn is_real(&self) -> bool {
        self.env == TrdEnv::Real
    }

    /// Whether this is a paper-trading account.
    pub fn is_simulate(&self) -> bool {
        self.env == TrdEnv::Simulate
    }

    /// Whether the account may trade `market`.
    pub fn has_market(&self, market: TrdMarket) -> bool {
        self.trd_market_auth.contains(&market)
    }

    /// The first market of `trdMarketAuthList` (`Unknown` if the list is empty): the
    /// header market the SDK uses for funds, positions, order and fill lists,
    /// modify/cancel, fees and cash flow.
    pub fn first_market(&self) -> TrdMarket {
        self.trd_market_auth.first().copied().unwrap_or(TrdMarket::Unknown)
    }

    /// The header for a request about this account in `market`.
    pub fn account_ref(&self, market: TrdMarket) -> AccountRef {
        AccountRef::new(self.env, self.acc_id, market)
    }

    /// The header with [`Account::first_market`].
    pub fn default_ref(&self) -> AccountRef {
        self.account_ref(self.first_market())
    }

    /// As the protobuf `TrdAcc` (absent fields stay absent; `Unknown` enums are sent
    /// as absent).
    pub fn to_pb(&self) -> pb::trd_common::TrdAcc {
        fn known<E: Into<i32>>(v: E) -> Option<i32> {
            let n: i32 = v.into();
            (n != 0).then_some(n)
        }
        pb::trd_common::TrdAcc {
            trd_env: self.env.value(),
            acc_id: self.acc_id,
            trd_market_auth_list: self.trd_market_auth.iter().map(|m| m.value()).collect(),
            acc_type: known(self.acc_type),
            card_num: self.card_num.clone(),
            security_firm: known(self.security_firm),
            sim_acc_type: known(self.sim_acc_type),
            uni_card_num: self.uni_card_num.clone(),
            acc_status: self.acc_status.map(|s| s.value()),
            acc_role: known(self.acc_role),
            jp_acc_type: self.jp_acc_types.iter().map(|t| t.value()).collect(),
            competition_acc_name: self.competition_acc_name.clone(),
        }
    }
}

impl From<&pb::trd_common::TrdAcc> for Account {
    fn from(a: &pb::trd_common::TrdAcc) -> Self {
        Account {
            env: TrdEnv::from(a.trd_env),
            acc_id: a.acc_id,
            trd_market_auth: a.trd_market_auth_list.iter().map(|m| TrdMarket::from(*m)).collect(),
            acc_type: enum_or_default(a.acc_type),
            card_num: a.card_num.clone(),
            security_firm: enum_or_default(a.security_firm),
            sim_acc_type: enum_or_default(a.sim_acc_type),
            uni_card_num: a.uni_card_num.clone(),
            acc_status: opt_enum(a.acc_status),
            acc_role: enum_or_default(a.acc_role),
            jp_acc_types: a.jp_acc_type.iter().map(|t| TrdSubAccType::from(*t)).collect(),
            competition_acc_name: a.competition_acc_name.clone(),
        }
    }
}

/// Cash in one currency (`Trd_Common.AccCashInfo`).
#[derive(Debug, Clone, PartialEq)]
pub struct CashInfo {
    /// Currency (`Unknown` if absent).
    pub currency: Currency,
    /// Cash balance.
    pub cash: Option<f64>,
    /// Available balance.
    pub available_balance: Option<f64>,
    /// Net cash buying power.
    pub net_cash_power: Option<f64>,
}

impl From<&pb::trd_common::AccCashInfo> for CashInfo {
    fn from(c: &pb::trd_common::AccCashInfo) -> Self {
        CashInfo {
            currency: enum_or_default(c.currency),
            cash: c.cash,
            available_balance: c.available_balance,
            net_cash_power: c.net_cash_power,
        }
    }
}

/// Assets in one market (`Trd_Common.AccMarketInfo`).
#[derive(Debug, Clone, PartialEq)]
pub struct MarketInfo {
    /// Market (`Unknown` if absent).
    pub trd_market: TrdMarket,
    /// Assets in that market.
    pub assets: Option<f64>,
}

impl From<&pb::trd_common::AccMarketInfo> for MarketInfo {
    fn from(m: &pb::trd_common::AccMarketInfo) -> Self {
        MarketInfo { trd_market: enum_or_default(m.trd_market), assets: m.assets }
    }
}

/// Account funds from Trd_GetFunds (`Trd_Common.Funds`).
#[derive(Debug, Clone, PartialEq)]
pub struct Funds {
    /// Maximum long buying power.
    pub power: f64,
    /// Net assets.
    pub total_assets: f64,
    /// Cash.
    pub cash: f64,
    /// Market value of securities.
    pub market_val: f64,
    /// Frozen cash.
    pub frozen_cash: f64,
    /// Interest-bearing amount.
    pub debt_cash: f64,
    /// Cash available for withdrawal.
    pub avl_withdrawal_cash: f64,
    /// Currency of the amounts (`Unknown` if absent).
    pub currency: Currency,
    /// Available funds (futures).
    pub available_funds: Option<f64>,
    /// Unrealized P/L.
    pub unrealized_pl: Option<f64>,
    /// Realized P/L.
    pub realized_pl: Option<f64>,
    /// Risk level (absent is not `Safe`, which is 0).
    pub risk_level: Option<CltRiskLevel>,
    /// Initial margin.
    pub initial_margin: Option<f64>,
    /// Maintenance margin.
    pub maintenance_margin: Option<f64>,
    /// Cash per currency.
    pub cash_info: Vec<CashInfo>,
    /// Maximum short selling power.
    pub max_power_short: Option<f64>,
    /// Net cash buying power.
    pub net_cash_power: Option<f64>,
    /// Long market value.
    pub long_mv: Option<f64>,
    /// Short market value.
    pub short_mv: Option<f64>,
    /// Assets in transit.
    pub pending_asset: Option<f64>,
    /// Maximum withdrawal including financing.
    pub max_withdrawal: Option<f64>,
    /// Risk status (`Unknown` if absent).
    pub risk_status: CltRiskStatus,
    /// Margin-call margin.
    pub margin_call_margin: Option<f64>,
    /// Pattern day trader flag.
    pub is_pdt: Option<bool>,
    /// Day trades left (as OpenD formats it).
    pub pdt_seq: Option<String>,
    /// Day-trading buying power at the start of the day.
    pub beginning_dtbp: Option<f64>,
    /// Remaining day-trading buying power.
    pub remaining_dtbp: Option<f64>,
    /// Day-trading call amount.
    pub dt_call_amount: Option<f64>,
    /// Day-trading status (`Unknown` if absent).
    pub dt_status: DtStatus,
    /// Securities assets.
    pub securities_assets: Option<f64>,
    /// Fund assets.
    pub fund_assets: Option<f64>,
    /// Bond assets.
    pub bond_assets: Option<f64>,
    /// Assets per market.
    pub market_info: Vec<MarketInfo>,
    /// Crypto market value.
    pub crypto_mv: Option<f64>,
    /// Exposure level (`Unknown` if absent).
    pub exposure_level: ExposureLevel,
    /// Exposure limit.
    pub exposure_limit: Option<f64>,
    /// Used limit.
    pub used_limit: Option<f64>,
    /// Remaining limit.
    pub remaining_limit: Option<f64>,
}

impl From<&pb::trd_common::Funds> for Funds {
    fn from(f: &pb::trd_common::Funds) -> Self {
        Funds {
            power: f.power,
            total_assets: f.total_assets,
            cash: f.cash,
            market_val: f.market_val,
            frozen_cash: f.frozen_cash,
            debt_cash: f.debt_cash,
            avl_withdrawal_cash: f.avl_withdrawal_cash,
            currency: enum_or_default(f.currency),
            available_funds: f.available_funds,
            unrealized_pl: f.unrealized_pl,
            realized_pl: f.realized_pl,
            risk_level: opt_enum(f.risk_level),
            initial_margin: f.initial_margin,
            maintenance_margin: f.maintenance_margin,
            cash_info: f.cash_info_list.iter().map(CashInfo::from).collect(),
            max_power_short: f.max_power_short,
            net_cash_power: f.net_cash_power,
            long_mv: f.long_mv,
            short_mv: f.short_mv,
            pending_asset: f.pending_asset,
            max_withdrawal: f.max_withdrawal,
            risk_status: enum_or_default(f.risk_status),
            margin_call_margin: f.margin_call_margin,
            is_pdt: f.is_pdt,
            pdt_seq: f.pdt_seq.clone(),
            beginning_dtbp: f.beginning_dtbp,
            remaining_dtbp: f.remaining_dtbp,
            dt_call_amount: f.dt_call_amount,
            dt_status: enum_or_default(f.dt_status),
            securities_assets: f.securities_assets,
            fund_assets: f.fund_assets,
            bond_assets: f.bond_assets,
            market_info: f.market_info_list.iter().map(MarketInfo::from).collect(),
            crypto_mv: f.crypto_mv,
            exposure_level: enum_or_default(f.exposure_level),
            exposure_limit: f.exposure_limit,
            used_limit: f.used_limit,
            remaining_limit: f.remaining_limit,
        }
    }
}

/// A position from Trd_GetPositionList (`Trd_Common.Position`).
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    /// Position ID.
    pub position_id: u64,
    /// Long or short.
    pub position_side: PositionSide,
    /// The security, prefixed from `secMarket`.
    pub code: SecurityCode,
    /// Security name.
    pub name: String,
    /// Quantity held.
    pub qty: f64,
    /// Quantity that can be sold.
    pub can_sell_qty: f64,
    /// Market price.
    pub price: f64,
    /// Cost price (deprecated by OpenD; absent when not valid).
    pub cost_price: Option<f64>,
    /// Market value.
    pub val: f64,
    /// Profit/loss.
    pub pl_val: f64,
    /// Profit/loss ratio (absent when not valid).
    pub pl_ratio: Option<f64>,
    /// Today's profit/loss.
    pub td_pl_val: Option<f64>,
    /// Today's traded value.
    pub td_trd_val: Option<f64>,
    /// Today's bought value.
    pub td_buy_val: Option<f64>,
    /// Today's bought quantity.
    pub td_buy_qty: Option<f64>,
    /// Today's sold value.
    pub td_sell_val: Option<f64>,
    /// Today's sold quantity.
    pub td_sell_qty: Option<f64>,
    /// Unrealized profit/loss.
    pub unrealized_pl: Option<f64>,
    /// Realized profit/loss.
    pub realized_pl: Option<f64>,
    /// Currency (`Unknown` if absent).
    pub currency: Currency,
    /// Market of the position (`Unknown` if absent).
    pub trd_market: TrdMarket,
    /// Diluted cost price.
    pub diluted_cost_price: Option<f64>,
    /// Average cost price.
    pub average_cost_price: Option<f64>,
    /// Profit/loss ratio against the average cost.
    pub average_pl_ratio: Option<f64>,
    /// Combination ID.
    pub combo_id: Option<u64>,
    /// Option strategy (`Unknown` if absent).
    pub strategy_type: OptionStrategyType,
    /// Combined position or leg (`Unknown` if absent).
    pub position_type: PositionType,
    /// Account ID.
    pub acc_id: Option<u64>,
    /// JP sub-account (`None` variant if absent).
    pub jp_acc_type: TrdSubAccType,
    /// Payout if the event contract wins.
    pub payout_if_win: Option<f64>,
}

impl From<&pb::trd_common::Position> for Position {
    fn from(p: &pb::trd_common::Position) -> Self {
        Position {
            position_id: p.position_id,
            position_side: PositionSide::from(p.position_side),
            code: SecurityCode::from_opt_sec_market(p.sec_market, &p.code),
            name: p.name.clone(),
            qty: p.qty,
            can_sell_qty: p.can_sell_qty,
            price: p.price,
            cost_price: p.cost_price,
            val: p.val,
            pl_val: p.pl_val,
            pl_ratio: p.pl_ratio,
            td_pl_val: p.td_pl_val,
            td_trd_val: p.td_trd_val,
            td_buy_val: p.td_buy_val,
            td_buy_qty: p.td_buy_qty,
            td_sell_val: p.td_sell_val,
            td_sell_qty: p.td_sell_qty,
            unrealized_pl: p.unrealized_pl,
            realized_pl: p.realized_pl,
            currency: enum_or_default(p.currency),
            trd_market: enum_or_default(p.trd_market),
            diluted_cost_price: p.diluted_cost_price,
            average_cost_price: p.average_cost_price,
            average_pl_ratio: p.average_pl_ratio,
            combo_id: p.combo_id,
            strategy_type: enum_or_default(p.strategy_type),
            position_type: enum_or_default(p.position_type),
            acc_id: p.acc_id,
            jp_acc_type: enum_or_default(p.jp_acc_type),
            payout_if_win: p.payout_if_win,
        }
    }
}

/// A leg of a combination order (`Qot_Common.ComboLeg`).
#[derive(Debug, Clone, PartialEq)]
pub struct ComboLeg {
    /// The leg's security, prefixed from `Security.market`.
    pub code: SecurityCode,
    /// Side (`Unknown` if absent).
    pub side: TrdSide,
    /// Leg quantity = order quantity x this ratio.
    pub qty_ratio: Option<f64>,
    /// Position to close (moomoo JP).
    pub position_id: Option<u64>,
    /// Event-contract direction (`Unknown` if absent).
    pub pred_side: PredSide,
}

impl ComboLeg {
    /// A leg with a side and a ratio.
    pub fn new(code: SecurityCode, side: TrdSide, qty_ratio: f64) -> Self {
        ComboLeg { code, side, qty_ratio: Some(qty_ratio), position_id: None, pred_side: PredSide::Unknown }
    }

    /// As the protobuf `ComboLeg` (`Unknown` side / pred side are left absent).
    pub fn to_pb(&self) -> pb::qot_common::ComboLeg {
        pb::qot_common::ComboLeg {
            security: self.code.to_pb_security(),
            side: (self.side != TrdSide::Unknown).then_some(self.side.value()),
            qty_ratio: self.qty_ratio,
            position_id: self.position_id,
            pred_side: (self.pred_side != PredSide::Unknown).then_some(self.pred_side.value()),
        }
    }
}

impl From<&pb::qot_common::ComboLeg> for ComboLeg {
    fn from(l: &pb::qot_common::ComboLeg) -> Self {
        ComboLeg {
            code: SecurityCode::from_pb_security(&l.security),
            side: enum_or_default(l.side),
            qty_ratio: l.qty_ratio,
            position_id: l.position_id,
            pred_side: enum_or_default(l.pred_side),
        }
    }
}

/// An order from Trd_GetOrderList, Trd_GetHistoryOrderList or the 2208 push
/// (`Trd_Common.Order`).
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Side.
    pub trd_side: TrdSide,
    /// Order type.
    pub order_type: OrderType,
    /// Status.
    pub order_status: OrderStatus,
    /// Numeric order ID.
    pub order_id: u64,
    /// Server order ID (the SDK's user-facing `order_id`).
    pub order_id_ex: String,
    /// The security, prefixed from `secMarket`.
    pub code: SecurityCode,
    /// Security name.
    pub name: String,
    /// Order quantity.
    pub qty: f64,
    /// Limit price (0 if absent, e.g. market orders).
    pub price: f64,
    /// Creation time (`YYYY-MM-DD HH:MM:SS[.mmm]`).
    pub create_time: String,
    /// Last update time.
    pub update_time: String,
    /// Filled quantity (0 if absent).
    pub fill_qty: f64,
    /// Average fill price (0 if absent).
    pub fill_avg_price: f64,
    /// Last error message ("" if absent).
    pub last_err_msg: String,
    /// Creation time as a Unix timestamp.
    pub create_timestamp: Option<f64>,
    /// Update time as a Unix timestamp.
    pub update_timestamp: Option<f64>,
    /// Remark ("" if absent).
    pub remark: String,
    /// Time in force (absent is not `Day`, which is 0).
    pub time_in_force: Option<TimeInForce>,
    /// Whether the order may fill outside regular trading hours.
    pub fill_outside_rth: Option<bool>,
    /// Trigger price of stop / if-touched orders.
    pub aux_price: Option<f64>,
    /// Trailing type (`Unknown` if absent).
    pub trail_type: TrailType,
    /// Trailing amount or ratio.
    pub trail_value: Option<f64>,
    /// Trailing spread.
    pub trail_spread: Option<f64>,
    /// Currency (`Unknown` if absent).
    pub currency: Currency,
    /// Market of the order (`Unknown` if absent).
    pub trd_market: TrdMarket,
    /// US session (`None` variant if absent).
    pub session: Session,
    /// JP sub-account (`None` variant if absent).
    pub jp_acc_type: TrdSubAccType,
    /// Expiry of a GTD order.
    pub expire_time: Option<String>,
    /// Order amount.
    pub order_amount: Option<f64>,
    /// Option strategy of a combo order (`Unknown` if absent).
    pub strategy_type: OptionStrategyType,
    /// Legs of a combo order.
    pub combo_legs: Vec<ComboLeg>,
}

impl Order {
    /// Quantity not filled yet (never negative).
    pub fn remaining_qty(&self) -> f64 {
        (self.qty - self.fill_qty).max(0.0)
    }
}

impl From<&pb::trd_common::Order> for Order {
    fn from(o: &pb::trd_common::Order) -> Self {
        Order {
            trd_side: TrdSide::from(o.trd_side),
            order_type: OrderType::from(o.order_type),
            order_status: OrderStatus::from(o.order_status),
            order_id: o.order_id,
            order_id_ex: o.order_id_ex.clone(),
            code: SecurityCode::from_opt_sec_market(o.sec_market, &o.code),
            name: o.name.clone(),
            qty: o.qty,
            price: o.price.unwrap_or(0.0),
            create_time: o.create_time.clone(),
            update_time: o.update_time.clone(),
            fill_qty: o.fill_qty.unwrap_or(0.0),
            fill_avg_price: o.fill_avg_price.unwrap_or(0.0),
            last_err_msg: o.last_err_msg.clone().unwrap_or_default(),
            create_timestamp: o.create_timestamp,
            update_timestamp: o.update_timestamp,
            remark: o.remark.clone().unwrap_or_default(),
            time_in_force: opt_enum(o.time_in_force),
            fill_outside_rth: o.fill_outside_rth,
            aux_price: o.aux_price,
            trail_type: enum_or_default(o.trail_type),
            trail_value: o.trail_value,
            trail_spread: o.trail_spread,
            currency: enum_or_default(o.currency),
            trd_market: enum_or_default(o.trd_market),
            session: enum_or_default(o.session),
            jp_acc_type: enum_or_default(o.jp_acc_type),
            expire_time: o.expire_time.clone(),
            order_amount: o.order_amount,
            strategy_type: enum_or_default(o.strategy_type),
            combo_legs: o.combo_legs.iter().map(ComboLeg::from).collect(),
        }
    }
}

/// A fill from Trd_GetOrderFillList, Trd_GetHistoryOrderFillList or the 2218 push
/// (`Trd_Common.OrderFill`; the SDK calls it a deal).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFill {
    /// Side.
    pub trd_side: TrdSide,
    /// Numeric fill ID.
    pub fill_id: u64,
    /// Server fill ID.
    pub fill_id_ex: String,
    /// Numeric ID of the order.
    pub order_id: Option<u64>,
    /// Server ID of the order.
    pub order_id_ex: Option<String>,
    /// The security, prefixed from `secMarket`.
    pub code: SecurityCode,
    /// Security name.
    pub name: String,
    /// Filled quantity.
    pub qty: f64,
    /// Fill price.
    pub price: f64,
    /// Fill time (`YYYY-MM-DD HH:MM:SS[.mmm]`).
    pub create_time: String,
    /// Counterparty broker ID (HK).
    pub counter_broker_id: Option<i32>,
    /// Counterparty broker name (HK).
    pub counter_broker_name: Option<String>,
    /// Fill time as a Unix timestamp.
    pub create_timestamp: Option<f64>,
    /// Update time as a Unix timestamp.
    pub update_timestamp: Option<f64>,
    /// Status (absent is not `Ok`, which is 0).
    pub status: Option<OrderFillStatus>,
    /// Market (`Unknown` if absent).
    pub trd_market: TrdMarket,
    /// JP sub-account (`None` variant if absent).
    pub jp_acc_type: TrdSubAccType,
}

impl From<&pb::trd_common::OrderFill> for OrderFill {
    fn from(f: &pb::trd_common::OrderFill) -> Self {
        OrderFill {
            trd_side: TrdSide::from(f.trd_side),
            fill_id: f.fill_id,
            fill_id_ex: f.fill_id_ex.clone(),
            order_id: f.order_id,
            order_id_ex: f.order_id_ex.clone(),
            code: SecurityCode::from_opt_sec_market(f.sec_market, &f.code),
            name: f.name.clone(),
            qty: f.qty,
            price: f.price,
            create_time: f.create_time.clone(),
            counter_broker_id: f.counter_broker_id,
            counter_broker_name: f.counter_broker_name.clone(),
            create_timestamp: f.create_timestamp,
            update_timestamp: f.update_timestamp,
            status: opt_enum(f.status),
            trd_market: enum_or_default(f.trd_market),
            jp_acc_type: enum_or_default(f.jp_acc_type),
        }
    }
}

/// Maximum quantities from Trd_GetMaxTrdQtys (`Trd_Common.MaxTrdQtys`); whole lots,
/// futures report 0 for `max_cash_buy`.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxTrdQtys {
    /// Maximum buy with cash.
    pub max_cash_buy: f64,
    /// Maximum buy with cash and margin.
    pub max_cash_and_margin_buy: Option<f64>,
    /// Maximum sell of the position.
    pub max_position_sell: f64,
    /// Maximum short sale.
    pub max_sell_short: Option<f64>,
    /// Maximum buy back.
    pub max_buy_back: Option<f64>,
    /// Initial margin required per long unit.
    pub long_required_im: Option<f64>,
    /// Initial margin required per short unit.
    pub short_required_im: Option<f64>,
    /// Session the quantities are for (`None` variant if absent).
    pub session: Session,
}

impl From<&pb::trd_common::MaxTrdQtys> for MaxTrdQtys {
    fn from(m: &pb::trd_common::MaxTrdQtys) -> Self {
        MaxTrdQtys {
            max_cash_buy: m.max_cash_buy,
            max_cash_and_margin_buy: m.max_cash_and_margin_buy,
            max_position_sell: m.max_position_sell,
            max_sell_short: m.max_sell_short,
            max_buy_back: m.max_buy_back,
            long_required_im: m.long_required_im,
            short_required_im: m.short_required_im,
            session: enum_or_default(m.session),
        }
    }
}

/// Effects of a combination order from Trd_GetComboMaxTrdQtys
/// (`Trd_Common.ComboMaxTrdQtys`).
#[derive(Debug, Clone, PartialEq)]
pub struct ComboMaxTrdQtys {
    /// Change of net liquidation value.
    pub nlv_change: Option<f64>,
    /// Change of initial margin.
    pub initial_margin_change: Option<f64>,
    /// Change of maintenance margin.
    pub maintenance_margin_change: Option<f64>,
    /// Option buying power.
    pub option_buy_power: Option<f64>,
    /// Change of maximum withdrawal.
    pub max_withdraw_change: Option<f64>,
    /// Decrease of buying power.
    pub buy_power_decrease: Option<f64>,
}

impl From<&pb::trd_common::ComboMaxTrdQtys> for ComboMaxTrdQtys {
    fn from(m: &pb::trd_common::ComboMaxTrdQtys) -> Self {
        ComboMaxTrdQtys {
            nlv_change: m.nlv_change,
            initial_margin_change: m.initial_margin_change,
            maintenance_margin_change: m.maintenance_margin_change,
            option_buy_power: m.option_buy_power,
            max_withdraw_change: m.max_with_draw_change,
            buy_power_decrease: m.buy_power_decrease,
        }
    }
}

/// Margin data of one security from Trd_GetMarginRatio
/// (`Trd_GetMarginRatio.MarginRatioInfo`). `im` = initial margin, `mcm` = margin-call
/// margin, `mm` = maintenance margin; long = financing, short = borrowing.
#[derive(Debug, Clone, PartialEq)]
pub struct MarginRatio {
    /// The security, prefixed from `Security.market`.
    pub code: SecurityCode,
    /// Whether financing (long on margin) is allowed.
    pub is_long_permit: Option<bool>,
    /// Whether short selling is allowed.
    pub is_short_permit: Option<bool>,
    /// Remaining short pool.
    pub short_pool_remain: Option<f64>,
    /// Short fee rate.
    pub short_fee_rate: Option<f64>,
    /// Alert ratio, long.
    pub alert_long_ratio: Option<f64>,
    /// Alert ratio, short.
    pub alert_short_ratio: Option<f64>,
    /// Initial margin ratio, long.
    pub im_long_ratio: Option<f64>,
    /// Initial margin ratio, short.
    pub im_short_ratio: Option<f64>,
    /// Margin-call margin ratio, long.
    pub mcm_long_ratio: Option<f64>,
    /// Margin-call margin ratio, short.
    pub mcm_short_ratio: Option<f64>,
    /// Maintenance margin ratio, long.
    pub mm_long_ratio: Option<f64>,
    /// Maintenance margin ratio, short.
    pub mm_short_ratio: Option<f64>,
}

impl From<&pb::trd_get_margin_ratio::MarginRatioInfo> for MarginRatio {
    fn from(m: &pb::trd_get_margin_ratio::MarginRatioInfo) -> Self {
        MarginRatio {
            code: SecurityCode::from_pb_security(&m.security),
            is_long_permit: m.is_long_permit,
            is_short_permit: m.is_short_permit,
            short_pool_remain: m.short_pool_remain,
            short_fee_rate: m.short_fee_rate,
            alert_long_ratio: m.alert_long_ratio,
            alert_short_ratio: m.alert_short_ratio,
            im_long_ratio: m.im_long_ratio,
            im_short_ratio: m.im_short_ratio,
            mcm_long_ratio: m.mcm_long_ratio,
            mcm_short_ratio: m.mcm_short_ratio,
            mm_long_ratio: m.mm_long_ratio,
            mm_short_ratio: m.mm_short_ratio,
        }
    }
}

/// One fee line (`Trd_Common.OrderFeeItem`).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFeeItem {
    /// Fee name ("" if absent).
    pub title: String,
    /// Amount (0 if absent).
    pub value: f64,
}

impl From<&pb::trd_common::OrderFeeItem> for OrderFeeItem {
    fn from(i: &pb::trd_common::OrderFeeItem) -> Self {
        OrderFeeItem { title: i.title.clone().unwrap_or_default(), value: i.value.unwrap_or(0.0) }
    }
}

/// Fees of one order from Trd_GetOrderFee (`Trd_Common.OrderFee`).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFee {
    /// Server order ID.
    pub order_id_ex: String,
    /// Total fees.
    pub fee_amount: Option<f64>,
    /// Fee lines.
    pub fee_list: Vec<OrderFeeItem>,
}

impl From<&pb::trd_common::OrderFee> for OrderFee {
    fn from(f: &pb::trd_common::OrderFee) -> Self {
        OrderFee {
            order_id_ex: f.order_id_ex.clone(),
            fee_amount: f.fee_amount,
            fee_list: f.fee_list.iter().map(OrderFeeItem::from).collect(),
        }
    }
}

/// One cash-flow entry from Trd_FlowSummary (`Trd_FlowSummary.FlowSummaryInfo`).
#[derive(Debug, Clone, PartialEq)]
pub struct CashFlow {
    /// Cash-flow ID.
    pub cash_flow_id: Option<u64>,
    /// Clearing date (`YYYY-MM-DD`).
    pub clearing_date: Option<String>,
    /// Settlement date (`YYYY-MM-DD`).
    pub settlement_date: Option<String>,
    /// Currency (`Unknown` if absent).
    pub currency: Currency,
    /// Kind of cash flow, as OpenD words it.
    pub cash_flow_type: Option<String>,
    /// Direction (`Unknown` if absent).
    pub direction: CashFlowDirection,
    /// Amount.
    pub amount: Option<f64>,
    /// Remark.
    pub remark: Option<String>,
    /// Creation time (crypto accounts).
    pub create_time: Option<String>,
}

impl From<&pb::trd_flow_summary::FlowSummaryInfo> for CashFlow {
    fn from(c: &pb::trd_flow_summary::FlowSummaryInfo) -> Self {
        CashFlow {
            cash_flow_id: c.cash_flow_id,
            clearing_date: c.clearing_date.clone(),
            settlement_date: c.settlement_date.clone(),
            currency: enum_or_default(c.currency),
            cash_flow_type: c.cash_flow_type.clone(),
            direction: enum_or_default(c.cash_flow_direction),
            amount: c.cash_flow_amount,
            remark: c.cash_flow_remark.clone(),
            create_time: c.create_time.clone(),
        }
    }
}
