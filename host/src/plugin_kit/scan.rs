//! What `audex plugin check` reads in a plugin's requests: fixture identifiers sent raw,
//! digests that are not 64 lowercase hex characters of a normalized fixture value, and how
//! many fixture rows each request carries.
//!
//! The requests are the plugin's own, as the mediator prepared them: credentials the host
//! adds on the way out (bearer tokens, HMAC proofs and signatures) are not part of them.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::fixture::{DigestKind, Field, Fixture};
use crate::http::{PreparedRequest, QueryValue};

/// Problems kept per check, beyond which only the count grows.
const EXAMPLES: usize = 3;

/// Findings of one kind: the first few, and how many in all.
#[derive(Debug, Default)]
pub struct Findings {
    /// The first [`EXAMPLES`] messages.
    pub examples: Vec<String>,
    /// How many in all.
    pub count: usize,
    /// Requests with at least one.
    pub requests: BTreeSet<usize>,
}

impl Findings {
    fn add(&mut self, request: usize, message: impl FnOnce() -> String) {
        self.count += 1;
        self.requests.insert(request);
        if self.examples.len() < EXAMPLES {
            self.examples.push(message());
        }
    }

    /// One line: the examples, and the totals when there are more.
    pub fn summary(&self) -> String {
        let mut s = self.examples.join("; ");
        if self.count > self.examples.len() {
            s.push_str(&format!(
                "; {} in all, in {} request(s)",
                self.count,
                self.requests.len()
            ));
        }
        s
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// The result of reading every request.
#[derive(Debug, Default)]
pub struct Scan {
    /// Fixture e-mails and phone numbers sent as they are.
    pub raw: Findings,
    /// Digests in the wrong form: upper-case, truncated, of un-normalized or empty values,
    /// or of nothing the fixture holds.
    pub bad_digests: Findings,
    /// Normalized digests seen, per field.
    pub digests_seen: BTreeMap<Field, u64>,
    /// Valid advertiser ids seen as they are (some destinations want them unhashed).
    pub madids_seen: u64,
    /// The most fixture rows one request carried, and that request's label.
    pub largest: Option<(u64, String)>,
}

/// How a request is named in messages: `request 3 (POST api /v1/upload)`.
pub fn label(index: usize, r: &PreparedRequest) -> String {
    format!(
        "request {} ({} {} {})",
        index + 1,
        r.method.as_str(),
        r.endpoint,
        r.path
    )
}

/// Reads every request.
pub fn scan(requests: &[PreparedRequest], fixture: &Fixture) -> Scan {
    let mut scan = Scan::default();
    for (index, request) in requests.iter().enumerate() {
        scan_request(&mut scan, index, request, fixture);
    }
    scan
}

/// The parts of a request as text, each with its name for messages.
fn parts(r: &PreparedRequest) -> Vec<(&'static str, String)> {
    let mut parts = vec![("path", r.path.clone())];
    let query: Vec<String> = r
        .query
        .iter()
        .filter_map(|(name, value)| match value {
            QueryValue::Plain(v) => Some(format!("{name}={v}")),
            QueryValue::Secret(_) => None,
        })
        .collect();
    if !query.is_empty() {
        parts.push(("query", query.join("&")));
    }
    let headers: Vec<String> = r.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    if !headers.is_empty() {
        parts.push(("headers", headers.join("\n")));
    }
    if let Some(body) = &r.body {
        parts.push(("body", String::from_utf8_lossy(body).into_owned()));
    }
    parts
}

fn scan_request(scan: &mut Scan, index: usize, request: &PreparedRequest, fixture: &Fixture) {
    let label = label(index, request);
    // The fixture rows the request carries, told by the digests and ids it holds.
    let mut rows: HashSet<usize> = HashSet::new();
    let mut raw_seen: BTreeSet<(Field, usize)> = BTreeSet::new();
    for (part, text) in parts(request) {
        // Digests and advertiser ids are counted in the text as sent.
        for run in hex_runs(&text) {
            check_hex_run(scan, index, &label, part, run, fixture, &mut rows);
        }
        for token in runs(&text, |c| c.is_ascii_hexdigit() || c == '-') {
            if token.len() == 36
                && let Some(row) = fixture.madids.get(&token.to_ascii_lowercase())
            {
                scan.madids_seen += 1;
                rows.insert(*row);
            }
        }
        // Raw identifiers also hide behind percent-encoding and JSON escapes.
        let mut texts = vec![text.clone()];
        let decoded = percent_decode(&text);
        if decoded != text {
            texts.push(decoded);
        }
        if part == "body"
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
        {
            let mut strings = Vec::new();
            json_strings(&json, &mut strings);
            texts.push(strings.join("\n"));
        }
        for t in &texts {
            for (field, row, value) in raw_identifiers(t, fixture) {
                if raw_seen.insert((field, row)) {
                    scan.raw.add(index, || {
                        format!(
                            "{label}, {part}: the {} of fixture row {row} (`{value}`) unhashed",
                            field.words()
                        )
                    });
                }
            }
        }
    }
    let carried = rows.len() as u64;
    if carried > 0 && scan.largest.as_ref().is_none_or(|(n, _)| carried > *n) {
        scan.largest = Some((carried, label));
    }
}

fn check_hex_run(
    scan: &mut Scan,
    index: usize,
    label: &str,
    part: &str,
    run: &str,
    fixture: &Fixture,
    rows: &mut HashSet<usize>,
) {
    let lower = run.to_ascii_lowercase();
    let short = |s: &str| format!("{}…", &s[..s.len().min(16)]);
    if run.len() == 64 {
        let known = fixture.digests.get(&lower);
        if run != lower {
            scan.bad_digests.add(index, || match known {
                Some(d) => format!(
                    "{label}, {part}: `{}` is the SHA-256 of fixture row {}'s {} in upper-case hex; digests must be 64 lowercase hex characters",
                    short(run),
                    d.row,
                    d.field.words()
                ),
                None => format!(
                    "{label}, {part}: `{}` has upper-case hex digits; digests must be 64 lowercase hex characters",
                    short(run)
                ),
            });
            if let Some(d) = known.filter(|d| d.kind != DigestKind::Empty) {
                rows.insert(d.row);
            }
            return;
        }
        match known {
            Some(d) => {
                if d.kind != DigestKind::Empty {
                    rows.insert(d.row);
                }
                match d.kind {
                    DigestKind::Normalized => {
                        *scan.digests_seen.entry(d.field).or_default() += 1;
                    }
                    DigestKind::Invalid => {}
                    DigestKind::AsGiven => scan.bad_digests.add(index, || {
                        format!(
                            "{label}, {part}: `{}` is the SHA-256 of fixture row {}'s {} as given, not normalized first",
                            short(run),
                            d.row,
                            d.field.words()
                        )
                    }),
                    DigestKind::Empty => scan.bad_digests.add(index, || {
                        format!(
                            "{label}, {part}: `{}` is the SHA-256 of an empty string; empty values must be rejected, not hashed",
                            short(run)
                        )
                    }),
                }
            }
            None => scan.bad_digests.add(index, || {
                format!(
                    "{label}, {part}: `{}` is 64 hex characters but not the SHA-256 of any normalized fixture value",
                    short(run)
                )
            }),
        }
        return;
    }
    if run.len() >= 16 {
        let truncated = fixture.prefixes.get(&lower[..16]).and_then(|digests| {
            digests
                .iter()
                .find(|d| d.starts_with(&lower[..lower.len().min(64)]))
        });
        if let Some(full) = truncated {
            let d = fixture.digests[full];
            scan.bad_digests.add(index, || {
                if run.len() > 64 {
                    format!(
                        "{label}, {part}: a run of {} hex characters starts with the SHA-256 of fixture row {}'s {}; digests must stand alone, 64 characters long",
                        run.len(),
                        d.row,
                        d.field.words()
                    )
                } else {
                    format!(
                        "{label}, {part}: `{}` ({} hex characters) is a truncated SHA-256 of fixture row {}'s {}; digests must be 64 characters long",
                        short(run),
                        run.len(),
                        d.row,
                        d.field.words()
                    )
                }
            });
            rows.insert(d.row);
        }
    }
}

/// Maximal runs of hex digits.
fn hex_runs(text: &str) -> impl Iterator<Item = &str> {
    runs(text, |c| c.is_ascii_hexdigit())
}

/// Maximal runs of characters matching `keep`.
fn runs(text: &str, keep: impl Fn(char) -> bool) -> impl Iterator<Item = &str> {
    text.split(move |c: char| !keep(c))
        .filter(|s| !s.is_empty())
}

/// Fixture e-mails and phone numbers in `text`: (field, row, value as found).
fn raw_identifiers(text: &str, fixture: &Fixture) -> Vec<(Field, usize, String)> {
    let mut found = Vec::new();
    let email_char = |c: char| c.is_ascii_alphanumeric() || "._%+-@'".contains(c);
    for token in runs(text, email_char).filter(|t| t.contains('@')) {
        let lower = token.trim_matches(['.', '\'']).to_ascii_lowercase();
        if let Some(row) = fixture.emails.get(&lower) {
            found.push((Field::Email, *row, token.to_owned()));
        }
    }
    // Phone numbers: runs of digits and the usual separators, standing alone (not inside a
    // longer alphanumeric token such as a digest).
    let bytes = text.as_bytes();
    let phone_char = |c: char| c.is_ascii_digit() || " +-().".contains(c);
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), '\0')]) {
        let inside = i < text.len() && phone_char(c);
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                start = None;
                let before = s.checked_sub(1).map(|p| bytes[p]);
                let after = bytes.get(i).copied();
                let alone = !before.is_some_and(|b| b.is_ascii_alphanumeric())
                    && !after.is_some_and(|b| b.is_ascii_alphanumeric());
                let digits: String = text[s..i].chars().filter(char::is_ascii_digit).collect();
                if alone
                    && digits.len() >= 9
                    && let Some(row) = fixture.phones.get(&digits)
                {
                    found.push((Field::Phone, *row, text[s..i].trim().to_owned()));
                }
            }
            _ => {}
        }
    }
    found
}

