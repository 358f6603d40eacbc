//! A faster `is_valid_number`, with libphonenumber's exact semantics.
//!
//! libphonenumber calls a number valid when, in the region its country code resolves to, the
//! national significant number (NSN) matches the general pattern (and one of its possible
//! lengths) and then one of up to ten number-type patterns (premium rate, toll free, shared
//! cost, VoIP, personal, pager, UAN, voicemail, fixed line, mobile), each also filtered by its
//! own possible lengths; it tries them one regex at a time. Here the type patterns whose
//! possible lengths allow the NSN's length are joined into one alternation, compiled once per
//! (region, length): two matches per number instead of up to eleven, with the same patterns,
//! so the same answers (`is_match` of an alternation is the `or` of its branches). Each
//! pattern is matched by a [`DigitDfa`] built from it once (`regex` when it cannot be one). Mobile is left out when the metadata says its pattern equals
//! fixed line's, as libphonenumber does. For a country code shared by several regions, the
//! region is chosen as libphonenumber chooses it: the first whose leading digits match, or in
//! which the number is valid.
//!
//! The patterns come from `metadata.bin`: libphonenumber's metadata exactly as
//! `rlibphonenumber` 2.2.15 embeds it (Apache-2.0; the crate keeps it private). A test pins
//! the crate version, and the differential tests in `tests.rs` compare this check with
//! `is_valid_number` on many numbers of every region. Anything unexpected (a non-geographic
//! calling code, a pattern not in the usual `^(?:...)$` form) answers `None`, and the caller
//! asks libphonenumber.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use prost::Message;

use super::dfa::DigitDfa;
use regex::Regex;
use rlibphonenumber::{
    PHONE_NUMBER_UTIL, PhoneMetadata, PhoneMetadataCollection, PhoneNumber, PhoneNumberDesc, Region,
};

/// libphonenumber's metadata as `rlibphonenumber` 2.2.15 ships it (`src/generated/metadata/`).
static METADATA_BIN: &[u8] = include_bytes!("metadata.bin");

/// NSNs are at most 17 digits (libphonenumber's `MAX_LENGTH_FOR_NSN`).
const MAX_NSN: usize = 17;

/// A pattern as libphonenumber holds it: possible lengths (empty: any) and the regex source
/// without its `^(?:` `)$` wrapper (`None`: no pattern, which never matches).
#[derive(Debug, Clone)]
struct Desc {
    lengths: Vec<i32>,
    local_lengths: Vec<i32>,
    inner: Option<String>,
}

impl Desc {
    /// `None` when the pattern is not in the wrapped form this module relies on.
    #[allow(deprecated)] // the raw metadata's field, see `RegionRules::build`
    fn of(desc: Option<&PhoneNumberDesc>) -> Option<Self> {
        let Some(desc) = desc else {
            return Some(Self {
                lengths: Vec::new(),
                local_lengths: Vec::new(),
                inner: None,
            });
        };
        let inner = match &desc.national_number_pattern {
            None => None,
            Some(base) => Some(base.strip_prefix("^(?:")?.strip_suffix(")$")?.to_owned()),
        };
        Some(Self {
            lengths: desc.possible_length.clone(),
            local_lengths: desc.possible_length_local_only.clone(),
            inner,
        })
    }

    /// libphonenumber's possible-length filter: an empty list allows any length.
    fn allows(&self, len: usize) -> bool {
        self.lengths.is_empty() || self.lengths.iter().any(|&l| usize::try_from(l) == Ok(len))
    }
}

/// What parsing and validation need of one region; regexes are compiled on first use.
pub(super) struct RegionRules {
    /// The country calling code.
    pub(super) country_code: i32,
    /// Its decimal digits.
    pub(super) code_digits: String,
    general: Desc,
    /// `international_prefix`, matched at the start (`None`: the region has none).
    international_prefix: Option<String>,
    /// The same when it is only digit strings in alternation (`00`, `011`, `0|180020`):
    /// regex's leftmost-first match is then the first one that is a prefix, found without
    /// the regex.
    idd_literals: Option<Vec<String>>,
    /// `national_prefix_for_parsing`, matched at the start, and its transform rule.
    national_prefix: Option<String>,
    national_prefix_literals: Option<Vec<String>>,
    transform_rule: String,
    idd_regex: OnceLock<Option<Regex>>,
    national_prefix_regex: OnceLock<Option<Regex>>,
    /// The national prefix pattern's automaton, to tell quickly that it does not match.
    national_prefix_dfa: OnceLock<Option<DigitDfa>>,
    /// libphonenumber's `leading_digits` pattern source (matched at the start), if any.
    leading_digits: Option<String>,
    /// The type descriptions in libphonenumber's order (mobile left out when it equals fixed
    /// line).
    types: Vec<Desc>,
    general_matcher: OnceLock<Option<Matcher>>,
    leading_matcher: OnceLock<Option<Prefix>>,
    /// The union of the types allowed at each NSN length; `None` when no type allows it.
    unions: [OnceLock<Option<Matcher>>; MAX_NSN + 1],
}

