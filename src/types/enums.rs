//! Open enums for every numeric code the trading protocols carry.
//!
//! OpenD sends enum values in plain `int32` fields and adds new values over time, so
//! each enum here keeps a value it does not know in an `Other(i32)` variant instead of
//! failing. All of them are built by one macro and share the same surface:
//!
//! * `From<i32>` and `From<Enum> for i32` (lossless, also for `Other`);
//! * `Display` prints the official Python SDK's string constant (e.g. `"HK"`,
//!   `"FUTURES_SIMULATE_HK"`, `"N/A"`); values it does not know print `"N/A"`, as in
//!   the Python SDK;
//! * `FromStr` accepts, ignoring ASCII case, that string, the Rust variant name, a few
//!   documented aliases, and `"NONE"` for the variant shown as `"N/A"` (the Python
//!   constant is called `NONE`);
//! * equality and hashing compare the numeric value, so `Other(1)` equals the named
//!   variant for 1;
//! * `ALL` lists the named variants, `value()`, `as_str()` and `is_known()` are `const`.
//!
//! ```
//! use ftapi::types::{OrderStatus, TrdMarket};
//! assert_eq!(TrdMarket::from(10), TrdMarket::FuturesSimulateHk);
//! assert_eq!(TrdMarket::FuturesSimulateHk.to_string(), "FUTURES_SIMULATE_HK");
//! assert_eq!("hkcc".parse::<TrdMarket>().unwrap(), TrdMarket::Hkcc);
//! assert_eq!(TrdMarket::from(999), TrdMarket::Other(999));
//! assert_eq!(i32::from(TrdMarket::Other(999)), 999);
//! assert_eq!(TrdMarket::Other(999).to_string(), "N/A");
//! assert!(OrderStatus::FilledAll.is_final());
//! ```

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// A string that names no variant of the enum it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {type_name}")]
pub struct ParseEnumError {
    /// The enum's name, e.g. `"TrdMarket"`.
    pub type_name: &'static str,
    /// The rejected input (cut to 64 characters).
    pub value: String,
}

impl ParseEnumError {
    pub(crate) fn new(type_name: &'static str, value: &str) -> Self {
        ParseEnumError { type_name, value: value.chars().take(64).collect() }
    }
}

macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $value:literal => $text:literal $(| $alias:literal)*
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub enum $name {
            $(
                #[doc = concat!("`", $text, "` (wire value ", stringify!($value), ").")]
                $(#[$vmeta])*
                $variant,
            )+
            /// A value this version of ftapi does not know, kept as received.
            Other(i32),
        }

        impl $name {
            /// Every named variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The numeric value used on the wire.
            pub const fn value(self) -> i32 {
                match self {
                    $($name::$variant => $value,)+
                    $name::Other(v) => v,
                }
            }

            /// The variant for a wire value; unknown values become `Other`.
            pub const fn from_value(value: i32) -> Self {
                match value {
                    $($value => $name::$variant,)+
                    other => $name::Other(other),
                }
            }

            /// The Python SDK's string for this value (`"N/A"` for unknown values).
            pub const fn as_str(self) -> &'static str {
                match Self::from_value(self.value()) {
                    $($name::$variant => $text,)+
                    $name::Other(_) => "N/A",
                }
            }

            /// Whether the value is one of the named variants.
            pub const fn is_known(self) -> bool {
                !matches!(Self::from_value(self.value()), $name::Other(_))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.value() == other.value()
            }
        }

        impl Eq for $name {}

        impl Hash for $name {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.value().hash(state);
            }
        }

        impl From<i32> for $name {
            fn from(value: i32) -> Self {
                Self::from_value(value)
            }
        }

        impl From<$name> for i32 {
            fn from(value: $name) -> i32 {
                value.value()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseEnumError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let t = s.trim();
                $(
                    if t.eq_ignore_ascii_case($text)
                        || t.eq_ignore_ascii_case(stringify!($variant))
                        $(|| t.eq_ignore_ascii_case($alias))*
                    {
                        return Ok($name::$variant);
                    }
                )+
                if t.eq_ignore_ascii_case("NONE") {
                    if let Some(v) = Self::ALL.iter().find(|v| v.as_str() == "N/A") {
                        return Ok(*v);
                    }
                }
                Err(ParseEnumError::new(stringify!($name), s))
            }
        }
    };
}

open_enum! {
    /// Trading environment (`Trd_Common.TrdEnv`).
    pub enum TrdEnv {
        /// Paper trading.
        Simulate = 0 => "SIMULATE" | "PAPER",
        /// Real trading.
        Real = 1 => "REAL",
    }
}

open_enum! {
    /// Account category asked for in Trd_GetAccList (`Trd_Common.TrdCategory`).
    pub enum TrdCategory {
        /// Not given.
        Unknown = 0 => "N/A",
        /// Securities (stocks, options, funds ...).
        Security = 1 => "SECURITY",
        /// Futures.
        Future = 2 => "FUTURE" | "FUTURES",
        /// Crypto currencies.
        Crypto = 3 => "CRYPTO",
    }
}

