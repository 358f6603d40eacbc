//! Criterion benches of the `digest` import's SHA-256 of many short messages:
//!
//! ```text
//! cargo bench -p audex --bench digest
//! cargo bench -p audex --bench digest -- emails   # one group
//! ```
//!
//! One call hashes 10,000 messages (the host's batch size), laid out back to back as the
//! plugin sends them: normalized e-mail addresses of 15 to 40 bytes, and phone numbers as
//! 11 digits. Each [`Variant`] (`sha2` per message as before, the one-block SHA-NI path one
//! message at a time, then 2, 3 and 4 messages interleaved) is measured on the same batch,
//! after checking that it returns the same bytes as `sha2`; throughput is in messages per
//! second. The figures and the choice they led to are in `host/src/plugin/digest/mod.rs`.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use audex::plugin::digest::{Variant, sha256_many_with};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Messages per call, as the host batches rows.
const ROWS: usize = 10_000;

const FIRST: [&str; 12] = [
    "al",
    "mary",
    "john",
    "li",
    "first",
    "christopher",
    "ana",
    "jean-luc",
    "oluwaseun",
    "bo",
    "margaret",
    "tom",
];
const LAST: [&str; 10] = [
    "wu",
    "smith",
    "last",
    "nguyen",
    "o'neil",
    "fernandez",
    "kowalczyk",
    "ng",
    "abernathy",
    "li",
];
const DOMAINS: [&str; 8] = [
    "example.com",
    "gmail.com",
    "aol.com",
    "yahoo.co.uk",
    "outlook.com",
    "mail.example.org",
    "gmx.de",
    "icloud.com",
];

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

/// `values` back to back and their end offsets, as the plugin passes them.
fn concatenate(values: &[String]) -> (Vec<u8>, Vec<u32>) {
    let mut messages = Vec::new();
    let mut ends = Vec::with_capacity(values.len());
    for value in values {
        messages.extend_from_slice(value.as_bytes());
        ends.push(u32::try_from(messages.len()).expect("a small batch"));
    }
    (messages, ends)
}

/// Normalized addresses of 15 to 40 bytes, `first.last123@domain` and variations.
fn emails(rng: &mut StdRng) -> Vec<String> {
    let mut emails = Vec::with_capacity(ROWS);
    while emails.len() < ROWS {
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let domain = DOMAINS[rng.random_range(0..DOMAINS.len())];
        let email = match rng.random_range(0..4) {
            0 => format!("{first}.{last}@{domain}"),
            1 => format!("{first}{}@{domain}", rng.random_range(0..10_000)),
            2 => format!("{first}.{last}{}@{domain}", rng.random_range(0..100)),
            _ => format!("{}{last}@{domain}", &first[..1]),
        };
        if (15..=40).contains(&email.len()) {
            emails.push(email);
        }
    }
    emails
}

/// E.164 numbers without the `+`, as the phone kernel normalizes them: 11 digits.
fn phones(rng: &mut StdRng) -> Vec<String> {
    (0..ROWS)
        .map(|_| {
            format!(
                "1{:010}",
                rng.random_range(2_000_000_000u64..10_000_000_000)
            )
        })
        .collect()
}

fn bench_group(c: &mut Criterion, name: &str, values: &[String]) {
    let (messages, ends) = concatenate(values);
    let expected = sha256_many_with(Variant::Sha2, &messages, &ends).expect("valid offsets");
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(ends.len() as u64));
    for variant in Variant::ALL {
        // Every variant must give the same bytes, or its speed means nothing.
        let digests = sha256_many_with(variant, &messages, &ends).expect("valid offsets");
        assert!(digests == expected, "{variant:?} disagrees with sha2");
        let label = format!("{variant:?}");
        group.bench_function(label.to_lowercase(), |b| {
            b.iter(|| sha256_many_with(variant, black_box(&messages), black_box(&ends)))
        });
    }
    group.finish();
}

fn bench_digest(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1804);
    let emails = emails(&mut rng);
    let phones = phones(&mut rng);
    if !Variant::FASTEST.is_accelerated() {
        eprintln!("no SHA extensions on this CPU: every variant runs the sha2 path");
    }
    bench_group(c, "emails", &emails);
    bench_group(c, "phones", &phones);
}

criterion_group! {
    name = digest;
    config = config();
    targets = bench_digest
}
criterion_main!(digest);
