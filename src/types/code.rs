//! Security codes in the SDK's `MARKET.CODE` form (`"HK.00700"`, `"US.AAPL"`).
//!
//! On the wire the bare symbol (`code`) and the market travel separately: as a
//! `secMarket` ([`TrdSecMarket`]) in the trading messages, or as a `Security.market`
//! ([`QotMarket`]) in legs and margin queries. [`SecurityCode`] joins the two the way
//! the official SDKs present them.

use std::fmt;
use std::str::FromStr;

use super::enums::{QotMarket, TrdCategory, TrdEnv, TrdMarket, TrdSecMarket};
use crate::pb;

/// The market prefix of a code (the Python SDK's `Market`): `HK`, `US`, `SH`, `SZ`,
/// `HK_FUTURE`, `SG`, `JP`, `AU`, `MY`, `CA`, `FX`, `CC`, `EC`.
///
/// `Unknown` (`"N/A"`) only appears in codes OpenD returned with a market this
/// version does not know; parsing a code never yields it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Market {
    /// Unknown market (`"N/A"`).
    Unknown,
    /// Hong Kong (`"HK"`).
    Hk,
    /// United States (`"US"`).
    Us,
    /// Shanghai (`"SH"`).
    Sh,
    /// Shenzhen (`"SZ"`).
    Sz,
    /// Hong Kong futures (`"HK_FUTURE"`).
    HkFuture,
    /// Singapore (`"SG"`).
    Sg,
    /// Japan (`"JP"`).
    Jp,
    /// Australia (`"AU"`).
    Au,
    /// Malaysia (`"MY"`).
    My,
    /// Canada (`"CA"`).
    Ca,
    /// Forex (`"FX"`).
    Fx,
    /// Crypto currencies (`"CC"`).
    Cc,
    /// Event contracts (`"EC"`).
    Ec,
}

impl Market {
    /// Every market a code may be prefixed with (all but `Unknown`).
    pub const ALL: &'static [Market] = &[
        Market::Hk,
        Market::Us,
        Market::Sh,
        Market::Sz,
        Market::HkFuture,
        Market::Sg,
        Market::Jp,
        Market::Au,
        Market::My,
        Market::Ca,
        Market::Fx,
        Market::Cc,
        Market::Ec,
    ];

    /// The prefix string (`"HK"`, `"HK_FUTURE"`, `"N/A"` for `Unknown`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Market::Unknown => "N/A",
            Market::Hk => "HK",
            Market::Us => "US",
            Market::Sh => "SH",
            Market::Sz => "SZ",
            Market::HkFuture => "HK_FUTURE",
            Market::Sg => "SG",
            Market::Jp => "JP",
            Market::Au => "AU",
            Market::My => "MY",
            Market::Ca => "CA",
            Market::Fx => "FX",
            Market::Cc => "CC",
            Market::Ec => "EC",
        }
    }

    /// The quote market (`Qot_Common.QotMarket`) for `Security.market`.
    pub const fn qot_market(self) -> QotMarket {
        match self {
            Market::Unknown => QotMarket::Unknown,
            Market::Hk => QotMarket::HkSecurity,
            Market::Us => QotMarket::UsSecurity,
            Market::Sh => QotMarket::CnshSecurity,
            Market::Sz => QotMarket::CnszSecurity,
            Market::HkFuture => QotMarket::HkFuture,
            Market::Sg => QotMarket::SgSecurity,
            Market::Jp => QotMarket::JpSecurity,
            Market::Au => QotMarket::AuSecurity,
            Market::My => QotMarket::MySecurity,
            Market::Ca => QotMarket::CaSecurity,
            Market::Fx => QotMarket::FxSecurity,
            Market::Cc => QotMarket::CcSecurity,
            Market::Ec => QotMarket::EventContract,
        }
    }

    /// The trading security market (`secMarket`): HK and HK_FUTURE -> HK (1), US 2,
    /// SH 31, SZ 32, SG 41, JP 51, AU 61, MY 71, CA 81, FX 91, CC 101, EC 111.
    pub const fn sec_market(self) -> TrdSecMarket {
        match self {
            Market::Unknown => TrdSecMarket::Unknown,
            Market::Hk | Market::HkFuture => TrdSecMarket::Hk,
            Market::Us => TrdSecMarket::Us,
            Market::Sh => TrdSecMarket::CnSh,
            Market::Sz => TrdSecMarket::CnSz,
            Market::Sg => TrdSecMarket::Sg,
            Market::Jp => TrdSecMarket::Jp,
            Market::Au => TrdSecMarket::Au,
            Market::My => TrdSecMarket::My,
            Market::Ca => TrdSecMarket::Ca,
            Market::Fx => TrdSecMarket::Fx,
            Market::Cc => TrdSecMarket::Cc,
            Market::Ec => TrdSecMarket::Ec,
        }
    }

    /// The prefix for a quote market; unknown values give `Unknown`.
    pub const fn from_qot_market(market: QotMarket) -> Market {
        match QotMarket::from_value(market.value()) {
            QotMarket::HkSecurity => Market::Hk,
            QotMarket::HkFuture => Market::HkFuture,
            QotMarket::UsSecurity => Market::Us,
            QotMarket::CnshSecurity => Market::Sh,
            QotMarket::CnszSecurity => Market::Sz,
            QotMarket::SgSecurity => Market::Sg,
            QotMarket::JpSecurity => Market::Jp,
            QotMarket::AuSecurity => Market::Au,
            QotMarket::MySecurity => Market::My,
            QotMarket::CaSecurity => Market::Ca,
            QotMarket::FxSecurity => Market::Fx,
            QotMarket::CcSecurity => Market::Cc,
            QotMarket::EventContract => Market::Ec,
            QotMarket::Unknown | QotMarket::Other(_) => Market::Unknown,
        }
    }

    /// The prefix the SDK uses when re-prefixing a code OpenD returned with this
    /// `secMarket` (HK -> `HK`, never `HK_FUTURE`); unknown values give `Unknown`.
    pub const fn from_sec_market(market: TrdSecMarket) -> Market {
        match TrdSecMarket::from_value(market.value()) {
            TrdSecMarket::Hk => Market::Hk,
            TrdSecMarket::Us => Market::Us,
            TrdSecMarket::CnSh => Market::Sh,
            TrdSecMarket::CnSz => Market::Sz,
            TrdSecMarket::Sg => Market::Sg,
            TrdSecMarket::Jp => Market::Jp,
            TrdSecMarket::Au => Market::Au,
            TrdSecMarket::My => Market::My,
            TrdSecMarket::Ca => Market::Ca,
            TrdSecMarket::Fx => Market::Fx,
            TrdSecMarket::Cc => Market::Cc,
            TrdSecMarket::Ec => Market::Ec,
            TrdSecMarket::Unknown | TrdSecMarket::Other(_) => Market::Unknown,
        }
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Market {
    type Err = ParseCodeError;

    /// Accepts the prefixes (ASCII case ignored) and `"N/A"` for `Unknown`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("N/A") {
            return Ok(Market::Unknown);
        }
        Market::ALL
            .iter()
            .copied()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseCodeError::UnknownMarket(clip(s)))
    }
}

