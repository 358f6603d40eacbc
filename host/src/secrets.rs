//! Secrets the host holds for plugins (access tokens, app secrets). They are named in the
//! plugin manifest, never handed to a plugin, and never printed: `Debug` shows `<redacted>`.

use std::collections::BTreeMap;
use std::fmt;

/// A secret value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must use it (an HTTP request being sent).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Secrets by manifest name (`access-token`, `app-secret`, ...).
#[derive(Debug, Clone, Default)]
pub struct Secrets(BTreeMap<String, Secret>);

impl Secrets {
    /// Adds or replaces a secret.
    pub fn insert(&mut self, name: &str, value: Secret) {
        self.0.insert(name.to_owned(), value);
    }

    /// A secret by name.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.0.get(name)
    }

    /// True when `name` is set.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Secrets from the environment: `AUDEX_SECRET_ACCESS_TOKEN` for `access-token`, and so
    /// on for each name the manifest declares.
    pub fn from_env(names: &[String]) -> Self {
        let mut secrets = Self::default();
        for name in names {
            if let Ok(value) = std::env::var(env_var(name))
                && !value.is_empty()
            {
                secrets.insert(name, Secret::new(value));
            }
        }
        secrets
    }

    /// Every value, to scrub them from text that might echo one.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.values().map(Secret::expose)
    }
}

/// The environment variable carrying secret `name`.
pub fn env_var(name: &str) -> String {
    format!(
        "AUDEX_SECRET_{}",
        name.replace('-', "_").to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_values() {
        let mut s = Secrets::default();
        s.insert("access-token", Secret::new("EAAtopsecret"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("EAAtopsecret"), "{shown}");
        assert_eq!(
            s.get("access-token").map(Secret::expose),
            Some("EAAtopsecret")
        );
        assert_eq!(env_var("app-secret"), "AUDEX_SECRET_APP_SECRET");
    }
}
