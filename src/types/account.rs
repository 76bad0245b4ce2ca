//! The SDK's account rules as pure functions: which accounts a trade context keeps
//! (docs/protocol.md 6.2), which one a request uses (6.3), and which market/environment
//! pairs a context accepts.
//!
//! ```
//! use ftapi::types::{filter_accounts, select_account, Account, SecurityFirm, TrdEnv, TrdMarket};
//! let mut real = Account::new(TrdEnv::Real, 1001, vec![TrdMarket::Hk, TrdMarket::Us]);
//! real.security_firm = SecurityFirm::FutuSecurities;
//! let paper = Account::new(TrdEnv::Simulate, 2001, vec![TrdMarket::Hk]);
//! let us_only = Account::new(TrdEnv::Real, 1002, vec![TrdMarket::Us]);
//! let all = [real, paper, us_only];
//!
//! let hk = filter_accounts(&all, TrdMarket::Hk, SecurityFirm::Unknown, false);
//! assert_eq!(hk.iter().map(|a| a.acc_id).collect::<Vec<_>>(), [1001, 2001]);
//! assert_eq!(select_account(&hk, TrdEnv::Simulate, 0, 0).unwrap().acc_id, 2001);
//! assert!(select_account(&hk, TrdEnv::Real, 0, 1).is_err());
//! ```

use super::enums::{SecurityFirm, TrdCategory, TrdEnv, TrdMarket};
use super::model::Account;

/// Why no account could be chosen for a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// The context's list has no account of the environment.
    #[error("no {env} account in this context's account list (check the context's market filter and security firm)")]
    NoAccount {
        /// The environment asked for.
        env: TrdEnv,
    },
    /// `acc_id` is not in the context's list with that environment.
    #[error("acc_id {acc_id} not found among this context's {env} accounts")]
    AccIdNotFound {
        /// The account ID asked for.
        acc_id: u64,
        /// The environment asked for.
        env: TrdEnv,
    },
    /// `acc_index` is past the end of the accounts of that environment.
    #[error("acc_index {acc_index} out of range: this context has {count} {env} account(s)")]
    AccIndexOutOfRange {
        /// The index asked for.
        acc_index: usize,
        /// How many accounts of that environment there are.
        count: usize,
        /// The environment asked for.
        env: TrdEnv,
    },
    /// The context's market does not allow this environment ([`market_env_enabled`]).
    #[error("trading environment {env} is not available for a context with market {market}")]
    EnvNotEnabled {
        /// The context's market.
        market: TrdMarket,
        /// The environment asked for.
        env: TrdEnv,
    },
    /// A securities context was created with the FUTURES market.
    #[error("a securities trade context cannot use futures accounts (market FUTURES); use a futures context")]
    FuturesInSecurityContext,
    /// `acc_id` names more than one account of that environment in the context's
    /// list (OpenD listed the same account twice, e.g. under two categories or
    /// firms). Which one is meant cannot be told, so none is chosen.
    #[error(
        "acc_id {acc_id} names {count} {env} accounts in this context's account list; which one is meant is ambiguous"
    )]
    Ambiguous {
        /// The account ID asked for.
        acc_id: u64,
        /// The environment asked for.
        env: TrdEnv,
        /// How many accounts of the list carry that ID and environment.
        count: usize,
    },
}

/// Whether a context with market `market` accepts requests in `env` (the SDK's
/// `MKT_ENV_ENABLE_MAP`):
///
/// | market | REAL | SIMULATE |
/// |---|---|---|
/// | N/A (none), HK, US, FUTURES | yes | yes |
/// | HKCC, SG, HKFUND, USFUND, CA, MY, JP, CRYPTO, PREDICTION | yes | no |
/// | CN | no | yes |
/// | everything else (AU, SGFUND, MYFUND, JPFUND, FUTURES_SIMULATE_*, unknown) | no | no |
///
/// ```
/// use ftapi::types::{market_env_enabled, TrdEnv, TrdMarket};
/// assert!(market_env_enabled(TrdMarket::Hk, TrdEnv::Simulate));
/// assert!(!market_env_enabled(TrdMarket::Hkcc, TrdEnv::Simulate));
/// assert!(market_env_enabled(TrdMarket::Cn, TrdEnv::Simulate));
/// assert!(!market_env_enabled(TrdMarket::Au, TrdEnv::Real));
/// ```
pub fn market_env_enabled(market: TrdMarket, env: TrdEnv) -> bool {
    let real = match TrdEnv::from_value(env.value()) {
        TrdEnv::Real => true,
        TrdEnv::Simulate => false,
        TrdEnv::Other(_) => return false,
    };
    match TrdMarket::from_value(market.value()) {
        TrdMarket::Unknown | TrdMarket::Hk | TrdMarket::Us | TrdMarket::Futures => true,
        TrdMarket::Hkcc
        | TrdMarket::Sg
        | TrdMarket::HkFund
        | TrdMarket::UsFund
        | TrdMarket::Ca
        | TrdMarket::My
        | TrdMarket::Jp
        | TrdMarket::Crypto
        | TrdMarket::Prediction => real,
        TrdMarket::Cn => !real,
        _ => false,
    }
}

