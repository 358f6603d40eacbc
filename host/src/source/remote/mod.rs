//! Object-storage sources: `source.path: s3://bucket/...` (Amazon S3 and S3-compatible servers),
//! through the `object_store` crate.
//!
//! A URL names one object (`s3://b/exports/day.parquet`), every object under a prefix
//! (`s3://b/exports/`, at any depth, like a directory: only keys with a supported extension,
//! or `source.format`'s), or the keys matching a glob (`s3://b/exports/*.parquet`; `*` and `?`
//! stay within one `/` segment). Objects are read one after the other in key order.
//!
//! Memory stays bounded whatever the object size: Parquet is read with range requests (the
//! footer, then the mapped columns of one row group at a time) by parquet's async reader,
//! driven from the synchronous source thread on a small tokio runtime; CSV and Arrow IPC
//! objects are downloaded in ranged chunks to a temporary file (deleted once read) and read
//! from there like local files. Checking a source fetches only footers and headers.
//!
//! Credentials and endpoint come from the standard AWS environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` /
//! `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, and the rest of what the AWS
//! SDKs read: web identity, container and instance credentials), then the pipeline's
//! `source.s3` keys ([`S3Options`]), which win. Secrets are only ever named there, never
//! written inline, and no message carries them.

mod read;
mod url;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::client::ClientConfigKey;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt as _, RetryConfig};
use serde::Deserialize;

use self::url::{S3Url, SCHEME, Selection};
use super::{ColumnMapping, FileReader, Format, SourceError};

/// Objects whose schema is checked at the same time.
const CHECK_CONCURRENCY: usize = 8;

/// `source.s3`: where and how to reach the bucket. Every key is optional; the AWS
/// environment variables apply to what is not set here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Options {
    /// The endpoint of an S3-compatible server (MinIO, Ceph, R2, a local emulator), e.g.
    /// `http://127.0.0.1:9000`; AWS itself needs none. Overrides `AWS_ENDPOINT_URL`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The bucket's region, e.g. `eu-west-1`. Overrides `AWS_REGION` / `AWS_DEFAULT_REGION`.
    #[serde(default)]
    pub region: Option<String>,
    /// Allow a plain `http://` endpoint. Overrides `AWS_ALLOW_HTTP`.
    #[serde(default)]
    pub allow_http: Option<bool>,
    /// Send unsigned requests (public buckets); no credentials are looked up.
    #[serde(default)]
    pub anonymous: Option<bool>,
    /// The environment variable holding the access key id, instead of `AWS_ACCESS_KEY_ID`.
    #[serde(default)]
    pub access_key_id_env: Option<String>,
    /// The environment variable holding the secret access key, instead of
    /// `AWS_SECRET_ACCESS_KEY`.
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
    /// The environment variable holding a session token, instead of `AWS_SESSION_TOKEN`.
    #[serde(default)]
    pub session_token_env: Option<String>,
}

/// Whether `path` is an object-storage URL rather than a local path.
pub fn is_remote(path: &str) -> bool {
    path.starts_with(SCHEME)
}

/// Checks an `s3://` URL's form without any I/O; the message says what is wrong.
pub fn check_url(path: &str) -> Result<(), String> {
    S3Url::parse(path).map(|_| ())
}

/// The objects a source selects, listed once.
#[derive(Debug)]
struct Listing {
    objects: Vec<ObjectMeta>,
    format: Format,
}

/// An object-storage source: a bucket, the objects a URL selects there, and a client.
/// Creating one does no I/O; the objects are listed on first use and the listing kept.
pub struct RemoteSource {
    url: String,
    parsed: S3Url,
    store: Arc<dyn ObjectStore>,
    runtime: Arc<tokio::runtime::Runtime>,
    format: Option<Format>,
    batch_rows: usize,
    delimiter: u8,
    /// Credential values that must never appear in a message.
    redact: Vec<String>,
    listing: Mutex<Option<Arc<Listing>>>,
    /// Parquet row total found by [`RemoteSource::check`].
    parquet_rows: Mutex<Option<u64>>,
}

