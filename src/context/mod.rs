//! Blocking contexts, the Rust counterparts of the Python SDK's: [`SecTradeContext`] for
//! securities accounts and [`FutureTradeContext`] for futures accounts
//! (`OpenSecTradeContext`, `OpenFutureTradeContext`), and [`QuoteContext`] for market
//! data (`OpenQuoteContext`). All three sit on one context core: one [`ContextBuilder`],
//! one reconnecting session, handlers run on the connection's callback thread, one close.
//!
//! ```no_run
//! use ftapi::context::{PlaceOrder, SecTradeContext};
//! use ftapi::types::{SecurityFirm, TrdEnv, TrdMarket, TrdSide};
//!
//! let ctx = SecTradeContext::builder()
//!     .host("127.0.0.1")
//!     .port(11111)
//!     .filter_trdmarket(TrdMarket::Hk)
//!     .security_firm(SecurityFirm::FutuSecurities)
//!     .trd_env(TrdEnv::Simulate) // the default of every request that does not say .env(..)
//!     .encrypt(None) // the process-wide default, like is_encrypt=None
//!     .open()?; // connect, InitConnect, account list, push subscription; bounded
//! for acc in ctx.get_acc_list()? {
//!     println!("{} {} {:?}", acc.acc_id, acc.env, acc.trd_market_auth);
//! }
//! ctx.unlock_trade("123456", true)?;
//! ctx.set_order_handler(|u| println!("order {} is {}", u.order.order_id_ex, u.order.order_status));
//! ctx.set_fill_handler(|f| println!("fill {} x {} @ {}", f.fill.code, f.fill.qty, f.fill.price));
//! let placed = ctx.place_order(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(350.0))?;
//! println!("placed {}", placed.order_id_ex);
//! # Ok::<(), ftapi::Error>(())
//! ```
//!
//! # What a context does
//!
//! * **Open** ([`ContextBuilder::open`]): TCP connect and InitConnect bounded by the
//!   connect timeout, then Trd_GetAccList, filtered by `filter_trdmarket` and
//!   `security_firm` exactly as the Python SDK filters (docs/protocol.md 6.2; with no firm
//!   given, the firm of the first real account is adopted), then Trd_SubAccPush for
//!   those accounts. It fails with the reason instead of retrying forever.
//! * **Account list cached**: `get_acc_list` returns the cached list; it is read at open,
//!   after each reconnect and by [`TradeContext::refresh_acc_list`], never before every
//!   call. Account selection (`env`, `acc_id`, `acc_index`) follows the Python SDK's
//!   rules and fails with [`Error::NoSuchAccount`](crate::Error::NoSuchAccount) (or
//!   [`Error::AccountAmbiguous`](crate::Error::AccountAmbiguous)), whose
//!   [`SelectError`](crate::types::SelectError) says why ("no SIMULATE account ...",
//!   "acc_id N not found ...", "trading environment ... is not available ..."). A bad
//!   code is [`Error::BadSecurityCode`](crate::Error::BadSecurityCode), an order refused
//!   because trading is locked [`Error::NotUnlocked`](crate::Error::NotUnlocked).
//! * **Typed results**: [`Account`](crate::types::Account), [`Order`](crate::types::Order),
//!   [`OrderFill`](crate::types::OrderFill), [`Position`](crate::types::Position),
//!   [`Funds`](crate::types::Funds) ..., codes as `MARKET.CODE`. OpenD's refusals keep
//!   `retType`, `retMsg` and `errCode` ([`Error::Server`](crate::Error::Server)).
//! * **Timeouts**: every call is bounded by the request timeout (default 12 s). A call
//!   made while the context is reconnecting fails at once with
//!   [`Error::NotConnected`](crate::Error::NotConnected), or waits up to
//!   [`ContextBuilder::disconnected_wait`].
//! * **Reconnect** (on by default, [`ReconnectPolicy`]): after an unexpected disconnect
//!   the context reconnects with exponential backoff, repeats InitConnect, re-reads the
//!   accounts, unlocks again if it was unlocked and re-subscribes the pushes, and
//!   reports each step to the connection handler ([`ConnectionEvent`]). Calls in flight
//!   at the disconnect fail with [`Error::Disconnected`](crate::Error::Disconnected); place/modify/combo orders are
//!   never re-sent, and their error says that the outcome is unknown, so reconcile
//!   with `order_list_query`.
//! * **Rate limits** ([`RateLimits`]): place 15 / 30 s and modify 20 / 30 s per account,
//!   unlock 10 / 30 s, as OpenD documents them; a call waits for its slot (bounded) or
//!   fails with [`Error::RateLimited`](crate::Error::RateLimited).
//! * **Pushes**: order and fill pushes of the context's accounts are subscribed
//!   automatically (once per connection and account list, never duplicated) and
//!   delivered as [`OrderUpdate`] / [`FillUpdate`] to the handlers on the connection's
//!   callback thread, one at a time in arrival order; a handler may call the context
//!   (replies never wait behind pushes) and close it. The connection's push queue
//!   ([`ContextBuilder::push_queue_capacity`]) is the only flow control: when it is full
//!   the connection stops reading until a handler returns; no push is dropped.
//! * **Environment**: every request goes to the context's default trading environment
//!   ([`ContextBuilder::trd_env`], REAL unless set) unless it says `.env(..)`.
//! * **Threads**: a context runs a reconnect thread (which also runs the connection
//!   handler) and the connection's I/O and callback threads. None of them keeps the
//!   process alive (Rust has no "daemon" switch to forget). Dropping the context (or
//!   [`TradeContext::close`]) stops them promptly from any thread, including from inside
//!   a handler: it never waits for a handler that is running on another thread, and
//!   drops the pushes still queued with a log line.
//!
//! # Futu and moomoo
//!
//! The protocol is the same for both brands; only the account's
//! [`SecurityFirm`](crate::types::SecurityFirm) differs (values 2..=7 are moomoo
//! entities). [`moomoo`] re-exports the contexts with the moomoo firm names.
//!
//! # Python SDK names
//!
//! The table of every Python name and its ftapi counterpart is in
//! [`porting`](crate::porting#the-python-sdk-futu--moomoo); the Python names are
//! documentation aliases, so the search box finds them too.

