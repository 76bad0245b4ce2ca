//! The reference, derivative, money-flow, screening and list requests: routing, their
//! OpenD frequency limits, and the state they keep (price reminders, the watchlist).
//!
//! Each family lives in a file of its own: plates, code changes, IPOs, holding changes,
//! user info and delay statistics in `reference.rs`; option chains, warrants and futures
//! in `derivative_requests.rs` (over the listing of `derivatives.rs`); capital flow and distribution in `flows.rs`;
//! the stock filter in `screen.rs`; price reminders and the watchlist in `lists.rs`.

use crate::pb::{self, proto, Protocol};
use crate::sim::ConnInfo;

use super::live::Level;
use super::requests::serve;
use super::state::Inner;
use super::{derivative_requests, flows, lists, reference, screen};

pub use super::state::FREQUENCY_WINDOW;

/// The requests served here that OpenD limits; each is limited per connection by
/// [`crate::pb::quote_frequency_limit`], the table the
/// client's quote context reads too.
pub const LIMITED_REQUESTS: &[u32] = &[
    proto::GetPlateSet::PROTO_ID,
    proto::GetPlateSecurity::PROTO_ID,
    proto::GetReference::PROTO_ID,
    proto::GetOwnerPlate::PROTO_ID,
    proto::GetHoldingChangeList::PROTO_ID,
    proto::GetOptionChain::PROTO_ID,
    proto::GetWarrant::PROTO_ID,
    proto::GetCapitalFlow::PROTO_ID,
    proto::GetCapitalDistribution::PROTO_ID,
    proto::GetUserSecurity::PROTO_ID,
    proto::ModifyUserSecurity::PROTO_ID,
    proto::StockFilter::PROTO_ID,
    proto::GetCodeChange::PROTO_ID,
    proto::GetIpoList::PROTO_ID,
    proto::GetFutureInfo::PROTO_ID,
    proto::SetPriceReminder::PROTO_ID,
    proto::GetPriceReminder::PROTO_ID,
    proto::GetUserSecurityGroup::PROTO_ID,
    proto::GetOptionExpirationDate::PROTO_ID,
];

/// Protocols served by this module (the ones in [`LIMITED_REQUESTS`] plus those
/// OpenD does not limit).
pub(crate) fn serves(proto_id: u32) -> bool {
    LIMITED_REQUESTS.contains(&proto_id)
        || proto_id == proto::GetUserInfo::PROTO_ID
        || proto_id == proto::GetDelayStatistics::PROTO_ID
        || proto_id == proto::GetOptionQuote::PROTO_ID
}

macro_rules! route {
    ($inner:expr, $conn:expr, $body:expr, $id:expr, $m:ident, $name:literal, $f:expr) => {
        serve::<pb::$m::Request, pb::$m::Response>($inner, $conn, $body, $name, |st, src, conn, c| {
            st.more.admit(conn, $id, $name)?;
            $f(st, src, conn, c)
        })
    };
}