open_enum! {
    /// Trading market of an account or request header (`Trd_Common.TrdMarket`).
    pub enum TrdMarket {
        /// Unknown / none (a context with this market does not filter accounts).
        Unknown = 0 => "N/A",
        /// Hong Kong.
        Hk = 1 => "HK",
        /// United States.
        Us = 2 => "US",
        /// Mainland China (paper trading of A-shares).
        Cn = 3 => "CN",
        /// A-shares through Stock Connect.
        Hkcc = 4 => "HKCC",
        /// Futures (real futures accounts).
        Futures = 5 => "FUTURES",
        /// Singapore.
        Sg = 6 => "SG",
        /// Crypto currencies.
        Crypto = 7 => "CRYPTO",
        /// Australia.
        Au = 8 => "AU",
        /// Simulated futures, HK.
        FuturesSimulateHk = 10 => "FUTURES_SIMULATE_HK",
        /// Simulated futures, US.
        FuturesSimulateUs = 11 => "FUTURES_SIMULATE_US",
        /// Simulated futures, SG.
        FuturesSimulateSg = 12 => "FUTURES_SIMULATE_SG",
        /// Simulated futures, JP.
        FuturesSimulateJp = 13 => "FUTURES_SIMULATE_JP",
        /// Japan.
        Jp = 15 => "JP",
        /// Event contracts (prediction markets).
        Prediction = 17 => "PREDICTION",
        /// Malaysia.
        My = 111 => "MY",
        /// Canada.
        Ca = 112 => "CA",
        /// HK funds.
        HkFund = 113 => "HKFUND" | "HK_FUND",
        /// US funds.
        UsFund = 123 => "USFUND" | "US_FUND",
        /// SG funds.
        SgFund = 124 => "SGFUND" | "SG_FUND",
        /// MY funds.
        MyFund = 125 => "MYFUND" | "MY_FUND",
        /// JP funds.
        JpFund = 126 => "JPFUND" | "JP_FUND",
    }
}

impl TrdMarket {
    /// The simulated-futures markets and PREDICTION: an account listing any of these
    /// is kept by a futures context (docs/protocol.md 6.2).
    pub const SIMULATED_FUTURES: &'static [TrdMarket] = &[
        TrdMarket::FuturesSimulateHk,
        TrdMarket::FuturesSimulateUs,
        TrdMarket::FuturesSimulateSg,
        TrdMarket::FuturesSimulateJp,
        TrdMarket::Prediction,
    ];
}

open_enum! {
    /// Market of a traded security (`Trd_Common.TrdSecMarket`, the `secMarket` fields).
    pub enum TrdSecMarket {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Hong Kong (also HK futures).
        Hk = 1 => "HK",
        /// United States.
        Us = 2 => "US",
        /// Shanghai.
        CnSh = 31 => "CN_SH" | "SH",
        /// Shenzhen.
        CnSz = 32 => "CN_SZ" | "SZ",
        /// Singapore.
        Sg = 41 => "SG",
        /// Japan.
        Jp = 51 => "JP",
        /// Australia.
        Au = 61 => "AU",
        /// Malaysia.
        My = 71 => "MY",
        /// Canada.
        Ca = 81 => "CA",
        /// Forex.
        Fx = 91 => "FX",
        /// Crypto currencies.
        Cc = 101 => "CC",
        /// Event contracts.
        Ec = 111 => "EC",
    }
}

open_enum! {
    /// Side of an order or fill (`Trd_Common.TrdSide`). Clients send only `Buy` and
    /// `Sell`; OpenD may report `SellShort` and `BuyBack`.
    pub enum TrdSide {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Buy.
        Buy = 1 => "BUY",
        /// Sell.
        Sell = 2 => "SELL",
        /// Short sale.
        SellShort = 3 => "SELL_SHORT",
        /// Buy to cover.
        BuyBack = 4 => "BUY_BACK",
    }
}

