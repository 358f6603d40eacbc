//! `export-segment`: pre-flight, audiences, normalized batches, upload sessions, lookalikes.
//!
//! Each audience owns one upload session. Rows are gathered per audience into chunks of at
//! most 10,000; a full chunk is sent only once the next row arrives, so the last request of
//! a session always carries `last_batch_flag`. At most one request per audience is in flight:
//! while it travels, the plugin decodes and hashes the next batch, and batch order within a
//! session is kept.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use audex_plugin_sdk::types::{
    AudienceReport, ExportReport, ExportRequest, Lookalike, PluginError, ReasonCount,
};

use crate::calendar;
use crate::graph::client::{GraphClient, Pending, RetryPolicy, parse_body};
use crate::graph::policy::FLAGGED_OPERATION_STATUS;
use crate::graph::requests::{self, Chunk, Schema, Session};
use crate::graph::responses::{AdAccount, AudienceInfo, Created, UploadAck};
use crate::host::{Checkpoint, Host, Level, Rejections, SegmentReader};
use crate::normalize::{self, DIGEST_WIDTH, MADID_WIDTH, NormalizedColumn, Reason};
use crate::settings::{self, COUNTRY_FIELD, Field, MULTI_KEY, Validated};

/// Reason code of a multi-key row none of whose identifiers is usable.
pub const NO_VALID_IDENTIFIER: &str = "no_valid_identifier";

/// How long Facebook accepts batches in one upload session after its first batch.
pub const SESSION_WINDOW_MS: u64 = 90 * 60 * 1000;

/// How much of [`SESSION_WINDOW_MS`] a resumed run still relies on: a session older than this
/// is not continued (its next batch could arrive after the window closes); the resumed run
/// continues with adds in a new session instead.
pub const SESSION_RESUME_LIMIT_MS: u64 = 80 * 60 * 1000;

/// Runs an export.
pub fn export<H: Host, S: SegmentReader>(
    host: &H,
    segment: &S,
    request: &ExportRequest,
) -> Result<ExportReport, PluginError> {
    let settings = settings::validate(&request.settings).map_err(crate::invalid_settings)?;
    let retry = settings.settings.retry;
    let client = GraphClient::new(
        host,
        &settings.api_version,
        request.dry_run,
        RetryPolicy {
            attempts: retry.attempts,
            initial_delay_ms: retry.initial_delay_ms,
            ..RetryPolicy::default()
        },
    );
    let mut warnings = settings.warnings.clone();
    for w in &warnings {
        host.log(Level::Warn, w);
    }

    preflight_account(&client, &settings)?;

    let available = segment.fields();
    for field in &settings.fields {
        if !available.iter().any(|f| f == field.as_str()) {
            return Err(PluginError::InvalidInput(format!(
                "the segment has no `{}` column; map it under `columns` in the pipeline",
                field.as_str()
            )));
        }
    }

    // The first batch is normalized before any audience is created or touched: a column of
    // a type the kernels cannot read fails the run before it changes anything at Facebook.
    let mut kernels = Kernels::new(&settings);
    let mut normalized = kernels.next(segment)?;

    let today = calendar::iso_date(host.now_ms());
    let estimated = segment.estimated_rows();
    let mut sinks = Vec::new();
    for key in settings.audience_keys() {
        let resume = request.resume.iter().find(|r| r.audience_key == key);
        sinks.push(AudienceSink::open(
            &client,
            &settings,
            &request.pipeline,
            &today,
            &key,
            resume,
        )?);
    }

    let mut rejections = Rejections::default();
    while let Some(first_row) = normalized {
        for sink in sinks.iter_mut().filter(|s| s.failed.is_none()) {
            let outcome = sink.consume(&client, &kernels, first_row, estimated, &mut rejections);
            sink.absorb(host, outcome)?;
        }
        all_failed(&sinks)?;
        rejections.flush(host);
        normalized = kernels.next(segment)?;
    }

    for sink in sinks.iter_mut().filter(|s| s.failed.is_none()) {
        let outcome = sink.finish(&client, estimated);
        sink.absorb(host, outcome)?;
    }
    all_failed(&sinks)?;

    let mut reports = Vec::new();
    for sink in sinks {
        let lookalikes = match &settings.settings.lookalike {
            Some(spec) if sink.failed.is_none() => {
                create_lookalike(&client, &settings, &sink, spec, &mut warnings)
            }
            _ => Vec::new(),
        };
        reports.push(sink.into_report(lookalikes));
    }
    Ok(ExportReport {
        audiences: reports,
        warnings,
        console_url: Some(ads_manager_url(&settings.account)),
        budget_used_percent: client.peak_usage_percent(),
    })
}

