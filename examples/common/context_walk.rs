//! The walk-through shared by the `sec_context` and `future_context` examples: print
//! the accounts, query everything, place / change / cancel a paper order, then stay
//! connected printing connection changes and pushes.

use std::time::Duration;

use ftapi::context::{
    AccSel, CashFlowQuery, ConnectionEvent, ContextBuilder, ContextKind, DealQuery, FillUpdate, FundsQuery,
    HistoryDealQuery, HistoryOrderQuery, MaxQtyQuery, ModifyOrder, OrderQuery, OrderUpdate, PlaceOrder, PositionQuery,
    TradeContext,
};
use ftapi::types::{Account, OrderType, SecurityCode, SecurityFirm, TrdEnv, TrdMarket, TrdSide};

use super::{Args, Target};

/// What the command line asked for.
pub struct Options {
    /// `--password`: unlock real trading with it.
    pub password: Option<String>,
    /// `--secs`: stay connected this long at the end.
    pub secs: u64,
    /// `--market` for the paper-order part (futures: which simulated futures market).
    pub order_market: Option<TrdMarket>,
}

/// Reads `--firm`, `--password`, `--secs` and applies host, port and key (or the
/// WebSocket port with `--websocket`) to the builder. Without `--port` (the in-process simulator) the password defaults to
/// the simulator's "123456".
pub fn configure<K: ContextKind>(
    builder: ContextBuilder<K>,
    args: &Args,
    target: &Target,
) -> Result<(ContextBuilder<K>, Options), String> {
    let mut b = builder.host(target.host.clone()).port(target.port).client_id("ftapi-example");
    if let Some(ws) = &target.ws {
        b = b.websocket(ws.ssl, &ws.key).websocket_insecure(ws.insecure);
        if let Some(ca) = &ws.ca {
            b = b.websocket_ca_file(ca);
        }
    } else if let Some(key) = &target.rsa_key {
        b = b.encrypt(Some(true)).rsa_key(key.clone());
    } else {
        b = b.encrypt(Some(false));
    }
    if let Some(f) = args.get("firm") {
        let firm: SecurityFirm = f.parse().map_err(|e| format!("--firm: {e}"))?;
        b = b.security_firm(firm);
    }
    let password = match args.get("password") {
        Some(p) => Some(p.to_string()),
        None if target.sim.is_some() => Some("123456".to_string()),
        None => None,
    };
    let secs = args.parse_or("secs", 0u64)?;
    Ok((b, Options { password, secs, order_market: None }))
}

/// Prints the `acc <acc_id> ...` lines (always the first lines of the output), then
/// installs the printing handlers.
pub fn start<K: ContextKind>(ctx: &TradeContext<K>) -> Result<(), String> {
    print_accounts(&ctx.get_acc_list().map_err(|e| format!("get_acc_list: {e}"))?);
    println!("conn connected conn_id={}", ctx.conn_id());
    ctx.set_connection_handler(print_event);
    ctx.set_order_handler(print_order);
    ctx.set_fill_handler(print_fill);
    Ok(())
}

/// Prints a connection change.
pub fn print_event(e: &ConnectionEvent) {
    match e {
        ConnectionEvent::Connected { conn_id } => println!("conn connected conn_id={conn_id}"),
        ConnectionEvent::Disconnected { reason, reconnecting } => {
            println!("conn disconnected reconnecting={reconnecting} reason={reason}")
        }
        ConnectionEvent::ReconnectFailed { attempt, error, retry_in } => {
            println!("conn reconnect_failed attempt={attempt} retry_in={retry_in:?} error={error}")
        }
        ConnectionEvent::Reconnected { conn_id, attempts } => {
            println!("conn reconnected conn_id={conn_id} attempts={attempts}")
        }
        ConnectionEvent::RestoreFailed { step, error } => println!("conn restore_failed step={step} error={error}"),
        ConnectionEvent::GaveUp { attempts, error } => println!("conn gave_up attempts={attempts} error={error}"),
        other => println!("conn {other:?}"),
    }
}

/// Prints an order push.
pub fn print_order(u: &OrderUpdate) {
    let o = &u.order;
    println!(
        "push order acc={} env={} id={} code={} side={} status={} qty={} price={} filled={}",
        u.account.acc_id, u.account.env, o.order_id_ex, o.code, o.trd_side, o.order_status, o.qty, o.price, o.fill_qty
    );
}

/// Prints a fill push.
pub fn print_fill(f: &FillUpdate) {
    let d = &f.fill;
    println!(
        "push fill acc={} env={} fill_id={} order={} code={} side={} qty={} price={}",
        f.account.acc_id,
        f.account.env,
        d.fill_id,
        d.order_id_ex.as_deref().unwrap_or("-"),
        d.code,
        d.trd_side,
        d.qty,
        d.price
    );
}

