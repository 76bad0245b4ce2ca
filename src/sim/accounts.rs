//! The simulator's configuration: accounts, starting cash and positions, trade
//! password, seed, ticker interval and rate limits.
//!
//! Build one in code ([`BrokerConfig::default`] gives the default account set, and
//! every field is public), or load it from JSON with [`BrokerConfig::from_json_file`]
//! (the `opend-sim --accounts FILE` option).
//!
//! # The JSON format
//!
//! Every top-level key is optional; absent keys keep the defaults. `accounts`, when
//! given, replaces the default account set entirely.
//!
//! ```json
//! {
//!   "trade_password": "123456",
//!   "seed": 42,
//!   "tick_interval_ms": 1000,
//!   "clock": "real",
//!   "relaxed": false,
//!   "fill_delay_ms": 50,
//!   "fill_chunk_lots": 10,
//!   "rate_limits": { "enabled": true, "place_per_30s": 15, "modify_per_30s": 20, "unlock_per_30s": 10,
//!                    "place_min_interval_ms": 20, "modify_min_interval_ms": 40, "query_per_30s": 10 },
//!   "accounts": [
//!     {
//!       "acc_id": 281756478396547854,
//!       "trd_env": "REAL",
//!       "markets": ["HK", "US", "HKCC"],
//!       "security_firm": "FUTUSECURITIES",
//!       "acc_type": "MARGIN",
//!       "card_num": "1001289516908051",
//!       "uni_card_num": "1001100321732212",
//!       "universal": true,
//!       "currency": "HKD",
//!       "cash": 1000000.0,
//!       "positions": [ { "code": "HK.00700", "qty": 500, "cost_price": 320.0 } ]
//!     }
//!   ],
//!   "instruments": [ { "code": "HK.01810", "name": "XIAOMI-W", "lot_size": 200, "price": 20.0 } ]
//! }
//! ```
//!
//! Account keys: `acc_id` (required, unique), `trd_env` (`REAL` / `SIMULATE`, required),
//! `markets` (required, `TrdMarket` names: `HK`, `US`, `CN`, `HKCC`, `FUTURES`, `SG`,
//! `JP`, `FUTURES_SIMULATE_HK`, `FUTURES_SIMULATE_US`, `FUTURES_SIMULATE_SG`,
//! `FUTURES_SIMULATE_JP`), `security_firm` (`FUTUSECURITIES`, `FUTUINC`, `FUTUSG`,
//! `FUTUAU`, `FUTUCA`, `FUTUMY`, `FUTUJP`), `acc_type` (`CASH`, `MARGIN`,
//! `DERIVATIVES`), `sim_acc_type` (`STOCK`, `OPTION`, `FUTURES`, `STOCK_AND_OPTION`),
//! `acc_status` (`ACTIVE`, `DISABLED`), `acc_role` (`NORMAL`, `MASTER`), `card_num`,
//! `uni_card_num`, `universal` (a universal securities account: listed only when
//! `needGeneralSecAccount` is true, and answers funds in the requested currency),
//! `currency` (base currency, default by first market), `cash` (starting cash in the
//! base currency), `positions` (`code` as `MARKET.CODE`, `qty`, negative for a short
//! futures position, `cost_price`). Each starting position also appears as a filled
//! buy (or sell) order 3, 4, 5... days back (with its fill and cash-flow entry), the
//! first position also gets a cancelled order two days back, and every account gets
//! a "Deposit" cash-flow entry ten days back, so history queries return data. The
//! configured `cash` is what is left after those trades.
//! `tick_interval_ms` = 0 or absent: prices move only on `Broker::tick` / `set_price`.
//! `utc_offset_minutes`, when set, writes every time string at that fixed offset
//! (by default each market's local time is used, as OpenD does). `clock`, `relaxed`
//! and `fill_delay_ms` are the knobs of docs/simulator.md (`opend-sim --clock`,
//! `--relaxed`, `--fill-delay-ms`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::calendar::ClockSpec;
use super::matching::{currency, trd_market, InstrumentSpec};
use crate::types::{SecurityFirm, SimAccType, TrdAccType, TrdEnv};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read accounts file {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The JSON is malformed or has an unknown key or value.
    #[error("bad accounts JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The content is well-formed but inconsistent (duplicate account, unknown code...).
    #[error("invalid simulator configuration: {0}")]
    Invalid(String),
}

