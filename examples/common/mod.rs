//! Helpers shared by the examples: a tiny argument parser and the in-process simulator.
#![allow(dead_code)]

use std::collections::HashMap;

pub mod context_walk;

/// `--name value` and `--flag` arguments.
pub struct Args {
    values: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    /// Parses `std::env::args()`. `flags` lists the options that take no value (the
    /// WebSocket flags `--websocket`, `--ssl` and `--insecure` always are).
    pub fn parse(flags: &[&str]) -> Result<Args, String> {
        let mut values = HashMap::new();
        let mut set = Vec::new();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                return Err(format!("unexpected argument {a:?}"));
            };
            if flags.contains(&name) || WS_FLAGS.contains(&name) {
                set.push(name.to_string());
            } else {
                let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                values.insert(name.to_string(), v);
            }
        }
        Ok(Args { values, flags: set })
    }

    /// The value of `--name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `--name` parsed, or `default`.
    pub fn parse_or<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{name}: cannot parse {v:?}")),
        }
    }

    /// Whether `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
}

/// The WebSocket options that take no value.
const WS_FLAGS: [&str; 3] = ["websocket", "ssl", "insecure"];

/// `--websocket --key KEY [--ssl] [--ca FILE] [--insecure]`: OpenD's WebSocket port
/// instead of its TCP port.
pub struct WsArgs {
    pub key: String,
    pub ssl: bool,
    pub ca: Option<std::path::PathBuf>,
    pub insecure: bool,
}

impl WsArgs {
    /// The WebSocket options, `None` without `--websocket`.
    pub fn from(args: &Args) -> Result<Option<WsArgs>, String> {
        if !args.flag("websocket") {
            if args.get("key").is_some() || args.get("ca").is_some() || args.flag("ssl") || args.flag("insecure") {
                return Err("--key, --ssl, --ca and --insecure need --websocket".into());
            }
            return Ok(None);
        }
        let key = args.get("key").ok_or("--websocket needs --key KEY")?.to_string();
        Ok(Some(WsArgs {
            key,
            ssl: args.flag("ssl"),
            ca: args.get("ca").map(std::path::PathBuf::from),
            insecure: args.flag("insecure"),
        }))
    }

    /// The transport to `host:port`.
    pub fn transport(&self, host: &str, port: u16) -> ftapi::conn::ws::WsTransport {
        let mut t = ftapi::conn::ws::WsTransport::new(host, port, self.ssl, &self.key).insecure(self.insecure);
        if let Some(ca) = &self.ca {
            t = t.ca_file(ca);
        }
        t
    }
}

/// Where to connect: a real OpenD from `--host/--port`, or a simulator started here.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub rsa_key: Option<ftapi::codec::RsaKey>,
    /// With `--websocket`: OpenD's WebSocket port at `host:port`.
    pub ws: Option<WsArgs>,
    /// Keeps the in-process simulator alive.
    pub sim: Option<ftapi::sim::SimServer>,
    /// The in-process simulator's certificate for `--websocket --ssl` (removed on drop).
    pub cert_file: Option<TempFile>,
}

impl Target {
    /// Starts connecting `api`: over the WebSocket port with `--websocket`, else over
    /// TCP (encrypted with `encrypt`).
    pub fn init_connect(&self, api: &ftapi::TrdApi, encrypt: bool) -> bool {
        match &self.ws {
            Some(ws) if ws.ca.is_none() && !ws.insecure => api.init_connect_ws(&self.host, self.port, ws.ssl, &ws.key),
            Some(ws) => api.init_connect_with(Box::new(ws.transport(&self.host, self.port))),
            None => api.init_connect(&self.host, self.port, encrypt),
        }
    }
}

/// A file removed on drop.
pub struct TempFile(pub std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Reads `--host`, `--port`, `--rsa-key`. Without `--port`, starts the simulator on a
/// free port (with the given key, or a fresh 1024-bit one when `encrypt` is set).
///
/// With `--websocket` (and no `--port`) the simulator also serves its WebSocket port
/// with `--key` (and TLS with a certificate made here for `--ssl`, trusted through
/// `--ca` unless one is given), and the target is that port.
pub fn target(args: &Args, encrypt: bool) -> Result<Target, String> {
    let mut ws = WsArgs::from(args)?;
    let rsa_key = match args.get("rsa-key") {
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|e| format!("--rsa-key {path}: {e}"))?;
            Some(ftapi::codec::RsaKey::from_pem(&pem).map_err(|e| format!("--rsa-key {path}: {e}"))?)
        }
        None => None,
    };
    let host = args.get("host").unwrap_or("127.0.0.1").to_string();
    if let Some(port) = args.get("port") {
        let port = port.parse().map_err(|_| format!("--port: cannot parse {port:?}"))?;
        return Ok(Target { host, port, rsa_key, ws, sim: None, cert_file: None });
    }
    let rsa_key = match (rsa_key, encrypt) {
        (Some(k), _) => Some(k),
        (None, true) => Some(ftapi::codec::RsaKey::generate(1024).map_err(|e| e.to_string())?),
        (None, false) => None,
    };
    // Relaxed mode with every market held open (`opend-sim --relaxed --clock open`),
    // so that the walk-throughs run at any hour. Against a real OpenD (or the
    // simulator's default rules) a paper account refuses deal queries and two orders
    // must be 0.02 s apart: see docs/simulator.md.
    let mut builder =
        ftapi::sim::SimServer::builder().port(0).relaxed(true).clock(ftapi::sim::calendar::ClockSpec::Open);
    if let Some(k) = &rsa_key {
        builder = builder.rsa_key(k.clone());
    }
    let mut cert_file = None;
    if let Some(w) = &mut ws {
        builder = builder.websocket(0, &w.key);
        if w.ssl {
            let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .map_err(|e| format!("making a certificate: {e}"))?;
            let cert = ck.cert.pem();
            builder = builder.websocket_tls_pem(&cert, &ck.key_pair.serialize_pem());
            if w.ca.is_none() && !w.insecure {
                let path = std::env::temp_dir().join(format!("ftapi-example-{}.pem", std::process::id()));
                std::fs::write(&path, &cert).map_err(|e| format!("{}: {e}", path.display()))?;
                w.ca = Some(path.clone());
                cert_file = Some(TempFile(path));
            }
        }
    }
    let sim = builder.start().map_err(|e| format!("starting the simulator: {e}"))?;
    let addr = match (&ws, sim.ws_addr()) {
        (Some(_), Some(a)) => a,
        _ => sim.local_addr(),
    };
    Ok(Target { host: addr.ip().to_string(), port: addr.port(), rsa_key, ws, sim: Some(sim), cert_file })
}
