//! The broker's state: accounts with cash and positions, orders, fills, cash flows,
//! per-connection state, and the bookkeeping of a fill.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;

use super::clock::Clock;
use crate::pb::{self, ResponseEnvelope};
use crate::sim::accounts::{AccStatusName, AccTypeName, BrokerConfig, ConfigError, Env, RateLimits};
use crate::sim::calendar::{CalMarket, MarketClock, Phase};
use crate::sim::matching::{
    self, currency, evaluate, fills_at_once, order_type, split_full_code, Instrument, InstrumentKind, Market,
    OrderTerms, Side, TriggerState,
};
use crate::sim::PushSink;

/// Initial margin rate of futures (fraction of notional).
pub(crate) const FUTURES_IM: f64 = 0.10;
/// Maintenance margin rate of futures.
pub(crate) const FUTURES_MM: f64 = 0.08;
/// Share of long market value a margin securities account may borrow against.
pub(crate) const MARGIN_CREDIT: f64 = 0.5;

/// `Trd_Common.OrderStatus` values (from [`crate::types::OrderStatus`]).
pub(crate) mod status {
    use crate::types::OrderStatus as S;
    pub const SUBMITTING: i32 = S::Submitting.value();
    pub const SUBMIT_FAILED: i32 = S::SubmitFailed.value();
    pub const SUBMITTED: i32 = S::Submitted.value();
    pub const FILLED_PART: i32 = S::FilledPart.value();
    pub const FILLED_ALL: i32 = S::FilledAll.value();
    pub const CANCELLED_PART: i32 = S::CancelledPart.value();
    pub const CANCELLED_ALL: i32 = S::CancelledAll.value();
    pub const FAILED: i32 = S::Failed.value();
    pub const DISABLED: i32 = S::Disabled.value();
    pub const DELETED: i32 = S::Deleted.value();

    /// No further change can happen (except Delete of a cancelled/failed order).
    pub fn is_final(s: i32) -> bool {
        S::from_value(s).is_final()
    }
}

/// The `errCode` values the simulator puts in refusals. Futu's API docs do not list
/// OpenD's trading error codes; these are the simulator's own, stable numbers (see
/// docs/simulator.md), so that a bot can tell the kinds apart.
pub(crate) mod err_code {
    /// Anything else (bad argument, unknown order...).
    pub const GENERAL: i32 = -1;
    /// A rate limit or minimum interval was hit.
    pub const RATE_LIMITED: i32 = 1001;
    /// Trading is locked (REAL account, no unlock).
    pub const LOCKED: i32 = 1002;
    /// Not available in paper trading.
    pub const PAPER_UNSUPPORTED: i32 = 1003;
    /// The market is not in a session that accepts this order.
    pub const MARKET_CLOSED: i32 = 1004;
    /// Insufficient buying power or position.
    pub const INSUFFICIENT: i32 = 1005;
    /// Unknown account or account/market mismatch.
    pub const ACCOUNT: i32 = 1006;
    /// Wrong trade password.
    pub const PASSWORD: i32 = 1007;
}

/// A request refused with `retType` -1, this message and this `errCode`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reject(pub String, pub i32);

impl Reject {
    pub fn new(msg: impl Into<String>) -> Reject {
        Reject(msg.into(), err_code::GENERAL)
    }

    pub fn code(msg: impl Into<String>, code: i32) -> Reject {
        Reject(msg.into(), code)
    }
}

/// Work the broker does later, on its scheduler thread (OpenD-rules mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// SUBMITTING -> SUBMITTED.
    Ack(u64),
    /// Try to fill the order (completely, if it is marketable).
    Fill(u64),
    /// Try to fill one more chunk of a partly filled resting order.
    Chunk(u64),
}

pub(crate) type Res<T> = Result<T, Reject>;

/// A position in one instrument.
#[derive(Debug, Clone)]
pub(crate) struct PositionRec {
    pub position_id: u64,
    pub instr: Instrument,
    /// Signed quantity (negative = short).
    pub qty: f64,
    /// Average cost x |qty| (price units, no multiplier, no fees).
    pub cost_total: f64,
    /// Fees paid on this position (instrument currency).
    pub fees: f64,
    /// Realized P/L (instrument currency).
    pub realized_pl: f64,
    /// Local day the `td_*` figures belong to.
    pub td_day: i64,
    pub td_buy_qty: f64,
    pub td_buy_val: f64,
    pub td_sell_qty: f64,
    pub td_sell_val: f64,
}

impl PositionRec {
    pub fn avg_cost(&self) -> f64 {
        if self.qty == 0.0 {
            0.0
        } else {
            self.cost_total / self.qty.abs()
        }
    }
}

/// One account's live state.
#[derive(Debug)]
pub(crate) struct Account {
    pub acc_id: u64,
    pub env: i32,
    pub markets: Vec<i32>,
    pub firm: i32,
    pub acc_type: Option<i32>,
    pub sim_acc_type: Option<i32>,
    pub card_num: Option<String>,
    pub uni_card_num: Option<String>,
    pub disabled: bool,
    pub role: i32,
    pub universal: bool,
    pub futures: bool,
    pub margin: bool,
    pub currency: i32,
    /// Cash per currency. A universal account keeps each currency apart; any other
    /// account holds its base currency only.
    pub cash: Vec<(i32, f64)>,
    /// Realized P/L in the account currency.
    pub realized_pl: f64,
    pub positions: Vec<PositionRec>,
    pub place_window: VecDeque<Instant>,
    pub modify_window: VecDeque<Instant>,
    pub last_place: Option<Instant>,
    pub last_modify: Option<Instant>,
    /// Query windows by protocol id.
    pub query_windows: HashMap<u32, VecDeque<Instant>>,
}

impl Account {
    /// All cash converted to the base currency.
    pub fn cash_total(&self) -> f64 {
        self.cash.iter().map(|(c, v)| currency::convert(*v, *c, self.currency)).fold(0.0, |a, v| a + v)
    }

    /// Adds `amount` of `ccy` (converted to the base currency unless the account is
    /// universal and trades that currency). Returns the currency booked.
    pub fn add_cash(&mut self, amount: f64, ccy: i32) -> i32 {
        let (ccy, amount) = if self.universal && currency::hkd_rate(ccy).is_some() {
            (ccy, amount)
        } else {
            (self.currency, currency::convert(amount, ccy, self.currency))
        };
        match self.cash.iter_mut().find(|(c, _)| *c == ccy) {
            Some((_, v)) => *v += amount,
            None => self.cash.push((ccy, amount)),
        }
        ccy
    }
}

/// One leg of a combo order.
#[derive(Debug, Clone)]
pub(crate) struct LegRec {
    pub instr: Instrument,
    pub side: Side,
    pub side_num: i32,
    pub ratio: f64,
    pub qot_market: i32,
}

/// An order.
#[derive(Debug, Clone)]
pub(crate) struct OrderRec {
    pub order_id: u64,
    pub order_id_ex: String,
    pub acc_id: u64,
    pub env: i32,
    pub trd_market: i32,
    pub instr: Instrument,
    pub side_num: i32,
    pub terms: OrderTerms,
    pub trig: TriggerState,
    pub status: i32,
    /// Status to restore on Enable.
    pub status_before_disable: i32,
    pub qty: f64,
    pub fill_qty: f64,
    pub fill_value: f64,
    pub create_ts: f64,
    pub update_ts: f64,
    pub last_err_msg: String,
    pub remark: Option<String>,
    pub time_in_force: i32,
    pub fill_outside_rth: Option<bool>,
    pub session: Option<i32>,
    pub jp_acc_type: Option<i32>,
    pub expire_time: Option<String>,
    /// Fee items by title (instrument currency), in first-seen order.
    pub fees: Vec<(String, f64)>,
    pub legs: Vec<LegRec>,
    pub strategy_type: Option<i32>,
    /// The contract a main-contract futures code (`HSImain`) was mapped to.
    pub contract_code: Option<String>,
}

