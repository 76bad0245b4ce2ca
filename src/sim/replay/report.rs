//! The report of a replay: per account and currency, the equity curve (cash plus the
//! positions in replayed codes at the replayed price), its drawdown, a summary, and the
//! orders and fills with their simulated times and prices. [`Report`] holds the
//! figures (for a bot's own tests); [`Report::to_html`] renders one self-contained page
//! (inline CSS and SVG, nothing fetched).
//!
//! Every figure is computed from the broker's record of orders and fills and from the
//! tape, at fixed simulated instants (the ends of the bars), so the same trades always
//! give the same report.

use std::fmt::Write as _;

use crate::sim::matching::{currency, split_full_code};
use crate::sim::tape::clock::Calendar;

use super::tape::ReplayTape;

/// Most points an equity curve keeps (evenly thinned beyond).
pub const MAX_CURVE_POINTS: usize = 2000;

/// One account's cash and positions, as the broker holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountEntry {
    /// Account id.
    pub acc_id: u64,
    /// `Trd_Common.TrdEnv` (0 simulate, 1 real).
    pub env: i32,
    /// Base currency (`Trd_Common.Currency`).
    pub currency: i32,
    /// Whether cash is kept per currency (universal account).
    pub universal: bool,
    /// Cash per currency.
    pub cash: Vec<(i32, f64)>,
    /// Positions.
    pub positions: Vec<PositionEntry>,
}

/// One position.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionEntry {
    /// `MARKET.CODE`.
    pub code: String,
    /// Signed quantity.
    pub qty: f64,
    /// Average cost price.
    pub cost_price: f64,
    /// Contract multiplier.
    pub multiplier: f64,
    /// Currency of the instrument.
    pub currency: i32,
    /// A futures position (valued by its P/L, not its notional).
    pub future: bool,
}

/// One order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderEntry {
    /// Account id.
    pub acc_id: u64,
    /// Order id.
    pub order_id: u64,
    /// `MARKET.CODE`.
    pub code: String,
    /// `TrdSide` number.
    pub side: i32,
    /// `OrderType` number.
    pub order_type: i32,
    /// Quantity.
    pub qty: f64,
    /// Limit price (0 for market orders).
    pub price: f64,
    /// Filled quantity.
    pub fill_qty: f64,
    /// Average fill price.
    pub fill_avg_price: f64,
    /// `OrderStatus` number.
    pub status: i32,
    /// Placed at (simulated Unix seconds).
    pub create_ts: f64,
    /// Last changed at.
    pub update_ts: f64,
    /// Fees charged (instrument currency).
    pub fees: f64,
    /// The last error message (why it failed or was cancelled).
    pub last_err_msg: String,
}

/// One fill.
#[derive(Debug, Clone, PartialEq)]
pub struct FillEntry {
    /// Account id.
    pub acc_id: u64,
    /// Order id.
    pub order_id: u64,
    /// Fill id.
    pub fill_id: u64,
    /// `MARKET.CODE`.
    pub code: String,
    /// A buy (else a sell).
    pub buy: bool,
    /// Quantity.
    pub qty: f64,
    /// Price.
    pub price: f64,
    /// Simulated Unix seconds.
    pub ts: f64,
    /// Fees of this fill (instrument currency).
    pub fee: f64,
    /// Contract multiplier.
    pub multiplier: f64,
    /// Currency of the instrument.
    pub currency: i32,
    /// A futures fill.
    pub future: bool,
}

/// The broker's record: accounts, orders and fills (`Broker::trade_log`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TradeLog {
    /// Accounts with cash and positions now.
    pub accounts: Vec<AccountEntry>,
    /// Every order, oldest first.
    pub orders: Vec<OrderEntry>,
    /// Every fill, oldest first.
    pub fills: Vec<FillEntry>,
}

