//! The fixture segment `audex plugin check` exports: deterministic, messy rows of e-mails,
//! phone numbers (with a country column) and mobile advertiser ids, a share of them invalid,
//! empty or missing, and what a conformant plugin may send for each of them.
//!
//! Every valid value is generated from its normalized form, so the expected SHA-256 digests
//! are known without running any normalizer: e-mails trimmed and lower-cased, phone numbers as
//! E.164 digits (with or without the `+`), advertiser ids trimmed and lower-cased.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field as ArrowField, Schema};
use sha2::{Digest, Sha256};

/// The fixture's columns, which are also the field names a plan may ask for.
pub const COLUMNS: &[&str] = &["email", "phone", "country", "madid"];

/// The seed of the generator: the fixture is the same on every run.
const SEED: u64 = 0x00a0_de70_c4ec;

/// An identifier field of the fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// E-mail address.
    Email,
    /// Phone number.
    Phone,
    /// Mobile advertiser id.
    Madid,
}

impl Field {
    /// The field's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Madid => "madid",
        }
    }

    /// The field in words, for messages.
    pub fn words(self) -> &'static str {
        match self {
            Field::Email => "e-mail",
            Field::Phone => "phone number",
            Field::Madid => "mobile advertiser id",
        }
    }

    /// The field called `name`, if it is an identifier of the fixture.
    pub fn from_name(name: &str) -> Option<Field> {
        match name {
            "email" => Some(Field::Email),
            "phone" => Some(Field::Phone),
            "madid" => Some(Field::Madid),
            _ => None,
        }
    }
}

/// What a 64-hex digest found in a request is the SHA-256 of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestKind {
    /// A valid value, normalized: what a conformant plugin sends.
    Normalized,
    /// A valid value as given (untrimmed, mixed case, national format): not normalized first.
    AsGiven,
    /// An invalid value, normalized: a plugin may choose to accept it.
    Invalid,
    /// The empty string: empty values must be rejected, never hashed.
    Empty,
}

/// A digest the fixture can explain.
#[derive(Debug, Clone, Copy)]
pub struct DigestOf {
    /// The field of the value.
    pub field: Field,
    /// The row (0-based).
    pub row: usize,
    /// What kind of value it is the digest of.
    pub kind: DigestKind,
}

/// One fixture row, as given to the plugin.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// `email`.
    pub email: Option<String>,
    /// `phone`.
    pub phone: Option<String>,
    /// `country` (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// `madid`.
    pub madid: Option<String>,
}

/// The fixture segment and what may come out of it.
#[derive(Debug, Default)]
pub struct Fixture {
    /// The rows.
    pub rows: Vec<Row>,
    /// Lower-case hex digest -> what it is the digest of.
    pub digests: HashMap<String, DigestOf>,
    /// The first 16 characters of every normalized digest -> the full digests (to spot
    /// truncated ones).
    pub prefixes: HashMap<String, Vec<String>>,
    /// Valid e-mails, trimmed and lower-cased -> row.
    pub emails: HashMap<String, usize>,
    /// The digits of valid phone numbers in every form they could be written (E.164, national
    /// significant number, national with trunk prefix, as given) -> row.
    pub phones: HashMap<String, usize>,
    /// Valid advertiser ids, lower-cased -> row.
    pub madids: HashMap<String, usize>,
    /// Valid values per field.
    pub valid: HashMap<Field, u64>,
}

/// SHA-256, lower-case hex.
pub fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SplitMix64: tiny, and stable across dependency upgrades.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "mary", "john", "aisha", "li", "sofia", "lucas", "emma", "noah", "yuki", "priya",
];
const LAST: &[&str] = &[
    "smith", "garcia", "dubois", "tanaka", "patel", "silva", "brown", "kim", "rossi", "nguyen",
];
// No gmail.com: some destinations normalize its addresses further (dots, `+tags`).
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example.co.uk",
];
const BAD_EMAILS: &[&str] = &[
    "not-an-email",
    "mary@@example.com",
    "@example.com",
    "bob@",
    "john smith@example.com",
    "n/a",
];
const BAD_PHONES: &[&str] = &[
    "12345",
    "555-CALL-NOW",
    "000",
    "n/a",
    "+1 (000) 000-0000",
    "99999999999999999",
];
const BAD_MADIDS: &[&str] = &[
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "6D92078A-8246-4BA4-AE5B",
    "12345",
];
const US_AREAS: &[&str] = &[
    "201", "212", "305", "312", "415", "617", "646", "650", "702", "713",
];

