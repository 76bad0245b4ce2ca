//! The ftapi walk-through: connect (encrypted) to OpenD or the built-in simulator, list
//! the accounts, unlock, subscribe to pushes, place a limit order and a market order,
//! print every push as it arrives, modify and cancel the limit order, then print orders,
//! fills, funds and positions.
//!
//! ```text
//! cargo run --example quickstart
//! cargo run --example quickstart -- --host H --port P [--rsa-key FILE] [--env simulate|real]
//!     [--password PWD] [--market HK] [--code HK.00700] [--price 300] [--qty 100]
//! ```
//! Without `--port` the OpenD simulator runs in this process. It trades in the SIMULATE
//! environment unless `--env real` is given. Exits 0 only if every step succeeded;
//! otherwise names the failed step and OpenD's message.

mod common;

use std::sync::Arc;
use std::time::Duration;

use ftapi::pb::{self, trd_common};
use ftapi::{ConnSpi, Error, TrdApi, TrdSpi};

struct Callbacks {
    connected: crossbeam_channel::Sender<(i64, String)>,
}

impl ConnSpi for Callbacks {
    fn on_init_connect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
        let _ = self.connected.send((err_code, desc.to_string()));
    }
    fn on_disconnect(&self, _api: &TrdApi, err_code: i64, desc: &str) {
        println!("disconnected: err={err_code} {desc}");
    }
}

impl TrdSpi for Callbacks {
    fn on_push_update_order(&self, _api: &TrdApi, push: pb::trd_update_order::S2c) {
        let o = &push.order;
        println!(
            "  push order  {} {} status={} qty={} filled={} price={}",
            o.order_id_ex,
            o.code,
            o.order_status,
            o.qty,
            o.fill_qty.unwrap_or(0.0),
            o.price.unwrap_or(0.0)
        );
    }
    fn on_push_update_order_fill(&self, _api: &TrdApi, push: pb::trd_update_order_fill::S2c) {
        let f = &push.order_fill;
        println!("  push fill   {} {} qty={} price={}", f.fill_id_ex, f.code, f.qty, f.price);
    }
}

/// A failed step: its name and why.
struct StepError(String, Error);

fn step<T>(name: &str, r: Result<T, Error>) -> Result<T, StepError> {
    r.map_err(|e| StepError(name.to_string(), e))
}

fn main() {
    match run() {
        Ok(()) => println!("quickstart: all steps succeeded"),
        Err(StepError(name, e)) => {
            eprintln!("quickstart: step '{name}' failed: {e}");
            if let Error::Server { ret_msg, .. } = &e {
                eprintln!("OpenD said: {ret_msg}");
            }
            std::process::exit(1);
        }
    }
}

fn arg_err(e: String) -> StepError {
    StepError("arguments".into(), Error::InvalidArgument(e))
}