/// Why a string is not a `MARKET.CODE` security code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseCodeError {
    /// The input was empty.
    #[error("empty security code (expected e.g. US.AAPL, HK.00700, SZ.000001)")]
    Empty,
    /// No `.` between market and symbol.
    #[error("security code {0:?} has no market prefix (expected e.g. US.AAPL, HK.00700, SZ.000001)")]
    MissingMarket(String),
    /// Nothing after the `.`.
    #[error("security code {0:?} has no symbol after the market prefix")]
    EmptySymbol(String),
    /// The prefix is not a known market.
    #[error("unknown market prefix {0:?} (known: HK, US, SH, SZ, HK_FUTURE, SG, JP, AU, MY, CA, FX, CC, EC)")]
    UnknownMarket(String),
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A security: market prefix plus bare symbol, written `MARKET.CODE`.
///
/// Parsing splits at the **first** dot, so `US..DJI` has the symbol `.DJI`, as in the
/// SDK. The prefix is matched ignoring ASCII case; the symbol is kept as given.
///
/// ```
/// use ftapi::types::{Market, QotMarket, SecurityCode, TrdSecMarket};
/// let c: SecurityCode = "HK.00700".parse().unwrap();
/// assert_eq!(c.market, Market::Hk);
/// assert_eq!(c.code, "00700");
/// assert_eq!(c.sec_market(), TrdSecMarket::Hk);
/// assert_eq!(c.to_string(), "HK.00700");
/// assert_eq!("SH.600519".parse::<SecurityCode>().unwrap().qot_market(), QotMarket::CnshSecurity);
/// assert!("XX.1".parse::<SecurityCode>().is_err());
/// // A code OpenD returned with secMarket 2 (US):
/// assert_eq!(SecurityCode::from_sec_market(2, "AAPL").to_string(), "US.AAPL");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecurityCode {
    /// The market prefix.
    pub market: Market,
    /// The bare symbol as OpenD knows it (`"00700"`, `"AAPL"`).
    pub code: String,
}

impl SecurityCode {
    /// A code from its parts.
    pub fn new(market: Market, code: impl Into<String>) -> Self {
        SecurityCode { market, code: code.into() }
    }

    /// The `secMarket` to send with this code.
    pub fn sec_market(&self) -> TrdSecMarket {
        self.market.sec_market()
    }

    /// The quote market (`Security.market`).
    pub fn qot_market(&self) -> QotMarket {
        self.market.qot_market()
    }

    /// As a `Qot_Common.Security` (market number and bare symbol).
    pub fn to_pb_security(&self) -> pb::qot_common::Security {
        pb::qot_common::Security { market: self.qot_market().value(), code: self.code.clone() }
    }

