//! Log lines: the fmt layer (JSON or pretty, on stderr, filtered by `RUST_LOG`) and the JSON
//! event format ([`JsonLines`]) that writes each line without allocating and adds the current
//! `trace_id`/`span_id` to it.

use std::fmt;
use std::io::IsTerminal;

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use tracing::Dispatch;
use tracing::dispatcher::WeakDispatch;
use tracing_opentelemetry::get_otel_context;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::Writer;
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
        LogFormat::Json => JsonLines::layer(writer).boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
    }
}

/// The JSON event format of log lines, one object per line, written straight into the line
/// buffer with no intermediate allocation: `timestamp` (RFC 3339, microseconds, UTC), `level`,
/// the event's fields (`message` first, as it was given), `target`, then `trace_id` and
/// `span_id` of the current span's OpenTelemetry context when there is one and the event does not
/// carry a `trace_id` of its own (the access log does). The keys and their order are those of
/// tracing-subscriber's JSON format with `flatten_event(true)`; that format went through serde
/// and an owned map per line, a tenth of a call's instructions for its one access-log line.
/// Records forwarded from the `log` crate are shown under their own target, without the
/// `log.*` fields.
///
/// The current span is asked of the subscriber the layer is part of ([`JsonLines::layer`]
/// remembers it), not of OpenTelemetry's current context: the gateway does not activate a
/// span's context each time the span is entered (see `init::tracer_layer`), which cost about
/// 5k instructions a call for a context no one else read.
#[derive(Debug, Clone, Default)]
pub struct JsonLines {
    dispatch: Arc<OnceLock<WeakDispatch>>,
}

impl JsonLines {
    /// The log layer writing JSON lines to `writer`: tracing-subscriber's fmt layer with this
    /// format, and beside it the hook that tells the format which subscriber to ask for the
    /// current span.
    pub fn layer<S, W>(writer: W) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
    {
        let lines = Self::default();
        let registered = Registered(Arc::clone(&lines.dispatch));
        registered.and_then(
            tracing_subscriber::fmt::layer()
                .event_format(lines)
                .with_writer(writer),
        )
    }

    /// Trace and span id of the current span, through the subscriber the layer was registered
    /// with; `None` outside a traced span or before registration.
    fn current_ids(&self) -> Option<(TraceId, SpanId)> {
        let dispatch = self.dispatch.get()?.upgrade()?;
        let current = dispatch.current_span();
        let cx = get_otel_context(current.id()?, &dispatch)?;
        let span = cx.span();
        let ids = span.span_context();
        ids.is_valid().then(|| (ids.trace_id(), ids.span_id()))
    }
}

/// Keeps the subscriber a [`JsonLines`] layer is registered with (weakly: the subscriber owns
/// the layer). Does nothing else.
struct Registered(Arc<OnceLock<WeakDispatch>>);

impl<S: Subscriber> Layer<S> for Registered {
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.0.set(subscriber.downgrade());
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        writer.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut writer, std::time::SystemTime::now())?;
        write!(writer, "\",\"level\":\"{}\"", metadata.level())?;
        let mut fields = JsonFieldsVisitor {
            writer: &mut writer,
            result: Ok(()),
            own_trace_id: false,
        };
        event.record(&mut fields);
        let own_trace_id = fields.own_trace_id;
        fields.result?;
        writer.write_str(",\"target\":")?;
        write_json_str(&mut writer, metadata.target())?;
        if !own_trace_id && let Some((trace_id, span_id)) = self.current_ids() {
            write!(
                writer,
                ",\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\""
            )?;
        }
        writer.write_str("}\n")
    }
}

/// `now` as tracing-subscriber's `SystemTime` timer writes it (RFC 3339 in UTC with
/// microseconds: `2026-12-07T23:35:56.204180Z`). The date and time of day are worked out once a
/// second per thread and kept; each line adds its microseconds. Working out the civil date for
/// every line was about 2.3k instructions of the access log's line.
fn write_timestamp(writer: &mut Writer<'_>, now: std::time::SystemTime) -> fmt::Result {
    thread_local! {
        static SECOND: Cell<Option<(u64, [u8; 20])>> = const { Cell::new(None) };
    }
    let since_epoch = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let second = since_epoch.as_secs();
    let prefix = SECOND.with(|kept| match kept.get() {
        Some((at, prefix)) if at == second => prefix,
        _ => {
            let prefix = second_text(second);
            kept.set(Some((second, prefix)));
            prefix
        }
    });
    writer.write_str(std::str::from_utf8(&prefix).map_err(|_| fmt::Error)?)?;
    let mut fraction = *b"000000Z";
    put_digits(&mut fraction[..6], u64::from(since_epoch.subsec_micros()));
    writer.write_str(std::str::from_utf8(&fraction).map_err(|_| fmt::Error)?)
}

/// Writes `value`'s last `slots.len()` decimal digits into `slots`, zero-padded.
fn put_digits(slots: &mut [u8], mut value: u64) {
    for slot in slots.iter_mut().rev() {
        *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

/// `YYYY-MM-DDTHH:MM:SS.` of the UTC second `second` after the Unix epoch.
fn second_text(second: u64) -> [u8; 20] {
    let at = i64::try_from(second)
        .ok()
        .and_then(|second| time::OffsetDateTime::from_unix_timestamp(second).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let mut text = [0; 20];
    let fields = [
        (at.year().unsigned_abs(), 0..4),
        (u32::from(u8::from(at.month())), 5..7),
        (u32::from(at.day()), 8..10),
        (u32::from(at.hour()), 11..13),
        (u32::from(at.minute()), 14..16),
        (u32::from(at.second()), 17..19),
    ];
    for (value, slots) in fields {
        put_digits(&mut text[slots], u64::from(value));
    }
    for (at, separator) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ] {
        text[at] = separator;
    }
    text
}

/// Writes each field of an event as `,"name":value`.
struct JsonFieldsVisitor<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
    own_trace_id: bool,
}

impl JsonFieldsVisitor<'_, '_> {
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        if name == "trace_id" {
            self.own_trace_id = true;
        }
        self.result = (|| {
            self.writer.write_str(",\"")?;
            JsonEscaped(self.writer).write_str(name)?;
            self.writer.write_str("\":")?;
            value(self.writer)
        })();
    }
}

