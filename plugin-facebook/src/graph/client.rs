//! Sending Graph API requests through the host and reading Facebook's answers: error
//! classes, rate-limit pauses and usage-based slow-down. The host retries transport failures;
//! this layer retries only what Facebook itself asks to be retried.

use audex_plugin_sdk::types::{PluginError, UpstreamError};
use serde::de::DeserializeOwned;

use crate::graph::errors::{ErrorClass, GraphError, classify, parse_usage};
use crate::host::{Auth, Host, HttpError, Level, Method, Pair, Request, Response, SecretParam};

/// The manifest's logical endpoint for the Graph API.
pub const ENDPOINT: &str = "graph";

/// Usage percentage above which requests are spaced out.
const SLOW_DOWN_PERCENT: f64 = 80.0;

/// How Facebook-signalled failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// First back-off pause when Facebook gives no time; doubled each attempt.
    pub initial_delay_ms: u64,
    /// Longest pause.
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            initial_delay_ms: 5_000,
            max_delay_ms: 15 * 60 * 1_000,
        }
    }
}

/// A Graph API client over the host's mediated HTTP.
pub struct GraphClient<'h, H: Host> {
    host: &'h H,
    version: String,
    dry_run: bool,
    retry: RetryPolicy,
    /// Highest share of the account's call budget Facebook reported, in percent.
    peak_usage: std::cell::Cell<Option<u32>>,
}

/// A request submitted and not yet awaited, kept whole so it can be sent again.
#[derive(Debug)]
pub struct Pending {
    id: u64,
    request: Request,
}

impl<'h, H: Host> GraphClient<'h, H> {
    /// A client for API `version` (e.g. `v25.0`).
    pub fn new(host: &'h H, version: &str, dry_run: bool, retry: RetryPolicy) -> Self {
        Self {
            host,
            version: version.to_owned(),
            dry_run,
            retry,
            peak_usage: std::cell::Cell::new(None),
        }
    }

    /// The highest share of the ad account's call budget Facebook reported in a usage header
    /// so far (`X-Business-Use-Case-Usage`), in whole percent rounded up.
    pub fn peak_usage_percent(&self) -> Option<u32> {
        self.peak_usage.get()
    }

    /// The host.
    pub fn host(&self) -> &'h H {
        self.host
    }

    /// True in a dry run: answers are synthetic.
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// `/{version}/{object}` plus an optional edge.
    pub fn path(&self, object: &str, edge: Option<&str>) -> String {
        super::requests::path(&self.version, object, edge)
    }

    /// A GET request.
    pub fn get_request(&self, path: String, query: &[(&str, &str)]) -> Request {
        Request {
            method: Method::Get,
            endpoint: ENDPOINT.to_owned(),
            path,
            query: query
                .iter()
                .map(|(n, v)| Pair {
                    name: (*n).to_owned(),
                    value: (*v).to_owned(),
                })
                .collect(),
            headers: Vec::new(),
            body: None,
            auth: Auth::EndpointDefault,
            secret_params: Vec::new(),
            idempotent: true,
        }
    }

    /// A POST request with a JSON body.
    pub fn post_request(&self, path: String, body: Vec<u8>, idempotent: bool) -> Request {
        Request {
            method: Method::Post,
            endpoint: ENDPOINT.to_owned(),
            path,
            query: Vec::new(),
            headers: vec![Pair {
                name: "content-type".to_owned(),
                value: "application/json".to_owned(),
            }],
            body: Some(body),
            auth: Auth::EndpointDefault,
            secret_params: Vec::new(),
            idempotent,
        }
    }

    /// Adds a host secret as a query parameter.
    pub fn with_secret(mut request: Request, param: &str, secret: &str) -> Request {
        request.secret_params.push(SecretParam {
            param: param.to_owned(),
            secret: secret.to_owned(),
        });
        request
    }

    /// Sends a request and parses a successful answer as `T`, retrying what Facebook says
    /// is temporary.
    pub fn call<T: DeserializeOwned>(&self, request: &Request) -> Result<T, PluginError> {
        let body = self.call_raw(request)?;
        parse_body(&body, &request.path)
    }

    /// Sends a request and returns the successful answer's body.
    pub fn call_raw(&self, request: &Request) -> Result<Vec<u8>, PluginError> {
        let first = self.host.send(request);
        self.settle(request, first)
    }

    /// Starts a request without waiting for it.
    pub fn submit(&self, request: Request) -> Result<Pending, PluginError> {
        let id = self.host.submit(&request).map_err(host_error)?;
        Ok(Pending { id, request })
    }

    /// Waits for a submitted request and returns its successful answer's body, sending it
    /// again (same body, so the same session and batch number) when Facebook asks to retry.
    pub fn finish(&self, pending: Pending) -> Result<Vec<u8>, PluginError> {
        let first = self.host.wait(pending.id);
        self.settle(&pending.request, first)
    }

    fn settle(
        &self,
        request: &Request,
        mut outcome: Result<Response, HttpError>,
    ) -> Result<Vec<u8>, PluginError> {
        let mut attempt = 1;
        loop {
            let response = outcome.map_err(host_error)?;
            self.slow_down_if_busy(&response);
            let failure = match interpret(response) {
                Ok(body) => return Ok(body),
                Err(failure) => failure,
            };
            let retryable = matches!(
                failure.class,
                ErrorClass::RateLimited | ErrorClass::Transient
            );
            if !retryable || attempt >= self.retry.attempts {
                return Err(failure.into_plugin_error(attempt));
            }
            let pause = failure
                .retry_after_ms
                .unwrap_or_else(|| self.backoff_ms(attempt));
            self.host.log(
                Level::Warn,
                &format!(
                    "{} {}: {} (attempt {attempt} of {}); waiting {:.1}s before sending it again",
                    method_name(request.method),
                    request.path,
                    failure.error.message,
                    self.retry.attempts,
                    pause as f64 / 1000.0
                ),
            );
            self.host.sleep_ms(pause);
            attempt += 1;
            outcome = self.host.send(request);
        }
    }

    fn backoff_ms(&self, attempt: u32) -> u64 {
        let base = self
            .retry
            .initial_delay_ms
            .saturating_mul(1 << (attempt - 1).min(20))
            .min(self.retry.max_delay_ms);
        // Up to 20 % jitter from the host's random source, so parallel runs spread out.
        let jitter = if base >= 5 {
            self.host.random_u64() % (base / 5)
        } else {
            0
        };
        base + jitter
    }

    /// Spaces requests out when Facebook reports the account's quota above 80 % used.
    fn slow_down_if_busy(&self, response: &Response) {
        let Some(header) = header(response, "x-business-use-case-usage") else {
            return;
        };
        let usage = parse_usage(header);
        let percent = usage.max_percent.clamp(0.0, 1e6).ceil() as u32;
        let peak = self.peak_usage.get().map_or(percent, |p| p.max(percent));
        self.peak_usage.set(Some(peak));
        if usage.max_percent >= SLOW_DOWN_PERCENT && usage.regain_after_s == 0 {
            let over = (usage.max_percent - SLOW_DOWN_PERCENT).min(20.0);
            let pause = (over * 100.0) as u64 + 100;
            self.host.log(
                Level::Info,
                &format!(
                    "ad account usage at {:.0} %: pausing {pause} ms between requests",
                    usage.max_percent
                ),
            );
            self.host.sleep_ms(pause);
        }
    }
}