    /// From a `Qot_Common.Security`; an unknown market gives the `N/A` prefix.
    pub fn from_pb_security(security: &pb::qot_common::Security) -> Self {
        SecurityCode::new(Market::from_qot_market(QotMarket::from(security.market)), security.code.as_str())
    }

    /// Re-prefixes a bare symbol returned by OpenD from its `secMarket` number, as the
    /// SDK does (unknown or absent markets give `N/A.<code>`).
    pub fn from_sec_market(sec_market: i32, code: &str) -> Self {
        SecurityCode::new(Market::from_sec_market(TrdSecMarket::from(sec_market)), code)
    }

    /// [`SecurityCode::from_sec_market`] for an optional wire field (absent = unknown).
    pub fn from_opt_sec_market(sec_market: Option<i32>, code: &str) -> Self {
        SecurityCode::from_sec_market(sec_market.unwrap_or(0), code)
    }
}

impl fmt::Display for SecurityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.market.as_str(), self.code)
    }
}

impl FromStr for SecurityCode {
    type Err = ParseCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ParseCodeError::Empty);
        }
        let Some((prefix, symbol)) = s.split_once('.') else {
            return Err(ParseCodeError::MissingMarket(clip(s)));
        };
        if prefix.is_empty() {
            return Err(ParseCodeError::MissingMarket(clip(s)));
        }
        let market = Market::ALL
            .iter()
            .copied()
            .find(|m| m.as_str().eq_ignore_ascii_case(prefix))
            .ok_or_else(|| ParseCodeError::UnknownMarket(clip(prefix)))?;
        if symbol.is_empty() {
            return Err(ParseCodeError::EmptySymbol(clip(s)));
        }
        Ok(SecurityCode::new(market, symbol))
    }
}

impl TryFrom<&str> for SecurityCode {
    type Error = ParseCodeError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// The header `trdMarket` the SDK uses for an order-like request on `code`
/// (place order, max quantities, margin ratios, combo orders), from the code's
/// prefix, the context's category and the environment (docs/protocol.md 6.3):
///
/// | prefix | SECURITY / CRYPTO (any other category) | FUTURE, REAL | FUTURE, SIMULATE |
/// |---|---|---|---|
/// | HK | HK | FUTURES | FUTURES_SIMULATE_HK |
/// | US | US | FUTURES | FUTURES_SIMULATE_US |
/// | SH / SZ | REAL: HKCC, else CN | FUTURES | N/A |
/// | SG | SG | FUTURES | FUTURES_SIMULATE_SG |
/// | JP | JP | FUTURES | FUTURES_SIMULATE_JP |
/// | AU, MY, CA | AU, MY, CA | FUTURES | N/A |
/// | CC | CRYPTO | FUTURES | N/A |
/// | EC | N/A | PREDICTION | N/A |
/// | other | N/A | FUTURES | N/A |
///
/// Any environment other than REAL takes the SIMULATE column, as in the SDK.
///
/// ```
/// use ftapi::types::{trd_market_for_code, SecurityCode, TrdCategory, TrdEnv, TrdMarket};
/// let c: SecurityCode = "SH.600519".parse().unwrap();
/// assert_eq!(trd_market_for_code(&c, TrdCategory::Security, TrdEnv::Real), TrdMarket::Hkcc);
/// assert_eq!(trd_market_for_code(&c, TrdCategory::Security, TrdEnv::Simulate), TrdMarket::Cn);
/// let f: SecurityCode = "HK.HSImain".parse().unwrap();
/// assert_eq!(trd_market_for_code(&f, TrdCategory::Future, TrdEnv::Simulate), TrdMarket::FuturesSimulateHk);
/// ```
pub fn trd_market_for_code(code: &SecurityCode, category: TrdCategory, env: TrdEnv) -> TrdMarket {
    let real = env == TrdEnv::Real;
    if category == TrdCategory::Future {
        if real {
            return if code.market == Market::Ec { TrdMarket::Prediction } else { TrdMarket::Futures };
        }
        return match code.market {
            Market::Hk => TrdMarket::FuturesSimulateHk,
            Market::Us => TrdMarket::FuturesSimulateUs,
            Market::Sg => TrdMarket::FuturesSimulateSg,
            Market::Jp => TrdMarket::FuturesSimulateJp,
            _ => TrdMarket::Unknown,
        };
    }
    match code.market {
        Market::Hk => TrdMarket::Hk,
        Market::Us => TrdMarket::Us,
        Market::Sh | Market::Sz if real => TrdMarket::Hkcc,
        Market::Sh | Market::Sz => TrdMarket::Cn,
        Market::Sg => TrdMarket::Sg,
        Market::Jp => TrdMarket::Jp,
        Market::Au => TrdMarket::Au,
        Market::My => TrdMarket::My,
        Market::Ca => TrdMarket::Ca,
        Market::Cc => TrdMarket::Crypto,
        _ => TrdMarket::Unknown,
    }
}
