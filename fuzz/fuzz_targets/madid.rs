//! The madid normalizer on arbitrary text, one row per line: it never panics, every accepted
//! id is a lowercase 8-4-4-4-12 UUID, and normalizing it again changes nothing.
#![no_main]

use arrow_array::StringArray;
use libfuzzer_sys::fuzz_target;
use plugin_facebook::normalize::{MADID_WIDTH, NormalizedColumn, madids};

fuzz_target!(|text: &str| {
    let rows: Vec<&str> = text.split('\n').collect();
    let mut out = NormalizedColumn::new(MADID_WIDTH);
    madids(&StringArray::from(rows.clone()), &mut out).expect("Utf8 is supported");
    assert_eq!(out.len(), rows.len());
    let ids: Vec<String> = out.iter().flatten().map(str::to_owned).collect();
    for id in &ids {
        let shaped = id.len() == 36
            && id.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
            });
        assert!(shaped, "{id:?}");
    }
    let mut again = NormalizedColumn::new(MADID_WIDTH);
    madids(&StringArray::from(ids.clone()), &mut again).expect("Utf8 is supported");
    let again: Vec<&str> = again
        .iter()
        .map(|r| r.expect("an id is accepted"))
        .collect();
    assert_eq!(again, ids);
});
