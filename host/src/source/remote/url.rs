//! `s3://bucket/...` URLs: which objects of the bucket they select.

use glob::{MatchOptions, Pattern};

/// The URL scheme of S3 (and S3-compatible) object storage.
pub(super) const SCHEME: &str = "s3://";

/// What a source URL selects in its bucket.
#[derive(Debug, Clone)]
pub(super) enum Selection {
    /// One object, by key.
    Object(String),
    /// Every object whose key starts with this prefix (empty or ending in `/`), at any depth.
    Prefix(String),
    /// Every object whose key matches the pattern; `*` and `?` do not cross `/`. Listing
    /// starts at `prefix`, the pattern's literal directory part.
    Glob {
        /// The literal directory part of the pattern (empty or ending in `/`).
        prefix: String,
        /// The whole key pattern.
        pattern: Pattern,
    },
}

/// A parsed `s3://` URL.
#[derive(Debug, Clone)]
pub(super) struct S3Url {
    /// The bucket.
    pub(super) bucket: String,
    /// The objects.
    pub(super) selection: Selection,
}

impl S3Url {
    /// Parses `s3://bucket`, `s3://bucket/key`, `s3://bucket/prefix/` or
    /// `s3://bucket/dir/*.parquet`. The message says what is wrong.
    pub(super) fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix(SCHEME)
            .ok_or_else(|| format!("expected a URL starting with `{SCHEME}`"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err("the bucket name is missing (`s3://BUCKET/key`)".to_owned());
        }
        if !bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_'))
        {
            return Err(format!(
                "`{bucket}` is not a valid bucket name (lower-case letters, digits, `-`, `.`)"
            ));
        }
        if key.starts_with('/') || key.contains("//") {
            return Err("the key has an empty path segment (`//`)".to_owned());
        }
        let selection = match key.find(['*', '?', '[']) {
            Some(first) => {
                let prefix = key[..first].rfind('/').map_or("", |slash| &key[..=slash]);
                let pattern =
                    Pattern::new(key).map_err(|e| format!("invalid glob `{key}`: {e}"))?;
                Selection::Glob {
                    prefix: prefix.to_owned(),
                    pattern,
                }
            }
            None if key.is_empty() || key.ends_with('/') => Selection::Prefix(key.to_owned()),
            None => Selection::Object(key.to_owned()),
        };
        Ok(Self {
            bucket: bucket.to_owned(),
            selection,
        })
    }

    /// The key prefix to list from; `None` for a single object.
    pub(super) fn list_prefix(&self) -> Option<&str> {
        match &self.selection {
            Selection::Object(_) => None,
            Selection::Prefix(prefix) | Selection::Glob { prefix, .. } => Some(prefix),
        }
    }

    /// Whether a listed key belongs to the source (directory markers never do).
    pub(super) fn selects(&self, key: &str) -> bool {
        if key.ends_with('/') {
            return false;
        }
        match &self.selection {
            Selection::Object(k) => k == key,
            Selection::Prefix(prefix) => key.starts_with(prefix.as_str()),
            Selection::Glob { pattern, .. } => pattern.matches_with(
                key,
                MatchOptions {
                    case_sensitive: true,
                    require_literal_separator: true,
                    require_literal_leading_dot: false,
                },
            ),
        }
    }

    /// `s3://bucket/key`.
    pub(super) fn object_url(&self, key: &str) -> String {
        format!("{SCHEME}{}/{key}", self.bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_prefix_and_glob() {
        let u = S3Url::parse("s3://data-1/exports/day.parquet").expect("object");
        assert_eq!(u.bucket, "data-1");
        assert!(matches!(&u.selection, Selection::Object(k) if k == "exports/day.parquet"));
        assert_eq!(u.list_prefix(), None);
        assert!(u.selects("exports/day.parquet"));
        assert!(!u.selects("exports/day.parquet.bak"));

        let u = S3Url::parse("s3://b/exports/").expect("prefix");
        assert_eq!(u.list_prefix(), Some("exports/"));
        assert!(u.selects("exports/a.csv"));
        assert!(
            u.selects("exports/2024/01/a.csv"),
            "a prefix reaches every depth"
        );
        assert!(
            !u.selects("exports/2024/"),
            "directory markers are not objects"
        );
        assert!(!u.selects("exports2/a.csv"));

        let u = S3Url::parse("s3://b").expect("bucket");
        assert_eq!(u.list_prefix(), Some(""));
        let u = S3Url::parse("s3://b/").expect("bucket with slash");
        assert_eq!(u.list_prefix(), Some(""));

        let u = S3Url::parse("s3://b/exports/2024-*/part-?.parquet").expect("glob");
        assert_eq!(u.list_prefix(), Some("exports/"));
        assert!(u.selects("exports/2024-01/part-1.parquet"));
        assert!(
            !u.selects("exports/2024-01/x/part-1.parquet"),
            "`*` stays in its segment"
        );
        assert!(!u.selects("exports/2024-01/part-1.csv"));
        let u = S3Url::parse("s3://b/*.csv").expect("root glob");
        assert_eq!(u.list_prefix(), Some(""));
        assert!(u.selects("a.csv") && !u.selects("dir/a.csv"));
        assert_eq!(u.object_url("a.csv"), "s3://b/a.csv");
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, want) in [
            ("s3:///key", "bucket name is missing"),
            ("s3://My_Bucket/key", "not a valid bucket name"),
            ("s3://b//key", "empty path segment"),
            ("s3://b/[x.csv", "invalid glob"),
            ("gs://b/key", "s3://"),
        ] {
            let e = S3Url::parse(url).expect_err(url);
            assert!(e.contains(want), "{url}: {e}");
        }
    }
}
