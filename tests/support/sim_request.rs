//! The simulator's request handling over arbitrary input, two ways:
//!
//! - **broker** (selector bit 7 clear): one fresh [`Broker`] per input, fed a sequence
//!   of requests through [`TradeHandler::handle`] (as the server does) on three
//!   connections with recording push sinks, mixed with market ticks, price changes,
//!   disconnects and rate-limit switches, so that state carries across requests (place,
//!   then modify, then list...). Request bodies are built from the input by a structured
//!   generator (real account ids, codes, prices on the tick, order ids seen in earlier
//!   replies, correct or wrong packet ids) and then kept, mutated, truncated, extended
//!   or replaced by raw bytes.
//! - **session** (bit 7 set): a [`SimServer`] on loopback per input, one TCP client
//!   that runs InitConnect (plain, plain with AES session, RSA, or none), then sends
//!   sealed requests built the same way mixed with raw bytes and broken frames, and
//!   reads everything back.
//!
//! Checks: nothing panics (the harness, the broker, the server's threads); every
//! trading request gets `Some` body that decodes as that protocol's `Response`, with
//! retType 0 and an `s2c`, or retType -1 and a message; other protocol ids get `None`;
//! every push is a 2208/2218 (or 1003) `Response` with an `s2c`; no reply or push
//! carries a NaN or infinite number; every account's cash stays finite. In the session
//! mode, every frame the server writes opens with the session cipher and, when the
//! client sent only well-formed frames, the replies answer the requests one for one, in
//! order.
//!
//! Shared (through `#[path]`) by `fuzz/fuzz_targets/sim_request.rs`, `tests/sim_props.rs`
//! and `tests/fuzz_regressions.rs`.
#![allow(dead_code)]

use std::fmt::Debug;
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use ftapi::codec::{open_frame, seal_message, seal_packet, AesMode, FrameDecoder, FrameHeader, PacketCipher, RsaKey};
use ftapi::pb::{self, common, qot_common, trd_common, Protocol, ResponseEnvelope};
use ftapi::sim::matching::{sec_market_of_qot_market, Instrument};
use ftapi::sim::{Broker, ConnInfo, PushSink, SimServer, TradeHandler};
use prost::Message;

/// The test-only RSA key of `tests/data/fuzz/` (never use it outside tests).
const TEST_RSA_PEM: &str = include_str!("../data/fuzz/rsa1024_test_only.pem");
/// Bound on every wait of one session run.
pub const WAIT: Duration = Duration::from_secs(10);
/// MD5 of the default broker's trade password "123456".
pub const PWD_MD5: &str = "e10adc3949ba59abbe56e057f20f883e";
/// Connection ids of the broker mode.
pub const CONN_IDS: [u64; 3] = [1, 2, 3];
/// Largest number of operations one input runs (longer inputs are cut).
pub const MAX_OPS: usize = 96;

/// The trading protocols, in the order op bytes index them.
pub const TRADING: [u32; 17] = [
    pb::proto::GetAccList::PROTO_ID,
    pb::proto::UnlockTrade::PROTO_ID,
    pb::proto::SubAccPush::PROTO_ID,
    pb::proto::GetFunds::PROTO_ID,
    pb::proto::GetPositionList::PROTO_ID,
    pb::proto::GetMaxTrdQtys::PROTO_ID,
    pb::proto::GetComboMaxTrdQtys::PROTO_ID,
    pb::proto::GetOrderList::PROTO_ID,
    pb::proto::PlaceOrder::PROTO_ID,
    pb::proto::ModifyOrder::PROTO_ID,
    pb::proto::GetOrderFillList::PROTO_ID,
    pb::proto::GetHistoryOrderList::PROTO_ID,
    pb::proto::GetHistoryOrderFillList::PROTO_ID,
    pb::proto::GetMarginRatio::PROTO_ID,
    pb::proto::GetOrderFee::PROTO_ID,
    pb::proto::FlowSummary::PROTO_ID,
    pb::proto::PlaceComboOrder::PROTO_ID,
];

/// Protocol ids that are not the broker's (it must answer `None`).
pub const NOT_TRADING: [u32; 9] = [1001, 1002, 1003, 1004, 2206, 2207, 2208, 2218, 3001];

/// Non-request operations (op index after the trading ones).
mod ctl {
    pub const ARBITRARY_ID: u8 = 17;
    pub const NOT_TRADING: u8 = 18;
    pub const TICK: u8 = 19;
    pub const SET_PRICE: u8 = 20;
    pub const SWITCH_CONN: u8 = 21;
    pub const DISCONNECT: u8 = 22;
    pub const RATE_LIMITS: u8 = 23;
    pub const RAW: u8 = 24;
    pub const BROKEN: u8 = 25;
    pub const COUNT: u8 = 26;
}

/// What one run saw (for sanity checks of the harness).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Requests handed to the broker (or sent to the server).
    pub requests: usize,
    /// Answers with retType 0.
    pub ok: usize,
    /// Answers with retType -1.
    pub refused: usize,
    /// Orders placed successfully.
    pub placed: usize,
    /// Modify requests that succeeded.
    pub modified: usize,
    /// Pushes received.
    pub pushes: usize,
}

static SIM_PANICS: AtomicUsize = AtomicUsize::new(0);

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name().is_some_and(|n| n.starts_with("opend-sim")) {
                SIM_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// The test-only RSA key, parsed once.
pub fn test_rsa_key() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| RsaKey::from_pem(TEST_RSA_PEM).expect("the bundled test key parses"))
}