/// The checks the SDK makes before choosing an account (docs/protocol.md 6.3, steps 1-2):
/// the (market, env) pair must be enabled, and a securities context must not use the
/// FUTURES market.
pub fn check_trd_env(category: TrdCategory, market: TrdMarket, env: TrdEnv) -> Result<(), SelectError> {
    if !market_env_enabled(market, env) {
        return Err(SelectError::EnvNotEnabled { market, env });
    }
    if category == TrdCategory::Security && market == TrdMarket::Futures {
        return Err(SelectError::FuturesInSecurityContext);
    }
    Ok(())
}

/// Whether a context with `market` / `firm` keeps `account` (docs/protocol.md 6.2).
///
/// Market: the context market is `Unknown` (none), or it is in the account's
/// `trdMarketAuthList`, or (futures contexts, and as in the SDK any context whose
/// market is FUTURES) the list holds a simulated-futures market or PREDICTION.
///
/// Firm: the account is SIMULATE, or it has no firm (absent, 0 or a value this
/// version does not know), or the context firm is `Unknown` (none), or they are equal.
pub fn account_matches(account: &Account, market: TrdMarket, firm: SecurityFirm, futures_context: bool) -> bool {
    let market_ok = market == TrdMarket::Unknown
        || account.has_market(market)
        || ((futures_context || market == TrdMarket::Futures)
            && account.trd_market_auth.iter().any(|m| TrdMarket::SIMULATED_FUTURES.contains(m)));
    let firm_ok = account.is_simulate()
        || !account.security_firm.is_firm()
        || firm == SecurityFirm::Unknown
        || account.security_firm == firm;
    market_ok && firm_ok
}

/// The accounts a trade context keeps from a Trd_GetAccList answer, in OpenD's order
/// (see [`account_matches`] for the rule).
pub fn filter_accounts(
    accounts: &[Account],
    market: TrdMarket,
    firm: SecurityFirm,
    futures_context: bool,
) -> Vec<Account> {
    accounts.iter().filter(|a| account_matches(a, market, firm, futures_context)).cloned().collect()
}

/// The firm a context created without one adopts: that of the first REAL account
/// that has a firm (docs/protocol.md 6.1, firm adoption). `None` if there is no such account.
pub fn adopt_security_firm(accounts: &[Account]) -> Option<SecurityFirm> {
    accounts.iter().find(|a| a.is_real() && a.security_firm.is_firm()).map(|a| a.security_firm)
}

/// Chooses the account for a request from the context's filtered list
/// (docs/protocol.md 6.3 step 3).
///
/// With `acc_id == 0`, takes the `acc_index`-th account of environment `env`;
/// otherwise the account `acc_id`, which must have environment `env`
/// (`acc_index` is then ignored) and must appear only once with it
/// ([`SelectError::Ambiguous`] otherwise).
pub fn select_account(
    accounts: &[Account],
    env: TrdEnv,
    acc_id: u64,
    acc_index: usize,
) -> Result<&Account, SelectError> {
    if acc_id != 0 {
        let mut matching = accounts.iter().filter(|a| a.acc_id == acc_id && a.env == env);
        let first = matching.next().ok_or(SelectError::AccIdNotFound { acc_id, env })?;
        let others = matching.count();
        if others > 0 {
            return Err(SelectError::Ambiguous { acc_id, env, count: others + 1 });
        }
        return Ok(first);
    }
    let mut of_env = accounts.iter().filter(|a| a.env == env);
    let count = accounts.iter().filter(|a| a.env == env).count();
    if count == 0 {
        return Err(SelectError::NoAccount { env });
    }
    of_env.nth(acc_index).ok_or(SelectError::AccIndexOutOfRange { acc_index, count, env })
}