/// A non-success answer and what to do about it.
struct Failure {
    class: ErrorClass,
    status: u16,
    error: Box<GraphError>,
    retry_after_ms: Option<u64>,
}

impl Failure {
    fn into_plugin_error(self, attempts: u32) -> PluginError {
        let upstream = UpstreamError {
            status: self.status,
            code: self.error.code,
            subcode: self.error.error_subcode,
            message: if attempts > 1 {
                format!("{} (after {attempts} attempts)", self.error.full_message())
            } else {
                self.error.full_message()
            },
            trace_id: self.error.fbtrace_id.clone(),
            retry_after_s: self.retry_after_ms.map(|ms| ms.div_ceil(1000)),
        };
        match self.class {
            ErrorClass::Reauthenticate => PluginError::AuthRejected(upstream),
            ErrorClass::RateLimited => PluginError::RateLimited(upstream),
            ErrorClass::Transient | ErrorClass::Fatal => PluginError::Upstream(upstream),
        }
    }
}

fn interpret(response: Response) -> Result<Vec<u8>, Failure> {
    let graph_error = GraphError::parse(&response.body);
    if (200..300).contains(&response.status) && graph_error.is_none() {
        return Ok(response.body);
    }
    let retry_after_ms = header(&response, "x-business-use-case-usage")
        .map(parse_usage)
        .filter(|u| u.regain_after_s > 0)
        .map(|u| u.regain_after_s * 1000);
    let error = graph_error.unwrap_or_else(|| GraphError {
        message: format!(
            "HTTP {} with a body that is not a Graph API error: {}",
            response.status,
            String::from_utf8_lossy(&response.body[..response.body.len().min(200)])
        ),
        ..GraphError::default()
    });
    // HTTP 5xx and 429 are the host's to retry (for idempotent requests); when they reach
    // the plugin the host has given up, so they are not retried a second time here.
    let class = if response.status >= 500 || response.status == 429 {
        match classify(&error) {
            ErrorClass::Reauthenticate => ErrorClass::Reauthenticate,
            _ => ErrorClass::Fatal,
        }
    } else {
        classify(&error)
    };
    Err(Failure {
        class,
        status: response.status,
        error: Box::new(error),
        retry_after_ms,
    })
}

/// The first value of a response header (names are lower-case).
pub fn header<'r>(response: &'r Response, name: &str) -> Option<&'r str> {
    response
        .headers
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
}

/// Parses a JSON answer, naming the call on failure.
pub fn parse_body<T: DeserializeOwned>(body: &[u8], path: &str) -> Result<T, PluginError> {
    serde_json::from_slice(body).map_err(|e| {
        PluginError::Upstream(UpstreamError {
            status: 200,
            code: None,
            subcode: None,
            message: format!("unexpected answer to {path}: {e}"),
            trace_id: None,
            retry_after_s: None,
        })
    })
}

fn host_error(e: HttpError) -> PluginError {
    PluginError::Host(match e {
        HttpError::Denied(m) => format!("request refused by the host: {m}"),
        HttpError::Transport(m) => format!("no answer from Facebook: {m}"),
        HttpError::UnknownRequest(id) => format!("unknown request id {id}"),
    })
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}
