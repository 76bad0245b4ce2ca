//! Interop tests: the official Python SDK (`futu-api` on PyPI) against `opend-sim`, and
//! our `proto/` definitions against the official ones.
//!
//! The Python interpreter is `$FTAPI_PYTHON`, else `.venv/bin/python` in the repository.
//! The tests are ignored by a plain `cargo test` (they need the SDK); run them with
//! `cargo test --test interop -- --include-ignored`, as `.ci/run` does after installing
//! it. Run so, they fail when the interpreter is missing or cannot `import futu`. See
//! `tests/interop/README.md`.
//!
//! Every external process runs under a hard timeout and is killed by a guard on drop, so
//! a hanging simulator or SDK fails the test instead of hanging it.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

/// How long the simulator may take to print its `listening on` line.
const SIM_START_TIMEOUT: Duration = Duration::from_secs(60);
/// Hard limit for one Python script (the scripts have their own, shorter, watchdog).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);
/// The watchdog the scripts arm for themselves (seconds); below `SCRIPT_TIMEOUT`.
const SCRIPT_WATCHDOG_SECS: u64 = 60;

const INSTALL_HINT: &str = "run .ci/run, or python3 -m venv .venv && .venv/bin/pip install futu-api";

// ---------------------------------------------------------------------------------------
// Finding Python with futu-api
// ---------------------------------------------------------------------------------------

/// The interpreter to use; panics (with how to install it) when there is none: these
/// tests only run when asked for (`--include-ignored`), and then they must not pass
/// without running.
fn python() -> PathBuf {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match FOUND.get_or_init(find_python) {
        Ok(p) => p.clone(),
        Err(why) => panic!("the interop tests need futu-api: {why} ({INSTALL_HINT})"),
    }
}

fn find_python() -> Result<PathBuf, String> {
    let candidate = match std::env::var_os("FTAPI_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_root().join(".venv").join("bin").join("python"),
    };
    if candidate.components().count() > 1 && !candidate.exists() {
        return Err(format!("{} does not exist", candidate.display()));
    }
    let tmp = TempDir::new("probe");
    let mut cmd = Command::new(&candidate);
    cmd.args(["-c", "import futu, sys; print(sys.version)"]);
    let out = run_bounded(cmd, &tmp, "probe", Duration::from_secs(60))
        .map_err(|e| format!("cannot run {}: {e}", candidate.display()))?;
    if !out.status.success() {
        let last_line = out.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!("{} cannot import futu: {}", candidate.display(), last_line.trim()));
    }
    Ok(candidate)
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script(name: &str) -> PathBuf {
    repo_root().join("tests").join("interop").join(name)
}

// ---------------------------------------------------------------------------------------
// Temporary directories and bounded processes
// ---------------------------------------------------------------------------------------

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("ftapi-interop-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills and reaps a child process on drop (also when the test panics).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to completion with its output in files under `dir`, killing it after `timeout`.
fn run_bounded(mut cmd: Command, dir: &TempDir, tag: &str, timeout: Duration) -> std::io::Result<Finished> {
    let out_path = dir.path().join(format!("{tag}.stdout"));
    let err_path = dir.path().join(format!("{tag}.stderr"));
    cmd.stdin(Stdio::null()).stdout(File::create(&out_path)?).stderr(File::create(&err_path)?);
    let mut child = KillOnDrop(cmd.spawn()?);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait()? {
            break Some(status);
        }
        if start.elapsed() > timeout {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(child); // kills it if still running
    let stdout = read_lossy(&out_path);
    let stderr = read_lossy(&err_path);
    match status {
        Some(status) => Ok(Finished { status, stdout, stderr }),
        None => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("killed after {timeout:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"),
        )),
    }
}

fn read_lossy(path: &Path) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

// ---------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------

/// A running `opend-sim`, killed on drop. Its stderr goes to a file that is printed when
/// the test fails.
struct Sim {
    child: KillOnDrop,
    host: String,
    port: u16,
    log: PathBuf,
}

