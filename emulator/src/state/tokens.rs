//! Access tokens, OAuth dialog requests and authorization codes.

use std::collections::HashMap;

use crate::clock::format_graph_date;
use crate::graph_error::{GraphError, GraphResult};
use crate::ids;

/// Lifetime of a user token, as reported by `oauth/access_token` (`expires_in`).
pub(crate) const TOKEN_LIFETIME_S: u64 = 5_183_944;
/// Lifetime of an authorization code.
const CODE_LIFETIME_S: u64 = 600;
/// The emulated user's id.
pub(crate) const USER_ID: &str = "100000000000001";
/// Scopes of the seeded token.
pub(crate) const SEED_SCOPES: [&str; 3] = ["ads_management", "business_management", "ads_read"];

/// One user access token.
#[derive(Debug, Clone)]
pub(crate) struct TokenInfo {
    pub(crate) issued_at: u64,
    pub(crate) expires_at: u64,
    pub(crate) scopes: Vec<String>,
    pub(crate) revoked: bool,
}

impl TokenInfo {
    /// Why the token cannot be used at `now_s`, if it cannot.
    pub(crate) fn problem(&self, now_s: u64) -> Option<GraphError> {
        if self.revoked {
            return Some(GraphError::canned(190, Some(460)));
        }
        if now_s >= self.expires_at {
            return Some(
                GraphError::new(
                    190,
                    format!(
                        "Error validating access token: Session has expired on {}. The current \
                         time is {}.",
                        format_graph_date(self.expires_at),
                        format_graph_date(now_s)
                    ),
                )
                .subcode(463),
            );
        }
        None
    }

    /// Whether the token carries `scope`.
    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// A pending OAuth dialog (between the page and its form POST).
#[derive(Debug, Clone)]
pub(crate) struct DialogRequest {
    pub(crate) redirect_uri: String,
    pub(crate) state: Option<String>,
    pub(crate) scopes: Vec<String>,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
struct AuthCode {
    redirect_uri: String,
    scopes: Vec<String>,
    issued_at: u64,
    used: bool,
}

/// Every token, dialog and code the emulator issued.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    tokens: HashMap<String, TokenInfo>,
    dialogs: HashMap<String, DialogRequest>,
    codes: HashMap<String, AuthCode>,
}

/// The error for a token the emulator never issued.
pub(crate) fn unknown_token() -> GraphError {
    GraphError::new(
        190,
        "Invalid OAuth access token - Cannot parse access token",
    )
}

impl Tokens {
    /// Registers `token` with `scopes`, valid for 60 days from `now_s`.
    pub(crate) fn insert(&mut self, token: String, scopes: Vec<String>, now_s: u64) {
        self.tokens.insert(
            token,
            TokenInfo {
                issued_at: now_s,
                expires_at: now_s + TOKEN_LIFETIME_S,
                scopes,
                revoked: false,
            },
        );
    }

    /// Mints a new token.
    pub(crate) fn mint(&mut self, scopes: Vec<String>, now_s: u64) -> String {
        let token = ids::access_token();
        self.insert(token.clone(), scopes, now_s);
        token
    }

    /// Looks a token up, whatever its state.
    pub(crate) fn get(&self, token: &str) -> Option<&TokenInfo> {
        self.tokens.get(token)
    }

    /// A usable token, or the 190 error for it.
    pub(crate) fn check(&self, token: &str, now_s: u64) -> GraphResult<&TokenInfo> {
        let info = self.tokens.get(token).ok_or_else(unknown_token)?;
        match info.problem(now_s) {
            Some(e) => Err(e),
            None => Ok(info),
        }
    }

    /// Invalidates every token issued so far (like a password change); later ones are valid.
    pub(crate) fn revoke_all(&mut self) {
        for t in self.tokens.values_mut() {
            t.revoked = true;
        }
    }

    /// Remembers a dialog request; returns its id for the consent form.
    pub(crate) fn open_dialog(&mut self, request: DialogRequest) -> String {
        let id = ids::alphanumeric(24);
        self.dialogs.insert(id.clone(), request);
        id
    }

    /// Takes a pending dialog request.
    pub(crate) fn take_dialog(&mut self, id: &str) -> Option<DialogRequest> {
        self.dialogs.remove(id)
    }

    /// Issues an authorization code for a consented dialog.
    pub(crate) fn issue_code(&mut self, dialog: &DialogRequest, now_s: u64) -> String {
        let code = format!("AQ{}", ids::alphanumeric(94));
        self.codes.insert(
            code.clone(),
            AuthCode {
                redirect_uri: dialog.redirect_uri.clone(),
                scopes: dialog.scopes.clone(),
                issued_at: now_s,
                used: false,
            },
        );
        code
    }

    /// Exchanges an authorization code for a new token.
    pub(crate) fn redeem_code(
        &mut self,
        code: &str,
        redirect_uri: &str,
        now_s: u64,
    ) -> GraphResult<String> {
        let mismatch = || {
            GraphError::new(
                100,
                "Error validating verification code. Please make sure your redirect_uri is \
                 identical to the one you used in the OAuth dialog request",
            )
            .subcode(36008)
        };
        let entry = self.codes.get_mut(code).ok_or_else(mismatch)?;
        if entry.used {
            return Err(
                GraphError::new(100, "This authorization code has been used.").subcode(36009),
            );
        }
        if now_s >= entry.issued_at + CODE_LIFETIME_S {
            return Err(GraphError::new(100, "This authorization code has expired.").subcode(36007));
        }
        if entry.redirect_uri != redirect_uri {
            return Err(mismatch());
        }
        entry.used = true;
        let scopes = entry.scopes.clone();
        Ok(self.mint(scopes, now_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lifecycle() {
        let mut t = Tokens::default();
        t.insert("tok".into(), vec!["ads_read".into()], 100);
        assert!(t.check("tok", 101).is_ok());
        assert_eq!(
            t.check("tok", 100 + TOKEN_LIFETIME_S)
                .map(|_| ())
                .map_err(|e| e.subcode),
            Err(Some(463))
        );
        assert_eq!(
            t.check("nope", 101).map(|_| ()).map_err(|e| e.code),
            Err(190)
        );
        t.revoke_all();
        assert_eq!(
            t.check("tok", 101).map(|_| ()).map_err(|e| e.subcode),
            Err(Some(460))
        );
        let fresh = t.mint(vec![], 101);
        assert!(t.check(&fresh, 102).is_ok());
    }

    #[test]
    fn codes_are_single_use_and_bound_to_the_redirect() {
        let mut t = Tokens::default();
        let dialog = DialogRequest {
            redirect_uri: "http://localhost/cb".into(),
            state: None,
            scopes: vec!["ads_management".into()],
        };
        let code = t.issue_code(&dialog, 0);
        let wrong = t
            .redeem_code(&code, "http://localhost/other", 1)
            .map_err(|e| e.subcode);
        assert_eq!(wrong, Err(Some(36008)));
        let token = t
            .redeem_code(&code, "http://localhost/cb", 1)
            .expect("valid code");
        assert!(
            t.check(&token, 2)
                .map(|i| i.has_scope("ads_management"))
                .unwrap_or(false)
        );
        let again = t
            .redeem_code(&code, "http://localhost/cb", 1)
            .map_err(|e| e.subcode);
        assert_eq!(again, Err(Some(36009)));
        let late = t.issue_code(&dialog, 0);
        let expired = t
            .redeem_code(&late, "http://localhost/cb", 601)
            .map_err(|e| e.subcode);
        assert_eq!(expired, Err(Some(36007)));
    }
}
