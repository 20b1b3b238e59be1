//! The one place where failures become HTTP answers: status, OpenAI error body
//! (`{"error": {"message", "type", "param", "code"}}`) and `Retry-After`. Messages repeat what a
//! client sent only cut short ([`echo`]), so an error never reflects a client's megabytes back.

use std::borrow::Cow;
use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};
use switchyard_layers::limits::Elapsed;
use switchyard_layers::rate_limit::{LimitKind, RateLimitError, Scope};
use switchyard_providers::{ErrorClass, ProviderError};
use switchyard_router::{RuleError, Unavailable};
use switchyard_store::CounterScope;
use switchyard_wire::ErrorBody;
use tower::BoxError;

/// A failed request, ready to be answered.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// OpenAI error `type`.
    pub kind: &'static str,
    /// OpenAI error `code`.
    pub code: Option<&'static str>,
    /// A sentence for a person; never holds secrets. Quoted parts (between backticks or double
    /// quotes) hold at most [`ECHO_CHARS`] characters, and the whole at most
    /// [`MAX_MESSAGE_CHARS`].
    pub message: String,
    /// How long the client should wait before trying again.
    pub retry_after: Option<Duration>,
    /// The scope of the gateway's own rate limit that refused the call (`api_key`, `user`,
    /// `team`, `model`), for metrics.
    pub limit_scope: Option<Scope>,
    /// Further response headers (LiteLLM's `rate_limit_type` and `reset_at` on a refusal);
    /// boxed, as most errors have none.
    pub headers: Option<Box<Vec<(HeaderName, HeaderValue)>>>,
}

const INVALID_REQUEST: &str = "invalid_request_error";

/// The most characters of a client's string that an error message repeats.
pub const ECHO_CHARS: usize = 64;
/// The most characters of an error message, whatever it quotes.
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// `text` (a model name, a path, anything a client sent) as an error message may repeat it: its
/// first [`ECHO_CHARS`] characters, then `…` when there were more.
pub fn echo(text: &str) -> Cow<'_, str> {
    cut(text, ECHO_CHARS)
}

/// At most `max` characters of `text`, then `…` when there were more.
fn cut(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((at, _)) => Cow::Owned(format!("{}…", &text[..at])),
    }
}

/// `message` with every quoted part cut by [`echo`], then the whole cut to
/// [`MAX_MESSAGE_CHARS`]. Messages quote what they name, and what a client sent reaches them
/// through more paths than the constructors here (serde's errors quote the offending string,
/// adapters and dispatch quote values), so the bound is applied to every message rather than
/// trusted to each caller.
fn bounded(message: String) -> String {
    if message.len() <= ECHO_CHARS {
        return message;
    }
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE_CHARS + 8));
    let mut rest = message.as_str();
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest.as_bytes()[open];
        out.push_str(&rest[..=open]);
        let quoted = &rest[open + 1..];
        let Some(close) = closing_quote(quoted, quote) else {
            // Never closed: what follows is one quoted part.
            out.push_str(&echo(quoted));
            rest = "";
            break;
        };
        out.push_str(&echo(&quoted[..close]));
        out.push(char::from(quote));
        rest = &quoted[close + 1..];
        if out.len() > MAX_MESSAGE_CHARS * 4 {
            // Long enough to be cut anyway: scanning further only costs.
            rest = "";
            break;
        }
    }
    out.push_str(rest);
    cut(&out, MAX_MESSAGE_CHARS).into_owned()
}