/// Trading environment of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Env {
    /// Paper trading (`TrdEnv_Simulate` = 0).
    Simulate,
    /// Real trading (`TrdEnv_Real` = 1).
    Real,
}

impl Env {
    /// The `TrdEnv` number.
    pub fn number(self) -> i32 {
        match self {
            Env::Simulate => TrdEnv::Simulate.value(),
            Env::Real => TrdEnv::Real.value(),
        }
    }
}

/// A `TrdMarket` by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum MarketName {
    Hk,
    Us,
    Cn,
    Hkcc,
    Futures,
    Sg,
    Jp,
    FuturesSimulateHk,
    FuturesSimulateUs,
    FuturesSimulateSg,
    FuturesSimulateJp,
}

impl MarketName {
    /// The `TrdMarket` number.
    pub fn number(self) -> i32 {
        use trd_market as t;
        match self {
            MarketName::Hk => t::HK,
            MarketName::Us => t::US,
            MarketName::Cn => t::CN,
            MarketName::Hkcc => t::HKCC,
            MarketName::Futures => t::FUTURES,
            MarketName::Sg => t::SG,
            MarketName::Jp => t::JP,
            MarketName::FuturesSimulateHk => t::FUTURES_SIMULATE_HK,
            MarketName::FuturesSimulateUs => t::FUTURES_SIMULATE_US,
            MarketName::FuturesSimulateSg => t::FUTURES_SIMULATE_SG,
            MarketName::FuturesSimulateJp => t::FUTURES_SIMULATE_JP,
        }
    }

    /// Whether this is a futures market (real or simulated).
    pub fn is_futures(self) -> bool {
        matches!(
            self,
            MarketName::Futures
                | MarketName::FuturesSimulateHk
                | MarketName::FuturesSimulateUs
                | MarketName::FuturesSimulateSg
                | MarketName::FuturesSimulateJp
        )
    }

    fn default_currency(self) -> i32 {
        match self {
            MarketName::Us | MarketName::FuturesSimulateUs | MarketName::FuturesSimulateSg => currency::USD,
            MarketName::Cn | MarketName::Hkcc => currency::CNH,
            MarketName::Jp | MarketName::FuturesSimulateJp => currency::JPY,
            MarketName::Sg => currency::SGD,
            _ => currency::HKD,
        }
    }
}

/// A `SecurityFirm` by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum FirmName {
    Futusecurities,
    Futuinc,
    Futusg,
    Futuau,
    Futuca,
    Futumy,
    Futujp,
}

impl FirmName {
    /// The `SecurityFirm` number.
    pub fn number(self) -> i32 {
        let firm = match self {
            FirmName::Futusecurities => SecurityFirm::FutuSecurities,
            FirmName::Futuinc => SecurityFirm::FutuInc,
            FirmName::Futusg => SecurityFirm::FutuSg,
            FirmName::Futuau => SecurityFirm::FutuAu,
            FirmName::Futuca => SecurityFirm::FutuCa,
            FirmName::Futumy => SecurityFirm::FutuMy,
            FirmName::Futujp => SecurityFirm::FutuJp,
        };
        firm.value()
    }
}

/// A `TrdAccType` by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum AccTypeName {
    Cash,
    Margin,
    Derivatives,
}

impl AccTypeName {
    /// The `TrdAccType` number.
    pub fn number(self) -> i32 {
        let t = match self {
            AccTypeName::Cash => TrdAccType::Cash,
            AccTypeName::Margin => TrdAccType::Margin,
            AccTypeName::Derivatives => TrdAccType::Derivatives,
        };
        t.value()
    }
}

