//! One benchmark that puts ftapi next to the loopback floor (and, with `--python`, the
//! official Python SDK), against a separate `opend-sim` process.
//!
//! ```text
//! cargo run --release --example bench -- [--host H --port P] [--encrypt --rsa-key FILE] [--n N] [--pushes N]
//!     [--flood-port P] [--python PY] [--python-pushes N] [--connects N] [--in-flight N]
//!     [--sim PATH] [--slow-port P] [--reply-delay-us N]
//!     [--only floor,calls,flood,spi,context,connect,quote,slow]
//! ```
//!
//! Without `--port` it starts release `opend-sim` processes (the binary next to this
//! example's own executable, `target/release/opend-sim`, built with
//! `cargo build --release --bin opend-sim` if it is missing; `--sim PATH` picks another):
//! one `--port 0 --no-rate-limits --tick-ms 0 --clock 2026-12-04T10:30:00+08:00` (HK's
//! morning session, whatever the hour of the run) for the request figures, one with `--push-flood N` and
//! `--quote-flood N` as well for the push figures (so no latency is measured on a process
//! that has just been flooded), one with `--reply-delay-us 1000` for the slow-server
//! figures, and two short-lived ones with a 1024-bit and a 2048-bit RSA key for
//! the InitConnect figures. With `--port`, everything runs against that server (and the
//! push figures against `--flood-port`, default the same): for the push rows it must
//! flood on Trd_SubAccPush and on Qot_Sub (`opend-sim --push-flood N --quote-flood N`,
//! the same N as `--pushes`), the slow-server figures need `--slow-port` (a server with
//! `--reply-delay-us`), and only the key given with `--rsa-key` is timed for InitConnect.
//!
//! Measured, in this order (`--n` calls each, default 5000; `--pushes` default 1,000,000):
//! * (a) the floor: a minimal blocking loop on a bare socket writing one pre-sealed
//!   GetGlobalState packet and reading exactly one framed reply (no decoding); the same
//!   for the Trd_GetFunds packet `accinfo_query` sends (the floor of (d));
//! * (b) `TrdApi::call::<GetGlobalState>` round trips (p50, p99, calls/s);
//! * (c) `TrdApi::send` pipelined GetGlobalState, at most `--in-flight` (1000) at a time, 10 ×
//!   `--n` requests after a warm-up of `min(--n, 5000)`: when the window is full the sender
//!   parks until the replies bring it down to 3/4 (a sender woken for every reply would
//!   measure thread wake-ups, not the SDK);
//! * (d) `accinfo_query(FundsQuery::default().env(Simulate))` round trips on a
//!   `SecTradeContext` (HK);
//! * the simulator's flood rate: a bare socket reader counting Trd_UpdateOrder frames
//!   (headers only) after Trd_SubAccPush, i.e. what the simulator can deliver;
//! * (e) pushes/s into a counting `TrdSpi::on_push_update_order`, and (g) the peak RSS
//!   during that flood (VmHWM after resetting it through /proc/self/clear_refs);
//! * (e) pushes/s into a `SecTradeContext` order handler (the flood starts when the
//!   context subscribes at open, so the time includes opening it);
//! * (f) InitConnect time (TCP connect, RSA InitConnect, AES key) with RSA-1024 and
//!   RSA-2048 (median of `--connects`, default 20);
//! * (h) quote pushes: Qot_UpdateBasicQot pushes/s into a counting
//!   `QotSpi::on_push_update_basic_qot` (from sending the Qot_Sub for HK.00700 to the last
//!   push) and into a `QuoteContext` quote handler (from `subscribe`); the flood comes
//!   from `opend-sim --quote-flood N`;
//! * (i) `QuoteContext::get_stock_quote(["HK.00700"])` round trips (p50, p99), after
//!   subscribing the quote;
//! * (j) CPU per blocking call: the CPU time of this process (`getrusage(RUSAGE_SELF)`,
//!   user plus system, every thread) over the timed
//!   `TrdApi::call` loop of (b), divided by the calls, and the same over
//!   `min(max(--n / 5, 50), 1000)` calls against a simulator delaying every reply by
//!   `--reply-delay-us` (default 1000), with that loop's p50; the simulator is a separate
//!   process and is not counted;
//! * with `--python PY`: `benches/python_sdk.py` run by that interpreter against its own
//!   simulator (flooding `--python-pushes`, default 10000), and the ratios ours/Python.
//!
//! Output: a readable table, then as the last stdout line exactly one JSON object with
//! the keys `floor_p50_us`, `floor_p99_us`, `rtt_p50_us`, `rtt_p99_us`, `pipelined_per_s`,
//! `context_rtt_p50_us`, `pushes_per_s`, `context_pushes_per_s`, `connect_rsa1024_ms`,
//! `connect_rsa2048_ms`, `peak_rss_mib`, `qot_pushes_per_s`, `quote_context_pushes_per_s`,
//! `quote_rtt_p50_us`, `quote_rtt_p99_us`, `cpu_us_per_call`, `cpu_us_per_call_slow`,
//! `rtt_p50_slow_us`, `mode` (`plain` or `cbc`) and more. A figure that could not be
//! measured is `null`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftapi::codec::{open_frame, seal_message, Frame, FrameHeader, PacketCipher, RsaKey, HEADER_LEN};
use ftapi::context::{FundsQuery, QuoteContext, SecTradeContext};
use ftapi::pb::{self, Protocol, PushProtocol};
use ftapi::types::{SubType, TrdEnv, TrdMarket};
use ftapi::{ConnSpi, QotApi, QotSpi, TrdApi, TrdSpi};
use prost::Message;
use serde_json::{json, Map, Value};

fn main() {
    let opts = match Opts::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    match run(&opts) {
        // The JSON object is always the last line on stdout.
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("bench: error: {e}");
            std::process::exit(1);
        }
    }
}

/// The command line (public so that tests/bench_smoke.rs can drive the bench).
#[derive(Debug, Clone, PartialEq)]
pub struct Opts {
    pub host: String,
    pub port: Option<u16>,
    pub encrypt: bool,
    pub rsa_key: Option<PathBuf>,
    pub n: usize,
    pub pushes: usize,
    pub python: Option<String>,
    pub python_pushes: usize,
    pub connects: usize,
    pub in_flight: usize,
    pub sim: Option<PathBuf>,
    pub flood_port: Option<u16>,
    pub only: Option<Vec<String>>,
    pub slow_port: Option<u16>,
    pub reply_delay_us: u64,
}

/// The phases `--only` can select.
const PHASES: &[&str] = &["floor", "calls", "flood", "spi", "context", "connect", "quote", "slow"];

impl Opts {
    /// Whether phase `name` runs (all of them without `--only`).
    fn want(&self, name: &str) -> bool {
        match &self.only {
            None => true,
            Some(list) => list.iter().any(|p| p == name),
        }
    }