impl RegionRules {
    // The raw metadata's fields, read as decoded (rlibphonenumber marks them deprecated
    // because its own wrapper moves them out; nothing moved them here).
    #[allow(deprecated)]
    fn build(metadata: &PhoneMetadata) -> Option<Self> {
        let mut types = vec![
            &metadata.premium_rate,
            &metadata.toll_free,
            &metadata.shared_cost,
            &metadata.voip,
            &metadata.personal_number,
            &metadata.pager,
            &metadata.uan,
            &metadata.voicemail,
            &metadata.fixed_line,
        ];
        if !metadata.same_mobile_and_fixed_line_pattern() {
            types.push(&metadata.mobile);
        }
        let leading_digits = match &metadata.leading_digits {
            None => None,
            // libphonenumber matches `base[..len - 1]`, or everything when `base` is shorter
            // than `^(?:)$`: leave such a region to it.
            Some(base) if base.len() < 6 => return None,
            Some(base) => Some(base.strip_suffix('$')?.to_owned()),
        };
        // libphonenumber matches these at the start (`base[..len - 1]`); a base shorter than
        // `^(?:)$` it would compile as the empty regex: leave such a region to it.
        let at_start = |base: &Option<String>| -> Option<Option<String>> {
            match base {
                None => Some(None),
                Some(b) if b.len() < 6 => None,
                Some(b) => Some(Some(b.strip_suffix('$')?.to_owned())),
            }
        };
        Some(Self {
            country_code: metadata.country_code?,
            code_digits: metadata.country_code?.to_string(),
            general: Desc::of(metadata.general_desc.as_ref())?,
            international_prefix: at_start(&metadata.international_prefix)?,
            idd_literals: literals(metadata.international_prefix.as_deref()),
            national_prefix: at_start(&metadata.national_prefix_for_parsing)?,
            national_prefix_literals: literals(metadata.national_prefix_for_parsing.as_deref()),
            transform_rule: metadata
                .national_prefix_transform_rule
                .clone()
                .unwrap_or_default(),
            idd_regex: OnceLock::new(),
            national_prefix_regex: OnceLock::new(),
            national_prefix_dfa: OnceLock::new(),
            leading_digits,
            types: types
                .into_iter()
                .map(|d| Desc::of(d.as_ref()))
                .collect::<Option<_>>()?,
            general_matcher: OnceLock::new(),
            leading_matcher: OnceLock::new(),
            unions: std::array::from_fn(|_| OnceLock::new()),
        })
    }

    /// Whether libphonenumber's leading-digits pattern of the region matches the NSN's start.
    fn leads(&self, nsn: &str) -> bool {
        self.leading_matcher
            .get_or_init(|| Prefix::new(self.leading_digits.as_deref()?))
            .as_ref()
            .is_some_and(|m| m.is_match(nsn))
    }

    /// Whether `number` matches the general pattern in full (possible lengths not checked:
    /// libphonenumber's `is_match(number, general_desc)`).
    pub(super) fn matches_general(&self, number: &str) -> bool {
        self.general_matcher
            .get_or_init(|| Matcher::new(self.general.inner.as_deref()?))
            .as_ref()
            .is_some_and(|m| m.is_match(number))
    }

    /// Where the international (IDD) prefix at the start of `digits` ends, if there is one.
    pub(super) fn idd_end(&self, digits: &str) -> Option<usize> {
        if let Some(literals) = &self.idd_literals {
            return literals
                .iter()
                .find(|l| digits.starts_with(l.as_str()))
                .map(String::len);
        }
        self.idd_regex
            .get_or_init(|| ascii_regex(self.international_prefix.as_deref()?))
            .as_ref()?
            .find(digits)
            .map(|m| m.end())
    }