impl std::fmt::Debug for RemoteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSource")
            .field("url", &self.url)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl RemoteSource {
    /// A source for `url` (`s3://...`) with the pipeline's `source.s3` options.
    pub fn new(
        url: &str,
        options: Option<&S3Options>,
        format: Option<Format>,
        batch_rows: usize,
        delimiter: u8,
    ) -> Result<Self, SourceError> {
        let fail = |message: String| SourceError::Remote {
            url: url.to_owned(),
            message,
        };
        let parsed = S3Url::parse(url).map_err(fail)?;
        let (builder, redact) = builder(&parsed.bucket, options).map_err(fail)?;
        // ring is the process-wide rustls provider (as for the destination's HTTP).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = builder
            .build()
            .map_err(|e| fail(scrub(&e.to_string(), &redact)))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("audex-s3")
            .enable_all()
            .build()
            .map_err(|e| fail(format!("cannot start the I/O runtime: {e}")))?;
        Ok(Self {
            url: url.to_owned(),
            parsed,
            store: Arc::new(store),
            runtime: Arc::new(runtime),
            format,
            batch_rows,
            delimiter,
            redact,
            listing: Mutex::new(None),
            parquet_rows: Mutex::new(None),
        })
    }

    /// The URL as the pipeline gave it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Lists the objects (once) and checks each has the mapped columns, reading only Parquet
    /// footers and the first bytes of CSV and Arrow IPC objects. Returns the row count for
    /// Parquet.
    pub fn check(&self, mapping: &ColumnMapping) -> Result<Option<u64>, SourceError> {
        let listing = self.listing()?;
        let format = listing.format;
        let checks = futures::stream::iter(listing.objects.iter().map(|meta| {
            let url = self.parsed.object_url(meta.location.as_ref());
            async move {
                let schema = match format {
                    Format::Parquet => {
                        let (schema, rows) = read::parquet_schema(self, meta, &url).await?;
                        mapping.project(Path::new(&url), &schema)?;
                        return Ok(Some(rows));
                    }
                    Format::Csv => read::csv_schema(self, meta, &url).await?,
                    Format::Arrow => read::arrow_schema(self, meta, &url).await?,
                };
                mapping.project(Path::new(&url), &schema)?;
                Ok::<_, SourceError>(None)
            }
        }))
        .buffered(CHECK_CONCURRENCY)
        .try_collect::<Vec<Option<u64>>>();
        let rows = self.runtime.block_on(checks)?;
        let total = (format == Format::Parquet).then(|| rows.iter().flatten().sum::<u64>());
        if let Some(total) = total
            && let Ok(mut cached) = self.parquet_rows.lock()
        {
            *cached = Some(total);
        }
        Ok(total)
    }

    /// The row count when the format tells it without reading rows (Parquet); none for CSV
    /// and Arrow IPC objects, which would have to be read whole.
    pub fn estimate_rows(&self, mapping: &ColumnMapping) -> Result<Option<u64>, SourceError> {
        if self.listing()?.format != Format::Parquet {
            return Ok(None);
        }
        if let Some(rows) = self.parquet_rows.lock().ok().and_then(|c| *c) {
            return Ok(Some(rows));
        }
        self.check(mapping)
    }

    /// Each object's URL, size, modification time and entity tag, one per line.
    pub fn fingerprint(&self) -> Result<String, SourceError> {
        let listing = self.listing()?;
        Ok(listing
            .objects
            .iter()
            .map(|m| {
                format!(
                    "{}\t{}\t{}\t{}\n",
                    self.parsed.object_url(m.location.as_ref()),
                    m.size,
                    m.last_modified.to_rfc3339(),
                    m.e_tag.as_deref().unwrap_or("")
                )
            })
            .collect())
    }

    /// Opens object `index` of the listing (listing first if needed); `None` past the last.
    pub(super) fn open(
        &self,
        index: usize,
        mapping: &ColumnMapping,
    ) -> Option<Result<Box<dyn FileReader>, SourceError>> {
        let listing = match self.listing() {
            Ok(l) => l,
            Err(e) if index == 0 => return Some(Err(e)),
            Err(_) => return None,
        };
        let meta = listing.objects.get(index)?;
        let url = self.parsed.object_url(meta.location.as_ref());
        Some(match listing.format {
            Format::Parquet => read::open_parquet(self, meta, &url, mapping)
                .map(|r| Box::new(r) as Box<dyn FileReader>),
            Format::Csv | Format::Arrow => {
                read::open_downloaded(self, meta, &url, mapping, listing.format)
                    .map(|r| Box::new(r) as Box<dyn FileReader>)
            }
        })
    }

    /// The objects, listed on first use.
    fn listing(&self) -> Result<Arc<Listing>, SourceError> {
        let mut cached = self
            .listing
            .lock()
            .map_err(|_| self.error(&self.url, "an earlier listing failed part-way".into()))?;
        if let Some(listing) = cached.as_ref() {
            return Ok(listing.clone());
        }
        let objects = self.runtime.block_on(self.list())?;
        let listing = Arc::new(self.choose_format(objects)?);
        tracing::debug!(
            "{}: {} object(s), {}",
            self.url,
            listing.objects.len(),
            listing.format.name()
        );
        *cached = Some(listing.clone());
        Ok(listing)
    }

    /// The objects the URL selects, sorted by key.
    async fn list(&self) -> Result<Vec<ObjectMeta>, SourceError> {
        if let Selection::Object(key) = &self.parsed.selection {
            let location = ObjectPath::from(key.as_str());
            return match self.store.head(&location).await {
                Ok(meta) => Ok(vec![meta]),
                Err(e @ object_store::Error::NotFound { .. }) => {
                    Err(self.missing_object(key, e).await)
                }
                Err(e) => Err(self.store_error(&self.url, &e)),
            };
        }
        let prefix = self.parsed.list_prefix().unwrap_or_default();
        let location = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
        let mut objects: Vec<ObjectMeta> = self
            .store
            .list(location.as_ref())
            .try_filter(|meta| futures::future::ready(self.parsed.selects(meta.location.as_ref())))
            .try_collect()
            .await
            .map_err(|e| self.store_error(&self.url, &e))?;
        objects.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(objects)
    }

    /// Why a single object is missing: no bucket, a prefix given without its `/`, or no such
    /// key.
    async fn missing_object(&self, key: &str, e: object_store::Error) -> SourceError {
        let under = ObjectPath::from(key);
        let mut listing = self.store.list(Some(&under));
        match listing.next().await {
            Some(Ok(_)) => self.error(
                &self.url,
                format!(
                    "no such object, but there are objects under `{key}/`; write `{}/` to read them all",
                    self.url
                ),
            ),
            Some(Err(list_error)) => self.store_error(&self.url, &list_error),
            None => self.store_error(&self.url, &e),
        }
    }

    /// Settles the format, and for a prefix keeps only the objects of that format (as a
    /// directory does).
    fn choose_format(&self, mut objects: Vec<ObjectMeta>) -> Result<Listing, SourceError> {
        let format_of = |meta: &ObjectMeta| Format::from_path(Path::new(meta.location.as_ref()));
        let is_prefix = matches!(self.parsed.selection, Selection::Prefix(_));
        let listed = objects.len();
        if is_prefix {
            objects.retain(|meta| match self.format {
                Some(f) => format_of(meta) == Some(f),
                None => format_of(meta).is_some(),
            });
        }
        let Some(first) = objects.first() else {
            let message = match (&self.parsed.selection, listed) {
                (Selection::Prefix(_), 0) => "no objects under this prefix".to_owned(),
                (Selection::Prefix(_), n) => format!(
                    "none of the {n} object(s) under this prefix is {}",
                    self.format.map_or_else(
                        || "Parquet, CSV or Arrow IPC (by extension)".to_owned(),
                        |f| format!("{} (by extension)", f.name())
                    )
                ),
                _ => "no objects match".to_owned(),
            };
            return Err(self.error(&self.url, message));
        };
        let format = match self.format.or_else(|| format_of(first)) {
            Some(f) => f,
            None => {
                return Err(self.error(
                    &self.parsed.object_url(first.location.as_ref()),
                    "cannot tell the format from the extension; set `source.format` to parquet, csv or arrow".to_owned(),
                ));
            }
        };
        if let Some(other) = objects
            .iter()
            .find(|m| format_of(m).is_some_and(|f| f != format))
        {
            return Err(self.error(
                &self.url,
                format!(
                    "{} is not {} like the other objects; keep one format per source",
                    self.parsed.object_url(other.location.as_ref()),
                    format.name()
                ),
            ));
        }
        Ok(Listing { objects, format })
    }

    /// A source error about `url`, credentials scrubbed.
    fn error(&self, url: &str, message: String) -> SourceError {
        SourceError::Remote {
            url: url.to_owned(),
            message: scrub(&message, &self.redact),
        }
    }

    /// An object store failure about `url`, in words: no bucket, no object, access denied...
    fn store_error(&self, url: &str, e: &object_store::Error) -> SourceError {
        self.error(url, describe(e, &self.parsed.bucket))
    }
}

