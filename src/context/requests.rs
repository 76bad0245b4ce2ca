//! The arguments of the trade-context calls: one struct per call, with the Python SDK's
//! defaults, public fields (for struct-update syntax) and chainable setters.
//!
//! Every struct carries an [`AccSel`] (the Python `trd_env`, `acc_id`, `acc_index`
//! arguments) with the setters `env`, `acc_id` and `acc_index`. A request without `env`
//! goes to the context's default environment: REAL as in the Python SDK, unless the
//! builder chose another ([`ContextBuilder::trd_env`](super::ContextBuilder::trd_env)).
//! Quantities and prices are named setters (`.qty(..)`, `.price(..)`), never two
//! numbers in a row that could be swapped. The list queries embed the same parts for the same
//! arguments: a [`CodeFilter`] (`code_list`, `trdmarket`; setters `code` and
//! `filter_market`) and, where the call has one, a [`TimeWindow`] (`start`, `end`;
//! setter `window`).
//!
//! ```
//! use ftapi::context::{OrderQuery, PlaceOrder};
//! use ftapi::types::{OrderStatus, TrdEnv, TrdSide};
//! let order = PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(350.0).env(TrdEnv::Simulate).remark("swing");
//! assert_eq!((order.qty, order.price), (100.0, 350.0));
//! let q = OrderQuery::new().code("HK.00700").status(OrderStatus::Submitted).acc_index(1);
//! assert_eq!(q.acc.acc_index, 1);
//! assert_eq!(q.acc.env, None); // the context's default environment
//! assert_eq!(q.filter.codes, ["HK.00700"]);
//! ```

use crate::types::{
    CashFlowDirection, ComboLeg, Currency, ModifyOrderOp, OrderStatus, OrderType, PredSide, Session, TimeInForce,
    TrailType, TrdAssetCategory, TrdEnv, TrdMarket, TrdSide, TrdSubAccType,
};

/// Which account a call is about: the Python SDK's `trd_env`, `acc_id` and `acc_index`.
///
/// With `acc_id == 0` the account is the `acc_index`-th account of environment `env`
/// in the context's (filtered) account list; otherwise it is the account with that ID,
/// which must be in the list with that environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccSel {
    /// Real or paper trading; `None` (the default) is the context's default
    /// environment (REAL unless the builder's `trd_env` said otherwise).
    pub env: Option<TrdEnv>,
    /// The account ID, or 0 to choose by `acc_index`.
    pub acc_id: u64,
    /// Position among the accounts of `env` when `acc_id` is 0.
    pub acc_index: usize,
}

impl AccSel {
    /// The first account of `env`.
    pub fn env(env: TrdEnv) -> Self {
        AccSel { env: Some(env), ..Self::default() }
    }
}

/// Which securities a list query covers: the Python SDK's `code` / `code_list` and
/// `trdmarket` filter arguments. Empty `codes` and market `Unknown` (the default) mean
/// everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFilter {
    /// Only these codes (`MARKET.CODE`; a bare symbol is taken as it is).
    pub codes: Vec<String>,
    /// Only this market (`Unknown` = all).
    pub market: TrdMarket,
}

impl Default for CodeFilter {
    fn default() -> Self {
        CodeFilter { codes: Vec::new(), market: TrdMarket::Unknown }
    }
}

/// A time window, the Python SDK's `start` and `end`: `YYYY-MM-DD HH:MM:SS` (or
/// `YYYY-MM-DD` where the call says so); `None` leaves that end to the call's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeWindow {
    /// First moment (or date) included.
    pub start: Option<String>,
    /// Last moment (or date) included.
    pub end: Option<String>,
}

