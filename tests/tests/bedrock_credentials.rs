//! End to end: where a `bedrock/` deployment's credentials come from when the config holds no
//! static keys, on the real gateway process, with fake AWS credential endpoints on loopback
//! (`tests/src/fake_aws.rs`): ECS container credentials, IMDSv2, web identity (EKS IRSA) through
//! STS, a shared-config profile, STS `AssumeRole` on top (`aws_role_name`, `aws_session_name`),
//! and Bedrock API keys. Each test proves the resolved credentials reach the fake Bedrock's
//! signature check (`tests/src/fake_bedrock.rs`), and that no secret shows in the gateway's log
//! or answers.
//!
//! The environment variables are those the AWS SDKs document
//! (<https://docs.aws.amazon.com/sdkref/latest/guide/settings-reference.html>); LiteLLM's keys are
//! from <https://docs.litellm.ai/docs/providers/bedrock> ("Authentication": `api_key` or
//! `AWS_BEARER_TOKEN_BEDROCK`; `aws_role_name`, `aws_session_name`, `aws_profile_name`).

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::fake_aws::{ECS_AUTH_TOKEN, FakeAws, IMDS_SESSION_TOKEN};
use switchyard_e2e::fake_bedrock::{BedrockRequest, FakeBedrock, REGION, models};
use switchyard_e2e::{Gateway, MASTER_KEY, error_of};

/// Credentials that expire well after the refresh window: resolved once.
const LONG_LIVED: Duration = Duration::from_secs(3600);
/// Credentials inside the gateway's refresh window (5 minutes before expiry): resolved again
/// at every call.
const NEAR_EXPIRY: Duration = Duration::from_secs(120);

/// A config with one Bedrock deployment of the text model, named `claude`, with `extra` params.
fn config(api_base: &str, extra: &str) -> String {
    format!(
        "model_list:\n  - model_name: claude\n    litellm_params:\n      model: 'bedrock/{}'\n      api_base: {api_base}\n      aws_region_name: {REGION}\n{extra}general_settings:\n  master_key: {MASTER_KEY}\n",
        models::TEXT
    )
}

