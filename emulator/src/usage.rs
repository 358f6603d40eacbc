//! The per-ad-account hourly call budget and the usage headers Facebook sends.
//!
//! Each ad account has a rolling one-hour window (on the emulator's clock, at minute
//! granularity) of `calls_per_hour` calls, the `custom_audience` business-use-case quota. Calls
//! over budget are refused with code 80003 and are not counted. `call_count` in
//! `X-Business-Use-Case-Usage` is the percentage of the budget used; `total_time` and
//! `total_cputime` are reported as half and a quarter of it, so `call_count` is the one that
//! throttles. `X-App-Usage` reports the same for the whole app against ten times the
//! per-account budget, and is never enforced.

use std::collections::{HashMap, VecDeque};

use serde_json::json;

/// Calls per minute bucket, oldest first.
type Window = VecDeque<(u64, u64)>;

/// Usage of one ad account's budget, as reported in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccountUsage {
    /// Ad account id without `act_`.
    pub(crate) account: String,
    /// Percent of the budget used, 0..=100.
    pub(crate) call_count_pct: u64,
    /// Minutes until a call would be accepted again; 0 when not throttled.
    pub(crate) minutes_to_regain: u64,
}

impl AccountUsage {
    /// The `X-Business-Use-Case-Usage` header value.
    pub(crate) fn header(&self) -> String {
        json!({
            &self.account: [{
                "type": "custom_audience",
                "call_count": self.call_count_pct,
                "total_cputime": self.call_count_pct / 4,
                "total_time": self.call_count_pct / 2,
                "estimated_time_to_regain_access": self.minutes_to_regain,
            }]
        })
        .to_string()
    }
}

/// Rolling-hour call counters per ad account and for the app.
#[derive(Debug)]
pub(crate) struct Budget {
    per_hour: u64,
    accounts: HashMap<String, Window>,
    app: Window,
}

impl Budget {
    /// A budget of `per_hour` calls per ad account.
    pub(crate) fn new(per_hour: u32) -> Self {
        Self {
            per_hour: u64::from(per_hour.max(1)),
            accounts: HashMap::new(),
            app: Window::new(),
        }
    }

    /// Counts one call against `account` unless it is over budget. Returns the usage after the
    /// call, or `Err` with the (blocked) usage when the call is refused.
    pub(crate) fn charge(
        &mut self,
        account: &str,
        now_ms: u64,
    ) -> Result<AccountUsage, AccountUsage> {
        let minute = now_ms / 60_000;
        let window = self.accounts.entry(account.to_owned()).or_default();
        expire(window, minute);
        let used: u64 = window.iter().map(|(_, n)| n).sum();
        if used >= self.per_hour {
            return Err(self.usage(account, now_ms));
        }
        bump(window, minute);
        expire(&mut self.app, minute);
        bump(&mut self.app, minute);
        Ok(self.usage(account, now_ms))
    }

    /// Current usage of `account` (a throttled account reports a positive regain time).
    pub(crate) fn usage(&self, account: &str, now_ms: u64) -> AccountUsage {
        let minute = now_ms / 60_000;
        let live = |w: &Window| -> Vec<(u64, u64)> {
            w.iter().copied().filter(|(m, _)| m + 60 > minute).collect()
        };
        let buckets = self.accounts.get(account).map(live).unwrap_or_default();
        let used: u64 = buckets.iter().map(|(_, n)| n).sum();
        let mut minutes_to_regain = 0;
        if used >= self.per_hour {
            let mut left = used;
            for (m, n) in &buckets {
                left -= n;
                if left < self.per_hour {
                    minutes_to_regain = (m + 60).saturating_sub(minute).max(1);
                    break;
                }
            }
        }
        AccountUsage {
            account: account.to_owned(),
            call_count_pct: percent(used, self.per_hour),
            minutes_to_regain,
        }
    }

    /// The `X-App-Usage` header value.
    pub(crate) fn app_header(&self, now_ms: u64) -> String {
        let minute = now_ms / 60_000;
        let used: u64 = self
            .app
            .iter()
            .filter(|(m, _)| m + 60 > minute)
            .map(|(_, n)| n)
            .sum();
        let pct = percent(used, self.per_hour * 10);
        json!({"call_count": pct, "total_cputime": pct / 4, "total_time": pct / 2}).to_string()
    }
}

fn percent(used: u64, budget: u64) -> u64 {
    (used * 100).div_ceil(budget).min(100)
}

fn expire(window: &mut Window, minute: u64) {
    while window.front().is_some_and(|(m, _)| m + 60 <= minute) {
        window.pop_front();
    }
}

fn bump(window: &mut Window, minute: u64) {
    match window.back_mut() {
        Some((m, n)) if *m == minute => *n += 1,
        _ => window.push_back((minute, 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    #[test]
    fn blocks_at_budget_and_recovers_after_an_hour() {
        let mut b = Budget::new(3);
        let t0 = 1_000 * MIN;
        assert_eq!(b.charge("1", t0).map(|u| u.call_count_pct), Ok(34));
        assert!(b.charge("1", t0 + MIN).is_ok());
        let third = b.charge("1", t0 + 2 * MIN).expect("third call fits");
        assert_eq!(third.call_count_pct, 100);
        let refused = b.charge("1", t0 + 3 * MIN).expect_err("over budget");
        // The oldest call (t0) leaves the window at t0 + 60 min.
        assert_eq!(refused.minutes_to_regain, 57);
        assert!(
            refused
                .header()
                .contains("\"estimated_time_to_regain_access\":57")
        );
        // Other accounts are unaffected.
        assert!(b.charge("2", t0 + 3 * MIN).is_ok());
        assert!(b.charge("1", t0 + 60 * MIN).is_ok());
    }

    #[test]
    fn header_shape() {
        let mut b = Budget::new(100);
        let u = b.charge("42", 0).expect("fits");
        let v: serde_json::Value = serde_json::from_str(&u.header()).expect("json");
        assert_eq!(v["42"][0]["type"], "custom_audience");
        assert_eq!(v["42"][0]["call_count"], 1);
        assert_eq!(v["42"][0]["estimated_time_to_regain_access"], 0);
        let app: serde_json::Value = serde_json::from_str(&b.app_header(0)).expect("json");
        assert_eq!(app["call_count"], 1);
    }
}
