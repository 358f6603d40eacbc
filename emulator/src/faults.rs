//! Fault injection: the [`FaultSpec`] grammar and the book of active faults.
//!
//! # Grammar
//!
//! ```text
//! SPEC     := KIND [ "@" SCOPE ] [ "*" TIMES ]
//! KIND     := "status:" HTTP_STATUS        answer with this HTTP status (400..=599) and a Graph
//!                                          error body (code 4 for 429, code 2 otherwise)
//!           | "code:" CODE [ "/" SUBCODE ] answer with Facebook's error for this code
//!           | "slow:" DURATION             wait this long, then apply the request and answer
//!           | "drop"                       apply the request, then close the connection unanswered
//!           | "drop-before"                close the connection unanswered, request not applied
//!           | "revoke-after:" N            revoke every issued token after N more successful
//!                                          calls (N >= 1); later calls get 190/460
//! SCOPE    := METHOD | [ METHOD ":" ] PATH  PATH is a substring of the request path
//!                                          (e.g. `users` or `/customaudiences`); METHOD is GET,
//!                                          POST or DELETE (a POST with `method=DELETE` counts as
//!                                          DELETE)
//! TIMES    := N (>= 1) | "always"           how many matching requests get the fault; default 1
//! DURATION := N "ms" | N "s" | N "m"
//! ```
//!
//! A `revoke-after` fault counts the successful calls that match its scope and takes no `TIMES`.
//! Faults are tried in the order they were injected; a request gets at most one (the first that
//! matches), and `revoke-after` faults only watch. Faults apply to Graph requests only, never to
//! the `/_emulator/...` control endpoints.
//!
//! A `slow` fault delays *before* the request is applied; the request is then applied even if
//! the client gave up waiting in the meantime (as Facebook may finish work whose answer never
//! arrives), so a client retrying after its timeout exercises the replay rules.
//!
//! # Examples
//!
//! ```
//! use audex_emulator::{FaultKind, FaultSpec};
//!
//! let f: FaultSpec = "status:503@users*3".parse().expect("valid spec");
//! assert_eq!(f.kind, FaultKind::Status(503));
//! assert_eq!(f.path.as_deref(), Some("users"));
//! assert_eq!(f.times, Some(3));
//!
//! let f: FaultSpec = "code:17@POST:users*2".parse().expect("valid spec");
//! assert_eq!(f.kind, FaultKind::Code { code: 17, subcode: None });
//! assert_eq!(f.method.as_deref(), Some("POST"));
//!
//! let f: FaultSpec = "code:80003/2446079*always".parse().expect("valid spec");
//! assert_eq!(f.times, None);
//!
//! let f: FaultSpec = "slow:5000ms@users".parse().expect("valid spec");
//! assert_eq!(f.kind, FaultKind::Slow(std::time::Duration::from_secs(5)));
//!
//! assert_eq!("drop-before@usersreplace".parse::<FaultSpec>().map(|f| f.to_string()).ok(),
//!            Some("drop-before@usersreplace".to_string()));
//!
//! let err = "status:abc".parse::<FaultSpec>().expect_err("not a status");
//! assert!(err.to_string().contains("expected an HTTP status"));
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What an injected fault does to a matching request. See the [module docs](self) for the
/// string syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this HTTP status and a Graph error body (code 4 for 429, else code 2).
    Status(u16),
    /// Answer with Facebook's canonical error for this code (and subcode, if given).
    Code {
        /// `error.code`.
        code: i64,
        /// `error.error_subcode`; `None` uses the code's usual subcode, if it has one.
        subcode: Option<i64>,
    },
    /// Wait this long before applying the request and answering.
    Slow(Duration),
    /// Apply the request, then close the connection without answering ("the answer was lost").
    Drop,
    /// Close the connection without answering and without applying the request.
    DropBefore,
    /// Revoke every issued token after this many further successful matching calls.
    RevokeAfter(u32),
}

