//! The rules every plugin request passes before it can leave the machine: the endpoint must
//! be declared, the path relative and clean, no credential header set by the guest, secrets
//! named in the manifest. Credentials themselves are placed later by the transport, so a
//! prepared request (which dry runs record) never holds one.

use std::collections::BTreeMap;

use crate::plugin::manifest::{Endpoint, Manifest};

/// Headers a plugin may never set: the host owns authentication.
const FORBIDDEN_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "x-audex-signature",
];

/// A query parameter value: given by the plugin, or a host secret to be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryValue {
    /// A plain value.
    Plain(String),
    /// The named secret.
    Secret(String),
}

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A request that passed mediation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    /// Method.
    pub method: Method,
    /// Logical endpoint name.
    pub endpoint: String,
    /// Resolved base URL (no trailing slash).
    pub base_url: String,
    /// Relative path.
    pub path: String,
    /// Query parameters.
    pub query: Vec<(String, QueryValue)>,
    /// Plugin headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Option<Vec<u8>>,
    /// Whether the endpoint's default authentication applies.
    pub authenticate: bool,
    /// Safe to send twice.
    pub idempotent: bool,
}

/// Why a request was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MediationError {
    /// The endpoint is not in the manifest.
    #[error("endpoint `{0}` is not declared in the plugin manifest")]
    UnknownEndpoint(String),
    /// The path could reach another host or escape the base.
    #[error(
        "path `{0}` is not a clean relative path (it must start with one `/` and contain no `..`, `//`, `@`, `?`, `#` or `\\`)"
    )]
    BadPath(String),
    /// The plugin set a credential header.
    #[error("header `{0}` is reserved for the host")]
    ForbiddenHeader(String),
    /// The plugin named an undeclared secret.
    #[error("secret `{0}` is not declared in the plugin manifest")]
    UnknownSecret(String),
    /// The configured base URL's host is not allowed.
    #[error(
        "host `{host}` of endpoint `{endpoint}` is outside the manifest's allow-list ({allowed})"
    )]
    HostNotAllowed {
        /// Endpoint.
        endpoint: String,
        /// Offending host.
        host: String,
        /// The allow-list.
        allowed: String,
    },
    /// The configured base URL is plain `http://` on another machine.
    #[error(
        "endpoint `{endpoint}` is set to plain http:// on `{host}`: audex sends credentials only over https (certificate verification on), except to this machine (localhost, 127.0.0.1, ::1)"
    )]
    PlainHttp {
        /// Endpoint.
        endpoint: String,
        /// Offending host.
        host: String,
    },
}

/// Applies a manifest's rules to requests.
#[derive(Debug, Clone)]
pub struct Mediator {
    endpoints: BTreeMap<String, (Endpoint, String)>,
    secrets: Vec<String>,
}

impl Mediator {
    /// A mediator for `manifest`, with base URLs overridden per endpoint by `overrides`
    /// (from the pipeline or the environment). An override is allowed because the user
    /// configured it; the plugin cannot choose one.
    pub fn new(
        manifest: &Manifest,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Self, MediationError> {
        let mut endpoints = BTreeMap::new();
        for (name, endpoint) in &manifest.endpoints {
            let base = overrides
                .get(name)
                .cloned()
                .unwrap_or_else(|| endpoint.base_url.clone());
            let base = base.trim_end_matches('/').to_owned();
            if base
                .get(..7)
                .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
                && !is_loopback(host_of(&base))
            {
                return Err(MediationError::PlainHttp {
                    endpoint: name.clone(),
                    host: host_of(&base).to_owned(),
                });
            }
            if !overrides.contains_key(name) {
                let host = host_of(&base);
                if !endpoint.allowed_hosts.iter().any(|h| h == host) {
                    return Err(MediationError::HostNotAllowed {
                        endpoint: name.clone(),
                        host: host.to_owned(),
                        allowed: endpoint.allowed_hosts.join(", "),
                    });
                }
            }
            endpoints.insert(name.clone(), (endpoint.clone(), base));
        }
        Ok(Self {
            endpoints,
            secrets: manifest.secrets.clone(),
        })
    }

    /// The resolved base URL of an endpoint.
    pub fn base_url(&self, endpoint: &str) -> Option<&str> {
        self.endpoints.get(endpoint).map(|(_, b)| b.as_str())
    }

    /// The manifest entry of an endpoint.
    pub fn endpoint(&self, endpoint: &str) -> Option<&Endpoint> {
        self.endpoints.get(endpoint).map(|(e, _)| e)
    }

    /// Checks a plugin request and prepares it.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare(
        &self,
        method: Method,
        endpoint: &str,
        path: &str,
        query: Vec<(String, String)>,
        secret_params: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        authenticate: bool,
        idempotent: bool,
    ) -> Result<PreparedRequest, MediationError> {
        let (_, base) = self
            .endpoints
            .get(endpoint)
            .ok_or_else(|| MediationError::UnknownEndpoint(endpoint.to_owned()))?;
        if !is_clean_path(path) {
            return Err(MediationError::BadPath(path.to_owned()));
        }
        let mut clean_headers = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            if FORBIDDEN_HEADERS.contains(&lower.as_str()) {
                return Err(MediationError::ForbiddenHeader(name));
            }
            clean_headers.push((lower, value));
        }
        let mut params: Vec<(String, QueryValue)> = query
            .into_iter()
            .map(|(n, v)| (n, QueryValue::Plain(v)))
            .collect();
        for (param, secret) in secret_params {
            if !self.secrets.contains(&secret) {
                return Err(MediationError::UnknownSecret(secret));
            }
            params.push((param, QueryValue::Secret(secret)));
        }
        Ok(PreparedRequest {
            method,
            endpoint: endpoint.to_owned(),
            base_url: base.clone(),
            path: path.to_owned(),
            query: params,
            headers: clean_headers,
            body,
            authenticate,
            idempotent,
        })
    }
}