open_enum! {
    /// Order type (`Trd_Common.OrderType`).
    pub enum OrderType {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Limit order (enhanced limit in HK).
        Normal = 1 => "NORMAL" | "LIMIT",
        /// Market order.
        Market = 2 => "MARKET",
        /// HK absolute limit (fills only at the exact price).
        AbsoluteLimit = 5 => "ABSOLUTE_LIMIT",
        /// HK auction order.
        Auction = 6 => "AUCTION",
        /// HK auction limit order.
        AuctionLimit = 7 => "AUCTION_LIMIT",
        /// HK special limit (fill what can be filled, cancel the rest).
        SpecialLimit = 8 => "SPECIAL_LIMIT",
        /// HK special limit, all or nothing.
        SpecialLimitAll = 9 => "SPECIAL_LIMIT_ALL",
        /// Stop (market).
        Stop = 10 => "STOP",
        /// Stop limit.
        StopLimit = 11 => "STOP_LIMIT",
        /// Market if touched.
        MarketIfTouched = 12 => "MARKET_IF_TOUCHED",
        /// Limit if touched.
        LimitIfTouched = 13 => "LIMIT_IF_TOUCHED",
        /// Trailing stop (market).
        TrailingStop = 14 => "TRAILING_STOP",
        /// Trailing stop limit.
        TrailingStopLimit = 15 => "TRAILING_STOP_LIMIT",
        /// TWAP algorithm, market (display only).
        TwapMarket = 16 => "TWAP" | "TWAP_MARKET",
        /// TWAP algorithm, limit (display only).
        TwapLimit = 17 => "TWAP_LIMIT",
        /// VWAP algorithm, market (display only).
        VwapMarket = 18 => "VWAP" | "VWAP_MARKET",
        /// VWAP algorithm, limit (display only).
        VwapLimit = 19 => "VWAP_LIMIT",
    }
}

open_enum! {
    /// How a trailing stop trails (`Trd_Common.TrailType`).
    pub enum TrailType {
        /// Unknown / not a trailing order.
        Unknown = 0 => "N/A",
        /// By a ratio (percent).
        Ratio = 1 => "RATIO",
        /// By an amount.
        Amount = 2 => "AMOUNT",
    }
}

open_enum! {
    /// Order status (`Trd_Common.OrderStatus`).
    pub enum OrderStatus {
        /// Unknown.
        Unknown = -1 => "N/A",
        /// Not submitted.
        Unsubmitted = 0 => "UNSUBMITTED",
        /// Waiting to be submitted.
        WaitingSubmit = 1 => "WAITING_SUBMIT",
        /// Being submitted.
        Submitting = 2 => "SUBMITTING",
        /// Submission failed.
        SubmitFailed = 3 => "SUBMIT_FAILED",
        /// Timed out; the outcome is unknown.
        TimeOut = 4 => "TIMEOUT",
        /// Submitted, waiting for fills.
        Submitted = 5 => "SUBMITTED",
        /// Partly filled.
        FilledPart = 10 => "FILLED_PART",
        /// Completely filled.
        FilledAll = 11 => "FILLED_ALL",
        /// Partly filled, cancelling the rest.
        CancellingPart = 12 => "CANCELLING_PART",
        /// Cancelling.
        CancellingAll = 13 => "CANCELLING_ALL",
        /// Partly filled, rest cancelled.
        CancelledPart = 14 => "CANCELLED_PART",
        /// Cancelled without fills.
        CancelledAll = 15 => "CANCELLED_ALL",
        /// Rejected by the server.
        Failed = 21 => "FAILED",
        /// Disabled (can be enabled again).
        Disabled = 22 => "DISABLED",
        /// Deleted (only orders without fills).
        Deleted = 23 => "DELETED",
        /// Fills were reversed.
        FillCancelled = 24 => "FILL_CANCELLED",
    }
}

impl OrderStatus {
    /// Whether the order can no longer change: filled, cancelled, failed, deleted or
    /// fill-cancelled. `Disabled` is not final (the order can be enabled again), nor is
    /// `TimeOut` (the outcome is unknown) nor an unknown value.
    ///
    /// ```
    /// use ftapi::types::OrderStatus;
    /// assert!(OrderStatus::CancelledPart.is_final());
    /// assert!(!OrderStatus::Submitted.is_final());
    /// ```
    pub const fn is_final(self) -> bool {
        matches!(
            Self::from_value(self.value()),
            OrderStatus::SubmitFailed
                | OrderStatus::FilledAll
                | OrderStatus::CancelledPart
                | OrderStatus::CancelledAll
                | OrderStatus::Failed
                | OrderStatus::Deleted
                | OrderStatus::FillCancelled
        )
    }

    /// Whether the order is still working or may still change: a known status that
    /// is not final.
    pub const fn is_open(self) -> bool {
        self.is_known() && !self.is_final() && !matches!(Self::from_value(self.value()), OrderStatus::Unknown)
    }

    /// Whether the order failed (`SubmitFailed` or `Failed`).
    pub const fn is_failed(self) -> bool {
        matches!(Self::from_value(self.value()), OrderStatus::SubmitFailed | OrderStatus::Failed)
    }
}

open_enum! {
    /// Status of a fill (`Trd_Common.OrderFillStatus`; the Python SDK's `DealStatus`).
    pub enum OrderFillStatus {
        /// Normal.
        Ok = 0 => "OK",
        /// The fill was cancelled.
        Cancelled = 1 => "CANCELLED",
        /// The fill was changed.
        Changed = 2 => "CHANGED",
        /// Payout (event contracts).
        Payout = 3 => "PAYOUT",
    }
}

