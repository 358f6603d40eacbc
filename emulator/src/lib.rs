//! A local emulator of the Facebook Graph API endpoints audex uses.
//!
//! It answers, on 127.0.0.1 only, with Facebook's shapes, validations and error codes:
//!
//! | endpoints, under `/{version}/` (any `vNN.N`) or unversioned |
//! |---|
//! | `GET dialog/oauth` (consent page), `POST dialog/oauth` (302 to `redirect_uri` with `code` and `state`) |
//! | `GET oauth/access_token` (`code` exchange, `grant_type=fb_exchange_token`, `client_credentials`) |
//! | `GET debug_token?input_token=` (with the app token `APPID|SECRET` or a user token) |
//! | `GET me`, `GET me/permissions`, `GET me/adaccounts`, `GET act_{id}` |
//! | `GET/POST act_{id}/customaudiences` (CUSTOM and LOOKALIKE), `GET/DELETE {audience_id}` |
//! | `POST/DELETE {audience_id}/users` (or `POST` with `method=DELETE`), `POST {audience_id}/usersreplace`, `GET {audience_id}/sessions` |
//!
//! Test controls, without version, token, faults or latency:
//!
//! | call | effect |
//! |---|---|
//! | `GET /_emulator/audiences` | `[{"id","name","account","subtype"}]` ([`AudienceSummary`]) |
//! | `GET /_emulator/audiences/{id}` | [`AudienceDetail`] as JSON; 404 if unknown |
//! | `POST /_emulator/faults` | body: a JSON list of fault spec strings (all parsed before any is injected; 400 naming what was expected) |
//! | `DELETE /_emulator/faults` | clears the faults |
//! | `POST /_emulator/clock` | body `{"advance_s": N}` moves the emulator's clock forward |
//! | `POST /_emulator/revoke` | revokes every token issued so far |
//! | `GET /_emulator/requests` | the request log ([`LoggedRequest`]) |
//!
//! Tokens are accepted as `Authorization: Bearer T` or an `access_token` parameter; bodies as
//! JSON, form-encoded or multipart, with structured fields given as JSON values or JSON
//! strings. A present `appsecret_proof` must be `hex(HMAC-SHA256(app_secret, token))`.
//!
//! Seeded state: `act_1000000001` (active, terms accepted), `act_1000000002` (custom audience
//! terms not accepted: 200/1870090 with the acceptance URL), `act_1000000003` (disabled:
//! writes fail with code 200), plus [`EmulatorConfig::extra_accounts`] accounts
//! `act_2000000001`... The user token has `ads_management`, `business_management` and
//! `ads_read`, and expires 60 days after start on the emulator's clock.
//!
//! # Uploads
//!
//! - Hashed keys (`EMAIL_SHA256`, `PHONE_SHA256`, multi-key `EMAIL`, `PHONE`, `FN`, ...) must be
//!   64 hex digits (stored lower-cased); `MOBILE_ADVERTISER_ID` / `MADID` must be a UUID (stored
//!   lower-cased); `EXTERN_ID` is kept verbatim. A row with a cell that breaks these rules, or
//!   with no identifier at all, is an *invalid entry*: counted in `num_invalid_entries`, sampled
//!   in `invalid_entry_samples` (value → reason, at most 100), and not applied. Empty cells are
//!   fine in multi-key rows. Unknown schema names, rows of the wrong width and more than 10,000
//!   rows fail the whole request with code 100.
//! - Member keys: for a single-key schema, the identifier itself; for a multi-key schema, the
//!   row's non-empty identifier cells in schema order as `KEY=value` joined with `|`
//!   (`EMAIL=<sha256>|PHONE=<sha256>`). Per-key value sets are kept too
//!   ([`AudienceDetail::keys`]). `DELETE` removes the members whose key matches exactly.
//! - One audience takes single-key or multi-key payloads, never both (2650, naming
//!   `FILE_IMPORTED.MULTI_HASHES` / `FILE_IMPORTED.HASHES_OR_USER_IDS`).
//! - Sessions: `session_id` is a positive integer (number or numeric string); a new session must
//!   start at `batch_seq` 1 (2650/1870147); nothing is accepted after the batch with
//!   `last_batch_flag` (2650/1870159) or more than 90 minutes after the first batch on the
//!   emulator's clock (2650/1870158). `num_received` is cumulative for the session;
//!   `num_invalid_entries` and `invalid_entry_samples` are for the request. Without a session,
//!   each request is its own finished session.
//! - Replays: a batch re-sent with an already-applied `(session_id, batch_seq)` is not applied
//!   again; it is counted in [`AudienceDetail::batches_replayed`] and answered with the original
//!   response (the payload of the replay is not compared). Distinct identifiers of a batch that
//!   were already members before it count in [`AudienceDetail::duplicates_received`].
//! - `usersreplace` needs a session; its batch 1 clears the members; while a replace session is
//!   open, `/users` calls and other replace sessions get 2650/1870145.
//!
//! # Budget and usage headers
//!
//! Every authenticated call on an ad account or one of its audiences counts against that
//! account's [`EmulatorConfig::calls_per_hour`] over a rolling hour (minute buckets, emulator
//! clock). Those answers carry `X-Business-Use-Case-Usage`
//! (`{"<digits>":[{"type":"custom_audience","call_count","total_cputime","total_time","estimated_time_to_regain_access"}]}`);
//! once `call_count` reaches 100, calls are refused with 80003/2446079 (`is_transient: true`,
//! not counted) until the window frees up, and `estimated_time_to_regain_access` (minutes) is
//! positive. Every Graph answer carries `X-App-Usage`.
//!
//! # Errors
//!
//! Error bodies are Facebook's: `{"error":{"message","type","code","error_subcode"?,
//! "error_user_title"?,"error_user_msg"?,"is_transient"?,"fbtrace_id"}}`, with HTTP 400, or 500
//! for codes 1 and 2. Tokens: missing → 104; unknown → 190; revoked → 190/460; expired →
//! 190/463. Unknown objects and paths → 100/33 (`GraphMethodException`). Unknown `fields` →
//! 100 "Tried accessing nonexisting field". Without `ads_management` (writes) or `ads_read`
//! (reads) → 200.
//!
//! # Faults
//!
//! See [`faults`] for the [`FaultSpec`] grammar (`status:503@users*3`, `code:613`,
//! `slow:5000ms@users`, `drop@users`, `drop-before@users`, `revoke-after:10`, ...).
//!
//! ```
//! use audex_emulator::{Emulator, EmulatorConfig};
//!
//! let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator starts");
//! assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
//! emulator.inject("status:503@users*2".parse().expect("valid fault"));
//! emulator.shutdown();
//! ```

mod clock;
mod config;
pub mod faults;
mod fields;
mod graph_error;
mod handle;
mod ids;
mod params;
mod pipeline;
mod routes;
mod server;
mod state;
mod upload;
mod usage;

pub use config::EmulatorConfig;
pub use faults::{FaultKind, FaultParseError, FaultSpec};
pub use handle::{Emulator, EmulatorHandle};
pub use ids::{APP_SECRET_MARKER, TOKEN_PREFIX};
pub use server::{serve, serve_with_shutdown};
pub use state::{AudienceDetail, AudienceSummary, EmulatorState, LoggedRequest};

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// A setting of [`EmulatorConfig`] is invalid.
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    /// The port could not be bound.
    #[error("could not listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for (0 = any).
        port: u16,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The runtime or its thread could not be started.
    #[error("could not start the emulator's runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// `hex(HMAC-SHA256(key = app_secret, message = access_token))`, the `appsecret_proof`
/// parameter Facebook expects (handy for clients and tests).
pub fn appsecret_proof(app_secret: &str, access_token: &str) -> String {
    routes::appsecret_proof(app_secret, access_token)
}