mod builder;
mod core;
mod defaults;
mod dispatch;
pub mod moomoo;
mod quote;
mod quote_more;
mod quote_rules;
mod rate_limit;
mod requests;
mod session;
mod trade;

pub use self::builder::{BuilderKind, ContextBuilder, ContextKind, Futures, Quotes, Securities};
pub use self::defaults::{
    default_encrypt, default_rsa_key, set_default_encrypt, set_default_rsa_key, set_default_rsa_key_file,
};
pub use self::dispatch::{FillUpdate, KLineUpdate, OrderUpdate};
pub use self::quote::{
    CapitalFlowPeriod, HistoryKlQuery, PlateClass, QuoteContext, QuoteContextBuilder, SubscribeOptions, TradeDateMarket,
};
pub use self::quote_rules::{QuoteRateLimits, QUOTE_FREQUENCY_LIMITS};
pub use self::rate_limit::{RateLimit, RateLimitMode, RateLimits};
pub use self::requests::{
    AccSel, CancelAll, CashFlowQuery, CodeFilter, ComboMaxQtyQuery, ComboOrder, DealQuery, FundsQuery,
    HistoryDealQuery, HistoryOrderQuery, MaxQtyQuery, ModifyOrder, OrderFeeQuery, OrderQuery, PlaceOrder,
    PositionQuery, TimeWindow,
};
pub use self::session::{ConnectionEvent, ConnectionState, ReconnectPolicy};
pub use self::trade::{FutureTradeContext, ModifiedOrder, PlacedOrder, SecTradeContext, TradeContext};
