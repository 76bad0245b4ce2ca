//! Records history K-lines from an OpenD (your real one, or any simulator) into the CSV
//! format `opend-sim --history` replays (the columns of the Python SDK's
//! `request_history_kline` DataFrame).
//!
//! ```text
//! cargo run --example record -- [--host H --port P] --codes HK.00700,US.AAPL \
//!     --start YYYY-MM-DD --end YYYY-MM-DD [--ktype K_1M] [--autype None|qfq|hfq] --out FILE.csv
//! ```
//! Prints one line per code, exactly `recorded <code> <n> bars`, then
//! `wrote <n> bars to <FILE>`. K-lines are unadjusted (`--autype None`) unless told
//! otherwise, so a replay trades at the prices of the day. Exits 1 naming the failed
//! step. docs/backtesting.md explains the workflow.

mod common;

use std::io::Write;
use std::path::Path;

use ftapi::context::{HistoryKlQuery, QuoteContext};
use ftapi::types::{KLType, KLine, RehabType};

/// The CSV header written (the Python SDK's DataFrame columns).
pub const HEADER: &str =
    "code,name,time_key,open,close,high,low,pe_ratio,turnover_rate,volume,turnover,change_rate,last_close";

/// One CSV row for a K-line.
pub fn csv_row(name: &str, k: &KLine) -> String {
    let quoted =
        if name.contains([',', '"', '\n']) { format!("\"{}\"", name.replace('"', "\"\"")) } else { name.to_string() };
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{}",
        k.code,
        quoted,
        k.time_key,
        k.open,
        k.close,
        k.high,
        k.low,
        k.pe_ratio,
        k.turnover_rate,
        k.volume,
        k.turnover,
        k.change_rate,
        k.last_close
    )
}

/// Records `codes` from the OpenD at `host:port` into `out`; calls `progress` with each
/// code and its bar count. Returns the number of bars written.
#[allow(clippy::too_many_arguments)]
pub fn record(
    host: &str,
    port: u16,
    codes: &[String],
    start: &str,
    end: &str,
    ktype: KLType,
    autype: RehabType,
    out: &Path,
    mut progress: impl FnMut(&str, usize),
) -> Result<usize, String> {
    let ctx = QuoteContext::builder().host(host).port(port).open().map_err(|e| format!("connect: {e}"))?;
    let mut text = String::from(HEADER);
    text.push('\n');
    let mut total = 0;
    for code in codes {
        let name = ctx
            .get_market_snapshot([code.as_str()])
            .ok()
            .and_then(|s| s.into_iter().next())
            .map(|s| s.name)
            .unwrap_or_default();
        let q = HistoryKlQuery::new(code.clone(), start, end).ktype(ktype).autype(autype);
        let bars = ctx.request_history_kline_all(q, 100_000).map_err(|e| format!("history of {code}: {e}"))?;
        for k in bars.iter().filter(|k| !k.is_blank) {
            text.push_str(&csv_row(&name, k));
            text.push('\n');
            total += 1;
        }
        progress(code, bars.len());
    }
    let mut f = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(total)
}

fn run() -> Result<(), String> {
    let args = common::Args::parse(&[])?;
    let host = args.get("host").unwrap_or("127.0.0.1").to_string();
    let port: u16 = args.parse_or("port", 11111)?;
    let codes: Vec<String> = args
        .get("codes")
        .ok_or("--codes is required (e.g. HK.00700,US.AAPL)")?
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let start = args.get("start").ok_or("--start YYYY-MM-DD is required")?;
    let end = args.get("end").ok_or("--end YYYY-MM-DD is required")?;
    let ktype: KLType = args.get("ktype").unwrap_or("K_1M").parse().map_err(|e| format!("--ktype: {e}"))?;
    let autype: RehabType = args.get("autype").unwrap_or("None").parse().map_err(|e| format!("--autype: {e}"))?;
    let out = args.get("out").ok_or("--out FILE.csv is required")?;
    let n = record(&host, port, &codes, start, end, ktype, autype, Path::new(out), |code, n| {
        println!("recorded {code} {n} bars");
    })?;
    println!("wrote {n} bars to {out}");
    Ok(())
}

#[allow(dead_code)]
fn main() {
    if let Err(e) = run() {
        eprintln!("record: {e}");
        std::process::exit(1);
    }
}
