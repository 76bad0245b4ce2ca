//! Market-data enums and typed results (the quote half of the SDK).
//!
//! The enums are open like the trading ones (unknown wire values are kept in `Other`)
//! and print the Python SDK's strings (`SubType::Quote` is `"QUOTE"`, `KLType::Day` is
//! `"K_DAY"`, `RehabType::Forward` is `"qfq"`). The result structs keep the wire's
//! numbers and strings, with codes joined as `MARKET.CODE`.
//!
//! ```
//! use ftapi::types::{KLType, SubType};
//! assert_eq!("K_DAY".parse::<SubType>().unwrap(), SubType::KDay);
//! assert_eq!(SubType::KDay.kl_type(), Some(KLType::Day));
//! assert_eq!(SubType::Quote.value(), 1);
//! assert_eq!(KLType::Min5.to_string(), "K_5M");
//! ```

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use super::code::SecurityCode;
use super::enums::{open_enum, ParseEnumError};
use crate::pb;
use crate::pb::qot_common as qc;

open_enum! {
    /// What a subscription delivers (`Qot_Common.SubType`, Python `SubType`). Each
    /// (security, sub type) pair uses one unit of the subscription quota.
    pub enum SubType {
        /// None.
        None = 0 => "N/A",
        /// Basic quote (pushes 3005).
        Quote = 1 => "QUOTE" | "BASIC",
        /// Order book (pushes 3013).
        OrderBook = 2 => "ORDER_BOOK",
        /// Tickers (pushes 3011).
        Ticker = 4 => "TICKER",
        /// Time-sharing data (pushes 3009).
        RtData = 5 => "RT_DATA" | "RT",
        /// Daily K-lines (pushes 3007).
        KDay = 6 => "K_DAY",
        /// 5-minute K-lines.
        K5m = 7 => "K_5M",
        /// 15-minute K-lines.
        K15m = 8 => "K_15M",
        /// 30-minute K-lines.
        K30m = 9 => "K_30M",
        /// 60-minute K-lines.
        K60m = 10 => "K_60M",
        /// 1-minute K-lines.
        K1m = 11 => "K_1M",
        /// Weekly K-lines.
        KWeek = 12 => "K_WEEK",
        /// Monthly K-lines.
        KMon = 13 => "K_MON",
        /// Broker queue (HK, pushes 3015).
        Broker = 14 => "BROKER",
        /// Quarterly K-lines.
        KQuarter = 15 => "K_QUARTER",
        /// Yearly K-lines.
        KYear = 16 => "K_YEAR",
        /// 3-minute K-lines.
        K3m = 17 => "K_3M",
        /// 10-minute K-lines.
        K10m = 18 => "K_10M",
        /// 120-minute K-lines.
        K120m = 19 => "K_120M",
        /// 180-minute K-lines.
        K180m = 20 => "K_180M",
        /// 240-minute K-lines.
        K240m = 21 => "K_240M",
        /// Odd-lot order book.
        OrderBookOdd = 22 => "ORDER_BOOK_ODD",
    }
}

open_enum! {
    /// K-line period (`Qot_Common.KLType`, Python `KLType`).
    pub enum KLType {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// 1 minute.
        Min1 = 1 => "K_1M",
        /// Day.
        Day = 2 => "K_DAY",
        /// Week.
        Week = 3 => "K_WEEK",
        /// Month.
        Month = 4 => "K_MON",
        /// Year.
        Year = 5 => "K_YEAR",
        /// 5 minutes.
        Min5 = 6 => "K_5M",
        /// 15 minutes.
        Min15 = 7 => "K_15M",
        /// 30 minutes.
        Min30 = 8 => "K_30M",
        /// 60 minutes.
        Min60 = 9 => "K_60M",
        /// 3 minutes.
        Min3 = 10 => "K_3M",
        /// Quarter.
        Quarter = 11 => "K_QUARTER",
        /// 10 minutes.
        Min10 = 12 => "K_10M",
        /// 120 minutes.
        Min120 = 13 => "K_120M",
        /// 180 minutes.
        Min180 = 14 => "K_180M",
        /// 240 minutes.
        Min240 = 15 => "K_240M",
    }
}

