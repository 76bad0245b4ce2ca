//! `opend-sim`: a simulated Futu / moomoo OpenD on TCP, for testing clients without a
//! real gateway. Run `opend-sim --help` for the options.
//!
//! The first line on stdout is always `listening on <ip>:<port>` (useful with
//! `--port 0`); with `--ws-port`, the second is `websocket on <ip>:<port>`. The process
//! then serves until it is killed.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use ftapi::codec::{AesMode, RsaKey};
use ftapi::sim::accounts::BrokerConfig;
use ftapi::sim::{Broker, QuoteConfig, SimServer};

const HELP: &str = "\
opend-sim: a simulated Futu / moomoo OpenD speaking OpenD's TCP API protocol.

USAGE:
    opend-sim [OPTIONS]

OPTIONS:
    --ip IP           Address to listen on (default 127.0.0.1).
    --port P          Port to listen on (default 11111, OpenD's API port; 0 picks a free
                      port, shown on the first output line).
    --rsa-key FILE    OpenD's RSA private key (PEM, PKCS#1 or PKCS#8). With it, clients
                      may RSA-encrypt InitConnect and ask for AES-encrypted bodies.
                      Without it nothing is ever encrypted.
    --aes cbc|ecb     AES mode handed to encrypted connections: cbc = AES-128-CBC with
                      an IV in the InitConnect reply (default), ecb = FTAES-ECB.
    --keepalive S     keepAliveInterval sent to clients, in seconds (default 10).
    --user-id N       loginUserID of the simulated OpenD (default 10000001).
    --accounts FILE   Accounts file (JSON, see examples/sim-accounts.json) for the
                      simulated broker: accounts, cash, positions, trade password,
                      ticker. Without it the broker's default accounts are used.
    --password PWD    Trade password the broker accepts (default 123456, or the file's).
    --tick-ms MS      Move prices every MS milliseconds (default 500, or the accounts
                      file's ticker; 0 = a still market, for tests that need fixed
                      prices). Prices follow the market's model at the market clock's
                      time; the market data samples them as often and pushes every
                      subscribed type.
    --sub-quota N     Market data: subscription quota, (security, SubType) pairs over
                      all connections (default 1000).
    --history-kl-quota N
                      Market data: securities whose K-line history may be requested per
                      30 days (default 300).
    --unsub-secs S    Market data: how long a subscription must last before it can be
                      cancelled (OpenD's rule: 60 seconds; shorter for tests).
    --no-quotes       No market data: every Qot_* request gets retType -1.
    --no-rate-limits  Switch off OpenD's request limits (place 15 / 30 s, modify 20 / 30 s
                      per account, unlock 10 / 30 s), e.g. for load tests.
    --ws-port P       Also serve OpenD's WebSocket port (the JavaScript SDK's) on P, on
                      the same IP (0 picks a free port, shown on the second output
                      line). It shares accounts, orders and pushes with the TCP port.
    --ws-key KEY      The WebSocket key clients must log in with (default: empty).
    --ws-cert FILE    Certificate chain (PEM) for wss://; needs --ws-private-key.
    --ws-private-key FILE
                      Its private key (PEM, unencrypted). Without TLS, the WebSocket
                      port only listens on a loopback address.
    --clock SPEC      The market clock: real (default: wall time), open (every market in
                      its regular session, for tests), or an RFC 3339 instant such as
                      2026-12-01T10:00:00+08:00, optionally followed by x<speed>
                      (2026-12-01T10:00:00+08:00x60 runs a minute per second).
    --relaxed         Permissive mode for fast tests: markets always open, fills before
                      the reply, no paper-trading limits, no minimum intervals nor query
                      limits, UTC time strings. Without it the simulator follows OpenD's
                      rules (docs/simulator.md).
    --fill-delay-ms MS  Delay between an order's acknowledgement and its fill (default 50).
    --push-flood N    After a connection's Trd_SubAccPush succeeds, send it N
                      Trd_UpdateOrder pushes for the first subscribed account as fast
                      as the socket takes them, then carry on normally (benchmarks).
    --max-connections N
                      Serve at most N connections at once, both ports together
                      (default 128, OpenD's limit); more are closed at once.
    --history PATH    Backtesting: replay recorded bars (a CSV file in the columns of the
                      Python SDK's request_history_kline, or a folder of *.csv; may be
                      repeated). The codes become instruments, the clock starts at the
                      first bar's session open (or at --clock <instant>[xN]) and skips
                      closed time, prices follow the bars and orders fill against them
                      (docs/backtesting.md). After the last bar it prints
                      `history ended at <instant>` and keeps serving.
    --report FILE     With --history: write the replay's HTML report to FILE at the end
                      of the history and when the process ends (--exit-at-end,
                      SIGINT, SIGTERM, SIGHUP).
    --exit-at-end     With --history: exit 0 when the history ends (after the report).
    --quote-flood N   After a connection's Qot_Sub for quotes (SubType Quote, with
                      pushes) succeeds, send it N Qot_UpdateBasicQot pushes for the
                      first subscribed security as fast as the socket takes them.
    --reply-delay-us N  Write every reply N microseconds after its request was read
                      (other connections and pushes are not held up; benchmarks).
    --verbose         Log connections, requests and faults to stderr.
    --help            Show this help and exit.

