//! Price reminders (Qot_SetPriceReminder, Qot_GetPriceReminder and the
//! Qot_UpdatePriceReminder push) and the watchlist (Qot_GetUserSecurityGroup,
//! Qot_GetUserSecurity, Qot_ModifyUserSecurity), kept per simulator like an OpenD
//! login's.
//!
//! A reminder fires when its condition becomes true on a market-data step (a crossing:
//! a condition already true when the reminder is set does not fire until it has been
//! false again), at most once a day for `OnceADay`, and once for `OnlyOnce` (which then
//! disables it). The push goes to every connection that has subscribed to quotes or used
//! the requests of `more.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use prost::Message;

use crate::pb::{
    qot_common as qc, qot_get_price_reminder as gpr, qot_get_user_security as gus, qot_get_user_security_group as gusg,
    qot_modify_user_security as mus, qot_set_price_reminder as spr, qot_update_price_reminder as upr, ResponseEnvelope,
};
use crate::sim::matching::InstrumentKind;
use crate::sim::{ConnInfo, PushSink};

use super::live::Live;
use super::requests::{find, lookup, sec_market_of, static_info};
use super::state::{Lists, Push, Reminder, Res, State, DEFAULT_GROUP};
use crate::sim::instrument::round9;
use crate::sim::PriceSource;

/// Reminders per security (OpenD's limit).
const MAX_REMINDERS_PER_SECURITY: usize = 10;
/// The system groups (read-only, derived from the custom groups).
pub const SYSTEM_GROUPS: &[&str] = &["All", "HK", "US", "CN", "Options", "Futures"];

fn change_rate(l: &Live) -> f64 {
    if l.prev_close > 0.0 {
        (l.last - l.prev_close) / l.prev_close * 100.0
    } else {
        0.0
    }
}

/// The value a reminder type watches, and whether it is met.
fn check(l: &Live, kind: i32, value: f64) -> (f64, bool) {
    match kind {
        1 => (l.last, l.last >= value),
        2 => (l.last, l.last <= value),
        3 => {
            let c = change_rate(l);
            (c, c >= value)
        }
        4 => {
            let c = change_rate(l);
            (c, c <= -value.abs())
        }
        7 => (l.volume as f64, l.volume as f64 >= value),
        8 => (l.turnover, l.turnover >= value),
        10 => {
            let (b, _) = l.book(1);
            let p = b.first().map(|x| x.price).unwrap_or(0.0);
            (p, p >= value)
        }
        11 => {
            let (_, a) = l.book(1);
            let p = a.first().map(|x| x.price).unwrap_or(f64::MAX);
            (p, p <= value)
        }
        _ => (0.0, false),
    }
}

fn supported(kind: i32) -> bool {
    matches!(kind, 1 | 2 | 3 | 4 | 7 | 8 | 10 | 11)
}

fn describe(kind: i32) -> &'static str {
    match kind {
        1 => "Price rose to",
        2 => "Price fell to",
        3 => "Day change rose to (%)",
        4 => "Day change fell to (%)",
        7 => "Volume reached",
        8 => "Turnover reached",
        10 => "Bid rose to",
        11 => "Ask fell to",
        _ => "Reminder",
    }
}