fn digits_of(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

impl Fixture {
    /// Generates `rows` rows.
    pub fn generate(rows: usize) -> Fixture {
        let mut rng = Rng(SEED);
        let mut f = Fixture::default();
        f.add_digest("", Field::Email, 0, DigestKind::Empty);
        for i in 0..rows {
            let email = f.email(&mut rng, i);
            let (phone, country) = f.phone(&mut rng, i);
            let madid = f.madid(&mut rng, i);
            f.rows.push(Row {
                email,
                phone,
                country,
                madid,
            });
        }
        for digest in f
            .digests
            .iter()
            .filter(|(_, d)| d.kind == DigestKind::Normalized)
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>()
        {
            f.prefixes
                .entry(digest[..16].to_owned())
                .or_default()
                .push(digest);
        }
        f
    }

    fn add_digest(&mut self, value: &str, field: Field, row: usize, kind: DigestKind) {
        // A normalized value wins over the same text seen as another kind.
        let entry = self
            .digests
            .entry(sha256_hex(value))
            .or_insert(DigestOf { field, row, kind });
        if kind == DigestKind::Normalized {
            *entry = DigestOf { field, row, kind };
        }
    }

    fn valid(&mut self, field: Field, normalized: &str, given: &str, row: usize) {
        *self.valid.entry(field).or_default() += 1;
        self.add_digest(normalized, field, row, DigestKind::Normalized);
        for variant in [given, given.trim()] {
            if variant != normalized {
                self.add_digest(variant, field, row, DigestKind::AsGiven);
            }
        }
    }

    fn email(&mut self, rng: &mut Rng, i: usize) -> Option<String> {
        let roll = rng.below(100);
        if roll < 4 {
            return None;
        }
        if roll < 8 {
            return Some("   ".to_owned());
        }
        if roll < 18 {
            let bad = rng.pick(BAD_EMAILS);
            self.add_digest(
                &bad.trim().to_lowercase(),
                Field::Email,
                i,
                DigestKind::Invalid,
            );
            return Some(bad.to_owned());
        }
        let normalized = format!(
            "{}.{}{i}@{}",
            rng.pick(FIRST),
            rng.pick(LAST),
            rng.pick(DOMAINS)
        );
        let given = match rng.below(4) {
            0 => normalized.clone(),
            1 => normalized.to_uppercase(),
            2 => {
                let mut chars: Vec<char> = normalized.chars().collect();
                chars[0] = chars[0].to_ascii_uppercase();
                format!("  {}", chars.into_iter().collect::<String>())
            }
            _ => format!(" {}\t", normalized.replace("example", "Example")),
        };
        self.valid(Field::Email, &normalized, &given, i);
        self.emails.insert(normalized, i);
        Some(given)
    }

    fn phone(&mut self, rng: &mut Rng, i: usize) -> (Option<String>, Option<String>) {
        let roll = rng.below(100);
        if roll < 4 {
            return (None, None);
        }
        if roll < 7 {
            return (Some(String::new()), Some("US".to_owned()));
        }
        if roll < 17 {
            let bad = rng.pick(BAD_PHONES);
            let digits = digits_of(bad);
            self.add_digest(&digits, Field::Phone, i, DigestKind::Invalid);
            self.add_digest(&format!("+{digits}"), Field::Phone, i, DigestKind::Invalid);
            return (Some(bad.to_owned()), Some("US".to_owned()));
        }
        let international = rng.below(2) == 0;
        // Numbers are unique per row (the row number is in them), so a digest tells its row.
        let n = i as u64;
        // (country, calling code, national significant number, as written nationally)
        let (country, code, nsn, national) = match rng.below(4) {
            0 => {
                let area = rng.pick(US_AREAS);
                let k = n / 10_000;
                let exchange = format!("{}{}{}", 2 + (k / 80) % 8, (k / 8) % 10, 2 + k % 8);
                let line = format!("{:04}", n % 10_000);
                let nsn = format!("{area}{exchange}{line}");
                let national = if rng.below(2) == 0 {
                    format!("{area}.{exchange}.{line}")
                } else {
                    format!("({area}) {exchange}-{line}")
                };
                ("US", "1", nsn, national)
            }
            1 => {
                let rest = format!("{:06}", n % 1_000_000);
                ("GB", "44", format!("7400{rest}"), format!("07400 {rest}"))
            }
            2 => {
                let rest = format!("{:08}", n);
                ("DE", "49", format!("151{rest}"), format!("0151 {rest}"))
            }
            _ => {
                let d = format!("{:08}", n);
                let spaced = format!("{} {} {} {}", &d[..2], &d[2..4], &d[4..6], &d[6..]);
                ("FR", "33", format!("6{d}"), format!("06 {spaced}"))
            }
        };
        let given = if international {
            let grouped: String = nsn
                .chars()
                .enumerate()
                .flat_map(|(k, c)| (k > 0 && k % 3 == 0).then_some(' ').into_iter().chain([c]))
                .collect();
            format!("+{code} {grouped}")
        } else {
            national.clone()
        };
        let country_column = if international && rng.below(2) == 0 {
            None
        } else {
            Some(country.to_owned())
        };
        let e164 = format!("{code}{nsn}");
        self.valid(Field::Phone, &e164, &given, i);
        self.add_digest(&format!("+{e164}"), Field::Phone, i, DigestKind::Normalized);
        let national_digits = digits_of(&national);
        if national_digits != e164 {
            self.add_digest(&national_digits, Field::Phone, i, DigestKind::AsGiven);
        }
        for form in [e164, nsn, national_digits, digits_of(&given)] {
            self.phones.insert(form, i);
        }
        (Some(given), country_column)
    }

    fn madid(&mut self, rng: &mut Rng, i: usize) -> Option<String> {
        let roll = rng.below(100);
        if roll < 4 {
            return None;
        }
        if roll < 7 {
            return Some(String::new());
        }
        if roll < 15 {
            let bad = rng.pick(BAD_MADIDS);
            self.add_digest(&bad.to_lowercase(), Field::Madid, i, DigestKind::Invalid);
            return Some(bad.to_owned());
        }
        let hex = format!("{:016x}{:016x}", rng.next(), rng.next());
        let normalized = plugin_facebook::normalize::vocabulary::uuid_v4_from_hex(&hex);
        let given = if rng.below(2) == 0 {
            normalized.to_uppercase()
        } else {
            normalized.clone()
        };
        self.valid(Field::Madid, &normalized, &given, i);
        self.madids.insert(normalized, i);
        Some(given)
    }

    /// Writes the fixture as a Parquet file with Utf8 columns [`COLUMNS`].
    pub fn write_parquet(&self, path: &Path) -> Result<(), String> {
        let schema = Arc::new(Schema::new(
            COLUMNS
                .iter()
                .map(|c| ArrowField::new(*c, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let column = |get: fn(&Row) -> &Option<String>| -> ArrayRef {
            Arc::new(StringArray::from(
                self.rows
                    .iter()
                    .map(|r| get(r).as_deref())
                    .collect::<Vec<_>>(),
            ))
        };
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                column(|r| &r.email),
                column(|r| &r.phone),
                column(|r| &r.country),
                column(|r| &r.madid),
            ],
        )
        .map_err(|e| e.to_string())?;
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(file, schema, None).map_err(|e| e.to_string())?;
        writer.write(&batch).map_err(|e| e.to_string())?;
        writer.close().map_err(|e| e.to_string())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_deterministic_and_knows_its_digests() {
        let a = Fixture::generate(500);
        let b = Fixture::generate(500);
        assert_eq!(a.rows.len(), 500);
        assert_eq!(
            a.rows.iter().map(|r| r.email.clone()).collect::<Vec<_>>(),
            b.rows.iter().map(|r| r.email.clone()).collect::<Vec<_>>()
        );
        // Every field has valid and invalid values.
        for field in [Field::Email, Field::Phone, Field::Madid] {
            let valid = a.valid[&field];
            assert!(valid > 300 && valid < 480, "{field:?}: {valid}");
        }
        // A valid, messy e-mail: its normalized digest is expected, its raw digest is not.
        let (row, given) = a
            .rows
            .iter()
            .enumerate()
            .find_map(|(i, r)| {
                r.email
                    .clone()
                    .filter(|e| e.starts_with("  "))
                    .map(|e| (i, e))
            })
            .expect("a padded e-mail");
        let normalized = given.trim().to_lowercase();
        assert_eq!(a.emails[&normalized], row);
        let d = a.digests[&sha256_hex(&normalized)];
        assert_eq!(
            (d.field, d.row, d.kind),
            (Field::Email, row, DigestKind::Normalized)
        );
        assert_eq!(a.digests[&sha256_hex(&given)].kind, DigestKind::AsGiven);
        assert_eq!(a.digests[&sha256_hex("")].kind, DigestKind::Empty);
        // Phones: E.164 digits with and without `+` both count as normalized.
        let (row, phone) = a
            .rows
            .iter()
            .enumerate()
            .find_map(|(i, r)| {
                r.phone
                    .clone()
                    .filter(|p| p.starts_with("+44"))
                    .map(|p| (i, p))
            })
            .expect("a UK number");
        let e164 = digits_of(&phone);
        assert!(e164.starts_with("447400") && e164.len() == 12, "{phone}");
        assert_eq!(a.digests[&sha256_hex(&e164)].row, row);
        assert_eq!(
            a.digests[&sha256_hex(&format!("+{e164}"))].kind,
            DigestKind::Normalized
        );
        assert_eq!(a.phones[&e164], row);
        // Every valid value is its row's own: a digest tells its row.
        for field in [Field::Email, Field::Phone, Field::Madid] {
            let rows: std::collections::HashSet<usize> = a
                .digests
                .values()
                .filter(|d| d.field == field && d.kind == DigestKind::Normalized)
                .map(|d| d.row)
                .collect();
            assert_eq!(rows.len() as u64, a.valid[&field], "{field:?}");
        }
        let big = Fixture::generate(20_000);
        let phones = big
            .digests
            .values()
            .filter(|d| d.field == Field::Phone && d.kind == DigestKind::Normalized)
            .count() as u64;
        assert_eq!(
            phones,
            2 * big.valid[&Field::Phone],
            "with and without `+`, no collision"
        );
    }

    #[test]
    fn writes_parquet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.parquet");
        Fixture::generate(50).write_parquet(&path).expect("written");
        assert!(std::fs::metadata(&path).expect("file").len() > 100);
    }
}