    /// The national prefix for parsing, if the region has one.
    pub(super) fn national_prefix(&self) -> Option<NationalPrefix<'_>> {
        if let Some(literals) = &self.national_prefix_literals {
            return Some(NationalPrefix::Literals(literals));
        }
        let re = self
            .national_prefix_regex
            .get_or_init(|| ascii_regex(self.national_prefix.as_deref()?))
            .as_ref()?;
        let dfa = self
            .national_prefix_dfa
            .get_or_init(|| prefix_dfa(self.national_prefix.as_deref()?))
            .as_ref();
        Some(NationalPrefix::Pattern(re, &self.transform_rule, dfa))
    }

    /// libphonenumber's `test_number_length_with_unknown_type`.
    pub(super) fn test_length(&self, number: &str) -> Length {
        let mask = |lengths: &[i32]| {
            let mut mask = 0u64;
            for &l in lengths {
                match u32::try_from(l) {
                    Ok(l) if l < 64 => mask |= 1 << l,
                    _ => mask = 0,
                }
            }
            mask
        };
        let possible = mask(&self.general.lengths);
        let local = mask(&self.general.local_lengths);
        if possible == 0 {
            return Length::Invalid;
        }
        let len = number.len() as u32;
        if len >= 64 {
            return Length::TooLong;
        }
        let bit = 1u64 << len;
        if local & bit != 0 {
            return Length::PossibleLocalOnly;
        }
        let min = possible.trailing_zeros();
        let max = 63 - possible.leading_zeros();
        if min == len {
            Length::Possible
        } else if min > len {
            Length::TooShort
        } else if max < len {
            Length::TooLong
        } else if possible & bit != 0 {
            Length::Possible
        } else {
            Length::Invalid
        }
    }

    /// libphonenumber's `get_number_type_helper(nsn) != Unknown`.
    fn is_valid(&self, nsn: &str) -> bool {
        let len = nsn.len();
        if len > MAX_NSN || !self.general.allows(len) || !self.matches_general(nsn) {
            return false;
        }
        let union = self.unions[len].get_or_init(|| union_of(self.branches(len)));
        union.as_ref().is_some_and(|m| m.is_match(nsn))
    }

    /// The type patterns allowed at NSN length `len`, as alternation branches.
    fn branches(&self, len: usize) -> Vec<String> {
        self.types
            .iter()
            .filter(|t| t.allows(len))
            .filter_map(|t| t.inner.as_deref())
            .map(|inner| format!("(?:{inner})"))
            .collect()
    }
}

/// The matcher of `^(?:b1|b2|...)$`, or `None` without branches.
fn union_of(branches: Vec<String>) -> Option<Matcher> {
    if branches.is_empty() {
        return None;
    }
    Matcher::new(&branches.join("|"))
}

/// A whole-number pattern `^(?:inner)$`: its [`DigitDfa`], or the regex when the pattern
/// cannot be one.
#[derive(Debug)]
pub(super) enum Matcher {
    /// The pattern as a table of digit transitions.
    Dfa(DigitDfa),
    /// The pattern as `regex` compiles it.
    Regex(Regex),
}

impl Matcher {
    /// The matcher of `^(?:inner)$` (`None`: the pattern does not compile).
    pub(super) fn new(inner: &str) -> Option<Self> {
        let inner = format!("(?:{inner})");
        match DigitDfa::new(&inner) {
            Some(dfa) => Some(Matcher::Dfa(dfa)),
            None => ascii_regex(&format!("^{inner}$")).map(Matcher::Regex),
        }
    }

    /// Whether all of `number` matches.
    #[inline]
    pub(super) fn is_match(&self, number: &str) -> bool {
        match self {
            Matcher::Dfa(dfa) => dfa.is_match(number.as_bytes()),
            Matcher::Regex(re) => re.is_match(number),
        }
    }
}

/// A pattern matched at the start of a number (`^(?:...)`, no `$`): its [`DigitDfa`], or the
/// regex when the pattern cannot be one.
#[derive(Debug)]
enum Prefix {
    /// The pattern as a table of digit transitions.
    Dfa(DigitDfa),
    /// The pattern as `regex` compiles it.
    Regex(Regex),
}

impl Prefix {
    /// The matcher of `source` (`None`: the pattern does not compile).
    fn new(source: &str) -> Option<Self> {
        match prefix_dfa(source) {
            Some(dfa) => Some(Prefix::Dfa(dfa)),
            None => ascii_regex(source).map(Prefix::Regex),
        }
    }

    /// Whether the pattern matches at the start of `number`.
    fn is_match(&self, number: &str) -> bool {
        match self {
            Prefix::Dfa(dfa) => dfa.matches_prefix(number.as_bytes()),
            Prefix::Regex(re) => re.is_match(number),
        }
    }
}

/// The automaton of a pattern matched at the start of a number (it starts with `^`).
fn prefix_dfa(source: &str) -> Option<DigitDfa> {
    if !source.starts_with('^') {
        return None;
    }
    DigitDfa::new(source)
}

