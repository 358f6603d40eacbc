//! A generator of realistic, messy customer segments: mixed-case and padded e-mails, phone
//! numbers written every way people write them in eight countries, mobile advertiser ids,
//! and a share of invalid, empty and pre-hashed values. It makes the quick start's sample
//! data, the large inputs of the memory test, and benchmark data.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use plugin_facebook::normalize::vocabulary::{
    DOMAINS, FIRST, JUNK_EMAILS, JUNK_MADIDS, JUNK_PHONES, LAST,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Output format of the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// CSV with a header.
    Csv,
    /// Parquet, zstd-compressed.
    Parquet,
}

/// Generator settings.
#[derive(Debug, Clone)]
pub struct SampleSpec {
    /// Rows to write.
    pub rows: u64,
    /// Random seed: the same seed gives the same file.
    pub seed: u64,
    /// Share of deliberately invalid values per column, 0.0 to 1.0.
    pub invalid_share: f64,
}

const ZERO_IDFA: &str = "00000000-0000-0000-0000-000000000000";

/// Rows generated per record batch.
const CHUNK: u64 = 65_536;

/// The schema of generated files.
pub fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("email_address", DataType::Utf8, true),
        Field::new("phone_number", DataType::Utf8, true),
        Field::new("country_code", DataType::Utf8, true),
        Field::new("mobile_ad_id", DataType::Utf8, true),
    ]))
}

/// Generates `spec.rows` rows as record batches of up to 65,536 rows, handing each to `sink`.
pub fn generate(
    spec: &SampleSpec,
    mut sink: impl FnMut(RecordBatch) -> Result<(), String>,
) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut start = 0;
    while start < spec.rows {
        let n = CHUNK.min(spec.rows - start);
        let mut ids = Vec::with_capacity(n as usize);
        let mut emails = Vec::with_capacity(n as usize);
        let mut phones = Vec::with_capacity(n as usize);
        let mut countries = Vec::with_capacity(n as usize);
        let mut madids = Vec::with_capacity(n as usize);
        for i in start..start + n {
            ids.push(i as i64 + 1);
            emails.push(email(&mut rng, spec.invalid_share));
            let (phone, country) = phone(&mut rng, spec.invalid_share);
            phones.push(phone);
            countries.push(country);
            madids.push(madid(&mut rng, spec.invalid_share));
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(emails)),
            Arc::new(StringArray::from(phones)),
            Arc::new(StringArray::from(countries)),
            Arc::new(StringArray::from(madids)),
        ];
        sink(RecordBatch::try_new(schema(), columns).map_err(|e| e.to_string())?)?;
        start += n;
    }
    Ok(())
}

/// Writes a sample file.
pub fn write(path: &Path, format: SampleFormat, spec: &SampleSpec) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match format {
        SampleFormat::Csv => {
            let mut writer = arrow_csv::Writer::new(std::io::BufWriter::new(file));
            generate(spec, |b| writer.write(&b).map_err(|e| e.to_string()))
        }
        SampleFormat::Parquet => {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                .set_max_row_group_row_count(Some(256 * 1024))
                .build();
            let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema(), Some(props))
                .map_err(|e| e.to_string())?;
            generate(spec, |b| writer.write(&b).map_err(|e| e.to_string()))?;
            writer.close().map_err(|e| e.to_string())?;
            Ok(())
        }
    }
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn email(rng: &mut StdRng, invalid: f64) -> Option<String> {
    let roll: f64 = rng.random();
    if roll < 0.02 {
        return if rng.random_bool(0.5) {
            None
        } else {
            Some("   ".to_owned())
        };
    }
    if roll < 0.02 + invalid {
        return Some(pick(rng, JUNK_EMAILS).to_owned());
    }
    let first = pick(rng, FIRST);
    let last = pick(rng, LAST);
    let mut address = match rng.random_range(0..4) {
        0 => format!("{first}.{last}@{}", pick(rng, DOMAINS)),
        1 => format!(
            "{first}{}@{}",
            rng.random_range(1..9999),
            pick(rng, DOMAINS)
        ),
        2 => format!("{}{last}+news@{}", &first[..1], pick(rng, DOMAINS)),
        _ => format!(
            "{last}_{first}{}@{}",
            rng.random_range(10..99),
            pick(rng, DOMAINS)
        ),
    };
    if roll > 0.99 {
        // Already hashed upstream, upper-case hex: must pass through, never hashed twice.
        return Some(hex_upper(&sha2_digest(address.as_bytes())));
    }
    if rng.random_bool(0.3) {
        address = address.to_uppercase();
    } else if rng.random_bool(0.2) {
        let mut chars: Vec<char> = address.chars().collect();
        chars[0] = chars[0].to_ascii_uppercase();
        address = chars.into_iter().collect();
    }
    if rng.random_bool(0.15) {
        address = format!("  {address}\t");
    }
    Some(address)
}