/// A `SimAccType` by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum SimAccTypeName {
    Stock,
    Option,
    Futures,
    StockAndOption,
}

impl SimAccTypeName {
    /// The `SimAccType` number.
    pub fn number(self) -> i32 {
        let t = match self {
            SimAccTypeName::Stock => SimAccType::Stock,
            SimAccTypeName::Option => SimAccType::Option,
            SimAccTypeName::Futures => SimAccType::Futures,
            SimAccTypeName::StockAndOption => SimAccType::StockAndOption,
        };
        t.value()
    }
}

/// A `TrdAccStatus` by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum AccStatusName {
    #[default]
    Active,
    Disabled,
}

/// A `TrdAccRole` by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum AccRoleName {
    #[default]
    Normal,
    Master,
}

/// A starting position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PositionSpec {
    /// Market-prefixed code (`HK.00700`).
    pub code: String,
    /// Quantity (shares or contracts); negative = short (futures only).
    pub qty: f64,
    /// Average cost price.
    pub cost_price: f64,
}

/// One account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// Account id (unique).
    pub acc_id: u64,
    /// Environment.
    pub trd_env: Env,
    /// Markets the account may trade (`trdMarketAuthList`, in order).
    pub markets: Vec<MarketName>,
    /// Broker entity; none for simulated accounts.
    #[serde(default)]
    pub security_firm: Option<FirmName>,
    /// Account type.
    #[serde(default)]
    pub acc_type: Option<AccTypeName>,
    /// Simulated account type (simulated accounts).
    #[serde(default)]
    pub sim_acc_type: Option<SimAccTypeName>,
    /// Card number.
    #[serde(default)]
    pub card_num: Option<String>,
    /// Card number of the parent universal account.
    #[serde(default)]
    pub uni_card_num: Option<String>,
    /// Status.
    #[serde(default)]
    pub acc_status: AccStatusName,
    /// Role.
    #[serde(default)]
    pub acc_role: AccRoleName,
    /// A universal (multi-market) securities account.
    #[serde(default)]
    pub universal: bool,
    /// Base currency name (`HKD`, `USD`, ...); default from the first market.
    #[serde(default)]
    pub currency: Option<String>,
    /// Starting cash in the base currency.
    #[serde(default)]
    pub cash: f64,
    /// Starting positions.
    #[serde(default)]
    pub positions: Vec<PositionSpec>,
}

impl AccountSpec {
    /// The base currency number.
    pub fn currency_number(&self) -> Result<i32, ConfigError> {
        match &self.currency {
            Some(name) => super::matching::currency_of_name(name)
                .ok_or_else(|| ConfigError::Invalid(format!("account {}: unknown currency {name:?}", self.acc_id))),
            None => Ok(self.markets.first().map(|m| m.default_currency()).unwrap_or(currency::HKD)),
        }
    }

    /// Whether this is a futures account (any futures market).
    pub fn is_futures(&self) -> bool {
        self.markets.iter().any(|m| m.is_futures())
    }

    /// The `trdMarketAuthList` numbers.
    pub fn market_numbers(&self) -> Vec<i32> {
        self.markets.iter().map(|m| m.number()).collect()
    }
}

