//! The ftapi walk-through: connect (encrypted) to OpenD or the built-in simulator, list
//! the accounts, unlock, subscribe to pushes, place a limit order and a market order,
//! print every push as it arrives, modify and cancel the limit order, then print orders,
//! fills, funds and positions.
//!
//! ```text
//! cargo run --example quickstart
//! cargo run --example quickstart -- --host H --port P [--rsa-key FILE] [--env simulate|real]
//!     [--password PWD] [--market HK] [--code HK.00700] [--price 300] [--qty 100]
//! cargo run --example quickstart -- --websocket --key KEY [--ssl] [--ca FILE] [--insecure]
//!     [--host H --port P] [...the same trading flags...]
//! ```
//! With `--websocket` the whole life cycle runs over OpenD's WebSocket port (the
//! simulator's own one without `--port`), `wss://` with `--ssl`.
//! Without `--port` the OpenD simulator runs in this process and the connection is
//! encrypted with a fresh RSA key; against another OpenD it is encrypted when `--rsa-key`
//! is given. It trades in the SIMULATE environment unless `--env real` is given, on the
//! first account of that environment that may trade `--market`. The limit order is
//! placed at `--price` so that it rests (a buy below the market), then modified and
//! cancelled; the market order is for `--qty`. Exits 0 only if every step succeeded;
//! otherwise names the failed step and OpenD's message.

mod common;

use std::sync::Arc;
use std::time::Duration;

use ftapi::pb::{self, trd_common};
use ftapi::types::{Account, Funds, Order, OrderFill, Position};
use ftapi::{
    ConnSpi, Error, ModifyOrderOp, OrderType, SecurityCode, TradePassword, TrdApi, TrdEnv, TrdMarket, TrdSide, TrdSpi,
};

/// Connection events and pushes: print them as they arrive.
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
        println!("  push order  {}", order_line(&Order::from(&push.order)));
    }
    fn on_push_update_order_fill(&self, _api: &TrdApi, push: pb::trd_update_order_fill::S2c) {
        println!("  push fill   {}", fill_line(&OrderFill::from(&push.order_fill)));
    }
}

fn order_line(o: &Order) -> String {
    format!(
        "{} {} {} {} {} qty={} filled={} price={}",
        o.order_id_ex, o.code, o.trd_side, o.order_type, o.order_status, o.qty, o.fill_qty, o.price
    )
}

fn fill_line(f: &OrderFill) -> String {
    format!("{} {} {} qty={} price={}", f.fill_id_ex, f.code, f.trd_side, f.qty, f.price)
}

/// A failed step: its name and why.
struct StepError(String, Error);

/// OpenD's minimum interval between two orders of an account.
const ORDER_INTERVAL: Duration = Duration::from_millis(25);
/// OpenD's minimum interval between two modifications of an account's orders.
const MODIFY_INTERVAL: Duration = Duration::from_millis(45);

fn step<T>(name: &str, r: Result<T, Error>) -> Result<T, StepError> {
    r.map_err(|e| StepError(name.to_string(), e))
}

