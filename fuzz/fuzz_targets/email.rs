//! The email normalizer on arbitrary text, one row per line: it never panics, every row gets
//! a digest or a reason, every digest is 64 lowercase hex digits, and feeding a digest back
//! gives it unchanged.
#![no_main]

use arrow_array::StringArray;
use libfuzzer_sys::fuzz_target;
use plugin_facebook::normalize::{DIGEST_WIDTH, NormalizedColumn, emails};

fuzz_target!(|text: &str| {
    let rows: Vec<Option<&str>> = text
        .split('\n')
        .map(|r| (r != "\u{0}").then_some(r))
        .collect();
    let mut out = NormalizedColumn::new(DIGEST_WIDTH);
    emails(&StringArray::from(rows.clone()), &mut out).expect("Utf8 is supported");
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
    emails(&StringArray::from(digests.clone()), &mut again).expect("Utf8 is supported");
    let again: Vec<&str> = again
        .iter()
        .map(|r| r.expect("a digest is accepted"))
        .collect();
    assert_eq!(again, digests);
});