/// `(acc_id, trd_env, trd_markets)` of the default accounts.
fn accounts() -> &'static [(u64, i32, Vec<i32>)] {
    static ACCS: OnceLock<Vec<(u64, i32, Vec<i32>)>> = OnceLock::new();
    ACCS.get_or_init(|| {
        ftapi::sim::accounts::default_accounts()
            .iter()
            .map(|a| (a.acc_id, a.trd_env.number(), a.markets.iter().map(|m| m.number()).collect()))
            .collect()
    })
}

fn instruments() -> &'static [Instrument] {
    static INS: OnceLock<Vec<Instrument>> = OnceLock::new();
    INS.get_or_init(|| Broker::relaxed_default().instruments())
}

/// A recording push sink.
pub struct Sink {
    pushes: Mutex<Vec<(u32, Vec<u8>)>>,
    alive: bool,
}

impl PushSink for Sink {
    fn push(&self, proto_id: u32, plain_body: Vec<u8>) -> bool {
        self.pushes.lock().unwrap_or_else(|e| e.into_inner()).push((proto_id, plain_body));
        self.alive
    }
}

impl Sink {
    fn take(&self) -> Vec<(u32, Vec<u8>)> {
        std::mem::take(&mut *self.pushes.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Reads input bytes; past the end everything is zero.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        &self.data[start..end]
    }
    /// A chunk: one length byte and that many bytes.
    fn chunk(&mut self) -> &'a [u8] {
        let n = self.byte();
        self.take(usize::from(n))
    }
}

/// Interesting doubles.
const DOUBLES: [f64; 24] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    100.0,
    1000.0,
    1e6,
    1e9,
    1e12,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    5e-324,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    0.001,
    0.01,
    0.005,
    99_999_999.0,
    1e-9,
    2.5,
    1e300,
];

const STRINGS: [&str; 10] = [
    "",
    "2024-01-01",
    "2024-01-01 09:30:00",
    "2099-12-31 23:59:59.999",
    "1970-01-01 00:00:00",
    "yesterday",
    "2024-13-45 25:61:61",
    "-1",
    "0000-00-00",
    "2024-02-29 12:00:00",
];

/// Builds request bodies from input bytes, with what earlier requests taught it.
struct Gen<'a> {
    cur: Cursor<'a>,
    conn_id: u64,
    serial: u32,
    order_ids: Vec<u64>,
    order_id_exs: Vec<String>,
}

