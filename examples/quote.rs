//! Market data in a few calls: subscribe to a security, read its quote, order book,
//! daily K-lines and snapshot, then print the quote pushes for a few seconds.
//!
//! ```text
//! cargo run --example quote -- [--host H --port P] [--rsa-key FILE] [--code HK.00700] [--secs N]
//! ```
//! Without `--port` the OpenD simulator runs in this process (its prices move every
//! 200 ms, so pushes flow). With `--rsa-key` the connection is encrypted (and the
//! in-process simulator uses that key). It subscribes `--code` to QUOTE, ORDER_BOOK and
//! TICKER, then prints exactly these lines:
//!
//! ```text
//! quote <code> last=<price> open=<price> high=<price> low=<price> volume=<n>
//! orderbook <code> bid=<price>x<volume> ask=<price>x<volume>
//! kline <code> K_DAY n=<count> last_close=<price>
//! snapshot <code> last=<price> lot=<lot_size>
//! push quote <code> last=<price>          (one per quote push during --secs, default 3)
//! ```
//! `kline` covers the last 30 days (every page), `last_close` is the close of the latest
//! K-line. Exits 0 only if every step succeeded and at least one quote push arrived;
//! otherwise names the failed step on stderr.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ftapi::context::{HistoryKlQuery, QuoteContext};
use ftapi::sim::market::QuoteConfig;
use ftapi::sim::{accounts::BrokerConfig, Broker, SimServer};
use ftapi::types::SubType;
use ftapi::Error;

/// How often the in-process simulator moves prices and pushes.
const SIM_TICK_MS: u64 = 200;

/// A failed step: its name and why.
struct StepError(String, String);

fn step<T>(name: &str, r: Result<T, Error>) -> Result<T, StepError> {
    r.map_err(|e| StepError(name.to_string(), e.to_string()))
}

fn arg_err(e: impl std::fmt::Display) -> StepError {
    StepError("arguments".into(), e.to_string())
}

fn main() {
    if let Err(StepError(name, why)) = run() {
        eprintln!("quote: step '{name}' failed: {why}");
        std::process::exit(1);
    }
}

/// `YYYY-MM-DD` of a day count since 1970-01-01.
fn ymd(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{:04}-{m:02}-{d:02}", yoe + era * 400 + i64::from(m <= 2))
}

/// Starts the simulator in this process, its prices moving every [`SIM_TICK_MS`].
fn start_sim(rsa_key: Option<&ftapi::codec::RsaKey>) -> Result<SimServer, String> {
    let config = BrokerConfig::default().with_tick_interval_ms(SIM_TICK_MS);
    let seed = config.seed;
    let broker = Arc::new(Broker::new(config).map_err(|e| e.to_string())?);
    let mut b = SimServer::builder().port(0).trade_handler(broker).quote_config(QuoteConfig {
        seed,
        tick_ms: SIM_TICK_MS,
        ..QuoteConfig::default()
    });
    if let Some(k) = rsa_key {
        b = b.rsa_key(k.clone());
    }
    b.start().map_err(|e| format!("starting the simulator: {e}"))
}

fn run() -> Result<(), StepError> {
    let args = common::Args::parse(&[]).map_err(arg_err)?;
    let code = args.get("code").unwrap_or("HK.00700").to_string();
    let secs: f64 = args.parse_or("secs", 3.0).map_err(arg_err)?;
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(arg_err("--secs must be a number of seconds >= 0"));
    }
    let rsa_key = match args.get("rsa-key") {
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|e| arg_err(format!("--rsa-key {path}: {e}")))?;
            Some(ftapi::codec::RsaKey::from_pem(&pem).map_err(|e| arg_err(format!("--rsa-key {path}: {e}")))?)
        }
        None => None,
    };
    let host = args.get("host").unwrap_or("127.0.0.1").to_string();
    let (host, port, _sim) = match args.get("port") {
        Some(p) => (host, p.parse::<u16>().map_err(|_| arg_err(format!("--port: cannot parse {p:?}")))?, None),
        None => {
            let sim = start_sim(rsa_key.as_ref()).map_err(|e| StepError("simulator".into(), e))?;
            let addr = sim.local_addr();
            (addr.ip().to_string(), addr.port(), Some(sim))
        }
    };

    // Connect; set the push handler before subscribing so that the first push counts.
    let mut builder = QuoteContext::builder().host(host).port(port).encrypt(Some(rsa_key.is_some()));
    if let Some(k) = rsa_key {
        builder = builder.rsa_key(k);
    }
    let ctx = step("connect", builder.open())?;
    let (push_tx, push_rx) = crossbeam_channel::unbounded();
    ctx.set_quote_handler(move |q| {
        let _ = push_tx.send((q.code.clone(), q.last_price));
    });
    step("subscribe", ctx.subscribe([code.as_str()], [SubType::Quote, SubType::OrderBook, SubType::Ticker]))?;

    let quotes = step("get_stock_quote", ctx.get_stock_quote([code.as_str()]))?;
    let q = quotes
        .iter()
        .find(|q| q.code == code)
        .ok_or_else(|| StepError("get_stock_quote".into(), format!("no quote for {code}")))?;
    println!(
        "quote {} last={:?} open={:?} high={:?} low={:?} volume={}",
        q.code, q.last_price, q.open_price, q.high_price, q.low_price, q.volume
    );

    let book = step("get_order_book", ctx.get_order_book(&code, 10))?;
    let (Some(bid), Some(ask)) = (book.bid.first(), book.ask.first()) else {
        return Err(StepError("get_order_book".into(), format!("an empty side in the order book of {code}")));
    };
    println!("orderbook {} bid={:?}x{} ask={:?}x{}", book.code, bid.price, bid.volume, ask.price, ask.volume);

    let today = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64 / 86_400).unwrap_or(0);
    let query = HistoryKlQuery::new(code.as_str(), ymd(today - 30), ymd(today));
    let klines = step("request_history_kline", ctx.request_history_kline_all(query, 100))?;
    let last = klines
        .last()
        .ok_or_else(|| StepError("request_history_kline".into(), format!("no K-lines for {code} in 30 days")))?;
    println!("kline {code} K_DAY n={} last_close={:?}", klines.len(), last.close);

    let snaps = step("get_market_snapshot", ctx.get_market_snapshot([code.as_str()]))?;
    let s = snaps
        .iter()
        .find(|s| s.code == code)
        .ok_or_else(|| StepError("get_market_snapshot".into(), format!("no snapshot for {code}")))?;
    println!("snapshot {} last={:?} lot={}", s.code, s.last_price, s.lot_size);

    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut pushes = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match push_rx.recv_timeout(left) {
            Ok((c, last)) => {
                println!("push quote {c} last={last:?}");
                pushes += 1;
            }
            Err(_) => break,
        }
    }
    if pushes == 0 {
        return Err(StepError("push quote".into(), format!("no quote push within {secs} s")));
    }
    ctx.close();
    Ok(())
}
