//! Interop with the official JavaScript SDK (npm `futu-api`, pinned in
//! `tests/interop/js/package-lock.json`): `tests/interop/js/ws_trade.mjs` (trading) and
//! `tests/interop/js/ws_quote.mjs` (market data) drive the SDK's WebSocket client under
//! Node against `opend-sim --ws-port 0`.
//!
//! Needs `node` and the packages (`npm ci` in `tests/interop/js`, which `.ci/run` does),
//! so a plain `cargo test` ignores these tests; run them with
//! `cargo test --test interop_js -- --include-ignored`. Run so, they fail when node or
//! the packages are missing. Every process runs under a hard timeout and is killed on
//! drop. See `tests/interop/README.md`.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the simulator may take to print its two address lines.
const SIM_START_TIMEOUT: Duration = Duration::from_secs(60);
/// Hard limit for one script run (the script's own watchdog is 60 s).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);
const KEY: &str = "interop-ws-key";

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("interop").join("js")
}

/// Panics (saying what is missing) unless node and the packages are there: these tests
/// only run when asked for (`--include-ignored`), and then they must not pass without
/// running.
fn require_node() {
    let why = match Command::new("node").arg("--version").output() {
        Err(e) => Some(format!("cannot run node: {e}")),
        Ok(out) if !out.status.success() => Some("node --version failed".to_string()),
        Ok(_) if !js_dir().join("node_modules").join("futu-api").join("main.js").exists() => {
            Some("tests/interop/js/node_modules/futu-api is missing (run npm ci in tests/interop/js)".to_string())
        }
        Ok(_) => None,
    };
    if let Some(why) = why {
        panic!("the JS interop tests need node and futu-api: {why}");
    }
}

/// A process killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `opend-sim` with a WebSocket port; returns it and the WebSocket port.
fn start_sim() -> (Guard, u16) {
    start_sim_with(&[])
}

/// [`start_sim`] with more `opend-sim` arguments.
fn start_sim_with(extra: &[&str]) -> (Guard, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_opend-sim"))
        .args(["--port", "0", "--ws-port", "0", "--ws-key", KEY, "--clock", "open", "--tick-ms", "0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start opend-sim");
    let stdout = child.stdout.take().expect("stdout");
    let guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let second = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = tx.send((first, second));
        for _ in lines {}
    });
    let (first, second) = rx.recv_timeout(SIM_START_TIMEOUT).expect("opend-sim printed its addresses");
    assert!(first.starts_with("listening on 127.0.0.1:"), "first line {first:?}");
    let port = second
        .strip_prefix("websocket on 127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("second line {second:?} is not `websocket on <ip>:<port>`"));
    (guard, port)
}

/// Runs the trade script with `args`; returns its exit success and its output.
fn run_script(port: u16, args: &[&str]) -> (bool, String) {
    run_named("ws_trade.mjs", port, args)
}

/// Runs `script` with `args`; returns its exit success and its output.
fn run_named(script: &str, port: u16, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("node");
    cmd.current_dir(js_dir())
        .arg(script)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--key", KEY])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Guard(cmd.spawn().expect("start node"));
    let mut stdout = child.0.stdout.take().expect("stdout");
    let mut stderr = child.0.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        let _ = tx.send((0, s));
    });
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        let _ = tx2.send((1, s));
    });
    let mut out = [String::new(), String::new()];
    for _ in 0..2 {
        let (i, s) = rx.recv_timeout(SCRIPT_TIMEOUT).expect("the script finished in time");
        out[i] = s;
    }
    let status = child.0.wait().expect("wait for node");
    (status.success(), format!("--- stdout\n{}--- stderr\n{}", out[0], out[1]))
}

#[test]
#[ignore = "needs node and futu-api (npm ci in tests/interop/js): see tests/interop/README.md"]
fn js_sdk_trades_over_websocket() {
    require_node();
    let (_sim, port) = start_sim();
    let proto = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto").join("InitWebSocket.proto");
    let (ok, out) = run_script(port, &["--proto", proto.to_str().expect("utf-8 path")]);
    println!("{out}");
    assert!(ok, "the JS SDK script failed:\n{out}");
    for line in [
        "step: proto/InitWebSocket.proto matches the SDK's",
        "step: login ok, connID",
        "step: UnlockTrade ok",
        "step: SubAccPush ok",
        "step: PlaceOrder ok",
        "step: GetOrderList: order",
        "step: Trd_UpdateOrder push: order",
        "js interop: ok",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
#[ignore = "needs node and futu-api (npm ci in tests/interop/js): see tests/interop/README.md"]
fn js_sdk_login_fails_with_a_wrong_key() {
    require_node();
    let (_sim, port) = start_sim();
    let (ok, out) = run_script(port, &["--wrong-key"]);
    println!("{out}");
    assert!(ok, "the JS SDK script failed:\n{out}");
    assert!(out.contains("step: login with a wrong key failed: timeout"), "unexpected output:\n{out}");
}

#[test]
#[ignore = "needs node and futu-api (npm ci in tests/interop/js): see tests/interop/README.md"]
fn js_sdk_reads_quotes_over_websocket() {
    require_node();
    let (_sim, port) = start_sim_with(&["--tick-ms", "100"]);
    let (ok, out) = run_named("ws_quote.mjs", port, &[]);
    println!("{out}");
    assert!(ok, "the JS SDK quote script failed:\n{out}");
    for line in [
        "step: Sub ok",
        "step: GetBasicQot:",
        "step: GetOrderBook:",
        "step: GetKL: 5 daily bars",
        "step: GetSecuritySnapshot:",
        "step: GetStaticInfo:",
        "step: GetOptionChain:",
        "step: Qot_UpdateBasicQot push:",
        "js interop: ok",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}
