//! Times as clients read and write them: RFC 3339 (`2026-11-02T09:30:00Z`) in the admin API's
//! records, as LiteLLM's API shows `expires`, `created_at` and spend logs' `startTime`; LiteLLM's
//! `YYYY-MM-DD HH:MM:SS UTC` in rate-limit refusals; and `YYYY-MM-DD` dates in queries.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

/// Unix seconds as RFC 3339 in UTC; `None` for a time out of the calendar's range.
pub fn rfc3339_seconds(unix_seconds: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// Unix milliseconds as RFC 3339 in UTC, with milliseconds when there are any.
pub fn rfc3339_millis(unix_millis: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_millis) * 1_000_000)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// Unix seconds as LiteLLM writes a reset time in its rate-limit refusals:
/// `2026-08-27 00:15:18 UTC`.
pub fn litellm_utc(unix_seconds: i64) -> Option<String> {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()?
        .format(&format)
        .ok()
}

/// Unix milliseconds at the start (UTC) of a `YYYY-MM-DD` date; `None` when it is not one.
pub fn date_start_ms(date: &str) -> Option<i64> {
    let format = format_description!("[year]-[month]-[day]");
    let date = Date::parse(date.trim(), &format).ok()?;
    let midnight = date.midnight().assume_utc().unix_timestamp();
    midnight.checked_mul(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_clients_expect() {
        assert_eq!(rfc3339_seconds(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            rfc3339_millis(1_709_251_200_125).as_deref(),
            Some("2024-03-01T00:00:00.125Z")
        );
        assert_eq!(
            litellm_utc(1_787_789_718).as_deref(),
            Some("2026-08-27 00:15:18 UTC")
        );
        assert_eq!(rfc3339_seconds(i64::MAX), None);
    }

    #[test]
    fn dates_are_utc_midnights() {
        assert_eq!(date_start_ms("1970-01-01"), Some(0));
        assert_eq!(date_start_ms("2024-03-01"), Some(1_709_251_200_000));
        assert_eq!(date_start_ms("2000-02-29"), Some(951_782_400_000));
        for bad in ["2024-13-01", "yesterday", "2024-01", "2023-02-29"] {
            assert_eq!(date_start_ms(bad), None, "{bad}");
        }
    }
}
