//! The run journal: an SQLite database in the state directory (`journal.sqlite3`) that
//! records every live run and, for each audience, where its upload stands, so that a run
//! interrupted by a crash, a kill or an error resumes instead of starting over.
//!
//! A *logical run* is one export of a pipeline's input to one destination account; it has one
//! or more *attempts* (`audex run` invocations). An attempt that does not succeed leaves the
//! logical run open: the next attempt of the same pipeline, account and destination resumes
//! it, with the audiences it created and their last acknowledged positions (the checkpoints
//! the plugin saves after each batch the destination acknowledged). Audiences are keyed by
//! pipeline, audience key (the field, or `multi`) and ad account, never by their rendered
//! name, which may contain a date.
//!
//! Every checkpoint is committed before the plugin moves on (WAL mode): a process killed at
//! any instant loses at most the acknowledgement of the batch in flight, which the resumed
//! attempt re-sends with the same session id and batch number (a replay, not a duplicate).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::plugin::bindings::audex::destination::run::Checkpoint;
use crate::plugin::bindings::audex::destination::types::ReasonCount;

/// The journal's file name in the state directory.
pub const FILE_NAME: &str = "journal.sqlite3";

/// Schema version written by this host (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS attempts (
    id             INTEGER PRIMARY KEY,
    logical_run    INTEGER NOT NULL,
    attempt        INTEGER NOT NULL,
    pipeline       TEXT NOT NULL,
    pipeline_file  TEXT NOT NULL,
    ad_account     TEXT NOT NULL,
    destination    TEXT NOT NULL,
    input          TEXT NOT NULL,
    resumable      INTEGER NOT NULL,
    pid            INTEGER NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    status         TEXT NOT NULL,
    exit_code      INTEGER,
    rows_read      INTEGER,
    uploaded       INTEGER,
    rejected       INTEGER,
    error          TEXT,
    report         TEXT
);
CREATE INDEX IF NOT EXISTS attempts_by_key
    ON attempts (pipeline, ad_account, destination, id);
CREATE TABLE IF NOT EXISTS audiences (
    logical_run         INTEGER NOT NULL,
    pipeline            TEXT NOT NULL,
    ad_account          TEXT NOT NULL,
    audience_key        TEXT NOT NULL,
    audience_id         TEXT NOT NULL,
    name                TEXT NOT NULL,
    created             INTEGER NOT NULL,
    session_id          INTEGER NOT NULL,
    session_started_ms  INTEGER NOT NULL,
    batches_acked       INTEGER NOT NULL,
    rows_done           INTEGER NOT NULL,
    uploaded            INTEGER NOT NULL,
    requests            INTEGER NOT NULL,
    rejected            TEXT NOT NULL,
    updated_attempt     INTEGER NOT NULL,
    PRIMARY KEY (logical_run, pipeline, ad_account, audience_key)
);
";

/// A journal failure. The database is the only record that makes a resume safe, so these stop
/// a live run.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The state directory could not be determined or created.
    #[error("run journal: {0}")]
    StateDir(String),
    /// SQLite failed.
    #[error("run journal {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer audex.
    #[error(
        "run journal {path} has schema version {found}; this audex understands up to {SCHEMA_VERSION}"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: i64,
    },
}

/// What identifies the runs that may resume each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKey {
    /// The pipeline's name.
    pub pipeline: String,
    /// The destination account.
    pub ad_account: String,
    /// The plugin and the endpoint URLs it talks to: a run against another destination (an
    /// emulator, another API) never resumes this one.
    pub destination: String,
}

/// An open logical run an attempt can continue.
#[derive(Debug, Clone)]
pub struct Resumable {
    /// The logical run (id of its first attempt).
    pub logical_run: i64,
    /// The number of the latest attempt.
    pub attempt: i64,
    /// The latest attempt's id.
    pub last_attempt: i64,
    /// When the latest attempt started.
    pub started_at: String,
    /// The latest attempt's status.
    pub status: String,
    /// The latest attempt's process, when it may still be running.
    pub pid: i64,
    /// The input fingerprint of the logical run.
    pub input: String,
    /// Each audience's last checkpoint.
    pub checkpoints: Vec<Checkpoint>,
}