open_enum! {
    /// Price adjustment of K-lines (`Qot_Common.RehabType`, Python `AuType`).
    pub enum RehabType {
        /// Not adjusted (Python `AuType.NONE`, printed `"None"`).
        None = 0 => "None",
        /// Forward adjusted (`"qfq"`, the Python default).
        Forward = 1 => "qfq",
        /// Backward adjusted (`"hfq"`).
        Backward = 2 => "hfq",
    }
}

open_enum! {
    /// Direction of a ticker (`Qot_Common.TickerDirection`, Python `TickerDirect`).
    pub enum TickerDirection {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// An active buy (`TickerDirection_Bid`).
        Buy = 1 => "BUY",
        /// A sell.
        Sell = 2 => "SELL",
        /// Neutral.
        Neutral = 3 => "NEUTRAL",
    }
}

open_enum! {
    /// Security type (`Qot_Common.SecurityType`, Python `SecurityType`).
    pub enum SecurityType {
        /// Unknown.
        Unknown = 0 => "N/A",
        /// Bond.
        Bond = 1 => "BOND",
        /// Basket warrant.
        Bwrt = 2 => "BWRT",
        /// Stock.
        Stock = 3 => "STOCK" | "EQTY",
        /// ETF / trust.
        Etf = 4 => "ETF" | "TRUST",
        /// Warrant.
        Warrant = 5 => "WARRANT",
        /// Index.
        Index = 6 => "IDX" | "INDEX",
        /// Plate.
        Plate = 7 => "PLATE",
        /// Option.
        Drvt = 8 => "DRVT",
        /// Plate set.
        PlateSet = 9 => "PLATESET",
        /// Future.
        Future = 10 => "FUTURE",
        /// Forex.
        Forex = 11 => "FOREX",
        /// Crypto currency.
        Crypto = 12 => "CRYPTO",
    }
}

impl SubType {
    /// The K-line period a K-line sub type delivers (`K_DAY` → `Day`), `None` otherwise.
    pub fn kl_type(self) -> Option<KLType> {
        Some(match self {
            SubType::KDay => KLType::Day,
            SubType::K5m => KLType::Min5,
            SubType::K15m => KLType::Min15,
            SubType::K30m => KLType::Min30,
            SubType::K60m => KLType::Min60,
            SubType::K1m => KLType::Min1,
            SubType::KWeek => KLType::Week,
            SubType::KMon => KLType::Month,
            SubType::KQuarter => KLType::Quarter,
            SubType::KYear => KLType::Year,
            SubType::K3m => KLType::Min3,
            SubType::K10m => KLType::Min10,
            SubType::K120m => KLType::Min120,
            SubType::K180m => KLType::Min180,
            SubType::K240m => KLType::Min240,
            _ => return None,
        })
    }
}

impl KLType {
    /// The sub type that delivers this period (`get_cur_kline` needs it subscribed).
    pub fn sub_type(self) -> Option<SubType> {
        SubType::ALL.iter().copied().find(|s| s.kl_type() == Some(self))
    }
}

fn code_of(sec: &qc::Security) -> String {
    SecurityCode::from_pb_security(sec).to_string()
}

