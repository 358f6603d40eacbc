//! The emulator's state: accounts, audiences, tokens, faults, budget and the request log, and
//! [`EmulatorState`], the shared handle on them.

pub(crate) mod accounts;
pub(crate) mod audiences;
pub(crate) mod integrity;
pub(crate) mod members;
pub(crate) mod sessions;
pub(crate) mod tokens;

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use serde::Serialize;

use crate::clock::Clock;
use crate::config::EmulatorConfig;
use crate::faults::{FaultBook, FaultSpec};
use crate::usage::Budget;
use crate::{EmulatorError, ids};
use accounts::Account;
use audiences::Audience;
use tokens::Tokens;

/// An audience as listed by [`EmulatorState::audiences`] and `GET /_emulator/audiences`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AudienceSummary {
    /// Audience id (a numeric string).
    pub id: String,
    /// Audience name.
    pub name: String,
    /// Owning ad account, `act_<digits>`.
    pub account: String,
    /// `CUSTOM` or `LOOKALIKE`.
    pub subtype: String,
}

/// Everything the emulator knows about an audience's contents, for tests
/// ([`EmulatorState::audience`], `GET /_emulator/audiences/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AudienceDetail {
    /// Audience id.
    pub id: String,
    /// Audience name.
    pub name: String,
    /// Owning ad account, `act_<digits>`.
    pub account: String,
    /// `CUSTOM` or `LOOKALIKE`.
    pub subtype: String,
    /// Member keys, sorted: the identifier for single-key uploads, `KEY=value|KEY=value` (the
    /// row's non-empty identifier cells in schema order) for multi-key uploads.
    pub members: Vec<String>,
    /// Per key name (`EMAIL_SHA256`, `EMAIL`, `MADID`, ...), the distinct values held by
    /// members, sorted.
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
    /// Distinct identifiers that arrived again in a later batch while already members.
    pub duplicates_received: u64,
    /// Batches re-sent with an already-applied `(session_id, batch_seq)`.
    pub batches_replayed: u64,
    /// Batches applied (replays excluded).
    pub batches_received: u64,
    /// Schema of the latest upload: a string (single key) or a list (multi-key); `null` before
    /// any upload.
    pub schema: Option<serde_json::Value>,
}

/// One Graph request as the emulator saw it. Tokens and parameters are never recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedRequest {
    /// Effective method (a POST with `method=DELETE` is logged as DELETE).
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// HTTP status answered; `None` when the connection was dropped by a fault.
    pub status: Option<u16>,
    /// Graph `error.code` of the answer, if it was an error.
    pub error_code: Option<i64>,
    /// Graph `error.error_subcode` of the answer, if any.
    pub error_subcode: Option<i64>,
    /// The fault applied to the request, in [`FaultSpec`] syntax.
    pub fault: Option<String>,
    /// Upload `session.session_id`, for uploads.
    pub session_id: Option<String>,
    /// Upload `session.batch_seq`, for uploads.
    pub batch_seq: Option<u64>,
    /// Rows in the upload's `payload.data`, for uploads.
    pub rows: Option<usize>,
    /// When it arrived, in milliseconds since the Unix epoch on the emulator's clock.
    pub at_ms: u64,
}

/// Mutable state, behind one lock.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) accounts: Vec<Account>,
    pub(crate) audiences: Vec<Audience>,
    pub(crate) tokens: Tokens,
    pub(crate) faults: FaultBook,
    pub(crate) budget: Budget,
    pub(crate) log: Vec<LoggedRequest>,
}

impl World {
    /// The account with these digits.
    pub(crate) fn account(&self, digits: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.digits == digits)
    }

    /// The audience with this id.
    pub(crate) fn audience(&self, id: &str) -> Option<&Audience> {
        self.audiences.iter().find(|a| a.id == id)
    }

    /// The audience with this id, mutably.
    pub(crate) fn audience_mut(&mut self, id: &str) -> Option<&mut Audience> {
        self.audiences.iter_mut().find(|a| a.id == id)
    }
}