impl<'a> Gen<'a> {
    fn b(&mut self) -> u8 {
        self.cur.byte()
    }
    fn flag(&mut self) -> bool {
        self.b() & 1 == 1
    }
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.flag() {
            Some(f(self))
        } else {
            None
        }
    }
    fn vec<T>(&mut self, max: u8, mut f: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = self.b() % (max + 1);
        (0..n).map(|_| f(self)).collect()
    }
    fn small(&mut self) -> i32 {
        i32::from(self.b() as i8)
    }
    fn enum_val(&mut self, max: u8) -> i32 {
        match self.b() {
            0xFF => self.cur.u32() as i32,
            b => i32::from(b % max),
        }
    }
    fn double(&mut self) -> f64 {
        match self.b() {
            b @ 0..=0xEF => DOUBLES[usize::from(b) % DOUBLES.len()],
            _ => f64::from_bits(self.cur.u64()),
        }
    }
    fn string(&mut self) -> String {
        match self.b() {
            b @ 0..=0xEF => STRINGS[usize::from(b) % STRINGS.len()].to_string(),
            0xF0..=0xF7 => "x".repeat(usize::from(self.b())),
            _ => String::from_utf8_lossy(self.cur.chunk()).into_owned(),
        }
    }
    fn account(&mut self) -> Option<&'static (u64, i32, Vec<i32>)> {
        let accs = accounts();
        let i = usize::from(self.b());
        accs.get(i % (accs.len() + 1))
    }
    fn acc_id(&mut self) -> u64 {
        match self.account() {
            Some(a) => a.0,
            None => self.cur.u64(),
        }
    }
    fn header(&mut self) -> trd_common::TrdHeader {
        let (acc_id, env, markets) = match self.account() {
            Some((id, env, m)) => (*id, *env, m.as_slice()),
            None => (self.cur.u64(), 0, &[][..]),
        };
        let trd_env = match self.b() % 8 {
            0 => 1 - env,
            1 => self.small(),
            _ => env,
        };
        let m = self.b();
        let trd_market =
            if m >= 0xE0 || markets.is_empty() { self.small() } else { markets[usize::from(m) % markets.len()] };
        let jp_acc_type = self.opt(|g| g.small());
        trd_common::TrdHeader { trd_env, acc_id, trd_market, jp_acc_type }
    }
    fn instr(&mut self) -> Option<&'static Instrument> {
        let ins = instruments();
        let i = usize::from(self.b());
        ins.get(i % (ins.len() + 1))
    }
    /// An instrument tradable in `trd_market` (mostly), or any.
    fn instr_for(&mut self, trd_market: i32) -> Option<&'static Instrument> {
        let b = self.b();
        let fits: Vec<&'static Instrument> =
            instruments().iter().filter(|i| i.trd_markets().contains(&trd_market)).collect();
        if b < 0xC0 && !fits.is_empty() {
            Some(fits[usize::from(b) % fits.len()])
        } else {
            self.instr()
        }
    }
    fn side(&mut self) -> i32 {
        match self.b() % 8 {
            0..=2 => 1,
            3..=5 => 2,
            _ => self.enum_val(6),
        }
    }
    fn order_type(&mut self) -> i32 {
        match self.b() % 8 {
            0..=2 => 1,
            3 | 4 => 2,
            _ => self.enum_val(20),
        }
    }
    fn code_of(&mut self, instr: Option<&Instrument>) -> String {
        match (instr, self.b() % 8) {
            (Some(i), 0) => i.full_code(),
            (Some(i), 1..=5) => i.code.clone(),
            (Some(i), 6) => i.code.to_lowercase(),
            _ => self.string(),
        }
    }
    fn price_of(&mut self, instr: Option<&Instrument>, current: &dyn Fn(&Instrument) -> f64) -> f64 {
        let factors = [1.0, 1.0, 1.0, 0.999, 1.001, 0.98, 1.02, 0.9, 1.1, 0.5, 2.0, 0.0];
        match (instr, self.b()) {
            (Some(i), b @ 0..=0xDF) => current(i) * factors[usize::from(b) % factors.len()],
            _ => self.double(),
        }
    }
    fn qty_of(&mut self, instr: Option<&Instrument>) -> f64 {
        let lots = [1.0, 1.0, 2.0, 3.0, 10.0, 100.0, 0.5, 1e6, -1.0, 0.0];
        match (instr, self.b()) {
            (Some(i), b @ 0..=0xDF) => i.lot_size * lots[usize::from(b) % lots.len()],
            _ => self.double(),
        }
    }
    fn order_id(&mut self) -> u64 {
        match self.b() {
            b @ 0..=0xDF if !self.order_ids.is_empty() => self.order_ids[usize::from(b) % self.order_ids.len()],
            0xFF => self.cur.u64(),
            b => 7_100_000_000 + u64::from(b % 16),
        }
    }
    fn order_id_ex(&mut self) -> String {
        match self.b() {
            b @ 0..=0xDF if !self.order_id_exs.is_empty() => {
                self.order_id_exs[usize::from(b) % self.order_id_exs.len()].clone()
            }
            _ => self.string(),
        }
    }
    fn packet_id(&mut self) -> common::PacketId {
        let conn_id = match self.b() % 16 {
            0 => self.cur.u64(),
            1 => 0,
            _ => self.conn_id,
        };
        let serial_no = match self.b() % 16 {
            0 => self.serial,
            1 => self.cur.u32(),
            _ => {
                self.serial = self.serial.wrapping_add(1);
                self.serial
            }
        };
        common::PacketId { conn_id, serial_no }
    }
    fn filter(&mut self) -> trd_common::TrdFilterConditions {
        trd_common::TrdFilterConditions {
            code_list: self.vec(3, |g| {
                let i = g.instr();
                g.code_of(i)
            }),
            id_list: self.vec(3, |g| g.order_id()),
            begin_time: self.opt(|g| g.string()),
            end_time: self.opt(|g| g.string()),
            order_id_ex_list: self.vec(2, |g| g.order_id_ex()),
            filter_market: self.opt(|g| g.enum_val(16)),
        }
    }
    fn security(&mut self) -> qot_common::Security {
        let instr = self.instr();
        let market = match (instr, self.b()) {
            (Some(i), 0..=0xDF) => [1, 11, 21, 22, 31, 41]
                .into_iter()
                .find(|q| sec_market_of_qot_market(*q) == Some(i.sec_market))
                .unwrap_or(0),
            _ => self.small(),
        };
        let code = self.code_of(instr);
        qot_common::Security { market, code }
    }
    fn combo_leg(&mut self) -> qot_common::ComboLeg {
        qot_common::ComboLeg {
            security: self.security(),
            side: self.opt(|g| g.enum_val(4)),
            qty_ratio: self.opt(|g| match g.b() % 4 {
                0 => g.double(),
                b => f64::from(b),
            }),
            position_id: self.opt(|g| g.cur.u64()),
            pred_side: self.opt(|g| g.enum_val(4)),
        }
    }

    /// The encoded `Request` of `proto` built from the input.
    fn request(&mut self, proto: u32, current: &dyn Fn(&Instrument) -> f64) -> Vec<u8> {
        use pb::proto::*;
        match proto {
            GetAccList::PROTO_ID => pb::trd_get_acc_list::Request {
                c2s: pb::trd_get_acc_list::C2s {
                    user_id: if self.flag() { 10_000_001 } else { self.cur.u64() },
                    trd_category: self.opt(|g| g.enum_val(4)),
                    need_general_sec_account: self.opt(|g| g.flag()),
                },
            }
            .encode_to_vec(),
            UnlockTrade::PROTO_ID => pb::trd_unlock_trade::Request {
                c2s: pb::trd_unlock_trade::C2s {
                    unlock: self.b() % 4 != 0,
                    pwd_md5: self.opt(|g| match g.b() % 4 {
                        0 => PWD_MD5.to_uppercase(),
                        1 => g.string(),
                        _ => PWD_MD5.to_string(),
                    }),
                    security_firm: self.opt(|g| g.enum_val(16)),
                },
            }
            .encode_to_vec(),
            SubAccPush::PROTO_ID => pb::trd_sub_acc_push::Request {
                c2s: pb::trd_sub_acc_push::C2s { acc_id_list: self.vec(4, |g| g.acc_id()) },
            }
            .encode_to_vec(),
            GetFunds::PROTO_ID => pb::trd_get_funds::Request {
                c2s: pb::trd_get_funds::C2s {
                    header: self.header(),
                    refresh_cache: self.opt(|g| g.flag()),
                    currency: self.opt(|g| g.enum_val(8)),
                    asset_category: self.opt(|g| g.enum_val(8)),
                },
            }
            .encode_to_vec(),
            GetPositionList::PROTO_ID => pb::trd_get_position_list::Request {
                c2s: pb::trd_get_position_list::C2s {
                    header: self.header(),
                    filter_conditions: self.opt(|g| g.filter()),
                    filter_pl_ratio_min: self.opt(|g| g.double()),
                    filter_pl_ratio_max: self.opt(|g| g.double()),
                    refresh_cache: self.opt(|g| g.flag()),
                    asset_category: self.opt(|g| g.enum_val(8)),
                    currency: self.opt(|g| g.enum_val(8)),
                    option_strategy_view: self.opt(|g| g.flag()),
                },
            }
            .encode_to_vec(),
            GetMaxTrdQtys::PROTO_ID => {
                let header = self.header();
                let instr = self.instr_for(header.trd_market);
                pb::trd_get_max_trd_qtys::Request {
                    c2s: pb::trd_get_max_trd_qtys::C2s {
                        header,
                        order_type: self.order_type(),
                        code: self.code_of(instr),
                        price: self.price_of(instr, current),
                        order_id: self.opt(|g| g.order_id()),
                        adjust_price: self.opt(|g| g.flag()),
                        adjust_side_and_limit: self.opt(|g| g.double()),
                        sec_market: self.opt(|g| g.enum_val(64)),
                        order_id_ex: self.opt(|g| g.order_id_ex()),
                        session: self.opt(|g| g.enum_val(8)),
                        position_id: self.opt(|g| g.cur.u64()),
                    },
                }
                .encode_to_vec()
            }
            GetComboMaxTrdQtys::PROTO_ID => {
                let header = self.header();
                pb::trd_get_combo_max_trd_qtys::Request {
                    c2s: pb::trd_get_combo_max_trd_qtys::C2s {
                        header,
                        combo_legs: self.vec(4, |g| g.combo_leg()),
                        qty: self.qty_of(None),
                        price: self.opt(|g| g.price_of(None, current)),
                        order_type: self.enum_val(4),
                        order_id_ex: self.opt(|g| g.order_id_ex()),
                    },
                }
                .encode_to_vec()
            }
            GetOrderList::PROTO_ID => pb::trd_get_order_list::Request {
                c2s: pb::trd_get_order_list::C2s {
                    header: self.header(),
                    filter_conditions: self.opt(|g| g.filter()),
                    filter_status_list: self.vec(3, |g| g.enum_val(24)),
                    refresh_cache: self.opt(|g| g.flag()),
                },
            }
            .encode_to_vec(),
            PlaceOrder::PROTO_ID => {
                let packet_id = self.packet_id();
                let header = self.header();
                let instr = self.instr_for(header.trd_market);
                pb::trd_place_order::Request {
                    c2s: pb::trd_place_order::C2s {
                        packet_id,
                        header,
                        trd_side: self.side(),
                        order_type: self.order_type(),
                        code: self.code_of(instr),
                        qty: self.qty_of(instr),
                        price: self.opt(|g| g.price_of(instr, current)),
                        adjust_price: self.opt(|g| g.flag()),
                        adjust_side_and_limit: self.opt(|g| g.double()),
                        sec_market: self.opt(|g| match (instr, g.b() % 4) {
                            (Some(i), 0..=2) => i.sec_market,
                            _ => g.small(),
                        }),
                        remark: self.opt(|g| g.string()),
                        time_in_force: self.opt(|g| g.enum_val(4)),
                        fill_outside_rth: self.opt(|g| g.flag()),
                        aux_price: self.opt(|g| g.price_of(instr, current)),
                        trail_type: self.opt(|g| g.enum_val(4)),
                        trail_value: self.opt(|g| g.double()),
                        trail_spread: self.opt(|g| g.double()),
                        session: self.opt(|g| g.enum_val(8)),
                        position_id: self.opt(|g| g.cur.u64()),
                        expire_time: self.opt(|g| g.string()),
                        amount: self.opt(|g| g.double()),
                        pred_side: self.opt(|g| g.enum_val(4)),
                    },
                }
                .encode_to_vec()
            }
            ModifyOrder::PROTO_ID => {
                let packet_id = self.packet_id();
                let header = self.header();
                let instr = self.instr_for(header.trd_market);
                pb::trd_modify_order::Request {
                    c2s: pb::trd_modify_order::C2s {
                        packet_id,
                        header,
                        order_id: self.order_id(),
                        modify_order_op: self.enum_val(8),
                        for_all: self.opt(|g| g.b() % 4 == 0),
                        trd_market: self.opt(|g| g.enum_val(16)),
                        qty: self.opt(|g| g.qty_of(instr)),
                        price: self.opt(|g| g.price_of(instr, current)),
                        adjust_price: self.opt(|g| g.flag()),
                        adjust_side_and_limit: self.opt(|g| g.double()),
                        aux_price: self.opt(|g| g.price_of(instr, current)),
                        trail_type: self.opt(|g| g.enum_val(4)),
                        trail_value: self.opt(|g| g.double()),
                        trail_spread: self.opt(|g| g.double()),
                        order_id_ex: self.opt(|g| g.order_id_ex()),
                    },
                }
                .encode_to_vec()
            }
            GetOrderFillList::PROTO_ID => pb::trd_get_order_fill_list::Request {
                c2s: pb::trd_get_order_fill_list::C2s {
                    header: self.header(),
                    filter_conditions: self.opt(|g| g.filter()),
                    refresh_cache: self.opt(|g| g.flag()),
                },
            }
            .encode_to_vec(),
            GetHistoryOrderList::PROTO_ID => pb::trd_get_history_order_list::Request {
                c2s: pb::trd_get_history_order_list::C2s {
                    header: self.header(),
                    filter_conditions: self.filter(),
                    filter_status_list: self.vec(3, |g| g.enum_val(24)),
                },
            }
            .encode_to_vec(),
            GetHistoryOrderFillList::PROTO_ID => pb::trd_get_history_order_fill_list::Request {
                c2s: pb::trd_get_history_order_fill_list::C2s {
                    header: self.header(),
                    filter_conditions: self.filter(),
                },
            }
            .encode_to_vec(),
            GetMarginRatio::PROTO_ID => pb::trd_get_margin_ratio::Request {
                c2s: pb::trd_get_margin_ratio::C2s {
                    header: self.header(),
                    security_list: self.vec(4, |g| g.security()),
                },
            }
            .encode_to_vec(),
            GetOrderFee::PROTO_ID => pb::trd_get_order_fee::Request {
                c2s: pb::trd_get_order_fee::C2s {
                    header: self.header(),
                    order_id_ex_list: self.vec(4, |g| g.order_id_ex()),
                },
            }
            .encode_to_vec(),
            FlowSummary::PROTO_ID => pb::trd_flow_summary::Request {
                c2s: pb::trd_flow_summary::C2s {
                    header: self.header(),
                    clearing_date: self.string(),
                    cash_flow_direction: self.opt(|g| g.enum_val(4)),
                    start_create_date: self.opt(|g| g.string()),
                    end_create_date: self.opt(|g| g.string()),
                },
            }
            .encode_to_vec(),
            PlaceComboOrder::PROTO_ID => {
                let packet_id = self.packet_id();
                let header = self.header();
                pb::trd_place_combo_order::Request {
                    c2s: pb::trd_place_combo_order::C2s {
                        packet_id,
                        header,
                        combo_legs: self.vec(4, |g| g.combo_leg()),
                        qty: self.qty_of(None),
                        price: self.opt(|g| g.price_of(None, current)),
                        order_type: self.enum_val(4),
                        time_in_force: self.opt(|g| g.enum_val(4)),
                        expire_time: self.opt(|g| g.string()),
                        remark: self.opt(|g| g.string()),
                        quote_id: self.opt(|g| g.string()),
                    },
                }
                .encode_to_vec()
            }
            _ => self.cur.chunk().to_vec(),
        }
    }

    /// A request body for `proto`: structured, then kept (modes 0..=4) or damaged by
    /// `mode`: 5 one byte flipped, 6 truncated, 7 raw bytes instead (next byte even) or
    /// raw bytes appended (odd).
    fn body(&mut self, proto: u32, mode: u8, current: &dyn Fn(&Instrument) -> f64) -> Vec<u8> {
        if mode == 7 && self.b() & 1 == 0 {
            return self.cur.chunk().to_vec();
        }
        let mut body = self.request(proto, current);
        match mode {
            5 if !body.is_empty() => {
                let at = usize::from(self.b()) % body.len();
                body[at] ^= self.b() | 1;
            }
            6 => {
                let at = usize::from(self.b()) % (body.len() + 1);
                body.truncate(at);
            }
            7 => body.extend_from_slice(self.cur.chunk()),
            _ => {}
        }
        body
    }

    fn learn(&mut self, order_id: u64, order_id_ex: &str) {
        if order_id != 0 && !self.order_ids.contains(&order_id) && self.order_ids.len() < 64 {
            self.order_ids.push(order_id);
        }
        if !order_id_ex.is_empty()
            && !self.order_id_exs.iter().any(|e| e == order_id_ex)
            && self.order_id_exs.len() < 64
        {
            self.order_id_exs.push(order_id_ex.to_string());
        }
    }
}