/// The S3 client configuration: the AWS environment, then the pipeline's options. Returns the
/// credential values to keep out of messages.
fn builder(
    bucket: &str,
    options: Option<&S3Options>,
) -> Result<(AmazonS3Builder, Vec<String>), String> {
    let client = |key| AmazonS3ConfigKey::Client(key);
    // Defaults the environment may override (`AWS_TIMEOUT`, ...): requests for large ranges
    // may take a while; a dead endpoint should not.
    let mut builder = AmazonS3Builder::new()
        .with_config(client(ClientConfigKey::ConnectTimeout), "10s")
        .with_config(client(ClientConfigKey::Timeout), "5m")
        .with_retry(RetryConfig {
            max_retries: 4,
            retry_timeout: Duration::from_secs(120),
            ..RetryConfig::default()
        });
    for (name, value) in std::env::vars_os() {
        if let (Some(name), Some(value)) = (name.to_str(), value.to_str())
            && name.starts_with("AWS_")
            && let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>()
        {
            builder = builder.with_config(key, value);
        }
    }
    builder = builder.with_bucket_name(bucket);
    let options = options.cloned().unwrap_or_default();
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &options.region {
        builder = builder.with_region(region);
    }
    if let Some(allow) = options.allow_http {
        builder = builder.with_allow_http(allow);
    }
    if options.anonymous == Some(true) {
        builder = builder.with_skip_signature(true);
    }
    let named = |key: &str, var: &Option<String>| -> Result<Option<String>, String> {
        match var {
            None => Ok(None),
            Some(var) => std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Some)
                .ok_or_else(|| format!("`source.s3.{key}` names {var}, which is not set")),
        }
    };
    if let Some(v) = named("access_key_id_env", &options.access_key_id_env)? {
        builder = builder.with_access_key_id(v);
    }
    if let Some(v) = named("secret_access_key_env", &options.secret_access_key_env)? {
        builder = builder.with_secret_access_key(v);
    }
    if let Some(v) = named("session_token_env", &options.session_token_env)? {
        builder = builder.with_token(v);
    }

    let endpoint = builder
        .get_config_value(&AmazonS3ConfigKey::Endpoint)
        .unwrap_or_default();
    let allow_http = builder
        .get_config_value(&client(ClientConfigKey::AllowHttp))
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    if endpoint.starts_with("http://") && !allow_http {
        return Err(format!(
            "the endpoint {endpoint} is plain http; set `source.s3.allow_http: true` (or AWS_ALLOW_HTTP=true) to use it"
        ));
    }
    let redact = [
        AmazonS3ConfigKey::AccessKeyId,
        AmazonS3ConfigKey::SecretAccessKey,
        AmazonS3ConfigKey::Token,
    ]
    .iter()
    .filter_map(|key| builder.get_config_value(key))
    .filter(|v| v.len() >= 4)
    .collect();
    Ok((builder, redact))
}

