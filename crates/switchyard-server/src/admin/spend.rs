//! `/spend/logs` and `/spend/report`: the spend records of calls, filtered by call
//! (`request_id`), key, user, team, model and time, in the shape of LiteLLM's `SpendLogs`
//! (<https://docs.litellm.ai/docs/proxy/cost_tracking>; `LiteLLM_SpendLogs` in its
//! `schema.prisma`), and their totals per key, user, team or model; and LiteLLM's global spend
//! (`/global/spend`, `/global/spend/keys`, `/global/spend/models`). Times are LiteLLM's dates
//! (`start_date`, `end_date`, `YYYY-MM-DD`, UTC; the end date is included) or Unix milliseconds
//! (`start_ms`, `end_ms`). Admins and viewers read every record; internal users their own.
//!
//! Beyond LiteLLM: `/spend/logs` pages by keyset (`cursor`, the `x-switchyard-next-cursor`
//! header of the page before), and `/spend/logs/csv` streams every record the filters match as
//! CSV, page by page, for the admin UI's export.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use http::{HeaderValue, header};
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_store::{SpendCursor, SpendFilter, SpendGroup, SpendRecord, SpendTotal};

use super::access::Principal;
use super::{AdminQuery, store_error};
use crate::error::ApiError;
use crate::state::AppState;
use crate::timestamp::{date_start_ms, rfc3339_millis};

/// The query of both routes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendQuery {
    /// One call: the `id` of its answer (LiteLLM's `request_id`).
    request_id: Option<String>,
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
    /// `/spend/logs`: the page after this one (`x-switchyard-next-cursor` of the page before).
    cursor: Option<String>,
    /// `/spend/report`: `key`, `user`, `team` or `model` (default).
    group_by: Option<SpendGroup>,
}

impl SpendQuery {
    fn range(&self) -> Result<(Option<i64>, Option<i64>), ApiError> {
        const DAY_MS: i64 = 86_400_000;
        let date = |name: &str, date: &str| {
            date_start_ms(date).ok_or_else(|| {
                ApiError::invalid_request(format!("`{name}` must be a date as YYYY-MM-DD"))
            })
        };
        let start = match (self.start_ms, &self.start_date) {
            (Some(ms), _) => Some(ms),
            (None, Some(day)) => Some(date("start_date", day)?),
            (None, None) => None,
        };
        let end = match (self.end_ms, &self.end_date) {
            (Some(ms), _) => Some(ms),
            (None, Some(day)) => Some(date("end_date", day)?.saturating_add(DAY_MS)),
            (None, None) => None,
        };
        Ok((start, end))
    }
}

/// The response header naming the cursor of the next page of `/spend/logs`, present when the
/// page is full.
pub const NEXT_CURSOR_HEADER: &str = "x-switchyard-next-cursor";

/// `GET /spend/logs`: newest first, at most `limit` (default 100, at most 10,000), each as
/// LiteLLM's `SpendLogs` row. Internal users see only their own calls. A full page names the
/// next one in [`NEXT_CURSOR_HEADER`].
pub async fn logs(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(query): AdminQuery<SpendQuery>,
) -> Result<Response, ApiError> {
    let filter = filter_for(&principal, query, "/spend/logs")?;
    let records = state
        .storage()
        .store()
        .spend_logs(&filter)
        .await
        .map_err(store_error)?;
    let next = (records.len() == filter.limit as usize)
        .then(|| records.last().map(SpendCursor::after))
        .flatten()
        .and_then(|cursor| HeaderValue::from_str(&cursor.to_string()).ok());
    let mut response = Json(records.into_iter().map(spend_log).collect::<Vec<_>>()).into_response();
    if let Some(next) = next {
        response.headers_mut().insert(NEXT_CURSOR_HEADER, next);
    }
    Ok(response)
}

/// The records of `/spend/logs` read per page of the CSV export.
const CSV_PAGE: u32 = 1_000;