fn digits(rng: &mut StdRng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

fn phone(rng: &mut StdRng, invalid: f64) -> (Option<String>, Option<String>) {
    let roll: f64 = rng.random();
    if roll < 0.02 {
        return (None, None);
    }
    if roll < 0.02 + invalid {
        return (
            Some(pick(rng, JUNK_PHONES).to_owned()),
            Some("US".to_owned()),
        );
    }
    let country = match rng.random_range(0..100) {
        0..40 => "US",
        40..55 => "GB",
        55..65 => "DE",
        65..75 => "FR",
        75..83 => "IN",
        83..90 => "BR",
        90..95 => "AU",
        _ => "JP",
    };
    let style = rng.random_range(0..3);
    let number = match country {
        "US" => {
            let area = pick(
                rng,
                &[
                    "201", "212", "305", "312", "415", "617", "646", "650", "702", "713",
                ],
            );
            let exchange = format!(
                "{}{}",
                rng.random_range(2..10),
                digits(rng, 1) + &rng.random_range(2..10).to_string()
            );
            let line = digits(rng, 4);
            match style {
                0 => format!("+1 ({area}) {exchange}-{line}"),
                1 => format!("{area}.{exchange}.{line}"),
                _ => format!("1-{area}-{exchange}-{line}"),
            }
        }
        "GB" => {
            let rest = digits(rng, 6);
            match style {
                0 => format!("+44 (0)20 7{} {}", &rest[..3], &rest[3..]) + &digits(rng, 1),
                1 => format!("07400 {rest}"),
                _ => format!("0044 7400 {rest}"),
            }
        }
        "DE" => match style {
            0 => format!("+49 30 {}", digits(rng, 8)),
            1 => format!("0151 {}", digits(rng, 8)),
            _ => format!("(030) {}-{}", digits(rng, 4), digits(rng, 4)),
        },
        "FR" => {
            let d = digits(rng, 8);
            match style {
                0 => format!("+33 1 {} {} {} {}", &d[..2], &d[2..4], &d[4..6], &d[6..]),
                1 => format!(
                    "06.{}{}.{}.{}.{}",
                    rng.random_range(1..10),
                    &d[1..2],
                    &d[2..4],
                    &d[4..6],
                    &d[6..]
                ),
                _ => format!("01 {} {} {} {}", &d[..2], &d[2..4], &d[4..6], &d[6..]),
            }
        }
        "IN" => match style {
            0 => format!("+91 98{} {}", digits(rng, 3), digits(rng, 5)),
            _ => format!("098{}{}", digits(rng, 3), digits(rng, 5)),
        },
        "BR" => format!("+55 (11) 9{}-{}", digits(rng, 4), digits(rng, 4)),
        "AU" => match style {
            0 => format!(
                "+61 41{} {} {}",
                digits(rng, 1),
                digits(rng, 3),
                digits(rng, 3)
            ),
            _ => format!(
                "041{} {} {}",
                digits(rng, 1),
                digits(rng, 3),
                digits(rng, 3)
            ),
        },
        _ => format!(
            "090-{}{}-{}",
            rng.random_range(1..10),
            digits(rng, 3),
            digits(rng, 4)
        ),
    };
    // Some rows leave the country column empty: their numbers need a `+` or the default.
    let country_column = if rng.random_bool(0.1) {
        None
    } else {
        Some(country.to_owned())
    };
    (Some(number), country_column)
}

fn madid(rng: &mut StdRng, invalid: f64) -> Option<String> {
    let roll: f64 = rng.random();
    if roll < 0.03 {
        return None;
    }
    if roll < 0.03 + invalid / 2.0 {
        return Some(pick(rng, JUNK_MADIDS).to_owned());
    }
    if roll < 0.03 + invalid {
        return Some(ZERO_IDFA.to_owned());
    }
    let bytes: [u8; 16] = rng.random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let uuid = plugin_facebook::normalize::vocabulary::uuid_v4_from_hex(&hex);
    Some(if rng.random_bool(0.5) {
        uuid.to_uppercase()
    } else {
        uuid
    })
}

fn sha2_digest(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_rows_and_exact_count() {
        let spec = SampleSpec {
            rows: 70_000,
            seed: 7,
            invalid_share: 0.05,
        };
        let mut a = Vec::new();
        generate(&spec, |b| {
            a.push(b);
            Ok(())
        })
        .expect("generate");
        let mut b = Vec::new();
        generate(&spec, |batch| {
            b.push(batch);
            Ok(())
        })
        .expect("generate");
        assert_eq!(a, b);
        assert_eq!(a.iter().map(RecordBatch::num_rows).sum::<usize>(), 70_000);
        assert_eq!(a.len(), 2);
    }
}