impl OrderRec {
    /// The code shown in replies and pushes.
    pub fn code(&self) -> &str {
        self.contract_code.as_deref().unwrap_or(&self.instr.code)
    }

    pub fn remaining(&self) -> f64 {
        (self.qty - self.fill_qty).max(0.0)
    }

    /// Submitted or partly filled and not disabled: it can still trade.
    pub fn is_working(&self) -> bool {
        matches!(self.status, status::SUBMITTED | status::FILLED_PART)
    }

    pub fn fee_total(&self) -> f64 {
        self.fees.iter().map(|(_, v)| v).fold(0.0, |a, v| a + v)
    }

    fn add_fee(&mut self, title: &str, value: f64) {
        if value == 0.0 {
            return;
        }
        match self.fees.iter_mut().find(|(t, _)| t == title) {
            Some((_, v)) => *v += value,
            None => self.fees.push((title.to_string(), value)),
        }
    }

    /// Price used to reserve buying power for the unfilled part.
    pub fn reserve_price(&self, market_price: f64) -> f64 {
        if matching::needs_limit_price(self.terms.order_type) && self.terms.price > 0.0 {
            self.terms.price
        } else {
            market_price.max(self.terms.aux_price.unwrap_or(0.0))
        }
    }
}

/// A fill.
#[derive(Debug, Clone)]
pub(crate) struct FillRec {
    pub fill_id: u64,
    pub fill_id_ex: String,
    pub order_id: u64,
    pub order_id_ex: String,
    pub acc_id: u64,
    pub env: i32,
    pub trd_market: i32,
    pub instr: Instrument,
    pub side_num: i32,
    pub qty: f64,
    pub price: f64,
    pub ts: f64,
    pub contract_code: Option<String>,
}

/// A cash-flow entry.
#[derive(Debug, Clone)]
pub(crate) struct FlowRec {
    pub flow_id: u64,
    pub acc_id: u64,
    pub day: i64,
    pub ts: f64,
    pub currency: i32,
    pub kind: String,
    /// 1 in, 2 out.
    pub direction: i32,
    pub amount: f64,
    pub remark: String,
}

/// What the broker remembers about a connection.
pub(crate) struct ConnState {
    pub sink: Arc<dyn PushSink>,
    pub subs: Vec<u64>,
    pub serials: HashSet<u32>,
    pub serial_order: VecDeque<u32>,
}

/// How many write serial numbers a connection remembers for replay protection.
const SERIAL_MEMORY: usize = 1 << 16;

/// A push waiting to be delivered after the state lock is released.
pub(crate) struct Push {
    pub sink: Arc<dyn PushSink>,
    pub proto_id: u32,
    pub body: Vec<u8>,
}

/// The whole simulated broker.
pub(crate) struct State {
    pub password_md5: String,
    pub chunk_lots: f64,
    pub limits: RateLimits,
    /// Time strings.
    pub clock: Clock,
    /// The simulated "now" and the market sessions.
    pub mclock: MarketClock,
    /// Relaxed mode (see `BrokerConfig::relaxed`).
    pub relaxed: bool,
    pub fill_delay: Duration,
    /// Firms unlocked OpenD-wide (0 = every firm).
    pub unlocked: HashSet<i32>,
    /// Events queued by the current operation: (delay, event).
    pub events: Vec<(Duration, Event)>,
    /// Markets last seen in continuous trading (to match resting orders at the open).
    pub trading_markets: HashSet<CalMarket>,
    /// The phase each market was last seen in (to expire DAY orders at the close).
    pub last_phase: HashMap<CalMarket, Phase>,
    pub market: Market,
    pub accounts: Vec<Account>,
    pub orders: Vec<OrderRec>,
    pub order_index: HashMap<u64, usize>,
    pub order_ex_index: HashMap<String, usize>,
    /// Indices of orders that may still be open (final ones are dropped lazily).
    pub open: BTreeSet<usize>,
    pub fills: Vec<FillRec>,
    pub flows: Vec<FlowRec>,
    pub conns: HashMap<u64, ConnState>,
    pub unlock_window: VecDeque<Instant>,
    next_order: u64,
    next_fill: u64,
    next_position: u64,
    next_flow: u64,
    pub outbox: Vec<Push>,
    /// A replay's fill model (`opend-sim --history`): orders on replayed codes trade
    /// against the recorded path.
    pub replay: Option<crate::sim::replay::fill::PathFills>,
}