macro_rules! acc_setters {
    ($($t:ident),* $(,)?) => {$(
        impl $t {
            /// Sets the trading environment (default: the context's, see
            /// [`ContextBuilder::trd_env`](super::ContextBuilder::trd_env)).
            #[doc(alias = "trd_env")]
            pub fn env(mut self, env: TrdEnv) -> Self {
                self.acc.env = Some(env);
                self
            }
            /// Chooses the account by ID (0 = by index).
            pub fn acc_id(mut self, acc_id: u64) -> Self {
                self.acc.acc_id = acc_id;
                self
            }
            /// Chooses the account by position among the accounts of the environment.
            pub fn acc_index(mut self, acc_index: usize) -> Self {
                self.acc.acc_index = acc_index;
                self
            }
            /// Sets the whole account selection.
            pub fn account(mut self, acc: AccSel) -> Self {
                self.acc = acc;
                self
            }
        }
    )*};
}

acc_setters!(
    PlaceOrder,
    ModifyOrder,
    CancelAll,
    OrderQuery,
    DealQuery,
    HistoryOrderQuery,
    HistoryDealQuery,
    PositionQuery,
    FundsQuery,
    MaxQtyQuery,
    OrderFeeQuery,
    CashFlowQuery,
    ComboOrder,
    ComboMaxQtyQuery,
);

/// `place_order` (Trd_PlaceOrder, 2202).
///
/// Differences from the Python SDK: `jpAccType` is only sent when set (the SDK sends
/// JP_GENERAL for every account), and the result is returned even if reading the new
/// order back fails.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceOrder {
    /// `MARKET.CODE`, e.g. `"HK.00700"`, `"US.AAPL"`.
    pub code: String,
    /// Buy or sell.
    pub trd_side: TrdSide,
    /// Order type (default NORMAL, the limit order).
    pub order_type: OrderType,
    /// Quantity (shares, or contracts for options and futures).
    pub qty: f64,
    /// Price (for market orders OpenD ignores it).
    pub price: f64,
    /// Price adjustment: 0 = none; +x = may raise the price by up to x (fraction, e.g.
    /// 0.015 = 1.5 %) to a valid tick; -x = may lower it. On the wire this is
    /// `adjustPrice` plus `adjustSideAndLimit`.
    #[doc(alias = "adjustPrice")]
    pub adjust_limit: f64,
    /// Note stored with the order (at most 64 bytes).
    pub remark: Option<String>,
    /// DAY (default), GTC, IOC, GTD.
    pub time_in_force: TimeInForce,
    /// US pre/post-market fills.
    pub fill_outside_rth: bool,
    /// Trigger price for stop / if-touched types.
    pub aux_price: Option<f64>,
    /// Trailing type for trailing stops.
    pub trail_type: Option<TrailType>,
    /// Trailing amount or ratio.
    pub trail_value: Option<f64>,
    /// Limit offset of a trailing stop limit.
    pub trail_spread: Option<f64>,
    /// Trading session (US overnight etc.; default none).
    pub session: Session,
    /// JP sub-account (only sent when set).
    pub jp_acc_type: Option<TrdSubAccType>,
    /// JP: the position to close.
    pub position_id: Option<u64>,
    /// Expiry for GTD orders (`YYYY-MM-DD`).
    pub expire_time: Option<String>,
    /// Order amount (event contracts).
    pub amount: Option<f64>,
    /// Event-contract direction.
    pub pred_side: Option<PredSide>,
    /// The account.
    pub acc: AccSel,
}

impl PlaceOrder {
    /// An order of any type; set the quantity and price with [`qty`](Self::qty) and
    /// [`price`](Self::price).
    pub fn new(code: impl Into<String>, trd_side: TrdSide, order_type: OrderType) -> Self {
        PlaceOrder {
            code: code.into(),
            trd_side,
            order_type,
            qty: 0.0,
            price: 0.0,
            adjust_limit: 0.0,
            remark: None,
            time_in_force: TimeInForce::Day,
            fill_outside_rth: false,
            aux_price: None,
            trail_type: None,
            trail_value: None,
            trail_spread: None,
            session: Session::None,
            jp_acc_type: None,
            position_id: None,
            expire_time: None,
            amount: None,
            pred_side: None,
            acc: AccSel::default(),
        }
    }

