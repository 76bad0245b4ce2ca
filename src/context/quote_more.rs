//! More typed [`QuoteContext`] calls (warrants, option quotes, watchlist groups, code changes, holding
//! changes, user info, delay statistics), each one [`QuoteContext::call`] with the Python
//! SDK's name and arguments, so they share its gate, reconnect and frequency limits.

use crate::error::Result;
use crate::pb::{self, proto};
use crate::types::SecurityCode;

use super::QuoteContext;

fn security(code: &str) -> Result<pb::qot_common::Security> {
    Ok(code.trim().parse::<SecurityCode>()?.to_pb_security())
}

impl QuoteContext {
    /// Warrants (Python `get_warrant`; 3210), HK only. Build the `c2s` (`begin`, `num`,
    /// `sort_field`, `ascend`, `owner` and the filters) directly; the reply carries
    /// `all_count` and `last_page` for paging.
    pub fn get_warrant(&self, c2s: pb::qot_get_warrant::C2s) -> Result<pb::qot_get_warrant::S2c> {
        self.call::<proto::GetWarrant>(c2s)
    }

    /// Quotes of option legs (Python `get_option_quote`; 3255): one quote per code, with
    /// the greeks, implied volatility and break-even.
    pub fn get_option_quote<I, S>(&self, codes: I) -> Result<Vec<pb::qot_get_option_quote::OptionQuote>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let multi_legs = codes
            .into_iter()
            .map(|c| Ok(pb::qot_common::ComboLeg { security: security(c.as_ref())?, ..Default::default() }))
            .collect::<Result<Vec<_>>>()?;
        Ok(self
            .call::<proto::GetOptionQuote>(pb::qot_get_option_quote::C2s { multi_legs, header: None })?
            .option_quote_list)
    }

    /// Watchlist groups (Python `get_user_security_group`; 3222). `group_type` is a
    /// `Qot_GetUserSecurityGroup.GroupType` value (1 custom, 2 system, 3 all).
    pub fn get_user_security_group(&self, group_type: i32) -> Result<Vec<pb::qot_get_user_security_group::GroupData>> {
        Ok(self
            .call::<proto::GetUserSecurityGroup>(pb::qot_get_user_security_group::C2s { group_type, header: None })?
            .group_list)
    }

    /// Code changes (Python `get_code_change`; 3216): of `codes` (all when empty), of the
    /// `Qot_GetCodeChange.CodeChangeType` values in `types` (all when empty).
    pub fn get_code_change<I, S>(&self, codes: I, types: &[i32]) -> Result<Vec<pb::qot_get_code_change::CodeChangeInfo>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let security_list = codes.into_iter().map(|c| security(c.as_ref())).collect::<Result<Vec<_>>>()?;
        Ok(self
            .call::<proto::GetCodeChange>(pb::qot_get_code_change::C2s {
                security_list,
                type_list: types.to_vec(),
                ..Default::default()
            })?
            .code_change_list)
    }

    /// Holding changes of a US stock's holders (Python `get_holding_change_list`; 3208).
    /// `holder_type` is a `Qot_Common.HolderCategory` value (1 agency, 2 fund, 3 senior
    /// manager); `start`/`end` are `yyyy-MM-dd` bounds.
    pub fn get_holding_change_list(
        &self,
        code: &str,
        holder_type: i32,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<Vec<pb::qot_common::ShareHoldingChange>> {
        Ok(self
            .call::<proto::GetHoldingChangeList>(pb::qot_get_holding_change_list::C2s {
                security: security(code)?,
                holder_category: holder_type,
                begin_time: start.map(String::from),
                end_time: end.map(String::from),
                header: None,
            })?
            .holding_change_list)
    }

    /// The logged-in user's information, quote rights and quotas (Python
    /// `get_user_info`; 1005). `flag` is a sum of `GetUserInfo.UserInfoField` bits
    /// (`None`: everything).
    pub fn get_user_info(&self, flag: Option<i32>) -> Result<pb::get_user_info::S2c> {
        self.call::<proto::GetUserInfo>(pb::get_user_info::C2s { flag })
    }

    /// OpenD's delay statistics (Python `get_delay_statistics`; 1007). `types` are
    /// `GetDelayStatistics.DelayStatisticsType` values (1 quote pushes, 2 request
    /// replies, 3 orders).
    pub fn get_delay_statistics(
        &self,
        types: &[i32],
        qot_push_stage: Option<i32>,
        segments: &[i32],
    ) -> Result<pb::get_delay_statistics::S2c> {
        self.call::<proto::GetDelayStatistics>(pb::get_delay_statistics::C2s {
            type_list: types.to_vec(),
            qot_push_stage,
            segment_list: segments.to_vec(),
        })
    }
}
