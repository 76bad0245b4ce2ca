//! Connect to OpenD (or the built-in simulator), print every connection callback, stay
//! up for a while, close. The Rust version of the official C#/Java connection sample.
//!
//! ```text
//! cargo run --example connect -- [--host H --port P] [--encrypt --rsa-key FILE] [--secs N]
//! cargo run --example connect -- --websocket --key KEY [--ssl] [--ca FILE] [--insecure]
//!     [--host H --port P] [--secs N]
//! ```
//! Without `--port` the OpenD simulator is started in this process. With `--websocket`
//! it connects to OpenD's WebSocket port (`init_connect_ws`; the simulator's own one
//! without `--port`), `wss://` with `--ssl`, trusting `--ca FILE` or, with
//! `--insecure`, any certificate.

mod common;

use std::sync::Arc;
use std::time::Duration;

use ftapi::{ConnSpi, TrdApi};

struct PrintSpi {
    done: crossbeam_channel::Sender<i64>,
}

impl ConnSpi for PrintSpi {
    fn on_init_connect(&self, api: &TrdApi, err_code: i64, desc: &str) {
        println!("on_init_connect: ret={err_code} desc={desc} conn_id={}", api.get_connect_id());
        let _ = self.done.send(err_code);
    }

    fn on_disconnect(&self, _api: &TrdApi, err_code: i64, _desc: &str) {
        println!("on_disconnect: err={err_code}");
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = common::Args::parse(&["encrypt"])?;
    let encrypt = args.flag("encrypt");
    let secs: u64 = args.parse_or("secs", 3)?;
    let target = common::target(&args, encrypt)?;

    let api = TrdApi::new();
    api.set_client_info("ftapi-connect", 1);
    if let Some(k) = &target.rsa_key {
        api.set_rsa_key(k.clone());
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    api.set_conn_spi(Arc::new(PrintSpi { done: tx }));
    if !target.init_connect(&api, encrypt) {
        return Err("init_connect could not start".into());
    }
    let ret = rx.recv_timeout(Duration::from_secs(30)).map_err(|_| "no on_init_connect within 30 s".to_string())?;
    std::thread::sleep(Duration::from_secs(secs));
    api.close();
    println!("closed");
    drop(target);
    if ret != 0 {
        return Err(format!("InitConnect failed with {ret}"));
    }
    Ok(())
}
