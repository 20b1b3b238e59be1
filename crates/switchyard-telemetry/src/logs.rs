//! Log lines: the fmt layer (JSON or pretty, on stderr, filtered by `RUST_LOG`) and the JSON
//! event format that adds the current `trace_id`/`span_id` to each line.

use std::fmt;
use std::io::IsTerminal;

use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::{self, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::settings::LogFormat;

/// Builds the log layer for `format`, writing to stderr (stdout is left to the binary's own
/// output, such as the "listening on" line tests read). Lines carry their event's fields, not
/// the fields of the spans around it: the layer is given events only (see `Telemetry::init`),
/// and a line inside a traced span names it by `trace_id`/`span_id`.
pub(crate) fn fmt_layer<S, W>(
    format: LogFormat,
    writer: W,
) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(WithTraceIds(
                format::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false),
            ))
            .with_writer(writer)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
    }
}

/// A JSON event format that appends `"trace_id"` and `"span_id"` of the current OpenTelemetry
/// context to the object `F` writes. Lines outside a traced span, and events that carry a
/// `trace_id` field of their own (the access log), are written unchanged.
#[derive(Debug, Clone)]
pub struct WithTraceIds<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let own_trace_id = event.fields().any(|field| field.name() == "trace_id");
        let ids = if own_trace_id { None } else { current_ids() };
        let Some((trace_id, span_id)) = ids else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let trimmed = line.trim_end();
        match trimmed.strip_suffix('}') {
            Some(head) => {
                writer.write_str(head)?;
                if !head.trim_end().ends_with('{') {
                    writer.write_char(',')?;
                }
                writeln!(
                    writer,
                    "\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}"
                )
            }
            None => writer.write_str(&line),
        }
    }
}

/// Trace and span id of the current OpenTelemetry context (set when a traced span is entered).
fn current_ids() -> Option<(String, String)> {
    let cx = Context::current();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid()
        .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}