impl Sim {
    fn start(dir: &TempDir, extra_args: &[&str]) -> Sim {
        let log = dir.path().join("opend-sim.stderr");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_opend-sim"));
        cmd.args(["--ip", "127.0.0.1", "--port", "0", "--verbose", "--tick-ms", "0"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).expect("create simulator log"));
        let mut child = KillOnDrop(cmd.spawn().expect("start opend-sim"));
        let stdout = child.0.stdout.take().expect("piped stdout");

        // Read the first line on a thread so that a silent simulator cannot hang the test;
        // the thread then keeps draining stdout until the process exits.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            for _ in lines {}
        });
        let first = match rx.recv_timeout(SIM_START_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            other => panic!("opend-sim did not print its listening line ({other:?}); stderr:\n{}", read_lossy(&log)),
        };
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from opend-sim: {first:?}"));
        let (host, port) = addr.rsplit_once(':').unwrap_or_else(|| panic!("no port in {addr:?}"));
        let port = port.parse().unwrap_or_else(|_| panic!("bad port in {addr:?}"));
        Sim { child, host: host.to_string(), port, log }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
        if std::thread::panicking() {
            eprintln!("--- opend-sim stderr ---\n{}", read_lossy(&self.log));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Keys and scripts
// ---------------------------------------------------------------------------------------

/// A 1024-bit PKCS#1 PEM key (what the Python SDK requires), generated once per run.
fn rsa_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        let key = ftapi::codec::RsaKey::generate(1024).expect("generate RSA key");
        let pem = key.to_pkcs1_pem().expect("pem").to_string();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "not PKCS#1 PEM");
        pem
    })
}

/// Which encryption a test runs with.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Plain,
    Cbc,
    Ecb,
}

/// Starts a simulator in `mode` and runs `script_name` against it; panics with the
/// script's output (and the simulator's log) unless the script exits 0.
fn run_against_sim(python: &Path, script_name: &str, mode: Mode) {
    // The walk-throughs predate OpenD's rules: relaxed mode, every market open.
    run_against_sim_with(python, script_name, mode, &["--relaxed", "--clock", "open"], &[]);
}

/// [`run_against_sim`] with extra simulator and script arguments.
fn run_against_sim_with(python: &Path, script_name: &str, mode: Mode, extra_sim: &[&str], extra_script: &[&str]) {
    let dir = TempDir::new(script_name.trim_end_matches(".py"));
    let key_path = dir.path().join("rsa-key.pem");
    let key_arg = key_path.to_string_lossy().into_owned();
    let mut sim_args: Vec<&str> = Vec::new();
    let mut script_args: Vec<String> = Vec::new();
    match mode {
        Mode::Plain => script_args.extend(["--expect-aes".into(), "none".into()]),
        Mode::Cbc | Mode::Ecb => {
            std::fs::write(&key_path, rsa_pem()).expect("write key file");
            let aes = if matches!(mode, Mode::Cbc) { "cbc" } else { "ecb" };
            sim_args.extend(["--rsa-key", &key_arg, "--aes", aes]);
            script_args.extend(["--rsa-key".into(), key_arg.clone(), "--expect-aes".into(), aes.into()]);
        }
    }
    sim_args.extend_from_slice(extra_sim);
    script_args.extend(extra_script.iter().map(|s| s.to_string()));
    let sim = Sim::start(&dir, &sim_args);

    let mut cmd = Command::new(python);
    cmd.arg(script(script_name))
        .args(["--host", &sim.host, "--port", &sim.port.to_string()])
        .args(["--timeout", &SCRIPT_WATCHDOG_SECS.to_string()])
        .args(&script_args)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(dir.path());
    let result = run_bounded(cmd, &dir, "script", SCRIPT_TIMEOUT);
    // `sim` stays alive until the end of this function, so a failing assertion below
    // also prints the simulator's log (see `Drop for Sim`).
    let out = result.unwrap_or_else(|e| panic!("{script_name} ({mode:?}) did not finish: {e}"));
    assert!(
        out.status.success(),
        "{script_name} ({mode:?}) failed with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    println!("--- {script_name} ({mode:?}) stdout ---\n{}\n--- stderr ---\n{}", out.stdout, out.stderr);
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn protos_match_official_definitions() {
    let python = python();
    let dir = TempDir::new("protos");
    let fds_path = dir.path().join("ftapi_fds.bin");
    std::fs::write(&fds_path, ftapi::pb::FILE_DESCRIPTOR_SET).expect("write descriptor set");
    let mut cmd = Command::new(python);
    cmd.arg(script("protos_match.py")).arg(&fds_path).env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run_bounded(cmd, &dir, "protos_match", SCRIPT_TIMEOUT).expect("run protos_match.py");
    println!("{}\n{}", out.stdout, out.stderr);
    assert!(out.status.success(), "proto/ differs from futu-api:\n{}\n{}", out.stdout, out.stderr);
}

#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn global_state_plain() {
    let python = python();
    run_against_sim(&python, "global_state.py", Mode::Plain);
}

#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn global_state_aes_cbc() {
    let python = python();
    run_against_sim(&python, "global_state.py", Mode::Cbc);
}