/// One fault to inject: what it does, which requests it applies to and how many times.
///
/// Parse one from the CLI syntax with [`str::parse`] (grammar in the [module docs](self)), or
/// build one with [`FaultSpec::new`] and the scope builders. [`fmt::Display`] prints the
/// canonical string form, which parses back to the same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpec {
    /// What the fault does.
    pub kind: FaultKind,
    /// Only requests with this (upper-case) method; `None` = any method.
    pub method: Option<String>,
    /// Only requests whose path contains this substring; `None` = any path.
    pub path: Option<String>,
    /// How many matching requests get the fault; `None` = all of them. Ignored by
    /// [`FaultKind::RevokeAfter`].
    pub times: Option<u32>,
}

impl FaultSpec {
    /// A fault that hits the next matching request once, on any method and path.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            method: None,
            path: None,
            times: Some(1),
        }
    }

    /// Restricts the fault to paths containing `substring`.
    pub fn on_path(mut self, substring: impl Into<String>) -> Self {
        self.path = Some(substring.into());
        self
    }

    /// Restricts the fault to one HTTP method (`GET`, `POST`, `DELETE`).
    pub fn on_method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into().to_ascii_uppercase());
        self
    }

    /// Applies the fault to `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Applies the fault to every matching request until cleared.
    pub fn always(mut self) -> Self {
        self.times = None;
        self
    }

    /// Whether this fault's scope covers a request.
    fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path.as_deref().is_none_or(|p| path.contains(p))
    }
}

/// Why a fault spec string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault spec `{input}`: {expected}")]
pub struct FaultParseError {
    /// The string that was parsed.
    pub input: String,
    /// What the parser expected instead.
    pub expected: String,
}

const METHODS: [&str; 3] = ["GET", "POST", "DELETE"];

impl FromStr for FaultSpec {
    type Err = FaultParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |expected: &str| FaultParseError {
            input: input.to_owned(),
            expected: expected.to_owned(),
        };
        let s = input.trim();
        let (rest, times) = match s.rsplit_once('*') {
            Some((rest, t)) if t.eq_ignore_ascii_case("always") => (rest, None),
            Some((rest, t)) => match t.parse::<u32>() {
                Ok(n) if n >= 1 => (rest, Some(n)),
                _ => return Err(fail("expected a count >= 1 or `always` after `*`")),
            },
            None => (s, Some(1)),
        };
        let (kind_str, scope) = match rest.split_once('@') {
            Some((k, scope)) => (k, Some(scope)),
            None => (rest, None),
        };
        let kind = parse_kind(kind_str).map_err(|e| fail(&e))?;
        if matches!(kind, FaultKind::RevokeAfter(_)) && s.contains('*') {
            return Err(fail(
                "`revoke-after:N` takes no `*count` (it fires once, after N successful calls)",
            ));
        }
        let (method, path) = match scope {
            None => (None, None),
            Some("") => return Err(fail("expected a method or path substring after `@`")),
            Some(scope) => parse_scope(scope),
        };
        Ok(Self {
            kind,
            method,
            path,
            times,
        })
    }
}

fn parse_scope(scope: &str) -> (Option<String>, Option<String>) {
    if METHODS.contains(&scope) {
        return (Some(scope.to_owned()), None);
    }
    match scope.split_once(':') {
        Some((m, p)) if METHODS.contains(&m) => (Some(m.to_owned()), Some(p.to_owned())),
        _ => (None, Some(scope.to_owned())),
    }
}