/// Fails the export when every audience failed: a partial export needs one that went on.
fn all_failed(sinks: &[AudienceSink]) -> Result<(), PluginError> {
    match sinks.first().and_then(|s| s.failed.as_ref()) {
        Some(first) if sinks.iter().all(|s| s.failed.is_some()) => Err(first.clone()),
        _ => Ok(()),
    }
}

/// Checks the ad account is active and its Custom Audience terms are accepted.
fn preflight_account<H: Host>(
    client: &GraphClient<'_, H>,
    settings: &Validated,
) -> Result<(), PluginError> {
    let request = client.get_request(
        client.path(&settings.account, None),
        &[("fields", "id,name,account_status,tos_accepted")],
    );
    let account: AdAccount = client.call(&request)?;
    if client.dry_run() {
        return Ok(());
    }
    if account.account_status != Some(1) {
        return Err(PluginError::NotReady(format!(
            "ad account {} is {} (account_status {}); only active accounts can receive audiences",
            settings.account,
            account.status_name(),
            account
                .account_status
                .map_or("missing".to_owned(), |s| s.to_string())
        )));
    }
    if !account.terms_accepted() {
        return Err(PluginError::NotReady(format!(
            "the Custom Audience terms of service are not accepted for ad account {}; an admin of the account must accept them at {} and then run again",
            settings.account,
            AdAccount::terms_url(&settings.account)
        )));
    }
    Ok(())
}

/// The normalized columns of the current batch, one per exported field, reused across
/// batches so no allocation happens per batch once warm.
struct Kernels {
    default_country: Option<String>,
    columns: BTreeMap<Field, NormalizedColumn>,
}

impl Kernels {
    fn new(settings: &Validated) -> Self {
        let columns = settings
            .fields
            .iter()
            .map(|&f| {
                let width = if f == Field::Madid {
                    MADID_WIDTH
                } else {
                    DIGEST_WIDTH
                };
                (f, NormalizedColumn::new(width))
            })
            .collect();
        Self {
            default_country: settings.default_country.clone(),
            columns,
        }
    }

    /// Reads and normalizes the segment's next batch; returns its first row, or `None` at the
    /// end of the segment.
    fn next<S: SegmentReader>(&mut self, segment: &S) -> Result<Option<u64>, PluginError> {
        let Some(batch) = segment.next_batch().map_err(PluginError::Host)? else {
            return Ok(None);
        };
        let (first_row, num_rows) = (batch.first_row, batch.num_rows);
        // Without copying: the arrays point into the bytes the host handed over.
        let records = batch
            .into_record_batch()
            .map_err(|e| PluginError::Host(format!("corrupt Arrow IPC batch: {e}")))?;
        if records.num_rows() != num_rows as usize {
            return Err(PluginError::Host(format!(
                "batch at row {first_row} announced {num_rows} rows but holds {}",
                records.num_rows()
            )));
        }
        self.run(&records)?;
        Ok(Some(first_row))
    }