/// Answers one request of this module (`serves(proto_id)` is true).
pub(crate) fn handle(inner: &Inner, conn: &ConnInfo, id: u32, body: &[u8]) -> Vec<u8> {
    use proto::*;
    let (i, c, b) = (inner, conn, body);
    match id {
        GetPlateSet::PROTO_ID => route!(i, c, b, id, qot_get_plate_set, "Qot_GetPlateSet", reference::plate_set),
        GetPlateSecurity::PROTO_ID => {
            route!(i, c, b, id, qot_get_plate_security, "Qot_GetPlateSecurity", reference::plate_security)
        }
        GetOwnerPlate::PROTO_ID => {
            route!(i, c, b, id, qot_get_owner_plate, "Qot_GetOwnerPlate", reference::owner_plate)
        }
        GetCodeChange::PROTO_ID => {
            route!(i, c, b, id, qot_get_code_change, "Qot_GetCodeChange", reference::code_change)
        }
        GetIpoList::PROTO_ID => route!(i, c, b, id, qot_get_ipo_list, "Qot_GetIpoList", reference::ipo_list),
        GetHoldingChangeList::PROTO_ID => {
            route!(i, c, b, id, qot_get_holding_change_list, "Qot_GetHoldingChangeList", reference::holding_change)
        }
        GetUserInfo::PROTO_ID => route!(i, c, b, id, get_user_info, "GetUserInfo", reference::user_info),
        GetDelayStatistics::PROTO_ID => {
            route!(i, c, b, id, get_delay_statistics, "GetDelayStatistics", reference::delay_statistics)
        }
        GetOptionExpirationDate::PROTO_ID => route!(
            i,
            c,
            b,
            id,
            qot_get_option_expiration_date,
            "Qot_GetOptionExpirationDate",
            derivative_requests::expiration_dates
        ),
        GetOptionChain::PROTO_ID => {
            route!(i, c, b, id, qot_get_option_chain, "Qot_GetOptionChain", derivative_requests::option_chain)
        }
        GetOptionQuote::PROTO_ID => {
            route!(i, c, b, id, qot_get_option_quote, "Qot_GetOptionQuote", derivative_requests::option_quote)
        }
        GetReference::PROTO_ID => {
            route!(i, c, b, id, qot_get_reference, "Qot_GetReference", derivative_requests::reference)
        }
        GetWarrant::PROTO_ID => route!(i, c, b, id, qot_get_warrant, "Qot_GetWarrant", derivative_requests::warrant),
        GetFutureInfo::PROTO_ID => {
            route!(i, c, b, id, qot_get_future_info, "Qot_GetFutureInfo", derivative_requests::future_info)
        }
        GetCapitalFlow::PROTO_ID => {
            route!(i, c, b, id, qot_get_capital_flow, "Qot_GetCapitalFlow", flows::capital_flow)
        }
        GetCapitalDistribution::PROTO_ID => {
            route!(i, c, b, id, qot_get_capital_distribution, "Qot_GetCapitalDistribution", flows::capital_distribution)
        }
        StockFilter::PROTO_ID => route!(i, c, b, id, qot_stock_filter, "Qot_StockFilter", screen::stock_filter),
        SetPriceReminder::PROTO_ID => {
            route!(i, c, b, id, qot_set_price_reminder, "Qot_SetPriceReminder", lists::set_price_reminder)
        }
        GetPriceReminder::PROTO_ID => {
            route!(i, c, b, id, qot_get_price_reminder, "Qot_GetPriceReminder", lists::get_price_reminder)
        }
        GetUserSecurityGroup::PROTO_ID => {
            route!(i, c, b, id, qot_get_user_security_group, "Qot_GetUserSecurityGroup", lists::user_security_group)
        }
        GetUserSecurity::PROTO_ID => {
            route!(i, c, b, id, qot_get_user_security, "Qot_GetUserSecurity", lists::user_security)
        }
        _ => route!(i, c, b, id, qot_modify_user_security, "Qot_ModifyUserSecurity", lists::modify_user_security),
    }
}

/// The HK odd-lot order book (SubType ORDER_BOOK_ODD): the board-lot book's prices, each
/// level holding fewer shares than a lot (at least one share, one order per up to a
/// hundred shares).
pub(crate) fn odd_lot_book(live: &super::live::Live, n: usize) -> (Vec<Level>, Vec<Level>) {
    let lot = live.instrument.lot_size.max(2.0) as i64;
    let (bids, asks) = live.book(n);
    let odd = |side: &[Level]| -> Vec<Level> {
        side.iter()
            .map(|l| {
                let volume = 1 + (l.volume.rem_euclid(lot - 1));
                Level { price: l.price, volume, orders: (1 + (volume - 1) / 100).min(volume) as i32 }
            })
            .collect()
    };
    (odd(&bids), odd(&asks))
}