    /// A limit (NORMAL) order; give its quantity and price by name, so that the two
    /// cannot be swapped: `PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(350.0)`.
    #[doc(alias = "place_order")]
    pub fn limit(code: impl Into<String>, trd_side: TrdSide) -> Self {
        Self::new(code, trd_side, OrderType::Normal)
    }

    /// A market order of `qty`.
    pub fn market(code: impl Into<String>, trd_side: TrdSide, qty: f64) -> Self {
        Self::new(code, trd_side, OrderType::Market).qty(qty)
    }

    /// Sets the quantity (shares, or contracts for options and futures; Python `qty`).
    pub fn qty(mut self, qty: f64) -> Self {
        self.qty = qty;
        self
    }

    /// Sets the price (Python `price`; OpenD ignores it for market orders).
    pub fn price(mut self, price: f64) -> Self {
        self.price = price;
        self
    }

    /// Sets the remark.
    pub fn remark(mut self, remark: impl Into<String>) -> Self {
        self.remark = Some(remark.into());
        self
    }

    /// Sets the time in force.
    pub fn time_in_force(mut self, tif: TimeInForce) -> Self {
        self.time_in_force = tif;
        self
    }

    /// Allows US pre/post-market fills.
    pub fn fill_outside_rth(mut self, yes: bool) -> Self {
        self.fill_outside_rth = yes;
        self
    }

    /// Sets the price adjustment (see [`PlaceOrder::adjust_limit`]).
    pub fn adjust_limit(mut self, adjust_limit: f64) -> Self {
        self.adjust_limit = adjust_limit;
        self
    }

    /// Sets the trigger price.
    pub fn aux_price(mut self, aux_price: f64) -> Self {
        self.aux_price = Some(aux_price);
        self
    }

    /// Sets the trailing parameters.
    pub fn trailing(mut self, trail_type: TrailType, value: f64, spread: Option<f64>) -> Self {
        self.trail_type = Some(trail_type);
        self.trail_value = Some(value);
        self.trail_spread = spread;
        self
    }

    /// Sets the trading session.
    pub fn session(mut self, session: Session) -> Self {
        self.session = session;
        self
    }
}

/// `modify_order` / `change_order` (Trd_ModifyOrder, 2205).
#[derive(Debug, Clone, PartialEq)]
pub struct ModifyOrder {
    /// What to do.
    pub op: ModifyOrderOp,
    /// The order, by its `order_id_ex` (the Python SDK's `order_id`).
    pub order_id: String,
    /// New quantity (NORMAL only).
    pub qty: f64,
    /// New price (NORMAL only).
    pub price: f64,
    /// Price adjustment as in [`PlaceOrder::adjust_limit`] (NORMAL only).
    pub adjust_limit: f64,
    /// New trigger price.
    pub aux_price: Option<f64>,
    /// New trailing type.
    pub trail_type: Option<TrailType>,
    /// New trailing amount or ratio.
    pub trail_value: Option<f64>,
    /// New trailing limit offset.
    pub trail_spread: Option<f64>,
    /// The account.
    pub acc: AccSel,
}

impl ModifyOrder {
    /// Any operation on an order.
    pub fn new(op: ModifyOrderOp, order_id: impl Into<String>) -> Self {
        ModifyOrder {
            op,
            order_id: order_id.into(),
            qty: 0.0,
            price: 0.0,
            adjust_limit: 0.0,
            aux_price: None,
            trail_type: None,
            trail_value: None,
            trail_spread: None,
            acc: AccSel::default(),
        }
    }

