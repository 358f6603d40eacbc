//! Seeded ad accounts.

use serde_json::{Map, Value, json};

/// Ad account id whose custom audience terms are not accepted.
pub(crate) const TOS_NOT_ACCEPTED: &str = "1000000002";

/// One ad account.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    /// Numeric id, without `act_`.
    pub(crate) digits: String,
    pub(crate) name: String,
    /// 1 active, 2 disabled, ...
    pub(crate) status: u32,
    pub(crate) tos_accepted: bool,
}

/// Fields an ad account has (anything else is "nonexisting field").
pub(crate) const FIELDS: [&str; 12] = [
    "id",
    "account_id",
    "name",
    "account_status",
    "currency",
    "tos_accepted",
    "user_tos_accepted",
    "user_tasks",
    "business",
    "timezone_name",
    "disable_reason",
    "capabilities",
];

impl Account {
    fn new(digits: &str, name: &str, status: u32, tos_accepted: bool) -> Self {
        Self {
            digits: digits.to_owned(),
            name: name.to_owned(),
            status,
            tos_accepted,
        }
    }

    /// `act_<digits>`.
    pub(crate) fn id(&self) -> String {
        format!("act_{}", self.digits)
    }

    /// Whether the account accepts writes (`account_status` 1).
    pub(crate) fn is_active(&self) -> bool {
        self.status == 1
    }

    /// Every field of the account.
    pub(crate) fn to_json(&self) -> Map<String, Value> {
        let tos = if self.tos_accepted {
            json!({"custom_audience_tos": 1})
        } else {
            json!({})
        };
        let v = json!({
            "id": self.id(),
            "account_id": self.digits,
            "name": self.name,
            "account_status": self.status,
            "currency": "USD",
            "tos_accepted": tos,
            "user_tos_accepted": tos,
            "user_tasks": ["MANAGE", "ADVERTISE", "ANALYZE"],
            "business": {"id": "3000000001", "name": "Audex Demo Business"},
            "timezone_name": "America/Los_Angeles",
            "disable_reason": if self.is_active() { 0 } else { 1 },
            "capabilities": [],
        });
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}

/// The seeded accounts: the three documented ones, then `extra` active ones.
pub(crate) fn seed(extra: usize) -> Vec<Account> {
    let mut out = vec![
        Account::new("1000000001", "Audex Demo Account", 1, true),
        Account::new(TOS_NOT_ACCEPTED, "Terms Not Accepted", 1, false),
        Account::new("1000000003", "Disabled Account", 2, true),
    ];
    out.extend((1..=extra).map(|i| {
        Account::new(
            &format!("{}", 2_000_000_000 + i),
            &format!("Extra Account {i}"),
            1,
            true,
        )
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_accounts() {
        let a = seed(2);
        assert_eq!(a.len(), 5);
        assert_eq!(a[3].id(), "act_2000000001");
        assert_eq!(a[0].to_json()["tos_accepted"]["custom_audience_tos"], 1);
        assert_eq!(a[1].to_json()["tos_accepted"], json!({}));
        assert!(!a[2].is_active());
        assert!(a[0].to_json().keys().all(|k| FIELDS.contains(&k.as_str())));
    }
}
