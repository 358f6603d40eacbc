//! Integrity flagging: audience names suggesting health conditions or financial status get
//! `operation_status` 471 and refuse uploads (100/1713230), as Facebook does since 2025-09.

/// Words that get an audience flagged by the integrity checks (code 471). A `*` suffix matches
/// any word starting with the stem; otherwise the whole word (or phrase) must match.
const SENSITIVE_TERMS: [&str; 17] = [
    "diabet*",
    "cancer*",
    "debt*",
    "loan*",
    "bankrupt*",
    "credit score*",
    "pregnan*",
    "hiv",
    "aids",
    "mortgage*",
    "insolven*",
    "depress*",
    "disease*",
    "chemotherap*",
    "payday",
    "overdraft*",
    "std",
];

/// Whether `text` has health or financial wording that Facebook flags.
pub(crate) fn is_sensitive(text: &str) -> bool {
    let words: Vec<String> = text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let joined = format!(" {} ", words.join(" "));
    SENSITIVE_TERMS
        .iter()
        .any(|term| match term.strip_suffix('*') {
            Some(stem) => joined.contains(&format!(" {stem}")),
            None => joined.contains(&format!(" {term} ")),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_words() {
        assert!(is_sensitive("Diabetes prevention"));
        assert!(is_sensitive("people with Debts"));
        assert!(is_sensitive("bad credit score"));
        assert!(is_sensitive("HIV test"));
        assert!(!is_sensitive("archive buyers"));
        assert!(!is_sensitive("VIP buyers 2026"));
    }
}