/// OpenD's request limits: counts per 30-second sliding window and minimum intervals
/// between consecutive requests (see docs/simulator.md for the sources).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Off for load tests.
    pub enabled: bool,
    /// Place (and combo place) requests per account.
    pub place_per_30s: u32,
    /// Modify / cancel requests per account.
    pub modify_per_30s: u32,
    /// Unlock / lock requests (the whole simulated user).
    pub unlock_per_30s: u32,
    /// Minimum interval between two place requests of an account, milliseconds
    /// (OpenD: 0.02 s). Not applied in relaxed mode.
    pub place_min_interval_ms: u64,
    /// Minimum interval between two modify requests of an account, milliseconds
    /// (OpenD: 0.04 s). Not applied in relaxed mode.
    pub modify_min_interval_ms: u64,
    /// History orders, history fills, max-qty and order-fee queries per account, and
    /// the cached queries (funds, positions, orders, fills) that ask for a cache
    /// refresh, each kind counted on its own (OpenD: 10 per 30 s). Not applied in
    /// relaxed mode.
    pub query_per_30s: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            enabled: true,
            place_per_30s: 15,
            modify_per_30s: 20,
            unlock_per_30s: 10,
            place_min_interval_ms: 20,
            modify_min_interval_ms: 40,
            query_per_30s: 10,
        }
    }
}

mod clock_serde {
    use crate::sim::calendar::ClockSpec;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(c: &ClockSpec, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&c.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ClockSpec, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Everything the simulated broker starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// The trade password; unlock requests carry its MD5.
    pub trade_password: String,
    /// Seed of the price paths.
    pub seed: u64,
    /// Ticker interval; 0 = no background ticker.
    pub tick_interval_ms: u64,
    /// Offset of every time string from UTC, in minutes. `None` (the default): each
    /// order, fill and cash flow is written in its market's local time, as OpenD does
    /// (HK in HKT, US in New York time). In relaxed mode `None` means UTC.
    pub utc_offset_minutes: Option<i32>,
    /// The market clock (`real`, `open` or a start instant with a speed).
    #[serde(with = "clock_serde")]
    pub clock: ClockSpec,
    /// The permissive mode for fast tests: every market open, fills booked before the
    /// reply, no paper-trading restrictions, no minimum intervals nor query limits, UTC
    /// time strings. The default (`false`) follows OpenD's rules.
    pub relaxed: bool,
    /// Delay between an order's acknowledgement and its first fill, milliseconds
    /// (OpenD-rules mode only).
    pub fill_delay_ms: u64,
    /// Largest fill of a resting limit order per matching round, in lots.
    pub fill_chunk_lots: u32,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// Accounts.
    pub accounts: Vec<AccountSpec>,
    /// Extra instruments, added to the built-in table.
    pub instruments: Vec<InstrumentSpec>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            trade_password: "123456".to_string(),
            seed: 20240101,
            tick_interval_ms: 0,
            utc_offset_minutes: None,
            clock: ClockSpec::Real,
            relaxed: false,
            fill_delay_ms: DEFAULT_FILL_DELAY_MS,
            fill_chunk_lots: 10,
            rate_limits: RateLimits::default(),
            accounts: default_accounts(),
            instruments: Vec::new(),
        }
    }
}

/// Default [`BrokerConfig::fill_delay_ms`].
pub const DEFAULT_FILL_DELAY_MS: u64 = 50;

impl BrokerConfig {
    /// The default accounts in relaxed mode (the `relaxed` field: every market open, fills
    /// before the reply, no paper, interval or query limits, UTC time strings).
    pub fn relaxed() -> BrokerConfig {
        BrokerConfig { relaxed: true, ..BrokerConfig::default() }
    }

    /// Turns the relaxed mode on or off (builder style).
    pub fn with_relaxed(mut self, relaxed: bool) -> Self {
        self.relaxed = relaxed;
        self
    }

    /// Sets the market clock (builder style).
    pub fn with_clock(mut self, clock: ClockSpec) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the fill delay in milliseconds (builder style).
    pub fn with_fill_delay_ms(mut self, ms: u64) -> Self {
        self.fill_delay_ms = ms;
        self
    }

