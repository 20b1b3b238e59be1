//! Spans of the OpenTelemetry GenAI semantic conventions: one [`CallSpan`] per gateway call and
//! one per upstream attempt, every attribute declared up front so it can be recorded later.
//!
//! # Span kinds and names
//!
//! - The **call span** ([`CallSpan::start`]) covers one client request to the gateway, across
//!   retries and fallbacks. Its kind is **SERVER**: it is the gateway's entry point for a GenAI
//!   request, the span a caller's `traceparent` attaches to (see
//!   [`set_parent_from`](crate::propagation::set_parent_from)), so trace backends draw the
//!   caller -> gateway edge. It is named `"{operation} {request model}"`, the model the client
//!   asked for (a group name). Should the server one day wrap routes in an HTTP server span, the
//!   call span would become INTERNAL.
//! - An **attempt span** ([`CallSpan::attempt`], [`attempt_span`]) covers one upstream call. Its
//!   kind is **CLIENT** and its name `"{operation} {model}"` with the deployment's own model, as
//!   the convention prescribes for spans of calls to a model; `gen_ai.provider.name` and
//!   `gen_ai.request.model` describe that upstream, `switchyard.attempt` numbers it from 1.
//!
//! Both carry the same field set, so the same typed recorders work on either.
//!
//! # Attribute types
//!
//! The conventions (semantic conventions v1.42.0, whose `gen_ai.*` names this module takes from
//! `opentelemetry-semantic-conventions`) type counts as int, `gen_ai.request.temperature` as
//! double and `gen_ai.response.finish_reasons` as a string array; ours follow suit
//! (`switchyard.cost_usd` double, flags bool). tracing-opentelemetry exports a `u64` (and a
//! `u32`, which tracing widens) as its text, so the recorders take counts as they come and
//! record them as `i64`; ARCHITECTURE.md lists every attribute with its type.
//!
//! # Example
//! ```
//! use switchyard_telemetry::genai::{CallSpan, operation};
//!
//! let call = CallSpan::start(operation::CHAT, "gpt-4o");
//! call.record_request(Some(256), Some(0.2));
//! let attempt = call.attempt("openai", "gpt-4o-eastus", "gpt-4o-2024-08-06", 1);
//! attempt.record_response("gpt-4o-2024-08-06", "chatcmpl-1", &["stop"]);
//! attempt.record_usage(12, 34);
//! call.record_route("gpt-4o-eastus", "openai", 1, None);
//! call.record_usage(12, 34);
//! call.record_cost(0.00042, false);
//! ```

use std::borrow::Cow;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::{Array, KeyValue, StringValue, Value};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `gen_ai.operation.name` values the gateway uses.
pub mod operation {
    /// Chat completion (also the Anthropic Messages ingress).
    pub const CHAT: &str = "chat";
    /// Embeddings.
    pub const EMBEDDINGS: &str = "embeddings";
    /// A legacy text completion (`/v1/completions`).
    pub const TEXT_COMPLETION: &str = "text_completion";
    /// A moderation (`/v1/moderations`).
    pub const MODERATION: &str = "moderation";
    /// Image generation (`/v1/images/generations`).
    pub const IMAGE_GENERATION: &str = "image_generation";
    /// Speech from text (`/v1/audio/speech`).
    pub const SPEECH: &str = "speech";
    /// Transcription of audio (`/v1/audio/transcriptions`).
    pub const TRANSCRIPTION: &str = "transcription";
    /// Rerank (`/v1/rerank`).
    pub const RERANK: &str = "rerank";
}

/// Attribute names. The `gen_ai.*` ones come from `opentelemetry-semantic-conventions`; the
/// `switchyard.*` ones are ours.
pub mod attr {
    // Since semantic conventions 1.42 the gen_ai.* registry lives in its own repository and the
    // crate marks these constants deprecated; the names themselves are unchanged.
    #![allow(deprecated)]
    use opentelemetry_semantic_conventions::attribute as semconv;

