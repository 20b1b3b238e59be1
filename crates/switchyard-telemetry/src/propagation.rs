//! W3C trace context over HTTP headers: continue a caller's trace (`traceparent`/`tracestate` in)
//! and hand ours to upstreams (out).
//!
//! The W3C propagator is used directly rather than through the OpenTelemetry global, so these
//! functions behave the same whether or not [`Telemetry::init`](crate::Telemetry::init) ran
//! (it also installs the same propagator globally, for other libraries).
//!
//! ```
//! use switchyard_telemetry::genai::{CallSpan, operation};
//! use switchyard_telemetry::propagation::{inject_current, set_parent_from};
//!
//! let incoming = http::HeaderMap::new();
//! let call = CallSpan::start(operation::CHAT, "gpt-4o");
//! set_parent_from(&call, &incoming); // before the span is first entered
//! call.in_scope(|| {
//!     let mut upstream = http::HeaderMap::new();
//!     inject_current(&mut upstream);
//! });
//! ```

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Reads `traceparent`/`tracestate` from `headers`. Without them (or with a malformed
/// `traceparent`) the context is empty, and spans parented on it start a new trace.
pub fn extract_parent(headers: &HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Makes `span` continue the caller's trace found in `headers`. Call it right after creating the
/// span, before it is entered: once started, a span's parent is fixed. Returns whether a remote
/// parent was attached (false without a valid `traceparent`, or without the OpenTelemetry layer).
pub fn set_parent_from(span: &Span, headers: &HeaderMap) -> bool {
    let cx = extract_parent(headers);
    if !cx.span().span_context().is_valid() {
        return false;
    }
    span.set_parent(cx).is_ok()
}

/// Writes `traceparent` (and `tracestate` when there is one) for the current span into
/// `headers`, for an outgoing upstream request. Writes nothing outside a traced span.
pub fn inject_current(headers: &mut HeaderMap) {
    inject_from(&Span::current(), headers);
}

/// Like [`inject_current`] for an explicit span, such as an attempt span not entered here.
pub fn inject_from(span: &Span, headers: &mut HeaderMap) {
    let cx = span.context();
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
    }
}

/// The current span's trace id as 32 lowercase hex digits, for log lines (the access log).
/// `None` outside a traced span.
pub fn current_trace_id() -> Option<String> {
    trace_id_of(&Span::current())
}

/// `span`'s trace id as 32 lowercase hex digits; `None` if it is not traced.
pub fn trace_id_of(span: &Span) -> Option<String> {
    let cx = span.context();
    let span_ref = cx.span();
    let sc = span_ref.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The propagator only writes its own lowercase names and visible-ASCII values.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_a_valid_traceparent() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let cx = extract_parent(&headers);
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_valid());
        assert!(sc.is_remote());
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn malformed_traceparent_gives_an_empty_context() {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static("garbage"));
        assert!(!extract_parent(&headers).span().span_context().is_valid());
    }

    #[test]
    fn nothing_is_injected_outside_a_traced_span() {
        let mut headers = HeaderMap::new();
        inject_current(&mut headers);
        assert!(headers.is_empty());
        assert_eq!(current_trace_id(), None);
    }
}