    /// Parses the JSON format described in the module documentation.
    pub fn from_json_str(json: &str) -> Result<BrokerConfig, ConfigError> {
        let cfg: BrokerConfig = serde_json::from_str(json)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses an accounts file (`opend-sim --accounts FILE`).
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<BrokerConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.display().to_string(), source })?;
        Self::from_json_str(&text)
    }

    /// Replaces the account list (builder style).
    pub fn with_accounts(mut self, accounts: Vec<AccountSpec>) -> Self {
        self.accounts = accounts;
        self
    }

    /// Sets the trade password (builder style).
    pub fn with_trade_password(mut self, password: impl Into<String>) -> Self {
        self.trade_password = password.into();
        self
    }

    /// Turns the rate limits on or off (builder style).
    pub fn with_rate_limits(mut self, enabled: bool) -> Self {
        self.rate_limits.enabled = enabled;
        self
    }

    /// Sets the background ticker interval in milliseconds, 0 = none (builder style).
    pub fn with_tick_interval_ms(mut self, ms: u64) -> Self {
        self.tick_interval_ms = ms;
        self
    }

    /// Sets the price seed (builder style).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks what does not need the instrument table: unique ids, markets present,
    /// finite cash. (Position codes are checked when the broker is built.)
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for a in &self.accounts {
            if !seen.insert(a.acc_id) {
                return Err(ConfigError::Invalid(format!("duplicate acc_id {}", a.acc_id)));
            }
            if a.markets.is_empty() {
                return Err(ConfigError::Invalid(format!("account {} has no markets", a.acc_id)));
            }
            if !a.cash.is_finite() {
                return Err(ConfigError::Invalid(format!("account {}: cash must be finite", a.acc_id)));
            }
            a.currency_number()?;
            for p in &a.positions {
                if !(p.qty.is_finite() && p.qty != 0.0 && p.cost_price.is_finite() && p.cost_price > 0.0) {
                    return Err(ConfigError::Invalid(format!(
                        "account {}: position {} needs a non-zero qty and a positive cost_price",
                        a.acc_id, p.code
                    )));
                }
            }
        }
        if self.fill_chunk_lots == 0 {
            return Err(ConfigError::Invalid("fill_chunk_lots must be at least 1".into()));
        }
        if self.utc_offset_minutes.is_some_and(|m| !(-18 * 60..=18 * 60).contains(&m)) {
            return Err(ConfigError::Invalid("utc_offset_minutes must be within +-18 hours".into()));
        }
        Ok(())
    }
}

/// Ids of the default accounts, for tests and examples.
pub mod default_ids {
    /// REAL universal HK securities account (FutuSecurities; HK, US, HKCC).
    pub const HK_REAL: u64 = 281_756_478_396_547_854;
    /// REAL US securities account (FutuInc; US).
    pub const US_REAL: u64 = 281_756_455_983_234_027;
    /// REAL futures account (FutuSecurities; Futures).
    pub const FUTURES_REAL: u64 = 281_756_460_000_012_345;
    /// SIMULATE HK stock account.
    pub const HK_SIM: u64 = 5_287_341;
    /// SIMULATE US stock account.
    pub const US_SIM: u64 = 5_287_342;
    /// SIMULATE A-share stock account.
    pub const CN_SIM: u64 = 5_287_343;
    /// SIMULATE HK futures account.
    pub const FUT_HK_SIM: u64 = 5_287_351;
    /// SIMULATE US futures account.
    pub const FUT_US_SIM: u64 = 5_287_352;
    /// SIMULATE SG futures account.
    pub const FUT_SG_SIM: u64 = 5_287_353;
}

fn pos(code: &str, qty: f64, cost: f64) -> PositionSpec {
    PositionSpec { code: code.to_string(), qty, cost_price: cost }
}