    fn run(&mut self, batch: &RecordBatch) -> Result<(), PluginError> {
        for (field, out) in &mut self.columns {
            out.clear();
            let column = batch.column_by_name(field.as_str()).ok_or_else(|| {
                PluginError::Host(format!("batch lacks the `{}` column", field.as_str()))
            })?;
            let result = match field {
                Field::Email => normalize::emails(column.as_ref(), out),
                Field::Madid => normalize::madids(column.as_ref(), out),
                Field::Phone => {
                    let country = batch.column_by_name(COUNTRY_FIELD).map(|c| c.as_ref());
                    normalize::phones(
                        column.as_ref(),
                        country,
                        self.default_country.as_deref(),
                        out,
                    )
                }
            };
            result.map_err(|e| {
                PluginError::InvalidInput(format!("column `{}`: {e}", field.as_str()))
            })?;
        }
        Ok(())
    }

    fn column(&self, field: Field) -> &NormalizedColumn {
        &self.columns[&field]
    }
}

/// One audience being filled: its session, the chunk being gathered and the counts.
struct AudienceSink {
    key: String,
    fields: Vec<Field>,
    name: String,
    audience_id: String,
    created: bool,
    session_id: u64,
    session_started_ms: u64,
    batches_acked: u32,
    next_seq: u32,
    skip_rows_below: u64,
    chunk: Chunk,
    in_flight: Option<InFlight>,
    rows_done: u64,
    uploaded: u64,
    requests: u32,
    rejected: BTreeMap<String, u64>,
    num_received: Option<u64>,
    num_invalid_entries: Option<u64>,
    invalid_entry_samples: u64,
    /// Set when this audience's upload failed while the others go on.
    failed: Option<PluginError>,
}

/// The upload request in flight for an audience, with what its acknowledgement settles.
struct InFlight {
    pending: Pending,
    /// Rows in the request.
    rows: u64,
    /// Segment position the request covers up to (exclusive): every row before it is in this
    /// request, an earlier one, or rejected.
    rows_done: u64,
    /// Rejection counts over the rows before `rows_done`.
    rejected: BTreeMap<String, u64>,
}

impl AudienceSink {
    fn open<H: Host>(
        client: &GraphClient<'_, H>,
        settings: &Validated,
        pipeline: &str,
        today: &str,
        key: &str,
        resume: Option<&Checkpoint>,
    ) -> Result<Self, PluginError> {
        let audience = &settings.settings.audience;
        let fields: Vec<Field> = if key == MULTI_KEY {
            settings.fields.clone()
        } else {
            settings
                .fields
                .iter()
                .copied()
                .filter(|f| f.as_str() == key)
                .collect()
        };
        let schema = if key == MULTI_KEY {
            Schema::Multi(fields.clone())
        } else {
            Schema::Single(fields[0])
        };
        let template = audience
            .name
            .as_deref()
            .unwrap_or(settings::DEFAULT_NAME_TEMPLATE);
        let name = template
            .replace("{pipeline}", pipeline)
            .replace("{field}", key)
            .replace("{date}", today);

        let host = client.host();
        if let Some(resume) = resume {
            return Ok(Self::resume(host, fields, schema, resume));
        }
        let (audience_id, created) = if let Some(existing) = audience.existing_id.get(key) {
            check_existing(client, existing)?;
            (existing.clone(), false)
        } else {
            let body = requests::create_audience(
                &name,
                audience.description.as_deref(),
                audience.customer_file_source,
            );
            let request = client.post_request(
                client.path(&settings.account, Some("customaudiences")),
                body.to_string().into_bytes(),
                false,
            );
            let created: Created = client.call(&request)?;
            host.log(
                Level::Info,
                &format!("audience `{key}`: created {} ({name})", created.id),
            );
            (created.id, true)
        };

        let sink = Self {
            key: key.to_owned(),
            fields,
            name,
            audience_id,
            created,
            session_id: new_session_id(host),
            session_started_ms: host.now_ms(),
            batches_acked: 0,
            next_seq: 1,
            skip_rows_below: 0,
            chunk: Chunk::new(schema),
            in_flight: None,
            rows_done: 0,
            uploaded: 0,
            requests: 0,
            rejected: BTreeMap::new(),
            num_received: None,
            num_invalid_entries: None,
            invalid_entry_samples: 0,
            failed: None,
        };
        // Journal the audience before any upload, so an interrupted run finds it again.
        host.checkpoint(&sink.checkpoint(0, sink.rejected.clone()));
        Ok(sink)
    }