/// Immutable settings and the locked world.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) world: Mutex<World>,
    pub(crate) clock: Clock,
    pub(crate) token: String,
    pub(crate) app_id: String,
    pub(crate) app_secret: String,
    pub(crate) latency: Duration,
    pub(crate) api_versions: Vec<String>,
    /// `http://127.0.0.1:PORT`, known once a listener is bound.
    pub(crate) base_url: OnceLock<String>,
}

/// A cheaply clonable handle on one emulator's state: what the HTTP server serves, and what
/// tests and the host inspect and steer.
#[derive(Debug, Clone)]
pub struct EmulatorState {
    pub(crate) shared: Arc<Shared>,
}

impl EmulatorState {
    /// Builds the seeded state for `config` (accounts, the user token, initial faults).
    pub fn new(config: &EmulatorConfig) -> Result<Self, EmulatorError> {
        config.validate().map_err(EmulatorError::Config)?;
        let clock = Clock::default();
        let token = config.token.clone().unwrap_or_else(ids::access_token);
        let mut tokens = Tokens::default();
        tokens.insert(
            token.clone(),
            tokens::SEED_SCOPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            clock.now_s(),
        );
        let mut faults = FaultBook::default();
        for f in &config.faults {
            faults.inject(f.clone());
        }
        let world = World {
            accounts: accounts::seed(config.extra_accounts),
            audiences: Vec::new(),
            tokens,
            faults,
            budget: Budget::new(config.calls_per_hour),
            log: Vec::new(),
        };
        Ok(Self {
            shared: Arc::new(Shared {
                world: Mutex::new(world),
                clock,
                token,
                app_id: config.app_id.clone(),
                app_secret: config.app_secret.clone(),
                latency: config.latency,
                api_versions: config.api_versions.clone(),
                base_url: OnceLock::new(),
            }),
        })
    }

    /// Locks the world. A panic while the lock was held leaves the state usable.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.shared
            .world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The seeded user access token.
    pub fn access_token(&self) -> &str {
        &self.shared.token
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.shared.app_id
    }

    /// The app secret.
    pub fn app_secret(&self) -> &str {
        &self.shared.app_secret
    }

    /// `http://127.0.0.1:PORT` once serving, else `None`.
    pub fn base_url(&self) -> Option<&str> {
        self.shared.base_url.get().map(String::as_str)
    }

    /// Adds a fault after those already active.
    pub fn inject(&self, fault: FaultSpec) {
        self.world().faults.inject(fault);
    }

    /// Removes every active fault.
    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    /// Moves the emulator's clock forward (token and session expiry, budget window).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Invalidates every token issued so far: later calls with them get 190/460. Tokens minted
    /// afterwards (OAuth) are valid.
    pub fn revoke_token(&self) {
        self.world().tokens.revoke_all();
    }

    /// Every audience, in creation order.
    pub fn audiences(&self) -> Vec<AudienceSummary> {
        self.world()
            .audiences
            .iter()
            .map(|a| AudienceSummary {
                id: a.id.clone(),
                name: a.name.clone(),
                account: format!("act_{}", a.account),
                subtype: a.subtype.as_str().to_owned(),
            })
            .collect()
    }

    /// The contents of one audience.
    pub fn audience(&self, id: &str) -> Option<AudienceDetail> {
        let world = self.world();
        let a = world.audience(id)?;
        Some(AudienceDetail {
            id: a.id.clone(),
            name: a.name.clone(),
            account: format!("act_{}", a.account),
            subtype: a.subtype.as_str().to_owned(),
            members: a.members.sorted_keys(),
            keys: a.keys_json(),
            duplicates_received: a.duplicates_received,
            batches_replayed: a.batches_replayed,
            batches_received: a.batches_received,
            schema: a.schema.as_ref().map(crate::upload::Schema::to_json),
        })
    }

    /// The Graph requests received so far, oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.world().log.clone()
    }
}
