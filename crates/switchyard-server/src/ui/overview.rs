//! `GET /ui/api/overview?hours=`: the spend log of the last hours (24 by default, at most 90
//! days) in at most [`MAX_BUCKETS`] time buckets, per model group and deployment: calls,
//! failures, tokens, cost and latency buckets ([`switchyard_store::SpendBucket`]), from which
//! the page draws its charts and reads p50 and p99 (each the upper bound of the latency bucket
//! that holds it: the store keeps latencies in buckets, so percentiles are approximate).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin::{AdminQuery, store_error};
use crate::error::ApiError;
use crate::state::AppState;

/// The most time buckets an overview has.
pub const MAX_BUCKETS: i64 = 60;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// The query of the overview.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewQuery {
    /// How many hours back from now.
    hours: Option<u32>,
}

/// `GET /ui/api/overview`: `{"start_ms", "end_ms", "bucket_ms", "latency_bounds_ms",
/// "series": [...]}`.
pub async fn show(
    State(state): State<AppState>,
    AdminQuery(query): AdminQuery<OverviewQuery>,
) -> Result<Json<Value>, ApiError> {
    let hours = i64::from(query.hours.unwrap_or(24).clamp(1, 24 * 90));
    let window_ms = hours * HOUR_MS;
    // Whole minutes, at most MAX_BUCKETS of them in the window.
    let bucket_ms = ((window_ms / MAX_BUCKETS + MINUTE_MS - 1) / MINUTE_MS).max(1) * MINUTE_MS;
    let now_ms = crate::storage::unix_seconds().saturating_mul(1_000);
    let end_ms = (now_ms / bucket_ms + 1) * bucket_ms;
    let start_ms = end_ms - bucket_ms * MAX_BUCKETS;
    let series = state
        .storage()
        .store()
        .spend_series(start_ms, end_ms, bucket_ms)
        .await
        .map_err(store_error)?;
    Ok(Json(json!({
        "start_ms": start_ms,
        "end_ms": end_ms,
        "bucket_ms": bucket_ms,
        "latency_bounds_ms": switchyard_store::LATENCY_BOUNDS_MS,
        "series": series,
    })))
}
