//! What one finished call leaves behind: a [`CallRecord`] with every fact that spend records,
//! metrics, traces and the access log need (who called, what was asked, which deployment
//! answered, tokens, cost, latency, status, cache and experiment), handed to
//! [`AppState::finish_call`] exactly once per call: when a complete answer is ready, when a
//! stream ends or is dropped, or when the call fails. The record carries the call's span, so the
//! span lives (and a stream's call stays traced) until the record is finished.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchyard_layers::cost::{Cost, Tokens};
use switchyard_layers::rate_limit::Scope;
use switchyard_telemetry::CallSpan;
use switchyard_telemetry::propagation::trace_id_of;

use crate::caller::Caller;
use crate::observe;
use crate::state::AppState;
use crate::storage::{Reservation, Settlement};

/// One call, from the request to its last byte.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// The gateway's id of the call: the `id` of a chat answer (`chatcmpl-...`), the id of its
    /// spend record (LiteLLM's `request_id`), `x-litellm-call-id`.
    pub request_id: Arc<str>,
    /// `chat` or `embeddings`.
    pub operation: &'static str,
    /// When the call arrived, in Unix milliseconds.
    pub started_at_ms: i64,
    /// How long it took, to the last byte of a stream.
    pub latency: Duration,
    /// For streams, how long until the first chunk.
    pub time_to_first_token: Option<Duration>,
    /// How much of `latency` was spent waiting on upstreams (every attempt, and a stream's
    /// upstream to its end); the rest is the gateway's own overhead. `None` where it is not
    /// known: no upstream answered (a failure, a cache hit), or a stream the client left early.
    pub upstream_wait: Option<Duration>,
    /// Who called.
    pub caller: Caller,
    /// The model the client named.
    pub model_requested: String,
    /// The model group that served it (after experiments, rules and fallbacks).
    pub model_group: Option<String>,
    /// The deployment that answered; `None` for a cache hit or a failure.
    pub deployment: Option<String>,
    /// The provider family of that deployment, such as `openai` or `anthropic`.
    pub provider: Option<&'static str>,
    /// The upstream model the deployment calls.
    pub upstream_model: Option<String>,
    /// Upstream attempts made.
    pub attempts: u32,
    /// The requested group, when a fallback group answered.
    pub fallback_from: Option<String>,
    /// Tokens used, reported or estimated.
    pub tokens: Tokens,
    /// Of the output tokens, those the model spent reasoning, when the upstream reports them.
    pub reasoning_tokens: u64,
    /// What the call cost; `None` when the model has no price.
    pub cost: Option<Cost>,
    /// What the call holds on its budgets, settled to its cost when the record is finished.
    pub reservation: Option<Reservation>,
    /// The HTTP status answered (200 for a stream that started).
    pub status: u16,
    /// Whether the response cache answered.
    pub cache_hit: bool,
    /// The A/B experiment and variant, if any.
    pub experiment: Option<(String, String)>,
    /// Why a routing rule chose the group, if one did.
    pub route_reason: Option<String>,
    /// The OpenAI error `code` of a failed call (`rate_limit_exceeded`, `timeout`, ...), or
    /// the error class that broke a started stream.
    pub error_code: Option<&'static str>,
    /// The scope of the gateway's own rate limit that refused the call.
    pub limit_scope: Option<Scope>,
    /// The upstream's id of the answer.
    pub response_id: Option<String>,
    /// The model the upstream says answered.
    pub response_model: Option<String>,
    /// Why generation stopped, per choice (`stop`, `length`, ...).
    pub finish_reasons: Vec<String>,
    /// The call's span (`gen_ai.call`): started with the record, its final attributes set and
    /// its end reached when the record is finished.
    pub span: CallSpan,
}

impl CallRecord {
    /// A record of a call arriving now, with its span started (`operation` is a GenAI operation
    /// name: `chat` or `embeddings`). Attach a caller's trace to `span` before entering it.
    /// A model name a client made up is kept cut ([`crate::error::echo`]): it goes into the
    /// span, the access log and the spend record of the call.
    pub fn start(operation: &'static str, caller: Caller, model_requested: String) -> Self {
        let model_requested = match crate::error::echo(&model_requested) {
            std::borrow::Cow::Borrowed(_) => model_requested,
            std::borrow::Cow::Owned(cut) => cut,
        };
        let span = CallSpan::start(operation, &model_requested);
        let started_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self {
            request_id: Arc::from(new_request_id(operation)),
            operation,
            started_at_ms,
            latency: Duration::ZERO,
            time_to_first_token: None,
            upstream_wait: None,
            caller,
            model_requested,
            model_group: None,
            deployment: None,
            provider: None,
            upstream_model: None,
            attempts: 0,
            fallback_from: None,
            tokens: Tokens::default(),
            reasoning_tokens: 0,
            cost: None,
            reservation: None,
            status: 200,
            cache_hit: false,
            experiment: None,
            route_reason: None,
            error_code: None,
            limit_scope: None,
            response_id: None,
            response_model: None,
            finish_reasons: Vec::new(),
            span,
        }
    }
}