/// One attempt, as listed by `audex runs`.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRow {
    /// Attempt id.
    pub id: i64,
    /// The logical run it belongs to.
    pub logical_run: i64,
    /// 1 for the first attempt of the logical run, 2 for its first resume, ...
    pub attempt: i64,
    /// Pipeline name.
    pub pipeline: String,
    /// Pipeline file.
    pub pipeline_file: String,
    /// Ad account.
    pub ad_account: String,
    /// Start time (RFC 3339).
    pub started_at: String,
    /// End time, unless it is running or the process died.
    pub finished_at: Option<String>,
    /// `running`, `succeeded`, `partial`, `failed` or `abandoned` (superseded by `--fresh`).
    /// A `running` attempt whose process is gone was interrupted (killed or crashed).
    pub status: String,
    /// The process exit code.
    pub exit_code: Option<i64>,
    /// Rows read.
    pub rows_read: Option<i64>,
    /// Rows uploaded, summed over the audiences (whole logical run).
    pub uploaded: Option<i64>,
    /// Rows rejected, summed over the audiences (whole logical run).
    pub rejected: Option<i64>,
    /// The failure, in one line.
    pub error: Option<String>,
}

/// How an attempt ended, for [`Journal::finish_attempt`].
#[derive(Debug, Clone)]
pub struct AttemptEnd<'a> {
    /// `succeeded`, `partial` or `failed`.
    pub status: &'a str,
    /// The process exit code.
    pub exit_code: i32,
    /// Rows read.
    pub rows_read: u64,
    /// Rows uploaded over the audiences.
    pub uploaded: u64,
    /// Rows rejected over the audiences.
    pub rejected: u64,
    /// The failure message.
    pub error: Option<&'a str>,
    /// The run report, as JSON.
    pub report: Option<&'a str>,
}

/// The journal database.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

impl Journal {
    /// Opens (creating if needed) the journal in the state directory named by the environment
    /// (`$AUDEX_STATE_DIR`, else the XDG state directory).
    pub fn open_default() -> Result<Self, JournalError> {
        let dir = crate::connect::store::state_dir()
            .map_err(|e| JournalError::StateDir(e.to_string()))?;
        Self::open_in(&dir)
    }

    /// Opens (creating if needed) the journal in `state_dir`.
    pub fn open_in(state_dir: &Path) -> Result<Self, JournalError> {
        std::fs::create_dir_all(state_dir).map_err(|e| {
            JournalError::StateDir(format!("cannot create {}: {e}", state_dir.display()))
        })?;
        Self::open(&state_dir.join(FILE_NAME))
    }

