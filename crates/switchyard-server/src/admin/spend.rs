//! `/spend/logs` and `/spend/report`: the spend records of calls, filtered by key, user, team,
//! model and time, and their totals per key, user, team or model over a time range. Times are
//! Unix milliseconds (`start_ms`, `end_ms`) or LiteLLM's dates (`start_date`, `end_date`,
//! `YYYY-MM-DD`, UTC; the end date is included).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use switchyard_store::{SpendFilter, SpendGroup, SpendRecord, SpendTotal};

use super::{AdminQuery, store_error};
use crate::error::ApiError;
use crate::state::AppState;

/// The query of both routes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendQuery {
    /// A key's public id (`api_key`, LiteLLM's name, is taken too).
    key_id: Option<String>,
    api_key: Option<String>,
    user_id: Option<String>,
    team_id: Option<String>,
    model: Option<String>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    start_date: Option<String>,
    end_date: Option<String>,
    limit: Option<u32>,
    /// `/spend/report`: `key`, `user`, `team` or `model` (default).
    group_by: Option<SpendGroup>,
}

impl SpendQuery {
    fn range(&self) -> Result<(Option<i64>, Option<i64>), ApiError> {
        const DAY_MS: i64 = 86_400_000;
        let start = match (self.start_ms, &self.start_date) {
            (Some(ms), _) => Some(ms),
            (None, Some(date)) => Some(date_ms("start_date", date)?),
            (None, None) => None,
        };
        let end = match (self.end_ms, &self.end_date) {
            (Some(ms), _) => Some(ms),
            (None, Some(date)) => Some(date_ms("end_date", date)? + DAY_MS),
            (None, None) => None,
        };
        Ok((start, end))
    }
}

/// `GET /spend/logs`: newest first, at most `limit` (default 100, at most 10,000).
pub async fn logs(
    State(state): State<AppState>,
    AdminQuery(query): AdminQuery<SpendQuery>,
) -> Result<Json<Vec<SpendRecord>>, ApiError> {
    let (start_ms, end_ms) = query.range()?;
    let filter = SpendFilter {
        key_id: query.key_id.or(query.api_key),
        user_id: query.user_id,
        team_id: query.team_id,
        model: query.model,
        start_ms,
        end_ms,
        limit: query.limit.unwrap_or(100).min(10_000),
    };
    let records = state
        .storage()
        .store()
        .spend_logs(&filter)
        .await
        .map_err(store_error)?;
    Ok(Json(records))
}

/// `GET /spend/report?group_by=...`: totals per group over the range.
pub async fn report(
    State(state): State<AppState>,
    AdminQuery(query): AdminQuery<SpendQuery>,
) -> Result<Json<Vec<SpendTotal>>, ApiError> {
    let (start_ms, end_ms) = query.range()?;
    let totals = state
        .storage()
        .store()
        .spend_totals(
            query.group_by.unwrap_or(SpendGroup::Model),
            start_ms.unwrap_or(0),
            end_ms.unwrap_or(i64::MAX),
        )
        .await
        .map_err(store_error)?;
    Ok(Json(totals))
}

/// Unix milliseconds at the start (UTC) of `YYYY-MM-DD`.
fn date_ms(name: &str, date: &str) -> Result<i64, ApiError> {
    let invalid = || ApiError::invalid_request(format!("`{name}` must be a date as YYYY-MM-DD"));
    let mut parts = date.trim().splitn(3, '-');
    let mut next = || -> Result<i64, ApiError> {
        parts
            .next()
            .and_then(|p| p.parse::<i64>().ok())
            .ok_or_else(invalid)
    };
    let (year, month, day) = (next()?, next()?, next()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(invalid());
    }
    Ok(days_from_civil(year, month, day) * 86_400_000)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_midnights() {
        assert_eq!(date_ms("d", "1970-01-01").ok(), Some(0));
        assert_eq!(date_ms("d", "2024-03-01").ok(), Some(1_709_251_200_000));
        assert_eq!(date_ms("d", "2000-02-29").ok(), Some(951_782_400_000));
        for bad in ["2024-13-01", "yesterday", "2024-01"] {
            assert!(date_ms("d", bad).is_err(), "{bad}");
        }
    }
}
