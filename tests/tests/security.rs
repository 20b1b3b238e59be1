//! End to end: the gateway's promises to an attacker in a browser or with a crafted request.
//! Cross-origin browser calls only from configured origins (CORS off by default), and no
//! per-request upstream or credentials (no SSRF through the gateway). Keys, admin access and
//! secrets in logs are tested in keys.rs; hostile connections and bodies in
//! misbehaving_clients.rs.

use serde_json::json;
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, error_of};

fn config(upstream: &FakeUpstream, general: &str) -> String {
    format!(
        "model_list:\n  - model_name: m\n    litellm_params: {{model: openai/m, api_base: '{}'}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n{general}",
        upstream.api_base
    )
}

async fn preflight(gateway: &Gateway, origin: &str) -> reqwest::Response {
    gateway
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/chat/completions", gateway.base),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("answer")
}

fn allowed_origin(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn cross_origin_calls_are_refused_unless_their_origin_is_configured() {
    let upstream = FakeUpstream::start().await;
    let closed = Gateway::start(&config(&upstream, ""), &[]).await;
    let response = preflight(&closed, "https://evil.example").await;
    assert_eq!(allowed_origin(&response), None, "CORS is off by default");

    let open = Gateway::start(
        &config(
            &upstream,
            "  cors_allow_origins: ['https://app.example.com']\n",
        ),
        &[],
    )
    .await;
    let response = preflight(&open, "https://app.example.com").await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(allowed_origin(&response), Some("https://app.example.com"));
    assert!(
        response
            .headers()
            .get("access-control-allow-credentials")
            .is_none(),
        "cookies never ride a cross-origin call"
    );
    let response = preflight(&open, "https://evil.example").await;
    assert_eq!(allowed_origin(&response), None);

    // A real call from the allowed origin carries the header too.
    let response = open
        .client
        .post(format!("{}/v1/chat/completions", open.base))
        .bearer_auth(MASTER_KEY)
        .header("origin", "https://app.example.com")
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    assert_eq!(allowed_origin(&response), Some("https://app.example.com"));
}

#[tokio::test]
async fn requests_cannot_choose_the_upstream_or_its_credentials() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::start(&config(&upstream, ""), &[]).await;
    for (field, value) in [
        ("api_base", "http://169.254.169.254/latest/meta-data"),
        ("base_url", "http://127.0.0.1:1/"),
        ("api_key", "sk-someone-elses"),
    ] {
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        body[field] = json!(value);
        let (status, _, error) = error_of(
            gateway
                .post("/v1/chat/completions", &body, Some(MASTER_KEY))
                .await,
        )
        .await;
        assert_eq!(status, 400, "{field}: {error}");
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{message}");
        assert!(
            !message.contains(value),
            "the value is not echoed: {message}"
        );
    }
    assert!(
        upstream.received().is_empty(),
        "nothing reached any upstream"
    );
}

#[tokio::test]
async fn invalid_cors_origins_are_configuration_errors() {
    for origin in [
        "app.example.com",
        "https://app.example.com/",
        "javascript:alert(1)",
    ] {
        let text =
            format!("model_list: []\ngeneral_settings:\n  cors_allow_origins: ['{origin}']\n");
        let err = switchyard_server::config::parse_with_env(&text, &|_| None)
            .expect_err(origin)
            .to_string();
        assert!(
            err.contains("general_settings.cors_allow_origins[0]"),
            "{err}"
        );
    }
}
