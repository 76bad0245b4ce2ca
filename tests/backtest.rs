//! Backtesting (`opend-sim --history`): the shipped two-day CSV (tests/data/gen_history.py)
//! replayed through the simulator, checked over the wire and in process: the loader, the
//! clock that skips closed time, no look-ahead in quotes and history, limit fills where
//! the path first reaches the limit, determinism of trades and report, the report page,
//! and record → replay round trips. Nothing asserts a timing tightly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftapi::context::{AccSel, HistoryKlQuery, PlaceOrder, QuoteContext, SecTradeContext};
use ftapi::sim::accounts::BrokerConfig;
use ftapi::sim::calendar::{parse_rfc3339, ClockSpec};
use ftapi::sim::market::tape::Tape;
use ftapi::sim::replay::{csv, Replay, ReplayRun};
use ftapi::sim::{Broker, QuoteConfig, SimServer};
use ftapi::types::{KLType, Market, RehabType, TrdEnv, TrdMarket, TrdSide};

#[allow(dead_code)]
#[path = "../examples/record.rs"]
mod record;

fn data() -> PathBuf {
    data_file("history_2d.csv")
}

/// A shipped file of tests/data (all written by tests/data/gen_history.py).
fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("data").join(name)
}

fn at(s: &str) -> f64 {
    parse_rfc3339(s).expect("instant")
}

/// A replay of `files` in this process: the simulator, its broker and the driver.
struct Rig {
    server: SimServer,
    broker: Arc<Broker>,
    run: ReplayRun,
}

fn start(files: &[PathBuf], clock: &str, speed: f64) -> Rig {
    let replay = Replay::load(files).expect("load history");
    let clock = replay.clock(Some(ClockSpec::At { start: at(clock), speed })).expect("clock");
    let config = replay.configure(BrokerConfig::default().with_rate_limits(false));
    let broker = Arc::new(Broker::with_clock(config, clock).expect("broker"));
    replay.attach(&broker);
    let server = SimServer::builder()
        .port(0)
        .trade_handler(broker.clone())
        .quote_config(QuoteConfig { tick_ms: 50, ..QuoteConfig::default() })
        .start()
        .expect("start simulator");
    let run = replay.start(broker.clone(), Duration::from_millis(5), None).expect("driver");
    Rig { server, broker, run }
}

fn quote_ctx(rig: &Rig) -> QuoteContext {
    QuoteContext::builder().host("127.0.0.1").port(rig.server.local_addr().port()).open().expect("quote context")
}

fn trade_ctx(rig: &Rig) -> SecTradeContext {
    SecTradeContext::builder()
        .host("127.0.0.1")
        .port(rig.server.local_addr().port())
        .filter_trdmarket(TrdMarket::Hk)
        .open()
        .expect("trade context")
}

fn paper(order: PlaceOrder) -> PlaceOrder {
    let mut o = order;
    o.acc = AccSel::env(TrdEnv::Simulate);
    o
}