/// Qot_SetPriceReminder.
pub(crate) fn set_price_reminder(
    st: &mut State,
    src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &spr::C2s,
) -> Res<(spr::S2c, Vec<Push>)> {
    let i = lookup(st, src, &c.security)?;
    let code = st.entries[i].instrument.full_code();
    let lists = &mut st.more.lists;
    let find_key = |lists: &Lists| -> Res<usize> {
        let key = c.key.ok_or("This operation needs key")?;
        lists
            .reminders
            .iter()
            .position(|r| r.key == key && r.entry == i)
            .ok_or_else(|| format!("No price reminder with key {key} on {code}"))
    };
    let key = match c.op {
        1 => {
            let kind = c.r#type.ok_or("Adding a price reminder needs type")?;
            if !supported(kind) {
                return Err(format!(
                    "PriceReminderType {kind} is not modelled by opend-sim (served: 1-4, 7, 8, 10, 11)"
                ));
            }
            let value = c.value.ok_or("Adding a price reminder needs value")?;
            if !value.is_finite() || (value <= 0.0 && kind != 4 && kind != 3) {
                return Err(format!("Invalid reminder value {value}"));
            }
            let freq = c.freq.unwrap_or(1);
            if !(1..=3).contains(&freq) {
                return Err(format!("Unknown PriceReminderFreq {freq}"));
            }
            if lists.reminders.iter().filter(|r| r.entry == i).count() >= MAX_REMINDERS_PER_SECURITY {
                return Err(format!("At most {MAX_REMINDERS_PER_SECURITY} price reminders per security ({code})"));
            }
            let key = lists.next_key;
            lists.next_key += 1;
            let (_, now_true) = check(&st.entries[i].live, kind, value);
            st.more.lists.reminders.push(Reminder {
                key,
                entry: i,
                security: c.security.clone(),
                kind,
                value,
                note: c.note.clone().unwrap_or_default(),
                freq,
                enabled: true,
                sessions: c.reminder_session_list.clone(),
                was_true: now_true,
                fired_day: None,
            });
            key
        }
        2 => {
            let n = find_key(lists)?;
            lists.reminders.remove(n).key
        }
        3 | 4 => {
            let n = find_key(lists)?;
            let r = &mut lists.reminders[n];
            r.enabled = c.op == 3;
            r.key
        }
        5 => {
            let n = find_key(lists)?;
            if let Some(k) = c.r#type {
                if !supported(k) {
                    return Err(format!("PriceReminderType {k} is not modelled by opend-sim"));
                }
            }
            if c.freq.is_some_and(|f| !(1..=3).contains(&f)) {
                return Err(format!("Unknown PriceReminderFreq {}", c.freq.unwrap_or(0)));
            }
            let r = &mut lists.reminders[n];
            r.kind = c.r#type.unwrap_or(r.kind);
            r.value = c.value.unwrap_or(r.value);
            r.freq = c.freq.unwrap_or(r.freq);
            if let Some(note) = &c.note {
                r.note = note.clone();
            }
            if !c.reminder_session_list.is_empty() {
                r.sessions = c.reminder_session_list.clone();
            }
            let (kind, value, key) = (r.kind, r.value, r.key);
            let (_, now_true) = check(&st.entries[i].live, kind, value);
            st.more.lists.reminders[n].was_true = now_true;
            key
        }
        6 => {
            lists.reminders.retain(|r| r.entry != i);
            0
        }
        op => return Err(format!("Unknown SetPriceReminderOp {op}")),
    };
    Ok((spr::S2c { key }, Vec::new()))
}

/// Qot_GetPriceReminder.
pub(crate) fn get_price_reminder(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gpr::C2s,
) -> Res<(gpr::S2c, Vec<Push>)> {
    let wanted: Box<dyn Fn(usize) -> bool> = match (&c.security, c.market) {
        (Some(sec), _) => {
            let i = find(st, sec)?;
            Box::new(move |j| j == i)
        }
        (None, Some(m)) => {
            let sec = sec_market_of(m)?;
            let markets: Vec<i32> = st.entries.iter().map(|e| e.instrument.sec_market).collect();
            Box::new(move |j| markets[j] == sec)
        }
        (None, None) => return Err("Qot_GetPriceReminder needs security or market".into()),
    };
    let mut by_entry: BTreeMap<usize, gpr::PriceReminder> = BTreeMap::new();
    for r in st.more.lists.reminders.iter().filter(|r| wanted(r.entry)) {
        let e = &st.entries[r.entry];
        by_entry
            .entry(r.entry)
            .or_insert_with(|| gpr::PriceReminder {
                security: qc::Security { market: e.qot_market, code: e.instrument.code.clone() },
                name: Some(e.instrument.name.clone()),
                item_list: Vec::new(),
            })
            .item_list
            .push(gpr::PriceReminderItem {
                key: r.key,
                r#type: r.kind,
                value: r.value,
                note: r.note.clone(),
                freq: r.freq,
                is_enable: r.enabled,
                reminder_session_list: r.sessions.clone(),
            });
    }
    Ok((gpr::S2c { price_reminder_list: by_entry.into_values().collect() }, Vec::new()))
}

/// The reminder pushes of one market-data step.
pub(crate) fn reminder_pushes(st: &mut State) -> Vec<Push> {
    if st.more.lists.reminders.is_empty() {
        return Vec::new();
    }
    let now = crate::sim::calendar::wall_secs();
    let mut fired = Vec::new();
    for r in st.more.lists.reminders.iter_mut() {
        let l = &st.entries[r.entry].live;
        let (cur, met) = check(l, r.kind, r.value);
        let crossed = met && !r.was_true;
        r.was_true = met;
        if !r.enabled || !crossed {
            continue;
        }
        let day = l.cal.day_of(now);
        if r.freq == 2 && r.fired_day == Some(day) {
            continue;
        }
        r.fired_day = Some(day);
        if r.freq == 3 {
            r.enabled = false;
        }
        let e = &st.entries[r.entry];
        fired.push(upr::S2c {
            security: r.security.clone(),
            name: Some(e.instrument.name.clone()),
            price: l.last,
            change_rate: round9(change_rate(l)),
            market_status: 1,
            content: format!("{} {} (reminder at {})", describe(r.kind), round9(cur), r.value),
            note: r.note.clone(),
            key: Some(r.key),
            r#type: Some(r.kind),
            set_value: Some(r.value),
            cur_value: Some(round9(cur)),
        });
    }
    if fired.is_empty() {
        return Vec::new();
    }
    let mut sinks: BTreeMap<u64, Arc<dyn PushSink>> = st.more.sinks.iter().map(|(id, s)| (*id, s.clone())).collect();
    for (id, cs) in &st.subs.conns {
        sinks.entry(*id).or_insert_with(|| cs.sink.clone());
    }
    let id = <crate::pb::proto::UpdatePriceReminder as crate::pb::PushProtocol>::PROTO_ID;
    let mut out = Vec::new();
    for s2c in fired {
        let body = upr::Response::build(0, None, None, Some(s2c)).encode_to_vec();
        for sink in sinks.values() {
            out.push(Push { sink: sink.clone(), proto_id: id, body: body.clone() });
        }
    }
    out
}