/// A basic quote (`get_stock_quote`, push 3005; `Qot_Common.BasicQot`).
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    /// `MARKET.CODE`.
    pub code: String,
    /// Name, when OpenD sends it.
    pub name: String,
    /// Time of the quote (`updateTime`, `yyyy-MM-dd HH:mm:ss`).
    pub update_time: String,
    /// Last price.
    pub last_price: f64,
    /// Open.
    pub open_price: f64,
    /// High.
    pub high_price: f64,
    /// Low.
    pub low_price: f64,
    /// Previous close.
    pub prev_close_price: f64,
    /// Volume.
    pub volume: i64,
    /// Turnover.
    pub turnover: f64,
    /// Turnover rate (percent).
    pub turnover_rate: f64,
    /// Amplitude (percent).
    pub amplitude: f64,
    /// Suspended.
    pub suspension: bool,
    /// Listing date.
    pub listing_date: String,
    /// Minimum price step.
    pub price_spread: f64,
    /// The whole wire message (option, future and warrant extras, pre/after market).
    pub raw: qc::BasicQot,
}

impl From<&qc::BasicQot> for Quote {
    fn from(q: &qc::BasicQot) -> Self {
        Quote {
            code: code_of(&q.security),
            name: q.name.clone().unwrap_or_default(),
            update_time: q.update_time.clone(),
            last_price: q.cur_price,
            open_price: q.open_price,
            high_price: q.high_price,
            low_price: q.low_price,
            prev_close_price: q.last_close_price,
            volume: q.volume,
            turnover: q.turnover,
            turnover_rate: q.turnover_rate,
            amplitude: q.amplitude,
            suspension: q.is_suspended,
            listing_date: q.list_time.clone(),
            price_spread: q.price_spread,
            raw: q.clone(),
        }
    }
}

/// One price level of an order book.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderBookLevel {
    /// Price.
    pub price: f64,
    /// Volume at this price.
    pub volume: i64,
    /// Number of orders at this price.
    pub order_count: i32,
}

impl From<&qc::OrderBook> for OrderBookLevel {
    fn from(o: &qc::OrderBook) -> Self {
        OrderBookLevel { price: o.price, volume: o.volume, order_count: o.oreder_count }
    }
}

/// An order book (`get_order_book`, push 3013): best level first on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBook {
    /// `MARKET.CODE`.
    pub code: String,
    /// Name, when OpenD sends it.
    pub name: String,
    /// Bids, best (highest) first.
    pub bid: Vec<OrderBookLevel>,
    /// Asks, best (lowest) first.
    pub ask: Vec<OrderBookLevel>,
    /// OpenD's receive time of the bid side, when sent.
    pub svr_recv_time_bid: String,
    /// OpenD's receive time of the ask side, when sent.
    pub svr_recv_time_ask: String,
}

impl OrderBook {
    /// The book from the fields the reply (3012) and the push (3013) share.
    fn from_parts(
        security: &qc::Security,
        name: &Option<String>,
        bid: &[qc::OrderBook],
        ask: &[qc::OrderBook],
        recv_bid: &Option<String>,
        recv_ask: &Option<String>,
    ) -> Self {
        OrderBook {
            code: code_of(security),
            name: name.clone().unwrap_or_default(),
            bid: bid.iter().map(OrderBookLevel::from).collect(),
            ask: ask.iter().map(OrderBookLevel::from).collect(),
            svr_recv_time_bid: recv_bid.clone().unwrap_or_default(),
            svr_recv_time_ask: recv_ask.clone().unwrap_or_default(),
        }
    }
}

impl From<&pb::qot_get_order_book::S2c> for OrderBook {
    fn from(s: &pb::qot_get_order_book::S2c) -> Self {
        OrderBook::from_parts(
            &s.security,
            &s.name,
            &s.order_book_bid_list,
            &s.order_book_ask_list,
            &s.svr_recv_time_bid,
            &s.svr_recv_time_ask,
        )
    }
}

impl From<&pb::qot_update_order_book::S2c> for OrderBook {
    fn from(s: &pb::qot_update_order_book::S2c) -> Self {
        OrderBook::from_parts(
            &s.security,
            &s.name,
            &s.order_book_bid_list,
            &s.order_book_ask_list,
            &s.svr_recv_time_bid,
            &s.svr_recv_time_ask,
        )
    }
}