/// The environment of a gateway that must find its credentials where the test puts them
/// only: no keys, no shared files, no instance metadata, unless `vars` says otherwise. (The
/// chain's other variables are not set blank: AWS's SDK reads a blank web identity or
/// container variable as a configuration error that stops the chain.)
fn isolated(dir: &std::path::Path, vars: &[(&str, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_ACCESS_KEY_ID", String::new()),
        ("AWS_SECRET_ACCESS_KEY", String::new()),
        ("AWS_SESSION_TOKEN", String::new()),
        ("AWS_BEARER_TOKEN_BEDROCK", String::new()),
        (
            "AWS_CONFIG_FILE",
            dir.join("missing-config").display().to_string(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("missing-credentials").display().to_string(),
        ),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (name, value) in vars {
        env.retain(|(k, _)| k != name);
        env.push(((*name).to_owned(), value.clone()));
    }
    env
}

/// ECS container credentials at the fake, with `token` as the container's authorization token.
fn container(aws: &FakeAws, token: &str) -> [(&'static str, String); 2] {
    [
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/ecs/credentials", aws.base),
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.to_owned()),
    ]
}

async fn spawn(config: &str, env: &[(String, String)]) -> Gateway {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Gateway::spawn_logging(config, &env, "debug").await
}

async fn chat(gateway: &Gateway) -> reqwest::Response {
    gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": "claude", "messages": [{"role": "user", "content": "Hi"}]}),
            Some(MASTER_KEY),
        )
        .await
}

async fn answered(gateway: &Gateway) {
    let response = chat(gateway).await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "The capital of France is Paris."
    );
}

/// The access key id a request was signed with, once its signature is checked.
fn signed_with(sent: &BedrockRequest) -> (String, Option<String>) {
    assert!(sent.signature_valid, "signature does not verify: {sent:?}");
    let authorization = sent.authorization.as_deref().expect("authorization");
    let key_id = authorization
        .split("Credential=")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a credential scope");
    (key_id.to_owned(), sent.security_token.clone())
}

fn assert_no_secret(text: &str, secrets: &[&str]) {
    assert!(!text.is_empty(), "nothing to look into");
    for secret in secrets {
        assert!(!text.contains(secret), "`{secret}` shows in:\n{text}");
    }
}

/// The secrets of the credentials `FakeAws` issued under `prefix`, the first `count` of them.
fn issued_secrets(prefix: &str, count: usize) -> Vec<String> {
    (1..=count)
        .flat_map(|n| {
            let key_id = format!("{prefix}{n}");
            [
                format!("{key_id}/secret+key"),
                format!("{key_id}-session-token"),
            ]
        })
        .collect()
}

#[tokio::test]
async fn ecs_container_credentials_sign_the_calls_and_are_resolved_again_near_expiry() {
    let bedrock = FakeBedrock::start().await;
    let aws = FakeAws::start(NEAR_EXPIRY, bedrock.keys()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let env = isolated(dir.path(), &container(&aws, ECS_AUTH_TOKEN));
    let mut gateway = spawn(&config(&bedrock.api_base, ""), &env).await;
    answered(&gateway).await;
    answered(&gateway).await;

    let ecs = aws.received_by("ecs");
    assert_eq!(
        ecs.len(),
        2,
        "credentials two minutes from expiry are refreshed"
    );
    assert!(
        ecs.iter()
            .all(|r| r.authorization.as_deref() == Some(ECS_AUTH_TOKEN))
    );
    let signed: Vec<_> = bedrock.received().iter().map(signed_with).collect();
    assert_eq!(
        signed,
        [
            (
                "ASIAECS1".to_owned(),
                Some("ASIAECS1-session-token".to_owned())
            ),
            (
                "ASIAECS2".to_owned(),
                Some("ASIAECS2-session-token".to_owned())
            ),
        ]
    );
    let mut secrets = issued_secrets("ASIAECS", 2);
    secrets.push(ECS_AUTH_TOKEN.to_owned());
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secret(&gateway.log_after_exit().await, &secrets);
}

#[tokio::test]
async fn imdsv2_credentials_are_fetched_with_a_session_token_and_kept_until_near_expiry() {
    let bedrock = FakeBedrock::start().await;
    let aws = FakeAws::start(LONG_LIVED, bedrock.keys()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let env = isolated(
        dir.path(),
        &[
            ("AWS_EC2_METADATA_DISABLED", "false".to_owned()),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", aws.base.clone()),
        ],
    );
    let mut gateway = spawn(&config(&bedrock.api_base, ""), &env).await;
    answered(&gateway).await;
    answered(&gateway).await;

    assert!(!aws.received_by("imds-token").is_empty());
    let credentials = aws.received_by("imds-credentials");
    assert_eq!(
        credentials.len(),
        1,
        "credentials valid for an hour are kept"
    );
    assert!(
        aws.received()
            .iter()
            .filter(|r| r.endpoint.starts_with("imds-") && r.endpoint != "imds-token")
            .all(|r| r.imds_token.as_deref() == Some(IMDS_SESSION_TOKEN)),
        "every metadata read carries the session token (IMDSv2)"
    );
    let signed: Vec<_> = bedrock.received().iter().map(signed_with).collect();
    let first = (
        "ASIAIMDS1".to_owned(),
        Some("ASIAIMDS1-session-token".to_owned()),
    );
    assert_eq!(signed, [first.clone(), first]);
    let secrets = issued_secrets("ASIAIMDS", 1);
    let mut secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    secrets.push(IMDS_SESSION_TOKEN);
    assert_no_secret(&gateway.log_after_exit().await, &secrets);
}

#[tokio::test]
async fn a_web_identity_token_file_is_exchanged_at_sts_as_eks_irsa_does() {
    let bedrock = FakeBedrock::start().await;
    let aws = FakeAws::start(LONG_LIVED, bedrock.keys()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("eks-token");
    std::fs::write(
        &token_file,
        "eyJhbGciOiJSUzI1NiJ9.eks-service-account-token.sig",
    )
    .expect("write the token");
    let role = "arn:aws:iam::123456789012:role/bedrock-irsa";
    let env = isolated(
        dir.path(),
        &[
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                token_file.display().to_string(),
            ),
            ("AWS_ROLE_ARN", role.to_owned()),
            ("AWS_ROLE_SESSION_NAME", "gateway-pod".to_owned()),
            ("AWS_ENDPOINT_URL_STS", aws.base.clone()),
        ],
    );
    let mut gateway = spawn(&config(&bedrock.api_base, ""), &env).await;
    answered(&gateway).await;

    let exchanged = aws.received_by("AssumeRoleWithWebIdentity");
    assert_eq!(exchanged.len(), 1);
    let form = &exchanged[0].form;
    assert_eq!(form["RoleArn"], role);
    assert_eq!(form["RoleSessionName"], "gateway-pod");
    assert_eq!(
        form["WebIdentityToken"],
        "eyJhbGciOiJSUzI1NiJ9.eks-service-account-token.sig"
    );
    let signed: Vec<_> = bedrock.received().iter().map(signed_with).collect();
    assert_eq!(
        signed,
        [(
            "ASIAWEB1".to_owned(),
            Some("ASIAWEB1-session-token".to_owned())
        )]
    );
    let secrets = issued_secrets("ASIAWEB", 1);
    let mut secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    secrets.push("eks-service-account-token");
    assert_no_secret(&gateway.log_after_exit().await, &secrets);
}

#[tokio::test]
async fn aws_profile_name_picks_a_profile_over_the_environment_s_keys() {
    let bedrock = FakeBedrock::start().await;
    bedrock.accept("AKIAPROFILEKEY", "profile/secret+key");
    bedrock.accept("AKIAENVKEY", "env/secret+key");
    let dir = tempfile::tempdir().expect("tempdir");
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = AKIAENVKEY\naws_secret_access_key = env/secret+key\n\n\
         [bedrock-prod]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = profile/secret+key\n",
    )
    .expect("write the credentials file");
    let env = isolated(
        dir.path(),
        &[
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                credentials.display().to_string(),
            ),
            ("AWS_ACCESS_KEY_ID", "AKIAENVKEY".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "env/secret+key".to_owned()),
        ],
    );
    let mut gateway = spawn(
        &config(&bedrock.api_base, "      aws_profile_name: bedrock-prod\n"),
        &env,
    )
    .await;
    answered(&gateway).await;
    let signed: Vec<_> = bedrock.received().iter().map(signed_with).collect();
    assert_eq!(signed, [("AKIAPROFILEKEY".to_owned(), None)]);
    assert_no_secret(
        &gateway.log_after_exit().await,
        &["profile/secret+key", "env/secret+key"],
    );
}

#[tokio::test]
async fn aws_role_name_is_assumed_with_the_deployment_s_keys_and_its_session_name() {
    let bedrock = FakeBedrock::start().await;
    let aws = FakeAws::start(NEAR_EXPIRY, bedrock.keys()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let env = isolated(
        dir.path(),
        &[
            ("AWS_ENDPOINT_URL_STS", aws.base.clone()),
            ("BASE_SECRET", "base/secret+key".to_owned()),
        ],
    );
    let role = "arn:aws:iam::111122223333:role/LiteLLMClaudeCode";
    let extra = format!(
        "      aws_access_key_id: AKIABASEKEY\n      aws_secret_access_key: os.environ/BASE_SECRET\n      aws_role_name: {role}\n      aws_session_name: switchyard-bedrock\n"
    );
    let mut gateway = spawn(&config(&bedrock.api_base, &extra), &env).await;
    answered(&gateway).await;
    answered(&gateway).await;

    let assumed = aws.received_by("AssumeRole");
    assert_eq!(
        assumed.len(),
        2,
        "the assumed role's credentials near expiry are renewed"
    );
    for request in &assumed {
        assert_eq!(request.form["RoleArn"], role);
        assert_eq!(request.form["RoleSessionName"], "switchyard-bedrock");
        let authorization = request.authorization.as_deref().expect("signed");
        assert!(
            authorization.contains("Credential=AKIABASEKEY/")
                && authorization.contains(&format!("/{REGION}/sts/aws4_request")),
            "STS is called with the base keys, in the deployment's region: {authorization}"
        );
    }
    let signed: Vec<_> = bedrock.received().iter().map(signed_with).collect();
    assert_eq!(
        signed,
        [
            (
                "ASIASTS1".to_owned(),
                Some("ASIASTS1-session-token".to_owned())
            ),
            (
                "ASIASTS2".to_owned(),
                Some("ASIASTS2-session-token".to_owned())
            ),
        ]
    );
    let secrets = issued_secrets("ASIASTS", 2);
    let mut secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    secrets.push("base/secret+key");
    assert_no_secret(&gateway.log_after_exit().await, &secrets);
}

#[tokio::test]
async fn bedrock_api_keys_are_sent_as_bearer_tokens_without_a_signature() {
    let bedrock = FakeBedrock::start().await;
    bedrock.accept_api_key("bedrock-api-key-from-config");
    bedrock.accept_api_key("bedrock-api-key-from-env");
    let dir = tempfile::tempdir().expect("tempdir");
    let env = isolated(
        dir.path(),
        &[("BEDROCK_KEY", "bedrock-api-key-from-config".to_owned())],
    );
    let mut gateway = spawn(
        &config(&bedrock.api_base, "      api_key: os.environ/BEDROCK_KEY\n"),
        &env,
    )
    .await;
    answered(&gateway).await;
    let env = isolated(
        dir.path(),
        &[(
            "AWS_BEARER_TOKEN_BEDROCK",
            "bedrock-api-key-from-env".to_owned(),
        )],
    );
    let mut from_env = spawn(&config(&bedrock.api_base, ""), &env).await;
    answered(&from_env).await;

    let received = bedrock.received();
    let authorizations: Vec<_> = received
        .iter()
        .map(|r| (r.authorization.as_deref(), r.amz_date.is_some()))
        .collect();
    assert_eq!(
        authorizations,
        [
            (Some("Bearer bedrock-api-key-from-config"), false),
            (Some("Bearer bedrock-api-key-from-env"), false),
        ]
    );
    for log in [
        gateway.log_after_exit().await,
        from_env.log_after_exit().await,
    ] {
        assert_no_secret(
            &log,
            &["bedrock-api-key-from-config", "bedrock-api-key-from-env"],
        );
    }
}

#[tokio::test]
async fn credentials_that_cannot_be_resolved_fail_the_call_without_showing_a_secret() {
    let bedrock = FakeBedrock::start().await;
    let aws = FakeAws::start(LONG_LIVED, bedrock.keys()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The container endpoint refuses a wrong token; nothing else in the chain answers.
    let env = isolated(dir.path(), &container(&aws, "wrong-container-token-secret"));
    let mut gateway = spawn(&config(&bedrock.api_base, ""), &env).await;
    let (status, code, body) = error_of(chat(&gateway).await).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(code, "upstream_authentication_failed", "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("AWS credentials could not be resolved"),
        "{message}"
    );
    assert!(bedrock.received().is_empty(), "nothing unsigned was sent");
    assert!(!aws.received_by("ecs").is_empty());
    assert_no_secret(&body.to_string(), &["wrong-container-token-secret"]);
    assert_no_secret(
        &gateway.log_after_exit().await,
        &["wrong-container-token-secret"],
    );
}