    /// Parses the arguments (without the program name).
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Opts, String> {
        let mut o = Opts {
            host: "127.0.0.1".into(),
            port: None,
            encrypt: false,
            rsa_key: None,
            n: 5000,
            pushes: 1_000_000,
            python: None,
            python_pushes: 10_000,
            connects: 20,
            in_flight: 1000,
            sim: None,
            flood_port: None,
            only: None,
            slow_port: None,
            reply_delay_us: 1000,
        };
        fn num<T: std::str::FromStr>(name: &str, v: Option<String>) -> Result<T, String> {
            let v = v.ok_or_else(|| format!("{name} needs a value"))?;
            v.parse().map_err(|_| format!("{name}: cannot parse {v:?}"))
        }
        while let Some(a) = it.next() {
            match a.as_str() {
                "--host" => o.host = it.next().ok_or("--host needs a value")?,
                "--port" => o.port = Some(num("--port", it.next())?),
                "--flood-port" => o.flood_port = Some(num("--flood-port", it.next())?),
                "--encrypt" => o.encrypt = true,
                "--rsa-key" => o.rsa_key = Some(PathBuf::from(it.next().ok_or("--rsa-key needs a value")?)),
                "--n" => o.n = num("--n", it.next())?,
                "--pushes" => o.pushes = num("--pushes", it.next())?,
                "--python" => o.python = Some(it.next().ok_or("--python needs a value")?),
                "--python-pushes" => o.python_pushes = num("--python-pushes", it.next())?,
                "--connects" => o.connects = num("--connects", it.next())?,
                "--in-flight" => o.in_flight = num("--in-flight", it.next())?,
                "--slow-port" => o.slow_port = Some(num("--slow-port", it.next())?),
                "--reply-delay-us" => o.reply_delay_us = num("--reply-delay-us", it.next())?,
                "--sim" => o.sim = Some(PathBuf::from(it.next().ok_or("--sim needs a value")?)),
                "--only" => {
                    let list = it.next().ok_or("--only needs a value")?;
                    let parts: Vec<String> = list.split(',').map(|p| p.trim().to_string()).collect();
                    if let Some(bad) = parts.iter().find(|p| !PHASES.contains(&p.as_str())) {
                        return Err(format!("--only: unknown phase {bad:?} (phases: {})", PHASES.join(",")));
                    }
                    o.only = Some(parts);
                }
                "--help" | "-h" => {
                    return Err("usage: bench [--host H --port P] [--encrypt --rsa-key FILE] [--n N] [--pushes N] \
                                [--python PY] [--python-pushes N] [--connects N] [--in-flight N] [--sim PATH] \
                                [--flood-port P] [--slow-port P] [--reply-delay-us N] [--only PHASE,...]"
                        .into())
                }
                other => return Err(format!("unexpected argument {other:?}")),
            }
        }
        if o.n == 0 || o.in_flight == 0 {
            return Err("--n and --in-flight must be at least 1".into());
        }
        Ok(o)
    }
}

// ---------------------------------------------------------------------------------
// The simulator processes

/// A spawned `opend-sim`, killed and reaped on drop.
struct SimProc {
    child: Child,
    port: u16,
}