/// One trade print (`get_rt_ticker`, push 3011; `Qot_Common.Ticker`).
#[derive(Debug, Clone, PartialEq)]
pub struct Ticker {
    /// `MARKET.CODE`.
    pub code: String,
    /// Time (`yyyy-MM-dd HH:mm:ss`).
    pub time: String,
    /// Sequence number.
    pub sequence: i64,
    /// Direction.
    pub direction: TickerDirection,
    /// Price.
    pub price: f64,
    /// Volume.
    pub volume: i64,
    /// Turnover.
    pub turnover: f64,
    /// `Qot_Common.TickerType` value, when sent.
    pub ticker_type: i32,
}

impl Ticker {
    fn from_pb(code: &str, t: &qc::Ticker) -> Self {
        Ticker {
            code: code.to_string(),
            time: t.time.clone(),
            sequence: t.sequence,
            direction: TickerDirection::from(t.dir),
            price: t.price,
            volume: t.volume,
            turnover: t.turnover,
            ticker_type: t.r#type.unwrap_or(0),
        }
    }

    /// The tickers of a reply or push, with its code.
    pub fn list(security: &qc::Security, list: &[qc::Ticker]) -> Vec<Ticker> {
        let code = code_of(security);
        list.iter().map(|t| Ticker::from_pb(&code, t)).collect()
    }
}

/// One K-line (`get_cur_kline`, `request_history_kline`, push 3007; `Qot_Common.KLine`).
/// Absent prices are 0.
#[derive(Debug, Clone, PartialEq)]
pub struct KLine {
    /// `MARKET.CODE`.
    pub code: String,
    /// The bar's label (`yyyy-MM-dd HH:mm:ss`), OpenD's `time`: the **end** of the period
    /// for intraday bars (a trade at 17:10:21 lands in the 17:11:00 one-minute bar; the
    /// last one-minute bar of an HK day is 16:00:00); daily and longer bars carry a date
    /// at 00:00:00 (market time).
    pub time_key: String,
    /// Open.
    pub open: f64,
    /// Close.
    pub close: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Volume.
    pub volume: i64,
    /// Turnover.
    pub turnover: f64,
    /// Previous close.
    pub last_close: f64,
    /// Price/earnings ratio.
    pub pe_ratio: f64,
    /// Turnover rate.
    pub turnover_rate: f64,
    /// Change rate (percent).
    pub change_rate: f64,
    /// No trade in this period.
    pub is_blank: bool,
}

impl KLine {
    fn from_pb(code: &str, k: &qc::KLine) -> Self {
        KLine {
            code: code.to_string(),
            time_key: k.time.clone(),
            open: k.open_price.unwrap_or(0.0),
            close: k.close_price.unwrap_or(0.0),
            high: k.high_price.unwrap_or(0.0),
            low: k.low_price.unwrap_or(0.0),
            volume: k.volume.unwrap_or(0),
            turnover: k.turnover.unwrap_or(0.0),
            last_close: k.last_close_price.unwrap_or(0.0),
            pe_ratio: k.pe.unwrap_or(0.0),
            turnover_rate: k.turnover_rate.unwrap_or(0.0),
            change_rate: k.change_rate.unwrap_or(0.0),
            is_blank: k.is_blank,
        }
    }

    /// The K-lines of a reply or push, with its code.
    pub fn list(security: &qc::Security, list: &[qc::KLine]) -> Vec<KLine> {
        let code = code_of(security);
        list.iter().map(|k| KLine::from_pb(&code, k)).collect()
    }
}

/// One minute of time-sharing data (`get_rt_data`, push 3009; `Qot_Common.TimeShare`).
#[derive(Debug, Clone, PartialEq)]
pub struct RtData {
    /// `MARKET.CODE`.
    pub code: String,
    /// Time.
    pub time: String,
    /// Minutes since midnight.
    pub minute: i32,
    /// Price.
    pub price: f64,
    /// Previous close.
    pub last_close: f64,
    /// Average price.
    pub avg_price: f64,
    /// Volume.
    pub volume: i64,
    /// Turnover.
    pub turnover: f64,
    /// No trade in this minute.
    pub is_blank: bool,
}