/// Lower-case hex MD5 of a string.
pub(crate) fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(s.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn fee_table(instr: &Instrument, side: Side, qty: f64, price: f64, first_fill: bool) -> Vec<(&'static str, f64)> {
    let value = qty * price * instr.multiplier;
    let r2 = |v: f64| matching::round_to(v, 2);
    let mut items = Vec::new();
    match (instr.kind, instr.sec_market) {
        (InstrumentKind::Future, _) => {
            let per = if instr.currency == currency::HKD { 10.0 } else { 1.5 };
            items.push(("Commission", r2(per * qty)));
            items.push(("Platform Fee", r2(if instr.currency == currency::HKD { 2.0 } else { 0.3 } * qty)));
        }
        (InstrumentKind::Option, _) => {
            items.push(("Commission", r2(0.65 * qty)));
            items.push(("Platform Fee", r2(0.30 * qty)));
        }
        (_, matching::sec_market::US) => {
            let min = if first_fill { 0.99 } else { 0.0 };
            items.push(("Commission", r2((0.0049 * qty).max(min))));
            items.push(("Platform Fee", r2((0.005 * qty).max(if first_fill { 1.0 } else { 0.0 }))));
            if side == Side::Sell {
                items.push(("SEC Fee", r2((0.0000278 * value).max(0.01))));
                items.push(("Trading Activity Fee", r2((0.000166 * qty).max(0.01))));
            }
        }
        (_, matching::sec_market::CN_SH) | (_, matching::sec_market::CN_SZ) => {
            items.push(("Commission", r2((0.0003 * value).max(if first_fill { 3.0 } else { 0.0 }))));
            items.push(("Handling Fee", r2(0.0000341 * value)));
            if side == Side::Sell {
                items.push(("Stamp Duty", r2(0.0005 * value)));
            }
        }
        _ => {
            items.push(("Commission", r2((0.0003 * value).max(if first_fill { 3.0 } else { 0.0 }))));
            if first_fill {
                items.push(("Platform Fee", 15.0));
            }
            items.push(("Stamp Duty", r2(0.001 * value).ceil()));
            items.push(("Trading Fee", r2(0.0000565 * value)));
            items.push(("SFC Levy", r2(0.000027 * value)));
            items.push(("Settlement Fee", r2(0.00002 * value)));
        }
    }
    items
}

/// An estimate of the fees for buying power checks (fraction of value plus a fixed part).
pub(crate) fn fee_estimate(instr: &Instrument, qty: f64, price: f64) -> f64 {
    fee_table(instr, Side::Sell, qty, price, true).iter().map(|(_, v)| v).fold(0.0, |a, v| a + v)
}

impl State {
    /// Builds the state from a configuration (positions and history seeded).
    pub fn new(cfg: &BrokerConfig, mclock: MarketClock) -> Result<State, ConfigError> {
        cfg.validate()?;
        let mut instruments = Market::default_instruments();
        for spec in &cfg.instruments {
            let i = spec.to_instrument().map_err(ConfigError::Invalid)?;
            instruments.retain(|x| !(x.sec_market == i.sec_market && x.code == i.code));
            instruments.push(i);
        }
        let market =
            Market::new(instruments, cfg.seed).map_err(ConfigError::Invalid)?.with_seeded_tape(cfg.seed, mclock);
        let mut st = State {
            password_md5: md5_hex(&cfg.trade_password),
            chunk_lots: f64::from(cfg.fill_chunk_lots),
            limits: cfg.rate_limits.clone(),
            clock: Clock {
                fixed_offset: match cfg.utc_offset_minutes {
                    Some(m) => Some(i64::from(m) * 60),
                    None if cfg.relaxed => Some(0),
                    None => None,
                },
            },
            mclock,
            relaxed: cfg.relaxed,
            fill_delay: Duration::from_millis(cfg.fill_delay_ms),
            unlocked: HashSet::new(),
            events: Vec::new(),
            trading_markets: HashSet::new(),
            last_phase: HashMap::new(),
            market,
            accounts: Vec::new(),
            orders: Vec::new(),
            order_index: HashMap::new(),
            order_ex_index: HashMap::new(),
            open: BTreeSet::new(),
            fills: Vec::new(),
            flows: Vec::new(),
            conns: HashMap::new(),
            unlock_window: VecDeque::new(),
            next_order: 0,
            next_fill: 0,
            next_position: 0,
            next_flow: 0,
            outbox: Vec::new(),
            replay: None,
        };
        let now = st.mclock.now();
        for spec in &cfg.accounts {
            let acc = Account {
                acc_id: spec.acc_id,
                env: spec.trd_env.number(),
                markets: spec.market_numbers(),
                firm: spec.security_firm.map(|f| f.number()).unwrap_or(0),
                acc_type: spec.acc_type.map(|t| t.number()),
                sim_acc_type: spec.sim_acc_type.map(|t| t.number()),
                card_num: spec.card_num.clone(),
                uni_card_num: spec.uni_card_num.clone(),
                disabled: spec.acc_status == AccStatusName::Disabled,
                role: match spec.acc_role {
                    crate::sim::accounts::AccRoleName::Normal => crate::types::TrdAccRole::Normal.value(),
                    crate::sim::accounts::AccRoleName::Master => crate::types::TrdAccRole::Master.value(),
                },
                universal: spec.universal,
                futures: spec.is_futures(),
                margin: spec.is_futures() || spec.acc_type == Some(AccTypeName::Margin),
                currency: spec.currency_number()?,
                cash: vec![(spec.currency_number()?, spec.cash)],
                realized_pl: 0.0,
                positions: Vec::new(),
                place_window: VecDeque::new(),
                modify_window: VecDeque::new(),
                last_place: None,
                last_modify: None,
                query_windows: HashMap::new(),
            };
            st.accounts.push(acc);
            let ai = st.accounts.len() - 1;
            let mut deposit = spec.cash;
            for (i, p) in spec.positions.iter().enumerate() {
                let (sec, code) = split_full_code(&p.code).ok_or_else(|| {
                    ConfigError::Invalid(format!("account {}: bad position code {:?}", spec.acc_id, p.code))
                })?;
                let instr = st.market.find(sec, code).cloned().ok_or_else(|| {
                    ConfigError::Invalid(format!("account {}: unknown instrument {}", spec.acc_id, p.code))
                })?;
                let acc_markets = &st.accounts[ai].markets;
                let Some(trd_market) = instr.trd_markets().iter().copied().find(|m| acc_markets.contains(m)) else {
                    return Err(ConfigError::Invalid(format!(
                        "account {}: {} cannot be held in an account with these markets",
                        spec.acc_id, p.code
                    )));
                };
                if p.qty < 0.0 && instr.kind != InstrumentKind::Future {
                    return Err(ConfigError::Invalid(format!(
                        "account {}: only futures positions may be short ({})",
                        spec.acc_id, p.code
                    )));
                }
                let days_ago = 3.0 + i as f64;
                let ts = now - days_ago * 86_400.0;
                let side = if p.qty > 0.0 { Side::Buy } else { Side::Sell };
                let qty = p.qty.abs();
                let oi = st.new_order_record(
                    ai,
                    trd_market,
                    instr.clone(),
                    if side == Side::Buy { 1 } else { 2 },
                    OrderTerms {
                        side,
                        order_type: order_type::NORMAL,
                        price: p.cost_price,
                        aux_price: None,
                        trail_type: None,
                        trail_value: None,
                        trail_spread: None,
                    },
                    qty,
                    ts,
                );
                // Book the historic fill without touching cash (the configured cash is
                // what is left after it), then count it into the deposit instead.
                let cash_before = st.accounts[ai].cash.clone();
                let total_before = st.accounts[ai].cash_total();
                st.apply_fill(oi, qty, p.cost_price, ts, false);
                let spent = total_before - st.accounts[ai].cash_total();
                st.accounts[ai].cash = cash_before;
                deposit += spent;
                if i == 0 {
                    // A cancelled order two days back, for status variety in history.
                    let cancel_ts = now - 2.0 * 86_400.0;
                    let px = matching::truncate_to(p.cost_price * 1.2, instr.price_decimals());
                    let px = instr.snap(px, true);
                    let ci = st.new_order_record(
                        ai,
                        trd_market,
                        instr.clone(),
                        if side == Side::Buy { 2 } else { 1 },
                        OrderTerms {
                            side: if side == Side::Buy { Side::Sell } else { Side::Buy },
                            order_type: order_type::NORMAL,
                            price: px,
                            aux_price: None,
                            trail_type: None,
                            trail_value: None,
                            trail_spread: None,
                        },
                        instr.lot_size,
                        cancel_ts,
                    );
                    let o = &mut st.orders[ci];
                    o.status = status::CANCELLED_ALL;
                    o.update_ts = cancel_ts + 3600.0;
                    o.remark = Some("seeded".into());
                }
            }
            // The deposit that funded the account, ten days back, first in the flow list.
            let acc = &st.accounts[ai];
            let (acc_id, ccy) = (acc.acc_id, acc.currency);
            let ts = now - 10.0 * 86_400.0;
            let flow = FlowRec {
                flow_id: st.next_flow_id(),
                acc_id,
                day: st.clock.day_of(ts, st.acc_cal(ai)),
                ts,
                currency: ccy,
                kind: "Deposit".into(),
                direction: 1,
                amount: matching::round_to(deposit.max(0.0), 2),
                remark: "Initial deposit".into(),
            };
            let pos = st.flows.iter().position(|f| f.acc_id == acc_id).unwrap_or(st.flows.len());
            st.flows.insert(pos, flow);
        }
        // Orders are kept in creation-time order so that history reads naturally.
        st.orders.sort_by(|a, b| a.create_ts.total_cmp(&b.create_ts).then(a.order_id.cmp(&b.order_id)));
        st.fills.sort_by(|a, b| a.ts.total_cmp(&b.ts).then(a.fill_id.cmp(&b.fill_id)));
        st.flows.sort_by(|a, b| a.ts.total_cmp(&b.ts).then(a.flow_id.cmp(&b.flow_id)));
        st.reindex();
        // Seeding must not leave pushes behind (no connection exists yet anyway).
        st.outbox.clear();
        Ok(st)
    }

    fn reindex(&mut self) {
        self.order_index = self.orders.iter().enumerate().map(|(i, o)| (o.order_id, i)).collect();
        self.order_ex_index = self.orders.iter().enumerate().map(|(i, o)| (o.order_id_ex.clone(), i)).collect();
        self.open = (0..self.orders.len()).filter(|i| !status::is_final(self.orders[*i].status)).collect();
    }

    pub fn next_flow_id(&mut self) -> u64 {
        self.next_flow += 1;
        3_000_000 + self.next_flow
    }

    pub fn now(&self) -> f64 {
        self.mclock.now()
    }

    /// Today's local day number in `m`'s time zone.
    pub fn today(&self, m: CalMarket) -> i64 {
        self.clock.day_of(self.now(), m)
    }

    /// The calendar of an account's first market (its cash-flow and filter times).
    pub fn acc_cal(&self, ai: usize) -> CalMarket {
        trd_market_cal(self.accounts[ai].markets.first().copied().unwrap_or(0))
    }

    /// Queues an event to run after `delay` (OpenD-rules mode).
    pub fn schedule(&mut self, delay: Duration, ev: Event) {
        self.events.push((delay, ev));
    }

    /// Whether order `o` may trade now: its market is in continuous trading (or in the
    /// US extended sessions for a REAL order with `fill_outside_rth`). Always in
    /// relaxed mode.
    pub fn can_trade(&self, o: &OrderRec) -> bool {
        if self.relaxed {
            return true;
        }
        let phase = self.mclock.phase(o.instr.cal_market());
        phase.is_continuous()
            || (phase.is_extended_hours() && o.env == Env::Real.number() && o.fill_outside_rth == Some(true))
    }

    /// Whether this is a paper account under the paper-trading rules.
    pub fn paper_rules(&self, ai: usize) -> bool {
        !self.relaxed && self.accounts[ai].env == Env::Simulate.number()
    }

    /// Looks for markets that have just opened (runs a matching round) or closed for
    /// the day (DAY orders still working there expire).
    pub fn session_watch(&mut self) {
        let now = self.now();
        let open: HashSet<CalMarket> =
            CalMarket::ALL.iter().copied().filter(|m| self.mclock.phase_at(*m, now).is_continuous()).collect();
        let opened = open.iter().any(|m| !self.trading_markets.contains(m));
        self.trading_markets = open;
        let mut closed = Vec::new();
        for m in CalMarket::ALL.iter().copied() {
            let phase = self.mclock.phase_at(m, now);
            let ends_day = matches!(phase, Phase::Closed | Phase::AfterHoursEnd | Phase::FutureClose);
            if let Some(prev) = self.last_phase.insert(m, phase) {
                let was_day = !matches!(prev, Phase::Closed | Phase::AfterHoursEnd | Phase::FutureClose);
                if ends_day && was_day {
                    closed.push(m);
                }
            }
        }
        if !closed.is_empty() && !self.relaxed {
            self.expire_day_orders(&closed);
        }
        if opened {
            self.match_all();
        }
    }

    /// DAY orders still working in `markets` are cancelled at the end of the day.
    fn expire_day_orders(&mut self, markets: &[CalMarket]) {
        let day = crate::types::TimeInForce::Day.value();
        let expiring: Vec<usize> = self
            .open
            .iter()
            .copied()
            .filter(|i| {
                let o = &self.orders[*i];
                o.time_in_force == day
                    && matches!(o.status, status::SUBMITTING | status::SUBMITTED | status::FILLED_PART)
                    && markets.contains(&o.instr.cal_market())
            })
            .collect();
        for oi in expiring {
            self.cancel_order(oi, "Expired: a DAY order ends with the trading day");
        }
    }

    /// Runs a scheduled event.
    pub fn run_event(&mut self, ev: Event) {
        match ev {
            Event::Ack(id) => {
                let Some(&oi) = self.order_index.get(&id) else { return };
                if self.orders[oi].status == status::SUBMITTING {
                    let now = self.now();
                    let o = &mut self.orders[oi];
                    o.status = status::SUBMITTED;
                    o.update_ts = now;
                    self.push_order(oi);
                }
            }
            Event::Fill(id) | Event::Chunk(id) => {
                let Some(&oi) = self.order_index.get(&id) else { return };
                if !self.orders[oi].is_working() {
                    return;
                }
                let traded =
                    if matches!(ev, Event::Fill(_)) { self.match_order_full(oi) } else { self.match_order(oi) };
                let o = &self.orders[oi];
                let fak = o.time_in_force == crate::types::TimeInForce::Ioc.value()
                    || matches!(o.terms.order_type, order_type::SPECIAL_LIMIT | order_type::SPECIAL_LIMIT_ALL);
                if fak && o.is_working() {
                    self.cancel_order(oi, "Not fully filled at once: the rest was cancelled");
                } else if traded && self.orders[oi].is_working() {
                    // A partly filled order keeps trading without a ticker.
                    let d = self.fill_delay;
                    self.schedule(d, Event::Chunk(id));
                }
            }
        }
    }

    /// After an order was accepted or changed: fill it now (relaxed) or schedule its
    /// fill (OpenD rules).
    pub fn request_match(&mut self, oi: usize) {
        if self.relaxed {
            self.match_order(oi);
        } else {
            let d = self.fill_delay;
            let id = self.orders[oi].order_id;
            self.schedule(d, Event::Fill(id));
        }
    }

    /// Cancels a working or disabled order and pushes the update.
    pub fn cancel_order(&mut self, oi: usize, why: &str) {
        let now = self.now();
        let o = &mut self.orders[oi];
        o.status = if o.fill_qty > 0.0 { status::CANCELLED_PART } else { status::CANCELLED_ALL };
        o.update_ts = now;
        if !why.is_empty() {
            o.last_err_msg = why.to_string();
        }
        self.push_order(oi);
    }

    pub fn account_index(&self, acc_id: u64) -> Option<usize> {
        self.accounts.iter().position(|a| a.acc_id == acc_id)
    }

    /// Checks a TrdHeader: the account exists, the environment and market match.
    pub fn check_header(&self, h: &pb::trd_common::TrdHeader) -> Res<usize> {
        let ai = self.account_index(h.acc_id).ok_or_else(|| {
            Reject::code(format!("Nonexistent account: accID {} is unknown", h.acc_id), err_code::ACCOUNT)
        })?;
        let acc = &self.accounts[ai];
        if acc.env != h.trd_env {
            return Err(Reject::new(format!(
                "trdEnv {} does not match account {} (a {} account)",
                h.trd_env,
                acc.acc_id,
                crate::types::TrdEnv::from_value(acc.env)
            )));
        }
        if !acc.markets.contains(&h.trd_market) {
            return Err(Reject::new(format!(
                "Account {} has no trading authority for trdMarket {}",
                acc.acc_id, h.trd_market
            )));
        }
        Ok(ai)
    }

    /// Registers or refreshes a connection.
    pub fn touch_conn(&mut self, conn_id: u64, sink: &Arc<dyn PushSink>) {
        match self.conns.get_mut(&conn_id) {
            Some(c) => {
                if !Arc::ptr_eq(&c.sink, sink) {
                    c.sink = sink.clone();
                }
            }
            None => {
                self.conns.insert(
                    conn_id,
                    ConnState {
                        sink: sink.clone(),
                        subs: Vec::new(),
                        serials: HashSet::new(),
                        serial_order: VecDeque::new(),
                    },
                );
            }
        }
    }

    /// Replay protection for write operations.
    pub fn check_packet_id(&mut self, conn_id: u64, packet: &pb::common::PacketId) -> Res<()> {
        if packet.conn_id != conn_id {
            return Err(Reject::new(format!(
                "packetID.connID {} does not match this connection ({conn_id})",
                packet.conn_id
            )));
        }
        let Some(c) = self.conns.get_mut(&conn_id) else {
            return Err(Reject::new("unknown connection"));
        };
        if !c.serials.insert(packet.serial_no) {
            return Err(Reject::new(format!(
                "Duplicate packetID (serialNo {}): this request was already received",
                packet.serial_no
            )));
        }
        c.serial_order.push_back(packet.serial_no);
        if c.serial_order.len() > SERIAL_MEMORY {
            if let Some(old) = c.serial_order.pop_front() {
                c.serials.remove(&old);
            }
        }
        Ok(())
    }

    /// REAL-environment writes need OpenD to be unlocked for the account's firm (the
    /// unlock is OpenD-wide: any connection may have done it).
    pub fn check_unlocked(&self, ai: usize) -> Res<()> {
        let acc = &self.accounts[ai];
        if acc.env != Env::Real.number() {
            return Ok(());
        }
        if self.unlocked.contains(&0) || self.unlocked.contains(&acc.firm) {
            Ok(())
        } else {
            Err(Reject::code(
                "Trading is locked: please unlock trade (Trd_UnlockTrade) before placing or modifying orders",
                err_code::LOCKED,
            ))
        }
    }

    /// Sliding-window rate limit; `which` is "place" or "modify".
    pub fn check_rate(&mut self, ai: usize, place: bool) -> Res<()> {
        if !self.limits.enabled {
            return Ok(());
        }
        let (limit, what) = if place {
            (self.limits.place_per_30s, "place order")
        } else {
            (self.limits.modify_per_30s, "modify order")
        };
        let min_gap = Duration::from_millis(if place {
            self.limits.place_min_interval_ms
        } else {
            self.limits.modify_min_interval_ms
        });
        let strict = !self.relaxed;
        let acc = &mut self.accounts[ai];
        let now = Instant::now();
        let last = if place { &mut acc.last_place } else { &mut acc.last_modify };
        if strict && !min_gap.is_zero() && last.is_some_and(|t| now.duration_since(t) < min_gap) {
            return Err(Reject::code(
                format!(
                    "Request too frequent: two {what} requests of an account must be at least {:.2} seconds apart",
                    min_gap.as_secs_f64()
                ),
                err_code::RATE_LIMITED,
            ));
        }
        let window = if place { &mut acc.place_window } else { &mut acc.modify_window };
        take_slot(window, limit).map_err(|_| {
            Reject::code(
                format!("Request too frequent: at most {limit} {what} requests per 30 seconds per account"),
                err_code::RATE_LIMITED,
            )
        })?;
        let last = if place { &mut acc.last_place } else { &mut acc.last_modify };
        *last = Some(now);
        Ok(())
    }

    /// The 10-per-30-s limit of history, max-qty, fee and cache-refreshing queries
    /// (OpenD rules only).
    pub fn check_query_rate(&mut self, ai: usize, proto_id: u32, what: &str) -> Res<()> {
        if !self.limits.enabled || self.relaxed {
            return Ok(());
        }
        let limit = self.limits.query_per_30s;
        let window = self.accounts[ai].query_windows.entry(proto_id).or_default();
        take_slot(window, limit).map_err(|_| {
            Reject::code(
                format!("Request too frequent: at most {limit} {what} requests per 30 seconds per account"),
                err_code::RATE_LIMITED,
            )
        })
    }

    pub fn check_unlock_rate(&mut self) -> Res<()> {
        if !self.limits.enabled {
            return Ok(());
        }
        let limit = self.limits.unlock_per_30s;
        take_slot(&mut self.unlock_window, limit).map_err(|_| {
            Reject::code(
                format!("Request too frequent: at most {limit} unlock requests per 30 seconds"),
                err_code::RATE_LIMITED,
            )
        })
    }

    /// Finds the instrument of a request: `code` (bare, or prefixed), optional
    /// `secMarket`, and the header's trdMarket as a hint.
    pub fn resolve(&self, code: &str, sec_market: Option<i32>, trd_market: i32) -> Res<Instrument> {
        let unknown = || Reject::new(format!("Unknown stock code: {code:?}"));
        if code.is_empty() || code.len() > 64 {
            return Err(unknown());
        }
        let (sec, bare) = match split_full_code(code) {
            Some((s, c)) => (Some(s), c),
            None => (sec_market.filter(|s| *s != 0), code),
        };
        let found = match sec {
            Some(s) => self.market.find(s, bare),
            None => {
                let cands = self.market.find_any(bare);
                cands.iter().copied().find(|i| i.trd_markets().contains(&trd_market)).or(cands.first().copied())
            }
        };
        found.cloned().ok_or_else(unknown)
    }

    pub fn price_of(&self, instr: &Instrument) -> f64 {
        self.market.price(instr.sec_market, &instr.code).unwrap_or(instr.start_price)
    }

    /// Creates an order record (status Submitted) and returns its index.
    #[allow(clippy::too_many_arguments)]
    pub fn new_order_record(
        &mut self,
        ai: usize,
        trd_market: i32,
        instr: Instrument,
        side_num: i32,
        terms: OrderTerms,
        qty: f64,
        ts: f64,
    ) -> usize {
        self.next_order += 1;
        let order_id = 7_100_000_000 + self.next_order;
        let acc = &self.accounts[ai];
        let rec = OrderRec {
            order_id,
            order_id_ex: format!("SIMO{order_id:012}"),
            acc_id: acc.acc_id,
            env: acc.env,
            trd_market,
            instr,
            side_num,
            terms,
            trig: TriggerState::default(),
            status: status::SUBMITTED,
            status_before_disable: status::SUBMITTED,
            qty,
            fill_qty: 0.0,
            fill_value: 0.0,
            create_ts: ts,
            update_ts: ts,
            last_err_msg: String::new(),
            remark: None,
            time_in_force: 0,
            fill_outside_rth: Some(false),
            session: None,
            jp_acc_type: None,
            expire_time: None,
            fees: Vec::new(),
            legs: Vec::new(),
            strategy_type: None,
            contract_code: None,
        };
        self.orders.push(rec);
        let idx = self.orders.len() - 1;
        self.order_index.insert(order_id, idx);
        self.order_ex_index.insert(self.orders[idx].order_id_ex.clone(), idx);
        self.open.insert(idx);
        idx
    }

    /// Orders that may be open (callers still check the status).
    pub fn open_orders(&self) -> impl Iterator<Item = &OrderRec> {
        self.open.iter().filter_map(|i| self.orders.get(*i))
    }

    /// Finds an order of an account by id or id string.
    pub fn find_order(&self, acc_id: u64, order_id: u64, order_id_ex: Option<&str>) -> Res<usize> {
        let idx = match order_id_ex.filter(|s| !s.is_empty()) {
            Some(ex) => self.order_ex_index.get(ex).copied(),
            None => self.order_index.get(&order_id).copied(),
        };
        match idx {
            Some(i) if self.orders[i].acc_id == acc_id => Ok(i),
            _ => Err(Reject::new(format!(
                "Order not found: {}",
                order_id_ex.filter(|s| !s.is_empty()).map(str::to_string).unwrap_or_else(|| order_id.to_string())
            ))),
        }
    }

    // ---- valuation -------------------------------------------------------------

    /// Value of a position in its instrument currency (signed).
    pub fn position_value(&self, p: &PositionRec) -> f64 {
        p.qty * self.price_of(&p.instr) * p.instr.multiplier
    }

    pub fn position_unrealized(&self, p: &PositionRec) -> f64 {
        (self.price_of(&p.instr) - p.avg_cost()) * p.qty * p.instr.multiplier
    }

    /// Buying power reserved by open orders (account currency); optionally ignoring
    /// one order (sizing a modification).
    pub fn frozen(&self, ai: usize, except: Option<u64>) -> f64 {
        let acc = &self.accounts[ai];
        let mut total = 0.0;
        for o in self.open_orders() {
            if o.acc_id != acc.acc_id || status::is_final(o.status) || Some(o.order_id) == except {
                continue;
            }
            total += self.order_reservation(ai, o, o.remaining());
        }
        total
    }

    /// What `qty` more of this order would reserve (account currency).
    pub fn order_reservation(&self, ai: usize, o: &OrderRec, qty: f64) -> f64 {
        let acc = &self.accounts[ai];
        if !o.legs.is_empty() {
            let net = self.combo_net_price(&o.legs);
            let px = if matching::needs_limit_price(o.terms.order_type) { o.terms.price } else { net };
            let mult = o.legs.first().map(|l| l.instr.multiplier).unwrap_or(1.0);
            let ccy = o.legs.first().map(|l| l.instr.currency).unwrap_or(acc.currency);
            return currency::convert(px.max(0.0) * qty * mult, ccy, acc.currency);
        }
        let px = o.reserve_price(self.price_of(&o.instr));
        match o.instr.kind {
            InstrumentKind::Future => {
                let opening = self.opening_qty(ai, &o.instr, o.terms.side, qty);
                currency::convert(opening * px * o.instr.multiplier * FUTURES_IM, o.instr.currency, acc.currency)
            }
            _ if o.terms.side == Side::Buy => {
                currency::convert(qty * px * o.instr.multiplier, o.instr.currency, acc.currency)
            }
            _ => 0.0,
        }
    }

    /// The part of a futures order that opens or extends a position (the rest closes).
    pub fn opening_qty(&self, ai: usize, instr: &Instrument, side: Side, qty: f64) -> f64 {
        let held = self.position(ai, instr).map(|p| p.qty).unwrap_or(0.0);
        let closing = if held * side.sign() < 0.0 { held.abs().min(qty) } else { 0.0 };
        qty - closing
    }

    pub fn position(&self, ai: usize, instr: &Instrument) -> Option<&PositionRec> {
        self.accounts[ai]
            .positions
            .iter()
            .find(|p| p.instr.sec_market == instr.sec_market && p.instr.code == instr.code)
    }

    /// Quantity of this instrument in open sell orders of the account.
    pub fn pending_sell_qty(&self, ai: usize, instr: &Instrument, except: Option<u64>) -> f64 {
        let acc_id = self.accounts[ai].acc_id;
        self.open_orders()
            .filter(|o| {
                o.acc_id == acc_id
                    && o.legs.is_empty()
                    && !status::is_final(o.status)
                    && o.terms.side == Side::Sell
                    && Some(o.order_id) != except
                    && o.instr.sec_market == instr.sec_market
                    && o.instr.code == instr.code
            })
            .map(|o| o.remaining())
            .fold(0.0, |a, v| a + v)
    }

    /// Account-level figures (account currency).
    pub fn summary(&self, ai: usize) -> Summary {
        let acc = &self.accounts[ai];
        let mut s = Summary::default();
        for p in &acc.positions {
            let v = currency::convert(self.position_value(p), p.instr.currency, acc.currency);
            let u = currency::convert(self.position_unrealized(p), p.instr.currency, acc.currency);
            s.unrealized += u;
            s.market_val += v;
            if v >= 0.0 {
                s.long_mv += v;
            } else {
                s.short_mv += -v;
            }
            if p.instr.kind == InstrumentKind::Future {
                s.initial_margin += v.abs() * FUTURES_IM;
                s.maintenance_margin += v.abs() * FUTURES_MM;
            }
        }
        s.frozen = self.frozen(ai, None);
        if acc.futures {
            s.total_assets = acc.cash_total() + s.unrealized;
            s.power = (s.total_assets - s.initial_margin - s.frozen).max(0.0);
        } else {
            s.total_assets = acc.cash_total() + s.market_val;
            if acc.margin {
                s.initial_margin = s.long_mv * MARGIN_CREDIT + s.short_mv;
                s.maintenance_margin = s.long_mv * 0.35 + s.short_mv * 0.35;
            }
            // Short (option) positions tie up what closing them would cost.
            let credit = if acc.margin { s.long_mv * MARGIN_CREDIT } else { 0.0 };
            s.power = (acc.cash_total() - s.frozen + credit - s.short_mv).max(0.0);
        }
        s.cash_power = (acc.cash_total() - s.frozen).max(0.0);
        s
    }

    pub fn combo_net_price(&self, legs: &[LegRec]) -> f64 {
        legs.iter().map(|l| l.side.sign() * l.ratio * self.price_of(&l.instr)).fold(0.0, |a, v| a + v)
    }

    // ---- pushes ----------------------------------------------------------------

    fn queue_push(&mut self, acc_id: u64, proto_id: u32, body: Vec<u8>) {
        let mut ids: Vec<&u64> = self.conns.keys().collect();
        ids.sort();
        for id in ids {
            if let Some(c) = self.conns.get(id) {
                if c.subs.contains(&acc_id) {
                    self.outbox.push(Push { sink: c.sink.clone(), proto_id, body: body.clone() });
                }
            }
        }
    }

    pub fn push_order(&mut self, oi: usize) {
        let o = &self.orders[oi];
        let header =
            pb::trd_common::TrdHeader { trd_env: o.env, acc_id: o.acc_id, trd_market: o.trd_market, jp_acc_type: None };
        let s2c = pb::trd_update_order::S2c { header, order: self.render_order(o) };
        let resp = pb::trd_update_order::Response::build(0, None, None, Some(s2c));
        let acc_id = o.acc_id;
        self.queue_push(acc_id, 2208, resp.encode_to_vec());
    }

    fn push_fill(&mut self, fi: usize) {
        let f = &self.fills[fi];
        if !self.relaxed && f.env == Env::Simulate.number() {
            // Paper trading has no fill pushes.
            return;
        }
        let header =
            pb::trd_common::TrdHeader { trd_env: f.env, acc_id: f.acc_id, trd_market: f.trd_market, jp_acc_type: None };
        let s2c = pb::trd_update_order_fill::S2c { header, order_fill: self.render_fill(f) };
        let resp = pb::trd_update_order_fill::Response::build(0, None, None, Some(s2c));
        let acc_id = f.acc_id;
        self.queue_push(acc_id, 2218, resp.encode_to_vec());
    }

    // ---- rendering -------------------------------------------------------------

    pub fn render_order(&self, o: &OrderRec) -> pb::trd_common::Order {
        let avg = if o.fill_qty > 0.0 { matching::round_to(o.fill_value / o.fill_qty, 9) } else { 0.0 };
        let name = if o.legs.is_empty() { o.instr.name.clone() } else { format!("Combo: {}", o.instr.name) };
        pb::trd_common::Order {
            trd_side: o.side_num,
            order_type: o.terms.order_type,
            order_status: o.status,
            order_id: o.order_id,
            order_id_ex: o.order_id_ex.clone(),
            code: o.code().to_string(),
            name,
            qty: o.qty,
            price: Some(o.terms.price),
            create_time: self.clock.format(o.create_ts, o.instr.cal_market()),
            update_time: self.clock.format(o.update_ts, o.instr.cal_market()),
            fill_qty: Some(o.fill_qty),
            fill_avg_price: Some(avg),
            last_err_msg: Some(o.last_err_msg.clone()),
            sec_market: Some(o.instr.sec_market),
            create_timestamp: Some(o.create_ts),
            update_timestamp: Some(o.update_ts),
            remark: Some(o.remark.clone().unwrap_or_default()),
            time_in_force: Some(o.time_in_force),
            fill_outside_rth: o.fill_outside_rth,
            aux_price: o.terms.aux_price,
            trail_type: o.terms.trail_type,
            trail_value: o.terms.trail_value,
            trail_spread: o.terms.trail_spread,
            currency: Some(o.instr.currency),
            trd_market: Some(o.trd_market),
            session: o.session,
            jp_acc_type: o.jp_acc_type,
            expire_time: o.expire_time.clone(),
            order_amount: None,
            strategy_type: o.strategy_type,
            combo_legs: o
                .legs
                .iter()
                .map(|l| pb::qot_common::ComboLeg {
                    security: pb::qot_common::Security { market: l.qot_market, code: l.instr.code.clone() },
                    side: Some(l.side_num),
                    qty_ratio: Some(l.ratio),
                    position_id: None,
                    pred_side: None,
                })
                .collect(),
        }
    }

    pub fn render_fill(&self, f: &FillRec) -> pb::trd_common::OrderFill {
        let code = f.contract_code.clone().unwrap_or_else(|| f.instr.code.clone());
        let hk = f.instr.sec_market == matching::sec_market::HK && f.instr.kind != InstrumentKind::Future;
        pb::trd_common::OrderFill {
            trd_side: f.side_num,
            fill_id: f.fill_id,
            fill_id_ex: f.fill_id_ex.clone(),
            order_id: Some(f.order_id),
            order_id_ex: Some(f.order_id_ex.clone()),
            code,
            name: f.instr.name.clone(),
            qty: f.qty,
            price: f.price,
            create_time: self.clock.format(f.ts, f.instr.cal_market()),
            counter_broker_id: hk.then_some(9999),
            counter_broker_name: hk.then(|| "SIMULATED BROKER".to_string()),
            sec_market: Some(f.instr.sec_market),
            create_timestamp: Some(f.ts),
            update_timestamp: Some(f.ts),
            status: Some(0),
            trd_market: Some(f.trd_market),
            jp_acc_type: None,
        }
    }

    // ---- matching --------------------------------------------------------------

    /// One matching round for one order at the current price. Returns whether it traded.
    pub fn match_order(&mut self, oi: usize) -> bool {
        self.match_order_sized(oi, false)
    }

    /// A matching round that fills the whole remaining quantity of a marketable order
    /// (the first match after placement: a marketable order of any size completes).
    pub fn match_order_full(&mut self, oi: usize) -> bool {
        self.match_order_sized(oi, true)
    }

    fn match_order_sized(&mut self, oi: usize, full: bool) -> bool {
        if !self.orders[oi].is_working() || !self.can_trade(&self.orders[oi]) {
            return false;
        }
        if !self.orders[oi].legs.is_empty() {
            return self.match_combo(oi);
        }
        let market = self.price_of(&self.orders[oi].instr);
        let now = self.now();
        // A replay: the order trades against the recorded path (replay::fill).
        let path = match self.replay.as_mut() {
            Some(r) => {
                let o = &mut self.orders[oi];
                let code = o.instr.full_code();
                let po = crate::sim::replay::fill::PathOrder {
                    id: o.order_id,
                    code: &code,
                    since: o.create_ts,
                    terms: &o.terms,
                    lot: o.instr.lot_size,
                };
                r.next_fill(po, &mut o.trig, now)
            }
            None => crate::sim::replay::fill::PathMatch::NotOnTape,
        };
        let o = &mut self.orders[oi];
        let (fill_price, fill_ts, cap) = match path {
            crate::sim::replay::fill::PathMatch::Fill { ts, price, max_qty, bar } => {
                // On the tick grid, never worse than a limit: a buy rounds up, a sell down.
                let buy = o.terms.side == Side::Buy;
                let mut p = o.instr.snap(price, buy);
                if matching::needs_limit_price(o.terms.order_type) && o.terms.price > 0.0 {
                    p = if buy { p.min(o.terms.price) } else { p.max(o.terms.price) };
                }
                (p, ts, Some((max_qty, bar)))
            }
            crate::sim::replay::fill::PathMatch::Wait => return false,
            crate::sim::replay::fill::PathMatch::NotOnTape => match evaluate(&o.terms, &mut o.trig, market) {
                Some(p) => (p, now, None),
                None => return false,
            },
        };
        let remaining = o.remaining();
        if remaining <= 0.0 {
            return false;
        }
        let t = o.terms.order_type;
        let whole = full || fills_at_once(t) || t == order_type::SPECIAL_LIMIT_ALL;
        let chunk = (self.chunk_lots * o.instr.lot_size).max(o.instr.lot_size);
        let qty = match cap {
            Some((max_qty, _)) => remaining.min(max_qty),
            None if whole => remaining,
            None => remaining.min(chunk),
        };
        if let Some(why) = self.buy_shortfall(oi, qty, fill_price) {
            // OpenD's rules: the order fails asynchronously, with the reason.
            let o = &mut self.orders[oi];
            o.status = status::FAILED;
            o.update_ts = now;
            o.last_err_msg = why;
            self.push_order(oi);
            return false;
        }
        if let (Some((_, bar)), Some(r)) = (cap, self.replay.as_mut()) {
            r.commit(bar, qty);
        }
        self.apply_fill(oi, qty, fill_price, fill_ts, true);
        true
    }

    fn match_combo(&mut self, oi: usize) -> bool {
        let net = self.combo_net_price(&self.orders[oi].legs);
        let o = &mut self.orders[oi];
        let mut terms = o.terms.clone();
        terms.side = Side::Buy;
        if evaluate(&terms, &mut o.trig, net).is_none() {
            return false;
        }
        let qty = o.remaining();
        if qty <= 0.0 {
            return false;
        }
        let now = self.now();
        self.apply_fill(oi, qty, net, now, true);
        true
    }

    /// One matching round over every working order, oldest first.
    pub fn match_all(&mut self) {
        let orders = &self.orders;
        self.open.retain(|i| orders.get(*i).is_some_and(|o| !status::is_final(o.status)));
        let working: Vec<usize> = self.open.iter().copied().filter(|i| self.orders[*i].is_working()).collect();
        for oi in working {
            if self.match_order(oi) && !self.relaxed && self.orders[oi].is_working() {
                // A partly filled order keeps trading, a chunk per fill delay.
                let (d, id) = (self.fill_delay, self.orders[oi].order_id);
                self.schedule(d, Event::Chunk(id));
            }
        }
    }

    /// Books a fill of `qty` at `price` on order `oi`: order, position, cash, fees,
    /// flows, and (if `push`) the order push followed by the fill push(es).
    pub fn apply_fill(&mut self, oi: usize, qty: f64, price: f64, ts: f64, push: bool) {
        let ai = match self.account_index(self.orders[oi].acc_id) {
            Some(a) => a,
            None => return,
        };
        let first_fill = self.orders[oi].fill_qty == 0.0;
        {
            let o = &mut self.orders[oi];
            o.fill_qty += qty;
            o.fill_value += qty * price;
            o.update_ts = ts;
            o.status = if o.fill_qty + 1e-9 >= o.qty { status::FILLED_ALL } else { status::FILLED_PART };
        }
        // Legs: a plain order is one leg of ratio 1.
        let legs: Vec<(Instrument, Side, i32, f64, f64)> = {
            let o = &self.orders[oi];
            if o.legs.is_empty() {
                vec![(o.instr.clone(), o.terms.side, o.side_num, qty, price)]
            } else {
                o.legs
                    .iter()
                    .map(|l| (l.instr.clone(), l.side, l.side_num, qty * l.ratio, self.price_of(&l.instr)))
                    .collect()
            }
        };
        let legs_empty = self.orders[oi].legs.is_empty();
        let mut fill_indices = Vec::new();
        for (instr, side, side_num, leg_qty, leg_price) in legs {
            let fees = fee_table(&instr, side, leg_qty, leg_price, first_fill);
            let fee_sum: f64 = fees.iter().map(|(_, v)| v).fold(0.0, |a, v| a + v);
            for (title, v) in &fees {
                self.orders[oi].add_fee(title, *v);
            }
            let realized = self.book_position(ai, &instr, side, leg_qty, leg_price, fee_sum, ts);
            let acc_ccy = self.accounts[ai].currency;
            let value = leg_qty * leg_price * instr.multiplier;
            let (cash_delta, kind) = if instr.kind == InstrumentKind::Future {
                (realized - fee_sum, "Futures P/L and Fees")
            } else {
                (-side.sign() * value - fee_sum, "Securities Trade")
            };
            let realized_acc = currency::convert(realized, instr.currency, acc_ccy);
            let acc = &mut self.accounts[ai];
            let cash_ccy = acc.add_cash(cash_delta, instr.currency);
            let cash_delta = currency::convert(cash_delta, instr.currency, cash_ccy);
            acc.realized_pl += realized_acc;
            let (acc_id, env) = (acc.acc_id, acc.env);
            let flow_id = self.next_flow_id();
            let (order_id, order_id_ex, trd_market, contract_code) = {
                let o = &self.orders[oi];
                (o.order_id, o.order_id_ex.clone(), o.trd_market, o.contract_code.clone())
            };
            let acc_cal = self.acc_cal(ai);
            self.flows.push(FlowRec {
                flow_id,
                acc_id,
                day: self.clock.day_of(ts, acc_cal),
                ts,
                currency: cash_ccy,
                kind: kind.into(),
                direction: if cash_delta >= 0.0 { 1 } else { 2 },
                amount: matching::round_to(cash_delta.abs(), 2),
                remark: format!(
                    "{} {} {} @ {} (order {})",
                    if side == Side::Buy { "Buy" } else { "Sell" },
                    leg_qty,
                    instr.full_code(),
                    leg_price,
                    order_id_ex
                ),
            });
            self.next_fill += 1;
            let fill_id = 8_200_000_000 + self.next_fill;
            self.fills.push(FillRec {
                fill_id,
                fill_id_ex: format!("SIMF{fill_id:012}"),
                order_id,
                order_id_ex,
                acc_id,
                env,
                trd_market,
                instr,
                side_num,
                qty: leg_qty,
                price: leg_price,
                ts,
                contract_code: if legs_empty { contract_code } else { None },
            });
            fill_indices.push(self.fills.len() - 1);
        }
        if push {
            self.push_order(oi);
            for fi in fill_indices {
                self.push_fill(fi);
            }
        }
    }

    /// Updates (or opens, or closes) the position; returns realized P/L (instrument currency).
    #[allow(clippy::too_many_arguments)]
    fn book_position(
        &mut self,
        ai: usize,
        instr: &Instrument,
        side: Side,
        qty: f64,
        price: f64,
        fee: f64,
        ts: f64,
    ) -> f64 {
        let today = self.clock.day_of(ts, instr.cal_market());
        let idx = match self.accounts[ai]
            .positions
            .iter()
            .position(|p| p.instr.sec_market == instr.sec_market && p.instr.code == instr.code)
        {
            Some(i) => i,
            None => {
                self.next_position += 1;
                let position_id = 9_300_000_000 + self.next_position;
                self.accounts[ai].positions.push(PositionRec {
                    position_id,
                    instr: instr.clone(),
                    qty: 0.0,
                    cost_total: 0.0,
                    fees: 0.0,
                    realized_pl: 0.0,
                    td_day: today,
                    td_buy_qty: 0.0,
                    td_buy_val: 0.0,
                    td_sell_qty: 0.0,
                    td_sell_val: 0.0,
                });
                self.accounts[ai].positions.len() - 1
            }
        };
        let p = &mut self.accounts[ai].positions[idx];
        if p.td_day != today {
            p.td_day = today;
            p.td_buy_qty = 0.0;
            p.td_buy_val = 0.0;
            p.td_sell_qty = 0.0;
            p.td_sell_val = 0.0;
        }
        let value = qty * price * instr.multiplier;
        match side {
            Side::Buy => {
                p.td_buy_qty += qty;
                p.td_buy_val += value;
            }
            Side::Sell => {
                p.td_sell_qty += qty;
                p.td_sell_val += value;
            }
        }
        p.fees += fee;
        let d = side.sign();
        let mut realized = 0.0;
        if p.qty == 0.0 || p.qty * d > 0.0 {
            p.cost_total += qty * price;
            p.qty += d * qty;
        } else {
            let closing = qty.min(p.qty.abs());
            let avg = p.avg_cost();
            realized = (price - avg) * closing * instr.multiplier * p.qty.signum();
            p.cost_total -= avg * closing;
            p.qty += d * closing;
            let opening = qty - closing;
            if opening > 0.0 {
                p.qty = d * opening;
                p.cost_total = opening * price;
            }
            if p.qty.abs() < 1e-9 {
                p.qty = 0.0;
                p.cost_total = 0.0;
            }
        }
        p.realized_pl += realized;
        if p.qty == 0.0 {
            self.accounts[ai].positions.remove(idx);
        }
        realized
    }
}

/// Account figures in the account currency.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Summary {
    pub market_val: f64,
    pub long_mv: f64,
    pub short_mv: f64,
    pub unrealized: f64,
    pub frozen: f64,
    pub total_assets: f64,
    pub power: f64,
    pub cash_power: f64,
    pub initial_margin: f64,
    pub maintenance_margin: f64,
}