/// One account's figures in one currency.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountReport {
    /// Account id.
    pub acc_id: u64,
    /// `Trd_Common.Currency` of the figures.
    pub currency: i32,
    /// The currency's name (`HKD`, `USD`, ...).
    pub currency_name: String,
    /// Equity over simulated time: (Unix seconds, cash + positions at the replayed price).
    pub curve: Vec<(f64, f64)>,
    /// Equity at the start of the replay.
    pub start_equity: f64,
    /// Equity at the end.
    pub end_equity: f64,
    /// `end_equity - start_equity`.
    pub pnl: f64,
    /// `pnl / start_equity` in percent (0 when the start equity is not positive).
    pub return_pct: f64,
    /// Largest fall from a peak of the curve (an amount, >= 0).
    pub max_drawdown: f64,
    /// That fall in percent of its peak.
    pub max_drawdown_pct: f64,
    /// Orders placed during the replay.
    pub orders: usize,
    /// Fills during the replay.
    pub fills: usize,
    /// Fees of those fills.
    pub fees: f64,
}

/// What a replay did: see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Replay start (simulated Unix seconds).
    pub start: f64,
    /// Replay end (the report's "now").
    pub end: f64,
    /// Per account and currency, for accounts that traded (or hold replayed codes).
    pub accounts: Vec<AccountReport>,
    /// Orders placed during the replay, oldest first.
    pub orders: Vec<OrderEntry>,
    /// Fills during the replay, oldest first.
    pub fills: Vec<FillEntry>,
}

fn ccy_name(c: i32) -> String {
    match crate::types::Currency::from_value(c) {
        crate::types::Currency::Other(_) | crate::types::Currency::Unknown => format!("currency {c}"),
        x => x.as_str().to_string(),
    }
}

/// The currency an account books an amount of `ccy` in (as the broker does).
fn booking(acc: &AccountEntry, ccy: i32) -> i32 {
    if acc.universal && currency::hkd_rate(ccy).is_some() {
        ccy
    } else {
        acc.currency
    }
}

impl Report {
    /// The report of a replay from `start` to `end` (simulated): `at_start` is the
    /// broker's record when the replay started (its cash and positions are the
    /// starting point), `now` the record at the end (its orders and fills from
    /// `start` on are the replay's).
    pub fn build(tape: &ReplayTape, at_start: &TradeLog, now: &TradeLog, start: f64, end: f64) -> Report {
        let orders: Vec<OrderEntry> = now.orders.iter().filter(|o| o.create_ts >= start).cloned().collect();
        let fills: Vec<FillEntry> = now.fills.iter().filter(|f| f.ts >= start && f.ts <= end + 1e-6).cloned().collect();
        // Sample instants: the start, every bar end in between, the end.
        let mut times: Vec<f64> = vec![start];
        for c in tape.all() {
            let lo = c.ended_by(start);
            let hi = c.ended_by(end);
            times.extend((lo..hi).map(|i| c.span(i).1 as f64));
        }
        times.push(end);
        times.sort_by(f64::total_cmp);
        times.dedup();
        if times.len() > MAX_CURVE_POINTS {
            let n = times.len();
            let step = (n - 1) as f64 / (MAX_CURVE_POINTS - 1) as f64;
            times = (0..MAX_CURVE_POINTS).map(|i| times[((i as f64 * step).round() as usize).min(n - 1)]).collect();
        }
        let mut out = Vec::new();
        for acc in &at_start.accounts {
            let traded = orders.iter().any(|o| o.acc_id == acc.acc_id);
            let holds = acc.positions.iter().any(|p| tape.code(&p.code).is_some() && p.qty != 0.0);
            if !traded && !holds {
                continue;
            }
            // Currencies: the account's cash and what its replayed trades book into.
            let mut ccys: Vec<i32> = acc.cash.iter().map(|c| c.0).collect();
            for f in fills.iter().filter(|f| f.acc_id == acc.acc_id) {
                let c = booking(acc, f.currency);
                if !ccys.contains(&c) {
                    ccys.push(c);
                }
            }
            for ccy in ccys {
                out.push(account_report(tape, acc, ccy, &orders, &fills, &times));
            }
        }
        Report { start, end, accounts: out, orders, fills }
    }