/// Fails if the Debug text of a message shows a NaN or infinite number (quoted strings
/// are skipped, so a remark "NaN" does not count).
pub fn assert_finite(what: &str, debug: &str) {
    let mut unquoted = String::with_capacity(debug.len());
    let mut in_str = false;
    let mut escaped = false;
    for c in debug.chars() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
        } else if c == '"' {
            in_str = true;
            unquoted.push(' ');
        } else {
            unquoted.push(c);
        }
    }
    let bad = unquoted
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'))
        .any(|t| t == "NaN" || t == "inf" || t == "-inf");
    assert!(!bad, "{what} carries a non-finite number: {debug}");
}

/// Decodes a reply as `R` and checks its envelope; returns it.
fn check_reply<R>(proto: u32, body: &[u8]) -> R
where
    R: ResponseEnvelope,
    R::S2c: Debug,
{
    let r = R::decode(body).unwrap_or_else(|e| panic!("proto {proto}: the reply does not decode: {e}"));
    match r.ret_type() {
        0 => {
            let s2c = r.s2c().unwrap_or_else(|| panic!("proto {proto}: success without s2c"));
            assert_finite(&format!("reply to {proto}"), &format!("{s2c:?}"));
        }
        -1 => assert!(!r.ret_msg().is_empty(), "proto {proto}: refusal without a message"),
        other => panic!("proto {proto}: retType {other}"),
    }
    r
}