fn take_slot(window: &mut VecDeque<Instant>, limit: u32) -> Result<(), ()> {
    let now = Instant::now();
    let span = Duration::from_secs(30);
    while window.front().is_some_and(|t| now.duration_since(*t) >= span) {
        window.pop_front();
    }
    if window.len() >= limit as usize {
        return Err(());
    }
    window.push_back(now);
    Ok(())
}

/// The calendar of a `TrdMarket` (header markets: filter times, account times).
pub(crate) fn trd_market_cal(trd_market: i32) -> CalMarket {
    use matching::trd_market as t;
    match trd_market {
        t::US => CalMarket::UsStock,
        t::CN | t::HKCC => CalMarket::CnStock,
        t::SG => CalMarket::SgStock,
        t::JP => CalMarket::JpStock,
        t::FUTURES | t::FUTURES_SIMULATE_HK => CalMarket::HkFuture,
        t::FUTURES_SIMULATE_US => CalMarket::UsFuture,
        t::FUTURES_SIMULATE_SG => CalMarket::SgFuture,
        t::FUTURES_SIMULATE_JP => CalMarket::JpFuture,
        _ => CalMarket::HkStock,
    }
}

impl State {
    /// The record a replay's report is built from: accounts (cash, positions), orders
    /// and fills with their fees.
    pub fn trade_log(&self) -> crate::sim::replay::report::TradeLog {
        use crate::sim::replay::report::{AccountEntry, FillEntry, OrderEntry, PositionEntry, TradeLog};
        let accounts = self
            .accounts
            .iter()
            .map(|a| AccountEntry {
                acc_id: a.acc_id,
                env: a.env,
                currency: a.currency,
                universal: a.universal,
                cash: a.cash.clone(),
                positions: a
                    .positions
                    .iter()
                    .filter(|p| p.qty != 0.0)
                    .map(|p| PositionEntry {
                        code: p.instr.full_code(),
                        qty: p.qty,
                        cost_price: p.avg_cost(),
                        multiplier: p.instr.multiplier,
                        currency: p.instr.currency,
                        future: p.instr.kind == InstrumentKind::Future,
                    })
                    .collect(),
            })
            .collect();
        let orders = self
            .orders
            .iter()
            .map(|o| OrderEntry {
                acc_id: o.acc_id,
                order_id: o.order_id,
                code: o.instr.full_code(),
                side: o.side_num,
                order_type: o.terms.order_type,
                qty: o.qty,
                price: o.terms.price,
                fill_qty: o.fill_qty,
                fill_avg_price: if o.fill_qty > 0.0 { o.fill_value / o.fill_qty } else { 0.0 },
                status: o.status,
                create_ts: o.create_ts,
                update_ts: o.update_ts,
                fees: o.fee_total(),
                last_err_msg: o.last_err_msg.clone(),
            })
            .collect();
        let mut firsts: HashSet<u64> = HashSet::new();
        let fills = self
            .fills
            .iter()
            .map(|f| {
                let side = Side::from_trd_side(f.side_num).unwrap_or(Side::Buy);
                let first = firsts.insert(f.order_id);
                let fee =
                    fee_table(&f.instr, side, f.qty, f.price, first).iter().map(|(_, v)| v).fold(0.0, |a, v| a + v);
                FillEntry {
                    acc_id: f.acc_id,
                    order_id: f.order_id,
                    fill_id: f.fill_id,
                    code: f.instr.full_code(),
                    buy: side == Side::Buy,
                    qty: f.qty,
                    price: f.price,
                    ts: f.ts,
                    fee,
                    multiplier: f.instr.multiplier,
                    currency: f.instr.currency,
                    future: f.instr.kind == InstrumentKind::Future,
                }
            })
            .collect();
        TradeLog { accounts, orders, fills }
    }
}