OUTPUT:
    The first line on stdout is exactly `listening on <ip>:<port>`; with --ws-port the
    second is exactly `websocket on <ip>:<port>`. The simulator then runs until it is
    killed. With --history, when the clock passes the last bar it prints exactly
    `history ended at <instant>` (RFC 3339, e.g. 2026-12-07T16:00:00+08:00).
";

/// Parsed command line.
struct Args {
    ip: IpAddr,
    port: u16,
    rsa_key: Option<PathBuf>,
    aes: AesMode,
    keepalive: i32,
    user_id: Option<u64>,
    accounts: Option<PathBuf>,
    password: Option<String>,
    tick_ms: Option<u64>,
    no_rate_limits: bool,
    ws_port: Option<u16>,
    ws_key: Option<String>,
    ws_cert: Option<PathBuf>,
    ws_private_key: Option<PathBuf>,
    clock: Option<ftapi::sim::calendar::ClockSpec>,
    relaxed: bool,
    fill_delay_ms: Option<u64>,
    verbose: bool,
    sub_quota: Option<i32>,
    history_kl_quota: Option<i32>,
    unsub_secs: Option<f64>,
    no_quotes: bool,
    push_flood: Option<usize>,
    max_connections: Option<usize>,
    history: Vec<PathBuf>,
    report: Option<PathBuf>,
    exit_at_end: bool,
    quote_flood: Option<usize>,
    reply_delay_us: Option<u64>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args {
        ip: IpAddr::from([127, 0, 0, 1]),
        port: ftapi::sim::config::DEFAULT_PORT,
        rsa_key: None,
        aes: AesMode::Cbc,
        keepalive: ftapi::sim::config::DEFAULT_KEEPALIVE_SECS,
        user_id: None,
        accounts: None,
        password: None,
        tick_ms: None,
        no_rate_limits: false,
        ws_port: None,
        ws_key: None,
        ws_cert: None,
        ws_private_key: None,
        clock: None,
        relaxed: false,
        fill_delay_ms: None,
        verbose: false,
        sub_quota: None,
        history_kl_quota: None,
        unsub_secs: None,
        no_quotes: false,
        push_flood: None,
        max_connections: None,
        history: Vec::new(),
        report: None,
        exit_at_end: false,
        quote_flood: None,
        reply_delay_us: None,
    };
    while let Some(arg) = it.next() {
        // Accept both `--opt value` and `--opt=value`.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--help" | "-h" => return Ok(None),
            "--verbose" | "-v" => a.verbose = true,
            "--ip" => a.ip = value()?.parse().map_err(|e| format!("--ip: {e}"))?,
            "--port" => a.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--rsa-key" => a.rsa_key = Some(PathBuf::from(value()?)),
            "--aes" => {
                a.aes = match value()?.to_ascii_lowercase().as_str() {
                    "cbc" => AesMode::Cbc,
                    "ecb" | "ftaes-ecb" | "ftaes_ecb" => AesMode::FtAesEcb,
                    other => return Err(format!("--aes: expected cbc or ecb, got {other:?}")),
                }
            }
            "--keepalive" => {
                let s: i32 = value()?.parse().map_err(|e| format!("--keepalive: {e}"))?;
                if s <= 0 {
                    return Err("--keepalive must be a positive number of seconds".into());
                }
                a.keepalive = s;
            }
            "--user-id" => a.user_id = Some(value()?.parse().map_err(|e| format!("--user-id: {e}"))?),
            "--accounts" => a.accounts = Some(PathBuf::from(value()?)),
            "--password" => a.password = Some(value()?),
            "--tick-ms" => a.tick_ms = Some(value()?.parse().map_err(|e| format!("--tick-ms: {e}"))?),
            "--no-rate-limits" => a.no_rate_limits = true,
            "--ws-port" => a.ws_port = Some(value()?.parse().map_err(|e| format!("--ws-port: {e}"))?),
            "--ws-key" => a.ws_key = Some(value()?),
            "--ws-cert" => a.ws_cert = Some(PathBuf::from(value()?)),
            "--ws-private-key" => a.ws_private_key = Some(PathBuf::from(value()?)),
            "--clock" => a.clock = Some(value()?.parse().map_err(|e| format!("--clock: {e}"))?),
            "--relaxed" => a.relaxed = true,
            "--fill-delay-ms" => a.fill_delay_ms = Some(value()?.parse().map_err(|e| format!("--fill-delay-ms: {e}"))?),
            "--sub-quota" => a.sub_quota = Some(value()?.parse().map_err(|e| format!("--sub-quota: {e}"))?),
            "--history-kl-quota" => {
                a.history_kl_quota = Some(value()?.parse().map_err(|e| format!("--history-kl-quota: {e}"))?)
            }
            "--unsub-secs" => {
                let s: f64 = value()?.parse().map_err(|e| format!("--unsub-secs: {e}"))?;
                if !(s.is_finite() && s >= 0.0) {
                    return Err("--unsub-secs must be a number of seconds >= 0".into());
                }
                a.unsub_secs = Some(s);
            }
            "--no-quotes" => a.no_quotes = true,
            "--push-flood" => a.push_flood = Some(value()?.parse().map_err(|e| format!("--push-flood: {e}"))?),
            "--max-connections" => {
                a.max_connections = Some(value()?.parse().map_err(|e| format!("--max-connections: {e}"))?)
            }
            "--history" => a.history.push(PathBuf::from(value()?)),
            "--report" => a.report = Some(PathBuf::from(value()?)),
            "--exit-at-end" => a.exit_at_end = true,
            "--quote-flood" => a.quote_flood = Some(value()?.parse().map_err(|e| format!("--quote-flood: {e}"))?),
            "--reply-delay-us" => {
                a.reply_delay_us = Some(value()?.parse().map_err(|e| format!("--reply-delay-us: {e}"))?)
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    if a.ws_port.is_none() && (a.ws_key.is_some() || a.ws_cert.is_some() || a.ws_private_key.is_some()) {
        return Err("--ws-key, --ws-cert and --ws-private-key need --ws-port".into());
    }
    if a.history.is_empty() && (a.report.is_some() || a.exit_at_end) {
        return Err("--report and --exit-at-end need --history".into());
    }
    if a.ws_cert.is_some() != a.ws_private_key.is_some() {
        return Err("--ws-cert and --ws-private-key go together".into());
    }
    Ok(Some(a))
}

/// The binary's default `--tick-ms`.
const DEFAULT_TICK_MS: u64 = 500;

/// A minimal stderr logger for `--verbose`.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            eprintln!(
                "{}.{:03} {:<5} {}: {}",
                t.as_secs(),
                t.subsec_millis(),
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Builds the trade handler behind every `Trd_*` request: the simulated broker, with
/// the accounts of `--accounts FILE` or its default accounts; and the settings of the
/// market data served over its prices.
fn build_trade_handler(
    args: &Args,
    replay: Option<&ftapi::sim::replay::Replay>,
) -> Result<Option<(Arc<Broker>, QuoteConfig)>, String> {
    let mut config = match &args.accounts {
        Some(path) => BrokerConfig::from_json_file(path).map_err(|e| format!("--accounts: {e}"))?,
        None => BrokerConfig::default(),
    };
    if let Some(pwd) = &args.password {
        config = config.with_trade_password(pwd.clone());
    }
    match args.tick_ms {
        Some(ms) => config = config.with_tick_interval_ms(ms),
        // The market moves by default (a still market looks like broken pushes).
        None if config.tick_interval_ms == 0 => config = config.with_tick_interval_ms(DEFAULT_TICK_MS),
        None => {}
    }
    if args.no_rate_limits {
        config = config.with_rate_limits(false);
    }
    if let Some(clock) = args.clock {
        config = config.with_clock(clock);
    }
    if args.relaxed {
        config = config.with_relaxed(true);
    }
    if let Some(ms) = args.fill_delay_ms {
        config = config.with_fill_delay_ms(ms);
    }
    let mut quote = QuoteConfig { seed: config.seed, tick_ms: config.tick_interval_ms, ..QuoteConfig::default() };
    if let Some(n) = args.sub_quota {
        quote.sub_quota = n;
    }
    if let Some(n) = args.history_kl_quota {
        quote.history_kl_quota = n;
    }
    if let Some(s) = args.unsub_secs {
        quote.unsub_min = std::time::Duration::from_secs_f64(s);
    }
    if let Some(r) = replay {
        // A replay: the codes become instruments, on the replay's clock; quotes and
        // pushes follow the replayed price every 100 ms unless --tick-ms says otherwise.
        config = r.configure(config);
        if args.tick_ms.is_none() {
            quote.tick_ms = 100;
        }
        let clock = r.clock(args.clock)?;
        let broker = Broker::with_clock(config, clock).map_err(|e| format!("--accounts: {e}"))?;
        r.attach(&broker);
        return Ok(Some((Arc::new(broker), quote)));
    }
    let broker = Broker::new(config).map_err(|e| format!("--accounts: {e}"))?;
    Ok(Some((Arc::new(broker), quote)))
}

fn run(args: Args) -> Result<(), String> {
    // --history is loaded completely before anything listens.
    let replay = if args.history.is_empty() {
        None
    } else {
        Some(ftapi::sim::replay::Replay::load(&args.history).map_err(|e| format!("--history: {e}"))?)
    };
    let mut b = SimServer::builder().ip(args.ip).port(args.port).aes_mode(args.aes).keepalive_interval(args.keepalive);
    if let Some(id) = args.user_id {
        b = b.login_user_id(id);
    }
    if let Some(path) = &args.rsa_key {
        let pem = std::fs::read_to_string(path).map_err(|e| format!("--rsa-key {}: {e}", path.display()))?;
        let key = RsaKey::from_pem(&pem).map_err(|e| format!("--rsa-key {}: {e}", path.display()))?;
        b = b.rsa_key(key);
    }
    if let Some(n) = args.max_connections {
        b = b.max_connections(n);
    }
    if let Some(n) = args.push_flood {
        b = b.push_flood(n);
    }
    if let Some(n) = args.quote_flood {
        b = b.quote_flood(n);
    }
    if let Some(us) = args.reply_delay_us {
        b = b.reply_delay(std::time::Duration::from_micros(us));
    }
    let mut replay_broker = None;
    if let Some((broker, quote)) = build_trade_handler(&args, replay.as_ref())? {
        replay_broker = Some(broker.clone());
        b = b.trade_handler(broker).quote_config(quote);
    }
    if args.no_quotes {
        b = b.no_quote_handler();
    }
    if let Some(port) = args.ws_port {
        b = b.websocket(port, args.ws_key.as_deref().unwrap_or(""));
        if let (Some(cert), Some(key)) = (&args.ws_cert, &args.ws_private_key) {
            let cert_pem = std::fs::read_to_string(cert).map_err(|e| format!("--ws-cert {}: {e}", cert.display()))?;
            let key_pem =
                std::fs::read_to_string(key).map_err(|e| format!("--ws-private-key {}: {e}", key.display()))?;
            b = b.websocket_tls_pem(&cert_pem, &key_pem);
        }
    }
    let server = b.start().map_err(|e| format!("cannot listen on {}:{}: {e}", args.ip, args.port))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", server.local_addr()).map_err(|e| e.to_string())?;
        if let Some(ws) = server.ws_addr() {
            writeln!(out, "websocket on {ws}").map_err(|e| e.to_string())?;
        }
        out.flush().map_err(|e| e.to_string())?;
    }
    if let (Some(replay), Some(broker)) = (replay, replay_broker) {
        return replay_cli::serve(replay, broker, args.report, args.exit_at_end);
    }
    // Serve until killed.
    loop {
        std::thread::park();
    }
}

/// `--history`: drives the broker along the tape, prints `history ended at <instant>`,
/// writes `--report` at the end of the history and when the process ends (with
/// `--exit-at-end`, or on SIGINT, SIGTERM or SIGHUP; once the replay runs, no error
/// ends the process, and SIGKILL cannot be caught). Each way out writes the report once and exits under one lock, so
/// two ways out at the same moment cannot write the page twice or interleave.
mod replay_cli {
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::time::Duration;