/// The Python SDK's name for [`OrderFillStatus`].
pub type DealStatus = OrderFillStatus;

open_enum! {
    /// Direction of a position (`Trd_Common.PositionSide`).
    pub enum PositionSide {
        /// Unknown.
        Unknown = -1 => "N/A",
        /// Long.
        Long = 0 => "LONG",
        /// Short.
        Short = 1 => "SHORT",
    }
}

open_enum! {
    /// What Trd_ModifyOrder does (`Trd_Common.ModifyOrderOp`).
    pub enum ModifyOrderOp {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Change price and/or quantity.
        Normal = 1 => "NORMAL",
        /// Cancel.
        Cancel = 2 => "CANCEL",
        /// Disable.
        Disable = 3 => "DISABLE",
        /// Enable a disabled order.
        Enable = 4 => "ENABLE",
        /// Delete (orders without fills).
        Delete = 5 => "DELETE",
    }
}

open_enum! {
    /// Account type (`Trd_Common.TrdAccType`).
    pub enum TrdAccType {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Cash account.
        Cash = 1 => "CASH",
        /// Margin account.
        Margin = 2 => "MARGIN",
        /// Canadian tax-free savings account.
        Tfsa = 3 => "TFSA",
        /// Canadian registered retirement savings plan.
        Rrsp = 4 => "RRSP",
        /// Canadian spousal RRSP.
        Srrsp = 5 => "SRRSP",
        /// Japanese derivatives account.
        Derivatives = 6 => "DERIVATIVES",
    }
}

open_enum! {
    /// Account status (`Trd_Common.TrdAccStatus`).
    pub enum TrdAccStatus {
        /// Active.
        Active = 0 => "ACTIVE",
        /// Disabled.
        Disabled = 1 => "DISABLED",
    }
}

open_enum! {
    /// Account role (`Trd_Common.TrdAccRole`).
    pub enum TrdAccRole {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Normal account.
        Normal = 1 => "NORMAL",
        /// Master account.
        Master = 2 => "MASTER",
        /// IPO account (MY broker).
        Ipo = 3 => "IPO",
    }
}

open_enum! {
    /// Currency (`Trd_Common.Currency`).
    pub enum Currency {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Hong Kong dollar.
        Hkd = 1 => "HKD",
        /// US dollar.
        Usd = 2 => "USD",
        /// Offshore renminbi.
        Cnh = 3 => "CNH",
        /// Japanese yen.
        Jpy = 4 => "JPY",
        /// Singapore dollar.
        Sgd = 5 => "SGD",
        /// Australian dollar.
        Aud = 6 => "AUD",
        /// Canadian dollar.
        Cad = 7 => "CAD",
        /// Malaysian ringgit.
        Myr = 8 => "MYR",
        /// New Zealand dollar.
        Nzd = 9 => "NZD",
    }
}

open_enum! {
    /// Account risk level (`Trd_Common.CltRiskLevel`).
    pub enum CltRiskLevel {
        /// Unknown.
        Unknown = -1 => "N/A",
        /// Safe.
        Safe = 0 => "SAFE",
        /// Warning.
        Warning = 1 => "WARNING",
        /// Danger.
        Danger = 2 => "DANGER",
        /// Absolutely safe.
        AbsoluteSafe = 3 => "ABSOLUTE_SAFE",
        /// Danger (options related).
        OptDanger = 4 => "OPT_DANGER",
    }
}

open_enum! {
    /// Account risk status, level 1 (safest) to 9 (`Trd_Common.CltRiskStatus`).
    pub enum CltRiskStatus {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Level 1 (safest).
        Level1 = 1 => "LEVEL1",
        /// Level 2.
        Level2 = 2 => "LEVEL2",
        /// Level 3.
        Level3 = 3 => "LEVEL3",
        /// Level 4.
        Level4 = 4 => "LEVEL4",
        /// Level 5.
        Level5 = 5 => "LEVEL5",
        /// Level 6.
        Level6 = 6 => "LEVEL6",
        /// Level 7.
        Level7 = 7 => "LEVEL7",
        /// Level 8.
        Level8 = 8 => "LEVEL8",
        /// Level 9 (most dangerous).
        Level9 = 9 => "LEVEL9",
    }
}

open_enum! {
    /// Time in force (`Trd_Common.TimeInForce`).
    pub enum TimeInForce {
        /// Good for the day.
        Day = 0 => "DAY",
        /// Good till cancelled.
        Gtc = 1 => "GTC",
        /// Immediate or cancel.
        Ioc = 2 => "IOC",
        /// Good till date (`expireTime`).
        Gtd = 3 => "GTD",
    }
}

open_enum! {
    /// Kind of paper-trading account (`Trd_Common.SimAccType`).
    pub enum SimAccType {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Stocks.
        Stock = 1 => "STOCK",
        /// Options.
        Option = 2 => "OPTION",
        /// Futures.
        Futures = 3 => "FUTURES",
        /// Stocks and options.
        StockAndOption = 4 => "STOCK_AND_OPTION",
        /// Competition account.
        Competition = 5 => "COMPETITION",
    }
}

