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
    /// Parses `std::env::args()`. `flags` lists the options that take no value.
    pub fn parse(flags: &[&str]) -> Result<Args, String> {
        let mut values = HashMap::new();
        let mut set = Vec::new();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                return Err(format!("unexpected argument {a:?}"));
            };
            if flags.contains(&name) {
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

/// Where to connect: a real OpenD from `--host/--port`, or a simulator started here.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub rsa_key: Option<ftapi::codec::RsaKey>,
    /// Keeps the in-process simulator alive.
    pub sim: Option<ftapi::sim::SimServer>,
}

/// Reads `--host`, `--port`, `--rsa-key`. Without `--port`, starts the simulator on a
/// free port (with the given key, or a fresh 1024-bit one when `encrypt` is set).
pub fn target(args: &Args, encrypt: bool) -> Result<Target, String> {
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
        return Ok(Target { host, port, rsa_key, sim: None });
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
    let sim = builder.start().map_err(|e| format!("starting the simulator: {e}"))?;
    let addr = sim.local_addr();
    Ok(Target { host: addr.ip().to_string(), port: addr.port(), rsa_key, sim: Some(sim) })
}