    /// `gen_ai.operation.name`: `chat`, `text_completion` or `embeddings`.
    pub const GEN_AI_OPERATION_NAME: &str = semconv::GEN_AI_OPERATION_NAME;
    /// `gen_ai.provider.name`: `openai`, `anthropic`, `aws.bedrock`, `gcp.gemini`, ...
    pub const GEN_AI_PROVIDER_NAME: &str = semconv::GEN_AI_PROVIDER_NAME;
    /// `gen_ai.request.model`.
    pub const GEN_AI_REQUEST_MODEL: &str = semconv::GEN_AI_REQUEST_MODEL;
    /// `gen_ai.response.model`.
    pub const GEN_AI_RESPONSE_MODEL: &str = semconv::GEN_AI_RESPONSE_MODEL;
    /// `gen_ai.request.max_tokens`.
    pub const GEN_AI_REQUEST_MAX_TOKENS: &str = semconv::GEN_AI_REQUEST_MAX_TOKENS;
    /// `gen_ai.request.temperature`.
    pub const GEN_AI_REQUEST_TEMPERATURE: &str = semconv::GEN_AI_REQUEST_TEMPERATURE;
    /// `gen_ai.response.id`.
    pub const GEN_AI_RESPONSE_ID: &str = semconv::GEN_AI_RESPONSE_ID;
    /// `gen_ai.response.finish_reasons` (a string array).
    pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = semconv::GEN_AI_RESPONSE_FINISH_REASONS;
    /// `gen_ai.usage.input_tokens`.
    pub const GEN_AI_USAGE_INPUT_TOKENS: &str = semconv::GEN_AI_USAGE_INPUT_TOKENS;
    /// `gen_ai.usage.output_tokens`.
    pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = semconv::GEN_AI_USAGE_OUTPUT_TOKENS;
    /// `gen_ai.usage.cache_read.input_tokens`: of the input tokens, those served from the
    /// provider's prompt cache.
    pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str =
        semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS;
    /// `gen_ai.usage.cache_creation.input_tokens`: of the input tokens, those written to the
    /// provider's prompt cache.
    pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
        semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS;
    /// `gen_ai.usage.reasoning.output_tokens`: of the output tokens, those spent reasoning.
    pub const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str =
        semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS;
    /// `gen_ai.prompt`: input text on a content event.
    pub const GEN_AI_PROMPT: &str = semconv::GEN_AI_PROMPT;
    /// `gen_ai.completion`: output text on a content event.
    pub const GEN_AI_COMPLETION: &str = semconv::GEN_AI_COMPLETION;
    /// `error.type`.
    pub const ERROR_TYPE: &str = semconv::ERROR_TYPE;
    /// `server.address`: the host an attempt called.
    pub const SERVER_ADDRESS: &str = semconv::SERVER_ADDRESS;
    /// `server.port`: the port an attempt called.
    pub const SERVER_PORT: &str = semconv::SERVER_PORT;

    /// Cost of the call in US dollars.
    pub const COST_USD: &str = "switchyard.cost_usd";
    /// Whether the cost was estimated (usage missing or price unknown).
    pub const COST_ESTIMATED: &str = "switchyard.cost_estimated";
    /// Time to first token, in milliseconds (streams).
    pub const TTFT_MS: &str = "switchyard.ttft_ms";
    /// The deployment that answered (call span) or was tried (attempt span).
    pub const DEPLOYMENT: &str = "switchyard.deployment";
    /// Number of upstream attempts the call made.
    pub const ATTEMPTS: &str = "switchyard.attempts";
    /// The attempt's number, from 1 (attempt spans).
    pub const ATTEMPT: &str = "switchyard.attempt";
    /// The model group a fallback came from.
    pub const FALLBACK_FROM: &str = "switchyard.fallback_from";
    /// Whether the answer came from the response cache.
    pub const CACHE_HIT: &str = "switchyard.cache_hit";
    /// Alias of the virtual key that made the call (never the key itself).
    pub const KEY_ALIAS: &str = "switchyard.key_alias";
    /// The A/B experiment variant chosen.
    pub const EXPERIMENT_VARIANT: &str = "switchyard.experiment.variant";
    /// Why a routing rule chose the model.
    pub const ROUTE_REASON: &str = "switchyard.route_reason";
}

