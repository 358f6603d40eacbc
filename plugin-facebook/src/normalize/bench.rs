//! Throughput measurements, ignored by default. Run (optimized, one core):
//!
//! ```text
//! cargo test -p plugin-facebook --release --lib normalize::bench -- --ignored --nocapture --test-threads 1
//! ```

use std::hint::black_box;
use std::time::Instant;

use super::*;
use arrow_array::{Int64Array, StringArray};

const BATCH: usize = 100_000;

fn report(what: &str, rows: usize, seconds: f64) {
    println!(
        "{what:<48} {:>10.0} rows/s  ({:.0} ns/row)",
        rows as f64 / seconds,
        seconds * 1e9 / rows as f64
    );
}

/// Runs `f` over `rounds` batches after one warm-up batch, reports rows/s.
fn measure(what: &str, rows_per_round: usize, rounds: usize, mut f: impl FnMut()) {
    f();
    let start = Instant::now();
    for _ in 0..rounds {
        f();
    }
    report(what, rows_per_round * rounds, start.elapsed().as_secs_f64());
}

#[test]
#[ignore = "measurement; run with --release --ignored --nocapture"]
fn throughput() {
    let inputs: Vec<String> = (0..BATCH)
        .map(|i| format!("User.{i}@Example{}.com", i % 97))
        .collect();

    let mut hex = [0u8; 64];
    measure("sha256_hex alone (~22-byte inputs)", BATCH, 20, || {
        for s in &inputs {
            sha256_hex(black_box(s.as_bytes()), &mut hex);
            black_box(&hex);
        }
    });

    let emails_array = StringArray::from(
        inputs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i % 10 == 0 {
                    format!("  {s} ")
                } else {
                    s.clone()
                }
            })
            .collect::<Vec<_>>(),
    );
    let mut out = NormalizedColumn::new(DIGEST_WIDTH);
    measure("emails (Utf8, 10% padded)", BATCH, 20, || {
        emails(&emails_array, &mut out).expect("utf8");
    });
    assert_eq!(out.accepted(), BATCH);

    let madid_array = StringArray::from(
        (0..BATCH)
            .map(|i| format!("6D92078A-8246-4BA4-AE5B-{i:012X}"))
            .collect::<Vec<_>>(),
    );
    let mut out = NormalizedColumn::new(MADID_WIDTH);
    measure("madids (Utf8, upper-case)", BATCH, 20, || {
        madids(&madid_array, &mut out).expect("utf8");
    });
    assert_eq!(out.accepted(), BATCH);

    let phones_rows = 20_000;
    let us = StringArray::from(
        (0..phones_rows)
            .map(|i| format!("({}) 555-{:04}", 202 + (i % 7), i % 10_000))
            .collect::<Vec<_>>(),
    );
    let mut out = NormalizedColumn::new(DIGEST_WIDTH);
    measure("phones (US national, default US)", phones_rows, 5, || {
        phones(&us, None, Some("US"), &mut out).expect("utf8");
    });
    println!("  accepted {}/{phones_rows}", out.accepted());
    let intl = StringArray::from(
        (0..phones_rows)
            .map(|i| match i % 4 {
                0 => format!("+44 (0)20 7946 {:04}", i % 10_000),
                1 => format!("+49 30 {:08}", 12_000_000 + i),
                2 => format!("+33 6 12 34 {:02} {:02}", i % 100, (i / 100) % 100),
                _ => format!("0044 7400 {:06}", 100_000 + i),
            })
            .collect::<Vec<_>>(),
    );
    measure(
        "phones (international mix, default US)",
        phones_rows,
        5,
        || {
            phones(&intl, None, Some("US"), &mut out).expect("utf8");
        },
    );
    println!("  accepted {}/{phones_rows}", out.accepted());
    let ints = Int64Array::from(
        (0..phones_rows as i64)
            .map(|i| 12_025_550_000 + i % 10_000)
            .collect::<Vec<_>>(),
    );
    measure("phones (Int64, default US)", phones_rows, 5, || {
        phones(&ints, None, Some("US"), &mut out).expect("int64");
    });
    println!("  accepted {}/{phones_rows}", out.accepted());
}