/// Checks a reply to trading protocol `proto`; returns (success, order ids it names).
fn check_trading_reply(proto: u32, body: &[u8]) -> (bool, Vec<(u64, String)>) {
    use pb::proto::*;
    let orders = |list: &[trd_common::Order]| list.iter().map(|o| (o.order_id, o.order_id_ex.clone())).collect();
    macro_rules! plain {
        ($m:ident) => {{
            let r = check_reply::<pb::$m::Response>(proto, body);
            (r.ret_type == 0, Vec::new())
        }};
    }
    match proto {
        GetAccList::PROTO_ID => plain!(trd_get_acc_list),
        UnlockTrade::PROTO_ID => plain!(trd_unlock_trade),
        SubAccPush::PROTO_ID => plain!(trd_sub_acc_push),
        GetFunds::PROTO_ID => plain!(trd_get_funds),
        GetPositionList::PROTO_ID => plain!(trd_get_position_list),
        GetMaxTrdQtys::PROTO_ID => plain!(trd_get_max_trd_qtys),
        GetComboMaxTrdQtys::PROTO_ID => plain!(trd_get_combo_max_trd_qtys),
        GetOrderList::PROTO_ID => {
            let r = check_reply::<pb::trd_get_order_list::Response>(proto, body);
            (r.ret_type == 0, r.s2c.map(|s| orders(&s.order_list)).unwrap_or_default())
        }
        PlaceOrder::PROTO_ID => {
            let r = check_reply::<pb::trd_place_order::Response>(proto, body);
            let ids =
                r.s2c.iter().map(|s| (s.order_id.unwrap_or(0), s.order_id_ex.clone().unwrap_or_default())).collect();
            (r.ret_type == 0, ids)
        }
        ModifyOrder::PROTO_ID => plain!(trd_modify_order),
        GetOrderFillList::PROTO_ID => plain!(trd_get_order_fill_list),
        GetHistoryOrderList::PROTO_ID => {
            let r = check_reply::<pb::trd_get_history_order_list::Response>(proto, body);
            (r.ret_type == 0, r.s2c.map(|s| orders(&s.order_list)).unwrap_or_default())
        }
        GetHistoryOrderFillList::PROTO_ID => plain!(trd_get_history_order_fill_list),
        GetMarginRatio::PROTO_ID => plain!(trd_get_margin_ratio),
        GetOrderFee::PROTO_ID => plain!(trd_get_order_fee),
        FlowSummary::PROTO_ID => plain!(trd_flow_summary),
        PlaceComboOrder::PROTO_ID => {
            let r = check_reply::<pb::trd_place_combo_order::Response>(proto, body);
            let ids = r.s2c.iter().map(|s| (0, s.order_id_ex.clone().unwrap_or_default())).collect();
            (r.ret_type == 0, ids)
        }
        other => panic!("not a trading protocol: {other}"),
    }
}