fn parse_kind(s: &str) -> Result<FaultKind, String> {
    const KINDS: &str = "expected one of `status:NNN`, `code:N[/SUBCODE]`, `slow:DURATION`, \
                         `drop`, `drop-before`, `revoke-after:N`";
    match s.split_once(':') {
        None if s == "drop" => Ok(FaultKind::Drop),
        None if s == "drop-before" => Ok(FaultKind::DropBefore),
        None => Err(KINDS.to_owned()),
        Some(("status", v)) => match v.parse::<u16>() {
            Ok(n) if (400..=599).contains(&n) => Ok(FaultKind::Status(n)),
            _ => Err(format!(
                "expected an HTTP status between 400 and 599 after `status:`, got `{v}`"
            )),
        },
        Some(("code", v)) => {
            let bad = || format!("expected `code:N` or `code:N/SUBCODE` with integers, got `{v}`");
            let (code, subcode) = match v.split_once('/') {
                Some((c, sc)) => (c, Some(sc.parse::<i64>().map_err(|_| bad())?)),
                None => (v, None),
            };
            let code = code.parse::<i64>().map_err(|_| bad())?;
            Ok(FaultKind::Code { code, subcode })
        }
        Some(("slow", v)) => parse_duration(v).map(FaultKind::Slow).ok_or_else(|| {
            format!("expected a duration such as `5000ms`, `5s` or `2m` after `slow:`, got `{v}`")
        }),
        Some(("revoke-after", v)) => match v.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(FaultKind::RevokeAfter(n)),
            _ => Err(format!(
                "expected a number of successful calls >= 1 after `revoke-after:`, got `{v}`"
            )),
        },
        Some(_) => Err(KINDS.to_owned()),
    }
}

fn parse_duration(v: &str) -> Option<Duration> {
    let (digits, unit): (&str, fn(u64) -> Duration) = if let Some(d) = v.strip_suffix("ms") {
        (d, Duration::from_millis)
    } else if let Some(d) = v.strip_suffix('s') {
        (d, Duration::from_secs)
    } else if let Some(d) = v.strip_suffix('m') {
        (d, |m| Duration::from_secs(m * 60))
    } else {
        return None;
    };
    digits.parse::<u64>().ok().map(unit)
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(s) => write!(f, "status:{s}"),
            Self::Code {
                code,
                subcode: None,
            } => write!(f, "code:{code}"),
            Self::Code {
                code,
                subcode: Some(sc),
            } => write!(f, "code:{code}/{sc}"),
            Self::Slow(d) => write!(f, "slow:{}ms", d.as_millis()),
            Self::Drop => f.write_str("drop"),
            Self::DropBefore => f.write_str("drop-before"),
            Self::RevokeAfter(n) => write!(f, "revoke-after:{n}"),
        }
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        match (&self.method, &self.path) {
            (None, None) => {}
            (Some(m), None) => write!(f, "@{m}")?,
            (None, Some(p)) => write!(f, "@{p}")?,
            (Some(m), Some(p)) => write!(f, "@{m}:{p}")?,
        }
        match (&self.kind, self.times) {
            (FaultKind::RevokeAfter(_), _) | (_, Some(1)) => Ok(()),
            (_, Some(n)) => write!(f, "*{n}"),
            (_, None) => f.write_str("*always"),
        }
    }
}

/// One injected fault and how much of it is left.
#[derive(Debug)]
struct ActiveFault {
    spec: FaultSpec,
    /// Requests left to hit (`None` = unlimited), or successes left before a revoke.
    remaining: Option<u32>,
}

/// The faults currently injected, in injection order.
#[derive(Debug, Default)]
pub(crate) struct FaultBook {
    active: Vec<ActiveFault>,
}

impl FaultBook {
    /// Adds a fault after the existing ones.
    pub(crate) fn inject(&mut self, spec: FaultSpec) {
        let remaining = match spec.kind {
            FaultKind::RevokeAfter(n) => Some(n),
            _ => spec.times,
        };
        self.active.push(ActiveFault { spec, remaining });
    }

    /// Removes every fault.
    pub(crate) fn clear(&mut self) {
        self.active.clear();
    }