/// Largest prompt or completion text recorded on a content event, in bytes; longer texts are cut
/// at a character boundary so one request cannot swell an export batch.
pub const MAX_CONTENT_BYTES: usize = 16 * 1024;

// One field set for call and attempt spans; tracing allows 32 fields per span, this uses 31.
// With the recorders off (no exporter), a bare span: it still has its ids and its parent, which
// log lines and upstream `traceparent` use, but no name to format and no fields to store, each
// of which cost an allocation or a visit on every call for nothing that reads them.
macro_rules! genai_span {
    ($name:literal, $otel_name:expr, $kind:literal, $operation:expr, $model:expr $(, parent: $parent:expr)?) => {
        if !attributes_recorded() {
            tracing::info_span!($(parent: $parent,)? $name)
        } else {
            tracing::info_span!(
                $(parent: $parent,)?
                $name,
                otel.name = $otel_name,
                otel.kind = $kind,
                otel.status_code = Empty,
                otel.status_description = Empty,
                { attr::GEN_AI_OPERATION_NAME } = $operation,
                { attr::GEN_AI_PROVIDER_NAME } = Empty,
                { attr::GEN_AI_REQUEST_MODEL } = $model,
                { attr::GEN_AI_RESPONSE_MODEL } = Empty,
                { attr::GEN_AI_REQUEST_MAX_TOKENS } = Empty,
                { attr::GEN_AI_REQUEST_TEMPERATURE } = Empty,
                { attr::GEN_AI_RESPONSE_ID } = Empty,
                { attr::GEN_AI_RESPONSE_FINISH_REASONS } = Empty,
                { attr::GEN_AI_USAGE_INPUT_TOKENS } = Empty,
                { attr::GEN_AI_USAGE_OUTPUT_TOKENS } = Empty,
                { attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS } = Empty,
                { attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS } = Empty,
                { attr::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS } = Empty,
                { attr::COST_USD } = Empty,
                { attr::COST_ESTIMATED } = Empty,
                { attr::TTFT_MS } = Empty,
                { attr::DEPLOYMENT } = Empty,
                { attr::ATTEMPTS } = Empty,
                { attr::ATTEMPT } = Empty,
                { attr::FALLBACK_FROM } = Empty,
                { attr::CACHE_HIT } = Empty,
                { attr::KEY_ALIAS } = Empty,
                { attr::EXPERIMENT_VARIANT } = Empty,
                { attr::ROUTE_REASON } = Empty,
                { attr::ERROR_TYPE } = Empty,
                { attr::SERVER_ADDRESS } = Empty,
                { attr::SERVER_PORT } = Empty,
            )
        }
    };
}

/// A span of the GenAI conventions with typed recorders; derefs to its [`tracing::Span`], so
/// `call.in_scope(..)` and `fut.instrument(call.span().clone())` work as for any span.
#[derive(Debug, Clone)]
pub struct CallSpan {
    span: Span,
    operation: Cow<'static, str>,
}

impl CallSpan {
    /// Starts the call span (kind SERVER, see the module docs) for `operation`
    /// ([`operation::CHAT`], [`operation::EMBEDDINGS`]) on the model the client asked for. Its
    /// parent is the current span, if any; attach a caller's trace with
    /// [`set_parent_from`](crate::propagation::set_parent_from) before entering it.
    pub fn start(operation: &str, request_model: &str) -> Self {
        let span = genai_span!(
            "gen_ai.call",
            format_args!("{operation} {request_model}"),
            "server",
            operation,
            request_model
        );
        Self {
            span,
            operation: Cow::Owned(operation.to_owned()),
        }
    }

