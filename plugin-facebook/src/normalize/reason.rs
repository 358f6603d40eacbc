//! Why a row's value was not uploaded.

use std::fmt;

/// Why a row's value was not uploaded.
///
/// [`Reason::as_str`] gives a stable snake_case code, used as the key of the export report's
/// `rejected` map; the codes never change once released (add variants, never rename them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The value is null.
    Missing,
    /// The value is the empty string or only whitespace: never hashed (that would upload
    /// `sha256("")`, which matches nobody and wastes a row).
    Empty,
    /// Not exactly one `@`, an empty local or domain part, whitespace or control
    /// characters inside the address, or longer than 254 bytes.
    MalformedEmail,
    /// libphonenumber does not consider the number valid (too short, too long, unknown area
    /// code or country calling code, not a number...).
    InvalidPhone,
    /// The number has no `+` or international prefix, the row has no country and no default
    /// country is set, so its country code cannot be known.
    MissingCountry,
    /// The row's country is not a known ISO 3166-1 alpha-2 code (and the number carries no
    /// country code of its own).
    InvalidCountry,
    /// Not a UUID in the 8-4-4-4-12 hexadecimal form.
    InvalidMadid,
    /// The all-zero advertising id, which iOS and Android report when the user opted out of
    /// tracking: it identifies nobody.
    ZeroMadid,
}

impl Reason {
    /// Every reason, in declaration order (also the order of [`Ord`]).
    pub const ALL: [Reason; 8] = [
        Reason::Missing,
        Reason::Empty,
        Reason::MalformedEmail,
        Reason::InvalidPhone,
        Reason::MissingCountry,
        Reason::InvalidCountry,
        Reason::InvalidMadid,
        Reason::ZeroMadid,
    ];

    /// The stable snake_case code of this reason, e.g. `"malformed_email"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Empty => "empty",
            Reason::MalformedEmail => "malformed_email",
            Reason::InvalidPhone => "invalid_phone",
            Reason::MissingCountry => "missing_country",
            Reason::InvalidCountry => "invalid_country",
            Reason::InvalidMadid => "invalid_madid",
            Reason::ZeroMadid => "zero_madid",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn codes_are_stable_snake_case() {
        let codes: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            codes,
            [
                "missing",
                "empty",
                "malformed_email",
                "invalid_phone",
                "missing_country",
                "invalid_country",
                "invalid_madid",
                "zero_madid"
            ]
        );
        assert_eq!(Reason::InvalidPhone.to_string(), "invalid_phone");
    }

    #[test]
    fn all_is_sorted_and_complete() {
        let mut sorted = Reason::ALL;
        sorted.sort();
        assert_eq!(sorted, Reason::ALL);
        let mut unique = sorted.to_vec();
        unique.dedup();
        assert_eq!(unique.len(), Reason::ALL.len());
    }
}