fn run() -> Result<(), StepError> {
    let args = common::Args::parse(&[]).map_err(arg_err)?;
    let env = match args.get("env").unwrap_or("simulate") {
        "simulate" => trd_common::TrdEnv::Simulate,
        "real" => trd_common::TrdEnv::Real,
        other => return Err(arg_err(format!("--env must be simulate or real, not {other:?}"))),
    };
    let market_name = args.get("market").unwrap_or("HK").to_ascii_uppercase();
    let market = match market_name.as_str() {
        "HK" => trd_common::TrdMarket::Hk,
        "US" => trd_common::TrdMarket::Us,
        "CN" => trd_common::TrdMarket::Cn,
        "HKCC" => trd_common::TrdMarket::Hkcc,
        other => return Err(arg_err(format!("--market {other:?} is not supported by the quickstart"))),
    } as i32;
    let code_arg = args.get("code").unwrap_or("HK.00700").to_string();
    let (prefix, code) =
        code_arg.split_once('.').ok_or_else(|| arg_err(format!("--code {code_arg:?}: expected MARKET.CODE")))?;
    let sec_market = match prefix.to_ascii_uppercase().as_str() {
        "HK" => trd_common::TrdSecMarket::Hk,
        "US" => trd_common::TrdSecMarket::Us,
        "SH" => trd_common::TrdSecMarket::CnSh,
        "SZ" => trd_common::TrdSecMarket::CnSz,
        other => return Err(arg_err(format!("--code: unsupported market prefix {other:?}"))),
    } as i32;
    let price: f64 = args.parse_or("price", 300.0).map_err(arg_err)?;
    let qty: f64 = args.parse_or("qty", 100.0).map_err(arg_err)?;
    let password = args.get("password").unwrap_or("123456").to_string();
    // Encrypted against the simulator; against a real OpenD when a key file is given.
    let encrypt = args.get("port").is_none() || args.get("rsa-key").is_some();
    let target = common::target(&args, encrypt).map_err(arg_err)?;

    // 1. Connect.
    let api = TrdApi::new();
    api.set_client_info("ftapi-quickstart", 1);
    if let Some(k) = &target.rsa_key {
        api.set_rsa_key(k.clone());
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spi = Arc::new(Callbacks { connected: tx });
    api.set_conn_spi(spi.clone());
    api.set_trd_spi(spi);
    api.init_connect(&target.host, target.port, encrypt);
    let (ret, desc) = rx.recv_timeout(Duration::from_secs(30)).unwrap_or((-100, "no answer within 30 s".into()));
    if ret != 0 {
        return Err(StepError("connect".into(), Error::Connect(format!("ret={ret} {desc}"))));
    }
    let Some(info) = api.init_info() else {
        return Err(StepError(
            "connect".into(),
            Error::NotConnected("connection dropped right after InitConnect".into()),
        ));
    };
    println!(
        "connected: conn_id={} user={} keepalive={}s encryption={:?}",
        info.conn_id, info.login_user_id, info.keepalive_interval, info.aes_mode
    );

    let state = step(
        "get_global_state",
        api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: info.login_user_id }),
    )?;
    println!(
        "global state: server_ver={} qot_logined={} trd_logined={} market_hk={}",
        state.server_ver, state.qot_logined, state.trd_logined, state.market_hk
    );

    // 2. Accounts.
    let accs = step(
        "get_acc_list",
        api.call::<pb::proto::GetAccList>(pb::trd_get_acc_list::C2s {
            user_id: info.login_user_id,
            trd_category: Some(trd_common::TrdCategory::Security as i32),
            need_general_sec_account: Some(true),
        }),
    )?;
    for a in &accs.acc_list {
        println!("acc {} env={} markets={:?} firm={:?}", a.acc_id, a.trd_env, a.trd_market_auth_list, a.security_firm);
    }
    let acc =
        accs.acc_list.iter().find(|a| a.trd_env == env as i32 && a.trd_market_auth_list.contains(&market)).ok_or_else(
            || {
                StepError(
                    "choose account".into(),
                    Error::InvalidArgument(format!("no {env:?} account for market {market_name}")),
                )
            },
        )?;
    let header =
        trd_common::TrdHeader { trd_env: env as i32, acc_id: acc.acc_id, trd_market: market, jp_acc_type: None };
    println!("using account {}", acc.acc_id);

    // 3. Unlock (needed for real trading; harmless for simulated).
    let md5 = format!("{:x}", <md5::Md5 as md5::Digest>::digest(password.as_bytes()));
    step(
        "unlock_trade",
        api.call::<pb::proto::UnlockTrade>(pb::trd_unlock_trade::C2s {
            unlock: true,
            pwd_md5: Some(md5),
            security_firm: acc.security_firm,
        }),
    )?;
    println!("unlocked");

    // 4. Subscribe to order and fill pushes.
    step(
        "sub_acc_push",
        api.call::<pb::proto::SubAccPush>(pb::trd_sub_acc_push::C2s { acc_id_list: vec![acc.acc_id] }),
    )?;
    println!("subscribed to pushes of {}", acc.acc_id);

    // 5. A limit order that rests, then a market order.
    let place = |order_type: trd_common::OrderType, price: f64, qty: f64| pb::trd_place_order::C2s {
        header,
        trd_side: trd_common::TrdSide::Buy as i32,
        order_type: order_type as i32,
        code: code.to_string(),
        qty,
        price: Some(price),
        sec_market: Some(sec_market),
        remark: Some("ftapi quickstart".into()),
        ..Default::default()
    };
    let limit =
        step("place limit order", api.call::<pb::proto::PlaceOrder>(place(trd_common::OrderType::Normal, price, qty)))?;
    println!("placed limit order {} at {price}", limit.order_id_ex.clone().unwrap_or_default());
    let market_order = step(
        "place market order",
        api.call::<pb::proto::PlaceOrder>(place(trd_common::OrderType::Market, price, qty)),
    )?;
    println!("placed market order {}", market_order.order_id_ex.clone().unwrap_or_default());
    std::thread::sleep(Duration::from_millis(300));

    // 6. Modify the limit order, then cancel it.
    let modify = |op: trd_common::ModifyOrderOp, price: Option<f64>, qty: Option<f64>| pb::trd_modify_order::C2s {
        header,
        order_id: limit.order_id.unwrap_or(0),
        modify_order_op: op as i32,
        order_id_ex: limit.order_id_ex.clone(),
        price,
        qty,
        ..Default::default()
    };
    let new_price = (price * 0.99 * 100.0).round() / 100.0;
    step(
        "modify order",
        api.call::<pb::proto::ModifyOrder>(modify(trd_common::ModifyOrderOp::Normal, Some(new_price), Some(qty))),
    )?;
    println!("modified limit order to {new_price}");
    step("cancel order", api.call::<pb::proto::ModifyOrder>(modify(trd_common::ModifyOrderOp::Cancel, None, None)))?;
    println!("cancelled limit order");
    std::thread::sleep(Duration::from_millis(300));

    // 7. Orders, fills, funds, positions.
    let orders = step(
        "get_order_list",
        api.call::<pb::proto::GetOrderList>(pb::trd_get_order_list::C2s { header, ..Default::default() }),
    )?;
    println!("orders today: {}", orders.order_list.len());
    for o in &orders.order_list {
        println!(
            "  order {} {} side={} type={} status={} qty={} filled={}",
            o.order_id_ex,
            o.code,
            o.trd_side,
            o.order_type,
            o.order_status,
            o.qty,
            o.fill_qty.unwrap_or(0.0)
        );
    }
    let fills = step(
        "get_order_fill_list",
        api.call::<pb::proto::GetOrderFillList>(pb::trd_get_order_fill_list::C2s { header, ..Default::default() }),
    )?;
    println!("fills today: {}", fills.order_fill_list.len());
    for f in &fills.order_fill_list {
        println!("  fill {} {} qty={} price={}", f.fill_id_ex, f.code, f.qty, f.price);
    }
    let funds =
        step("get_funds", api.call::<pb::proto::GetFunds>(pb::trd_get_funds::C2s { header, ..Default::default() }))?;
    if let Some(f) = &funds.funds {
        println!(
            "funds: power={:.2} total_assets={:.2} cash={:.2} market_val={:.2}",
            f.power, f.total_assets, f.cash, f.market_val
        );
    }
    let positions = step(
        "get_position_list",
        api.call::<pb::proto::GetPositionList>(pb::trd_get_position_list::C2s { header, ..Default::default() }),
    )?;
    println!("positions: {}", positions.position_list.len());
    for p in &positions.position_list {
        println!(
            "  position {} {} qty={} cost={:.3} pl={:.2}",
            p.code,
            p.name,
            p.qty,
            p.average_cost_price.unwrap_or(0.0),
            p.pl_val
        );
    }

    api.close();
    drop(target);
    Ok(())
}