    /// The report of one account in one currency.
    pub fn account(&self, acc_id: u64, currency: i32) -> Option<&AccountReport> {
        self.accounts.iter().find(|a| a.acc_id == acc_id && a.currency == currency)
    }

    /// One self-contained HTML page (see the module docs).
    pub fn to_html(&self) -> String {
        let mut h = String::with_capacity(64 * 1024);
        let fmt_t = |code: &str, t: f64| {
            let sec = split_full_code(code).map(|s| s.0).unwrap_or(0);
            Calendar::of(sec).format(t, false)
        };
        let utc = |t: f64| Calendar { market: crate::sim::calendar::CalMarket::HkStock }.format(t, false) + " HKT";
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>opend-sim replay report</title>\n<style>\n");
        h.push_str("body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1100px}\n");
        h.push_str("table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right;font-variant-numeric:tabular-nums}\n");
        h.push_str("th{background:#f3f3f3}td.l,th.l{text-align:left}.pos{color:#137333}.neg{color:#c5221f}svg{background:#fcfcfc;border:1px solid #ddd}\n");
        h.push_str("h2{margin-top:2em;border-bottom:1px solid #ddd}small{color:#666}\n</style></head><body>\n");
        let _ = writeln!(
            h,
            "<h1>Replay report</h1>\n<p>Simulated time {} to {}. {} orders, {} fills.</p>",
            esc(&utc(self.start)),
            esc(&utc(self.end)),
            self.orders.len(),
            self.fills.len()
        );
        if self.accounts.is_empty() {
            h.push_str("<p>No account traded during the replay.</p>\n");
        }
        for a in &self.accounts {
            let _ = writeln!(h, "<h2>Account {} &middot; {}</h2>", a.acc_id, esc(&a.currency_name));
            let cls = if a.pnl >= 0.0 { "pos" } else { "neg" };
            h.push_str("<table><tr><th class=\"l\">Start equity</th><th class=\"l\">End equity</th><th class=\"l\">P&amp;L</th><th class=\"l\">Return</th><th class=\"l\">Max drawdown</th><th class=\"l\">Orders</th><th class=\"l\">Fills</th><th class=\"l\">Fees</th></tr>\n");
            let _ = writeln!(
                h,
                "<tr><td>{:.2}</td><td>{:.2}</td><td class=\"{cls}\">{:+.2}</td><td class=\"{cls}\">{:+.3}%</td><td>{:.2} ({:.3}%)</td><td>{}</td><td>{}</td><td>{:.2}</td></tr></table>",
                a.start_equity, a.end_equity, a.pnl, a.return_pct, a.max_drawdown, a.max_drawdown_pct, a.orders, a.fills, a.fees
            );
            h.push_str(&svg_chart(a));
        }
        h.push_str("<h2>Orders</h2>\n<table><tr><th>Account</th><th>Order</th><th class=\"l\">Code</th><th class=\"l\">Side</th><th class=\"l\">Type</th><th>Qty</th><th>Price</th><th>Filled</th><th>Avg price</th><th class=\"l\">Status</th><th class=\"l\">Placed (local)</th><th class=\"l\">Updated (local)</th><th>Fees</th></tr>\n");
        for o in &self.orders {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td class=\"l\" title=\"{}\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{:.2}</td></tr>",
                o.acc_id,
                o.order_id,
                esc(&o.code),
                crate::types::TrdSide::from_value(o.side).as_str(),
                crate::types::OrderType::from_value(o.order_type).as_str(),
                o.qty,
                o.price,
                o.fill_qty,
                o.fill_avg_price,
                esc(&o.last_err_msg),
                crate::types::OrderStatus::from_value(o.status).as_str(),
                esc(&fmt_t(&o.code, o.create_ts)),
                esc(&fmt_t(&o.code, o.update_ts)),
                o.fees
            );
        }
        h.push_str("</table>\n<h2>Fills</h2>\n<table><tr><th>Account</th><th>Order</th><th>Fill</th><th class=\"l\">Code</th><th class=\"l\">Side</th><th>Qty</th><th>Price</th><th class=\"l\">Time (local)</th><th>Fees</th></tr>\n");
        for f in &self.fills {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td>{:.2}</td></tr>",
                f.acc_id,
                f.order_id,
                f.fill_id,
                esc(&f.code),
                if f.buy { "BUY" } else { "SELL" },
                f.qty,
                f.price,
                esc(&fmt_t(&f.code, f.ts)),
                f.fee
            );
        }
        h.push_str("</table>\n<p><small>Equity = cash + positions in the replayed codes at the replayed price (futures at their P/L). Written by opend-sim.</small></p>\n</body></html>\n");
        h
    }
}