    /// Continues an audience of an interrupted attempt: same audience, rows before the last
    /// acknowledged position skipped, and the same upload session while Facebook still
    /// accepts batches in it (the next batch then carries the next `batch_seq`, so a batch
    /// whose answer was lost is replayed, not duplicated). An older session is not continued:
    /// the remaining rows go as adds in a new session.
    fn resume<H: Host>(host: &H, fields: Vec<Field>, schema: Schema, r: &Checkpoint) -> Self {
        let now = host.now_ms();
        let age = now.saturating_sub(r.session_started_ms);
        let (session_id, session_started_ms, batches_acked) = if r.batches_acked == 0
            || age < SESSION_RESUME_LIMIT_MS
        {
            (r.session_id, r.session_started_ms, r.batches_acked)
        } else {
            host.log(
                    Level::Info,
                    &format!(
                        "audience `{}`: upload session started {} min ago, past Facebook's 90-minute window; continuing with adds in a new session",
                        r.audience_key,
                        age / 60_000
                    ),
                );
            (new_session_id(host), now, 0)
        };
        host.log(
            Level::Info,
            &format!(
                "audience `{}`: resuming {} at row {} ({} uploaded, batch {} of session next)",
                r.audience_key,
                r.audience_id,
                r.rows_done,
                r.uploaded,
                batches_acked + 1
            ),
        );
        Self {
            key: r.audience_key.clone(),
            fields,
            name: r.name.clone(),
            audience_id: r.audience_id.clone(),
            created: r.created,
            session_id,
            session_started_ms,
            batches_acked,
            next_seq: batches_acked + 1,
            skip_rows_below: r.rows_done,
            chunk: Chunk::new(schema),
            in_flight: None,
            rows_done: r.rows_done,
            uploaded: r.uploaded,
            requests: r.requests,
            rejected: r
                .rejected
                .iter()
                .map(|c| (c.reason.clone(), c.count))
                .collect(),
            num_received: None,
            num_invalid_entries: None,
            invalid_entry_samples: 0,
            failed: None,
        }
    }

    /// Where this audience stands once everything before `rows_done` is settled.
    fn checkpoint(&self, rows_done: u64, rejected: BTreeMap<String, u64>) -> Checkpoint {
        Checkpoint {
            audience_key: self.key.clone(),
            audience_id: self.audience_id.clone(),
            session_id: self.session_id,
            session_started_ms: self.session_started_ms,
            batches_acked: self.batches_acked,
            rows_done,
            uploaded: self.uploaded,
            name: self.name.clone(),
            created: self.created,
            requests: self.requests,
            rejected: reason_counts(rejected),
        }
    }

    /// Keeps an upload failure to this audience when the others can go on (an error
    /// Facebook gave about this audience's data or object); account-wide failures
    /// (credentials, rate limits, the host) stop the whole export.
    fn absorb<H: Host>(
        &mut self,
        host: &H,
        outcome: Result<(), PluginError>,
    ) -> Result<(), PluginError> {
        match outcome {
            Err(e @ PluginError::Upstream(_)) => {
                host.log(
                    Level::Error,
                    &format!(
                        "audience `{}` ({}) stopped: {}; the other audiences go on",
                        self.key,
                        self.audience_id,
                        crate::describe(&e)
                    ),
                );
                self.in_flight = None;
                self.failed = Some(e);
                Ok(())
            }
            other => other,
        }
    }