/// A country calling code shared by several regions (`1`: the NANP, `44`: GB, GG, IM, JE...).
struct SharedCode {
    /// Its regions' rules, in libphonenumber's order (the main region first).
    regions: Vec<Arc<RegionRules>>,
    /// The type patterns of all its regions allowed at each length: a number none of them
    /// matches is valid in none of the regions, which settles most invalid numbers with one
    /// match instead of trying every region.
    unions: [OnceLock<Option<Matcher>>; MAX_NSN + 1],
}

impl SharedCode {
    /// libphonenumber's `is_valid_number` for a number with this code.
    fn is_valid(&self, nsn: &str) -> bool {
        let len = nsn.len();
        if len > MAX_NSN {
            return false;
        }
        let any = self.unions[len]
            .get_or_init(|| union_of(self.regions.iter().flat_map(|r| r.branches(len)).collect()));
        if !any.as_ref().is_some_and(|m| m.is_match(nsn)) {
            return false;
        }
        // The region libphonenumber picks: the first whose leading digits match, or in which
        // the number is valid; the answer is the number's validity there.
        for rules in &self.regions {
            let valid = rules.is_valid(nsn);
            if valid || rules.leads(nsn) {
                return valid;
            }
        }
        false
    }
}

/// The shared codes' rules, built on first use.
fn shared_code(code: i32) -> Option<Arc<SharedCode>> {
    static CODES: LazyLock<Mutex<HashMap<i32, Option<Arc<SharedCode>>>>> =
        LazyLock::new(Default::default);
    let mut codes = CODES.lock().unwrap_or_else(|p| p.into_inner());
    codes
        .entry(code)
        .or_insert_with(|| {
            let regions = PHONE_NUMBER_UTIL
                .get_regions_for_country_calling_code(code)?
                .map(|region| RULES.get(&region).cloned())
                .collect::<Option<Vec<_>>>()?;
            Some(Arc::new(SharedCode {
                regions,
                unions: std::array::from_fn(|_| OnceLock::new()),
            }))
        })
        .clone()
}

/// A region's national prefix for parsing.
pub(super) enum NationalPrefix<'a> {
    /// Digit strings in alternation, in order (no capture group, so no transform).
    Literals(&'a [String]),
    /// The pattern (anchored at the start), its transform rule, and its automaton if it has
    /// one (which tells whether the pattern matches at all).
    Pattern(&'a Regex, &'a str, Option<&'a DigitDfa>),
}

/// The alternatives of a `^(?:A|B|...)$` pattern made only of digit strings, in order.
fn literals(base: Option<&str>) -> Option<Vec<String>> {
    let inner = base?.strip_prefix("^(?:")?.strip_suffix(")$")?;
    let parts: Vec<String> = inner.split('|').map(str::to_owned).collect();
    parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .then_some(parts)
}

/// libphonenumber's verdict on a number's length (`test_number_length`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Length {
    /// `IS_POSSIBLE`.
    Possible,
    /// `IS_POSSIBLE_LOCAL_ONLY`.
    PossibleLocalOnly,
    /// `TOO_SHORT`.
    TooShort,
    /// `TOO_LONG`.
    TooLong,
    /// `INVALID_LENGTH`.
    Invalid,
}

/// Compiles a metadata pattern for NSNs, which are ASCII digits only: with Unicode classes
/// off (`\\d` is `[0-9]`), which matches exactly the same ASCII strings as libphonenumber's
/// Unicode-aware compilation, with much smaller automata.
fn ascii_regex(source: &str) -> Option<Regex> {
    regex::RegexBuilder::new(source).unicode(false).build().ok()
}

/// Every region's rules, from the metadata (regexes compiled lazily, per region in use).
static RULES: LazyLock<HashMap<Region, Arc<RegionRules>>> = LazyLock::new(|| {
    let Ok(collection) = PhoneMetadataCollection::decode(METADATA_BIN) else {
        return HashMap::new();
    };
    collection
        .metadata
        .iter()
        .filter_map(|m| {
            let region = Region::from_code(&m.id).ok()?;
            if region == Region::World {
                return None;
            }
            Some((region, Arc::new(RegionRules::build(m)?)))
        })
        .collect()
});

/// The fast validity check, with a per-kernel memo of the regions' rules.
#[derive(Default, Clone)]
pub(crate) struct Validator {
    seen: Vec<(Region, Option<Arc<RegionRules>>)>,
    /// The rules of the country calling codes seen.
    codes: Vec<(i32, Code)>,
    /// Always answer `None` (tests: libphonenumber alone, the oracle).
    off: bool,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("regions", &self.seen.len())
            .finish()
    }
}