/// The default account set: a universal HK securities REAL account (FutuSecurities;
/// HK, US, HKCC), a US securities REAL account under FutuInc, a futures REAL account,
/// SIMULATE HK, US and A-share stock accounts and SIMULATE HK, US and SG futures
/// accounts, each with starting cash and a few positions.
pub fn default_accounts() -> Vec<AccountSpec> {
    use default_ids::*;
    let base = |acc_id, trd_env, markets: Vec<MarketName>| AccountSpec {
        acc_id,
        trd_env,
        markets,
        security_firm: None,
        acc_type: Some(AccTypeName::Margin),
        sim_acc_type: None,
        card_num: None,
        uni_card_num: None,
        acc_status: AccStatusName::Active,
        acc_role: AccRoleName::Normal,
        universal: false,
        currency: None,
        cash: 1_000_000.0,
        positions: Vec::new(),
    };
    let sim_stock = |acc_id, market, cash: f64, positions| AccountSpec {
        sim_acc_type: Some(SimAccTypeName::Stock),
        cash,
        positions,
        ..base(acc_id, Env::Simulate, vec![market])
    };
    let sim_fut = |acc_id, market| AccountSpec {
        sim_acc_type: Some(SimAccTypeName::Futures),
        acc_type: Some(AccTypeName::Margin),
        ..base(acc_id, Env::Simulate, vec![market])
    };
    vec![
        AccountSpec {
            security_firm: Some(FirmName::Futusecurities),
            card_num: Some("1001289516908051".into()),
            uni_card_num: Some("1001100321732212".into()),
            universal: true,
            currency: Some("HKD".into()),
            cash: 1_000_000.0,
            positions: vec![pos("HK.00700", 500.0, 320.0), pos("HK.09988", 1000.0, 80.0), pos("US.AAPL", 100.0, 170.0)],
            ..base(HK_REAL, Env::Real, vec![MarketName::Hk, MarketName::Us, MarketName::Hkcc])
        },
        AccountSpec {
            security_firm: Some(FirmName::Futuinc),
            card_num: Some("1002110473016628".into()),
            uni_card_num: Some("1002110473016628".into()),
            currency: Some("USD".into()),
            cash: 200_000.0,
            positions: vec![pos("US.TSLA", 50.0, 220.0), pos("US.MSFT", 20.0, 400.0)],
            ..base(US_REAL, Env::Real, vec![MarketName::Us])
        },
        AccountSpec {
            security_firm: Some(FirmName::Futusecurities),
            card_num: Some("1001289516909172".into()),
            uni_card_num: Some("1001100321732212".into()),
            acc_type: Some(AccTypeName::Margin),
            currency: Some("HKD".into()),
            cash: 500_000.0,
            positions: vec![pos("HK.HSImain", 1.0, 19400.0)],
            ..base(FUTURES_REAL, Env::Real, vec![MarketName::Futures])
        },
        sim_stock(HK_SIM, MarketName::Hk, 1_000_000.0, vec![pos("HK.00700", 200.0, 300.0)]),
        sim_stock(US_SIM, MarketName::Us, 1_000_000.0, vec![pos("US.AAPL", 100.0, 150.0)]),
        sim_stock(CN_SIM, MarketName::Cn, 1_000_000.0, vec![pos("SH.600519", 100.0, 1500.0)]),
        sim_fut(FUT_HK_SIM, MarketName::FuturesSimulateHk),
        sim_fut(FUT_US_SIM, MarketName::FuturesSimulateUs),
        sim_fut(FUT_SG_SIM, MarketName::FuturesSimulateSg),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_round_trips() {
        let cfg = BrokerConfig::default();
        cfg.validate().unwrap();
        let json = serde_json::to_string(&cfg).unwrap();
        let back = BrokerConfig::from_json_str(&json).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn rejects_duplicates_and_unknown_keys() {
        let dup = r#"{"accounts":[{"acc_id":1,"trd_env":"REAL","markets":["HK"]},{"acc_id":1,"trd_env":"REAL","markets":["US"]}]}"#;
        assert!(matches!(BrokerConfig::from_json_str(dup), Err(ConfigError::Invalid(_))));
        assert!(matches!(BrokerConfig::from_json_str(r#"{"bogus":1}"#), Err(ConfigError::Json(_))));
    }
}