impl RtData {
    /// The time-sharing points of a reply or push, with its code.
    pub fn list(security: &qc::Security, list: &[qc::TimeShare]) -> Vec<RtData> {
        let code = code_of(security);
        list.iter()
            .map(|t| RtData {
                code: code.clone(),
                time: t.time.clone(),
                minute: t.minute,
                price: t.price.unwrap_or(0.0),
                last_close: t.last_close_price.unwrap_or(0.0),
                avg_price: t.avg_price.unwrap_or(0.0),
                volume: t.volume.unwrap_or(0),
                turnover: t.turnover.unwrap_or(0.0),
                is_blank: t.is_blank,
            })
            .collect()
    }
}

/// One broker in a broker queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerItem {
    /// Broker id.
    pub id: i64,
    /// Broker name.
    pub name: String,
    /// Position in the queue.
    pub pos: i32,
}

/// The HK broker queue (`get_broker_queue`, push 3015).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerQueue {
    /// `MARKET.CODE`.
    pub code: String,
    /// Brokers on the bid side.
    pub bid: Vec<BrokerItem>,
    /// Brokers on the ask side.
    pub ask: Vec<BrokerItem>,
}

impl BrokerQueue {
    /// From a reply's or push's parts.
    pub fn from_parts(security: &qc::Security, bid: &[qc::Broker], ask: &[qc::Broker]) -> Self {
        let conv = |l: &[qc::Broker]| {
            l.iter().map(|b| BrokerItem { id: b.id, name: b.name.clone(), pos: b.pos }).collect::<Vec<_>>()
        };
        BrokerQueue { code: code_of(security), bid: conv(bid), ask: conv(ask) }
    }
}

/// A market snapshot (`get_market_snapshot`; `Qot_GetSecuritySnapshot.Snapshot`). The
/// main fields are typed; `raw` has everything (equity, warrant, option, index, plate
/// and future extras).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `MARKET.CODE`.
    pub code: String,
    /// Name, when OpenD sends it.
    pub name: String,
    /// Time of the data.
    pub update_time: String,
    /// Last price.
    pub last_price: f64,
    /// Open.
    pub open_price: f64,
    /// High.
    pub high_price: f64,
    /// Low.
    pub low_price: f64,
    /// Previous close.
    pub prev_close_price: f64,
    /// Volume.
    pub volume: i64,
    /// Turnover.
    pub turnover: f64,
    /// Turnover rate.
    pub turnover_rate: f64,
    /// Suspended.
    pub suspension: bool,
    /// Listing date.
    pub listing_date: String,
    /// Lot size.
    pub lot_size: i32,
    /// Minimum price step.
    pub price_spread: f64,
    /// Security type.
    pub sec_type: SecurityType,
    /// Best ask, when sent.
    pub ask_price: f64,
    /// Best bid, when sent.
    pub bid_price: f64,
    /// The whole wire message.
    pub raw: pb::qot_get_security_snapshot::Snapshot,
}