impl Validator {
    /// A validator that never decides: the kernel then asks libphonenumber for every number.
    pub(crate) fn library_only() -> Self {
        Self {
            seen: Vec::new(),
            codes: Vec::new(),
            off: true,
        }
    }

    /// Whether this validator never decides (tests: libphonenumber alone).
    pub(super) fn is_off(&self) -> bool {
        self.off
    }

    /// The rules of `region` (`None`: unknown here, ask libphonenumber).
    pub(super) fn rules(&mut self, region: Region) -> Option<Arc<RegionRules>> {
        if let Some((_, rules)) = self.seen.iter().find(|(r, _)| *r == region) {
            return rules.clone();
        }
        let found = RULES.get(&region).cloned();
        self.seen.push((region, found.clone()));
        found
    }

    /// libphonenumber's `is_valid_number(number)` for `number`, whose national significant
    /// number is `nsn`; `None` when this check cannot tell (then ask libphonenumber).
    pub(crate) fn is_valid(&mut self, number: &PhoneNumber, nsn: &str) -> Option<bool> {
        if self.off {
            return None;
        }
        let code = number.country_code;
        let at = match self.codes.iter().position(|(c, _)| *c == code) {
            Some(at) => at,
            None => {
                self.codes.push((code, Code::of(code)));
                self.codes.len() - 1
            }
        };
        match &self.codes[at].1 {
            Code::Unknown => None,
            Code::Single(rules) => Some(rules.is_valid(nsn)),
            Code::Shared(shared) => Some(shared.is_valid(nsn)),
        }
    }
}

/// The rules of a country calling code.
#[derive(Clone)]
enum Code {
    /// Not known here: ask libphonenumber.
    Unknown,
    /// A code of one region.
    Single(Arc<RegionRules>),
    /// A code shared by several regions.
    Shared(Arc<SharedCode>),
}

impl Code {
    fn of(code: i32) -> Code {
        let Some(mut regions) = PHONE_NUMBER_UTIL.get_regions_for_country_calling_code(code) else {
            return Code::Unknown;
        };
        let rules = if regions.len() == 1 {
            regions
                .next()
                .and_then(|region| RULES.get(&region).cloned())
                .map(Code::Single)
        } else {
            shared_code(code).map(Code::Shared)
        };
        rules.unwrap_or(Code::Unknown)
    }
}

/// Every whole-number pattern the validator matches, by region: the general pattern, then the
/// union of the types at each NSN length (sources without the `^(?:` `)$` wrapper), and, for a
/// country code shared by several regions, the union over all of them at each length.
#[cfg(test)]
pub(super) fn whole_number_patterns() -> Vec<(Region, Vec<String>)> {
    let mut regions: Vec<_> = RULES.iter().collect();
    regions.sort_by_key(|(region, _)| region.as_region_str());
    regions
        .into_iter()
        .map(|(&region, rules)| {
            let mut patterns: Vec<String> = rules.general.inner.iter().cloned().collect();
            for len in 0..=MAX_NSN {
                let branches = rules.branches(len);
                if !branches.is_empty() {
                    patterns.push(branches.join("|"));
                }
                let sharing: Vec<_> = PHONE_NUMBER_UTIL
                    .get_regions_for_country_calling_code(rules.country_code)
                    .into_iter()
                    .flatten()
                    .collect();
                // The shared code's union, once (with its main region).
                if sharing.len() > 1 && sharing.first() == Some(&region) {
                    let all: Vec<String> = sharing
                        .iter()
                        .filter_map(|r| RULES.get(r))
                        .flat_map(|r| r.branches(len))
                        .collect();
                    if !all.is_empty() {
                        patterns.push(all.join("|"));
                    }
                }
            }
            (region, patterns)
        })
        .collect()
}

/// Every pattern the fast paths match at the start of a number, by region: the national
/// prefix for parsing and the leading digits (sources as matched, starting with `^`).
#[cfg(test)]
pub(super) fn prefix_patterns() -> Vec<(Region, Vec<String>)> {
    let mut regions: Vec<_> = RULES.iter().collect();
    regions.sort_by_key(|(region, _)| region.as_region_str());
    regions
        .into_iter()
        .map(|(&region, rules)| {
            let patterns = [&rules.national_prefix, &rules.leading_digits]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            (region, patterns)
        })
        .collect()
}

/// [`prefix_dfa`] for tests.
#[cfg(test)]
pub(super) fn prefix_automaton(source: &str) -> Option<DigitDfa> {
    prefix_dfa(source)
}