fn account_report(
    tape: &ReplayTape,
    acc: &AccountEntry,
    ccy: i32,
    orders: &[OrderEntry],
    fills: &[FillEntry],
    times: &[f64],
) -> AccountReport {
    let conv = |amount: f64, from: i32| currency::convert(amount, from, ccy);
    // Cash (with futures counted as if paid for, offset by their cost) and positions.
    let mut cash: f64 = acc.cash.iter().filter(|c| c.0 == ccy).map(|c| c.1).sum();
    let mut pos: Vec<(String, f64, f64, i32)> = Vec::new(); // code, qty, multiplier, currency
    for p in acc.positions.iter().filter(|p| tape.code(&p.code).is_some() && booking(acc, p.currency) == ccy) {
        if p.future {
            cash -= conv(p.qty * p.cost_price * p.multiplier, p.currency);
        }
        pos.push((p.code.clone(), p.qty, p.multiplier, p.currency));
    }
    let mine: Vec<&FillEntry> =
        fills.iter().filter(|f| f.acc_id == acc.acc_id && booking(acc, f.currency) == ccy).collect();
    let mut next = 0;
    let mut curve = Vec::with_capacity(times.len());
    for &t in times {
        while next < mine.len() && mine[next].ts <= t {
            let f = mine[next];
            let sign = if f.buy { 1.0 } else { -1.0 };
            cash -= conv(sign * f.qty * f.price * f.multiplier + f.fee, f.currency);
            match pos.iter_mut().find(|p| p.0 == f.code) {
                Some(p) => p.1 += sign * f.qty,
                None => pos.push((f.code.clone(), sign * f.qty, f.multiplier, f.currency)),
            }
            next += 1;
        }
        let value: f64 = pos
            .iter()
            .map(|(code, qty, mult, c)| {
                let px = tape.code(code).and_then(|ct| ct.price_at(t)).unwrap_or(0.0);
                conv(qty * px * mult, *c)
            })
            .sum();
        curve.push((t, round2(cash + value)));
    }
    let start_equity = curve.first().map(|p| p.1).unwrap_or(0.0);
    let end_equity = curve.last().map(|p| p.1).unwrap_or(0.0);
    let (mut peak, mut dd, mut dd_pct) = (f64::MIN, 0.0f64, 0.0f64);
    for &(_, e) in &curve {
        peak = peak.max(e);
        if peak - e > dd {
            dd = peak - e;
            dd_pct = if peak > 0.0 { dd / peak * 100.0 } else { 0.0 };
        }
    }
    let pnl = round2(end_equity - start_equity);
    AccountReport {
        acc_id: acc.acc_id,
        currency: ccy,
        currency_name: ccy_name(ccy),
        start_equity,
        end_equity,
        pnl,
        return_pct: if start_equity > 0.0 { pnl / start_equity * 100.0 } else { 0.0 },
        max_drawdown: round2(dd),
        max_drawdown_pct: dd_pct,
        orders: orders
            .iter()
            .filter(|o| o.acc_id == acc.acc_id && booking(acc, currency_of(tape, o, acc)) == ccy)
            .count(),
        fills: mine.len(),
        fees: round2(mine.iter().map(|f| conv(f.fee, f.currency)).sum()),
        curve,
    }
}