/// `GET /spend/logs/csv`: every record the filters match (`limit` is ignored), newest first,
/// as CSV (RFC 4180, a header row first), read and sent a page at a time so that a large log is
/// never held whole. A database failure after the first page ends the body early.
pub async fn logs_csv(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(query): AdminQuery<SpendQuery>,
) -> Result<Response, ApiError> {
    let mut filter = filter_for(&principal, query, "/spend/logs/csv")?;
    filter.limit = CSV_PAGE;
    let store = state.storage().store().clone();
    let first = store.spend_logs(&filter).await.map_err(store_error)?;
    let mut head = csv_row(CSV_COLUMNS.iter().map(|c| (*c).to_owned()));
    for record in &first {
        head.push_str(&csv_record(record));
    }
    let next = (first.len() == CSV_PAGE as usize)
        .then(|| first.last().map(SpendCursor::after))
        .flatten();
    let rest = futures_util::stream::unfold(next, move |after| {
        let store = store.clone();
        let mut filter = filter.clone();
        async move {
            filter.after = Some(after?);
            match store.spend_logs(&filter).await {
                Ok(page) => {
                    let next = (page.len() == CSV_PAGE as usize)
                        .then(|| page.last().map(SpendCursor::after))
                        .flatten();
                    let text: String = page.iter().map(csv_record).collect();
                    Some((Ok::<_, std::io::Error>(text), next))
                }
                Err(err) => {
                    tracing::error!(error = %err, "the spend log export stopped: the database failed");
                    Some((Err(std::io::Error::other("the database failed")), None))
                }
            }
        }
    });
    let body = futures_util::stream::once(async move { Ok(head) }).chain(rest);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"spend-logs.csv\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// The columns of the CSV export: LiteLLM's `SpendLogs` names.
const CSV_COLUMNS: [&str; 17] = [
    "request_id",
    "startTime",
    "endTime",
    "api_key",
    "key_alias",
    "user",
    "team_id",
    "model",
    "model_group",
    "model_id",
    "custom_llm_provider",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "spend",
    "status_code",
    "cache_hit",
];

fn csv_record(record: &SpendRecord) -> String {
    let end_ms = record
        .time_ms
        .saturating_add(i64::try_from(record.latency_ms).unwrap_or(i64::MAX));
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    csv_row([
        record.request_id.clone(),
        rfc3339_millis(record.time_ms).unwrap_or_default(),
        rfc3339_millis(end_ms).unwrap_or_default(),
        text(&record.key_id),
        text(&record.key_alias),
        text(&record.user_id),
        text(&record.team_id),
        record.model_requested.clone(),
        text(&record.model_group),
        text(&record.deployment),
        text(&record.provider),
        record.input_tokens.to_string(),
        record.output_tokens.to_string(),
        record
            .input_tokens
            .saturating_add(record.output_tokens)
            .to_string(),
        record.cost_usd.to_string(),
        record.status.to_string(),
        if record.cache_hit { "True" } else { "False" }.to_owned(),
    ])
}

/// One CSV line (RFC 4180): fields with a comma, quote or line break quoted, quotes doubled; a
/// field a spreadsheet would read as a formula (`=`, `+`, `-`, `@` first) gets a leading `'`
/// (OWASP's advice on CSV injection), numbers aside.
fn csv_row(fields: impl IntoIterator<Item = String>) -> String {
    let mut line = String::new();
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let formula = field.starts_with(['=', '+', '-', '@']) && field.parse::<f64>().is_err();
        let field = if formula { format!("'{field}") } else { field };
        if field.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&field.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&field);
        }
    }
    line.push_str("\r\n");
    line
}

/// The store filter of a spend log query, narrowed to the caller's own calls for internal
/// users.
fn filter_for(
    principal: &Principal,
    query: SpendQuery,
    route: &str,
) -> Result<SpendFilter, ApiError> {
    let mut user_id = query.user_id.clone();
    if !principal.reads_all() {
        if !principal.reads_own_spend() {
            return Err(principal.refusal(route));
        }
        let own = principal.user_id.as_deref().map(str::to_owned);
        if user_id.is_some() && user_id != own {
            return Err(ApiError::forbidden(
                "You are not allowed to view another user's spend logs",
            ));
        }
        user_id = own;
    }
    let (start_ms, end_ms) = query.range()?;
    let after = query
        .cursor
        .as_deref()
        .map(str::parse::<SpendCursor>)
        .transpose()
        .map_err(ApiError::invalid_request)?;
    Ok(SpendFilter {
        request_id: query.request_id,
        key_id: query.key_id.or(query.api_key),
        user_id,
        team_id: query.team_id,
        model: query.model,
        start_ms,
        end_ms,
        after,
        limit: query.limit.unwrap_or(100).min(10_000),
    })
}

/// A spend record as a row of LiteLLM's `SpendLogs`: `request_id` (the `id` of the answer the
/// client got), `call_type`, `api_key` (the key's public id; LiteLLM's is the key's hash),
/// `spend`, `total_tokens`, `prompt_tokens`, `completion_tokens`, `startTime`, `endTime`,
/// `model` (as requested), `model_id` (the deployment), `model_group`, `custom_llm_provider`,
/// `user` (the key's user), `end_user`, `team_id`, `organization_id`, `cache_hit` (`"True"` or
/// `"False"`, a string as LiteLLM stores it), `status` (`success` or `failure`) and `metadata`
/// (the key's alias, user, team and organization as LiteLLM names them, and Switchyard's own
/// facts). `api_base` is left out: upstream URLs are not shown.
fn spend_log(record: SpendRecord) -> Value {
    let end_ms = record
        .time_ms
        .saturating_add(i64::try_from(record.latency_ms).unwrap_or(i64::MAX));
    let status = if record.status < 400 {
        "success"
    } else {
        "failure"
    };
    json!({
        "request_id": record.request_id,
        "call_type": record.call_type.unwrap_or_default(),
        "api_key": record.key_id.clone().unwrap_or_default(),
        "spend": record.cost_usd,
        "total_tokens": record.input_tokens.saturating_add(record.output_tokens),
        "prompt_tokens": record.input_tokens,
        "completion_tokens": record.output_tokens,
        "startTime": rfc3339_millis(record.time_ms),
        "endTime": rfc3339_millis(end_ms),
        "request_duration_ms": record.latency_ms,
        "model": record.model_requested,
        "model_id": record.deployment.clone().unwrap_or_default(),
        "model_group": record.model_group.unwrap_or_default(),
        "custom_llm_provider": record.provider.clone().unwrap_or_default(),
        "user": record.user_id.clone().unwrap_or_default(),
        "end_user": record.end_user,
        "team_id": record.team_id.clone(),
        "organization_id": record.organization_id.clone(),
        "cache_hit": if record.cache_hit { "True" } else { "False" },
        "status": status,
        "metadata": {
            "user_api_key": record.key_id,
            "user_api_key_alias": record.key_alias,
            "user_api_key_user_id": record.user_id,
            "user_api_key_team_id": record.team_id,
            "user_api_key_org_id": record.organization_id,
            "status_code": record.status,
            "deployment": record.deployment,
            "provider": record.provider,
            "cached_tokens": record.cached_tokens,
            "cost_estimated": record.cost_estimated,
            "experiment": record.experiment,
            "variant": record.variant,
        },
    })
}