    /// Changes quantity and price (Python `change_order(order_id, price, qty)`), given
    /// by name so that the two cannot be swapped:
    /// `ModifyOrder::change(id).qty(200.0).price(351.0)`.
    #[doc(alias = "change_order")]
    #[doc(alias = "modify_order")]
    pub fn change(order_id: impl Into<String>) -> Self {
        Self::new(ModifyOrderOp::Normal, order_id)
    }

    /// Sets the new quantity (NORMAL only).
    pub fn qty(mut self, qty: f64) -> Self {
        self.qty = qty;
        self
    }

    /// Sets the new price (NORMAL only).
    pub fn price(mut self, price: f64) -> Self {
        self.price = price;
        self
    }

    /// Cancels the order.
    pub fn cancel(order_id: impl Into<String>) -> Self {
        Self::new(ModifyOrderOp::Cancel, order_id)
    }

    /// Sets the price adjustment.
    pub fn adjust_limit(mut self, adjust_limit: f64) -> Self {
        self.adjust_limit = adjust_limit;
        self
    }

    /// Sets the trigger price.
    pub fn aux_price(mut self, aux_price: f64) -> Self {
        self.aux_price = Some(aux_price);
        self
    }
}

/// `cancel_all_order` (Trd_ModifyOrder with `forAll`).
#[derive(Debug, Clone, PartialEq)]
pub struct CancelAll {
    /// Only orders of this market (`Unknown` = all markets, the default).
    pub market: TrdMarket,
    /// The account.
    pub acc: AccSel,
}

impl Default for CancelAll {
    fn default() -> Self {
        CancelAll { market: TrdMarket::Unknown, acc: AccSel::default() }
    }
}

impl Default for CashFlowQuery {
    fn default() -> Self {
        CashFlowQuery {
            clearing_date: String::new(),
            direction: CashFlowDirection::Unknown,
            window: TimeWindow::default(),
            acc: AccSel::default(),
        }
    }
}

impl CancelAll {
    /// Every order of the account.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only orders of `market`.
    pub fn market(mut self, market: TrdMarket) -> Self {
        self.market = market;
        self
    }
}

/// `order_list_query` (Trd_GetOrderList, 2201): today's orders.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderQuery {
    /// Only these orders (`order_id_ex` values).
    pub order_ids: Vec<String>,
    /// Only orders in these states.
    pub status_filter: Vec<OrderStatus>,
    /// Only these codes / this market.
    pub filter: CodeFilter,
    /// Only orders created in this window (`YYYY-MM-DD HH:MM:SS`; no default).
    pub window: TimeWindow,
    /// Ask OpenD to refresh its cache from the server first.
    pub refresh_cache: bool,
    /// The account.
    pub acc: AccSel,
}

/// `history_order_list_query` (Trd_GetHistoryOrderList, 2221).
///
/// Without `start` and `end` the window is the last 90 days; with one of them, 90 days
/// from it. (The end defaults to the end of tomorrow, UTC calendar, so that no time
/// zone misses today's orders.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryOrderQuery {
    /// Only orders in these states.
    pub status_filter: Vec<OrderStatus>,
    /// Only these codes / this market.
    pub filter: CodeFilter,
    /// The window (`YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD`; 90-day default).
    pub window: TimeWindow,
    /// The account.
    pub acc: AccSel,
}

/// `deal_list_query` (Trd_GetOrderFillList, 2211): today's fills.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DealQuery {
    /// Only these codes / this market.
    pub filter: CodeFilter,
    /// Ask OpenD to refresh its cache first.
    pub refresh_cache: bool,
    /// The account.
    pub acc: AccSel,
}

/// `history_deal_list_query` (Trd_GetHistoryOrderFillList, 2222); the window rules of
/// [`HistoryOrderQuery`] apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryDealQuery {
    /// Only these codes / this market.
    pub filter: CodeFilter,
    /// The window (90-day default).
    pub window: TimeWindow,
    /// The account.
    pub acc: AccSel,
}