impl Drop for SimProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `opend-sim` binary: `--sim`, else next to this executable (building it if missing).
fn sim_binary(opts: &Opts) -> Result<PathBuf, String> {
    if let Some(p) = &opts.sim {
        return Ok(p.clone());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/examples/bench -> target/<profile>/opend-sim
    let dir = exe.parent().and_then(Path::parent).ok_or("cannot locate the target directory")?;
    let bin = dir.join(format!("opend-sim{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let release = dir.file_name().is_some_and(|n| n == "release");
        eprintln!("bench: {} is missing; building it", bin.display());
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--bin", "opend-sim"]);
        if release {
            cmd.arg("--release");
        }
        let st = cmd.status().map_err(|e| format!("running cargo: {e}"))?;
        if !st.success() || !bin.exists() {
            return Err(format!("could not build {}; run `cargo build --release --bin opend-sim`", bin.display()));
        }
    }
    Ok(bin)
}

/// The market clock of the simulators the bench starts: a Friday in HK's morning session,
/// running from there in real time, so that the figures do not depend on the hour of the
/// run (the quote requests take the trading path at any hour).
const SIM_CLOCK: &str = "2026-12-04T10:30:00+08:00";

fn spawn_sim(bin: &Path, args: &[String]) -> Result<SimProc, String> {
    let mut child = Command::new(bin)
        .args(["--port", "0", "--no-rate-limits", "--tick-ms", "0", "--clock", SIM_CLOCK])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("unexpected first line from opend-sim: {line:?}"));
    let mut sim = SimProc { child, port: 0 };
    sim.port = port?;
    Ok(sim)
}

/// A PEM key file: the given one, or a fresh key of `bits` written to a temp file.
fn key_file(bits: usize) -> Result<(RsaKey, PathBuf), String> {
    let key = RsaKey::generate(bits).map_err(|e| e.to_string())?;
    let path = std::env::temp_dir().join(format!("ftapi-bench-{}-{bits}.pem", std::process::id()));
    std::fs::write(&path, key.to_pkcs1_pem().pem_text()?).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((key, path))
}

fn read_key(path: &Path) -> Result<RsaKey, String> {
    let pem = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    RsaKey::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
}

/// The codec's sealers return the packet, or a `Result` of it where sealing can fail;
/// this takes either.
trait IntoPacket {
    fn into_packet(self) -> Result<Vec<u8>, String>;
}

impl IntoPacket for Vec<u8> {
    fn into_packet(self) -> Result<Vec<u8>, String> {
        Ok(self)
    }
}

impl<E: std::fmt::Display> IntoPacket for Result<Vec<u8>, E> {
    fn into_packet(self) -> Result<Vec<u8>, String> {
        self.map_err(|e| format!("sealing: {e}"))
    }
}

/// `RsaKey::to_pkcs1_pem` returns the PEM text, or a `Result` of a wrapper that wipes
/// it; this takes either.
trait PemText {
    fn pem_text(self) -> Result<String, String>;
}

impl PemText for String {
    fn pem_text(self) -> Result<String, String> {
        Ok(self)
    }
}

impl<T: std::ops::Deref<Target = String>, E: std::fmt::Display> PemText for Result<T, E> {
    fn pem_text(self) -> Result<String, String> {
        self.map(|t| t.to_string()).map_err(|e| format!("writing the key: {e}"))
    }
}

// ---------------------------------------------------------------------------------
// A bare socket speaking just enough of the protocol (the floor and the flood reader)

struct Raw {
    s: TcpStream,
    cipher: PacketCipher,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    conn_id: u64,
    user_id: u64,
    /// The socket is non-blocking and reads spin until bytes arrive.
    spin: bool,
}

impl Raw {
    fn connect(host: &str, port: u16, key: Option<&RsaKey>) -> Result<Raw, String> {
        let s = TcpStream::connect((host, port)).map_err(|e| format!("{host}:{port}: {e}"))?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        let init_cipher = key.map_or(PacketCipher::Plain, |k| PacketCipher::Rsa(k.clone()));
        let mut raw = Raw {
            s,
            cipher: init_cipher.clone(),
            buf: vec![0; 1 << 20],
            start: 0,
            end: 0,
            conn_id: 0,
            user_id: 0,
            spin: false,
        };
        let req = pb::init_connect::Request {
            c2s: pb::init_connect::C2s {
                client_ver: 300,
                client_id: "bench-raw".into(),
                recv_notify: Some(false),
                packet_enc_algo: Some(if key.is_some() { pb::common::PacketEncAlgo::AesCbc as i32 } else { -1 }),
                push_proto_fmt: Some(0),
                programming_language: Some("Rust".into()),
                ai_type: Some(0),
            },
        };
        raw.write(&seal_message(pb::proto::InitConnect::PROTO_ID, 1, &req, &init_cipher).into_packet()?)?;
        let (header, body) = raw.read_frame()?;
        let plain = open_frame(Frame { header, body: body.to_vec() }, &init_cipher).map_err(|e| e.to_string())?;
        let rsp = pb::init_connect::Response::decode(plain.as_slice()).map_err(|e| e.to_string())?;
        let s2c = rsp.s2c.ok_or_else(|| format!("InitConnect refused: {:?}", rsp.ret_msg))?;
        raw.cipher = match key {
            None => PacketCipher::Plain,
            Some(_) => PacketCipher::from_init_connect(&s2c.conn_aes_key, s2c.aes_cb_civ.as_deref())
                .map_err(|e| e.to_string())?,
        };
        raw.conn_id = s2c.conn_id;
        raw.user_id = s2c.login_user_id;
        Ok(raw)
    }

    fn write(&mut self, packet: &[u8]) -> Result<(), String> {
        self.s.write_all(packet).map_err(|e| e.to_string())
    }

    fn fill(&mut self) -> Result<(), String> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            return match self.s.read(&mut self.buf[self.end..]) {
                Ok(0) => Err("connection closed by the server".into()),
                Ok(n) => {
                    self.end += n;
                    Ok(())
                }
                Err(e) if self.spin && e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::hint::spin_loop();
                    continue;
                }
                Err(e) => Err(e.to_string()),
            };
        }
    }

    /// Reads exactly one framed packet; the body is returned as transmitted.
    fn read_frame(&mut self) -> Result<(FrameHeader, &[u8]), String> {
        loop {
            let avail = self.end - self.start;
            if avail >= HEADER_LEN {
                let h = FrameHeader::parse(&self.buf[self.start..self.end]).map_err(|e| e.to_string())?;
                let total = HEADER_LEN + h.body_len as usize;
                if total > self.buf.len() {
                    return Err(format!("frame of {total} bytes is too large for the bench"));
                }
                if avail >= total {
                    let body = self.start + HEADER_LEN..self.start + total;
                    self.start += total;
                    return Ok((h, &self.buf[body]));
                }
            }
            self.fill()?;
        }
    }

    /// A request/reply exchange with decoding (setup only, not timed).
    fn call<P: Protocol>(
        &mut self,
        serial: u32,
        c2s: <P::Request as pb::RequestEnvelope>::C2s,
    ) -> Result<Vec<u8>, String> {
        let req = <P::Request as pb::RequestEnvelope>::from_c2s(c2s);
        let packet = seal_message(P::PROTO_ID, serial, &req, &self.cipher).into_packet()?;
        self.write(&packet)?;
        loop {
            let (h, body) = self.read_frame()?;
            if h.proto_id == P::PROTO_ID && h.serial_no == serial {
                let body = body.to_vec();
                return open_frame(Frame { header: h, body }, &self.cipher).map_err(|e| e.to_string());
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Statistics and process figures

fn pct(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64
}

/// p50 and p99 in µs of nanosecond samples.
fn p50_p99(mut ns: Vec<u64>) -> (f64, f64) {
    ns.sort_unstable();
    (pct(&ns, 0.50) / 1e3, pct(&ns, 0.99) / 1e3)
}

/// A field of /proc/self/status in MiB (Linux; `None` elsewhere).
fn proc_status_mib(field: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resets VmHWM to the current RSS (Linux 4.0+), so that it shows the peak of what follows.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU time of this process so far in ns (user plus system, every thread, ended ones
/// included): `getrusage(RUSAGE_SELF)`, which Linux derives from the scheduler's run
/// time, so it is exact to the µs rather than to the 10 ms tick of `/proc/self/stat`.
/// `None` off 64-bit Linux.
fn process_cpu_ns() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    {
        #[repr(C)]
        struct Timeval {
            sec: i64,
            usec: i64,
        }
        #[repr(C)]
        struct Rusage {
            utime: Timeval,
            stime: Timeval,
            rest: [i64; 14],
        }
        extern "C" {
            fn getrusage(who: i32, usage: *mut Rusage) -> i32;
        }
        const RUSAGE_SELF: i32 = 0;
        let mut ru = Rusage { utime: Timeval { sec: 0, usec: 0 }, stime: Timeval { sec: 0, usec: 0 }, rest: [0; 14] };
        // SAFETY: `ru` is a valid, writable `struct rusage` for 64-bit Linux (two
        // timevals of two longs, then 14 longs).
        if unsafe { getrusage(RUSAGE_SELF, &mut ru) } != 0 {
            return None;
        }
        let us = |t: &Timeval| (t.sec as u64) * 1_000_000 + t.usec as u64;
        Some((us(&ru.utime) + us(&ru.stime)) * 1000)
    }
    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    {
        None
    }
}

/// µs of CPU per call between two [`process_cpu_ns`] readings.
fn cpu_us_per_call(before: Option<u64>, after: Option<u64>, calls: usize) -> Option<f64> {
    match (before, after) {
        (Some(b), Some(a)) if a >= b && calls > 0 => Some((a - b) as f64 / 1e3 / calls as f64),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------
// TrdApi plumbing

struct Ready(crossbeam_channel::Sender<(i64, String)>);
impl ConnSpi for Ready {
    fn on_init_connect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
        let _ = self.0.send((err_code, desc.to_string()));
    }
}

/// Counts order pushes; `last` is set when the count reaches `target`.
struct PushCounter {
    n: AtomicUsize,
    target: usize,
    done: crossbeam_channel::Sender<Instant>,
}

impl PushCounter {
    fn new(target: usize) -> (Arc<PushCounter>, crossbeam_channel::Receiver<Instant>) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        (Arc::new(PushCounter { n: AtomicUsize::new(0), target, done: tx }), rx)
    }

    fn hit(&self) {
        if self.n.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            let _ = self.done.send(Instant::now());
        }
    }

    /// Waits for the target; gives up when nothing new arrived for `stall`.
    fn wait(&self, rx: &crossbeam_channel::Receiver<Instant>, stall: Duration) -> Option<Instant> {
        let mut last = (self.n.load(Ordering::Relaxed), Instant::now());
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(t) => return Some(t),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return None,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    let n = self.n.load(Ordering::Relaxed);
                    if n != last.0 {
                        last = (n, Instant::now());
                    } else if last.1.elapsed() > stall {
                        return None;
                    }
                }
            }
        }
    }
}

struct SpiCounter(Arc<PushCounter>);
impl TrdSpi for SpiCounter {
    fn on_push_update_order(&self, _api: &TrdApi, _push: pb::trd_update_order::S2c) {
        self.0.hit();
    }
}