/// Every string (keys and values) in a JSON document.
fn json_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                json_strings(v, out);
            }
        }
        _ => {}
    }
}

/// `%XX` sequences decoded (invalid ones kept as they are), lossily as UTF-8.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::mediator::Method;
    use crate::plugin_kit::fixture::sha256_hex;

    fn request(path: &str, body: &str) -> PreparedRequest {
        PreparedRequest {
            method: Method::Post,
            endpoint: "api".into(),
            base_url: "http://check.invalid".into(),
            path: path.into(),
            query: vec![],
            headers: vec![],
            body: Some(body.as_bytes().to_vec()),
            authenticate: true,
            idempotent: true,
        }
    }

    fn valid(fixture: &Fixture, field: Field) -> (usize, String) {
        let map = match field {
            Field::Email => &fixture.emails,
            Field::Phone => &fixture.phones,
            Field::Madid => &fixture.madids,
        };
        let (value, row) = map.iter().min_by_key(|(_, r)| **r).expect("a value");
        (*row, value.clone())
    }

    #[test]
    fn conformant_requests_pass_and_rows_are_counted() {
        let f = Fixture::generate(200);
        let (email_row, email) = valid(&f, Field::Email);
        let (madid_row, madid) = valid(&f, Field::Madid);
        let body = format!(
            r#"{{"session":{{"session_id":9223372036854775807,"batch_seq":1}},"data":["{}","{}"],"madids":["{madid}"]}}"#,
            sha256_hex(&email),
            sha256_hex("some.other@example.com")
        );
        let s = scan(&[request("/v1/act_1/users", &body)], &f);
        assert!(s.raw.is_empty(), "{}", s.raw.summary());
        // The second digest is of nothing in the fixture.
        assert_eq!(s.bad_digests.count, 1, "{}", s.bad_digests.summary());
        assert!(
            s.bad_digests
                .summary()
                .contains("not the SHA-256 of any normalized fixture value")
        );
        assert_eq!(s.digests_seen[&Field::Email], 1);
        assert_eq!(s.madids_seen, 1);
        // Rows are told by the values they carry: one e-mail, one advertiser id.
        let rows = BTreeSet::from([email_row, madid_row]).len() as u64;
        assert_eq!(s.largest.as_ref().map(|(n, _)| *n), Some(rows));
    }

    #[test]
    fn finds_raw_identifiers_wherever_they_hide() {
        let f = Fixture::generate(200);
        let (row, email) = valid(&f, Field::Email);
        let encoded = email.replace('@', "%40");
        let escaped = email.replace('@', "\\u0040");
        let (prow, _) = valid(&f, Field::Phone);
        let phone = f.rows[prow].phone.clone().expect("phone");
        for (path, body) in [
            (
                "/x".to_owned(),
                format!(r#"{{"e":"{}"}}"#, email.to_uppercase()),
            ),
            (format!("/users/{encoded}"), "{}".to_owned()),
            ("/x".to_owned(), format!(r#"{{"e":"{escaped}"}}"#)),
        ] {
            let s = scan(&[request(&path, &body)], &f);
            assert_eq!(s.raw.count, 1, "{path} {body}");
            assert!(
                s.raw.summary().contains(&format!("fixture row {row}")),
                "{}",
                s.raw.summary()
            );
        }
        let s = scan(&[request("/x", &format!(r#"{{"p":"{phone}"}}"#))], &f);
        assert_eq!(s.raw.count, 1, "{phone}");
        assert!(
            s.raw.summary().contains("phone number"),
            "{}",
            s.raw.summary()
        );
        // Digits inside a longer token (a digest, an id) are not a phone number.
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        let s = scan(&[request("/x", &format!(r#"{{"p":"ab{digits}cd"}}"#))], &f);
        assert!(s.raw.is_empty());
    }

    #[test]
    fn flags_upper_case_truncated_unnormalized_and_empty_digests() {
        let f = Fixture::generate(200);
        let (row, email) = valid(&f, Field::Email);
        let digest = sha256_hex(&email);
        let given = f.rows[f
            .rows
            .iter()
            .position(|r| r.email.as_deref().is_some_and(|e| e != e.trim()))
            .expect("padded")]
        .email
        .clone()
        .expect("email");
        for (body, expected) in [
            (digest.to_uppercase(), "upper-case hex".to_owned()),
            (
                digest[..32].to_owned(),
                format!("truncated SHA-256 of fixture row {row}'s e-mail"),
            ),
            (
                sha256_hex(&given),
                "as given, not normalized first".to_owned(),
            ),
            (sha256_hex(""), "empty string".to_owned()),
            (format!("{digest}{digest}"), "must stand alone".to_owned()),
        ] {
            let s = scan(&[request("/x", &format!(r#"["{body}"]"#))], &f);
            assert_eq!(s.bad_digests.count, 1, "{body}");
            assert!(
                s.bad_digests.summary().contains(&expected),
                "{}",
                s.bad_digests.summary()
            );
        }
    }

    #[test]
    fn percent_decoding_keeps_invalid_sequences() {
        assert_eq!(percent_decode("a%40b%zz%4"), "a@b%zz%4");
    }
}
