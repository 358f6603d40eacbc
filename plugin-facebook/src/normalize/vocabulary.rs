//! The vocabulary of generated messy segments, shared by the kernel benchmarks and the host's
//! sample generator (`audex sample`) so both draw from the same names, domains and junk.

/// First names.
pub const FIRST: &[&str] = &[
    "mary", "john", "aisha", "li", "sofia", "lucas", "emma", "noah", "mateo", "yuki", "priya",
    "oliver", "chloe", "hans", "amelie", "rahul", "ana", "jack", "mia", "kenji",
];
/// Last names (one with a non-ASCII letter).
pub const LAST: &[&str] = &[
    "smith", "garcia", "müller", "dubois", "tanaka", "patel", "silva", "brown", "jones", "martin",
    "kim", "rossi", "nguyen", "schmidt", "wilson",
];
/// E-mail domains of several countries.
pub const DOMAINS: &[&str] = &[
    "example.com",
    "gmail.com",
    "yahoo.co.uk",
    "web.de",
    "orange.fr",
    "outlook.com",
    "icloud.com",
    "mail.co.jp",
];
/// Values people put in e-mail columns that are not e-mail addresses.
pub const JUNK_EMAILS: &[&str] = &[
    "n/a",
    "none",
    "mary@@example.com",
    "@example.com",
    "bob@",
    "john smith@example.com",
    "-",
];
/// Values people put in phone columns that are not phone numbers.
pub const JUNK_PHONES: &[&str] = &[
    "12345",
    "555-CALL-NOW",
    "000",
    "+1 (000) 000-0000",
    "n/a",
    "99999999999999999",
];
/// Values that are not mobile advertiser ids.
pub const JUNK_MADIDS: &[&str] = &[
    "not-a-uuid",
    "6D92078A-8246-4BA4-AE5B",
    "12345",
    "g6d92078a-8246-4ba4-ae5b-76104861e7dc",
];

/// A version-4 advertising id in its 8-4-4-4-12 text form, made from 32 random lowercase hex
/// digits (the version and variant digits are set; two of the 32 are not used).
pub fn uuid_v4_from_hex(hex: &str) -> String {
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}