#[test]
fn the_shipped_csv_loads_in_any_row_order_and_bad_rows_name_file_and_line() {
    let tape = csv::load(&[data()]).expect("load");
    assert_eq!(tape.all().len(), 2);
    let c = tape.code("HK.00700").expect("HK.00700");
    assert_eq!((c.period, c.bars().len(), c.name.as_deref()), (60, 660, Some("TENCENT")));
    assert_eq!(tape.first_start(), Some(at("2026-12-04T09:30:00+08:00") as i64));
    assert_eq!(tape.last_end(), Some(at("2026-12-07T16:00:00+08:00") as i64));

    // Rows in reverse order load to the same tape.
    let text = std::fs::read_to_string(data()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    lines.reverse();
    let reversed = format!("{header}\n{}\n", lines.join("\n"));
    let again = csv::load_str(&reversed, Path::new("rev.csv")).expect("reversed");
    assert_eq!(again.code("HK.00700").unwrap().bars(), c.bars());

    // A broken row: the error names the file and the line, and nothing loads.
    let dir = std::env::temp_dir().join(format!("ftapi-backtest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.csv");
    let mut rows: Vec<String> = text.lines().map(str::to_string).collect();
    rows[41] = rows[41].replacen(",TENCENT,", ",TENCENT,x", 1).replace("2026-12-04 10:11:00", "2026-12-04 10:11");
    std::fs::write(&bad, rows.join("\n")).unwrap();
    let e = Replay::load(std::slice::from_ref(&bad)).unwrap_err();
    assert_eq!((e.file.clone(), e.line), (bad.clone(), 42), "{e}");
    assert!(e.to_string().starts_with(&format!("{}:42: time_key", bad.display())), "{e}");
    rows[41] = text.lines().nth(41).unwrap().to_string();
    rows[77] = rows[77].replace(",0.0,0.0,", ",0.0,0.0,-");
    std::fs::write(&bad, rows.join("\n")).unwrap();
    let e = Replay::load(std::slice::from_ref(&bad)).unwrap_err();
    assert!(e.to_string().starts_with(&format!("{}:78: volume", bad.display())), "{e}");
    // A folder: every *.csv in it.
    std::fs::write(&bad, &text).unwrap();
    assert_eq!(Replay::load(std::slice::from_ref(&dir)).unwrap().tape().len(), 1320);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_clock_skips_lunch_nights_and_weekends() {
    let replay = Replay::load(&[data()]).unwrap();
    // Friday 15:59:50 at x60: ten seconds later (simulated) the Friday session is over,
    // and the next instant shown is Monday morning.
    let clock = replay.clock(Some(ClockSpec::At { start: at("2026-12-04T15:59:50+08:00"), speed: 60.0 })).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let now = clock.now();
    let mon = at("2026-12-07T09:30:00+08:00");
    assert!(now > mon && now < mon + 120.0, "{now} should be just after Monday's open");
    // The lunch break: 11:59:55 runs into 13:00.
    let clock = replay.clock(Some(ClockSpec::At { start: at("2026-12-07T11:59:55+08:00"), speed: 30.0 })).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let now = clock.now();
    assert!(now > at("2026-12-07T13:00:00+08:00") && now < at("2026-12-07T13:02:00+08:00"), "{now}");
    // Before the data: the clock starts at the first session open.
    let clock = replay.clock(None).unwrap();
    assert!((clock.now() - at("2026-12-04T09:30:00+08:00")).abs() < 5.0);
    // A wall-time clock cannot replay.
    assert!(replay.clock(Some(ClockSpec::Open)).is_err());
}

#[test]
fn quotes_are_inside_the_bar_of_the_moment_and_history_never_passes_the_clock() {
    let rig = start(&[data()], "2026-12-04T10:00:00+08:00", 60.0);
    let tape = rig.run.replay().tape().clone();
    let ctx = quote_ctx(&rig);
    ctx.subscribe(["HK.00700"], [ftapi::types::SubType::Quote]).expect("subscribe");
    let clock = rig.broker.clock();
    for _ in 0..5 {
        let before = clock.now();
        let q = ctx.get_stock_quote(["HK.00700"]).expect("quote");
        let after = clock.now();
        // Every bar the request may have seen: those running between before and after.
        let c = tape.code("HK.00700").unwrap();
        let (lo_i, hi_i) = (c.ended_by(before), c.ended_by(after));
        let bars = &c.bars()[lo_i..=hi_i.min(c.bars().len() - 1)];
        let lo = bars.iter().map(|b| b.low).fold(f64::MAX, f64::min);
        let hi = bars.iter().map(|b| b.high).fold(f64::MIN, f64::max);
        let last = q[0].last_price;
        assert!(last >= lo - 1e-9 && last <= hi + 1e-9, "last {last} outside [{lo}, {hi}] at {before}..{after}");

        let k = ctx
            .request_history_kline_all(
                HistoryKlQuery::new("HK.00700", "2026-12-04", "2026-12-07").ktype(KLType::Min1).autype(RehabType::None),
                100,
            )
            .expect("history");
        let after = clock.now();
        assert!(!k.is_empty());
        // Every bar ends by now, except at most one partial bar (labelled by its end).
        let cal = ftapi::sim::market::clock::Calendar::of(1);
        let ends: Vec<f64> = k
            .iter()
            .map(|b| {
                let (d, s) = ftapi::sim::market::clock::parse_time(&b.time_key).unwrap();
                (cal.midnight(d) + s) as f64
            })
            .collect();
        let late = ends.iter().filter(|e| **e > after).count();
        assert!(late <= 1, "{late} bars after the clock ({after})");
        assert!(ends.iter().all(|e| *e <= after + 60.0), "a bar from the future");
        // Bars that are over are the recorded ones.
        for (b, e) in k.iter().zip(&ends) {
            if *e <= before {
                let rec = tape.bars("HK.00700", *e as i64 - 1, *e as i64);
                assert_eq!(rec.len(), 1, "{}", b.time_key);
                assert_eq!((b.open, b.high, b.low, b.close), (rec[0].open, rec[0].high, rec[0].low, rec[0].close));
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The first instant at which the path of `code` reaches `limit` (a buy: from above)
/// after `from`, computed from the tape.
fn first_cross_down(tape: &ftapi::sim::replay::ReplayTape, code: &str, from: f64, limit: f64) -> f64 {
    let c = tape.code(code).unwrap();
    let pts = c.path_points(from, tape.last_end().unwrap() as f64);
    let mut prev: Option<(f64, f64, usize)> = None;
    for (t, p, bi) in pts {
        if let Some((pt, pp, pb)) = prev {
            if pb == bi && pp > limit && p <= limit {
                return pt + (limit - pp) / (p - pp) * (t - pt);
            }
        }
        if p <= limit {
            return t;
        }
        prev = Some((t, p, bi));
    }
    panic!("the path never reaches {limit}")
}

#[test]
fn a_limit_order_fills_where_the_path_first_reaches_it_and_not_before() {
    let rig = start(&[data()], "2026-12-04T10:00:00+08:00", 120.0);
    let tape = rig.run.replay().tape().clone();
    let trd = trade_ctx(&rig);
    let clock = rig.broker.clock();
    let now = clock.now();
    let price = tape.price_at("HK.00700", now).unwrap();
    // Two ticks (0.2) below the minimum of the next ten minutes' opens: reached later.
    let limit = ((price - 1.0) / 0.2).floor() * 0.2;
    let limit = (limit * 10.0).round() / 10.0;
    let placed =
        trd.place_order(paper(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(100.0).price(limit))).expect("place");
    let id = placed.order_id.expect("order id");
    let created = rig.broker.trade_log().orders.iter().find(|o| o.order_id == id).unwrap().create_ts;
    let cross = first_cross_down(&tape, "HK.00700", created, limit);
    assert!(cross > created + 10.0, "the limit {limit} should be reached later ({cross} vs {created})");
    // Not filled while the clock is before the crossing.
    while clock.now() < cross - 5.0 {
        let log = rig.broker.trade_log();
        assert!(log.fills.iter().all(|f| f.order_id != id), "filled before the path reached the limit");
        std::thread::sleep(Duration::from_millis(20));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let fill = loop {
        if let Some(f) = rig.broker.trade_log().fills.into_iter().find(|f| f.order_id == id) {
            break f;
        }
        assert!(Instant::now() < deadline, "no fill");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(fill.price, limit);
    assert!((fill.ts - cross).abs() < 1e-3, "filled at {} instead of {cross}", fill.ts);
    assert_eq!(fill.qty, 100.0);
}

#[test]
fn fills_are_limited_to_the_bar_volume() {
    let rig = start(&[data()], "2026-12-04T10:00:00+08:00", 60.0);
    let tape = rig.run.replay().tape().clone();
    let trd = trade_ctx(&rig);
    // A marketable buy larger than a bar's volume (2 000 to 6 900 shares): it fills over
    // several bars, at most each bar's volume in each.
    let price = tape.price_at("HK.09988", rig.broker.clock().now()).unwrap();
    let limit = (((price + 1.0) / 0.05).round() * 0.05 * 100.0).round() / 100.0;
    let placed =
        trd.place_order(paper(PlaceOrder::limit("HK.09988", TrdSide::Buy).qty(10_000.0).price(limit))).expect("place");
    let id = placed.order_id.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = rig.broker.trade_log();
        let fills: Vec<_> = log.fills.iter().filter(|f| f.order_id == id).collect();
        if fills.iter().map(|f| f.qty).sum::<f64>() >= 10_000.0 {
            assert!(fills.len() >= 2, "{} fills", fills.len());
            let c = tape.code("HK.09988").unwrap();
            for f in fills {
                let i = c.running_at(f.ts).or_else(|| c.ended_by(f.ts).checked_sub(1)).unwrap();
                assert!(f.qty <= c.bars()[i].volume as f64, "fill {} > bar volume {}", f.qty, c.bars()[i].volume);
            }
            break;
        }
        assert!(Instant::now() < deadline, "not filled");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Places the same resting limit orders (reached well after they are placed: the price
/// falls from about 412 to 391 after 14:30 on Monday) and returns the report once the
/// history ended.
fn scripted_run() -> ftapi::sim::replay::Report {
    let rig = start(&[data()], "2026-12-07T14:30:00+08:00", 1800.0);
    let trd = trade_ctx(&rig);
    for px in [404.0, 398.0] {
        trd.place_order(paper(PlaceOrder::limit("HK.00700", TrdSide::Buy).qty(200.0).price(px))).expect("place");
    }
    assert!(rig.run.wait_end(Duration::from_secs(30)), "the history did not end");
    rig.run.report()
}

#[test]
fn a_replay_is_deterministic_and_its_report_is_a_page_with_an_svg() {
    let a = scripted_run();
    let b = scripted_run();
    let key = |r: &ftapi::sim::replay::Report| {
        r.fills.iter().map(|f| (f.code.clone(), f.buy, f.qty, f.price, f.ts)).collect::<Vec<_>>()
    };
    assert_eq!(key(&a), key(&b));
    assert!(!a.fills.is_empty(), "the scripted orders should trade");
    assert_eq!(a.accounts.len(), b.accounts.len());
    for (x, y) in a.accounts.iter().zip(&b.accounts) {
        assert_eq!(
            (x.acc_id, x.currency, x.pnl, x.max_drawdown, x.fills, x.fees),
            (y.acc_id, y.currency, y.pnl, y.max_drawdown, y.fills, y.fees)
        );
        assert_eq!(x.curve, y.curve);
        assert!((x.end_equity - x.start_equity - x.pnl).abs() < 0.011);
    }
    let html = a.to_html();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(
        !html.contains("http://")
            || html.matches("http://").all(|_| html.contains("xmlns=\"http://www.w3.org/2000/svg\""))
    );
    assert!(!html.contains("<script") && !html.contains("src="), "the page must be self-contained");
    // Every <svg> is closed and its tags balance.
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    assert!(html.matches("<svg").count() >= 1);
    for svg in html.split("<svg").skip(1) {
        let body = svg.split("</svg>").next().unwrap();
        for tag in ["polyline", "polygon", "line", "text"] {
            let open = body.matches(&format!("<{tag} ")).count();
            let closed = body.matches("/>").count() + body.matches(&format!("</{tag}>")).count();
            assert!(open <= closed, "{tag} not closed");
        }
    }
}

#[test]
fn record_then_replay_gives_the_same_bars_back() {
    // Record the whole history from a replay whose clock is at its end, then replay
    // the recording: the bars are the same.
    let rig = start(&[data()], "2026-12-07T15:59:00+08:00", 600.0);
    assert!(rig.run.wait_end(Duration::from_secs(30)));
    let dir = std::env::temp_dir().join(format!("ftapi-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("rec.csv");
    let codes = vec!["HK.00700".to_string(), "HK.09988".to_string()];
    let mut progress = Vec::new();
    let n = record::record(
        "127.0.0.1",
        rig.server.local_addr().port(),
        &codes,
        "2026-12-04",
        "2026-12-07",
        KLType::Min1,
        RehabType::None,
        &out,
        |c, n| progress.push((c.to_string(), n)),
    )
    .expect("record");
    if n != 1320 {
        let orig = std::fs::read_to_string(data()).unwrap();
        let keys: std::collections::HashSet<String> = orig
            .lines()
            .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(",").replace(",TENCENT", "").replace(",BABA-W", ""))
            .collect();
        for l in std::fs::read_to_string(&out).unwrap().lines().skip(1) {
            let f: Vec<&str> = l.split(',').collect();
            if !keys.contains(&format!("{},{}", f[0], f[2])) {
                eprintln!("extra: {l}");
            }
        }
    }
    assert_eq!(n, 1320, "{progress:?}");
    let original = csv::load(&[data()]).unwrap();
    let replayed = csv::load(&[out]).unwrap();
    for code in &codes {
        let a = original.code(code).unwrap().bars();
        let b = replayed.code(code).unwrap().bars();
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!(
                (x.ts, x.open, x.high, x.low, x.close, x.volume),
                (y.ts, y.open, y.high, y.low, y.close, y.volume)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn opend_sim_refuses_a_bad_history_before_listening() {
    let dir = std::env::temp_dir().join(format!("ftapi-badhist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "code,time_key,open,close,high,low,volume\nHK.00700,2026-12-04 09:31:00,10,11,12,9,100\nHK.00700,2026-12-04 09:31:00,10,11,12,9,100\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opend-sim"))
        .args(["--port", "0", "--history"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "it listened: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3: duplicate bar", bad.display())), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trading_days_end_at_the_simulated_day() {
    // Friday 2026-12-04 10:00 in Hong Kong is Thursday 21:00 in New York.
    let rig = start(&[data()], "2026-12-04T10:00:00+08:00", 60.0);
    let ctx = quote_ctx(&rig);
    let days = |m: Market, code: Option<&str>| -> Vec<String> {
        let r = ctx.request_trading_days(m, "2026-11-01", "2027-12-31", code).expect("trading days");
        r.trade_date_list.into_iter().map(|d| d.time).collect()
    };
    for list in [days(Market::Hk, None), days(Market::Hk, Some("HK.00700"))] {
        assert_eq!(list.last().map(String::as_str), Some("2026-12-04"), "{list:?}");
        assert!(list.contains(&"2026-11-02".to_string()));
    }
    let us = days(Market::Us, None);
    assert_eq!(us.last().map(String::as_str), Some("2026-12-03"), "{us:?}");
    // A range wholly after the simulated day: no day at all.
    let r = ctx.request_trading_days(Market::Hk, "2026-12-07", "2026-12-31", None).expect("trading days");
    assert!(r.trade_date_list.is_empty(), "{:?}", r.trade_date_list);

    // Outside a replay (a simulated clock without an end), nothing changes: the days
    // run to the end asked for.
    let clock =
        ftapi::sim::calendar::MarketClock::new(ClockSpec::At { start: at("2026-12-04T10:00:00+08:00"), speed: 1.0 });
    let broker = Arc::new(Broker::with_clock(BrokerConfig::default(), clock).expect("broker"));
    let server = SimServer::builder().port(0).trade_handler(broker).start().expect("simulator");
    let ctx = QuoteContext::builder().host("127.0.0.1").port(server.local_addr().port()).open().expect("quote context");
    let r = ctx.request_trading_days(Market::Hk, "2026-11-01", "2027-12-31", None).expect("trading days");
    assert!(
        r.trade_date_list.last().is_some_and(|d| d.time.as_str() >= "2027-12-01"),
        "{:?}",
        r.trade_date_list.last()
    );
}

/// The instant a K-line's `time_key` stands for, in the market of `sec`.
fn key_instant(sec: i32, time_key: &str) -> f64 {
    let cal = ftapi::sim::market::clock::Calendar::of(sec);
    let (d, s) = ftapi::sim::market::clock::parse_time(time_key).expect("time_key");
    (cal.midnight(d) + s) as f64
}

/// The lowest low and highest high of the bars of `code` running between `from` and `to`.
fn range_between(tape: &ftapi::sim::replay::ReplayTape, code: &str, from: f64, to: f64) -> (f64, f64) {
    let c = tape.code(code).unwrap();
    let (lo_i, hi_i) = (c.ended_by(from), c.ended_by(to));
    let bars = &c.bars()[lo_i.min(c.bars().len() - 1)..=hi_i.min(c.bars().len() - 1)];
    let lo = bars.iter().map(|b| b.low).fold(f64::MAX, f64::min);
    let hi = bars.iter().map(|b| b.high).fold(f64::MIN, f64::max);
    (lo, hi)
}

#[test]
fn a_us_five_minute_replay_runs_in_new_york_time_and_skips_the_weekend() {
    let file = data_file("history_us_5m.csv");
    let tape = csv::load(std::slice::from_ref(&file)).expect("load");
    let c = tape.code("US.AAPL").expect("US.AAPL");
    assert_eq!((c.period, c.bars().len()), (300, 156));
    // Friday is on daylight time (UTC-4), Monday after the change back (UTC-5).
    assert_eq!(tape.first_start(), Some(at("2026-10-30T09:30:00-04:00") as i64));
    assert_eq!(c.span(77), (at("2026-10-30T15:55:00-04:00") as i64, at("2026-10-30T16:00:00-04:00") as i64));
    assert_eq!(c.span(78), (at("2026-11-02T09:30:00-05:00") as i64, at("2026-11-02T09:35:00-05:00") as i64));
    assert_eq!(tape.last_end(), Some(at("2026-11-02T16:00:00-05:00") as i64));

    // The clock: thirty seconds before Friday's close at x60, a second later it is
    // Monday's session (the night, the weekend and the pre-market are skipped).
    let replay = Replay::load(std::slice::from_ref(&file)).unwrap();
    let clock = replay.clock(Some(ClockSpec::At { start: at("2026-10-30T15:59:30-04:00"), speed: 60.0 })).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let mon = at("2026-11-02T09:30:00-05:00");
    let now = clock.now();
    assert!(now > mon && now < mon + 120.0, "{now} should be just after Monday's open");

    // Quotes and history over the wire, Monday morning.
    let rig = start(std::slice::from_ref(&file), "2026-11-02T10:00:00-05:00", 600.0);
    let tape = rig.run.replay().tape().clone();
    let ctx = quote_ctx(&rig);
    ctx.subscribe(["US.AAPL"], [ftapi::types::SubType::Quote]).expect("subscribe");
    let clock = rig.broker.clock();
    let us = ftapi::sim::matching::sec_market::US;
    for _ in 0..4 {
        let before = clock.now();
        let q = ctx.get_stock_quote(["US.AAPL"]).expect("quote");
        let after = clock.now();
        let (lo, hi) = range_between(&tape, "US.AAPL", before, after);
        let last = q[0].last_price;
        assert!(last >= lo - 1e-9 && last <= hi + 1e-9, "last {last} outside [{lo}, {hi}] at {before}..{after}");

        let k = ctx
            .request_history_kline_all(
                HistoryKlQuery::new("US.AAPL", "2026-10-30", "2026-11-02").ktype(KLType::Min5).autype(RehabType::None),
                100,
            )
            .expect("history");
        let after = clock.now();
        // Friday's 78 bars, labelled in New York time, then Monday's so far.
        assert_eq!(k[0].time_key, "2026-10-30 09:35:00");
        assert_eq!(k[77].time_key, "2026-10-30 16:00:00");
        assert_eq!(k[78].time_key, "2026-11-02 09:35:00");
        let ends: Vec<f64> = k.iter().map(|b| key_instant(us, &b.time_key)).collect();
        assert!(ends.iter().filter(|e| **e > after).count() <= 1, "bars after the clock ({after})");
        assert!(ends.iter().all(|e| *e <= after + 300.0), "a bar from the future");
        for (b, e) in k.iter().zip(&ends) {
            let rec = tape.bars("US.AAPL", *e as i64 - 1, *e as i64);
            assert_eq!(rec.len(), 1, "{}", b.time_key);
            if *e <= before {
                assert_eq!((b.open, b.high, b.low, b.close), (rec[0].open, rec[0].high, rec[0].low, rec[0].close));
            } else {
                assert!(b.high <= rec[0].high + 1e-9 && b.low >= rec[0].low - 1e-9, "{b:?} outside {:?}", rec[0]);
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(ctx);
    drop(rig);
    // At the end of the history, the last five-minute bars (sampled live while they
    // ran) are the recorded ones, and so is the day.
    let rig = start(std::slice::from_ref(&file), "2026-11-02T15:50:00-05:00", 600.0);
    let ctx = quote_ctx(&rig);
    ctx.subscribe(["US.AAPL"], [ftapi::types::SubType::Quote]).expect("subscribe");
    assert!(rig.run.wait_end(Duration::from_secs(30)), "the history did not end");
    let tape = rig.run.replay().tape().clone();
    let rec = tape.code("US.AAPL").unwrap().bars();
    let k = ctx
        .request_history_kline_all(
            HistoryKlQuery::new("US.AAPL", "2026-11-02", "2026-11-02").ktype(KLType::Min5).autype(RehabType::None),
            100,
        )
        .expect("history");
    assert_eq!(k.len(), 78);
    for (b, r) in k.iter().zip(&rec[78..]) {
        assert_eq!((b.open, b.high, b.low, b.close, b.volume), (r.open, r.high, r.low, r.close, r.volume));
    }
    let day = ctx
        .request_history_kline_all(
            HistoryKlQuery::new("US.AAPL", "2026-11-02", "2026-11-02").ktype(KLType::Day).autype(RehabType::None),
            10,
        )
        .expect("daily history");
    let vol: i64 = rec[78..].iter().map(|r| r.volume).sum();
    assert_eq!(day.len(), 1);
    assert_eq!((day[0].open, day[0].close, day[0].volume), (rec[78].open, rec[155].close, vol));
}

#[test]
fn a_daily_replay_quotes_inside_the_day_bar_and_history_stops_at_today() {
    let file = data_file("history_daily.csv");
    let tape = csv::load(std::slice::from_ref(&file)).expect("load");
    let c = tape.code("HK.00388").expect("HK.00388");
    assert_eq!((c.period, c.bars().len()), (86_400, 10));
    // A daily bar runs from the day's open to its close.
    assert_eq!(tape.first_start(), Some(at("2026-11-23T09:30:00+08:00") as i64));
    assert_eq!(tape.last_end(), Some(at("2026-12-04T16:00:00+08:00") as i64));

    // The clock skips the night: ten seconds before Tuesday's close, a moment later it
    // is Wednesday's open.
    let replay = Replay::load(std::slice::from_ref(&file)).unwrap();
    let clock = replay.clock(Some(ClockSpec::At { start: at("2026-12-01T15:59:50+08:00"), speed: 60.0 })).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let wed = at("2026-12-02T09:30:00+08:00");
    let now = clock.now();
    assert!(now > wed && now < wed + 120.0, "{now} should be just after Wednesday's open");

    let rig = start(std::slice::from_ref(&file), "2026-12-01T10:30:00+08:00", 120.0);
    let tape = rig.run.replay().tape().clone();
    let ctx = quote_ctx(&rig);
    ctx.subscribe(["HK.00388"], [ftapi::types::SubType::Quote]).expect("subscribe");
    let clock = rig.broker.clock();
    let hk = ftapi::sim::matching::sec_market::HK;
    let today = tape.code("HK.00388").unwrap().bars()[6];
    for _ in 0..4 {
        let before = clock.now();
        let q = ctx.get_stock_quote(["HK.00388"]).expect("quote");
        let after = clock.now();
        let (lo, hi) = range_between(&tape, "HK.00388", before, after);
        let q = &q[0];
        assert!(q.last_price >= lo - 1e-9 && q.last_price <= hi + 1e-9, "last {} outside [{lo}, {hi}]", q.last_price);
        assert!(q.high_price <= today.high + 1e-9 && q.low_price >= today.low - 1e-9, "{q:?} vs {today:?}");

        let k = ctx
            .request_history_kline_all(
                HistoryKlQuery::new("HK.00388", "2026-11-01", "2026-12-31").ktype(KLType::Day).autype(RehabType::None),
                100,
            )
            .expect("history");
        // Nov 23 to Dec 1: six days over, and today's bar so far.
        let keys: Vec<&str> = k.iter().map(|b| b.time_key.as_str()).collect();
        assert_eq!(keys.len(), 7, "{keys:?}");
        assert_eq!(keys[0], "2026-11-23 00:00:00");
        assert_eq!(keys[6], "2026-12-01 00:00:00");
        for (b, rec) in k.iter().zip(tape.code("HK.00388").unwrap().bars()) {
            assert_eq!(key_instant(hk, &b.time_key), rec.ts as f64);
            if rec.day < today.day {
                assert_eq!((b.open, b.high, b.low, b.close), (rec.open, rec.high, rec.low, rec.close));
            } else {
                assert_eq!(b.open, rec.open);
                assert!(b.high <= rec.high + 1e-9 && b.low >= rec.low - 1e-9, "{b:?} outside {rec:?}");
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(ctx);
    drop(rig);
    // At the end of the history the last day is the recorded bar.
    let rig = start(std::slice::from_ref(&file), "2026-12-04T15:50:00+08:00", 600.0);
    let ctx = quote_ctx(&rig);
    ctx.subscribe(["HK.00388"], [ftapi::types::SubType::Quote]).expect("subscribe");
    assert!(rig.run.wait_end(Duration::from_secs(30)), "the history did not end");
    let k = ctx
        .request_history_kline_all(
            HistoryKlQuery::new("HK.00388", "2026-11-01", "2026-12-31").ktype(KLType::Day).autype(RehabType::None),
            100,
        )
        .expect("history");
    assert_eq!(k.len(), 10);
    for (b, r) in k.iter().zip(tape.code("HK.00388").unwrap().bars()) {
        assert_eq!((b.open, b.high, b.low, b.close, b.volume), (r.open, r.high, r.low, r.close, r.volume));
    }
}

/// Spawns `opend-sim --history F --report R` with `extra` arguments; returns the child,
/// its stdout and R.
#[cfg(unix)]
fn spawn_replay(
    dir: &Path,
    file: &Path,
    extra: &[&str],
) -> (std::process::Child, std::io::BufReader<std::process::ChildStdout>, PathBuf) {
    use std::io::BufRead;
    let report = dir.join("out.html");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_opend-sim"))
        .args(["--port", "0", "--history"])
        .arg(file)
        .arg("--report")
        .arg(&report)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.starts_with("listening on "), "{first}");
    (child, out, report)
}

#[cfg(unix)]
fn wait_exit(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("opend-sim did not exit on {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A report page that was written completely.
#[cfg(unix)]
fn assert_complete_page(page: &str) {
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..page.len().min(200)]);
    assert!(page.trim_end().ends_with("</html>"), "the page is cut");
    assert!(page.contains("Replay report"));
}

#[cfg(unix)]
#[test]
fn opend_sim_writes_the_report_on_sigterm_sigint_and_sighup() {
    for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT"), (libc::SIGHUP, "SIGHUP")] {
        let dir = std::env::temp_dir().join(format!("ftapi-signal-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Friday morning at x60: the history (ending Monday) is far from over.
        let (mut child, _out, report) = spawn_replay(&dir, &data(), &["--clock", "2026-12-04T10:00:00+08:00x60"]);
        std::thread::sleep(Duration::from_millis(300));
        assert!(!report.exists(), "{name}: a report before the end");
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
        let status = wait_exit(&mut child, name);
        assert!(status.success(), "{name}: {status}");
        let page = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{name}: no report: {e}"));
        assert_complete_page(&page);
        assert!(!dir.join("out.html.tmp").exists(), "{name}: a temporary file left");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(unix)]
#[test]
fn opend_sim_exits_at_the_end_of_a_us_history_after_writing_the_report() {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("ftapi-exit-at-end-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut child, mut out, report) = spawn_replay(
        &dir,
        &data_file("history_us_5m.csv"),
        &["--clock", "2026-11-02T15:58:00-05:00x600", "--exit-at-end"],
    );
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    // The instant in the first code's market time: New York, standard time by then.
    assert_eq!(line.trim_end(), "history ended at 2026-11-02T16:00:00-05:00");
    let status = wait_exit(&mut child, "the end of the history");
    assert!(status.success(), "{status}");
    assert_complete_page(&std::fs::read_to_string(&report).expect("the report"));
    let _ = std::fs::remove_dir_all(&dir);
}
