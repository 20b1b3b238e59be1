//! The standard `OTEL_*` variables applied over the settings, read through a map so the process
//! environment is never touched.

use std::collections::HashMap;

use switchyard_telemetry::{OtlpProtocol, OtlpSettings, TelemetryError, TelemetrySettings};

fn apply(
    base: TelemetrySettings,
    vars: &[(&str, &str)],
) -> Result<TelemetrySettings, TelemetryError> {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    base.from_env_over(move |key| env.get(key).cloned())
}

fn base() -> TelemetrySettings {
    TelemetrySettings {
        service_name: "switchyard".into(),
        ..TelemetrySettings::default()
    }
}

#[test]
fn no_variables_change_nothing() {
    let settings = apply(base(), &[]).expect("valid");
    assert_eq!(settings, base());
    assert!(settings.otlp.is_none());
}

#[test]
fn endpoint_turns_export_on_with_grpc_by_default() {
    let settings = apply(
        base(),
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")],
    )
    .expect("valid");
    let otlp = settings.otlp.expect("export on");
    assert_eq!(otlp.protocol, OtlpProtocol::Grpc);
    assert_eq!(otlp.traces_url(), "http://collector:4317");
}

#[test]
fn http_protobuf_appends_the_traces_path_to_the_base_endpoint() {
    let settings = apply(
        base(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ],
    )
    .expect("valid");
    let otlp = settings.otlp.expect("export on");
    assert_eq!(otlp.protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(otlp.traces_url(), "http://collector:4318/v1/traces");
}

#[test]
fn traces_endpoint_is_used_as_is_and_wins() {
    let settings = apply(
        base(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://traces:9999/custom",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ],
    )
    .expect("valid");
    assert_eq!(
        settings.otlp.expect("export on").traces_url(),
        "http://traces:9999/custom"
    );
}

#[test]
fn signal_specific_protocol_wins_over_the_general_one() {
    let settings = apply(
        base(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ],
    )
    .expect("valid");
    assert_eq!(
        settings.otlp.expect("export on").protocol,
        OtlpProtocol::Grpc
    );
}

#[test]
fn unknown_protocol_is_refused_by_name() {
    let err = apply(base(), &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]).expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "{message}");
    assert!(message.contains("http/json"), "{message}");
}

#[test]
fn headers_are_parsed_trimmed_percent_decoded_and_merged() {
    let mut file = base();
    file.otlp = Some(OtlpSettings {
        endpoint: Some("http://c:4317".into()),
        headers: [
            ("from-file".to_owned(), "1".to_owned()),
            ("api-key".to_owned(), "old".to_owned()),
        ]
        .into(),
        ..OtlpSettings::default()
    });
    let settings = apply(
        file,
        &[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            " api-key = sec%20ret%3D%3D , x-tenant=a%2Cb,,",
        )],
    )
    .expect("valid");
    let otlp = settings.otlp.expect("export on");
    assert_eq!(
        otlp.headers.get("api-key").map(String::as_str),
        Some("sec ret==")
    );
    assert_eq!(
        otlp.headers.get("x-tenant").map(String::as_str),
        Some("a,b")
    );
    assert_eq!(otlp.headers.get("from-file").map(String::as_str), Some("1"));
    assert_eq!(
        otlp.endpoint.as_deref(),
        Some("http://c:4317"),
        "the file's endpoint stays"
    );
}

#[test]
fn traces_headers_win_over_general_headers() {
    let settings = apply(
        base(),
        &[
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=general"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=traces"),
        ],
    )
    .expect("valid");
    assert_eq!(
        settings
            .otlp
            .expect("export on")
            .headers
            .get("a")
            .map(String::as_str),
        Some("traces")
    );
}

#[test]
fn malformed_headers_are_refused_without_echoing_values() {
    let err = apply(
        base(),
        &[("OTEL_EXPORTER_OTLP_HEADERS", "api-key=sup3rs3cret%zz")],
    )
    .expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{message}");
    assert!(message.contains("api-key"), "{message}");
    assert!(
        !message.contains("sup3rs3cret"),
        "a header value leaked: {message}"
    );

    let err = apply(base(), &[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")]).expect_err("refused");
    assert!(err.to_string().contains("no `=`"));
}

#[test]
fn debug_redacts_header_values() {
    let settings = apply(
        base(),
        &[("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20tok3n")],
    )
    .expect("valid");
    let debug = format!("{settings:?}");
    assert!(debug.contains("authorization"), "{debug}");
    assert!(!debug.contains("tok3n"), "a header value leaked: {debug}");
}

#[test]
fn timeout_in_milliseconds() {
    let settings = apply(base(), &[("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")]).expect("valid");
    assert_eq!(settings.otlp.expect("export on").timeout_ms, 2500);
    assert!(apply(base(), &[("OTEL_EXPORTER_OTLP_TIMEOUT", "2s")]).is_err());
}

#[test]
fn service_name_and_sampler_ratio() {
    let settings = apply(
        base(),
        &[
            ("OTEL_SERVICE_NAME", "gateway-eu"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ],
    )
    .expect("valid");
    assert_eq!(settings.service_name, "gateway-eu");
    assert_eq!(settings.sample_ratio, 0.25);
    assert!(settings.otlp.is_none(), "no OTLP variable, no export");

    assert_eq!(
        apply(base(), &[("OTEL_TRACES_SAMPLER_ARG", "0.5")])
            .expect("valid")
            .sample_ratio,
        0.5
    );
    assert_eq!(
        apply(base(), &[("OTEL_TRACES_SAMPLER", "always_off")])
            .expect("valid")
            .sample_ratio,
        0.0
    );
    assert!(apply(base(), &[("OTEL_TRACES_SAMPLER_ARG", "1.5")]).is_err());
    assert!(apply(base(), &[("OTEL_TRACES_SAMPLER_ARG", "half")]).is_err());
    assert!(apply(base(), &[("OTEL_TRACES_SAMPLER", "jaeger_remote")]).is_err());
}

#[test]
fn empty_values_count_as_unset() {
    let settings = apply(
        base(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
            ("OTEL_SERVICE_NAME", "  "),
        ],
    )
    .expect("valid");
    assert!(settings.otlp.is_none());
    assert_eq!(settings.service_name, "switchyard");
}

#[test]
fn sdk_disabled_turns_export_off() {
    let settings = apply(
        base(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_SDK_DISABLED", "true"),
        ],
    )
    .expect("valid");
    assert!(settings.otlp.is_none());
}

#[test]
fn validate_checks_file_values() {
    let mut settings = base();
    settings.sample_ratio = 2.0;
    assert!(settings.validate().is_err());
    settings.sample_ratio = 0.1;
    assert!(settings.validate().is_ok());
}