    /// Wraps a span that was created elsewhere with the same field set (an attempt span, or
    /// `tracing::Span::current()` inside one). Recorders on a span without these fields do
    /// nothing. Attempt spans made from it are named with `operation`.
    pub fn from_span(span: Span, operation: &str) -> Self {
        Self {
            span,
            operation: Cow::Owned(operation.to_owned()),
        }
    }

    /// Starts the span of one upstream attempt (kind CLIENT), an explicit child of this call.
    /// `provider` is the `gen_ai.provider.name` (`openai`, `anthropic`, `aws.bedrock`,
    /// `gcp.gemini`, ...), `model` the deployment's upstream model, `attempt_number` counts from 1.
    pub fn attempt(
        &self,
        provider: &str,
        deployment: &str,
        model: &str,
        attempt_number: u32,
    ) -> CallSpan {
        let span = genai_span!(
            "gen_ai.attempt",
            format_args!("{} {model}", self.operation),
            "client",
            &*self.operation,
            model,
            parent: &self.span
        );
        fill_attempt(&span, provider, deployment, attempt_number);
        CallSpan {
            span,
            operation: self.operation.clone(),
        }
    }

    /// The underlying span.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Unwraps the underlying span.
    pub fn into_span(self) -> Span {
        self.span
    }

    /// The operation name (`chat`, `embeddings`).
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// Records the request parameters that were given.
    pub fn record_request(&self, max_tokens: Option<u32>, temperature: Option<f64>) {
        if !attributes_recorded() {
            return;
        }
        if let Some(max_tokens) = max_tokens {
            self.span
                .record(attr::GEN_AI_REQUEST_MAX_TOKENS, i64::from(max_tokens));
        }
        if let Some(temperature) = temperature {
            self.span
                .record(attr::GEN_AI_REQUEST_TEMPERATURE, temperature);
        }
    }

    /// Records what the upstream answered: its model, response id and finish reasons. The
    /// reasons go to the OpenTelemetry span as a string array, as the convention types them.
    pub fn record_response(&self, model: &str, id: &str, finish_reasons: &[&str]) {
        if !attributes_recorded() {
            return;
        }
        self.span.record(attr::GEN_AI_RESPONSE_MODEL, model);
        if !id.is_empty() {
            self.span.record(attr::GEN_AI_RESPONSE_ID, id);
        }
        if !finish_reasons.is_empty() {
            let reasons: Vec<StringValue> = finish_reasons
                .iter()
                .map(|r| StringValue::from((*r).to_owned()))
                .collect();
            self.span.set_attribute(
                attr::GEN_AI_RESPONSE_FINISH_REASONS,
                Value::Array(Array::String(reasons)),
            );
        }
    }

    /// Records token usage (int attributes).
    pub fn record_usage(&self, input_tokens: u64, output_tokens: u64) {
        if !attributes_recorded() {
            return;
        }
        self.span
            .record(attr::GEN_AI_USAGE_INPUT_TOKENS, int(input_tokens));
        self.span
            .record(attr::GEN_AI_USAGE_OUTPUT_TOKENS, int(output_tokens));
    }

    /// Records the parts of the usage a provider breaks out: input tokens read from and written
    /// to its prompt cache, output tokens spent reasoning. A count of 0 is not recorded (the
    /// providers that report none, and those that report 0, look the same to the gateway).
    pub fn record_usage_details(&self, details: UsageDetails) {
        if !attributes_recorded() {
            return;
        }
        for (key, count) in [
            (
                attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                details.cache_read,
            ),
            (
                attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
                details.cache_creation,
            ),
            (
                attr::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
                details.reasoning,
            ),
        ] {
            if count > 0 {
                self.span.record(key, int(count));
            }
        }
    }

    /// Records the cost in US dollars (a double) and whether it is an estimate.
    pub fn record_cost(&self, usd: f64, estimated: bool) {
        if !attributes_recorded() {
            return;
        }
        self.span.record(attr::COST_USD, usd);
        self.span.record(attr::COST_ESTIMATED, estimated);
    }