open_enum! {
    /// US day-trading status (`Trd_Common.DTStatus`).
    pub enum DtStatus {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// No day-trading limit.
        Unlimited = 1 => "UNLIMITED",
        /// Equity-maintenance call.
        EmCall = 2 => "EM_CALL",
        /// Day-trading call.
        DtCall = 3 => "DT_CALL",
    }
}

open_enum! {
    /// Japanese sub-account type (`Trd_Common.TrdSubAccType`; the Python SDK's `SubAccType`).
    pub enum TrdSubAccType {
        /// None.
        None = 0 => "N/A",
        /// General account, long.
        JpGeneral = 1 => "JP_GENERAL",
        /// Specified account, long.
        JpTokutei = 2 => "JP_TOKUTEI",
        /// General NISA.
        JpNisaGeneral = 3 => "JP_NISA_GENERAL",
        /// Accumulation NISA.
        JpNisaTsumitate = 4 => "JP_NISA_TSUMITATE",
        /// General account, short.
        JpGeneralShort = 5 => "JP_GENERAL_SHORT",
        /// Specified account, short.
        JpTokuteiShort = 6 => "JP_TOKUTEI_SHORT",
        /// Domestic margin collateral, general.
        JpHonpoGeneral = 7 => "JP_HONPO_GENERAL",
        /// Foreign margin collateral, general.
        JpGaikokuGeneral = 8 => "JP_GAIKOKU_GENERAL",
        /// Domestic margin collateral, specified.
        JpHonpoTokutei = 9 => "JP_HONPO_TOKUTEI",
        /// Foreign margin collateral, specified.
        JpGaikokuTokutei = 10 => "JP_GAIKOKU_TOKUTEI",
        /// Derivatives, long.
        JpDerivativeLong = 11 => "JP_DERIVATIVE_LONG",
        /// Derivatives, short.
        JpDerivativeShort = 12 => "JP_DERIVATIVE_SHORT",
        /// Domestic derivatives margin, general.
        JpHonpoDerivativeGeneral = 13 => "JP_HONPO_DERIVATIVE_GENERAL",
        /// Foreign derivatives margin, general.
        JpGaikokuDerivativeGeneral = 14 => "JP_GAIKOKU_DERIVATIVE_GENERAL",
        /// Domestic derivatives margin, specified.
        JpHonpoDerivativeTokutei = 15 => "JP_HONPO_DERIVATIVE_TOKUTEI",
        /// Foreign derivatives margin, specified.
        JpGaikokuDerivativeTokutei = 16 => "JP_GAIKOKU_DERIVATIVE_TOKUTEI",
    }
}

/// The Python SDK's name for [`TrdSubAccType`].
pub type SubAccType = TrdSubAccType;

open_enum! {
    /// Asset category for JP accounts (`Trd_Common.TrdAssetCategory`; Python `AssetCategory`).
    pub enum TrdAssetCategory {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Domestic (Japanese) assets.
        Jp = 1 => "JP",
        /// Foreign (US) assets.
        Us = 2 => "US",
    }
}

/// The Python SDK's name for [`TrdAssetCategory`].
pub type AssetCategory = TrdAssetCategory;

open_enum! {
    /// Exposure level (`Trd_Common.ExposureLevel`).
    pub enum ExposureLevel {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Normal.
        Normal = 1 => "NORMAL",
        /// Near the limit.
        NearLimit = 2 => "NEAR_LIMIT",
        /// Restricted.
        Restricted = 3 => "RESTRICTED",
        /// Safe.
        Safe = 4 => "SAFE",
        /// Moderate.
        Moderate = 5 => "MODERATE",
        /// Warning.
        Warning = 6 => "WARNING",
        /// Margin call.
        MarginCall = 7 => "MARGIN_CALL",
    }
}

open_enum! {
    /// Whether a position is a combination or one of its legs (`Trd_Common.PositionType`).
    pub enum PositionType {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// A combined position.
        Combined = 1 => "COMBINED",
        /// A leg of a combined position.
        Leg = 2 => "LEG",
    }
}