/// `position_list_query` (Trd_GetPositionList, 2102).
#[derive(Debug, Clone, PartialEq)]
pub struct PositionQuery {
    /// Only these codes / this market.
    pub filter: CodeFilter,
    /// Only positions with a P/L ratio above this, in percent (as in the Python SDK,
    /// divided by 100 on the wire).
    pub pl_ratio_min: Option<f64>,
    /// Only positions with a P/L ratio below this, in percent.
    pub pl_ratio_max: Option<f64>,
    /// Currency (needed for crypto accounts; default USD as in the Python SDK).
    pub currency: Currency,
    /// JP asset category.
    pub asset_category: Option<TrdAssetCategory>,
    /// Show option combinations as such.
    pub option_strategy_view: bool,
    /// Ask OpenD to refresh its cache first.
    pub refresh_cache: bool,
    /// The account.
    pub acc: AccSel,
}

impl Default for PositionQuery {
    fn default() -> Self {
        PositionQuery {
            filter: CodeFilter::default(),
            pl_ratio_min: None,
            pl_ratio_max: None,
            currency: Currency::Usd,
            asset_category: None,
            option_strategy_view: false,
            refresh_cache: false,
            acc: AccSel::default(),
        }
    }
}

/// `accinfo_query` (Trd_GetFunds, 2101).
#[derive(Debug, Clone, PartialEq)]
pub struct FundsQuery {
    /// Currency of the totals (needed for universal accounts; default HKD as in the
    /// Python SDK).
    pub currency: Currency,
    /// JP asset category (default none).
    pub asset_category: TrdAssetCategory,
    /// Ask OpenD to refresh its cache first.
    pub refresh_cache: bool,
    /// The account.
    pub acc: AccSel,
}

impl Default for FundsQuery {
    fn default() -> Self {
        FundsQuery {
            currency: Currency::Hkd,
            asset_category: TrdAssetCategory::Unknown,
            refresh_cache: false,
            acc: AccSel::default(),
        }
    }
}

/// `acctradinginfo_query` (Trd_GetMaxTrdQtys, 2111): how much could be bought or sold.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxQtyQuery {
    /// Order type.
    pub order_type: OrderType,
    /// `MARKET.CODE`.
    pub code: String,
    /// Price (for market orders, a current price).
    pub price: f64,
    /// When sizing a modification: the order (`order_id_ex`).
    pub order_id: Option<String>,
    /// Price adjustment as in [`PlaceOrder::adjust_limit`].
    pub adjust_limit: f64,
    /// Trading session.
    pub session: Session,
    /// JP sub-account (only sent when set).
    pub jp_acc_type: Option<TrdSubAccType>,
    /// JP: the position to close.
    pub position_id: Option<u64>,
    /// The account.
    pub acc: AccSel,
}

impl MaxQtyQuery {
    /// Max quantities for an order of `order_type` on `code` at `price`.
    pub fn new(order_type: OrderType, code: impl Into<String>, price: f64) -> Self {
        MaxQtyQuery {
            order_type,
            code: code.into(),
            price,
            order_id: None,
            adjust_limit: 0.0,
            session: Session::None,
            jp_acc_type: None,
            position_id: None,
            acc: AccSel::default(),
        }
    }
}

/// `order_fee_query` (Trd_GetOrderFee, 2225).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderFeeQuery {
    /// The orders (`order_id_ex` values).
    pub order_ids: Vec<String>,
    /// The account.
    pub acc: AccSel,
}

impl OrderFeeQuery {
    /// Fees of these orders.
    pub fn new<S: Into<String>>(order_ids: impl IntoIterator<Item = S>) -> Self {
        OrderFeeQuery { order_ids: order_ids.into_iter().map(Into::into).collect(), acc: AccSel::default() }
    }
}