/// Where `quote` closes the part that starts `text`; inside double quotes a backslash escapes
/// the next character, as Rust's `{:?}` and JSON write them.
fn closing_quote(text: &str, quote: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code,
            message: bounded(message.into()),
            retry_after: None,
            limit_scope: None,
            headers: None,
        }
    }

    /// The body is not JSON.
    pub fn invalid_json(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Some("invalid_json"),
            format!("request body is not valid JSON: {detail}"),
        )
    }

    /// The body is JSON but not a valid request.
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Some("invalid_request"),
            detail,
        )
    }

    /// No key, or not the right one.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            Some("invalid_api_key"),
            message,
        )
    }

    /// The requested model is not configured.
    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            INVALID_REQUEST,
            Some("model_not_found"),
            format!(
                "the model `{}` does not exist on this gateway; GET /v1/models lists the models you can use",
                echo(model)
            ),
        )
    }

    /// The body is larger than the configured limit.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            Some("request_too_large"),
            format!(
                "request body is larger than this gateway accepts ({limit} bytes; general_settings.max_request_size_mb)"
            ),
        )
    }

    /// The request has both `Content-Length` and `Transfer-Encoding` (RFC 9112 §6.1).
    pub fn ambiguous_framing() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Some("ambiguous_framing"),
            "the request has both Content-Length and Transfer-Encoding, so its length is ambiguous (RFC 9112 §6.1); send one of them; the connection is closed",
        )
    }

    /// The body did not arrive within `general_settings.body_timeout_seconds`.
    pub fn body_timeout(limit: Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            INVALID_REQUEST,
            Some("request_timeout"),
            format!(
                "the request body did not arrive within {:.3}s of its headers (general_settings.body_timeout_seconds); the connection is closed",
                limit.as_secs_f64()
            ),
        )
    }

    /// The body is not of the media type the route reads.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_REQUEST,
            Some("unsupported_media_type"),
            message,
        )
    }

    /// The body is encoded (`Content-Encoding: gzip`, ...); the gateway reads plain bodies only.
    pub fn unsupported_encoding(coding: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_REQUEST,
            Some("unsupported_content_encoding"),
            format!(
                "request bodies must not be encoded (Content-Encoding `{}`); send the JSON as it is",
                echo(coding)
            ),
        )
    }

    /// No route matches the path.
    pub fn route_not_found(method: &http::Method, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            INVALID_REQUEST,
            Some("not_found"),
            format!("no route for {} `{}`", echo(method.as_str()), echo(path)),
        )
    }

    /// The route exists but not for this method.
    pub fn method_not_allowed(method: &http::Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            INVALID_REQUEST,
            Some("method_not_allowed"),
            format!("`{}` does not accept {}", echo(path), echo(method.as_str())),
        )
    }

    /// The upstream did not answer within the deployment's timeout.
    pub fn upstream_timeout(deployment: &str, after: Duration) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "api_error",
            Some(ErrorClass::Timeout.as_str()),
            format!(
                "deployment `{deployment}` did not answer within {:.3}s",
                after.as_secs_f64()
            ),
        )
    }

    /// Every deployment of a group is cooling down or at its limits: 429 when the upstreams
    /// rate limited them all (as LiteLLM answers, and what clients back off from), else 503;
    /// `Retry-After` whenever the first one's return is known.
    pub fn no_deployment_available(group: &str, unavailable: Unavailable) -> Self {
        let mut error = if unavailable.rate_limited {
            Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                Some("rate_limit_exceeded"),
                format!(
                    "every deployment of model group `{group}` is cooling down after its upstream's rate limit; try again after the Retry-After"
                ),
            )
        } else if unavailable.credentials_refused {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                Some("no_deployment_available"),
                format!(
                    "every deployment of model group `{group}` is cooling down or at its limits; the provider refused this gateway's credentials for at least one of them (the deployment's api_key, set by the gateway's operator, not your key), so it is out of rotation until its cooldown ends"
                ),
            )
        } else {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                Some("no_deployment_available"),
                format!(
                    "every deployment of model group `{group}` is cooling down after failures or at its limits; try again shortly"
                ),
            )
        };
        error.retry_after = unavailable.retry_after;
        error
    }

    /// Routing rules could not choose a group: none matched and there is no default (400, the
    /// request lacks what the rules look for), or every candidate is over its limits (503).
    pub fn from_rule(err: &RuleError) -> Self {
        match err {
            RuleError::NoMatch { .. } => Self::new(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                Some("no_rule_matched"),
                err.to_string(),
            ),
            RuleError::NoCandidate { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                Some("no_rule_candidate"),
                err.to_string(),
            ),
        }
    }

    /// The whole call, retries and fallbacks included, did not finish within its deadline.
    pub fn deadline_passed(limit: Duration) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "api_error",
            Some(ErrorClass::Timeout.as_str()),
            format!(
                "the call did not finish within its deadline of {:.3}s",
                limit.as_secs_f64()
            ),
        )
    }

    /// A caller over one of its rate limits (or, failing closed, limits that cannot be
    /// checked): 429 with `Retry-After`. The message and the `rate_limit_type` and `reset_at`
    /// headers are LiteLLM's (<https://docs.litellm.ai/docs/proxy/error_reference>, "Which 429 is
    /// this?"): `Rate limit exceeded for api_key: key-1. Limit type: requests. Current limit: 1,
    /// Remaining: 0. Limit resets at: 2026-08-27 00:15:18 UTC`.
    pub fn rate_limited(err: &RateLimitError) -> Self {
        let mut error = match err {
            RateLimitError::Limited(limited) => {
                let kind = match limited.kind {
                    LimitKind::Requests => "requests",
                    LimitKind::Tokens => "tokens",
                };
                let wait = limited.retry_after;
                let resets = crate::storage::unix_seconds()
                    .saturating_add(i64::try_from(wait.as_secs()).unwrap_or(i64::MAX))
                    .saturating_add(i64::from(wait.subsec_nanos() > 0));
                let resets = crate::timestamp::litellm_utc(resets).unwrap_or_default();
                let mut error = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    Some("rate_limit_exceeded"),
                    format!(
                        "Rate limit exceeded for {}: {}. Limit type: {kind}. Current limit: {}, \
                         Remaining: 0. Limit resets at: {resets}",
                        limited.scope, limited.key, limited.limit
                    ),
                );
                error.limit_scope = Some(limited.scope.clone());
                let mut headers = vec![(
                    HeaderName::from_static("rate_limit_type"),
                    HeaderValue::from_static(kind),
                )];
                if let Ok(value) = HeaderValue::from_str(&resets) {
                    headers.push((HeaderName::from_static("reset_at"), value));
                }
                error.headers = Some(Box::new(headers));
                error
            }
            RateLimitError::Unavailable(_) => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                Some("rate_limits_unavailable"),
                err.to_string(),
            ),
        };
        error.retry_after = Some(err.retry_after());
        error
    }

    /// A failure from the layers in front of the router: the gateway's own error, a rate limit,
    /// or (never expected) something else, answered as an internal error.
    pub fn from_layers(err: BoxError) -> Self {
        match err.downcast::<Self>() {
            Ok(err) => *err,
            Err(err) => match err.downcast_ref::<RateLimitError>() {
                Some(limited) => Self::rate_limited(limited),
                None => {
                    tracing::error!(error = %err, "unexpected failure in the call path");
                    Self::internal("the gateway failed while handling this request")
                }
            },
        }
    }

    /// A key, user, team, organization or end user has spent its budget for the current
    /// period: `status` (LiteLLM's default 422, or `budget_exceeded_status_code`), type and code
    /// `budget_exceeded`, and LiteLLM's words, which clients match on
    /// (<https://docs.litellm.ai/docs/proxy/error_reference>): `Budget has been exceeded!
    /// Key=ci (sk-...W8TA) Current cost: 0.06, Max budget: 0.05` for keys, teams and
    /// organizations, `ExceededBudget: User=ana over budget. Spend=3.7e-05, Budget=0.0` for users
    /// and end users. `name` is the key's alias and abbreviated secret, else the owner's id.
    pub fn budget_exceeded(
        status: StatusCode,
        scope: CounterScope,
        name: &str,
        spent: f64,
        max_budget: f64,
    ) -> Self {
        let (spent, max_budget) = (python_float(spent), python_float(max_budget));
        let message = match scope {
            CounterScope::Key => budget_sentence("Key", name, &spent, &max_budget),
            CounterScope::Team => budget_sentence("Team", name, &spent, &max_budget),
            CounterScope::Organization => {
                budget_sentence("Organization", name, &spent, &max_budget)
            }
            CounterScope::User => {
                format!(
                    "ExceededBudget: User={name} over budget. Spend={spent}, Budget={max_budget}"
                )
            }
            CounterScope::EndUser => format!(
                "ExceededBudget: End User={name} over budget. Spend={spent}, Budget={max_budget}"
            ),
        };
        Self::new(status, "budget_exceeded", Some("budget_exceeded"), message)
    }

    /// A call with a budget to a model group with a deployment that has no price
    /// (`general_settings.budget_unpriced: refuse`).
    pub fn unpriced_model(model: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Some("unpriced_model"),
            format!(
                "model `{model}` has no known price, so calls with a budget may not use it; the \
                 operator can set its price or `model_info.base_model`"
            ),
        )
    }

    /// The caller may not do this (an admin route the caller's role or team does not allow).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            Some("forbidden"),
            message,
        )
    }

    /// The caller may not use this admin route at all (LiteLLM answers 401 here, not 403:
    /// "Only proxy admin can be used to generate, delete, update info for new keys/users/teams").
    pub fn admin_only(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            Some("admin_only"),
            message,
        )
    }

    /// The caller's key may not call this model.
    pub fn model_not_allowed(model: &str, key_id: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            Some("model_not_allowed"),
            format!("key `{key_id}` may not call model `{}`", echo(model)),
        )
    }

    /// The caller asked for one of its aliases (`alias`), and its key may not call the model
    /// the alias stands for (`target`).
    pub fn alias_not_allowed(alias: &str, target: &str, key_id: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            Some("model_not_allowed"),
            format!(
                "key `{key_id}` may not call model `{}`, which its alias `{}` stands for",
                echo(target),
                echo(alias)
            ),
        )
    }

    /// A dependency the gateway needs (its database) does not answer.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            Some("service_unavailable"),
            message,
        )
    }

    /// A request to the admin API that would create what exists already.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            INVALID_REQUEST,
            Some("conflict"),
            message,
        )
    }

    /// A request to the admin API for something that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            INVALID_REQUEST,
            Some("not_found"),
            message,
        )
    }

    /// A failure inside the gateway itself.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            Some("internal_error"),
            message,
        )
    }

    /// Maps a classified upstream failure: 429 stays 429 (with its Retry-After), a timeout is
    /// 504, the client's own mistakes are 400, everything else the upstream got wrong is 502.
    pub fn from_provider(deployment: &str, err: &ProviderError) -> Self {
        let (status, kind) = match err.class {
            ErrorClass::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error"),
            ErrorClass::Timeout => (StatusCode::GATEWAY_TIMEOUT, "api_error"),
            ErrorClass::BadRequest
            | ErrorClass::ContextWindowExceeded
            | ErrorClass::ContentPolicy => (StatusCode::BAD_REQUEST, INVALID_REQUEST),
            _ => (StatusCode::BAD_GATEWAY, "api_error"),
        };
        let status_note = err
            .status
            .map(|s| format!(" (HTTP {s})"))
            .unwrap_or_default();
        let cause = match err.class {
            ErrorClass::Authentication => {
                "the provider refused this gateway's credentials for the deployment (its api_key, set by the gateway's operator, not your key); upstream said: "
            }
            _ => "",
        };
        let mut api = Self::new(
            status,
            kind,
            Some(openai_code(err.class)),
            format!(
                "deployment `{deployment}`{status_note}: {cause}{}",
                err.message
            ),
        );
        api.retry_after = err.retry_after;
        api
    }

    /// The OpenAI error body of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.message.clone(), self.kind, self.code)
    }
}

