//! Random identifiers shaped like Facebook's: object ids, tokens, trace ids, OAuth codes.

use rand::Rng;
use rand::distr::Alphanumeric;

/// `len` random ASCII letters and digits.
pub(crate) fn alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A user access token shaped like Facebook's (`EAA` + letters and digits).
pub(crate) fn access_token() -> String {
    format!("{TOKEN_PREFIX}{}", alphanumeric(156))
}

/// An `fbtrace_id` value.
pub(crate) fn fbtrace_id() -> String {
    alphanumeric(11)
}

/// An 18-digit object id such as `120208749119170125` (always > 2^53, like Facebook's).
pub(crate) fn object_id() -> String {
    format!(
        "12020{:013}",
        rand::rng().random_range(0..10_000_000_000_000_u64)
    )
}

/// A positive 63-bit number, for server-assigned upload session ids.
pub(crate) fn session_id() -> u64 {
    rand::rng().random_range(1..=i64::MAX as u64)
}

/// `len` random lowercase hex digits.
pub(crate) fn hex(len: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(DIGITS[rng.random_range(0..16)]))
        .collect()
}

/// Lowercase hex encoding of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Marker at the start of every app secret the emulator makes up: Facebook's app secrets are
/// 32 lowercase hex digits, and these are too, but a scan of test outputs can recognise them.
pub const APP_SECRET_MARKER: &str = "5ec2e7";

/// An app secret shaped like Facebook's (32 hex digits), starting with [`APP_SECRET_MARKER`].
pub(crate) fn app_secret() -> String {
    format!("{APP_SECRET_MARKER}{}", hex(32 - APP_SECRET_MARKER.len()))
}

/// Start of every access token the emulator issues (Facebook's user tokens start `EAA`).
pub const TOKEN_PREFIX: &str = "EAAJ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(object_id().len(), 18);
        assert!(object_id().bytes().all(|b| b.is_ascii_digit()));
        assert!(access_token().starts_with("EAA"));
        assert_eq!(hex(32).len(), 32);
        assert_eq!(to_hex(&[0, 255, 16]), "00ff10");
        assert!(session_id() > 0);
    }
}