open_enum! {
    /// The broker entity an account belongs to (`Trd_Common.SecurityFirm`).
    ///
    /// Values 2..=7 are the moomoo entities (the SDK displays them as "Moomoo US",
    /// "Moomoo SG", "Moomoo AU", "Moomoo CA", "Moomoo MY", "Moomoo JP"); 1 is Futu
    /// Securities (HK). Nothing on the wire depends on whether the futu or the moomoo
    /// SDK is used; see [`crate::types::moomoo`] for moomoo-named constants. `FromStr`
    /// also accepts the moomoo names (`"MOOMOO_US"`, `"Moomoo US"`, ...).
    pub enum SecurityFirm {
        /// Unknown / none (a context with this firm does not filter by firm).
        Unknown = 0 => "N/A",
        /// Futu Securities (Hong Kong), "FUTU HK".
        FutuSecurities = 1 => "FUTUSECURITIES" | "FUTU_HK" | "FUTU HK",
        /// Moomoo Financial Inc. (US), "Moomoo US".
        FutuInc = 2 => "FUTUINC" | "MOOMOO_US" | "Moomoo US",
        /// Moomoo Financial Singapore, "Moomoo SG".
        FutuSg = 3 => "FUTUSG" | "MOOMOO_SG" | "Moomoo SG",
        /// Moomoo Securities Australia, "Moomoo AU".
        FutuAu = 4 => "FUTUAU" | "MOOMOO_AU" | "Moomoo AU",
        /// Moomoo Financial Canada, "Moomoo CA".
        FutuCa = 5 => "FUTUCA" | "MOOMOO_CA" | "Moomoo CA",
        /// Moomoo Securities Malaysia, "Moomoo MY".
        FutuMy = 6 => "FUTUMY" | "MOOMOO_MY" | "Moomoo MY",
        /// Moomoo Securities Japan, "Moomoo JP".
        FutuJp = 7 => "FUTUJP" | "MOOMOO_JP" | "Moomoo JP",
    }
}

impl SecurityFirm {
    /// The SDK's human-readable name ("FUTU HK", "Moomoo US", ...; "Unknown security"
    /// otherwise), used in its error messages.
    pub const fn display_name(self) -> &'static str {
        match Self::from_value(self.value()) {
            SecurityFirm::FutuSecurities => "FUTU HK",
            SecurityFirm::FutuInc => "Moomoo US",
            SecurityFirm::FutuSg => "Moomoo SG",
            SecurityFirm::FutuAu => "Moomoo AU",
            SecurityFirm::FutuCa => "Moomoo CA",
            SecurityFirm::FutuMy => "Moomoo MY",
            SecurityFirm::FutuJp => "Moomoo JP",
            _ => "Unknown security",
        }
    }

    /// Whether this is one of the moomoo entities (values 2..=7).
    pub const fn is_moomoo(self) -> bool {
        matches!(self.value(), 2..=7)
    }

    /// Whether this names a real firm (not `Unknown`, not an unknown value). The
    /// Python SDK treats an account whose firm is absent, 0 or unknown as "no firm".
    pub const fn is_firm(self) -> bool {
        self.is_known() && self.value() != 0
    }
}

open_enum! {
    /// Quote market of a security (`Qot_Common.QotMarket`, in `Security.market`).
    /// Displayed with the code prefixes (`"HK"`, `"HK_FUTURE"`, `"SH"` ...), as the SDK does.
    pub enum QotMarket {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Hong Kong securities.
        HkSecurity = 1 => "HK" | "HK_SECURITY",
        /// Hong Kong futures (obsolete).
        HkFuture = 2 => "HK_FUTURE",
        /// US securities.
        UsSecurity = 11 => "US" | "US_SECURITY",
        /// Shanghai.
        CnshSecurity = 21 => "SH" | "CNSH_SECURITY",
        /// Shenzhen.
        CnszSecurity = 22 => "SZ" | "CNSZ_SECURITY",
        /// Singapore.
        SgSecurity = 31 => "SG" | "SG_SECURITY",
        /// Japan.
        JpSecurity = 41 => "JP" | "JP_SECURITY",
        /// Australia.
        AuSecurity = 51 => "AU" | "AU_SECURITY",
        /// Malaysia.
        MySecurity = 61 => "MY" | "MY_SECURITY",
        /// Canada.
        CaSecurity = 71 => "CA" | "CA_SECURITY",
        /// Forex.
        FxSecurity = 81 => "FX" | "FX_SECURITY",
        /// Crypto currencies.
        CcSecurity = 91 => "CC" | "CC_SECURITY",
        /// Event contracts.
        EventContract = 101 => "EC" | "EVENT_CONTRACT",
    }
}

open_enum! {
    /// US trading session of an order (`Common.Session`).
    pub enum Session {
        /// Not given.
        None = 0 => "N/A",
        /// Regular trading hours.
        Rth = 1 => "RTH",
        /// Regular plus pre-market and after-hours.
        Eth = 2 => "ETH",
        /// All sessions.
        All = 3 => "ALL",
        /// Overnight only.
        Overnight = 4 => "OVERNIGHT",
    }
}

open_enum! {
    /// Direction of an event-contract leg (`Common.PredSide`).
    pub enum PredSide {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Yes.
        Yes = 1 => "YES",
        /// No.
        No = 2 => "NO",
    }
}

open_enum! {
    /// Direction of a cash flow (`Trd_FlowSummary.TrdCashFlowDirection`).
    pub enum CashFlowDirection {
        /// Unknown / both directions.
        Unknown = 0 => "N/A",
        /// Money in.
        In = 1 => "IN",
        /// Money out.
        Out = 2 => "OUT",
    }
}