fn connect_api(
    host: &str,
    port: u16,
    key: Option<&RsaKey>,
    spi: Option<Arc<dyn TrdSpi>>,
) -> Result<(TrdApi, Duration), String> {
    let api = TrdApi::new();
    if let Some(k) = key {
        api.set_rsa_key(k.clone());
    }
    if let Some(s) = spi {
        api.set_trd_spi(s);
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    api.set_conn_spi(Arc::new(Ready(tx)));
    let t = Instant::now();
    if !api.init_connect(host, port, key.is_some()) {
        return Err("init_connect refused to start".into());
    }
    let (code, desc) = rx.recv_timeout(Duration::from_secs(30)).map_err(|_| "no on_init_connect".to_string())?;
    let took = t.elapsed();
    if code != 0 {
        return Err(format!("InitConnect failed: {code} {desc}"));
    }
    Ok((api, took))
}

// ---------------------------------------------------------------------------------
// The measurements

/// The floor figures: per-call nanoseconds and calls/s of each loop.
struct Floors {
    /// (a) GetGlobalState, blocking reads.
    gs: (Vec<u64>, f64),
    /// (a') Trd_GetFunds (what `accinfo_query` sends), blocking reads.
    funds: (Vec<u64>, f64),
    /// (a'') GetGlobalState with a non-blocking socket read in a spin loop.
    spin: (Vec<u64>, f64),
    /// (c') GetGlobalState pipelined with the window of (c), requests/s.
    pipelined: f64,
}

/// (a) The floors: the blocking loop for GetGlobalState and for Trd_GetFunds, the
/// spinning loop, and the pipelined floor.
fn floor(host: &str, port: u16, key: Option<&RsaKey>, n: usize, in_flight: usize) -> Result<Floors, String> {
    let mut raw = Raw::connect(host, port, key)?;
    let req = pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: raw.user_id } };
    let packet = seal_message(pb::proto::GetGlobalState::PROTO_ID, 7, &req, &raw.cipher).into_packet()?;
    let gs = floor_loop(&mut raw, &packet, n)?;
    raw.s.set_nonblocking(true).map_err(|e| e.to_string())?;
    raw.spin = true;
    let spin = floor_loop(&mut raw, &packet, n)?;
    raw.s.set_nonblocking(false).map_err(|e| e.to_string())?;
    raw.spin = false;
    // The account accinfo_query(FundsQuery::default().env(Simulate)) picks on an HK context.
    let c2s = pb::trd_get_acc_list::C2s { user_id: raw.user_id, trd_category: None, need_general_sec_account: None };
    let body = raw.call::<pb::proto::GetAccList>(8, c2s)?;
    let accs = pb::trd_get_acc_list::Response::decode(body.as_slice()).map_err(|e| e.to_string())?;
    let acc = accs
        .s2c
        .and_then(|s| s.acc_list.into_iter().find(|a| a.trd_env == 0 && a.trd_market_auth_list.contains(&1)))
        .ok_or("no SIMULATE HK account")?;
    let req = pb::trd_get_funds::Request {
        c2s: pb::trd_get_funds::C2s {
            header: pb::trd_common::TrdHeader { trd_env: 0, acc_id: acc.acc_id, trd_market: 1, jp_acc_type: None },
            refresh_cache: None,
            currency: Some(1),
            asset_category: Some(0),
        },
    };
    let packet = seal_message(pb::proto::GetFunds::PROTO_ID, 9, &req, &raw.cipher).into_packet()?;
    let funds = floor_loop(&mut raw, &packet, n)?;
    let mut raw = Raw::connect(host, port, key)?;
    let req = pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: raw.user_id } };
    let packet = seal_message(pb::proto::GetGlobalState::PROTO_ID, 7, &req, &raw.cipher).into_packet()?;
    for _ in 0..n.min(500) {
        raw.write(&packet)?;
        raw.read_frame()?;
    }
    let pipelined = floor_pipelined(raw, &packet, n * 10, in_flight)?;
    Ok(Floors { gs, funds, spin, pipelined })
}

/// The pipelined floor: `packet` written `total` times by this thread on a bare socket,
/// at most `in_flight` unanswered (the same window as (c)), while another thread reads
/// the framed replies without decoding them. Returns requests/s.
fn floor_pipelined(raw: Raw, packet: &[u8], total: usize, in_flight: usize) -> Result<f64, String> {
    let mut out = raw.s.try_clone().map_err(|e| e.to_string())?;
    let window = Arc::new(Window::new(in_flight));
    let w = window.clone();
    let reader = std::thread::spawn(move || -> Result<Instant, String> {
        let mut raw = raw;
        for _ in 0..total {
            raw.read_frame()?;
            w.release();
        }
        Ok(Instant::now())
    });
    let t0 = Instant::now();
    for _ in 0..total {
        window.acquire();
        out.write_all(packet).map_err(|e| e.to_string())?;
    }
    let end = reader.join().map_err(|_| "the floor's reader panicked".to_string())??;
    Ok(total as f64 / (end - t0).as_secs_f64())
}

/// Writes `packet` and reads one framed reply, `n` times (after a warm-up).
fn floor_loop(raw: &mut Raw, packet: &[u8], n: usize) -> Result<(Vec<u64>, f64), String> {
    for _ in 0..n.min(500) {
        raw.write(packet)?;
        raw.read_frame()?;
    }
    let mut ns = Vec::with_capacity(n);
    let t0 = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        raw.s.write_all(packet).map_err(|e| e.to_string())?;
        raw.read_frame()?;
        ns.push(t.elapsed().as_nanos() as u64);
    }
    Ok((ns, n as f64 / t0.elapsed().as_secs_f64()))
}

/// (b) blocking calls and (c) pipelined requests on one connection.
fn trdapi_calls(host: &str, port: u16, key: Option<&RsaKey>, n: usize, in_flight: usize) -> Result<Calls, String> {
    let (api, _) = connect_api(host, port, key, None)?;
    let c2s = || pb::get_global_state::C2s { user_id: api.get_login_user_id() };
    for _ in 0..n.min(500) {
        api.call::<pb::proto::GetGlobalState>(c2s()).map_err(|e| e.to_string())?;
    }
    let mut ns = Vec::with_capacity(n);
    let cpu0 = process_cpu_ns();
    let t0 = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        api.call::<pb::proto::GetGlobalState>(c2s()).map_err(|e| e.to_string())?;
        ns.push(t.elapsed().as_nanos() as u64);
    }
    let per_s = n as f64 / t0.elapsed().as_secs_f64();
    let cpu = cpu_us_per_call(cpu0, process_cpu_ns(), n);

    // Pipelined: at most `in_flight` requests in flight. When the window is full the
    // sender parks until replies bring it down to 3/4, then fills it again: a sender woken
    // for every single reply would measure thread wake-ups, not the SDK.
    let window = Arc::new(Window::new(in_flight));
    pipeline(&api, &window, total_warmup(n), &c2s)?;
    let total = n * 10;
    let t0 = Instant::now();
    let end = pipeline(&api, &window, total, &c2s)?;
    let pipelined = total as f64 / (end - t0).as_secs_f64();
    api.close();
    Ok(Calls { ns, per_s, pipelined, cpu_us_per_call: cpu })
}

/// The figures of (b) and (c).
struct Calls {
    /// (b) nanoseconds per call.
    ns: Vec<u64>,
    /// (b) calls/s.
    per_s: f64,
    /// (c) requests/s.
    pipelined: f64,
    /// (j) CPU µs per call of (b).
    cpu_us_per_call: Option<f64>,
}

/// (j) blocking calls against a simulator that delays every reply: CPU µs per call and
/// p50 µs.
fn slow_calls(host: &str, port: u16, key: Option<&RsaKey>, n: usize) -> Result<(Option<f64>, f64), String> {
    let (api, _) = connect_api(host, port, key, None)?;
    let c2s = || pb::get_global_state::C2s { user_id: api.get_login_user_id() };
    // Warm-up: long enough for the spin policy to learn the round trip.
    for _ in 0..50 {
        api.call::<pb::proto::GetGlobalState>(c2s()).map_err(|e| e.to_string())?;
    }
    let calls = (n / 5).clamp(50, 1000);
    let mut ns = Vec::with_capacity(calls);
    let cpu0 = process_cpu_ns();
    for _ in 0..calls {
        let t = Instant::now();
        api.call::<pb::proto::GetGlobalState>(c2s()).map_err(|e| e.to_string())?;
        ns.push(t.elapsed().as_nanos() as u64);
    }
    let cpu = cpu_us_per_call(cpu0, process_cpu_ns(), calls);
    api.close();
    Ok((cpu, p50_p99(ns).0))
}

