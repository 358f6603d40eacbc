//! Searches everything the test suite kept of audex's outputs (`target/<profile>/test-outputs`:
//! every CLI invocation's stdout and stderr, reports, dry-run request files, rejects files,
//! run journals, notification bodies) for credentials the emulator issued: access tokens
//! (they start `EAAJ`) and app secrets (they start `5ec2e7`). Run after `cargo test`; exits 1
//! naming each file with a hit (the secret itself is not printed), 2 when there is nothing to
//! scan (the check must not pass vacuously). A clean scan empties the folder.
#![allow(clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use audex_emulator::{APP_SECRET_MARKER, TOKEN_PREFIX};

/// Fewer kept outputs than this means the suite did not run (or did not record).
const MIN_FILES: usize = 50;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(audex_tests::outputs_dir, PathBuf::from);
    let mut files = Vec::new();
    collect(&dir, &mut files);
    if files.len() < MIN_FILES {
        eprintln!(
            "scan-test-outputs: only {} files under {}: run `cargo test --workspace` first",
            files.len(),
            dir.display()
        );
        return ExitCode::from(2);
    }
    let mut bytes = 0_u64;
    let mut hits = Vec::new();
    for file in &files {
        let data = std::fs::read(file).expect("reading a kept output");
        bytes += data.len() as u64;
        for (kind, offset) in find_secrets(&data) {
            hits.push(format!("{}: {kind} at byte {offset}", file.display()));
        }
    }
    println!(
        "scan-test-outputs: {} files, {} bytes searched for emulator tokens ({TOKEN_PREFIX}...) and app secrets ({APP_SECRET_MARKER}...): {} found",
        files.len(),
        bytes,
        hits.len()
    );
    if hits.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
        ExitCode::SUCCESS
    } else {
        for hit in &hits {
            eprintln!("  {hit}");
        }
        ExitCode::FAILURE
    }
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// Each credential-shaped string in `data`: a token (prefix + at least 40 letters or digits)
/// or an app secret (marker + 26 lowercase hex digits, not part of a longer hex run).
fn find_secrets(data: &[u8]) -> Vec<(&'static str, usize)> {
    let mut found = Vec::new();
    let token = TOKEN_PREFIX.as_bytes();
    let secret = APP_SECRET_MARKER.as_bytes();
    for i in 0..data.len() {
        let rest = &data[i..];
        if rest.starts_with(token) {
            let tail = &rest[token.len()..];
            if tail
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count()
                >= 40
            {
                found.push(("access token", i));
            }
        } else if rest.starts_with(secret) {
            let preceded_by_hex = i > 0 && is_hex(data[i - 1]);
            let run = rest.iter().take_while(|b| is_hex(**b)).count();
            if !preceded_by_hex && run == 32 {
                found.push(("app secret", i));
            }
        }
    }
    found
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tokens_and_app_secrets_but_not_digests() {
        let token = format!("{TOKEN_PREFIX}{}", "a1B2".repeat(39));
        let secret = format!("{APP_SECRET_MARKER}{}", "0123456789abcdef0123456789");
        let digest = format!("{APP_SECRET_MARKER}{}", "0".repeat(58));
        let text = format!("x {token} y \"{secret}\" z {digest}");
        let kinds: Vec<&str> = find_secrets(text.as_bytes()).iter().map(|h| h.0).collect();
        assert_eq!(kinds, ["access token", "app secret"]);
        assert!(find_secrets(b"<secret:access-token> EAAJshort").is_empty());
    }
}
