//! The members of an audience, stored for fast uploads into audiences of millions: hash tables
//! instead of ordered sets (sorted only when a test view asks), digests kept as their 32 bytes
//! (no allocation per member), and per-key value sets derived from the members instead of
//! being kept as a second copy.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::upload::{Cells, KeyId, Member, MemberKey, hex_lower};

/// The members of one audience.
#[derive(Debug, Clone, Default)]
pub(crate) struct Members {
    /// Members whose key is a lowercase-hex digest (single-key uploads), with their key name.
    digests: HashMap<[u8; 32], KeyId, FastState>,
    /// Every other member (UUIDs, verbatim ids, multi-key rows), with its cells.
    texts: HashMap<Box<str>, Cells, FastState>,
}

impl Members {
    /// Number of members.
    pub(crate) fn len(&self) -> usize {
        self.digests.len() + self.texts.len()
    }

    /// Removes every member.
    pub(crate) fn clear(&mut self) {
        self.digests.clear();
        self.texts.clear();
    }

    /// Adds a member; false when a member with its key was already there (left unchanged).
    pub(crate) fn insert(&mut self, member: &Member) -> bool {
        match (&member.key, &member.cells) {
            (MemberKey::Digest(d), Cells::Single(k)) => match self.digests.entry(*d) {
                std::collections::hash_map::Entry::Occupied(_) => false,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(*k);
                    true
                }
            },
            // Multi-key keys hold `=`, so they are never digests; kept as text all the same.
            (MemberKey::Digest(d), cells) => self.insert_text(&hex_lower(d), cells),
            (MemberKey::Text(t), cells) => self.insert_text(t, cells),
        }
    }

    fn insert_text(&mut self, key: &str, cells: &Cells) -> bool {
        if self.texts.contains_key(key) {
            return false;
        }
        self.texts.insert(key.into(), cells.clone());
        true
    }

    /// Removes the member with this key; false when there was none.
    pub(crate) fn remove(&mut self, key: &MemberKey) -> bool {
        match key {
            MemberKey::Digest(d) => {
                self.digests.remove(d).is_some() || self.texts.remove(&*hex_lower(d)).is_some()
            }
            MemberKey::Text(t) => self.texts.remove(t).is_some(),
        }
    }

    /// The member keys as text, sorted.
    pub(crate) fn sorted_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .digests
            .keys()
            .map(|d| hex_lower(d))
            .chain(self.texts.keys().map(|t| t.to_string()))
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Per key name, the distinct values members hold, sorted; key names without values are
    /// left out.
    pub(crate) fn values_per_key(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
        for (d, k) in &self.digests {
            out.entry(k.name()).or_default().insert(hex_lower(d));
        }
        for (text, cells) in &self.texts {
            match cells {
                Cells::Single(k) => {
                    out.entry(k.name()).or_default().insert(text.to_string());
                }
                Cells::Multi(spans) => {
                    for (k, span) in spans.iter() {
                        let range = span.start as usize..span.end as usize;
                        if let Some(value) = text.get(range) {
                            out.entry(k.name()).or_default().insert(value.to_owned());
                        }
                    }
                }
            }
        }
        out.into_iter()
            .map(|(k, values)| (k.to_owned(), values.into_iter().collect()))
            .collect()
    }
}

/// The tables' hasher: foldhash, seeded per table. SipHash (the standard library's default)
/// cost more than the rest of an upload's bookkeeping with 64-byte keys; the random seed still
/// keeps crafted keys from colliding on purpose.
pub(crate) type FastState = foldhash::fast::RandomState;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::parse_payload;
    use serde_json::json;

    fn h(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    #[test]
    fn digests_and_texts_are_one_set_of_keys() {
        let p = parse_payload(&json!({"schema": "EXTERN_ID", "data": [h('a'), "x", h('A')]}))
            .expect("valid");
        let q = parse_payload(&json!({"schema": "EMAIL_SHA256", "data": [h('a'), h('B')]}))
            .expect("valid");
        let mut m = Members::default();
        assert!(p.members.iter().all(|x| m.insert(x)));
        // The lowercase digest is the same key as the verbatim id that spells it.
        assert!(!m.insert(&q.members[0]));
        assert!(m.insert(&q.members[1]));
        assert_eq!(m.len(), 4);
        assert_eq!(m.sorted_keys(), [h('A'), h('a'), h('b'), "x".to_owned()]);
        let per_key = m.values_per_key();
        assert_eq!(per_key["EXTERN_ID"], [h('A'), h('a'), "x".to_owned()]);
        assert_eq!(per_key["EMAIL_SHA256"], [h('b')]);
        assert!(m.remove(&MemberKey::new(&h('a'))));
        assert!(!m.remove(&MemberKey::new(&h('a'))));
        assert!(m.remove(&MemberKey::new("x")));
        assert_eq!(m.sorted_keys(), [h('A'), h('b')]);
        m.clear();
        assert_eq!(m.len(), 0);
    }
}