open_enum! {
    /// Kind of a Notify (1003) push (`Notify.NotifyType`; Python `SysNotifyType`).
    pub enum NotifyType {
        /// None.
        None = 0 => "N/A",
        /// A gateway event (see [`GtwEventType`]).
        GtwEvent = 1 => "GTW_EVENT",
        /// OpenD's program status changed.
        ProgramStatus = 2 => "PROGRAM_STATUS",
        /// Quote/trade login state changed.
        ConnStatus = 3 => "CONN_STATUS",
        /// Quote rights changed.
        QotRight = 4 => "QOT_RIGHT",
        /// API level (obsolete).
        ApiLevel = 5 => "API_LEVEL",
        /// API quota.
        ApiQuota = 6 => "API_QUOTA",
        /// Used quota.
        UsedQuota = 7 => "USED_QUOTA",
    }
}

open_enum! {
    /// Gateway event of a Notify push (`Notify.GtwEventType`).
    pub enum GtwEventType {
        /// None.
        None = 0 => "N/A",
        /// The local configuration failed to load.
        LocalCfgLoadFailed = 1 => "LocalCfgLoadFailed",
        /// The API server failed to run.
        ApiSvrRunFailed = 2 => "APISvrRunFailed",
        /// OpenD must be updated.
        ForceUpdate = 3 => "ForceUpdate",
        /// Login failed.
        LoginFailed = 4 => "LoginFailed",
        /// The disclaimer was not agreed to.
        UnAgreeDisclaimer = 5 => "UnAgreeDisclaimer",
        /// Network configuration missing.
        NetCfgMissing = 6 => "NetCfgMissing",
        /// Logged in elsewhere and kicked out.
        KickedOut = 7 => "KickedOut",
        /// The login password changed.
        LoginPwdChanged = 8 => "LoginPwdChanged",
        /// Login banned.
        BanLogin = 9 => "BanLogin",
        /// A picture verification code is needed.
        NeedPicVerifyCode = 10 => "NeedPicVerifyCode",
        /// A phone verification code is needed.
        NeedPhoneVerifyCode = 11 => "NeedPhoneVerifyCode",
        /// Packaged application data is missing.
        AppDataNotExist = 12 => "AppDataNotExist",
        /// Necessary data failed to sync (sic).
        NessaryDataMissing = 13 => "NessaryDataMissing",
        /// The trade password changed (unlock again).
        TradePwdChanged = 14 => "TradePwdChanged",
        /// The device lock must be enabled.
        EnableDeviceLock = 15 => "EnableDeviceLock",
    }
}

open_enum! {
    /// OpenD's own state (`Common.ProgramStatusType`).
    pub enum ProgramStatusType {
        /// None.
        None = 0 => "N/A",
        /// Loaded.
        Loaded = 1 => "LOADED",
        /// Logging in (sic).
        Loging = 2 => "LOGING" | "LOGGING",
        /// A picture verification code is needed.
        NeedPicVerifyCode = 3 => "NEED_PIC_VERIFY_CODE",
        /// A phone verification code is needed.
        NeedPhoneVerifyCode = 4 => "NEED_PHONE_VERIFY_CODE",
        /// Login failed.
        LoginFailed = 5 => "LOGIN_FAILED",
        /// The client version is too old.
        ForceUpdate = 6 => "FORCE_UPDATE",
        /// Fetching necessary data (sic).
        NessaryDataPreparing = 7 => "NESSARY_DATA_PREPARING",
        /// Necessary data missing (sic).
        NessaryDataMissing = 8 => "NESSARY_DATA_MISSING",
        /// The disclaimer was not agreed to.
        UnAgreeDisclaimer = 9 => "UN_AGREE_DISCLAIMER",
        /// Ready for business requests.
        Ready = 10 => "READY",
        /// Forced logout.
        ForceLogout = 11 => "FORCE_LOGOUT",
        /// Pulling the disclaimer failed (no Python constant).
        DisclaimerPullFailed = 12 => "DISCLAIMER_PULL_FAILED",
    }
}