    /// Records the time to the first token of a stream, in whole milliseconds.
    pub fn record_ttft(&self, ttft: Duration) {
        if !attributes_recorded() {
            return;
        }
        self.span.record(
            attr::TTFT_MS,
            i64::try_from(ttft.as_millis()).unwrap_or(i64::MAX),
        );
    }

    /// Records where the call was routed: the deployment that answered, its provider, the number
    /// of attempts made and, after a fallback, the model group it fell back from.
    pub fn record_route(
        &self,
        deployment: &str,
        provider: &str,
        attempts: u32,
        fallback_from: Option<&str>,
    ) {
        if !attributes_recorded() {
            return;
        }
        self.span.record(attr::DEPLOYMENT, deployment);
        self.span.record(attr::GEN_AI_PROVIDER_NAME, provider);
        self.record_attempts(attempts);
        if let Some(from) = fallback_from {
            self.span.record(attr::FALLBACK_FROM, from);
        }
    }

    /// Records the number of upstream attempts the call made.
    pub fn record_attempts(&self, attempts: u32) {
        if !attributes_recorded() {
            return;
        }
        self.span.record(attr::ATTEMPTS, i64::from(attempts));
    }

    /// Records the server an attempt calls: `server.address` (its host) and `server.port`.
    pub fn record_server(&self, address: &str, port: u16) {
        if !attributes_recorded() {
            return;
        }
        self.span.record(attr::SERVER_ADDRESS, address);
        self.span.record(attr::SERVER_PORT, i64::from(port));
    }

    /// Records why a routing rule or experiment chose the model.
    pub fn record_route_reason(&self, reason: &str) {
        if !attributes_recorded() {
            return;
        }
        self.span.record(attr::ROUTE_REASON, reason);
    }

    /// Records whether the answer came from the response cache.
    pub fn record_cache_hit(&self, hit: bool) {
        if !attributes_recorded() {
            return;
        }
        self.span.record(attr::CACHE_HIT, hit);
    }

    /// Records the alias of the caller's virtual key. Never pass the key itself.
    pub fn record_key_alias(&self, alias: &str) {
        if !attributes_recorded() {
            return;
        }
        self.span.record(attr::KEY_ALIAS, alias);
    }

    /// Records the experiment variant the call was assigned to.
    pub fn record_variant(&self, variant: &str) {
        if !attributes_recorded() {
            return;
        }
        self.span.record(attr::EXPERIMENT_VARIANT, variant);
    }

    /// Records a failure: `error.type` (a low-cardinality class such as `timeout`,
    /// `rate_limited` or an HTTP status) and the span status ERROR.
    pub fn record_error(&self, error_type: &str) {
        if !attributes_recorded() {
            return;
        }
        self.span.record(attr::ERROR_TYPE, error_type);
        self.span.record("otel.status_code", "ERROR");
        self.span.record("otel.status_description", error_type);
    }

    /// Adds a prompt or completion as a span event; see [`record_content_event`].
    pub fn record_content(&self, role: &str, text: &str) {
        if !attributes_recorded() {
            return;
        }
        record_content_event(&self.span, role, text);
    }
}

impl Deref for CallSpan {
    type Target = Span;

    fn deref(&self) -> &Span {
        &self.span
    }
}

impl From<CallSpan> for Span {
    fn from(call: CallSpan) -> Span {
        call.span
    }
}

/// Starts the span of one upstream attempt (kind CLIENT, named `"{operation} {model}"`) as a
/// child of the current span, for code that does not hold the [`CallSpan`]. Prefer
/// [`CallSpan::attempt`] where the call span is at hand: its parent does not depend on which span
/// is entered.
pub fn attempt_span(
    operation: &str,
    provider: &str,
    deployment: &str,
    model: &str,
    attempt_number: u32,
) -> CallSpan {
    let span = genai_span!(
        "gen_ai.attempt",
        format_args!("{operation} {model}"),
        "client",
        operation,
        model
    );
    fill_attempt(&span, provider, deployment, attempt_number);
    CallSpan {
        span,
        operation: Cow::Owned(operation.to_owned()),
    }
}