// ------------------------------------------------------------------------------------
// Watchlist
// ------------------------------------------------------------------------------------

/// Qot_GetUserSecurityGroup.
pub(crate) fn user_security_group(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gusg::C2s,
) -> Res<(gusg::S2c, Vec<Push>)> {
    if !(1..=3).contains(&c.group_type) {
        return Err(format!("Unknown GroupType {} (1 custom, 2 system, 3 all)", c.group_type));
    }
    let mut list = Vec::new();
    if c.group_type != 2 {
        list.extend(st.more.lists.groups.keys().map(|g| gusg::GroupData { group_name: g.clone(), group_type: 1 }));
    }
    if c.group_type != 1 {
        list.extend(SYSTEM_GROUPS.iter().map(|g| gusg::GroupData { group_name: (*g).into(), group_type: 2 }));
    }
    Ok((gusg::S2c { group_list: list }, Vec::new()))
}

/// Qot_GetUserSecurity.
pub(crate) fn user_security(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &gus::C2s,
) -> Res<(gus::S2c, Vec<Push>)> {
    let lists = &st.more.lists;
    let codes: Vec<String> = if let Some(g) = lists.groups.get(&c.group_name) {
        g.clone()
    } else if SYSTEM_GROUPS.contains(&c.group_name.as_str()) {
        let mut all: Vec<String> = Vec::new();
        for g in lists.groups.values() {
            for code in g {
                if !all.contains(code) {
                    all.push(code.clone());
                }
            }
        }
        all
    } else {
        return Err(format!("Unknown watchlist group {:?} (Qot_GetUserSecurityGroup lists them)", c.group_name));
    };
    let mut list = Vec::new();
    for code in codes {
        let Some(e) = st.entries.iter().find(|e| e.instrument.full_code() == code) else { continue };
        let keep = match c.group_name.as_str() {
            "HK" => code.starts_with("HK.") && e.instrument.kind == InstrumentKind::Stock,
            "US" => code.starts_with("US.") && e.instrument.kind == InstrumentKind::Stock,
            "CN" => code.starts_with("SH.") || code.starts_with("SZ."),
            "Options" => e.instrument.kind == InstrumentKind::Option,
            "Futures" => e.instrument.kind == InstrumentKind::Future,
            _ => true,
        };
        if keep || lists.groups.contains_key(&c.group_name) {
            list.push(static_info(e, qc::Security { market: e.qot_market, code: e.instrument.code.clone() }));
        }
    }
    Ok((gus::S2c { static_info_list: list }, Vec::new()))
}

/// Qot_ModifyUserSecurity.
pub(crate) fn modify_user_security(
    st: &mut State,
    _src: &dyn PriceSource,
    _conn: &ConnInfo,
    c: &mus::C2s,
) -> Res<(mus::S2c, Vec<Push>)> {
    if SYSTEM_GROUPS.contains(&c.group_name.as_str()) {
        return Err(format!("The system group {:?} cannot be modified", c.group_name));
    }
    if !st.more.lists.groups.contains_key(&c.group_name) {
        return Err(format!("Unknown watchlist group {:?} (custom groups: {DEFAULT_GROUP})", c.group_name));
    }
    if c.security_list.is_empty() {
        return Err("Qot_ModifyUserSecurity needs securityList".into());
    }
    let mut codes = Vec::new();
    for sec in &c.security_list {
        codes.push(st.entries[find(st, sec)?].instrument.full_code());
    }
    let lists = &mut st.more.lists;
    match c.op {
        1 => {
            let g = lists.groups.get_mut(&c.group_name).ok_or("group vanished")?;
            for code in codes {
                if !g.contains(&code) {
                    g.push(code);
                }
            }
        }
        2 => {
            for g in lists.groups.values_mut() {
                g.retain(|x| !codes.contains(x));
            }
        }
        3 => {
            let g = lists.groups.get_mut(&c.group_name).ok_or("group vanished")?;
            g.retain(|x| !codes.contains(x));
        }
        op => return Err(format!("Unknown ModifyUserSecurityOp {op} (1 add, 2 delete, 3 move out)")),
    }
    Ok((mus::S2c {}, Vec::new()))
}