/// Counts quote pushes.
struct QotCounter(Arc<PushCounter>);
impl QotSpi for QotCounter {
    fn on_push_update_basic_qot(&self, _api: &QotApi, _push: pb::qot_update_basic_qot::S2c) {
        self.0.hit();
    }
}

struct QotReady(crossbeam_channel::Sender<(i64, String)>);
impl ConnSpi<QotApi> for QotReady {
    fn on_init_connect(&self, _api: &QotApi, err_code: i64, desc: &str) {
        let _ = self.0.send((err_code, desc.to_string()));
    }
}

/// The security of the quote figures.
const QUOTE_CODE: &str = "HK.00700";

/// (h) quote pushes/s into a QotSpi: from sending the Qot_Sub (quotes, pushes on, no
/// first push) to the `pushes`-th push.
fn qotspi_flood(host: &str, port: u16, key: Option<&RsaKey>, pushes: usize) -> Result<Option<f64>, String> {
    let (counter, rx) = PushCounter::new(pushes);
    let api = QotApi::new();
    if let Some(k) = key {
        api.set_rsa_key(k.clone());
    }
    api.set_qot_spi(Arc::new(QotCounter(counter.clone())));
    let (tx, ready) = crossbeam_channel::bounded(1);
    api.set_conn_spi(Arc::new(QotReady(tx)));
    if !api.init_connect(host, port, key.is_some()) {
        return Err("QotApi::init_connect refused to start".into());
    }
    let (code, desc) = ready.recv_timeout(Duration::from_secs(30)).map_err(|_| "no on_init_connect".to_string())?;
    if code != 0 {
        return Err(format!("QotApi InitConnect failed: {code} {desc}"));
    }
    let t0 = Instant::now();
    api.call::<pb::proto::Sub>(pb::qot_sub::C2s {
        security_list: vec![pb::qot_common::Security { market: 1, code: "00700".into() }],
        sub_type_list: vec![i32::from(SubType::Quote)],
        is_sub_or_un_sub: true,
        is_reg_or_un_reg_push: Some(true),
        is_first_push: Some(false),
        ..Default::default()
    })
    .map_err(|e| format!("Qot_Sub: {e}"))?;
    let end = counter.wait(&rx, Duration::from_secs(5));
    api.close();
    Ok(end.map(|t| pushes as f64 / (t - t0).as_secs_f64()))
}

fn open_quote_context(host: &str, port: u16, key: Option<&RsaKey>) -> Result<QuoteContext, String> {
    let mut b = QuoteContext::builder().host(host).port(port).encrypt(Some(key.is_some()));
    if let Some(k) = key {
        b = b.rsa_key(k.clone());
    }
    b.open().map_err(|e| format!("quote context open: {e}"))
}

/// (h) quote pushes/s into a QuoteContext quote handler, from `subscribe`.
fn quote_context_flood(host: &str, port: u16, key: Option<&RsaKey>, pushes: usize) -> Result<Option<f64>, String> {
    let (counter, rx) = PushCounter::new(pushes);
    let ctx = open_quote_context(host, port, key)?;
    let c = counter.clone();
    ctx.set_quote_handler(move |_q| c.hit());
    let t0 = Instant::now();
    ctx.subscribe([QUOTE_CODE], [SubType::Quote]).map_err(|e| format!("subscribe: {e}"))?;
    let end = counter.wait(&rx, Duration::from_secs(5));
    ctx.close();
    Ok(end.map(|t| pushes as f64 / (t - t0).as_secs_f64()))
}

/// (i) `get_stock_quote` round trips for one subscribed code.
fn quote_rtt(host: &str, port: u16, key: Option<&RsaKey>, n: usize) -> Result<Vec<u64>, String> {
    let ctx = open_quote_context(host, port, key)?;
    ctx.subscribe([QUOTE_CODE], [SubType::Quote]).map_err(|e| format!("subscribe: {e}"))?;
    for _ in 0..n.min(500) {
        ctx.get_stock_quote([QUOTE_CODE]).map_err(|e| format!("get_stock_quote: {e}"))?;
    }
    let mut ns = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        ctx.get_stock_quote([QUOTE_CODE]).map_err(|e| format!("get_stock_quote: {e}"))?;
        ns.push(t.elapsed().as_nanos() as u64);
    }
    ctx.close();
    Ok(ns)
}

/// Pipelined requests of the warm-up (not timed).
fn total_warmup(n: usize) -> usize {
    n.min(5000)
}

/// The pipelining window of (c): requests in flight, and the sender parked while it is
/// full.
struct Window {
    limit: usize,
    in_flight: AtomicUsize,
    sender: std::thread::Thread,
    parked: std::sync::atomic::AtomicBool,
}

