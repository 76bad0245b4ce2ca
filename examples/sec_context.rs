//! The blocking securities trade context end to end: accounts, unlock, every query, a
//! paper order placed / changed / cancelled, pushes and connection changes printed.
//!
//! ```text
//! cargo run --example sec_context -- [--host H --port P] [--rsa-key FILE] [--market M]
//!                                    [--firm F] [--password PWD] [--secs N]
//!                                    [--websocket --key KEY [--ssl] [--ca FILE] [--insecure]]
//! ```
//! Without `--port` the OpenD simulator is started in this process (trade password
//! "123456"). `--market` is the context's `filter_trdmarket` (default HK), `--firm` its
//! security firm (default: adopt the first real account's), `--rsa-key` turns
//! encryption on with that key, `--secs` keeps the context open afterwards (default 0)
//! printing every connection change and push. `--websocket` connects to OpenD's
//! WebSocket port instead (the simulator's own one without `--port`), `wss://` with
//! `--ssl`.
//!
//! Output: one `acc <acc_id> ...` line per account of the context first, then `step`
//! lines, `push`/`conn` lines as they happen, and `done` at the end. Exits 0 only if
//! every step succeeded.

mod common;

use ftapi::context::SecTradeContext;
use ftapi::types::TrdMarket;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = common::Args::parse(&[])?;
    let market: TrdMarket = match args.get("market") {
        Some(m) => m.parse().map_err(|e| format!("--market: {e}"))?,
        None => TrdMarket::Hk,
    };
    let target = common::target(&args, false)?;
    let (builder, opts) = common::context_walk::configure(SecTradeContext::builder(), &args, &target)?;
    let ctx = builder.filter_trdmarket(market).open().map_err(|e| format!("open: {e}"))?;
    common::context_walk::start(&ctx)?;
    let steps = common::context_walk::run(&ctx, &opts, false)?;
    common::context_walk::linger(opts.secs);
    drop(ctx);
    drop(target);
    println!("done: {steps} steps succeeded");
    Ok(())
}
