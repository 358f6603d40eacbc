//! [`EmulatorConfig`]: how an emulator instance behaves.

use std::time::Duration;

use crate::faults::FaultSpec;
use crate::ids;

/// Settings of one emulator instance. [`Default`] gives a quiet emulator on a free port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// Port to listen on, on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Delay added to every Graph request before it is handled.
    pub latency: Duration,
    /// Faults active from the start (see [`FaultSpec`]).
    pub faults: Vec<FaultSpec>,
    /// Extra active ad accounts with terms accepted (`act_2000000001`, ...), beyond the three
    /// seeded ones; useful to exercise pagination.
    pub extra_accounts: usize,
    /// Accepted API versions such as `v25.0`. Empty (the default) accepts any `vNN.N`; otherwise
    /// other versions get Facebook's deprecated-version error (code 2635).
    pub api_versions: Vec<String>,
    /// `custom_audience` call budget per ad account per rolling hour (Facebook's full-access
    /// quota is 190,000; limited access is about 5,000).
    pub calls_per_hour: u32,
    /// The user access token to seed; `None` generates a random one.
    pub token: Option<String>,
    /// The app id (`client_id` of the OAuth dialog, `app_id` of `debug_token`).
    pub app_id: String,
    /// The app secret (OAuth code exchange, app tokens, `appsecret_proof`).
    pub app_secret: String,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            port: 0,
            latency: Duration::ZERO,
            faults: Vec::new(),
            extra_accounts: 0,
            api_versions: Vec::new(),
            calls_per_hour: 190_000,
            token: None,
            app_id: "1234567890".to_owned(),
            app_secret: ids::app_secret(),
        }
    }
}

impl EmulatorConfig {
    /// Checks the settings, returning what is wrong.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.calls_per_hour == 0 {
            return Err("calls_per_hour must be at least 1".to_owned());
        }
        if self.app_id.is_empty() || !self.app_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("app_id must be numeric, got `{}`", self.app_id));
        }
        if self.app_secret.is_empty() {
            return Err("app_secret must not be empty".to_owned());
        }
        if let Some(t) = &self.token
            && (t.is_empty() || t.contains('|') || t.chars().any(char::is_whitespace))
        {
            return Err("token must be non-empty, without `|` or whitespace".to_owned());
        }
        if let Some(v) = self.api_versions.iter().find(|v| !is_version(v)) {
            return Err(format!("api version `{v}` is not of the form vNN.N"));
        }
        Ok(())
    }
}

/// Whether `s` looks like a Graph API version (`v25.0`).
pub(crate) fn is_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let Some((major, minor)) = rest.split_once('.') else {
        return false;
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = EmulatorConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.app_id, "1234567890");
        assert_eq!(c.calls_per_hour, 190_000);
        assert_ne!(c.app_secret, EmulatorConfig::default().app_secret);
    }

    #[test]
    fn rejects_bad_settings() {
        let bad = |f: fn(&mut EmulatorConfig)| {
            let mut c = EmulatorConfig::default();
            f(&mut c);
            c.validate().is_err()
        };
        assert!(bad(|c| c.calls_per_hour = 0));
        assert!(bad(|c| c.app_id = "abc".into()));
        assert!(bad(|c| c.token = Some("a|b".into())));
        assert!(bad(|c| c.api_versions = vec!["25.0".into()]));
    }

    #[test]
    fn versions() {
        assert!(is_version("v25.0"));
        assert!(is_version("v3.10"));
        assert!(!is_version("v25"));
        assert!(!is_version("me"));
    }
}