    use ftapi::sim::replay::{Replay, ReplayRun};
    use ftapi::sim::Broker;

    static SIGNALLED: AtomicBool = AtomicBool::new(false);
    /// Held by the one way out that writes the last report and exits.
    static EXITING: Mutex<()> = Mutex::new(());

    fn exiting() -> MutexGuard<'static, ()> {
        EXITING.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(unix)]
    extern "C" fn on_signal(_: libc::c_int) {
        SIGNALLED.store(true, Ordering::SeqCst);
    }

    fn install_signals() {
        #[cfg(unix)]
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::signal(sig, on_signal as *const () as libc::sighandler_t);
            }
        }
    }

    fn write(run: &ReplayRun, report: Option<&Path>) {
        if let Some(path) = report {
            if let Err(e) = run.write_report(path) {
                eprintln!("opend-sim: --report {}: {e}", path.display());
            }
        }
    }

    /// A signal's way out: writes the report (the replay up to now) and exits 0. If the
    /// end of the history is being handled at that moment, it waits for it (which may
    /// exit the process itself, with `--exit-at-end`).
    fn finish(run: &ReplayRun, report: Option<&Path>) -> ! {
        let _once = exiting();
        write(run, report);
        let _ = std::io::stdout().flush();
        std::process::exit(0)
    }

    pub fn serve(
        replay: Replay,
        broker: Arc<Broker>,
        report: Option<PathBuf>,
        exit_at_end: bool,
    ) -> Result<(), String> {
        install_signals();
        let end_report = report.clone();
        let on_end = Box::new(move |run: &ReplayRun| {
            let at = run.ended().unwrap_or_default();
            if exit_at_end {
                // The report first, then the line (scripts wait for the line and read
                // the page), then the exit: all under the exit lock.
                let _once = exiting();
                write(run, end_report.as_deref());
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "history ended at {}", run.replay().format_instant(at));
                let _ = out.flush();
                std::process::exit(0);
            }
            {
                // Not while a signal's way out is writing the page.
                let _busy = exiting();
                write(run, end_report.as_deref());
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "history ended at {}", run.replay().format_instant(at));
            let _ = out.flush();
        });
        let run = replay.start(broker, Duration::from_millis(10), Some(on_end)).map_err(|e| e.to_string())?;
        loop {
            std::thread::sleep(Duration::from_millis(50));
            if SIGNALLED.load(Ordering::SeqCst) {
                finish(&run, report.as_deref());
            }
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("opend-sim: {e}");
            return ExitCode::from(2);
        }
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(if args.verbose { log::LevelFilter::Debug } else { log::LevelFilter::Warn });
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opend-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
