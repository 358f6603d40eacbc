//! Live HTTP: requests really sent, with the credentials placed by the host.
//!
//! Requests run on a small tokio runtime so several can be in flight (`submit`) while the
//! plugin hashes the next batch. Transport failures (connection errors, timeouts, resets)
//! and HTTP 5xx/429 answers are retried here, with exponential backoff and jitter, for
//! requests the plugin marked idempotent; everything else reaches the plugin as it came.
//! Error messages never contain URLs, since query strings can carry credentials.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use super::mediator::Method;
use super::{HttpResponse, PreparedRequest, QueryValue, Transport, TransportError};
use crate::plugin::manifest::{AuthScheme, Endpoint};
use crate::secrets::Secrets;

/// Retry and timeout settings for transport failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpPolicy {
    /// Attempts in all for an idempotent request.
    pub attempts: u32,
    /// First backoff; doubled each attempt, plus up to 25 % jitter.
    pub initial_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// Time limit of one attempt.
    pub timeout: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Sends requests for real.
pub struct LiveTransport {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    endpoints: BTreeMap<String, Endpoint>,
    secrets: Secrets,
    policy: HttpPolicy,
    pending: HashMap<u64, tokio::task::JoinHandle<Result<HttpResponse, TransportError>>>,
    next_id: u64,
    sent: u64,
}

impl LiveTransport {
    /// A transport for a plugin's endpoints with the given secrets.
    pub fn new(
        endpoints: BTreeMap<String, Endpoint>,
        secrets: Secrets,
        policy: HttpPolicy,
    ) -> Result<Self, String> {
        // ring is the process-wide rustls provider; a second install is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("audex-http")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("audex/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10).min(policy.timeout))
            .timeout(policy.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.without_url().to_string())?;
        Ok(Self {
            runtime,
            client,
            endpoints,
            secrets,
            policy,
            pending: HashMap::new(),
            next_id: 1,
            sent: 0,
        })
    }