fn fill_attempt(span: &Span, provider: &str, deployment: &str, attempt_number: u32) {
    if !attributes_recorded() {
        return;
    }
    span.record(attr::GEN_AI_PROVIDER_NAME, provider);
    span.record(attr::DEPLOYMENT, deployment);
    span.record(attr::ATTEMPT, i64::from(attempt_number));
}

/// Whether [`CallSpan`]'s recorders record: see [`record_attributes`].
static RECORDING: AtomicBool = AtomicBool::new(true);

/// Turns the recorders of [`CallSpan`] on or off for the whole process. [`Telemetry::init`]
/// turns them off when no exporter is configured: the attributes would be recorded into spans
/// that nothing exports (the log lines carry their own fields), at a cost on every call (about
/// a tenth of a call's instructions). Spans are still made, entered and closed, so log lines
/// carry trace ids and upstream requests continue the caller's trace, but bare: named by their
/// tracing name (`gen_ai.call`, `gen_ai.attempt`), with no fields. On by default.
///
/// [`Telemetry::init`]: crate::Telemetry::init
pub fn record_attributes(on: bool) {
    RECORDING.store(on, Ordering::Relaxed);
}

/// Whether [`CallSpan`]'s recorders record ([`record_attributes`]).
pub fn attributes_recorded() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

/// A count as the int of an attribute: tracing-opentelemetry turns `i64` into an OpenTelemetry
/// int, but a `u64` (or `u32`, which tracing widens to `u64`) into its text.
fn int(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// The parts of a call's usage that providers break out; 0 where not reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageDetails {
    /// Input tokens served from the provider's prompt cache (OpenAI's
    /// `prompt_tokens_details.cached_tokens`, Anthropic's `cache_read_input_tokens`).
    pub cache_read: u64,
    /// Input tokens written to the provider's prompt cache (Anthropic's
    /// `cache_creation_input_tokens`).
    pub cache_creation: u64,
    /// Output tokens spent reasoning (OpenAI's `completion_tokens_details.reasoning_tokens`,
    /// Gemini's thoughts).
    pub reasoning: u64,
}