    /// Takes the first fault that applies to this request (consuming one of its uses).
    pub(crate) fn take(&mut self, method: &str, path: &str) -> Option<FaultSpec> {
        let idx = self.active.iter().position(|f| {
            !matches!(f.spec.kind, FaultKind::RevokeAfter(_)) && f.spec.matches(method, path)
        })?;
        let fault = &mut self.active[idx];
        let spec = fault.spec.clone();
        if let Some(n) = fault.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.active.remove(idx);
            }
        }
        Some(spec)
    }

    /// Records a successful call; returns true when a `revoke-after` fault fires.
    pub(crate) fn record_success(&mut self, method: &str, path: &str) -> bool {
        let mut fire = false;
        self.active.retain_mut(|f| {
            if !matches!(f.spec.kind, FaultKind::RevokeAfter(_)) || !f.spec.matches(method, path) {
                return true;
            }
            let n = f.remaining.get_or_insert(1);
            *n = n.saturating_sub(1);
            if *n == 0 {
                fire = true;
                return false;
            }
            true
        });
        fire
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> FaultSpec {
        s.parse().expect("valid fault spec")
    }

    #[test]
    fn parses_every_kind() {
        assert_eq!(
            parse("status:503@users*3"),
            FaultSpec::new(FaultKind::Status(503))
                .on_path("users")
                .times(3)
        );
        assert_eq!(
            parse("code:613"),
            FaultSpec::new(FaultKind::Code {
                code: 613,
                subcode: None
            })
        );
        assert_eq!(
            parse("code:100/1713230@POST:users").kind,
            FaultKind::Code {
                code: 100,
                subcode: Some(1_713_230)
            }
        );
        assert_eq!(
            parse("slow:2s").kind,
            FaultKind::Slow(Duration::from_secs(2))
        );
        assert_eq!(
            parse("slow:1m").kind,
            FaultKind::Slow(Duration::from_secs(60))
        );
        assert_eq!(parse("drop@users").kind, FaultKind::Drop);
        assert_eq!(parse("drop-before").kind, FaultKind::DropBefore);
        assert_eq!(parse("revoke-after:5").kind, FaultKind::RevokeAfter(5));
        let m = parse("code:2@DELETE*always");
        assert_eq!(m.method.as_deref(), Some("DELETE"));
        assert_eq!(m.path, None);
        assert_eq!(m.times, None);
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "status:503@users*3",
            "code:17@POST:users*2",
            "code:80003/2446079*always",
            "slow:5000ms@users",
            "drop@DELETE",
            "drop-before",
            "revoke-after:3@users",
        ] {
            assert_eq!(parse(s).to_string(), s);
        }
    }

    #[test]
    fn errors_say_what_was_expected() {
        let cases = [
            ("status:200", "between 400 and 599"),
            ("code:x", "code:N"),
            ("slow:5", "duration"),
            ("explode", "expected one of"),
            ("drop*0", "count >= 1"),
            ("drop@", "after `@`"),
            ("revoke-after:0", ">= 1"),
            ("revoke-after:2*3", "takes no"),
        ];
        for (input, want) in cases {
            let err = input.parse::<FaultSpec>().expect_err(input);
            assert!(err.to_string().contains(want), "{input}: {err}");
            assert_eq!(err.input, input);
        }
    }

    #[test]
    fn book_consumes_counts_in_order() {
        let mut book = FaultBook::default();
        book.inject(parse("status:503@users*2"));
        book.inject(parse("code:4"));
        assert_eq!(
            book.take("GET", "/v25.0/act_1").map(|f| f.to_string()),
            Some("code:4".into())
        );
        assert!(book.take("GET", "/v25.0/act_1").is_none());
        assert!(book.take("POST", "/v25.0/1/users").is_some());
        assert!(book.take("POST", "/v25.0/1/users").is_some());
        assert!(book.take("POST", "/v25.0/1/users").is_none());
    }

    #[test]
    fn revoke_after_fires_once() {
        let mut book = FaultBook::default();
        book.inject(parse("revoke-after:2@users"));
        assert!(book.take("POST", "/v1.0/1/users").is_none());
        assert!(!book.record_success("GET", "/v1.0/act_1"));
        assert!(!book.record_success("POST", "/v1.0/1/users"));
        assert!(book.record_success("POST", "/v1.0/1/users"));
        assert!(!book.record_success("POST", "/v1.0/1/users"));
    }
}