impl Visit for JsonFieldsVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |w| write_json_str(w, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.field(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.field(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // As serde_json writes numbers (through `ryu`: shortest round-trip digits, `0.0`,
        // exponents for very small or large values); no pass through `fmt`. JSON has no NaN or
        // infinity; serde_json writes them as null too.
        self.field(field, |w| {
            if value.is_finite() {
                w.write_str(ryu::Buffer::new().format_finite(value))
            } else {
                w.write_str("null")
            }
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, |w| {
            w.write_char('"')?;
            write!(JsonEscaped(w), "{value}")?;
            w.write_char('"')
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |w| {
            w.write_char('"')?;
            write!(JsonEscaped(w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

/// `text` as a JSON string, quotes included.
fn write_json_str(writer: &mut Writer<'_>, text: &str) -> fmt::Result {
    writer.write_str("\"")?;
    JsonEscaped(writer).write_str(text)?;
    writer.write_str("\"")
}

/// Escapes what is written through it for the inside of a JSON string: quotes, backslashes
/// and control characters.
struct JsonEscaped<'a, 'w>(&'a mut Writer<'w>);

/// The bytes a JSON string cannot hold as they are: control characters, `"` and `\`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Where the first byte of `bytes` that [`NEEDS_ESCAPE`] lies, looking at eight bytes at a
/// time: most text (field names, model names, paths) has none, and a word-wide test of a
/// chunk costs about what one byte's table lookup does.
fn first_needing_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `word` is below `n` (n <= 0x80) if it sets its high bit in the result; a
    // borrow can mark bytes after a true one, never a chunk with none.
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut start = 0;
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
        let marked = below(word, 0x20)
            | below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1);
        if marked != 0 {
            break;
        }
        start += 8;
    }
    bytes[start..]
        .iter()
        .position(|&byte| NEEDS_ESCAPE[usize::from(byte)])
        .map(|at| start + at)
}

impl fmt::Write for JsonEscaped<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let Some(first) = first_needing_escape(text.as_bytes()) else {
            return self.0.write_str(text);
        };
        let mut plain = 0;
        for (at, byte) in text.bytes().enumerate().skip(first) {
            if !NEEDS_ESCAPE[usize::from(byte)] {
                continue;
            }
            let escaped = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                _ => "",
            };
            self.0.write_str(&text[plain..at])?;
            if escaped.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escaped)?;
            }
            plain = at + 1;
        }
        self.0.write_str(&text[plain..])
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn timestamp(since_epoch: Duration) -> String {
        let mut text = String::new();
        write_timestamp(&mut Writer::new(&mut text), UNIX_EPOCH + since_epoch).expect("formats");
        text
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        // Expected values from Python's `datetime.fromtimestamp(t, timezone.utc)`.
        let cases = [
            ((0, 0), "1970-01-01T00:00:00.000000Z"),
            ((1_765_150_556, 204_180), "2025-12-07T23:35:56.204180Z"),
            ((951_782_400, 1), "2000-02-29T00:00:00.000001Z"),
            ((4_102_444_799, 999_999), "2099-12-31T23:59:59.999999Z"),
        ];
        for ((seconds, micros), expected) in cases {
            let since_epoch = Duration::from_secs(seconds) + Duration::from_micros(micros);
            assert_eq!(timestamp(since_epoch), expected);
            // Again within the same second, from the kept date: only the fraction changes.
            let later = since_epoch + Duration::from_micros(1) - Duration::from_micros(micros);
            assert_eq!(timestamp(later)[..20], expected[..20]);
        }
    }

    #[test]
    fn escaping_matches_serde_json_wherever_the_special_byte_falls() {
        // Each byte that must be escaped, and some that must not, at every offset of texts
        // longer and shorter than the eight-byte chunks the scan reads.
        let specials = [
            '"',
            '\\',
            '\n',
            '\r',
            '\t',
            '\u{0}',
            '\u{1f}',
            '\u{7f}',
            ' ',
            '~',
            'é',
            '\u{1F600}',
        ];
        for length in 0..20 {
            for at in 0..=length {
                for special in specials {
                    let mut text: String = "abcdefghijklmnopqrst"[..length].to_owned();
                    text.insert(at, special);
                    let mut ours = String::new();
                    write_json_str(&mut Writer::new(&mut ours), &text).expect("writes");
                    let theirs = serde_json::to_string(&text).expect("serialises");
                    assert_eq!(ours, theirs, "{text:?}");
                    let bytewise = text.bytes().position(|b| NEEDS_ESCAPE[usize::from(b)]);
                    assert_eq!(first_needing_escape(text.as_bytes()), bytewise, "{text:?}");
                }
            }
        }
    }

    #[test]
    fn timestamps_match_tracing_subscribers_timer_in_shape() {
        use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
        let mut theirs = String::new();
        SystemTime
            .format_time(&mut Writer::new(&mut theirs))
            .expect("formats");
        let ours = timestamp(
            std::time::SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("after 1970"),
        );
        assert_eq!(ours.len(), theirs.len(), "{ours} / {theirs}");
        let shape = |text: &str| text.replace(|c: char| c.is_ascii_digit(), "0");
        assert_eq!(shape(&ours), shape(&theirs));
    }
}