    /// Opens (creating if needed) the journal at `path`.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let wrap = |source| JournalError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(wrap)?;
        // Several processes may use one journal: wait for a writer instead of failing.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        // WAL + NORMAL: a committed transaction survives the process being killed (the OS
        // has it); only a power loss may take the last few back, as with any cache.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(wrap)?;
        if version > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path: path.to_owned(),
                found: version,
            });
        }
        conn.execute_batch(SCHEMA).map_err(wrap)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(wrap)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn wrap(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The open logical run for `key`, if its latest attempt did not succeed.
    pub fn open_run(&self, key: &RunKey) -> Result<Option<Resumable>, JournalError> {
        let latest = self
            .conn
            .query_row(
                "SELECT id, logical_run, attempt, started_at, status, pid, input, resumable
                 FROM attempts WHERE pipeline = ?1 AND ad_account = ?2 AND destination = ?3
                 ORDER BY id DESC LIMIT 1",
                params![key.pipeline, key.ad_account, key.destination],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, bool>(7)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.wrap(e))?;
        let Some((id, logical_run, attempt, started_at, status, pid, input, resumable)) = latest
        else {
            return Ok(None);
        };
        if !resumable || status == "succeeded" || status == "abandoned" {
            return Ok(None);
        }
        let checkpoints = self.checkpoints(logical_run, key)?;
        Ok(Some(Resumable {
            logical_run,
            attempt,
            last_attempt: id,
            started_at,
            status,
            pid,
            input,
            checkpoints,
        }))
    }

    fn checkpoints(&self, logical_run: i64, key: &RunKey) -> Result<Vec<Checkpoint>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT audience_key, audience_id, name, created, session_id, session_started_ms,
                        batches_acked, rows_done, uploaded, requests, rejected
                 FROM audiences WHERE logical_run = ?1 AND pipeline = ?2 AND ad_account = ?3
                 ORDER BY audience_key",
            )
            .map_err(|e| self.wrap(e))?;
        let rows = stmt
            .query_map(params![logical_run, key.pipeline, key.ad_account], |r| {
                let rejected: String = r.get(10)?;
                Ok(Checkpoint {
                    audience_key: r.get(0)?,
                    audience_id: r.get(1)?,
                    name: r.get(2)?,
                    created: r.get(3)?,
                    session_id: r.get::<_, i64>(4)? as u64,
                    session_started_ms: r.get::<_, i64>(5)? as u64,
                    batches_acked: r.get(6)?,
                    rows_done: r.get::<_, i64>(7)? as u64,
                    uploaded: r.get::<_, i64>(8)? as u64,
                    requests: r.get(9)?,
                    rejected: decode_reasons(&rejected),
                })
            })
            .map_err(|e| self.wrap(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.wrap(e))
    }

    /// Starts an attempt: of a new logical run, or continuing `resumes`.
    pub fn begin_attempt(
        &mut self,
        key: &RunKey,
        pipeline_file: &Path,
        input: &str,
        resumable: bool,
        resumes: Option<&Resumable>,
    ) -> Result<Attempt, JournalError> {
        let started_at =
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        // The transaction borrows the connection, so errors are wrapped without `self`.
        let path = self.path.clone();
        let wrap = |source| JournalError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let number = resumes.map_or(1, |r| r.attempt + 1);
        tx.execute(
            "INSERT INTO attempts (logical_run, attempt, pipeline, pipeline_file, ad_account,
                 destination, input, resumable, pid, started_at, status)
             VALUES (0, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'running')",
            params![
                number,
                key.pipeline,
                pipeline_file.display().to_string(),
                key.ad_account,
                key.destination,
                input,
                resumable,
                i64::from(std::process::id()),
                started_at,
            ],
        )
        .map_err(wrap)?;
        let id = tx.last_insert_rowid();
        let logical_run = resumes.map_or(id, |r| r.logical_run);
        tx.execute(
            "UPDATE attempts SET logical_run = ?1 WHERE id = ?2",
            params![logical_run, id],
        )
        .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(Attempt {
            id,
            logical_run,
            number,
            pipeline: key.pipeline.clone(),
            ad_account: key.ad_account.clone(),
        })
    }

    /// Marks the open logical run's latest attempt as abandoned (`audex run --fresh`): it is
    /// never resumed.
    pub fn abandon(&self, open: &Resumable) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE attempts SET status = 'abandoned' WHERE id = ?1",
                params![open.last_attempt],
            )
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    /// Records an audience's checkpoint, committed before this returns.
    pub fn save_checkpoint(&self, attempt: &Attempt, c: &Checkpoint) -> Result<(), JournalError> {
        self.conn
            .execute(
                "INSERT INTO audiences (logical_run, pipeline, ad_account, audience_key,
                     audience_id, name, created, session_id, session_started_ms, batches_acked,
                     rows_done, uploaded, requests, rejected, updated_attempt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (logical_run, pipeline, ad_account, audience_key) DO UPDATE SET
                     audience_id = excluded.audience_id, name = excluded.name,
                     created = excluded.created, session_id = excluded.session_id,
                     session_started_ms = excluded.session_started_ms,
                     batches_acked = excluded.batches_acked, rows_done = excluded.rows_done,
                     uploaded = excluded.uploaded, requests = excluded.requests,
                     rejected = excluded.rejected, updated_attempt = excluded.updated_attempt",
                params![
                    attempt.logical_run,
                    attempt.pipeline,
                    attempt.ad_account,
                    c.audience_key,
                    c.audience_id,
                    c.name,
                    c.created,
                    c.session_id as i64,
                    c.session_started_ms as i64,
                    c.batches_acked,
                    c.rows_done as i64,
                    c.uploaded as i64,
                    c.requests,
                    encode_reasons(&c.rejected),
                    attempt.id,
                ],
            )
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    /// Records how an attempt ended.
    pub fn finish_attempt(
        &self,
        attempt: &Attempt,
        end: &AttemptEnd<'_>,
    ) -> Result<(), JournalError> {
        let finished_at =
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        self.conn
            .execute(
                "UPDATE attempts SET finished_at = ?1, status = ?2, exit_code = ?3,
                     rows_read = ?4, uploaded = ?5, rejected = ?6, error = ?7, report = ?8
                 WHERE id = ?9",
                params![
                    finished_at,
                    end.status,
                    end.exit_code,
                    end.rows_read as i64,
                    end.uploaded as i64,
                    end.rejected as i64,
                    end.error,
                    end.report,
                    attempt.id,
                ],
            )
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    /// The latest attempts, newest first, optionally of one pipeline.
    pub fn list(
        &self,
        pipeline: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AttemptRow>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, logical_run, attempt, pipeline, pipeline_file, ad_account, started_at,
                        finished_at, status, exit_code, rows_read, uploaded, rejected, error, pid
                 FROM attempts WHERE (?1 IS NULL OR pipeline = ?1)
                 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.wrap(e))?;
        let rows = stmt
            .query_map(params![pipeline, limit], |r| {
                let status: String = r.get(8)?;
                let pid: i64 = r.get(14)?;
                Ok(AttemptRow {
                    id: r.get(0)?,
                    logical_run: r.get(1)?,
                    attempt: r.get(2)?,
                    pipeline: r.get(3)?,
                    pipeline_file: r.get(4)?,
                    ad_account: r.get(5)?,
                    started_at: r.get(6)?,
                    finished_at: r.get(7)?,
                    status: if status == "running" && !process_alive(pid) {
                        "interrupted".to_owned()
                    } else {
                        status
                    },
                    exit_code: r.get(9)?,
                    rows_read: r.get(10)?,
                    uploaded: r.get(11)?,
                    rejected: r.get(12)?,
                    error: r.get(13)?,
                })
            })
            .map_err(|e| self.wrap(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.wrap(e))
    }
}

/// One attempt being journaled.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Its id.
    pub id: i64,
    /// Its logical run.
    pub logical_run: i64,
    /// 1 for a new run, more for a resume.
    pub number: i64,
    pipeline: String,
    ad_account: String,
}

