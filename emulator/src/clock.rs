//! The emulator's clock: wall-clock time plus an offset that tests can advance.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time shifted by an adjustable offset.
///
/// Everything time-dependent in the emulator (token expiry, upload session expiry, the rolling
/// call-budget window, OAuth code lifetime) reads this clock, so tests can jump forward without
/// sleeping.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset_ms: AtomicU64,
}

impl Clock {
    /// Moves the clock forward by `by`.
    pub(crate) fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Milliseconds since the Unix epoch on the emulator's clock.
    pub(crate) fn now_ms(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        real.saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Seconds since the Unix epoch on the emulator's clock.
    pub(crate) fn now_s(&self) -> u64 {
        self.now_ms() / 1000
    }
}

/// Formats Unix seconds the way Graph error messages do, e.g. `Thursday, 01-Jan-70 00:00:00 UTC`.
pub(crate) fn format_graph_date(unix_s: u64) -> String {
    const DAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_s / 86_400;
    let secs = unix_s % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {:02}-{}-{:02} {:02}:{:02}:{:02} UTC",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year % 100,
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Converts days since 1970-01-01 to a (year, month 1-12, day 1-31) civil date (proleptic
/// Gregorian calendar), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(format_graph_date(0), "Thursday, 01-Jan-70 00:00:00 UTC");
        // 2024-02-29 12:34:56 UTC was a Thursday.
        assert_eq!(
            format_graph_date(1_709_210_096),
            "Thursday, 29-Feb-24 12:34:56 UTC"
        );
    }

    #[test]
    fn advance_moves_now_forward() {
        let clock = Clock::default();
        let before = clock.now_ms();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now_ms() >= before + 3_600_000);
    }
}
