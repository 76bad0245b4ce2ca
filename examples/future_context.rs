//! The blocking futures trade context end to end: accounts, unlock, every query, a
//! paper futures order placed / changed / cancelled, pushes and connection changes
//! printed.
//!
//! ```text
//! cargo run --example future_context -- [--host H --port P] [--rsa-key FILE] [--market M]
//!                                       [--firm F] [--password PWD] [--secs N]
//! ```
//! Without `--port` the OpenD simulator is started in this process (trade password
//! "123456"). A futures context always asks for the FUTURES accounts; `--market`
//! chooses the paper account for the order part by its market (e.g.
//! `FUTURES_SIMULATE_US`; default: the first paper futures account). `--firm`,
//! `--rsa-key`, `--password` and `--secs` are as in the `sec_context` example.
//!
//! Output: one `acc <acc_id> ...` line per account of the context first, then `step`
//! lines, `push`/`conn` lines as they happen, and `done` at the end. Exits 0 only if
//! every step succeeded.

mod common;

use ftapi::context::FutureTradeContext;
use ftapi::types::TrdMarket;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = common::Args::parse(&[])?;
    let order_market: Option<TrdMarket> = match args.get("market") {
        Some(m) => Some(m.parse().map_err(|e| format!("--market: {e}"))?),
        None => None,
    };
    let target = common::target(&args, false)?;
    let (builder, mut opts) = common::context_walk::configure(FutureTradeContext::builder(), &args, &target)?;
    opts.order_market = order_market;
    let ctx = builder.open().map_err(|e| format!("open: {e}"))?;
    common::context_walk::start(&ctx)?;
    let steps = common::context_walk::run(&ctx, &opts, true)?;
    common::context_walk::linger(opts.secs);
    drop(ctx);
    drop(target);
    println!("done: {steps} steps succeeded");
    Ok(())
}