impl From<&pb::qot_get_security_snapshot::Snapshot> for Snapshot {
    fn from(s: &pb::qot_get_security_snapshot::Snapshot) -> Self {
        let b = &s.basic;
        Snapshot {
            code: code_of(&b.security),
            name: b.name.clone().unwrap_or_default(),
            update_time: b.update_time.clone(),
            last_price: b.cur_price,
            open_price: b.open_price,
            high_price: b.high_price,
            low_price: b.low_price,
            prev_close_price: b.last_close_price,
            volume: b.volume,
            turnover: b.turnover,
            turnover_rate: b.turnover_rate,
            suspension: b.is_suspend,
            listing_date: b.list_time.clone(),
            lot_size: b.lot_size,
            price_spread: b.price_spread,
            sec_type: SecurityType::from(b.r#type),
            ask_price: b.ask_price.unwrap_or(0.0),
            bid_price: b.bid_price.unwrap_or(0.0),
            raw: s.clone(),
        }
    }
}

/// Static information of a security (`get_stock_basicinfo`, `get_plate_stock`,
/// `get_user_security`, ...; `Qot_Common.SecurityStaticInfo`).
#[derive(Debug, Clone, PartialEq)]
pub struct StockBasicInfo {
    /// `MARKET.CODE`.
    pub code: String,
    /// Name.
    pub name: String,
    /// Lot size.
    pub lot_size: i32,
    /// Security type.
    pub stock_type: SecurityType,
    /// Listing date.
    pub listing_date: String,
    /// OpenD's security id.
    pub stock_id: i64,
    /// Delisted.
    pub delisting: bool,
    /// The whole wire message (warrant, option and future extras).
    pub raw: qc::SecurityStaticInfo,
}

impl From<&qc::SecurityStaticInfo> for StockBasicInfo {
    fn from(s: &qc::SecurityStaticInfo) -> Self {
        let b = &s.basic;
        StockBasicInfo {
            code: code_of(&b.security),
            name: b.name.clone(),
            lot_size: b.lot_size,
            stock_type: SecurityType::from(b.sec_type),
            listing_date: b.list_time.clone(),
            stock_id: b.id,
            delisting: b.delisting.unwrap_or(false),
            raw: s.clone(),
        }
    }
}

/// What `query_subscription` returns (`Qot_GetSubInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscriptionInfo {
    /// Quota used by all connections of this OpenD.
    pub total_used: i32,
    /// Quota left.
    pub remain: i32,
    /// Quota used by this connection.
    pub own_used: i32,
    /// This connection's subscriptions (or every connection's, when asked for all):
    /// sub type → codes, in OpenD's order.
    pub sub_list: Vec<(SubType, Vec<String>)>,
}

impl From<&pb::qot_get_sub_info::S2c> for SubscriptionInfo {
    fn from(s: &pb::qot_get_sub_info::S2c) -> Self {
        let mut info =
            SubscriptionInfo { total_used: s.total_used_quota, remain: s.remain_quota, ..Default::default() };
        for conn in &s.conn_sub_info_list {
            if conn.is_own_conn_data {
                info.own_used += conn.used_quota;
            }
            for sub in &conn.sub_info_list {
                let t = SubType::from(sub.sub_type);
                let codes = sub.security_list.iter().map(code_of);
                match info.sub_list.iter_mut().find(|(k, _)| *k == t) {
                    Some((_, v)) => v.extend(codes),
                    None => info.sub_list.push((t, codes.collect())),
                }
            }
        }
        info
    }
}

/// The history K-line quota (`get_history_kl_quota`, `Qot_RequestHistoryKLQuota`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryKlQuota {
    /// Securities whose history was pulled in the last 30 days.
    pub used_quota: i32,
    /// How many more securities may be pulled.
    pub remain_quota: i32,
    /// When asked for detail: `(code, name, last request time)`.
    pub detail_list: Vec<(String, String, String)>,
}

impl From<&pb::qot_request_history_kl_quota::S2c> for HistoryKlQuota {
    fn from(s: &pb::qot_request_history_kl_quota::S2c) -> Self {
        HistoryKlQuota {
            used_quota: s.used_quota,
            remain_quota: s.remain_quota,
            detail_list: s
                .detail_list
                .iter()
                .map(|d| (code_of(&d.security), d.name.clone().unwrap_or_default(), d.request_time.clone()))
                .collect(),
        }
    }
}

/// One page of `request_history_kline`.
#[derive(Debug, Clone, PartialEq)]
pub struct KLinePage {
    /// The K-lines of this page, oldest first.
    pub klines: Vec<KLine>,
    /// The key for the next page (Python `page_req_key`); `None` on the last page.
    pub page_req_key: Option<Vec<u8>>,
}
