//! The phone normalizer on arbitrary text, one row per line, with a row country and a
//! default country picked by the first bytes: it never panics, and every accepted phone is
//! a 64-lowercase-hex digest that passes through unchanged when fed back.
#![no_main]

use arrow_array::{Array, StringArray};
use libfuzzer_sys::fuzz_target;
use plugin_facebook::normalize::{DIGEST_WIDTH, NormalizedColumn, phones};

const COUNTRIES: &[&str] = &[
    "US", "GB", "DE", "FR", "IN", "BR", "JP", "AU", "it", " mx ", "XX", "",
];

fuzz_target!(|input: (u8, u8, bool, &str)| {
    let (row_country, default, with_rows, text) = input;
    let rows: Vec<&str> = text.split('\n').collect();
    let country = COUNTRIES[usize::from(row_country) % COUNTRIES.len()];
    let countries = StringArray::from(vec![country; rows.len()]);
    let default = COUNTRIES[..10].get(usize::from(default) % 11).copied();
    let mut out = NormalizedColumn::new(DIGEST_WIDTH);
    phones(
        &StringArray::from(rows.clone()),
        with_rows.then_some(&countries as &dyn Array),
        default,
        &mut out,
    )
    .expect("Utf8 columns of equal length and a known default");
    assert_eq!(out.len(), rows.len());
    let digests: Vec<String> = out.iter().flatten().map(str::to_owned).collect();
    for digest in &digests {
        assert!(
            digest.len() == 64
                && digest
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{digest:?}"
        );
    }
    let mut again = NormalizedColumn::new(DIGEST_WIDTH);
    phones(&StringArray::from(digests.clone()), None, None, &mut again).expect("Utf8");
    let again: Vec<&str> = again
        .iter()
        .map(|r| r.expect("a digest is accepted"))
        .collect();
    assert_eq!(again, digests);
});