/// `get_acc_cash_flow` (Trd_FlowSummary, 2226).
#[derive(Debug, Clone, PartialEq)]
pub struct CashFlowQuery {
    /// Clearing date `YYYY-MM-DD` (empty = as OpenD decides).
    pub clearing_date: String,
    /// Only in- or outflows (`Unknown` = both).
    pub direction: CashFlowDirection,
    /// Crypto accounts: first and last creation date (`YYYY-MM-DD`).
    pub window: TimeWindow,
    /// The account.
    pub acc: AccSel,
}

impl CashFlowQuery {
    /// Cash flow of `clearing_date` (`YYYY-MM-DD`).
    pub fn new(clearing_date: impl Into<String>) -> Self {
        CashFlowQuery { clearing_date: clearing_date.into(), ..Self::default() }
    }
}

/// `place_combo_order` (Trd_PlaceComboOrder, 2227): an option or event-contract
/// combination.
#[derive(Debug, Clone, PartialEq)]
pub struct ComboOrder {
    /// The legs; leg quantity = `qty` x the leg's ratio. The header market comes from
    /// the first leg.
    pub legs: Vec<ComboLeg>,
    /// Combination quantity.
    pub qty: f64,
    /// Price of the combination.
    pub price: Option<f64>,
    /// Order type (default NORMAL).
    pub order_type: OrderType,
    /// Time in force (default DAY).
    pub time_in_force: TimeInForce,
    /// Expiry for GTD.
    pub expire_time: Option<String>,
    /// Note (at most 64 bytes).
    pub remark: String,
    /// Quote ID of an event-contract RFQ.
    pub quote_id: Option<String>,
    /// The account.
    pub acc: AccSel,
}

impl ComboOrder {
    /// A NORMAL combination order.
    pub fn new(legs: Vec<ComboLeg>, qty: f64, price: f64) -> Self {
        ComboOrder {
            legs,
            qty,
            price: Some(price),
            order_type: OrderType::Normal,
            time_in_force: TimeInForce::Day,
            expire_time: None,
            remark: String::new(),
            quote_id: None,
            acc: AccSel::default(),
        }
    }
}

/// `comboorder_tradinginfo_query` (Trd_GetComboMaxTrdQtys, 2112).
#[derive(Debug, Clone, PartialEq)]
pub struct ComboMaxQtyQuery {
    /// The legs.
    pub legs: Vec<ComboLeg>,
    /// Combination quantity.
    pub qty: f64,
    /// Price.
    pub price: Option<f64>,
    /// Order type (default NORMAL).
    pub order_type: OrderType,
    /// When sizing a modification: the order (`order_id_ex`).
    pub order_id: Option<String>,
    /// The account.
    pub acc: AccSel,
}

impl ComboMaxQtyQuery {
    /// Max quantities for a NORMAL combination order.
    pub fn new(legs: Vec<ComboLeg>, qty: f64, price: f64) -> Self {
        ComboMaxQtyQuery {
            legs,
            qty,
            price: Some(price),
            order_type: OrderType::Normal,
            order_id: None,
            acc: AccSel::default(),
        }
    }
}

macro_rules! code_filters {
    ($($t:ident),* $(,)?) => {$(
        impl $t {
            /// A query with the defaults.
            pub fn new() -> Self {
                Self::default()
            }
            /// Adds a code to the filter (`MARKET.CODE`).
            pub fn code(mut self, code: impl Into<String>) -> Self {
                self.filter.codes.push(code.into());
                self
            }
            /// Only this market.
            pub fn filter_market(mut self, market: TrdMarket) -> Self {
                self.filter.market = market;
                self
            }
        }
    )*};
}

code_filters!(OrderQuery, DealQuery, HistoryOrderQuery, HistoryDealQuery, PositionQuery);

macro_rules! status_filters {
    ($($t:ident),* $(,)?) => {$(
        impl $t {
            /// Adds a status to the filter.
            pub fn status(mut self, status: OrderStatus) -> Self {
                self.status_filter.push(status);
                self
            }
        }
    )*};
}