open_enum! {
    /// Market state (`Qot_Common.QotMarketState`, the GetGlobalState market fields;
    /// the Python SDK's `MarketState`). States the Python SDK has no constant for are
    /// shown with their proto name.
    pub enum QotMarketState {
        /// No trading (e.g. US before the open).
        None = 0 => "NONE",
        /// Auction.
        Auction = 1 => "AUCTION",
        /// Waiting for the morning open.
        WaitingOpen = 2 => "WAITING_OPEN",
        /// Morning session.
        Morning = 3 => "MORNING",
        /// Lunch break.
        Rest = 4 => "REST",
        /// Afternoon session.
        Afternoon = 5 => "AFTERNOON",
        /// Closed.
        Closed = 6 => "CLOSED",
        /// Pre-market.
        PreMarketBegin = 8 => "PRE_MARKET_BEGIN",
        /// Pre-market ended.
        PreMarketEnd = 9 => "PRE_MARKET_END",
        /// After hours.
        AfterHoursBegin = 10 => "AFTER_HOURS_BEGIN",
        /// After hours ended.
        AfterHoursEnd = 11 => "AFTER_HOURS_END",
        /// Futu's trading-day switch.
        FutuSwitchDate = 12 => "FUTU_SWITCH_DATE",
        /// Night session open.
        NightOpen = 13 => "NIGHT_OPEN",
        /// Night session end.
        NightEnd = 14 => "NIGHT_END",
        /// Futures day session open.
        FutureDayOpen = 15 => "FUTURE_DAY_OPEN",
        /// Futures day session break.
        FutureDayBreak = 16 => "FUTURE_DAY_BREAK",
        /// Futures day session close.
        FutureDayClose = 17 => "FUTURE_DAY_CLOSE",
        /// Futures day session waiting to open.
        FutureDayWaitForOpen = 18 => "FUTURE_DAY_WAIT_OPEN",
        /// HK closing auction session.
        HkCas = 19 => "HK_CAS",
        /// Futures night session waiting to open.
        FutureNightWait = 20 => "FUTURE_NIGHT_WAIT",
        /// Futures afternoon.
        FutureAfternoon = 21 => "FUTURE_AFTERNOON",
        /// Futures trading-day switch.
        FutureSwitchDate = 22 => "FUTURE_SWITCH_DATE",
        /// Futures open.
        FutureOpen = 23 => "FUTURE_OPEN",
        /// Futures break.
        FutureBreak = 24 => "FUTURE_BREAK",
        /// Futures open after the break.
        FutureBreakOver = 25 => "FUTURE_BREAK_OVER",
        /// Futures close.
        FutureClose = 26 => "FUTURE_CLOSE",
        /// A-share after-hours matching wait (old name StibAfterHoursWait).
        AShareAfterHoursWait = 27 => "ASHARE_AFTER_HOURS_WAIT" | "STIB_AFTER_HOURS_WAIT" | "StibAfterHoursWait",
        /// A-share after-hours fixed-price trading (old name StibAfterHoursBegin).
        AShareAfterHoursBegin = 28 => "ASHARE_AFTER_HOURS_BEGIN" | "STIB_AFTER_HOURS_BEGIN" | "StibAfterHoursBegin",
        /// A-share after-hours trading ended (old name StibAfterHoursEnd).
        AShareAfterHoursEnd = 29 => "ASHARE_AFTER_HOURS_END" | "STIB_AFTER_HOURS_END" | "StibAfterHoursEnd",
        /// Closing auction.
        CloseAuction = 30 => "CLOSE_AUCTION",
        /// Afternoon session ended.
        AfternoonEnd = 31 => "AFTERNOON_END",
        /// Night session.
        Night = 32 => "NIGHT",
        /// Overnight session begins.
        OvernightBegin = 33 => "OVERNIGHT_BEGIN",
        /// Overnight session ends.
        OvernightEnd = 34 => "OVERNIGHT_END",
        /// Trade at last.
        TradeAtLast = 35 => "TRADE_AT_LAST",
        /// Trade auction.
        TradeAuction = 36 => "TRADE_AUCTION",
        /// US overnight trading.
        Overnight = 37 => "OVERNIGHT",
    }
}

/// The Python SDK's name for [`QotMarketState`].
pub type MarketState = QotMarketState;

open_enum! {
    /// Option strategy of a position or combo order (`Qot_Common.OptionStrategyType`).
    pub enum OptionStrategyType {
        /// Unknown.
        Unknown = 0 => "NONE" | "N/A",
        /// A single option.
        SingleOption = 1 => "SINGLE",
        /// Covered.
        Covered = 2 => "COVERED",
        /// Spread.
        Spread = 4 => "SPREAD",
        /// Straddle.
        Straddle = 6 => "STRADDLE",
        /// Strangle.
        Strangle = 7 => "STRANGLE",
        /// Collar.
        Collar = 8 => "COLLAR",
        /// Butterfly.
        Butterfly = 9 => "BUTTERFLY",
        /// Condor.
        Condor = 11 => "CONDOR",
        /// Iron butterfly.
        IronButterfly = 13 => "IRON_BUTTERFLY",
        /// Iron condor.
        IronCondor = 14 => "IRON_CONDOR",
        /// Calendar spread.
        CalendarSpread = 15 => "CALENDAR_SPREAD",
        /// Diagonal spread.
        DiagonalSpread = 16 => "DIAGONAL_SPREAD",
        /// Custom.
        Customize = 100 => "CUSTOM",
    }
}

/// Lets sibling modules (the market-data enums in `qot.rs`) build their enums the same way.
pub(crate) use open_enum;