/// Checks one push; returns the order it names, if any.
fn check_push(proto: u32, body: &[u8]) -> Option<(u64, String)> {
    match proto {
        2208 => {
            let r = check_reply::<pb::trd_update_order::Response>(proto, body);
            assert_eq!(r.ret_type, 0, "a push with retType {}", r.ret_type);
            r.s2c.map(|s| (s.order.order_id, s.order.order_id_ex))
        }
        2218 => {
            let r = check_reply::<pb::trd_update_order_fill::Response>(proto, body);
            assert_eq!(r.ret_type, 0, "a push with retType {}", r.ret_type);
            None
        }
        1003 => {
            let r = check_reply::<pb::notify::Response>(proto, body);
            assert_eq!(r.ret_type, 0, "a push with retType {}", r.ret_type);
            None
        }
        other => panic!("unexpected push protocol {other}"),
    }
}

/// Runs one input (see the module documentation for the two modes).
pub fn sim_request(data: &[u8]) -> Outcome {
    install_panic_hook();
    let before = SIM_PANICS.load(Ordering::SeqCst);
    let out = match data.first() {
        Some(s) if s & 0x80 != 0 => run_session(data),
        _ => run_broker(data),
    };
    assert_eq!(SIM_PANICS.load(Ordering::SeqCst), before, "a simulator thread panicked");
    out
}