/// Adds a prompt or completion to `span` as an event. Call it only when
/// [`TelemetrySettings::record_content`](crate::TelemetrySettings::record_content) is on: texts
/// may hold personal data.
///
/// `role` is the message role. `assistant` (the model's output) makes a `gen_ai.content.completion`
/// event with a `gen_ai.completion` attribute; any other role (`system`, `user`, `tool`, ...) a
/// `gen_ai.content.prompt` event with `gen_ai.prompt`; both also carry `gen_ai.message.role`.
/// Texts over [`MAX_CONTENT_BYTES`] are cut.
pub fn record_content_event(span: &Span, role: &str, text: &str) {
    let text = truncate(text, MAX_CONTENT_BYTES);
    let (event, key) = if role == "assistant" {
        ("gen_ai.content.completion", attr::GEN_AI_COMPLETION)
    } else {
        ("gen_ai.content.prompt", attr::GEN_AI_PROMPT)
    };
    span.add_event(
        event,
        vec![
            KeyValue::new("gen_ai.message.role", role.to_owned()),
            KeyValue::new(key, text.to_owned()),
        ],
    );
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semconv_names_are_the_documented_ones() {
        assert_eq!(attr::GEN_AI_OPERATION_NAME, "gen_ai.operation.name");
        assert_eq!(attr::GEN_AI_PROVIDER_NAME, "gen_ai.provider.name");
        assert_eq!(attr::GEN_AI_REQUEST_MODEL, "gen_ai.request.model");
        assert_eq!(
            attr::GEN_AI_RESPONSE_FINISH_REASONS,
            "gen_ai.response.finish_reasons"
        );
        assert_eq!(attr::GEN_AI_USAGE_INPUT_TOKENS, "gen_ai.usage.input_tokens");
        assert_eq!(
            attr::GEN_AI_USAGE_OUTPUT_TOKENS,
            "gen_ai.usage.output_tokens"
        );
        assert_eq!(attr::ERROR_TYPE, "error.type");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    /// The attributes `work` leaves on the spans it makes, as the OpenTelemetry SDK exports them.
    fn exported(work: impl FnOnce()) -> Vec<(String, Vec<KeyValue>)> {
        use opentelemetry::trace::TracerProvider as _;
        use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
        use tracing_subscriber::layer::SubscriberExt;

        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), work);
        provider.force_flush().expect("flushed");
        exporter
            .get_finished_spans()
            .expect("spans")
            .into_iter()
            .map(|span| (span.name.to_string(), span.attributes))
            .collect()
    }

    fn value<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
        attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    // The GenAI conventions type counts as int, cost as double and flags as bool
    // (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): tracing-opentelemetry
    // exports a `u64` field as its text, so every count goes through `i64`.
    #[test]
    fn counts_are_ints_cost_a_double_and_flags_bools() {
        let spans = exported(|| {
            let call = CallSpan::start(operation::CHAT, "gpt-4o");
            call.record_request(Some(256), Some(0.2));
            let attempt = call.attempt("openai", "gpt-4o-eastus", "gpt-4o-2024-08-06", 2);
            attempt.record_usage(12, 34);
            attempt.record_server("api.openai.com", 443);
            drop(attempt);
            call.record_route("gpt-4o-eastus", "openai", 2, Some("primary"));
            call.record_usage(12, 34);
            call.record_usage_details(UsageDetails {
                cache_read: 8,
                cache_creation: 0,
                reasoning: 5,
            });
            call.record_cost(0.000006, false);
            call.record_ttft(Duration::from_millis(42));
            call.record_cache_hit(false);
        });
        let (_, call) = spans
            .iter()
            .find(|(name, _)| name == "chat gpt-4o")
            .expect("the call span");
        for (key, expected) in [
            (attr::GEN_AI_REQUEST_MAX_TOKENS, Value::I64(256)),
            (attr::GEN_AI_REQUEST_TEMPERATURE, Value::F64(0.2)),
            (attr::GEN_AI_USAGE_INPUT_TOKENS, Value::I64(12)),
            (attr::GEN_AI_USAGE_OUTPUT_TOKENS, Value::I64(34)),
            (attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, Value::I64(8)),
            (attr::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, Value::I64(5)),
            (attr::ATTEMPTS, Value::I64(2)),
            (attr::COST_USD, Value::F64(0.000006)),
            (attr::COST_ESTIMATED, Value::Bool(false)),
            (attr::TTFT_MS, Value::I64(42)),
            (attr::CACHE_HIT, Value::Bool(false)),
        ] {
            assert_eq!(value(call, key), Some(&expected), "{key}: {call:#?}");
        }
        assert_eq!(
            value(call, attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
            None,
            "0 is not recorded"
        );
        let (_, attempt) = spans
            .iter()
            .find(|(_, attributes)| value(attributes, attr::ATTEMPT).is_some())
            .expect("the attempt span");
        assert_eq!(value(attempt, attr::ATTEMPT), Some(&Value::I64(2)));
        assert_eq!(value(attempt, attr::SERVER_PORT), Some(&Value::I64(443)));
        assert_eq!(
            value(attempt, attr::SERVER_ADDRESS),
            Some(&Value::from("api.openai.com"))
        );
        assert_eq!(
            value(attempt, attr::GEN_AI_USAGE_INPUT_TOKENS),
            Some(&Value::I64(12))
        );
    }

    #[test]
    fn recorders_without_a_subscriber_are_harmless() {
        let call = CallSpan::start(operation::CHAT, "m");
        call.record_request(Some(1), Some(0.5));
        call.record_response("m", "id", &["stop"]);
        call.record_error("timeout");
        let attempt = call.attempt("openai", "d", "m", 1);
        attempt.record_usage(1, 2);
        record_content_event(&attempt, "user", "hi");
    }
}