/// Prints one `acc <acc_id> ...` line per account of the context.
pub fn print_accounts(accounts: &[Account]) {
    for a in accounts {
        let markets: Vec<String> = a.trd_market_auth.iter().map(|m| m.to_string()).collect();
        println!(
            "acc {} env={} markets={} firm={} type={} sim_type={} card={}",
            a.acc_id,
            a.env,
            markets.join(","),
            a.security_firm,
            a.acc_type,
            a.sim_acc_type,
            a.card_num.as_deref().unwrap_or("-")
        );
    }
}

/// Counts and labels the steps; the first failure ends the walk.
struct Steps {
    done: u32,
}

impl Steps {
    fn run<T>(&mut self, name: &str, r: ftapi::Result<T>) -> Result<T, String> {
        match r {
            Ok(v) => {
                self.done += 1;
                Ok(v)
            }
            Err(e) => Err(format!("step {name} failed: {e} (retType {}, errCode {})", e.ret_type(), e.err_code())),
        }
    }
}

/// A code to trade in paper mode for an account market, with a reference price and a
/// lot size (used only when the account holds no position to take a price from).
fn paper_instrument(market: TrdMarket) -> Option<(&'static str, f64, f64)> {
    Some(match market {
        TrdMarket::Hk => ("HK.00700", 380.0, 100.0),
        TrdMarket::Us => ("US.AAPL", 190.0, 1.0),
        TrdMarket::Cn => ("SH.600519", 1600.0, 100.0),
        TrdMarket::FuturesSimulateHk => ("HK.HSImain", 19500.0, 1.0),
        TrdMarket::FuturesSimulateUs => ("US.ESmain", 5200.0, 1.0),
        TrdMarket::FuturesSimulateSg => ("SG.CNmain", 12500.0, 1.0),
        _ => return None,
    })
}

/// A price on a valid tick for every market used here: HK stocks have price-dependent
/// ticks; whole numbers (or halves above 10) fit the others.
fn snap(code: &str, price: f64) -> f64 {
    if code.starts_with("HK.") && !code.ends_with("main") {
        let tick = match price {
            p if p < 0.25 => 0.001,
            p if p < 0.5 => 0.005,
            p if p < 10.0 => 0.01,
            p if p < 20.0 => 0.02,
            p if p < 100.0 => 0.05,
            p if p < 200.0 => 0.1,
            p if p < 500.0 => 0.2,
            p if p < 1000.0 => 0.5,
            p if p < 2000.0 => 1.0,
            p if p < 5000.0 => 2.0,
            _ => 5.0,
        };
        ((price / tick).floor() * tick * 1000.0).round() / 1000.0
    } else {
        price.floor().max(1.0)
    }
}

fn today_utc() -> String {
    let days =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() / 86_400).unwrap_or(0)
            as i64;
    // civil-from-days (proleptic Gregorian)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Runs the walk-through. Returns the number of steps, or the first failure.
