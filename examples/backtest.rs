//! A moving-average crossover bot on `QuoteContext` + `SecTradeContext`, backtested by
//! `opend-sim --history` (the bot is written for a real OpenD and runs unchanged).
//!
//! ```text
//! opend-sim --port 11111 --history tests/data/history_2d.csv \
//!     --clock 2026-12-04T09:30:00+08:00x1200 --report out.html --exit-at-end &
//! cargo run --example backtest -- [--host H --port P] [--code HK.00700] [--qty 100] [--fast 5 --slow 20]
//! ```
//! Without `--port` the replay runs in this process (`--history FILE`, default the
//! shipped tests/data/history_2d.csv, at `--speed 1200`). On the paper account, every
//! simulated minute it compares the means of the last `--fast` and `--slow` one-minute
//! closes: a cross upwards buys `--qty` at the last price, a cross downwards sells what
//! it holds. It stops when the simulated clock stops (the end of the history), then
//! prints exactly:
//!
//! ```text
//! trades <n>
//! pnl <amount> <currency> (<start> -> <end> total assets)
//! ```
//! Exits 1 naming the failed step.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftapi::context::{AccSel, FundsQuery, PlaceOrder, QuoteContext, SecTradeContext};
use ftapi::sim::accounts::BrokerConfig;
use ftapi::sim::calendar::ClockSpec;
use ftapi::sim::replay::Replay;
use ftapi::sim::{Broker, QuoteConfig, SimServer};
use ftapi::types::{Currency, KLType, RehabType, SubType, TrdEnv, TrdMarket, TrdSide};

/// A replay of `history` in this process at `speed`, from its first session open.
fn in_process(history: PathBuf, speed: f64) -> Result<(SimServer, ftapi::sim::replay::ReplayRun), String> {
    let replay = Replay::load(&[history]).map_err(|e| e.to_string())?;
    let first = replay.tape().first_start().ok_or("empty history")? as f64;
    let clock = replay.clock(Some(ClockSpec::At { start: first, speed }))?;
    let broker =
        Arc::new(Broker::with_clock(replay.configure(BrokerConfig::default()), clock).map_err(|e| e.to_string())?);
    replay.attach(&broker);
    let server = SimServer::builder()
        .port(0)
        .trade_handler(broker.clone())
        .quote_config(QuoteConfig { tick_ms: 100, ..QuoteConfig::default() })
        .start()
        .map_err(|e| e.to_string())?;
    let run = replay.start(broker, Duration::from_millis(10), None).map_err(|e| e.to_string())?;
    Ok((server, run))
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn run() -> Result<(), String> {
    let args = common::Args::parse(&[])?;
    let code = args.get("code").unwrap_or("HK.00700").to_string();
    let qty: f64 = args.parse_or("qty", 100.0)?;
    let fast: usize = args.parse_or("fast", 5)?;
    let slow: usize = args.parse_or("slow", 20)?;
    if fast == 0 || slow <= fast || slow > 1000 {
        return Err("need 0 < --fast < --slow <= 1000".into());
    }
    let mut _local = None;
    let (host, port) = match args.get("port") {
        Some(_) => (args.get("host").unwrap_or("127.0.0.1").to_string(), args.parse_or("port", 11111u16)?),
        None => {
            let history = PathBuf::from(args.get("history").unwrap_or("tests/data/history_2d.csv"));
            let (server, run) = in_process(history, args.parse_or("speed", 1200.0)?)?;
            let port = server.local_addr().port();
            _local = Some((server, run));
            ("127.0.0.1".to_string(), port)
        }
    };
    let quote = QuoteContext::builder().host(host.clone()).port(port).open().map_err(|e| format!("quote: {e}"))?;
    let trade = SecTradeContext::builder()
        .host(host)
        .port(port)
        .filter_trdmarket(TrdMarket::Hk)
        .open()
        .map_err(|e| format!("trade: {e}"))?;
    quote.subscribe([code.as_str()], [SubType::Quote, SubType::K1m]).map_err(|e| format!("subscribe: {e}"))?;
    let paper = AccSel::env(TrdEnv::Simulate);
    let funds = |what: &str| {
        trade
            .accinfo_query(FundsQuery { currency: Currency::Hkd, acc: paper, ..FundsQuery::default() })
            .map(|f| f.total_assets)
            .map_err(|e| format!("{what}: {e}"))
    };
    let start_assets = funds("funds at the start")?;
    let mut held = 0.0;
    let mut trades = 0;
    let mut last_clock = 0i64;
    let mut still_since = Instant::now();
    let mut last_bar = String::new();
    // The end: the simulated clock stopped (or the simulator went away).
    while let Ok(state) = quote.get_global_state() {
        let now = state.time;
        if now != last_clock {
            last_clock = now;
            still_since = Instant::now();
        } else if still_since.elapsed() > Duration::from_secs(2) {
            break;
        }
        let k = match quote.get_cur_kline(&code, slow as i32 + 1, KLType::Min1, RehabType::None) {
            Ok(k) => k,
            Err(_) => break,
        };
        // Decide once per finished bar (the last K-line is the bar in progress).
        if k.len() > slow && k[k.len() - 2].time_key != last_bar {
            last_bar = k[k.len() - 2].time_key.clone();
            let closes: Vec<f64> = k[..k.len() - 1].iter().map(|b| b.close).collect();
            let (f_now, s_now) = (mean(&closes[closes.len() - fast..]), mean(&closes[closes.len() - slow..]));
            let last = k[k.len() - 1].close;
            let side = if f_now > s_now && held == 0.0 {
                Some(TrdSide::Buy)
            } else if f_now < s_now && held > 0.0 {
                Some(TrdSide::Sell)
            } else {
                None
            };
            if let Some(side) = side {
                let mut order = PlaceOrder::limit(code.clone(), side).qty(qty).price(last);
                order.acc = paper;
                if trade.place_order(order).is_ok() {
                    trades += 1;
                    held = if side == TrdSide::Buy { qty } else { 0.0 };
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let end_assets = funds("funds at the end")?;
    println!("trades {trades}");
    println!("pnl {:.2} HKD ({start_assets:.2} -> {end_assets:.2} total assets)", end_assets - start_assets);
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("backtest: {e}");
        std::process::exit(1);
    }
}