    /// Requests started so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    fn build(&self, request: PreparedRequest) -> Result<Outgoing, TransportError> {
        let endpoint = self.endpoints.get(&request.endpoint).ok_or_else(|| {
            TransportError::Failed(format!("unknown endpoint `{}`", request.endpoint))
        })?;
        let missing = |name: &str| {
            TransportError::Failed(format!(
                "no `{name}` credential is configured (set {} or connect first)",
                crate::secrets::env_var(name)
            ))
        };
        let mut url = reqwest::Url::parse(&format!("{}{}", request.base_url, request.path))
            .map_err(|e| {
                TransportError::Failed(format!(
                    "invalid URL for endpoint `{}`: {e}",
                    request.endpoint
                ))
            })?;
        let base_host = reqwest::Url::parse(&request.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        if url.host_str().map(str::to_owned) != base_host {
            return Err(TransportError::Failed(
                "the request would leave the endpoint's host".to_owned(),
            ));
        }
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in &request.query {
                match value {
                    QueryValue::Plain(v) => query.append_pair(name, v),
                    QueryValue::Secret(s) => query.append_pair(
                        name,
                        self.secrets.get(s).ok_or_else(|| missing(s))?.expose(),
                    ),
                };
            }
            if request.authenticate
                && let Some(proof) = &endpoint.proof
                && let (Some(key), Some(of)) =
                    (self.secrets.get(&proof.key), self.secrets.get(&proof.of))
            {
                query.append_pair(
                    &proof.param,
                    &hmac_hex(key.expose().as_bytes(), of.expose().as_bytes()),
                );
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let mut headers = request.headers;
        if request.authenticate {
            match endpoint.auth {
                AuthScheme::Bearer => {
                    let token = self
                        .secrets
                        .get(&endpoint.auth_secret)
                        .ok_or_else(|| missing(&endpoint.auth_secret))?;
                    headers.push((
                        "authorization".to_owned(),
                        format!("Bearer {}", token.expose()),
                    ));
                }
                AuthScheme::HmacBody => {
                    let key = self
                        .secrets
                        .get(&endpoint.auth_secret)
                        .ok_or_else(|| missing(&endpoint.auth_secret))?;
                    let body = request.body.as_deref().unwrap_or_default();
                    let header = endpoint
                        .hmac_header
                        .clone()
                        .unwrap_or_else(|| "x-audex-signature".to_owned());
                    headers.push((
                        header,
                        format!("sha256={}", hmac_hex(key.expose().as_bytes(), body)),
                    ));
                }
                AuthScheme::None => {}
            }
        }
        Ok(Outgoing {
            method: match request.method {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
                Method::Put => reqwest::Method::PUT,
                Method::Patch => reqwest::Method::PATCH,
                Method::Delete => reqwest::Method::DELETE,
            },
            url,
            headers,
            // Shared, not copied, by every attempt.
            body: request.body.map(bytes::Bytes::from),
            idempotent: request.idempotent,
            label: format!("{} {}", request.method.as_str(), request.path),
        })
    }
}

/// hex(HMAC-SHA256(key, message)).
pub fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A request ready to go on the wire.
struct Outgoing {
    method: reqwest::Method,
    url: reqwest::Url,
    headers: Vec<(String, String)>,
    body: Option<bytes::Bytes>,
    idempotent: bool,
    label: String,
}

async fn perform(
    client: reqwest::Client,
    outgoing: Outgoing,
    policy: HttpPolicy,
) -> Result<HttpResponse, TransportError> {
    let attempts = if outgoing.idempotent {
        policy.attempts.max(1)
    } else {
        1
    };
    let mut attempt = 1;
    loop {
        let mut builder = client.request(outgoing.method.clone(), outgoing.url.clone());
        for (name, value) in &outgoing.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &outgoing.body {
            builder = builder.body(body.clone());
        }
        let outcome = match builder.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                match response.bytes().await {
                    Ok(body) => Ok(HttpResponse {
                        status,
                        headers,
                        body: body.into(),
                    }),
                    Err(e) => Err(describe(&e)),
                }
            }
            Err(e) => Err(describe(&e)),
        };
        let retryable = match &outcome {
            Ok(r) => r.status >= 500 || r.status == 429,
            Err(_) => true,
        };
        if !retryable || attempt >= attempts {
            return outcome.map_err(|message| {
                TransportError::Failed(format!(
                    "{}: {message} (after {attempt} attempt(s))",
                    outgoing.label
                ))
            });
        }
        let backoff = backoff(policy, attempt);
        tracing::warn!(
            request = outgoing.label.as_str(),
            attempt,
            "{}; retrying in {} ms",
            match &outcome {
                Ok(r) => format!("HTTP {}", r.status),
                Err(m) => m.clone(),
            },
            backoff.as_millis()
        );
        tokio::time::sleep(backoff).await;
        attempt += 1;
    }
}

fn backoff(policy: HttpPolicy, attempt: u32) -> Duration {
    let base = policy
        .initial_backoff
        .saturating_mul(1 << (attempt - 1).min(16))
        .min(policy.max_backoff);
    let jitter = rand::rng().random_range(0.0..0.25);
    base.mul_f64(1.0 + jitter)
}

/// A transport error without its URL (which may carry credentials in the query).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "connection lost while reading the answer"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl Transport for LiveTransport {
    fn submit(&mut self, request: PreparedRequest) -> Result<u64, TransportError> {
        let outgoing = self.build(request)?;
        let id = self.next_id;
        self.next_id += 1;
        self.sent += 1;
        let handle = self
            .runtime
            .spawn(perform(self.client.clone(), outgoing, self.policy));
        self.pending.insert(id, handle);
        Ok(id)
    }

    fn wait(&mut self, id: u64) -> Result<HttpResponse, TransportError> {
        let handle = self
            .pending
            .remove(&id)
            .ok_or(TransportError::UnknownRequest(id))?;
        self.runtime
            .block_on(handle)
            .map_err(|e| TransportError::Failed(format!("request task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = HttpPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            timeout: Duration::from_secs(1),
        };
        let first = backoff(policy, 1);
        assert!(first >= Duration::from_millis(100) && first < Duration::from_millis(126));
        let later = backoff(policy, 5);
        assert!(later >= Duration::from_millis(300) && later < Duration::from_millis(376));
    }
}
