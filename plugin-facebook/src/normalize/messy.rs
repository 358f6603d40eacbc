//! Deterministic generators of messy identifier values, for the criterion benches
//! (`benches/kernels.rs` includes this file) and the kernels' differential tests.
//!
//! The shapes and shares follow the host's sample generator (`audex sample`): mixed case,
//! padding, 2 % null or blank, a share of junk (5 % by default), 1 % already-hashed emails,
//! phones written every usual way in eight countries, upper- and lower-case advertiser ids.
//! No dependency: a SplitMix64 generator is all the randomness needed.

// The benches use only part of this file.
#![allow(dead_code, unreachable_pub)]

/// A small, fast, deterministic random generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// `n` random decimal digits.
    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

use super::vocabulary::{DOMAINS, FIRST, JUNK_EMAILS, JUNK_MADIDS, JUNK_PHONES, LAST};

/// A messy email, `None` for null.
pub fn email(rng: &mut Rng, invalid: f64) -> Option<String> {
    let roll = rng.unit();
    if roll < 0.02 {
        return rng.chance(0.5).then(|| "   ".to_owned());
    }
    if roll < 0.02 + invalid {
        return Some(rng.pick(JUNK_EMAILS).to_owned());
    }
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let domain = rng.pick(DOMAINS);
    let mut address = match rng.below(4) {
        0 => format!("{first}.{last}@{domain}"),
        1 => format!("{first}{}@{domain}", 1 + rng.below(9998)),
        2 => format!("{}{last}+news@{domain}", &first[..1]),
        _ => format!("{last}_{first}{}@{domain}", 10 + rng.below(89)),
    };
    if roll > 0.99 {
        // Already hashed upstream, upper-case hex.
        let mut hex = [0u8; 64];
        super::sha256_hex(address.as_bytes(), &mut hex);
        return Some(String::from_utf8_lossy(&hex).to_ascii_uppercase());
    }
    if rng.chance(0.3) {
        address = address.to_uppercase();
    } else if rng.chance(0.2) {
        let mut chars: Vec<char> = address.chars().collect();
        chars[0] = chars[0].to_ascii_uppercase();
        address = chars.into_iter().collect();
    }
    if rng.chance(0.15) {
        address = format!("  {address}\t");
    }
    Some(address)
}

/// The countries [`phone`] writes numbers of, with their shares in percent.
pub const PHONE_COUNTRIES: &[(&str, u64)] = &[
    ("US", 40),
    ("GB", 15),
    ("DE", 10),
    ("FR", 10),
    ("IN", 8),
    ("BR", 7),
    ("AU", 5),
    ("JP", 5),
];

/// A messy phone number and its row country (`None` for null); 10 % of rows have no country.
pub fn phone(rng: &mut Rng, invalid: f64) -> (Option<String>, Option<String>) {
    let roll = rng.unit();
    if roll < 0.02 {
        return (None, None);
    }
    if roll < 0.02 + invalid {
        return (
            Some(rng.pick(JUNK_PHONES).to_owned()),
            Some("US".to_owned()),
        );
    }
    let mut at = rng.below(100);
    let mut country = "US";
    for &(code, share) in PHONE_COUNTRIES {
        if at < share {
            country = code;
            break;
        }
        at -= share;
    }
    let number = phone_of(rng, country);
    let column = (!rng.chance(0.1)).then(|| country.to_owned());
    (Some(number), column)
}

/// A phone number of `country` written in one of its usual styles (valid or not: the digits
/// are random, as real data's are).
pub fn phone_of(rng: &mut Rng, country: &str) -> String {
    let style = rng.below(3);
    match country {
        "US" => {
            let area = rng.pick(&[
                "201", "212", "305", "312", "415", "617", "646", "650", "702", "713",
            ]);
            let exchange = format!("{}{}{}", 2 + rng.below(8), rng.digits(1), 2 + rng.below(8));
            let line = rng.digits(4);
            match style {
                0 => format!("+1 ({area}) {exchange}-{line}"),
                1 => format!("{area}.{exchange}.{line}"),
                _ => format!("1-{area}-{exchange}-{line}"),
            }
        }
        "GB" => {
            let rest = rng.digits(6);
            match style {
                0 => format!("+44 (0)20 7{} {}{}", &rest[..3], &rest[3..], rng.digits(1)),
                1 => format!("07400 {rest}"),
                _ => format!("0044 7400 {rest}"),
            }
        }
        "DE" => match style {
            0 => format!("+49 30 {}", rng.digits(8)),
            1 => format!("0151 {}", rng.digits(8)),
            _ => format!("(030) {}-{}", rng.digits(4), rng.digits(4)),
        },
        "FR" => {
            let d = rng.digits(8);
            match style {
                0 => format!("+33 1 {} {} {} {}", &d[..2], &d[2..4], &d[4..6], &d[6..]),
                1 => format!(
                    "06.{}{}.{}.{}.{}",
                    1 + rng.below(9),
                    &d[1..2],
                    &d[2..4],
                    &d[4..6],
                    &d[6..]
                ),
                _ => format!("01 {} {} {} {}", &d[..2], &d[2..4], &d[4..6], &d[6..]),
            }
        }
        "IN" => match style {
            0 => format!("+91 98{} {}", rng.digits(3), rng.digits(5)),
            _ => format!("098{}{}", rng.digits(3), rng.digits(5)),
        },
        "BR" => format!("+55 (11) 9{}-{}", rng.digits(4), rng.digits(4)),
        "AU" => match style {
            0 => format!(
                "+61 41{} {} {}",
                rng.digits(1),
                rng.digits(3),
                rng.digits(3)
            ),
            _ => format!("041{} {} {}", rng.digits(1), rng.digits(3), rng.digits(3)),
        },
        _ => format!(
            "090-{}{}-{}",
            1 + rng.below(9),
            rng.digits(3),
            rng.digits(4)
        ),
    }
}

/// A messy mobile advertiser id, `None` for null.
pub fn madid(rng: &mut Rng, invalid: f64) -> Option<String> {
    let roll = rng.unit();
    if roll < 0.03 {
        return None;
    }
    if roll < 0.03 + invalid / 2.0 {
        return Some(rng.pick(JUNK_MADIDS).to_owned());
    }
    if roll < 0.03 + invalid {
        return Some("00000000-0000-0000-0000-000000000000".to_owned());
    }
    let hex = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());
    let uuid = super::vocabulary::uuid_v4_from_hex(&hex);
    Some(if rng.chance(0.5) {
        uuid.to_uppercase()
    } else {
        uuid
    })
}

/// `rows` values from `make`, seeded with `seed`.
pub fn column<T>(rows: usize, seed: u64, mut make: impl FnMut(&mut Rng) -> T) -> Vec<T> {
    let mut rng = Rng::new(seed);
    (0..rows).map(|_| make(&mut rng)).collect()
}