/// True when process `pid` exists (Linux: `/proc/PID`). Elsewhere, assumes it may.
pub fn process_alive(pid: i64) -> bool {
    if pid <= 0 {
        return false;
    }
    if i64::from(std::process::id()) == pid {
        return true;
    }
    let proc_dir = Path::new("/proc");
    if !proc_dir.exists() {
        return true;
    }
    proc_dir.join(pid.to_string()).exists()
}

fn encode_reasons(counts: &[ReasonCount]) -> String {
    let map: BTreeMap<&str, u64> = counts
        .iter()
        .map(|c| (c.reason.as_str(), c.count))
        .collect();
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".to_owned())
}

fn decode_reasons(text: &str) -> Vec<ReasonCount> {
    serde_json::from_str::<BTreeMap<String, u64>>(text)
        .unwrap_or_default()
        .into_iter()
        .map(|(reason, count)| ReasonCount { reason, count })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key() -> RunKey {
        RunKey {
            pipeline: "vip".into(),
            ad_account: "act_1".into(),
            destination: "facebook|graph=http://127.0.0.1:1".into(),
        }
    }

    fn checkpoint(key: &str, rows_done: u64) -> Checkpoint {
        Checkpoint {
            audience_key: key.into(),
            audience_id: format!("id-{key}"),
            session_id: 7,
            session_started_ms: 1000,
            batches_acked: 2,
            rows_done,
            uploaded: rows_done - 3,
            name: format!("vip {key}"),
            created: true,
            requests: 2,
            rejected: vec![ReasonCount {
                reason: "malformed_email".into(),
                count: 3,
            }],
        }
    }

    fn end(status: &str) -> AttemptEnd<'_> {
        AttemptEnd {
            status,
            exit_code: 0,
            rows_read: 10,
            uploaded: 7,
            rejected: 3,
            error: None,
            report: None,
        }
    }

    #[test]
    fn an_unfinished_run_resumes_with_its_latest_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open_in(dir.path()).unwrap();
        assert!(j.open_run(&key()).unwrap().is_none());
        let a = j
            .begin_attempt(&key(), Path::new("vip.yaml"), "input-1", true, None)
            .unwrap();
        j.save_checkpoint(&a, &checkpoint("email", 10)).unwrap();
        j.save_checkpoint(&a, &checkpoint("email", 20)).unwrap();
        j.save_checkpoint(&a, &checkpoint("phone", 5)).unwrap();
        // The process "dies" here: the attempt stays `running`.
        drop(j);

        let mut j = Journal::open_in(dir.path()).unwrap();
        let open = j.open_run(&key()).unwrap().unwrap();
        assert_eq!(open.logical_run, a.id);
        assert_eq!(open.input, "input-1");
        let done: Vec<_> = open
            .checkpoints
            .iter()
            .map(|c| (c.audience_key.as_str(), c.rows_done))
            .collect();
        assert_eq!(done, [("email", 20), ("phone", 5)]);
        assert_eq!(open.checkpoints[0].rejected[0].count, 3);

        let b = j
            .begin_attempt(&key(), Path::new("vip.yaml"), "input-1", true, Some(&open))
            .unwrap();
        assert_eq!((b.logical_run, b.number), (a.id, 2));
        j.finish_attempt(&b, &end("succeeded")).unwrap();
        assert!(j.open_run(&key()).unwrap().is_none(), "a success closes it");
        let listed = j.list(None, 10).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].status, "succeeded");
        assert_eq!(listed[1].status, "running", "this very process is alive");
    }

    #[test]
    fn other_destinations_and_abandoned_runs_do_not_resume() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open_in(dir.path()).unwrap();
        let a = j
            .begin_attempt(&key(), Path::new("vip.yaml"), "in", true, None)
            .unwrap();
        j.save_checkpoint(&a, &checkpoint("email", 10)).unwrap();
        j.finish_attempt(&a, &end("failed")).unwrap();
        let other = RunKey {
            destination: "facebook|graph=https://graph.facebook.com".into(),
            ..key()
        };
        assert!(j.open_run(&other).unwrap().is_none());
        let open = j.open_run(&key()).unwrap().unwrap();
        j.abandon(&open).unwrap();
        assert!(j.open_run(&key()).unwrap().is_none());

        let b = j
            .begin_attempt(&key(), Path::new("vip.yaml"), "in", false, None)
            .unwrap();
        j.save_checkpoint(&b, &checkpoint("email", 10)).unwrap();
        assert!(
            j.open_run(&key()).unwrap().is_none(),
            "runs against an embedded emulator are not resumable"
        );
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        drop(Journal::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Journal::open(&path).unwrap_err().to_string();
        assert!(err.contains("schema version 99"), "{err}");
    }
}