/// A 128-bit id in hex, for correlating a call's records; a chat call's is also the `id` of
/// its answer, so it reads as one: `chatcmpl-` and the hex. See [`time_ordered_id`].
fn new_request_id(operation: &str) -> String {
    let id = time_ordered_id(std::time::SystemTime::now(), fastrand::u128(..));
    let prefix = if operation == switchyard_telemetry::genai::operation::CHAT {
        "chatcmpl-"
    } else {
        ""
    };
    // As `format!("{prefix}{id:032x}")`, without the formatting machinery (~1k instructions).
    let mut digits = [0; 32];
    let _ = hex::encode_to_slice(id.to_be_bytes(), &mut digits);
    let mut text = String::with_capacity(prefix.len() + digits.len());
    text.push_str(prefix);
    text.extend(digits.iter().copied().map(char::from));
    text
}

/// UUIDv7's layout (RFC 9562, without its version bits): the Unix time in milliseconds in the
/// top 48 bits, 80 random bits below. The spend store's primary key is this id: ids that grow
/// with time are appended at the end of its index, where random ones dirtied a page of it per
/// record (with SQLite's write-ahead log, a whole page written per record in each batch).
fn time_ordered_id(now: std::time::SystemTime, random: u128) -> u128 {
    let millis = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    ((millis & ((1 << 48) - 1)) << 80) | (random & ((1 << 80) - 1))
}

impl AppState {
    /// Takes the record of a finished call: its spend record and budget charge, its count in
    /// the metrics, the final attributes of its span (which ends when the record is dropped
    /// here, unless a clone lives on), and the access log line with the trace id. Called once
    /// per call.
    ///
    /// Answers the settlement of the call's budget reservation, when it has one: the caller
    /// waits for it before the client sees the end of the answer, so the client's next call is
    /// checked against this one's exact cost, not its estimate.
    pub fn finish_call(&self, record: CallRecord) -> Option<Settlement> {
        let settlement = self.storage().record(&record);
        observe::count(self.metrics(), self.groups(), &record);
        observe::close_span(&record);
        let trace_id = trace_id_of(&record.span);
        tracing::info!(
            target: "switchyard::access",
            // Strings as `&str`, not `%`: recorded as text, without a pass through `fmt`.
            request_id = &*record.request_id,
            trace_id = trace_id.as_deref(),
            operation = record.operation,
            key_id = &*record.caller.key_id,
            model = record.model_requested.as_str(),
            deployment = record.deployment.as_deref().unwrap_or("-"),
            status = record.status,
            latency_ms = record.latency.as_secs_f64() * 1e3,
            input_tokens = record.tokens.prompt,
            output_tokens = record.tokens.completion,
            cost_usd = record.cost.map_or(0.0, |c| c.usd),
            cache_hit = record.cache_hit,
            "call finished"
        );
        settlement
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn ids_grow_with_time_and_keep_80_random_bits() {
        let at = |millis| UNIX_EPOCH + Duration::from_millis(millis);
        let earlier = time_ordered_id(at(1_765_000_000_000), u128::MAX);
        let later = time_ordered_id(at(1_765_000_000_001), 0);
        assert!(earlier < later, "{earlier:032x} {later:032x}");
        assert_eq!(earlier >> 80, 1_765_000_000_000);
        assert_eq!(earlier & ((1 << 80) - 1), (1 << 80) - 1);
        assert_eq!(format!("{later:032x}").len(), 32);
    }

    #[test]
    fn request_ids_are_32_lowercase_hex_digits_after_chats_prefix() {
        use switchyard_telemetry::genai::operation;
        let chat = new_request_id(operation::CHAT);
        let digits = chat
            .strip_prefix("chatcmpl-")
            .expect("a chat id reads as OpenAI's");
        let other = new_request_id(operation::EMBEDDINGS);
        for id in [digits, other.as_str()] {
            assert_eq!(id.len(), 32, "{id}");
            let value = u128::from_str_radix(id, 16).expect("hex");
            assert_eq!(format!("{value:032x}"), id);
        }
    }
}