/// The OpenAI error `code` of an upstream failure's class: OpenAI's own code where its API
/// documents one for the same failure, which clients and frameworks match on
/// (<https://platform.openai.com/docs/guides/error-codes>; `context_length_exceeded` and
/// `rate_limit_exceeded` as OpenAI's API answers them, `content_policy_violation` as its image
/// API does), else the gateway's name of the class (README, "Error codes").
pub(crate) fn openai_code(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::ContextWindowExceeded => "context_length_exceeded",
        ErrorClass::RateLimited => "rate_limit_exceeded",
        other => other.as_str(),
    }
}

/// LiteLLM's sentence for a spent key, team or organization budget.
fn budget_sentence(what: &str, name: &str, spent: &str, max_budget: &str) -> String {
    format!(
        "Budget has been exceeded! {what}={name} Current cost: {spent}, Max budget: {max_budget}"
    )
}

/// `value` as Python's `repr(float)` writes it, since LiteLLM's messages are Python's:
/// `0.06`, `10.0`, `1e-07`, `1e+16`.
pub(crate) fn python_float(value: f64) -> String {
    if !value.is_finite() {
        return if value.is_nan() {
            "nan"
        } else if value > 0.0 {
            "inf"
        } else {
            "-inf"
        }
        .to_owned();
    }
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-4..1e16).contains(&magnitude) {
        let text = format!("{value}");
        return if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        };
    }
    let text = format!("{value:e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) => {
            let exponent: i32 = exponent.parse().unwrap_or(0);
            let sign = if exponent < 0 { '-' } else { '+' };
            format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
        }
        None => text,
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<Elapsed> for ApiError {
    fn from(elapsed: Elapsed) -> Self {
        Self::deadline_passed(elapsed.limit())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        for (name, value) in self.headers.iter().flat_map(|headers| headers.iter()) {
            response.headers_mut().insert(name.clone(), value.clone());
        }
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            // The gateway's only 415 is for an encoded body: RFC 9110 §15.5.16 says to name the
            // codings that would have been accepted.
            response.headers_mut().insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_static("identity"),
            );
        }
        // Kept so that an ingress speaking another API (Anthropic's `/v1/messages`) can answer
        // the same failure in its own error shape.
        response.extensions_mut().insert(self);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_classes_map_to_statuses() {
        let cases = [
            (ErrorClass::RateLimited, 429),
            (ErrorClass::Timeout, 504),
            (ErrorClass::UpstreamServer, 502),
            (ErrorClass::Overloaded, 502),
            (ErrorClass::Unreachable, 502),
            (ErrorClass::InvalidResponse, 502),
            (ErrorClass::Authentication, 502),
            (ErrorClass::ContextWindowExceeded, 400),
            (ErrorClass::BadRequest, 400),
        ];
        for (class, status) in cases {
            let err = ApiError::from_provider("d", &ProviderError::new(class, "x"));
            assert_eq!(err.status.as_u16(), status, "{class:?}");
            assert_eq!(err.code, Some(openai_code(class)));
        }
        // OpenAI's documented codes where OpenAI has one for the failure.
        let code = |class| ApiError::from_provider("d", &ProviderError::new(class, "x")).code;
        assert_eq!(
            code(ErrorClass::ContextWindowExceeded),
            Some("context_length_exceeded")
        );
        assert_eq!(code(ErrorClass::RateLimited), Some("rate_limit_exceeded"));
        assert_eq!(
            code(ErrorClass::ContentPolicy),
            Some("content_policy_violation")
        );
    }

    #[test]
    fn refused_provider_credentials_are_named_as_the_cause() {
        let mut refused = ProviderError::new(ErrorClass::Authentication, "invalid x-api-key");
        refused.status = Some(401);
        let err = ApiError::from_provider("claude-1", &refused);
        assert_eq!(err.status, StatusCode::BAD_GATEWAY);
        assert!(
            err.message.contains("refused this gateway's credentials")
                && err.message.contains("invalid x-api-key")
                && err.message.contains("(HTTP 401)"),
            "{}",
            err.message
        );
        let cooling = ApiError::no_deployment_available(
            "claude",
            Unavailable {
                retry_after: None,
                rate_limited: false,
                credentials_refused: true,
            },
        );
        assert_eq!(cooling.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            cooling.message.contains("cooling down")
                && cooling
                    .message
                    .contains("refused this gateway's credentials"),
            "{}",
            cooling.message
        );
        let plain = ApiError::no_deployment_available("claude", Unavailable::default());
        assert!(!plain.message.contains("credentials"), "{}", plain.message);
    }

    #[test]
    fn echoed_strings_are_cut_to_a_prefix() {
        assert_eq!(echo("gpt-4o"), "gpt-4o");
        let exact = "x".repeat(ECHO_CHARS);
        assert_eq!(echo(&exact), exact);
        let long = "é".repeat(10 * ECHO_CHARS);
        assert_eq!(echo(&long), format!("{}…", "é".repeat(ECHO_CHARS)));
        let err = ApiError::model_not_found(&"m".repeat(1024 * 1024));
        assert!(
            err.message
                .contains(&format!("`{}…`", "m".repeat(ECHO_CHARS)))
        );
        assert!(err.message.len() < 200, "{}", err.message);
        let err = ApiError::route_not_found(&http::Method::GET, &format!("/{}", "p".repeat(9000)));
        assert!(err.message.len() < 200, "{}", err.message);
    }

    #[test]
    fn quoted_parts_of_any_message_are_cut() {
        let long = "q".repeat(5000);
        // As serde_json words a wrong type, with an escaped quote inside.
        let err = ApiError::invalid_request(format!(
            "invalid type: string \"{long}\\\"{long}\", expected a sequence at line 1 column 9"
        ));
        assert_eq!(
            err.message,
            format!(
                "invalid type: string \"{}…\", expected a sequence at line 1 column 9",
                "q".repeat(64)
            )
        );
        let err =
            ApiError::invalid_request(format!("`tags` must be a list, found `{long}`; see `docs`"));
        assert_eq!(
            err.message,
            format!(
                "`tags` must be a list, found `{}…`; see `docs`",
                "q".repeat(64)
            )
        );
        // An unclosed quote, and a long unquoted message: bounded all the same.
        let err = ApiError::invalid_request(format!("bad `{long}"));
        assert_eq!(err.message, format!("bad `{}…", "q".repeat(64)));
        let err = ApiError::internal(long.clone());
        assert_eq!(err.message.chars().count(), MAX_MESSAGE_CHARS + 1);
        // Short messages are left alone.
        assert_eq!(
            ApiError::invalid_request("`x` is `y`").message,
            "`x` is `y`"
        );
    }

    #[test]
    fn numbers_read_as_python_writes_them() {
        for (value, text) in [
            (0.06, "0.06"),
            (10.0, "10.0"),
            (0.0, "0.0"),
            (1e-7, "1e-07"),
            (3.7e-5, "3.7e-05"),
            (0.0001, "0.0001"),
            (20.000_664_999_999_98, "20.00066499999998"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
        ] {
            assert_eq!(python_float(value), text, "{value}");
        }
    }

    #[test]
    fn budget_refusals_use_litellms_words() {
        // https://docs.litellm.ai/docs/proxy/error_reference (worked example, gateway origin).
        let err = ApiError::budget_exceeded(
            StatusCode::UNPROCESSABLE_ENTITY,
            CounterScope::Key,
            "analytics-team (sk-...W8TA)",
            0.06,
            0.05,
        );
        assert_eq!(
            err.message,
            "Budget has been exceeded! Key=analytics-team (sk-...W8TA) Current cost: 0.06, Max budget: 0.05"
        );
        assert_eq!((err.status.as_u16(), err.kind), (422, "budget_exceeded"));
        // https://docs.litellm.ai/docs/proxy/users (a user over budget).
        let err = ApiError::budget_exceeded(
            StatusCode::TOO_MANY_REQUESTS,
            CounterScope::User,
            "ana",
            3.7e-5,
            0.0,
        );
        assert_eq!(
            err.message,
            "ExceededBudget: User=ana over budget. Spend=3.7e-05, Budget=0.0"
        );
        assert_eq!(err.status.as_u16(), 429);
        let team = ApiError::budget_exceeded(
            StatusCode::UNPROCESSABLE_ENTITY,
            CounterScope::Team,
            "t1",
            70.004,
            70.0,
        );
        assert_eq!(
            team.message,
            "Budget has been exceeded! Team=t1 Current cost: 70.004, Max budget: 70.0"
        );
        let org = ApiError::budget_exceeded(
            StatusCode::UNPROCESSABLE_ENTITY,
            CounterScope::Organization,
            "o1",
            9.1,
            9.0,
        );
        assert!(
            org.message
                .starts_with("Budget has been exceeded! Organization=o1 ")
        );
        let end_user = ApiError::budget_exceeded(
            StatusCode::UNPROCESSABLE_ENTITY,
            CounterScope::EndUser,
            "e1",
            3.0,
            2.0,
        );
        assert_eq!(
            end_user.message,
            "ExceededBudget: End User=e1 over budget. Spend=3.0, Budget=2.0"
        );
    }

    #[test]
    fn rate_limit_refusals_use_litellms_words_and_headers() {
        use switchyard_layers::rate_limit::{Key, RateLimited};
        let err = RateLimitError::from(RateLimited {
            scope: Scope::API_KEY,
            key: Key::from("key-42"),
            kind: LimitKind::Requests,
            limit: 1,
            retry_after: Duration::from_millis(1_500),
        });
        let api = ApiError::rate_limited(&err);
        assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            api.message.starts_with(
                "Rate limit exceeded for api_key: key-42. Limit type: requests. Current limit: 1, \
                 Remaining: 0. Limit resets at: "
            ),
            "{}",
            api.message
        );
        assert!(api.message.ends_with(" UTC"), "{}", api.message);
        let response = api.into_response();
        assert_eq!(response.headers()["rate_limit_type"], "requests");
        assert!(response.headers().contains_key("reset_at"));
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let mut err = ProviderError::new(ErrorClass::RateLimited, "slow down");
        err.retry_after = Some(Duration::from_millis(1200));
        let response = ApiError::from_provider("d", &err).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }
}