/// The broker mode: selector bit 0 turns rate limits off.
pub fn run_broker(data: &[u8]) -> Outcome {
    let (&selector, rest) = data.split_first().unwrap_or((&0, &[]));
    let broker = Broker::relaxed_default();
    broker.set_rate_limits_enabled(selector & 1 == 0);
    let sinks: Vec<Arc<Sink>> =
        (0..3).map(|i| Arc::new(Sink { pushes: Mutex::new(Vec::new()), alive: i != 2 })).collect();
    let conns: Vec<ConnInfo> = CONN_IDS
        .iter()
        .zip(&sinks)
        .map(|(&conn_id, sink)| ConnInfo { conn_id, login_user_id: 10_000_001, sink: sink.clone() })
        .collect();
    let mut current = 0usize;
    let mut g = Gen {
        cur: Cursor { data: rest, pos: 0 },
        conn_id: CONN_IDS[0],
        serial: 0,
        order_ids: Vec::new(),
        order_id_exs: Vec::new(),
    };
    let price = |i: &Instrument| broker.price(&i.full_code()).unwrap_or(i.start_price);
    let mut out = Outcome::default();
    let mut ops = 0;
    while !g.cur.done() && ops < MAX_OPS {
        ops += 1;
        let op = g.b();
        let (idx, mode) = ((op & 31) % ctl::COUNT, op >> 5);
        let conn = &conns[current];
        match idx {
            i if usize::from(i) < TRADING.len() => {
                let proto = TRADING[usize::from(i)];
                let body = g.body(proto, mode, &price);
                let reply = broker.handle(conn, proto, &body);
                let reply = reply.unwrap_or_else(|| panic!("the broker did not answer trading protocol {proto}"));
                out.requests += 1;
                let (ok, ids) = check_trading_reply(proto, &reply);
                if ok {
                    out.ok += 1;
                    out.placed += usize::from(proto == pb::proto::PlaceOrder::PROTO_ID);
                    out.modified += usize::from(proto == pb::proto::ModifyOrder::PROTO_ID);
                } else {
                    out.refused += 1;
                }
                for (id, ex) in ids {
                    g.learn(id, &ex);
                }
            }
            ctl::ARBITRARY_ID | ctl::NOT_TRADING => {
                let proto = if idx == ctl::ARBITRARY_ID {
                    g.cur.u32()
                } else {
                    NOT_TRADING[usize::from(g.b()) % NOT_TRADING.len()]
                };
                let body = g.cur.chunk().to_vec();
                let reply = broker.handle(conn, proto, &body);
                if TRADING.contains(&proto) {
                    let reply = reply.unwrap_or_else(|| panic!("no answer to trading protocol {proto}"));
                    check_trading_reply(proto, &reply);
                    out.requests += 1;
                } else {
                    assert!(reply.is_none(), "the broker answered protocol {proto}, which is not its");
                }
            }
            ctl::TICK => broker.tick(),
            ctl::SET_PRICE => {
                let instr = g.instr();
                let code = match instr {
                    Some(i) => i.full_code(),
                    None => g.string(),
                };
                let p = g.price_of(instr, &price);
                if let Ok(set) = broker.set_price(&code, p) {
                    assert!(set.is_finite() && set > 0.0, "set_price({code}, {p}) set {set}");
                }
            }
            ctl::SWITCH_CONN => {
                current = usize::from(g.b()) % conns.len();
                g.conn_id = CONN_IDS[current];
            }
            ctl::DISCONNECT => broker.disconnected(conn.conn_id),
            _ => broker.set_rate_limits_enabled(g.flag()),
        }
        for sink in &sinks {
            for (proto, body) in sink.take() {
                out.pushes += 1;
                if let Some((id, ex)) = check_push(proto, &body) {
                    g.learn(id, &ex);
                }
            }
        }
        for (acc_id, _, _) in accounts() {
            let cash = broker.cash(*acc_id).unwrap_or_else(|| panic!("account {acc_id} vanished"));
            assert!(cash.is_finite(), "account {acc_id} cash became {cash}");
        }
    }
    for i in instruments() {
        let p = broker.price(&i.full_code()).unwrap_or(f64::NAN);
        assert!(p.is_finite() && p > 0.0, "{} is priced {p}", i.full_code());
    }
    out
}

/// What the session-mode client sent, for the in-order check.
struct Sent {
    expected: Vec<(u32, u32)>,
    only_well_formed: bool,
}

fn read_frame(sock: &mut TcpStream, dec: &mut FrameDecoder) -> Option<ftapi::codec::Frame> {
    loop {
        match dec.next_frame() {
            Ok(Some(f)) => return Some(f),
            Ok(None) => {}
            Err(e) => panic!("the simulator wrote a corrupt stream: {e}"),
        }
        match dec.read_from(sock, 64 * 1024) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the simulator neither answered nor closed within {WAIT:?}")
            }
            Err(_) => return None,
        }
    }
}