status_filters!(OrderQuery, HistoryOrderQuery);

macro_rules! windows {
    ($($t:ident),* $(,)?) => {$(
        impl $t {
            /// Sets the time window (either end may be `None`).
            pub fn window(mut self, start: Option<&str>, end: Option<&str>) -> Self {
                self.window = TimeWindow { start: start.map(str::to_string), end: end.map(str::to_string) };
                self
            }
        }
    )*};
}

windows!(OrderQuery, HistoryOrderQuery, HistoryDealQuery, CashFlowQuery);

macro_rules! refreshers {
    ($($t:ident),* $(,)?) => {$(
        impl $t {
            /// Asks OpenD to refresh its cache from the server first.
            pub fn refresh_cache(mut self, yes: bool) -> Self {
                self.refresh_cache = yes;
                self
            }
        }
    )*};
}

refreshers!(OrderQuery, DealQuery, PositionQuery, FundsQuery);

impl OrderQuery {
    /// Only this order (`order_id_ex`).
    pub fn order_id(mut self, order_id: impl Into<String>) -> Self {
        self.order_ids.push(order_id.into());
        self
    }
}

impl FundsQuery {
    /// Funds of the first REAL account.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the currency of the totals.
    pub fn currency(mut self, currency: Currency) -> Self {
        self.currency = currency;
        self
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn fmt_day(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day of a `YYYY-MM-DD...` string.
fn parse_day(s: &str) -> Option<i64> {
    let date = s.trim().get(..10)?;
    let mut it = date.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// The default history window, as in the Python SDK but with "today" widened to the end
/// of tomorrow (UTC calendar) so that no time zone misses today's records.
pub(crate) fn history_window(start: Option<&str>, end: Option<&str>, today: i64) -> (String, String) {
    const SPAN: i64 = 90;
    let norm_start = |s: &str| if s.trim().len() == 10 { format!("{} 00:00:00", s.trim()) } else { s.to_string() };
    let norm_end = |s: &str| if s.trim().len() == 10 { format!("{} 23:59:59", s.trim()) } else { s.to_string() };
    match (start.filter(|s| !s.is_empty()), end.filter(|s| !s.is_empty())) {
        (Some(s), Some(e)) => (norm_start(s), norm_end(e)),
        (Some(s), None) => {
            let end_day = parse_day(s).map_or(today + 1, |d| d + SPAN);
            (norm_start(s), format!("{} 23:59:59", fmt_day(end_day)))
        }
        (None, Some(e)) => {
            let start_day = parse_day(e).map_or(today - SPAN, |d| d - SPAN);
            (format!("{} 00:00:00", fmt_day(start_day)), norm_end(e))
        }
        (None, None) => (format!("{} 00:00:00", fmt_day(today - SPAN)), format!("{} 23:59:59", fmt_day(today + 1))),
    }
}

/// Today's day number (UTC).
pub(crate) fn today_utc() -> i64 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    secs.div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(fmt_day(0), "1970-01-01");
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(fmt_day(19_782), "2024-02-29");
        for d in -1000..100_000 {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn history_windows() {
        let today = days_from_civil(2024, 5, 10);
        assert_eq!(
            history_window(None, None, today),
            ("2024-02-10 00:00:00".to_string(), "2024-05-11 23:59:59".to_string())
        );
        assert_eq!(
            history_window(Some("2024-01-01"), None, today),
            ("2024-01-01 00:00:00".to_string(), "2024-03-31 23:59:59".to_string())
        );
        assert_eq!(
            history_window(None, Some("2024-04-01 12:00:00"), today),
            ("2024-01-02 00:00:00".to_string(), "2024-04-01 12:00:00".to_string())
        );
        assert_eq!(
            history_window(Some("2024-01-01 09:30:00"), Some("2024-01-02"), today),
            ("2024-01-01 09:30:00".to_string(), "2024-01-02 23:59:59".to_string())
        );
    }
}