/// The host part of an absolute URL.
/// True for this machine: `localhost` or a loopback address.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    host_port.split(':').next().unwrap_or(host_port)
}

fn is_clean_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains(['?', '#', '@', '\\'])
        && !path.split('/').any(|seg| seg == ".." || seg == ".")
        && !path.chars().any(|c| c.is_control() || c == ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest::parse(
            r#"
name = "t"
version = "0.1.0"
wit = "0.1.0"
secrets = ["access-token"]
[endpoints.api]
base_url = "https://api.example.com/"
allowed_hosts = ["api.example.com"]
"#,
            "test",
        )
        .expect("manifest")
    }

    fn prepare(
        m: &Mediator,
        path: &str,
        headers: Vec<(String, String)>,
    ) -> Result<PreparedRequest, MediationError> {
        m.prepare(
            Method::Get,
            "api",
            path,
            vec![],
            vec![],
            headers,
            None,
            true,
            true,
        )
    }

    #[test]
    fn accepts_clean_requests() {
        let m = Mediator::new(&manifest(), &BTreeMap::new()).expect("mediator");
        let r = prepare(&m, "/v1/items", vec![("X-Trace".into(), "1".into())]).expect("ok");
        assert_eq!(r.base_url, "https://api.example.com");
        assert_eq!(r.headers, vec![("x-trace".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn refuses_paths_that_could_leave_the_host() {
        let m = Mediator::new(&manifest(), &BTreeMap::new()).expect("mediator");
        for bad in [
            "//evil.com/x",
            "v1/x",
            "/a/../b",
            "/x@evil.com",
            "/x?y=1",
            "/a\\b",
            "/a b",
        ] {
            assert!(
                matches!(prepare(&m, bad, vec![]), Err(MediationError::BadPath(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_auth_headers_unknown_endpoints_and_secrets() {
        let m = Mediator::new(&manifest(), &BTreeMap::new()).expect("mediator");
        let e =
            prepare(&m, "/x", vec![("Authorization".into(), "Bearer x".into())]).expect_err("auth");
        assert_eq!(e, MediationError::ForbiddenHeader("Authorization".into()));
        let e = m
            .prepare(
                Method::Get,
                "other",
                "/x",
                vec![],
                vec![],
                vec![],
                None,
                true,
                true,
            )
            .expect_err("endpoint");
        assert!(matches!(e, MediationError::UnknownEndpoint(_)));
        let e = m
            .prepare(
                Method::Get,
                "api",
                "/x",
                vec![],
                vec![("p".into(), "app-secret".into())],
                vec![],
                None,
                true,
                true,
            )
            .expect_err("secret");
        assert!(matches!(e, MediationError::UnknownSecret(_)));
    }

    #[test]
    fn base_url_outside_allow_list_is_refused_unless_configured() {
        let mut m = manifest();
        m.endpoints.get_mut("api").expect("api").base_url = "https://evil.example.org".into();
        assert!(matches!(
            Mediator::new(&m, &BTreeMap::new()),
            Err(MediationError::HostNotAllowed { .. })
        ));
        let overrides = BTreeMap::from([("api".to_owned(), "http://127.0.0.1:9".to_owned())]);
        let med = Mediator::new(&manifest(), &overrides).expect("configured override");
        assert_eq!(med.base_url("api"), Some("http://127.0.0.1:9"));
        assert_eq!(host_of("http://u@[::1]:80/x"), "::1");
    }

    #[test]
    fn plain_http_is_refused_except_to_this_machine() {
        for url in [
            "http://127.0.0.1:9",
            "http://localhost:8080",
            "http://[::1]:80",
        ] {
            let overrides = BTreeMap::from([("api".to_owned(), url.to_owned())]);
            assert!(Mediator::new(&manifest(), &overrides).is_ok(), "{url}");
        }
        for url in [
            "http://graph.example.com",
            "HTTP://10.0.0.8:80",
            "http://u@evil.org",
        ] {
            let overrides = BTreeMap::from([("api".to_owned(), url.to_owned())]);
            let e = Mediator::new(&manifest(), &overrides).expect_err(url);
            assert!(matches!(e, MediationError::PlainHttp { .. }), "{url}");
            assert!(e.to_string().contains("only over https"), "{e}");
        }
        let overrides =
            BTreeMap::from([("api".to_owned(), "https://graph.example.com".to_owned())]);
        assert!(Mediator::new(&manifest(), &overrides).is_ok());
    }
}