    /// Takes one batch's normalized rows.
    fn consume<H: Host>(
        &mut self,
        client: &GraphClient<'_, H>,
        kernels: &Kernels,
        first_row: u64,
        estimated: Option<u64>,
        rejections: &mut Rejections,
    ) -> Result<(), PluginError> {
        let columns: Vec<(Field, &NormalizedColumn)> = self
            .fields
            .iter()
            .map(|&f| (f, kernels.column(f)))
            .collect();
        let rows = columns.first().map_or(0, |(_, c)| c.len());
        let start = self
            .skip_rows_below
            .saturating_sub(first_row)
            .min(rows as u64) as usize;
        if let [(field, column)] = columns.as_slice() {
            // One identifier per row (the classic export): the loop that carries most rows.
            for row in start..rows {
                let position = first_row + row as u64;
                match column.get_bytes(row) {
                    Ok(value) => {
                        self.make_room(client, estimated, position)?;
                        self.chunk.push_single(value);
                    }
                    Err(reason) => self.reject(*field, reason, position, rejections),
                }
                self.rows_done = position + 1;
            }
            return Ok(());
        }
        for row in start..rows {
            let position = first_row + row as u64;
            let usable = columns.iter().any(|(_, c)| c.reason(row).is_none());
            if usable {
                self.make_room(client, estimated, position)?;
                self.chunk
                    .push_multi(columns.iter().map(|(_, c)| c.get_bytes(row).ok()));
            } else {
                count_reason(&mut self.rejected, NO_VALID_IDENTIFIER);
                for (field, column) in &columns {
                    if let Err(reason) = column.get(row) {
                        rejections.push(position, field.as_str(), reason.as_str());
                    }
                }
            }
            self.rows_done = position + 1;
        }
        Ok(())
    }

    // Out of the row loop's way: most rows are accepted.
    #[cold]
    #[inline(never)]
    fn reject(&mut self, field: Field, reason: Reason, row: u64, rejections: &mut Rejections) {
        count_reason(&mut self.rejected, reason.as_str());
        rejections.push(row, field.as_str(), reason.as_str());
    }

    /// Sends the current chunk when it is full, before a new row goes in.
    fn make_room<H: Host>(
        &mut self,
        client: &GraphClient<'_, H>,
        estimated: Option<u64>,
        position: u64,
    ) -> Result<(), PluginError> {
        if self.chunk.is_full() {
            self.send_chunk(client, false, estimated, position)?;
        }
        Ok(())
    }

    /// Sends the gathered chunk. `rows_done` is the segment position it covers up to.
    #[inline(never)]
    fn send_chunk<H: Host>(
        &mut self,
        client: &GraphClient<'_, H>,
        last: bool,
        estimated: Option<u64>,
        rows_done: u64,
    ) -> Result<(), PluginError> {
        // The body is built while the previous request is still travelling: only the wait for
        // its answer separates two uploads of the session.
        let rows = self.chunk.rows() as u64;
        let in_flight_rows = self.in_flight.as_ref().map_or(0, |f| f.rows);
        let session = Session {
            session_id: self.session_id,
            batch_seq: self.next_seq,
            last_batch_flag: last,
            estimated_num_total: estimated
                .unwrap_or(rows_done)
                .max(self.uploaded + in_flight_rows + rows),
        };
        let body = self.chunk.take_body(session);
        let request =
            client.post_request(client.path(&self.audience_id, Some("users")), body, true);
        self.settle_in_flight(client)?;
        let pending = client.submit(request)?;
        self.next_seq += 1;
        self.requests += 1;
        self.in_flight = Some(InFlight {
            pending,
            rows,
            rows_done,
            rejected: self.rejected.clone(),
        });
        Ok(())
    }

    /// Waits for the request in flight and records what Facebook acknowledged.
    fn settle_in_flight<H: Host>(
        &mut self,
        client: &GraphClient<'_, H>,
    ) -> Result<(), PluginError> {
        let Some(flight) = self.in_flight.take() else {
            return Ok(());
        };
        let path = client.path(&self.audience_id, Some("users"));
        let body = client.finish(flight.pending)?;
        let ack: UploadAck = parse_body(&body, &path)?;
        self.uploaded += flight.rows;
        self.batches_acked += 1;
        if ack.num_received.is_some() {
            self.num_received = ack.num_received;
        }
        if ack.num_invalid_entries.is_some() {
            self.num_invalid_entries = ack.num_invalid_entries;
        }
        self.invalid_entry_samples += ack.sample_count();
        client
            .host()
            .checkpoint(&self.checkpoint(flight.rows_done, flight.rejected));
        Ok(())
    }