impl Window {
    fn new(limit: usize) -> Window {
        Window {
            limit,
            in_flight: AtomicUsize::new(0),
            sender: std::thread::current(),
            parked: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Waits for room for one more request (the caller is the sending thread).
    fn acquire(&self) {
        if self.in_flight.load(Ordering::SeqCst) >= self.limit {
            self.parked.store(true, Ordering::SeqCst);
            while self.in_flight.load(Ordering::SeqCst) > self.limit * 3 / 4 {
                std::thread::park_timeout(Duration::from_millis(10));
            }
            self.parked.store(false, Ordering::SeqCst);
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    /// One reply arrived.
    fn release(&self) {
        let left = self.in_flight.fetch_sub(1, Ordering::SeqCst) - 1;
        if left <= self.limit * 3 / 4 && self.parked.load(Ordering::SeqCst) {
            self.sender.unpark();
        }
    }
}

/// Sends `total` GetGlobalState requests through `window`; returns when the last reply
/// arrived.
fn pipeline(
    api: &TrdApi,
    window: &Arc<Window>,
    total: usize,
    c2s: &dyn Fn() -> pb::get_global_state::C2s,
) -> Result<Instant, String> {
    let done = Arc::new(AtomicUsize::new(0));
    let (dtx, drx) = crossbeam_channel::bounded(1);
    for _ in 0..total {
        window.acquire();
        let (done, dtx, window) = (done.clone(), dtx.clone(), window.clone());
        api.send::<pb::proto::GetGlobalState>(pb::get_global_state::Request { c2s: c2s() }, move |_, _, r| {
            window.release();
            if r.is_ok() && done.fetch_add(1, Ordering::Relaxed) + 1 == total {
                let _ = dtx.send(Instant::now());
            }
        })
        .map_err(|e| e.to_string())?;
    }
    drx.recv_timeout(Duration::from_secs(120)).map_err(|_| "pipelined replies did not all arrive".to_string())
}

/// The simulator's flood rate into a bare socket reader (headers only).
fn bare_flood(host: &str, port: u16, key: Option<&RsaKey>, pushes: usize) -> Result<Option<f64>, String> {
    let mut raw = Raw::connect(host, port, key)?;
    let acc = first_account(&mut raw)?;
    let req = pb::trd_sub_acc_push::Request { c2s: pb::trd_sub_acc_push::C2s { acc_id_list: vec![acc] } };
    let packet = seal_message(pb::proto::SubAccPush::PROTO_ID, 3, &req, &raw.cipher).into_packet()?;
    raw.s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    raw.write(&packet)?;
    let mut got = 0;
    while got < pushes {
        match raw.read_frame() {
            Ok((h, _)) if h.proto_id == pb::proto::UpdateOrder::PROTO_ID => got += 1,
            Ok(_) => {}
            Err(_) if got == 0 => return Ok(None),
            Err(e) => return Err(format!("flood reader: {e} after {got} pushes")),
        }
    }
    Ok(Some(pushes as f64 / t0.elapsed().as_secs_f64()))
}

fn first_account(raw: &mut Raw) -> Result<u64, String> {
    let c2s =
        pb::trd_get_acc_list::C2s { user_id: raw.user_id, trd_category: None, need_general_sec_account: Some(true) };
    let body = raw.call::<pb::proto::GetAccList>(2, c2s)?;
    let rsp = pb::trd_get_acc_list::Response::decode(body.as_slice()).map_err(|e| e.to_string())?;
    rsp.s2c.and_then(|s| s.acc_list.first().map(|a| a.acc_id)).ok_or_else(|| "no account".into())
}

struct PushFigures {
    per_s: Option<f64>,
    peak_rss_mib: Option<f64>,
    rss_before_mib: Option<f64>,
}

/// (e) pushes into a TrdSpi and (g) the peak RSS meanwhile.
fn trdspi_flood(host: &str, port: u16, key: Option<&RsaKey>, pushes: usize) -> Result<PushFigures, String> {
    let (counter, rx) = PushCounter::new(pushes);
    let (api, _) = connect_api(host, port, key, Some(Arc::new(SpiCounter(counter.clone()))))?;
    let accs = api
        .call::<pb::proto::GetAccList>(pb::trd_get_acc_list::C2s {
            user_id: api.get_login_user_id(),
            trd_category: None,
            need_general_sec_account: Some(true),
        })
        .map_err(|e| e.to_string())?;
    let acc = accs.acc_list.first().map(|a| a.acc_id).ok_or("no account")?;
    let rss_before_mib = proc_status_mib("VmRSS:");
    let reset = reset_peak_rss();
    let t0 = Instant::now();
    api.call::<pb::proto::SubAccPush>(pb::trd_sub_acc_push::C2s { acc_id_list: vec![acc] })
        .map_err(|e| e.to_string())?;
    let end = counter.wait(&rx, Duration::from_secs(5));
    let per_s = end.map(|t| pushes as f64 / (t - t0).as_secs_f64());
    let peak_rss_mib = if reset { proc_status_mib("VmHWM:") } else { None };
    api.close();
    Ok(PushFigures { per_s, peak_rss_mib, rss_before_mib })
}

/// A securities context on HK (it subscribes its accounts' pushes when it opens).
fn open_context(
    host: &str,
    port: u16,
    key: Option<&RsaKey>,
    counter: Arc<PushCounter>,
) -> Result<SecTradeContext, String> {
    let mut b = SecTradeContext::builder()
        .host(host)
        .port(port)
        .filter_trdmarket(TrdMarket::Hk)
        .encrypt(Some(key.is_some()))
        .order_handler(move |_u| counter.hit());
    if let Some(k) = key {
        b = b.rsa_key(k.clone());
    }
    b.open().map_err(|e| format!("context open: {e}"))
}

/// (e) pushes into a context order handler (flooded when the context subscribes at
/// open) and the peak RSS meanwhile.
fn context_flood(
    host: &str,
    port: u16,
    key: Option<&RsaKey>,
    pushes: usize,
) -> Result<(Option<f64>, Option<f64>), String> {
    let (counter, rx) = PushCounter::new(pushes);
    let reset = reset_peak_rss();
    let t0 = Instant::now();
    let ctx = open_context(host, port, key, counter.clone())?;
    let end = counter.wait(&rx, Duration::from_secs(5));
    let per_s = end.map(|t| pushes as f64 / (t - t0).as_secs_f64());
    let peak = if reset { proc_status_mib("VmHWM:") } else { None };
    ctx.close();
    Ok((per_s, peak))
}

/// (d) accinfo_query round trips on a fresh context. If the server floods every
/// subscription (`drain` > 0), the flood is taken first.
fn context_rtt(host: &str, port: u16, key: Option<&RsaKey>, n: usize, drain: usize) -> Result<Vec<u64>, String> {
    let (counter, rx) = PushCounter::new(drain.max(1));
    let ctx = open_context(host, port, key, counter.clone())?;
    if drain > 0 {
        counter.wait(&rx, Duration::from_secs(5));
    }
    let q = || FundsQuery::default().env(TrdEnv::Simulate);
    for _ in 0..n.min(500) {
        ctx.accinfo_query(q()).map_err(|e| format!("accinfo_query: {e}"))?;
    }
    let mut ns = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        ctx.accinfo_query(q()).map_err(|e| format!("accinfo_query: {e}"))?;
        ns.push(t.elapsed().as_nanos() as u64);
    }
    ctx.close();
    Ok(ns)
}

/// (f) median InitConnect time in ms.
fn connect_ms(host: &str, port: u16, key: &RsaKey, times: usize) -> Result<f64, String> {
    let mut ns = Vec::new();
    for _ in 0..times.max(1) {
        let (api, took) = connect_api(host, port, Some(key), None)?;
        ns.push(took.as_nanos() as u64);
        api.close();
    }
    ns.sort_unstable();
    Ok(pct(&ns, 0.5) / 1e6)
}

/// Runs `benches/python_sdk.py` and returns its JSON object.
fn python(opts: &Opts, py: &str, host: &str, port: u16, key_path: Option<&Path>) -> Result<Map<String, Value>, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python_sdk.py");
    let mut cmd = Command::new(py);
    cmd.arg(&script).args(["--host", host, "--port", &port.to_string()]).args([
        "--n",
        &opts.n.min(2000).to_string(),
        "--pushes",
        &opts.python_pushes.to_string(),
    ]);
    if let Some(k) = key_path {
        cmd.args(["--encrypt", "--rsa-key"]).arg(k);
    }
    let out = cmd.stderr(Stdio::inherit()).output().map_err(|e| format!("running {py}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("python_sdk.py failed ({}): {text}", out.status));
    }
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    match serde_json::from_str::<Value>(last) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(format!("python_sdk.py printed no JSON line: {last:?}")),
    }
}

/// Runs the bench, prints the table and returns the JSON object (printed by `main`).
pub fn run(opts: &Opts) -> Result<Value, String> {
    let mode = if opts.encrypt { "cbc" } else { "plain" };
    // The session key for encrypted mode: --rsa-key, or a fresh 1024-bit one.
    let mut temp_files = Vec::new();
    let (main_key, main_key_path) = match (&opts.rsa_key, opts.encrypt) {
        (Some(p), _) => (Some(read_key(p)?), Some(p.clone())),
        (None, true) => {
            let (k, p) = key_file(1024)?;
            temp_files.push(p.clone());
            (Some(k), Some(p))
        }
        (None, false) => (None, None),
    };
    let session_key = if opts.encrypt { main_key.as_ref() } else { None };
    let host = opts.host.clone();

    let mut sims = Vec::new();
    let bin = if opts.port.is_none() { Some(sim_binary(opts)?) } else { None };
    // Two simulators: one for the request figures, one that floods every subscription
    // (so that no latency is measured right after a flood on the same process).
    let mut slow_port = opts.slow_port;
    let (port, flood_port) = match (opts.port, &bin) {
        (Some(p), _) => (p, opts.flood_port.unwrap_or(p)),
        (None, Some(bin)) => {
            let key_args = match &main_key_path {
                Some(p) => vec!["--rsa-key".to_string(), p.display().to_string()],
                None => Vec::new(),
            };
            let lat = spawn_sim(bin, &key_args)?;
            let mut args = vec![
                "--push-flood".to_string(),
                opts.pushes.to_string(),
                "--quote-flood".to_string(),
                opts.pushes.to_string(),
            ];
            args.extend(key_args.iter().cloned());
            let flood = spawn_sim(bin, &args)?;
            let ports = (lat.port, flood.port);
            sims.push(lat);
            sims.push(flood);
            if opts.want("slow") {
                let mut args = vec!["--reply-delay-us".to_string(), opts.reply_delay_us.to_string()];
                args.extend(key_args.iter().cloned());
                let slow = spawn_sim(bin, &args)?;
                slow_port = Some(slow.port);
                sims.push(slow);
            }
            ports
        }
        (None, None) => unreachable!("a binary is found whenever no port is given"),
    };
    eprintln!(
        "bench: mode {mode}, server {host}:{port}, flooding server {host}:{flood_port}, n {}, pushes {}",
        opts.n, opts.pushes
    );

    let nan = f64::NAN;
    let floors = if opts.want("floor") {
        floor(&host, port, session_key, opts.n, opts.in_flight)?
    } else {
        Floors { gs: (Vec::new(), nan), funds: (Vec::new(), nan), spin: (Vec::new(), nan), pipelined: nan }
    };
    let (floor_p50, floor_p99) = p50_p99(floors.gs.0);
    let floor_per_s = floors.gs.1;
    let (ffloor_p50, ffloor_p99) = p50_p99(floors.funds.0);
    let ffloor_per_s = floors.funds.1;
    let (sfloor_p50, sfloor_p99) = p50_p99(floors.spin.0);
    let sfloor_per_s = floors.spin.1;
    let pfloor_per_s = floors.pipelined;
    let calls = if opts.want("calls") {
        trdapi_calls(&host, port, session_key, opts.n, opts.in_flight)?
    } else {
        Calls { ns: Vec::new(), per_s: nan, pipelined: nan, cpu_us_per_call: None }
    };
    let (rtt_per_s, pipelined, cpu_per_call) = (calls.per_s, calls.pipelined, calls.cpu_us_per_call);
    let (rtt_p50, rtt_p99) = p50_p99(calls.ns);
    let ctx_ns = if opts.want("context") {
        let drain = if flood_port == port { opts.pushes } else { 0 };
        context_rtt(&host, port, session_key, opts.n, drain)?
    } else {
        Vec::new()
    };
    let (ctx_p50, ctx_p99) = p50_p99(ctx_ns);
    let sim_flood = if opts.want("flood") { bare_flood(&host, flood_port, session_key, opts.pushes)? } else { None };
    let spi = if opts.want("spi") {
        trdspi_flood(&host, flood_port, session_key, opts.pushes)?
    } else {
        PushFigures { per_s: None, peak_rss_mib: None, rss_before_mib: None }
    };
    let (ctx_pushes, ctx_peak) =
        if opts.want("context") { context_flood(&host, flood_port, session_key, opts.pushes)? } else { (None, None) };
    let (qot_pushes, qctx_pushes, quote_ns) = if opts.want("quote") {
        (
            qotspi_flood(&host, flood_port, session_key, opts.pushes)?,
            quote_context_flood(&host, flood_port, session_key, opts.pushes)?,
            quote_rtt(&host, port, session_key, opts.n)?,
        )
    } else {
        (None, None, Vec::new())
    };
    let (quote_p50, quote_p99) = p50_p99(quote_ns);
    let (cpu_slow, rtt_p50_slow) = match slow_port {
        Some(p) if opts.want("slow") => slow_calls(&host, p, session_key, opts.n)?,
        _ => (None, nan),
    };

    // (f) InitConnect with RSA-1024 and RSA-2048.
    let mut connect = [None, None];
    match &bin {
        _ if !opts.want("connect") => {}
        Some(bin) => {
            for (i, bits) in [1024usize, 2048].into_iter().enumerate() {
                let (k, p) = match (&main_key, &main_key_path) {
                    (Some(k), Some(p)) if k.bits() == bits => (k.clone(), p.clone()),
                    _ => {
                        let (k, p) = key_file(bits)?;
                        temp_files.push(p.clone());
                        (k, p)
                    }
                };
                let sim = spawn_sim(bin, &["--rsa-key".into(), p.display().to_string()])?;
                connect[i] = Some(connect_ms(&host, sim.port, &k, opts.connects)?);
            }
        }
        None => {
            if let Some(k) = &main_key {
                let i = if k.bits() <= 1024 { 0 } else { 1 };
                connect[i] = Some(connect_ms(&host, port, k, opts.connects)?);
            }
        }
    }

    let mut py = None;
    if let Some(interp) = &opts.python {
        let py_port = match &bin {
            Some(bin) => {
                let mut args = vec![
                    "--push-flood".to_string(),
                    opts.python_pushes.to_string(),
                    "--quote-flood".to_string(),
                    opts.python_pushes.to_string(),
                ];
                if let Some(p) = &main_key_path {
                    args.push("--rsa-key".into());
                    args.push(p.display().to_string());
                }
                let sim = spawn_sim(bin, &args)?;
                let p = sim.port;
                sims.push(sim);
                p
            }
            None => port,
        };
        let key_path = if opts.encrypt { main_key_path.as_deref() } else { None };
        match python(opts, interp, &host, py_port, key_path) {
            Ok(m) => py = Some(m),
            Err(e) => eprintln!("bench: python: {e}"),
        }
    }
    drop(sims);
    for p in temp_files {
        let _ = std::fs::remove_file(p);
    }

    // ---- the table ---------------------------------------------------------------
    let f1 = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:.1}"));
    let f2 = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:.2}"));
    let f0 = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:.0}"));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "n/a".into(),
    };
    let pyf = |k: &str| py.as_ref().and_then(|m| m.get(k)).and_then(Value::as_f64);
    println!(
        "ftapi bench, mode {mode}, n {}, pushes {}, servers {host}:{port} and {host}:{flood_port} (flooding)",
        opts.n, opts.pushes
    );
    println!("{:<46} {:>14} {:>14} {:>12}", "figure", "value", "vs floor", "x Python");
    let row = |name: &str, v: String, vf: String, vp: String| println!("{name:<46} {v:>14} {vf:>14} {vp:>12}");
    row(
        "(a) floor GetGlobalState p50 / p99 us",
        format!("{floor_p50:.1} / {floor_p99:.1}"),
        "1.00x".into(),
        String::new(),
    );
    row("(a) floor calls/s", f0(Some(floor_per_s)), String::new(), ratio(Some(floor_per_s), pyf("gs_per_s")));
    row(
        "(a'') spinning floor p50 / p99 us",
        format!("{sfloor_p50:.1} / {sfloor_p99:.1}"),
        format!("{} / {}", ratio(Some(sfloor_p50), Some(floor_p50)), ratio(Some(sfloor_p99), Some(floor_p99))),
        String::new(),
    );
    row(
        "(a'') spinning floor calls/s",
        f0(Some(sfloor_per_s)),
        String::new(),
        ratio(Some(sfloor_per_s), pyf("gs_per_s")),
    );
    row(
        "(b) TrdApi::call p50 / p99 us",
        format!("{rtt_p50:.1} / {rtt_p99:.1}"),
        format!("{} / {}", ratio(Some(rtt_p50), Some(floor_p50)), ratio(Some(rtt_p99), Some(floor_p99))),
        String::new(),
    );
    row(
        "(b) TrdApi::call calls/s",
        f0(Some(rtt_per_s)),
        ratio(Some(rtt_per_s), Some(floor_per_s)),
        ratio(Some(rtt_per_s), pyf("gs_per_s")),
    );
    row(
        &format!("(c') floor pipelined requests/s ({} in flight)", opts.in_flight),
        f0(Some(pfloor_per_s)),
        "1.00x".into(),
        String::new(),
    );
    row(
        &format!("(c) pipelined requests/s ({} in flight)", opts.in_flight),
        f0(Some(pipelined)),
        ratio(Some(pipelined), Some(pfloor_per_s)),
        String::new(),
    );
    row(
        "(a') floor Trd_GetFunds p50 / p99 us",
        format!("{ffloor_p50:.1} / {ffloor_p99:.1}"),
        "1.00x".into(),
        String::new(),
    );
    row(
        "(d) context accinfo_query p50 / p99 us",
        format!("{ctx_p50:.1} / {ctx_p99:.1}"),
        format!("{} / {}", ratio(Some(ctx_p50), Some(ffloor_p50)), ratio(Some(ctx_p99), Some(ffloor_p99))),
        ratio(pyf("accinfo_p50_us"), Some(ctx_p50)),
    );
    row("simulator flood into a bare reader, pushes/s", f0(sim_flood), String::new(), String::new());
    row("(e) pushes/s into TrdSpi", f0(spi.per_s), ratio(spi.per_s, sim_flood), ratio(spi.per_s, pyf("pushes_per_s")));
    row(
        "(e) pushes/s into a context order handler",
        f0(ctx_pushes),
        ratio(ctx_pushes, sim_flood),
        ratio(ctx_pushes, pyf("pushes_per_s")),
    );
    row("(f) InitConnect RSA-1024 ms", f2(connect[0]), String::new(), String::new());
    row("(f) InitConnect RSA-2048 ms", f2(connect[1]), String::new(), String::new());
    row("(g) peak RSS during TrdSpi flood MiB", f1(spi.peak_rss_mib), String::new(), String::new());
    row("(g) RSS before the flood MiB", f1(spi.rss_before_mib), String::new(), String::new());
    row("(g) peak RSS during context flood MiB", f1(ctx_peak), String::new(), String::new());
    row(
        "(h) quote pushes/s into QotSpi",
        f0(qot_pushes),
        ratio(qot_pushes, sim_flood),
        ratio(qot_pushes, pyf("qot_pushes_per_s")),
    );
    row(
        "(h) quote pushes/s into a QuoteContext handler",
        f0(qctx_pushes),
        ratio(qctx_pushes, sim_flood),
        ratio(qctx_pushes, pyf("qot_pushes_per_s")),
    );
    row(
        "(i) get_stock_quote p50 / p99 us",
        format!("{quote_p50:.1} / {quote_p99:.1}"),
        format!("{} / {}", ratio(Some(quote_p50), Some(sfloor_p50)), ratio(Some(quote_p99), Some(sfloor_p99))),
        ratio(pyf("quote_rtt_p50_us"), Some(quote_p50)),
    );
    row("(j) CPU us per TrdApi::call (fast server)", f2(cpu_per_call), String::new(), String::new());
    row(
        &format!("(j) CPU us per call, replies delayed {} us", opts.reply_delay_us),
        f2(cpu_slow),
        String::new(),
        String::new(),
    );
    row(
        &format!("(j) TrdApi::call p50 us, replies delayed {} us", opts.reply_delay_us),
        f1(Some(rtt_p50_slow).filter(|v| v.is_finite())),
        String::new(),
        String::new(),
    );
    if py.is_some() {
        row("Python get_global_state p50 us", f1(pyf("gs_p50_us")), String::new(), String::new());
        row("Python get_global_state calls/s", f0(pyf("gs_per_s")), String::new(), String::new());
        row("Python accinfo_query p50 us", f1(pyf("accinfo_p50_us")), String::new(), String::new());
        row("Python pushes/s into TradeOrderHandlerBase", f0(pyf("pushes_per_s")), String::new(), String::new());
        row(
            "Python quote pushes/s into StockQuoteHandlerBase",
            f0(pyf("qot_pushes_per_s")),
            String::new(),
            String::new(),
        );
        row("Python get_stock_quote p50 us", f1(pyf("quote_rtt_p50_us")), String::new(), String::new());
    }

    let num = |v: f64| if v.is_finite() { json!((v * 100.0).round() / 100.0) } else { Value::Null };
    let opt = |v: Option<f64>| v.map_or(Value::Null, num);
    let mut out = Map::new();
    out.insert("mode".into(), json!(mode));
    out.insert("n".into(), json!(opts.n));
    out.insert("pushes".into(), json!(opts.pushes));
    out.insert("floor_p50_us".into(), num(floor_p50));
    out.insert("floor_p99_us".into(), num(floor_p99));
    out.insert("floor_per_s".into(), num(floor_per_s));
    out.insert("spin_floor_p50_us".into(), num(sfloor_p50));
    out.insert("spin_floor_p99_us".into(), num(sfloor_p99));
    out.insert("spin_floor_per_s".into(), num(sfloor_per_s));
    out.insert("pipelined_floor_per_s".into(), num(pfloor_per_s));
    out.insert("funds_floor_p50_us".into(), num(ffloor_p50));
    out.insert("funds_floor_p99_us".into(), num(ffloor_p99));
    out.insert("funds_floor_per_s".into(), num(ffloor_per_s));
    out.insert("rtt_p50_us".into(), num(rtt_p50));
    out.insert("rtt_p99_us".into(), num(rtt_p99));
    out.insert("rtt_per_s".into(), num(rtt_per_s));
    out.insert("pipelined_per_s".into(), num(pipelined));
    out.insert("context_rtt_p50_us".into(), num(ctx_p50));
    out.insert("context_rtt_p99_us".into(), num(ctx_p99));
    out.insert("sim_flood_per_s".into(), opt(sim_flood));
    out.insert("pushes_per_s".into(), opt(spi.per_s));
    out.insert("context_pushes_per_s".into(), opt(ctx_pushes));
    out.insert("connect_rsa1024_ms".into(), opt(connect[0]));
    out.insert("connect_rsa2048_ms".into(), opt(connect[1]));
    out.insert("peak_rss_mib".into(), opt(spi.peak_rss_mib));
    out.insert("rss_before_flood_mib".into(), opt(spi.rss_before_mib));
    out.insert("context_peak_rss_mib".into(), opt(ctx_peak));
    out.insert("qot_pushes_per_s".into(), opt(qot_pushes));
    out.insert("quote_context_pushes_per_s".into(), opt(qctx_pushes));
    out.insert("quote_rtt_p50_us".into(), num(quote_p50));
    out.insert("quote_rtt_p99_us".into(), num(quote_p99));
    out.insert("cpu_us_per_call".into(), opt(cpu_per_call));
    out.insert("cpu_us_per_call_slow".into(), opt(cpu_slow));
    out.insert("rtt_p50_slow_us".into(), num(rtt_p50_slow));
    out.insert("reply_delay_us".into(), json!(opts.reply_delay_us));
    if let Some(m) = &py {
        out.insert("python".into(), Value::Object(m.clone()));
    }
    Ok(Value::Object(out))
}
