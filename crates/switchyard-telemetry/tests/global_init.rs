//! `Telemetry::init` installs the process-wide subscriber once, and its guard shuts down. In its
//! own test binary: the global subscriber cannot be uninstalled.

use switchyard_telemetry::genai::{CallSpan, operation};
use switchyard_telemetry::{
    LogFormat, Telemetry, TelemetryError, TelemetrySettings, current_trace_id,
};

#[tokio::test]
async fn init_installs_once_and_shuts_down() {
    let settings = TelemetrySettings {
        log_format: LogFormat::Json,
        ..TelemetrySettings::default()
    };
    let guard = Telemetry::init(&settings).expect("first init");
    assert!(
        !switchyard_telemetry::genai::attributes_recorded(),
        "without an exporter, span attributes are not recorded"
    );
    let call = CallSpan::start(operation::CHAT, "m");
    call.in_scope(|| {
        assert!(
            current_trace_id().is_some(),
            "spans are traced without a collector"
        );
        tracing::info!("a log line inside a call");
    });
    drop(call);

    assert!(matches!(
        Telemetry::init(&settings),
        Err(TelemetryError::AlreadyInitialized)
    ));
    guard.shutdown().await.expect("shutdown");
}

#[test]
fn invalid_settings_are_refused_before_installing_anything() {
    let settings = TelemetrySettings {
        sample_ratio: -0.5,
        ..TelemetrySettings::default()
    };
    assert!(matches!(
        Telemetry::init(&settings),
        Err(TelemetryError::InvalidSetting { .. })
    ));
}
