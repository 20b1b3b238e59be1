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
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags};
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
///
/// Writes what the W3C propagator writes (`00-{trace-id}-{parent-id}-{flags}`, the sampled flag
/// only), formatted in place: it runs for every upstream request, and the propagator's way (a
/// `format!` through `Display` of each id, then parsing the header name and checking the value)
/// cost about 5k instructions a call. An empty `tracestate`, which holds no list member, is
/// not sent (the propagator sent `tracestate: ` with every request).
pub fn inject_from(span: &Span, headers: &mut HeaderMap) {
    let cx = span.context();
    let span_ref = cx.span();
    let sc = span_ref.span_context();
    if !sc.is_valid() {
        return;
    }
    headers.insert(TRACEPARENT, traceparent(sc));
    let state = sc.trace_state().header();
    if !state.is_empty()
        && let Ok(value) = HeaderValue::from_str(&state)
    {
        headers.insert(TRACESTATE, value);
    }
}

/// `traceparent` header name.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// `tracestate` header name.
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// `sc` as a version-00 `traceparent` value: `00-` 32 hex digits `-` 16 hex digits `-` 2.
fn traceparent(sc: &SpanContext) -> HeaderValue {
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    let flags = (sc.trace_flags() & TraceFlags::SAMPLED).to_u8();
    // Each slice is exactly twice its input's length, so encoding cannot fail.
    let _ = hex::encode_to_slice(sc.trace_id().to_bytes(), &mut out[3..35]);
    let _ = hex::encode_to_slice(sc.span_id().to_bytes(), &mut out[36..52]);
    let _ = hex::encode_to_slice([flags], &mut out[53..55]);
    HeaderValue::from_bytes(&out).expect("hex digits and dashes are a valid header value")
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
    sc.is_valid().then(|| hex::encode(sc.trace_id().to_bytes()))
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

    #[test]
    fn traceparent_is_what_the_w3c_propagator_writes() {
        use opentelemetry::propagation::Injector;
        use opentelemetry::trace::{SpanId, TraceId, TraceState};
        struct Written(Vec<(String, String)>);
        impl Injector for Written {
            fn set(&mut self, key: &str, value: String) {
                self.0.push((key.to_owned(), value));
            }
        }
        for flags in [
            TraceFlags::SAMPLED,
            TraceFlags::default(),
            TraceFlags::new(0xff),
        ] {
            let sc = SpanContext::new(
                TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").expect("hex"),
                SpanId::from_hex("b7ad6b7169203331").expect("hex"),
                flags,
                true,
                TraceState::default(),
            );
            let cx = Context::new().with_remote_span_context(sc.clone());
            let mut written = Written(Vec::new());
            TraceContextPropagator::new().inject_context(&cx, &mut written);
            assert_eq!(written.0[0].0, "traceparent");
            assert_eq!(traceparent(&sc).to_str().expect("ASCII"), written.0[0].1);
        }
    }
}
