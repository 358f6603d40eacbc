//! Criterion benches of the normalization kernels, run natively:
//!
//! ```text
//! cargo bench -p plugin-facebook --bench kernels
//! cargo bench -p plugin-facebook --bench kernels -- phones   # one group
//! ```
//!
//! Every kernel runs over one batch of 10,000 messy values (the host's batch size: one
//! Facebook upload request), generated like `audex sample` does: mixed case, padding, 2 %
//! null or blank, 5 % junk, already-hashed emails, phones from eight countries in their usual
//! spellings. Throughput is reported in elements (rows) per second.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use arrow_array::StringArray;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use plugin_facebook::normalize::{
    DIGEST_WIDTH, MADID_WIDTH, NormalizedColumn, emails, madids, phones, sha256_hex,
};

// `messy` reads `super::vocabulary`, as it does inside the library.
use plugin_facebook::normalize::vocabulary;

#[path = "../src/normalize/messy.rs"]
mod messy;

/// Rows per batch, as the host sends them.
const ROWS: usize = 10_000;
/// Share of junk values per column, as `audex sample` makes by default.
const INVALID: f64 = 0.05;

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

fn bench_sha256(c: &mut Criterion) {
    // What the email kernel hashes: normalized (trimmed, lower-cased) addresses.
    let inputs: Vec<Vec<u8>> = messy::column(ROWS, 1, |rng| {
        loop {
            if let Some(e) = messy::email(rng, 0.0) {
                let e = e.trim().to_lowercase();
                if !e.is_empty() && e.len() != 64 {
                    break e.into_bytes();
                }
            }
        }
    });
    let mut group = c.benchmark_group("sha256_hex");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("normalized_emails", |b| {
        let mut hex = [0u8; 64];
        b.iter(|| {
            for input in &inputs {
                sha256_hex(black_box(input), &mut hex);
                black_box(&hex);
            }
        });
    });
    group.finish();
}

fn bench_emails(c: &mut Criterion) {
    let array = StringArray::from(messy::column(ROWS, 2, |rng| messy::email(rng, INVALID)));
    let mut out = NormalizedColumn::new(DIGEST_WIDTH);
    let mut group = c.benchmark_group("emails");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("messy_utf8", |b| {
        b.iter(|| emails(black_box(&array), &mut out).expect("utf8"));
    });
    group.finish();
}

fn bench_phones(c: &mut Criterion) {
    let rows = messy::column(ROWS, 3, |rng| messy::phone(rng, INVALID));
    let phone_array = StringArray::from(rows.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
    let country_array = StringArray::from(rows.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>());
    let mut out = NormalizedColumn::new(DIGEST_WIDTH);
    let mut group = c.benchmark_group("phones");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("default_country", |b| {
        b.iter(|| phones(black_box(&phone_array), None, Some("US"), &mut out).expect("utf8"));
    });
    group.bench_function("row_country", |b| {
        b.iter(|| {
            phones(
                black_box(&phone_array),
                Some(&country_array),
                Some("US"),
                &mut out,
            )
            .expect("utf8")
        });
    });
    group.finish();
}

fn bench_madids(c: &mut Criterion) {
    let array = StringArray::from(messy::column(ROWS, 4, |rng| messy::madid(rng, INVALID)));
    let mut out = NormalizedColumn::new(MADID_WIDTH);
    let mut group = c.benchmark_group("madids");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("messy_utf8", |b| {
        b.iter(|| madids(black_box(&array), &mut out).expect("utf8"));
    });
    group.finish();
}

criterion_group! {
    name = kernels;
    config = config();
    targets = bench_sha256, bench_emails, bench_phones, bench_madids
}
criterion_main!(kernels);
