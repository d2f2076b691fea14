//! UTC timestamps in the two textual forms Rex's result uses, without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time as seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

impl Timestamp {
    pub fn now() -> Self {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: d.subsec_nanos(),
        }
    }

    fn civil(self) -> (i64, u32, u32, u32, u32, u32) {
        // Howard Hinnant's days-to-civil algorithm.
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
        (year, month, day, h as u32, m as u32, s as u32)
    }

    /// `2026-11-21 23:22:34.390191904 UTC` (log entries).
    pub fn display_utc(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!(
            "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{:09} UTC",
            self.nanos
        )
    }

    /// `2026-11-21T23:22:34.390191904Z` (metric timestamps).
    pub fn rfc3339(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:09}Z",
            self.nanos
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let t = Timestamp { secs: 0, nanos: 5 };
        assert_eq!(t.rfc3339(), "1970-01-01T00:00:00.000000005Z");
        let t = Timestamp {
            secs: 1_795_303_354,
            nanos: 390_191_904,
        };
        assert_eq!(t.display_utc(), "2026-11-21 23:22:34.390191904 UTC");
        let t = Timestamp {
            secs: 951_782_400,
            nanos: 0,
        };
        assert_eq!(t.rfc3339(), "2000-02-29T00:00:00.000000000Z");
    }
}
