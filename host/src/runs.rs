//! `audex runs`: past runs from the run journal, newest first.

use std::process::ExitCode;

use crate::journal::{AttemptRow, Journal};

/// Prints the journal's latest attempts (of one pipeline, when given) as a table or JSON.
pub fn print(pipeline: Option<&str>, limit: u32, json: bool) -> ExitCode {
    let rows = match Journal::open_default().and_then(|j| j.list(pipeline, limit)) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(crate::exit::INTERNAL as u8);
        }
    };
    if json {
        match serde_json::to_string_pretty(&rows) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(crate::exit::INTERNAL as u8);
            }
        }
    } else {
        print!("{}", table(&rows));
    }
    ExitCode::SUCCESS
}

/// The attempts as a text table.
pub fn table(rows: &[AttemptRow]) -> String {
    if rows.is_empty() {
        return "no runs recorded yet (dry runs are not journaled)\n".to_owned();
    }
    let mut out = format!(
        "{:>5} {:>5} {:>3}  {:<20} {:<24} {:<16} {:<11} {:>10} {:>10} {:>9}\n",
        "id",
        "run",
        "try",
        "started",
        "pipeline",
        "account",
        "status",
        "rows",
        "uploaded",
        "rejected"
    );
    let num = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |n| n.to_string());
    for r in rows {
        out.push_str(&format!(
            "{:>5} {:>5} {:>3}  {:<20} {:<24} {:<16} {:<11} {:>10} {:>10} {:>9}\n",
            r.id,
            r.logical_run,
            r.attempt,
            r.started_at,
            r.pipeline,
            r.ad_account,
            r.status,
            num(r.rows_read),
            num(r.uploaded),
            num(r.rejected),
        ));
        if let Some(error) = &r.error {
            out.push_str(&format!("      {error}\n"));
        }
    }
    out
}