/// The session mode. Selector bits 0..=1: InitConnect plain with a plain session, plain
/// with an AES session, RSA, or none at all; bit 2: the server uses FTAES-ECB instead
/// of CBC; bit 3: recvNotify; bit 4: rate limits off.
pub fn run_session(data: &[u8]) -> Outcome {
    let (&selector, rest) = data.split_first().unwrap_or((&0, &[]));
    let broker = Arc::new(Broker::relaxed_default());
    broker.set_rate_limits_enabled(selector & 0x10 == 0);
    let aes_mode = if selector & 4 != 0 { AesMode::FtAesEcb } else { AesMode::Cbc };
    let server = SimServer::builder()
        .port(0)
        .rsa_key(test_rsa_key().clone())
        .aes_mode(aes_mode)
        .write_timeout(WAIT)
        .trade_handler(broker.clone())
        .start()
        .expect("start the simulator");
    let mut sock = TcpStream::connect(server.local_addr()).expect("connect to the simulator");
    sock.set_read_timeout(Some(WAIT)).expect("read timeout");
    sock.set_write_timeout(Some(WAIT)).expect("write timeout");
    let mut dec = FrameDecoder::with_max_body_len(64 << 20);
    let mut out = Outcome::default();

    // InitConnect.
    let init_mode = selector & 3;
    let mut cipher = PacketCipher::Plain;
    let mut conn_id = 0;
    if init_mode != 3 {
        let req = pb::init_connect::Request {
            c2s: pb::init_connect::C2s {
                client_ver: 300,
                client_id: "fuzz".into(),
                recv_notify: Some(selector & 8 != 0),
                packet_enc_algo: match init_mode {
                    0 => Some(-1),
                    1 => Some(0),
                    _ => None,
                },
                push_proto_fmt: Some(0),
                programming_language: Some("Rust".into()),
                ai_type: None,
            },
        };
        let init_cipher = if init_mode == 2 { PacketCipher::Rsa(test_rsa_key().clone()) } else { PacketCipher::Plain };
        sock.write_all(&seal_message(1001, 1, &req, &init_cipher)).expect("send InitConnect");
        let frame = read_frame(&mut sock, &mut dec).expect("an InitConnect reply");
        assert_eq!((frame.header.proto_id, frame.header.serial_no), (1001, 1), "InitConnect reply header");
        let plain = open_frame(frame, &init_cipher).expect("the InitConnect reply opens");
        let rsp = pb::init_connect::Response::decode(plain.as_slice()).expect("the InitConnect reply decodes");
        assert_eq!(rsp.ret_type, 0, "InitConnect refused: {:?}", rsp.ret_msg);
        let s2c = rsp.s2c.expect("InitConnect s2c");
        conn_id = s2c.conn_id;
        if init_mode != 0 {
            cipher = PacketCipher::from_init_connect(&s2c.conn_aes_key, s2c.aes_cb_civ.as_deref())
                .expect("the simulator's AES key works");
        }
    }

    // The script, written while a thread reads everything back.
    let mut g =
        Gen { cur: Cursor { data: rest, pos: 0 }, conn_id, serial: 1, order_ids: Vec::new(), order_id_exs: Vec::new() };
    let mut sent = Sent { expected: Vec::new(), only_well_formed: true };
    let price = |i: &Instrument| broker.price(&i.full_code()).unwrap_or(i.start_price);
    let mut stream = Vec::new();
    let mut ops = 0;
    let mut header_serial = 1u32;
    while !g.cur.done() && ops < MAX_OPS {
        ops += 1;
        let op = g.b();
        let (idx, mode) = ((op & 31) % ctl::COUNT, op >> 5);
        header_serial = header_serial.wrapping_add(1);
        let (proto, body) = match idx {
            i if usize::from(i) < TRADING.len() => {
                let proto = TRADING[usize::from(i)];
                (proto, g.body(proto, mode, &price))
            }
            ctl::ARBITRARY_ID => (g.cur.u32(), g.cur.chunk().to_vec()),
            ctl::NOT_TRADING => {
                let proto = [1001, 1002, 1004][usize::from(g.b()) % 3];
                let body = match (proto, mode % 2) {
                    (1002, 0) => {
                        pb::get_global_state::Request { c2s: pb::get_global_state::C2s { user_id: g.cur.u64() } }
                            .encode_to_vec()
                    }
                    (1004, 0) => pb::keep_alive::Request { c2s: pb::keep_alive::C2s { time: g.cur.u64() as i64 } }
                        .encode_to_vec(),
                    _ => g.cur.chunk().to_vec(),
                };
                (proto, body)
            }
            ctl::TICK => {
                broker.tick();
                continue;
            }
            ctl::SET_PRICE => {
                let instr = g.instr();
                let p = g.price_of(instr, &price);
                if let Some(i) = instr {
                    let _ = broker.set_price(&i.full_code(), p);
                }
                continue;
            }
            ctl::RAW => {
                sent.only_well_formed = false;
                stream.extend_from_slice(g.cur.chunk());
                continue;
            }
            ctl::BROKEN => {
                sent.only_well_formed = false;
                let proto = TRADING[usize::from(g.b()) % TRADING.len()];
                let body = g.cur.chunk().to_vec();
                let mut pk = seal_packet(proto, header_serial, &body, &cipher);
                match mode % 4 {
                    0 => pk[16] ^= 0x5a,
                    1 => pk[6] = 1,
                    2 => pk[12..16].copy_from_slice(&u32::MAX.to_le_bytes()),
                    _ => {
                        let wrong = if cipher.is_plain() {
                            PacketCipher::from_init_connect("0123456789abcdef", None).expect("key")
                        } else {
                            PacketCipher::Plain
                        };
                        pk = seal_packet(proto, header_serial, &body, &wrong);
                        pk[16..36].copy_from_slice(&ftapi::codec::sha1_digest(&body));
                    }
                }
                stream.extend_from_slice(&pk);
                continue;
            }
            _ => continue,
        };
        // A request under a push id would come back looking like a push, and a second
        // InitConnect on an uninitialized session would switch to a cipher we never see.
        let proto = if pb::is_push(proto) || (init_mode == 3 && proto == 1001) { proto | 0x4000_0000 } else { proto };
        stream.extend_from_slice(&seal_packet(proto, header_serial, &body, &cipher));
        sent.expected.push((proto, header_serial));
        out.requests += 1;
    }
    let deadline = Instant::now() + WAIT;
    let mut write_half = sock.try_clone().expect("clone the socket");
    let writer = std::thread::spawn(move || {
        let _ = write_half.write_all(&stream);
        let _ = write_half.shutdown(Shutdown::Write);
    });
    let mut frames = Vec::new();
    while let Some(f) = read_frame(&mut sock, &mut dec) {
        frames.push(f);
        assert!(Instant::now() < deadline + WAIT, "the simulator keeps writing");
    }
    writer.join().expect("writer thread");
    drop(sock);
    server.shutdown();

    let mut replies = Vec::new();
    for f in frames {
        let h: FrameHeader = f.header;
        assert_eq!(h.proto_fmt, 0, "the simulator wrote a non-protobuf body");
        let plain = match open_frame(f, &cipher) {
            Ok(p) => p,
            Err(e) => {
                panic!("a frame from the simulator does not open: proto {} serial {}: {e}", h.proto_id, h.serial_no)
            }
        };
        if ftapi::pb::is_push(h.proto_id) {
            out.pushes += 1;
            if let Some((id, ex)) = check_push(h.proto_id, &plain) {
                g.learn(id, &ex);
            }
            continue;
        }
        let ok = match h.proto_id {
            id if TRADING.contains(&id) => check_trading_reply(id, &plain).0,
            1001 => check_reply::<pb::init_connect::Response>(1001, &plain).ret_type == 0,
            1002 => check_reply::<pb::get_global_state::Response>(1002, &plain).ret_type == 0,
            id => check_reply::<pb::keep_alive::Response>(id, &plain).ret_type == 0,
        };
        if ok {
            out.ok += 1;
        } else {
            out.refused += 1;
        }
        replies.push((h.proto_id, h.serial_no));
    }
    if sent.only_well_formed {
        assert_eq!(replies, sent.expected, "replies do not answer the requests one for one");
    }
    out
}