/// `GET /spend/report?group_by=...`: totals per group over the range, for admins and viewers.
pub async fn report(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(query): AdminQuery<SpendQuery>,
) -> Result<Json<Vec<SpendTotal>>, ApiError> {
    principal.require_reader("/spend/report")?;
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

/// `?limit=` of the global spend routes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalQuery {
    limit: Option<u32>,
}

/// The last 30 days in Unix milliseconds, the window of LiteLLM's `/global/spend/keys` and
/// `/global/spend/models` (its `Last30dKeysBySpend` and `Last30dModelsBySpend` views).
fn last_30_days() -> (i64, i64) {
    let now_ms = crate::storage::unix_seconds().saturating_mul(1_000);
    (
        now_ms.saturating_sub(30 * 86_400_000),
        now_ms.saturating_add(1),
    )
}

/// `GET /global/spend`: `{"spend": <every call's cost>, "max_budget": null}` (no proxy-wide
/// budget), for admins and viewers.
pub async fn global_spend(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    principal.require_reader("/global/spend")?;
    let totals = state
        .storage()
        .store()
        .spend_totals(SpendGroup::Key, 0, i64::MAX)
        .await
        .map_err(store_error)?;
    let spend: f64 = totals.iter().map(|total| total.cost_usd).sum();
    Ok(Json(json!({"spend": spend, "max_budget": null})))
}

/// `GET /global/spend/keys?limit=`: the keys that spent most in the last 30 days,
/// `[{"api_key", "key_alias", "key_name", "total_spend"}]`, for admins and viewers.
pub async fn global_spend_keys(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(query): AdminQuery<GlobalQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    principal.require_reader("/global/spend/keys")?;
    let store = state.storage().store();
    let (start_ms, end_ms) = last_30_days();
    let totals = store
        .spend_totals(SpendGroup::Key, start_ms, end_ms)
        .await
        .map_err(store_error)?;
    let mut rows = Vec::new();
    for total in totals
        .into_iter()
        .filter(|total| total.group.is_some())
        .take(query.limit.unwrap_or(100).min(1_000) as usize)
    {
        let id = total.group.unwrap_or_default();
        let key = store.key_by_id(&id).await.map_err(store_error)?;
        rows.push(json!({
            "api_key": id,
            "key_alias": key.as_ref().and_then(|k| k.alias.clone()),
            "key_name": key.and_then(|k| k.key_name),
            "total_spend": total.cost_usd,
        }));
    }
    Ok(Json(rows))
}

/// `GET /global/spend/models?limit=`: the model groups that spent most in the last 30 days,
/// `[{"model", "total_spend"}]`, for admins and viewers.
pub async fn global_spend_models(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(query): AdminQuery<GlobalQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    principal.require_reader("/global/spend/models")?;
    let (start_ms, end_ms) = last_30_days();
    let totals = state
        .storage()
        .store()
        .spend_totals(SpendGroup::Model, start_ms, end_ms)
        .await
        .map_err(store_error)?;
    Ok(Json(
        totals
            .into_iter()
            .take(query.limit.unwrap_or(100).min(1_000) as usize)
            .map(|total| json!({"model": total.group, "total_spend": total.cost_usd}))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::csv_row;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        let row = |fields: &[&str]| csv_row(fields.iter().map(|f| (*f).to_owned()));
        assert_eq!(row(&["a", "b c", "1.5"]), "a,b c,1.5\r\n");
        assert_eq!(
            row(&["x,y", "say \"hi\""]),
            "\"x,y\",\"say \"\"hi\"\"\"\r\n"
        );
        assert_eq!(row(&["line\nbreak"]), "\"line\nbreak\"\r\n");
        assert_eq!(row(&["=SUM(A1)", "-3", "@x"]), "'=SUM(A1),-3,'@x\r\n");
    }
}
