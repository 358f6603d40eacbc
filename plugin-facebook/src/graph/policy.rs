//! Facebook's audience-integrity policy: names suggesting health conditions or financial
//! status get an audience flagged (`operation_status` 471), after which uploads are blocked.

/// Word stems Facebook's integrity review is known to flag in audience names.
const SENSITIVE_STEMS: &[&str] = &[
    // health
    "diabet",
    "cancer",
    "hiv",
    "aids",
    "pregnan",
    "depress",
    "anxiety",
    "disease",
    "illness",
    "medical",
    "patient",
    "therapy",
    "obes",
    "weight loss",
    "disabilit",
    "addict",
    "rehab",
    // finance
    "debt",
    "loan",
    "bankrupt",
    "credit score",
    "mortgage",
    "insolven",
    "low income",
    "payday",
];

/// The first sensitive stem found in `text`, case-insensitively.
pub fn sensitive_word(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    SENSITIVE_STEMS
        .iter()
        .copied()
        .find(|stem| lower.contains(stem))
}

/// The `operation_status` code of an audience flagged by the integrity review.
pub const FLAGGED_OPERATION_STATUS: i64 = 471;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_health_and_finance_words() {
        assert_eq!(sensitive_word("VIP Diabetes club"), Some("diabet"));
        assert_eq!(sensitive_word("Debt relief leads"), Some("debt"));
        assert_eq!(sensitive_word("VIP buyers {date}"), None);
    }
}