/// An object store error in words, with S3's error code when it sent one.
fn describe(e: &object_store::Error, bucket: &str) -> String {
    let text = e.to_string();
    let code = s3_code(&text);
    let credentials =
        "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, or `source.s3.*_env`";
    match (e, code.as_deref()) {
        (_, Some("NoSuchBucket")) => format!("bucket `{bucket}` does not exist"),
        (object_store::Error::NotFound { .. }, _) => "no such object".to_owned(),
        (_, Some("InvalidAccessKeyId")) => {
            format!("access denied: the access key id is not known to the server ({credentials})")
        }
        (_, Some("SignatureDoesNotMatch")) => {
            format!("access denied: the secret access key does not match ({credentials})")
        }
        (_, Some("ExpiredToken" | "InvalidToken")) => {
            format!("access denied: the session token is expired or invalid ({credentials})")
        }
        (object_store::Error::PermissionDenied { .. }, code) => format!(
            "access denied{}: these credentials may not read it ({credentials})",
            code.map(|c| format!(" ({c})")).unwrap_or_default()
        ),
        (object_store::Error::Unauthenticated { .. }, _) => {
            format!("not authenticated: the credentials were refused ({credentials})")
        }
        (object_store::Error::Generic { .. }, _) => {
            let detail = text
                .split_once(" error: ")
                .map_or(text.as_str(), |(_, d)| d);
            if detail.contains("error sending request") {
                format!("cannot reach the storage endpoint: {detail}")
            } else {
                detail.to_owned()
            }
        }
        _ => text,
    }
}