pub fn run<K: ContextKind>(ctx: &TradeContext<K>, opts: &Options, futures: bool) -> Result<u32, String> {
    let mut st = Steps { done: 0 };
    let accounts = st.run("get_acc_list", ctx.get_acc_list())?;
    println!("step get_acc_list: {} account(s), firm {}", accounts.len(), ctx.security_firm());

    let has_real = accounts.iter().any(|a| a.is_real());
    match (&opts.password, has_real) {
        (Some(pwd), true) => {
            st.run("unlock_trade", ctx.unlock_trade(pwd, true))?;
            println!("step unlock_trade: unlocked");
        }
        (None, true) => println!("note: no --password, real trading stays locked"),
        (_, false) => println!("note: no real account, nothing to unlock"),
    }

    for env in [TrdEnv::Simulate, TrdEnv::Real] {
        let Some(acc) = accounts.iter().find(|a| a.env == env) else { continue };
        let sel = AccSel::env(env);
        let label = format!("[{env} {}]", acc.acc_id);
        let funds = st.run("accinfo_query", ctx.accinfo_query(FundsQuery::new().account(sel)))?;
        println!(
            "step accinfo_query {label}: total_assets={} cash={} power={} market_val={}",
            funds.total_assets, funds.cash, funds.power, funds.market_val
        );
        let positions = st.run("position_list_query", ctx.position_list_query(PositionQuery::new().account(sel)))?;
        println!("step position_list_query {label}: {} position(s)", positions.len());
        for p in &positions {
            println!("  position {} qty={} price={} pl={}", p.code, p.qty, p.price, p.pl_val);
        }
        let orders = st.run("order_list_query", ctx.order_list_query(OrderQuery::new().account(sel)))?;
        println!("step order_list_query {label}: {} order(s) today", orders.len());
        // OpenD answers no deal queries (today's or history) on paper accounts.
        if env == TrdEnv::Real {
            let deals = st.run("deal_list_query", ctx.deal_list_query(DealQuery::new().account(sel)))?;
            println!("step deal_list_query {label}: {} fill(s) today", deals.len());
        }
        let hist =
            st.run("history_order_list_query", ctx.history_order_list_query(HistoryOrderQuery::new().account(sel)))?;
        println!("step history_order_list_query {label}: {} order(s) in 90 days", hist.len());
        if env == TrdEnv::Real {
            let hist_deals =
                st.run("history_deal_list_query", ctx.history_deal_list_query(HistoryDealQuery::new().account(sel)))?;
            println!("step history_deal_list_query {label}: {} fill(s) in 90 days", hist_deals.len());
        }
        if env == TrdEnv::Real {
            let flows =
                st.run("get_acc_cash_flow", ctx.get_acc_cash_flow(CashFlowQuery::new(today_utc()).account(sel)))?;
            println!("step get_acc_cash_flow {label}: {} entr(ies) today", flows.len());
            if !futures {
                if let Some((code, _, _)) = paper_instrument(acc.first_market()) {
                    let ratios = st.run("get_margin_ratio", ctx.get_margin_ratio([code]))?;
                    for r in &ratios {
                        println!(
                            "step get_margin_ratio: {} long_permit={:?} im_long={:?}",
                            r.code, r.is_long_permit, r.im_long_ratio
                        );
                    }
                }
            }
        }
    }

    // The paper-order part: place far from the market, change, read back, fees, cancel.
    let paper = accounts.iter().filter(|a| a.is_simulate()).find(|a| match opts.order_market {
        Some(m) => a.has_market(m),
        None => a.trd_market_auth.iter().any(|m| paper_instrument(*m).is_some()),
    });
    let Some(paper) = paper else {
        println!("note: no paper account to place a test order with");
        return Ok(st.done);
    };
    let market = match opts.order_market {
        Some(m) => m,
        None => {
            paper.trd_market_auth.iter().copied().find(|m| paper_instrument(*m).is_some()).unwrap_or(TrdMarket::Unknown)
        }
    };
    let Some((code, reference, lot)) = paper_instrument(market) else {
        println!("note: no test instrument for market {market}");
        return Ok(st.done);
    };
    let sel = AccSel { acc_id: paper.acc_id, ..AccSel::env(TrdEnv::Simulate) };
    let want: SecurityCode = code.parse().map_err(|e| format!("{code}: {e}"))?;
    let positions = st.run("position_list_query", ctx.position_list_query(PositionQuery::new().account(sel)))?;
    let reference = positions.iter().find(|p| p.code == want && p.price > 0.0).map_or(reference, |p| p.price);
    let price = snap(code, reference * 0.9);

    let max = st.run(
        "acctradinginfo_query",
        ctx.acctradinginfo_query(MaxQtyQuery::new(OrderType::Normal, code, price).account(sel)),
    )?;
    println!(
        "step acctradinginfo_query {code} @ {price}: max_cash_buy={} max_position_sell={}",
        max.max_cash_buy, max.max_position_sell
    );

    let placed = st.run(
        "place_order",
        ctx.place_order(
            PlaceOrder::limit(code, TrdSide::Buy).qty(lot).price(price).account(sel).remark("ftapi example"),
        ),
    )?;
    let id = placed.order_id_ex.clone();
    println!(
        "step place_order: {code} buy {lot} @ {price} -> order {id} ({})",
        placed.order.as_ref().map_or("not read back".to_string(), |o| o.order_status.to_string())
    );
    std::thread::sleep(Duration::from_millis(200));
    let changed =
        st.run("modify_order", ctx.modify_order(ModifyOrder::change(&id).qty(lot * 2.0).price(price).account(sel)))?;
    println!("step modify_order: order {} now {} @ {price}", changed.order_id_ex, lot * 2.0);
    let listed = st.run("order_list_query", ctx.order_list_query(OrderQuery::new().order_id(&id).account(sel)))?;
    for o in &listed {
        println!(
            "step order_list_query: {} {} qty={} price={} status={}",
            o.order_id_ex, o.code, o.qty, o.price, o.order_status
        );
    }
    // The order-fee query is for real accounts only: OpenD refuses it on paper accounts.
    st.run("modify_order(cancel)", ctx.modify_order(ModifyOrder::cancel(&id).account(sel)))?;
    println!("step cancel: order {id} cancelled");
    Ok(st.done)
}

/// Stays connected for `secs`, while the handlers print.
pub fn linger(secs: u64) {
    if secs > 0 {
        println!("staying connected for {secs} s");
        std::thread::sleep(Duration::from_secs(secs));
    }
}