fn arg_err(e: impl std::fmt::Display) -> StepError {
    StepError("arguments".into(), Error::InvalidArgument(e.to_string()))
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

fn run() -> Result<(), StepError> {
    let args = common::Args::parse(&[]).map_err(arg_err)?;
    let env: TrdEnv = args.get("env").unwrap_or("simulate").parse().map_err(|e| arg_err(format!("--env: {e}")))?;
    let market: TrdMarket =
        args.get("market").unwrap_or("HK").parse().map_err(|e| arg_err(format!("--market: {e}")))?;
    let code: SecurityCode =
        args.get("code").unwrap_or("HK.00700").parse().map_err(|e| arg_err(format!("--code: {e}")))?;
    let price: f64 = args.parse_or("price", 300.0).map_err(arg_err)?;
    let qty: f64 = args.parse_or("qty", 100.0).map_err(arg_err)?;
    let password = TradePassword::from_plain_or_md5(args.get("password").unwrap_or("123456"));
    let encrypt = !args.flag("websocket") && (args.get("port").is_none() || args.get("rsa-key").is_some());
    let target = common::target(&args, encrypt).map_err(arg_err)?;

    // 1. Connect: init_connect returns at once, the result arrives in on_init_connect.
    let api = TrdApi::new();
    api.set_client_info("ftapi-quickstart", 1);
    if let Some(k) = &target.rsa_key {
        api.set_rsa_key(k.clone());
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spi = Arc::new(Callbacks { connected: tx });
    api.set_conn_spi(spi.clone());
    api.set_trd_spi(spi);
    target.init_connect(&api, encrypt);
    let (ret, desc) = rx.recv_timeout(Duration::from_secs(30)).unwrap_or((-100, "no answer within 30 s".into()));
    if ret != 0 {
        // The typed failure behind the callback's composite code, with the same text.
        let kind = ftapi::conn::ConnFailure::from_err_code(ret).map(|f| f.kind());
        let failure = match kind {
            Some(ftapi::conn::FailKind::Socket(k)) => ftapi::conn::ConnFailure::socket(k, format!("ret={ret} {desc}")),
            Some(ftapi::conn::FailKind::Init(k)) => ftapi::conn::ConnFailure::init(k, format!("ret={ret} {desc}")),
            None => ftapi::conn::ConnFailure::init(ftapi::conn::InitFailKind::Timeout, format!("ret={ret} {desc}")),
        };
        return Err(StepError("connect".into(), Error::Connect(failure)));
    }
    let Some(info) = api.init_info() else {
        return Err(StepError(
            "connect".into(),
            Error::NotConnected(ftapi::conn::ConnFailure::local("connection lost right after InitConnect")),
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
        "global state: server_ver={} qot_logined={} trd_logined={}",
        state.server_ver, state.qot_logined, state.trd_logined
    );

    // 2. Accounts: pick the first one of the environment that may trade the market.
    let accs = step(
        "get_acc_list",
        api.call::<pb::proto::GetAccList>(pb::trd_get_acc_list::C2s {
            user_id: info.login_user_id,
            trd_category: Some(trd_common::TrdCategory::Security as i32),
            need_general_sec_account: Some(true),
        }),
    )?;
    let accounts: Vec<Account> = accs.acc_list.iter().map(Account::from).collect();
    for a in &accounts {
        let markets: Vec<String> = a.trd_market_auth.iter().map(|m| m.to_string()).collect();
        println!("acc {} env={} markets={} firm={}", a.acc_id, a.env, markets.join(","), a.security_firm);
    }
    let acc = accounts.iter().find(|a| a.env == env && a.trd_market_auth.contains(&market)).ok_or_else(|| {
        StepError("choose account".into(), Error::InvalidArgument(format!("no {env} account for market {market}")))
    })?;
    let header =
        trd_common::TrdHeader { trd_env: env.into(), acc_id: acc.acc_id, trd_market: market.into(), jp_acc_type: None };
    println!("using account {}", acc.acc_id);

    // 3. Unlock (needed for real trading; harmless for simulated).
    step(
        "unlock_trade",
        api.call::<pb::proto::UnlockTrade>(pb::trd_unlock_trade::C2s {
            unlock: true,
            pwd_md5: Some(password.pwd_md5().to_string()),
            security_firm: Some(acc.security_firm.into()),
        }),
    )?;
    println!("unlocked");

    // 4. Subscribe to the account's order and fill pushes.
    step(
        "sub_acc_push",
        api.call::<pb::proto::SubAccPush>(pb::trd_sub_acc_push::C2s { acc_id_list: vec![acc.acc_id] }),
    )?;
    println!("subscribed to pushes of {}", acc.acc_id);

    // 5. A limit order that rests, then a market order. The SDK fills in the PacketID.
    let place = |order_type: OrderType| pb::trd_place_order::C2s {
        header,
        trd_side: TrdSide::Buy.into(),
        order_type: order_type.into(),
        code: code.code.clone(),
        qty,
        price: Some(price),
        sec_market: Some(code.sec_market().into()),
        remark: Some("ftapi quickstart".into()),
        ..Default::default()
    };
    let limit = step("place limit order", api.call::<pb::proto::PlaceOrder>(place(OrderType::Normal)))?;
    let limit_id = limit.order_id_ex.clone().unwrap_or_default();
    println!("placed limit order {limit_id} at {price}");
    // OpenD refuses two orders of an account less than 0.02 s apart (and two modifies less
    // than 0.04 s apart): a bot paces its write requests.
    std::thread::sleep(ORDER_INTERVAL);
    let market_order = step("place market order", api.call::<pb::proto::PlaceOrder>(place(OrderType::Market)))?;
    println!("placed market order {}", market_order.order_id_ex.unwrap_or_default());
    std::thread::sleep(Duration::from_millis(300));

    // 6. Modify the limit order (1% lower), then cancel it.
    let modify = |op: ModifyOrderOp, price: Option<f64>, qty: Option<f64>| pb::trd_modify_order::C2s {
        header,
        order_id: limit.order_id.unwrap_or(0),
        modify_order_op: op.into(),
        order_id_ex: Some(limit_id.clone()),
        price,
        qty,
        adjust_price: Some(true),
        ..Default::default()
    };
    let new_price = (price * 0.99 * 100.0).round() / 100.0;
    step(
        "modify order",
        api.call::<pb::proto::ModifyOrder>(modify(ModifyOrderOp::Normal, Some(new_price), Some(qty))),
    )?;
    println!("modified limit order {limit_id} to {new_price}");
    std::thread::sleep(MODIFY_INTERVAL);
    step("cancel order", api.call::<pb::proto::ModifyOrder>(modify(ModifyOrderOp::Cancel, None, None)))?;
    println!("cancelled limit order {limit_id}");
    std::thread::sleep(Duration::from_millis(300));

    // 7. Orders, fills, funds, positions.
    let orders = step(
        "get_order_list",
        api.call::<pb::proto::GetOrderList>(pb::trd_get_order_list::C2s { header, ..Default::default() }),
    )?;
    println!("orders today: {}", orders.order_list.len());
    for o in orders.order_list.iter().map(Order::from) {
        println!("  order {}", order_line(&o));
    }
    if env == TrdEnv::Simulate {
        // OpenD answers no deal queries on paper (SIMULATE) accounts.
        println!("fills today: not queried (OpenD has no deal queries for paper accounts)");
    } else {
        let fills = step(
            "get_order_fill_list",
            api.call::<pb::proto::GetOrderFillList>(pb::trd_get_order_fill_list::C2s { header, ..Default::default() }),
        )?;
        println!("fills today: {}", fills.order_fill_list.len());
        for f in fills.order_fill_list.iter().map(OrderFill::from) {
            println!("  fill {}", fill_line(&f));
        }
    }
    let funds =
        step("get_funds", api.call::<pb::proto::GetFunds>(pb::trd_get_funds::C2s { header, ..Default::default() }))?;
    if let Some(f) = funds.funds.as_ref().map(Funds::from) {
        println!(
            "funds: power={:.2} total_assets={:.2} cash={:.2} market_val={:.2} {}",
            f.power, f.total_assets, f.cash, f.market_val, f.currency
        );
    }
    let positions = step(
        "get_position_list",
        api.call::<pb::proto::GetPositionList>(pb::trd_get_position_list::C2s { header, ..Default::default() }),
    )?;
    println!("positions: {}", positions.position_list.len());
    for p in positions.position_list.iter().map(Position::from) {
        println!("  position {} {} qty={} pl={:.2}", p.code, p.name, p.qty, p.pl_val);
    }

    api.close();
    drop(target);
    Ok(())
}