/// S3's error code (`<Code>NoSuchBucket</Code>`) in an error's text.
fn s3_code(text: &str) -> Option<String> {
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(text[start..start + len].to_owned())
}

/// `message` with every credential value replaced.
fn scrub(message: &str, redact: &[String]) -> String {
    redact.iter().fold(message.to_owned(), |m, secret| {
        m.replace(secret.as_str(), "<redacted>")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_scrubbing() {
        assert_eq!(
            s3_code("Client error: <Error><Code>NoSuchBucket</Code><Message>x</Message>")
                .as_deref(),
            Some("NoSuchBucket")
        );
        assert_eq!(s3_code("no xml here"), None);
        assert_eq!(
            scrub(
                "key AKIAXYZ secret s3cr3tvalue",
                &["AKIAXYZ".into(), "s3cr3tvalue".into()]
            ),
            "key <redacted> secret <redacted>"
        );
    }

    #[test]
    fn store_errors_in_words() {
        let denied = object_store::Error::PermissionDenied {
            path: "k".into(),
            source: "<Error><Code>AccessDenied</Code></Error>".into(),
        };
        let text = describe(&denied, "b");
        assert!(
            text.starts_with("access denied (AccessDenied)") && text.contains("AWS_ACCESS_KEY_ID"),
            "{text}"
        );
        let bad_key = object_store::Error::PermissionDenied {
            path: "k".into(),
            source: "<Error><Code>InvalidAccessKeyId</Code></Error>".into(),
        };
        assert!(describe(&bad_key, "b").contains("access key id is not known"));
        let no_bucket = object_store::Error::NotFound {
            path: "k".into(),
            source: "<Error><Code>NoSuchBucket</Code></Error>".into(),
        };
        assert_eq!(describe(&no_bucket, "b"), "bucket `b` does not exist");
        let unreachable = object_store::Error::Generic {
            store: "S3",
            source: "Error performing GET in 1s - HTTP error: error sending request".into(),
        };
        assert!(describe(&unreachable, "b").starts_with("cannot reach the storage endpoint"));
    }

    #[test]
    fn plain_http_endpoints_need_consent_and_named_secrets_must_exist() {
        let options = S3Options {
            endpoint: Some("http://127.0.0.1:9".into()),
            ..S3Options::default()
        };
        let e = builder("b", Some(&options)).expect_err("http without allow_http");
        assert!(e.contains("allow_http"), "{e}");
        let options = S3Options {
            allow_http: Some(true),
            ..options
        };
        assert!(builder("b", Some(&options)).is_ok());
        let options = S3Options {
            secret_access_key_env: Some("AUDEX_TEST_UNSET_SECRET_VARIABLE".into()),
            ..options
        };
        let e = builder("b", Some(&options)).expect_err("unset variable");
        assert!(
            e.contains("secret_access_key_env") && e.contains("AUDEX_TEST_UNSET_SECRET_VARIABLE"),
            "{e}"
        );
    }

    #[test]
    fn urls_are_checked_without_io() {
        assert!(is_remote("s3://b/k") && !is_remote("data/s3.csv"));
        assert!(check_url("s3://b/k.parquet").is_ok());
        assert!(check_url("s3://").is_err());
        let e = RemoteSource::new("s3://", None, None, 10, b',').expect_err("no bucket");
        assert!(e.to_string().starts_with("s3://: "), "{e}");
    }
}
