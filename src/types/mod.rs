//! Typed domain data for the trading API.
//!
//! * [`enums`]: every trading enum as an open Rust enum (unknown numbers are kept).
//! * [`code`]: `MARKET.CODE` security codes and the header-market rule for a code.
//! * [`password`]: the trade password, kept plain or as MD5, wiped on drop.
//! * [`model`]: accounts, funds, positions, orders, fills and the other results.
//! * [`account`]: the SDK's account filtering and selection rules.
//! * [`moomoo`]: moomoo names for the broker entities.
//! * [`qot`]: market-data enums (SubType, KLType, ...) and typed quote results.
//!
//! Everything is re-exported here, so `ftapi::types::TrdMarket` works.
//!
//! ```
//! use ftapi::types::{SecurityCode, TradePassword, TrdSide};
//! let code: SecurityCode = "US.AAPL".parse().unwrap();
//! assert_eq!(code.to_pb_security().market, 11);
//! assert_eq!("buy".parse::<TrdSide>().unwrap(), TrdSide::Buy);
//! assert_eq!(TradePassword::plain("123456").pwd_md5().len(), 32);
//! ```

pub mod account;
pub mod code;
pub mod enums;
pub mod model;
pub mod moomoo;
pub mod password;
pub mod qot;

pub use account::{
    account_matches, adopt_security_firm, check_trd_env, filter_accounts, market_env_enabled, select_account,
    SelectError,
};
pub use code::{trd_market_for_code, Market, ParseCodeError, SecurityCode};
pub use enums::*;
pub use model::{
    Account, AccountRef, CashFlow, CashInfo, ComboLeg, ComboMaxTrdQtys, Funds, MarginRatio, MarketInfo, MaxTrdQtys,
    Order, OrderFee, OrderFeeItem, OrderFill, Position,
};
pub use password::{InvalidMd5, TradePassword};
pub use qot::{
    BrokerItem, BrokerQueue, HistoryKlQuota, KLType, KLine, KLinePage, OrderBook, OrderBookLevel, Quote, RehabType,
    RtData, SecurityType, Snapshot, StockBasicInfo, SubType, SubscriptionInfo, Ticker, TickerDirection,
};