    /// Sends the last chunk with `last_batch_flag` and waits for every answer.
    fn finish<H: Host>(
        &mut self,
        client: &GraphClient<'_, H>,
        estimated: Option<u64>,
    ) -> Result<(), PluginError> {
        if self.chunk.rows() > 0 {
            let done = self.rows_done;
            self.send_chunk(client, true, estimated, done)?;
        }
        self.settle_in_flight(client)
    }

    fn into_report(self, lookalikes: Vec<Lookalike>) -> AudienceReport {
        AudienceReport {
            audience_key: self.key,
            fields: self.fields.iter().map(|f| f.as_str().to_owned()).collect(),
            name: self.name,
            audience_id: self.audience_id,
            created: self.created,
            uploaded: self.uploaded,
            rejected: reason_counts(self.rejected),
            requests: self.requests,
            num_received: self.num_received,
            num_invalid_entries: self.num_invalid_entries,
            invalid_entry_samples: self.invalid_entry_samples,
            lookalikes,
            error: self.failed.as_ref().map(crate::describe),
        }
    }
}

fn new_session_id<H: Host>(host: &H) -> u64 {
    (host.random_u64() >> 1).max(1)
}

fn count_reason(counts: &mut BTreeMap<String, u64>, reason: &str) {
    match counts.get_mut(reason) {
        Some(n) => *n += 1,
        None => {
            counts.insert(reason.to_owned(), 1);
        }
    }
}

fn reason_counts(counts: BTreeMap<String, u64>) -> Vec<ReasonCount> {
    counts
        .into_iter()
        .map(|(reason, count)| ReasonCount { reason, count })
        .collect()
}

/// Refuses to add to an audience Facebook has flagged.
fn check_existing<H: Host>(client: &GraphClient<'_, H>, id: &str) -> Result<(), PluginError> {
    let request = client.get_request(
        client.path(id, None),
        &[("fields", "id,name,operation_status")],
    );
    let info: AudienceInfo = client.call(&request)?;
    let status = info.operation_status.unwrap_or_default();
    if status.code == Some(FLAGGED_OPERATION_STATUS) {
        return Err(PluginError::NotReady(format!(
            "audience {id} ({}) is flagged by Facebook's integrity review (operation_status 471: {}); uploads to it are blocked. Rename it without health or financial wording, or use another audience",
            info.name.unwrap_or_default(),
            status.description.unwrap_or_default()
        )));
    }
    Ok(())
}

/// Creates a lookalike from an exported audience. A failure is a warning: the export itself
/// succeeded.
fn create_lookalike<H: Host>(
    client: &GraphClient<'_, H>,
    settings: &Validated,
    sink: &AudienceSink,
    spec: &settings::LookalikeSettings,
    warnings: &mut Vec<String>,
) -> Vec<Lookalike> {
    let country = spec.country.to_ascii_uppercase();
    let label = format!("{country} {:.0}%", spec.ratio * 100.0);
    let name = format!("{} lookalike {label}", sink.name);
    let body = requests::create_lookalike(&name, &sink.audience_id, &country, spec.ratio);
    let request = client.post_request(
        client.path(&settings.account, Some("customaudiences")),
        body.to_string().into_bytes(),
        false,
    );
    match client.call::<Created>(&request) {
        Ok(created) => vec![Lookalike {
            audience_id: created.id,
            name,
            spec: label,
        }],
        Err(e) => {
            let message = format!(
                "lookalike of audience {} was not created: {}",
                sink.audience_id,
                crate::describe(&e)
            );
            client.host().log(Level::Warn, &message);
            warnings.push(message);
            Vec::new()
        }
    }
}

/// The Ads Manager page listing the account's audiences.
pub fn ads_manager_url(account: &str) -> String {
    format!(
        "https://adsmanager.facebook.com/adsmanager/audiences?act={}",
        account.trim_start_matches("act_")
    )
}