#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn global_state_aes_ecb() {
    let python = python();
    run_against_sim(&python, "global_state.py", Mode::Ecb);
}

#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn trade_plain() {
    let python = python();
    run_against_sim(&python, "trade.py", Mode::Plain);
}

#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn trade_aes_cbc() {
    let python = python();
    run_against_sim(&python, "trade.py", Mode::Cbc);
}

#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn trade_aes_ecb() {
    let python = python();
    run_against_sim(&python, "trade.py", Mode::Ecb);
}

/// The simulator's settings for the quote script: prices move (and pushes flow) every
/// 100 ms, and the one-minute unsubscribe rule is shortened to 2 s.
const QUOTE_SIM_ARGS: &[&str] = &["--tick-ms", "100", "--unsub-secs", "2", "--clock", "open"];

#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn quote_plain() {
    let python = python();
    run_against_sim_with(&python, "quote.py", Mode::Plain, QUOTE_SIM_ARGS, &["--unsub-secs", "2"]);
}

#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn quote_aes_cbc() {
    let python = python();
    run_against_sim_with(&python, "quote.py", Mode::Cbc, QUOTE_SIM_ARGS, &["--unsub-secs", "2"]);
}

#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn quote_aes_ecb() {
    let python = python();
    run_against_sim_with(&python, "quote.py", Mode::Ecb, QUOTE_SIM_ARGS, &["--unsub-secs", "2"]);
}

#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn opend_rules_plain() {
    let python = python();
    // OpenD's rules (the default), with every market held open.
    run_against_sim_with(&python, "rules.py", Mode::Plain, &["--clock", "open"], &[]);
}

#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn opend_rules_aes_cbc() {
    let python = python();
    run_against_sim_with(&python, "rules.py", Mode::Cbc, &["--clock", "open"], &[]);
}

/// Backtesting (issue 20): the official SDK runs a small bot unchanged against
/// `opend-sim --history` replaying two days of one-minute bars at x1200; the simulator
/// prints `history ended at <instant>`, writes the report and exits 0.
#[test]
#[ignore = "needs futu-api: see tests/interop/README.md"]
fn backtest_replay() {
    let python = python();
    let dir = TempDir::new("backtest");
    let report = dir.path().join("out.html");
    let history = repo_root().join("tests").join("data").join("history_2d.csv");
    let log = dir.path().join("opend-sim.stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_opend-sim"));
    cmd.args(["--ip", "127.0.0.1", "--port", "0", "--history"])
        .arg(&history)
        .args(["--clock", "2026-12-04T09:30:00+08:00x1200", "--report"])
        .arg(&report)
        .arg("--exit-at-end")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(&log).expect("create simulator log"));
    let started = Instant::now();
    let mut child = KillOnDrop(cmd.spawn().expect("start opend-sim"));
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(SIM_START_TIMEOUT).expect("the listening line");
    let port = first.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).expect("a port");

    let mut py = Command::new(python);
    py.arg(script("backtest.py"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--timeout", &SCRIPT_WATCHDOG_SECS.to_string(), "--bot-secs", "12"])
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(dir.path());
    let out = run_bounded(py, &dir, "script", SCRIPT_TIMEOUT).expect("run backtest.py");
    assert!(
        out.status.success(),
        "backtest.py failed with {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- opend-sim ---\n{}",
        out.status,
        out.stdout,
        out.stderr,
        read_lossy(&log)
    );
    println!("--- backtest.py ---\n{}", out.stdout);

    // The replay ends on its own: two trading days at x1200 take about 33 s.
    let ended = rx.recv_timeout(Duration::from_secs(90)).expect("the end-of-history line");
    assert_eq!(ended, "history ended at 2026-12-07T16:00:00+08:00");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait for opend-sim") {
            break s;
        }
        assert!(Instant::now() < deadline, "opend-sim did not exit after the history ended");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "opend-sim exited with {status}");
    println!("replay took {:?} of wall time", started.elapsed());
    let page = std::fs::read_to_string(&report).expect("the report");
    assert!(page.contains("<svg") && page.contains("Replay report"), "{}", &page[..page.len().min(500)]);
}