/// The currency of an order's instrument (from its fills, else the market's default).
fn currency_of(_tape: &ReplayTape, o: &OrderEntry, acc: &AccountEntry) -> i32 {
    match split_full_code(&o.code).map(|s| s.0) {
        Some(crate::sim::matching::sec_market::US) => currency::USD,
        Some(crate::sim::matching::sec_market::CN_SH | crate::sim::matching::sec_market::CN_SZ) => currency::CNH,
        Some(crate::sim::matching::sec_market::JP) => currency::JPY,
        Some(crate::sim::matching::sec_market::HK) => currency::HKD,
        _ => acc.currency,
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The equity curve and, below it, the drawdown, as one inline SVG.
fn svg_chart(a: &AccountReport) -> String {
    const W: f64 = 1000.0;
    const H: f64 = 260.0;
    const DH: f64 = 90.0;
    const L: f64 = 90.0;
    let mut s = String::new();
    let n = a.curve.len();
    if n < 2 {
        return "<p><small>(not enough points for a chart)</small></p>\n".into();
    }
    let lo = a.curve.iter().map(|p| p.1).fold(f64::MAX, f64::min);
    let hi = a.curve.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    let span = if hi - lo > 1e-9 { hi - lo } else { 1.0 };
    // Points are spread evenly by sample (trading time), not by wall time: nights and
    // weekends take no room.
    let x = |i: usize| L + (W - L - 10.0) * i as f64 / (n - 1) as f64;
    let y = |v: f64| 10.0 + (H - 30.0) * (1.0 - (v - lo) / span);
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" viewBox=\"0 0 {W} {}\" role=\"img\" aria-label=\"equity and drawdown\">",
        H + DH + 20.0,
        H + DH + 20.0
    );
    let _ = writeln!(s, "<text x=\"4\" y=\"{:.1}\" font-size=\"12\">{:.2}</text>", y(hi) + 4.0, hi);
    let _ = writeln!(s, "<text x=\"4\" y=\"{:.1}\" font-size=\"12\">{:.2}</text>", y(lo) + 4.0, lo);
    let _ = writeln!(s, "<text x=\"4\" y=\"{:.1}\" font-size=\"12\">equity</text>", H / 2.0);
    let _ = writeln!(
        s,
        "<line x1=\"{L}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
        y(a.start_equity),
        W - 10.0,
        y(a.start_equity)
    );
    s.push_str("<polyline fill=\"none\" stroke=\"#1a73e8\" stroke-width=\"1.5\" points=\"");
    for (i, p) in a.curve.iter().enumerate() {
        let _ = write!(s, "{:.1},{:.1} ", x(i), y(p.1));
    }
    s.push_str("\"/>\n");
    // Drawdown: the fall below the running peak, as an area hanging from zero.
    let mut peak = f64::MIN;
    let dds: Vec<f64> = a
        .curve
        .iter()
        .map(|p| {
            peak = peak.max(p.1);
            peak - p.1
        })
        .collect();
    let dmax = dds.iter().copied().fold(0.0, f64::max).max(1e-9);
    let top = H + 10.0;
    let dy = |d: f64| top + (DH - 10.0) * d / dmax;
    let _ = writeln!(s, "<text x=\"4\" y=\"{:.1}\" font-size=\"12\">drawdown</text>", top + 30.0);
    let _ = writeln!(s, "<text x=\"4\" y=\"{:.1}\" font-size=\"12\">-{:.2}</text>", top + DH - 6.0, a.max_drawdown);
    let _ = write!(s, "<polygon fill=\"#f28b82\" stroke=\"#c5221f\" stroke-width=\"1\" points=\"{L:.1},{top:.1} ");
    for (i, d) in dds.iter().enumerate() {
        let _ = write!(s, "{:.1},{:.1} ", x(i), dy(*d));
    }
    let _ = writeln!(s, "{:.1},{top:.1}\"/>", x(n - 1));
    let _ = writeln!(s, "<line x1=\"{L}\" y1=\"{top:.1}\" x2=\"{:.1}\" y2=\"{top:.1}\" stroke=\"#999\"/>", W - 10.0);
    s.push_str("</svg>\n");
    s
}
