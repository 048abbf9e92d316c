//! Logs and trace context every service shares.
//!
//! [`init`] installs the process's subscriber: JSON lines (timestamp, level, service, target,
//! message, the event's fields, and the fields of the spans it happened in — `request_id`,
//! `trace_id`, `span_id`) or, on a terminal, human-readable lines; `MEDIAMESH_LOG` filters
//! (`info` by default) and `MEDIAMESH_LOG_FORMAT=json|text` overrides the choice of format.
//!
//! [`TraceContext`] is a W3C `traceparent`: accepted from the caller or started here, one new span
//! id per service hop, passed on to every HTTP call and Kafka message.

use std::fmt;
use std::io::IsTerminal;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the subscriber for `service` (once; later calls do nothing). With
/// `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported over OTLP (HTTP/protobuf), each
/// request's span a child of the caller's `traceparent`.
pub fn init(service: &'static str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = tracing_subscriber::EnvFilter::try_from_env("MEDIAMESH_LOG").unwrap_or_else(|_| "info".into());
    let json = match std::env::var("MEDIAMESH_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") => false,
        _ => !std::io::stdout().is_terminal(),
    };
    let exporter = otlp_tracer(service);
    let exporting = exporter.is_some();
    let otel = exporter.map(|tracer| tracing_opentelemetry::layer().with_tracer(tracer));
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let installed = if json {
        registry
            .with(tracing_subscriber::fmt::layer().fmt_fields(JsonFields::new()).event_format(JsonLines { service }))
            .try_init()
    } else {
        registry.with(tracing_subscriber::fmt::layer()).try_init()
    };
    // A second init (tests, `mediamesh up`) keeps the first subscriber.
    if installed.is_ok() && exporting {
        EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(endpoint = ?std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok(), "exporting spans over OTLP");
    }
}

static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static PROVIDER: std::sync::OnceLock<opentelemetry_sdk::trace::SdkTracerProvider> = std::sync::OnceLock::new();

/// Whether spans are exported (so request spans take their ids from OpenTelemetry).
pub fn exporting() -> bool {
    EXPORTING.load(std::sync::atomic::Ordering::Relaxed)
}

/// Sends the spans not yet exported; call before the process exits.
pub fn flush() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.force_flush();
    }
}

fn otlp_tracer(service: &'static str) -> Option<opentelemetry_sdk::trace::Tracer> {
    use opentelemetry::trace::TracerProvider;

    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok().filter(|endpoint| !endpoint.is_empty())?;
    let exporter = match opentelemetry_otlp::SpanExporter::builder().with_http().build() {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("OTEL_EXPORTER_OTLP_ENDPOINT is set but no OTLP exporter could be built: {error}");
            return None;
        }
    };
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service).build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer(service);
    let _ = PROVIDER.set(provider);
    Some(tracer)
}

/// One JSON object per event.
struct JsonLines {
    service: &'static str,
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, context: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert("level".into(), Value::String(event.metadata().level().to_string()));
        line.insert("service".into(), Value::String(self.service.to_owned()));
        line.insert("target".into(), Value::String(event.metadata().target().to_owned()));
        // The spans' fields, outermost first, so an inner span's value wins.
        if let Some(scope) = context.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields)
                {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Collects an event's fields into the line.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
}

/// A W3C trace context (`traceparent: 00-<trace id>-<span id>-<flags>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits: this hop's span.
    pub span_id: String,
    pub sampled: bool,
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && text.bytes().any(|b| b != b'0')
}

/// `bytes` random bytes (at most 16) as lowercase hex.
fn random_hex(bytes: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let random = uuid::Uuid::new_v4().into_bytes();
    let mut out = String::with_capacity(bytes * 2);
    for byte in random.iter().take(bytes.min(16)) {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

impl TraceContext {
    /// Parses a `traceparent` value; `None` for anything malformed (a new trace is started then).
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace_id, span_id, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version != "00" || parts.next().is_some() || !is_hex(trace_id, 32) || !is_hex(span_id, 16) {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self { trace_id: trace_id.to_owned(), span_id: span_id.to_owned(), sampled: flags & 1 == 1 })
    }

    /// This hop's context: the caller's trace with a new span, or a new trace.
    pub fn child_of(parent: Option<&Self>) -> Self {
        match parent {
            Some(parent) => Self { trace_id: parent.trace_id.clone(), span_id: random_hex(8), sampled: parent.sampled },
            None => Self { trace_id: random_hex(16), span_id: random_hex(8), sampled: true },
        }
    }

    /// This context as OpenTelemetry's remote parent.
    pub fn otel_parent(&self) -> Option<opentelemetry::Context> {
        use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
        let trace_id = TraceId::from_hex(&self.trace_id).ok()?;
        let span_id = SpanId::from_hex(&self.span_id).ok()?;
        let flags = if self.sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
        let context = SpanContext::new(trace_id, span_id, flags, true, TraceState::default());
        Some(opentelemetry::Context::new().with_remote_span_context(context))
    }

    /// The `traceparent` header value naming this span as the parent.
    pub fn header(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span_id, if self.sampled { "01" } else { "00" })
    }
}

/// The request's id (`x-request-id`: the caller's when it sent a sane one, else a new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn from_header(value: Option<&str>) -> Self {
        match value {
            Some(id) if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) => {
                Self(id.to_owned())
            }
            _ => Self(uuid::Uuid::now_v7().simple().to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_parse_and_children_keep_the_trace() {
        let parent = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").expect("valid");
        assert_eq!(parent.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(parent.sampled);
        let child = TraceContext::child_of(Some(&parent));
        assert_eq!(child.trace_id, parent.trace_id);
        assert_ne!(child.span_id, parent.span_id);
        assert_eq!(TraceContext::parse(&child.header()), Some(child.clone()));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(TraceContext::parse(bad).is_none(), "{bad:?}");
        }
        let fresh = TraceContext::child_of(None);
        assert!(is_hex(&fresh.trace_id, 32) && is_hex(&fresh.span_id, 16));
    }

    #[test]
    fn request_ids_are_kept_when_sane() {
        assert_eq!(RequestId::from_header(Some("abc-123")).0, "abc-123");
        assert_ne!(RequestId::from_header(Some("has space")).0, "has space");
        assert_eq!(RequestId::from_header(None).0.len(), 32);
    }
}
