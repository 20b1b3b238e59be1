//! Deployments added, changed and removed without a restart (LiteLLM's `/model/new`,
//! `/model/update`, `/model/delete`; docs: proxy/model_management), through real gateway
//! processes: served at once by the replica that stored them, by the other replicas within
//! their follow interval, after a restart, and refused when they would not load or would keep
//! a secret in the database.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::shared_state::{Schema, eventually};
use switchyard_e2e::{Gateway, MASTER_KEY, error_of};

fn hello(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

fn config(database: &str) -> String {
    format!(
        "model_list:\n  - model_name: from-file\n    litellm_params: {{model: mock/file}}\n    model_info: {{id: file-1}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n  database_url: {database}\n"
    )
}

async fn answer(gateway: &Gateway, model: &str) -> (u16, Value) {
    let response = gateway
        .post("/v1/chat/completions", &hello(model), Some(MASTER_KEY))
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_stored_deployment_is_served_changed_and_removed_without_a_restart() {
    let gateway = Gateway::spawn(&config("sqlite://models.db"), &[]).await;
    let added = gateway
        .admin_post(
            "/model/new",
            &json!({"model_name": "added", "litellm_params": {"model": "mock/a", "mock_response": "first"},
                    "model_info": {"id": "added-1", "mode": "chat"}}),
        )
        .await;
    assert_eq!(added["model_id"], "added-1");
    assert_eq!(added["model_info"]["mode"], "chat");
    let (status, body) = answer(&gateway, "added").await;
    assert_eq!(status, 200, "served as soon as /model/new answers: {body}");
    assert_eq!(body["choices"][0]["message"]["content"], "first");

    let models: Value = gateway
        .get("/v1/models", Some(MASTER_KEY))
        .await
        .json()
        .await
        .expect("json");
    assert!(
        models["data"]
            .as_array()
            .expect("data")
            .iter()
            .any(|m| m["id"] == "added")
    );

    let changed = gateway
        .admin_post(
            "/model/update",
            &json!({"litellm_params": {"mock_response": "second"}, "model_info": {"id": "added-1"}}),
        )
        .await;
    assert_eq!(
        changed["litellm_params"]["model"], "mock/a",
        "unchanged keys stay"
    );
    let (_, body) = answer(&gateway, "added").await;
    assert_eq!(body["choices"][0]["message"]["content"], "second");

    let deleted = gateway
        .admin_post("/model/delete", &json!({"id": "added-1"}))
        .await;
    assert_eq!(deleted["message"], "Model: added-1 deleted successfully");
    let (status, _) = answer(&gateway, "added").await;
    assert_eq!(status, 404);
    let (status, _) = answer(&gateway, "from-file").await;
    assert_eq!(status, 200, "the file's deployments are untouched");
}

#[tokio::test]
async fn bad_deployments_plain_secrets_and_non_admins_are_refused_and_nothing_is_stored() {
    let gateway = Gateway::spawn(&config("sqlite://models.db"), &[]).await;
    let cases = [
        (
            json!({"model_name": "x", "litellm_params": {"model": "xinference/x"}}),
            "xinference",
        ),
        (
            json!({"model_name": "x", "litellm_params": {"model": "openai/x", "api_key": "sk-plain-secret"}}),
            "os.environ",
        ),
        (
            json!({"model_name": "x", "litellm_params": {"model": "mock/x", "vertex_project": "p"}}),
            "vertex_project",
        ),
        (json!({"litellm_params": {"model": "mock/x"}}), "model_name"),
        (
            json!({"model_name": "x", "litellm_params": {"model": "mock/x"}, "model_info": {"id": "file-1"}}),
            "already exists",
        ),
    ];
    for (body, expected) in cases {
        let response = gateway.post("/model/new", &body, Some(MASTER_KEY)).await;
        let (status, _, error) = error_of(response).await;
        assert!(status == 400 || status == 409, "{body}: {status}");
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{body}: {message}");
        assert!(
            !message.contains("sk-plain-secret"),
            "the secret is not echoed"
        );
    }
    let (status, _) = answer(&gateway, "x").await;
    assert_eq!(status, 404, "nothing refused was stored");
    let response = gateway
        .post(
            "/model/update",
            &json!({"model_info": {"id": "file-1"}, "model_name": "y"}),
            Some(MASTER_KEY),
        )
        .await;
    let (status, _, error) = error_of(response).await;
    assert_eq!(
        status, 400,
        "the file's deployments change in the file: {error}"
    );

    let key = gateway.admin_post("/key/generate", &json!({})).await;
    let key = key["key"].as_str().expect("a key");
    let response = gateway
        .post(
            "/model/new",
            &json!({"model_name": "z", "litellm_params": {"model": "mock/z"}}),
            Some(key),
        )
        .await;
    let (status, _, _) = error_of(response).await;
    assert_eq!(status, 401, "only proxy admins manage deployments");
}

/// Two replicas on one PostgreSQL: what one stores, the other serves within its follow
/// interval; a restarted replica serves it from the start.
#[tokio::test]
async fn replicas_share_stored_deployments_and_a_restart_keeps_them() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let config = config("os.environ/TEST_DATABASE_URL");
    let env = [("TEST_DATABASE_URL", schema.url.as_str())];
    let a = Gateway::spawn(&config, &env).await;
    let b = Gateway::spawn(&config, &env).await;
    a.admin_post(
        "/model/new",
        &json!({"model_name": "shared", "litellm_params": {"model": "mock/s", "mock_response": "from a"}}),
    )
    .await;
    let body = eventually(
        Duration::from_secs(10),
        "replica b serves `shared`",
        || async {
            let (status, body) = answer(&b, "shared").await;
            (status == 200).then_some(body)
        },
    )
    .await;
    assert_eq!(body["choices"][0]["message"]["content"], "from a");

    drop(b);
    let restarted = Gateway::spawn(&config, &env).await;
    let (status, _) = answer(&restarted, "shared").await;
    assert_eq!(status, 200, "served from the first call after a restart");

    let info: Value = a
        .get("/model/info", Some(MASTER_KEY))
        .await
        .json()
        .await
        .expect("json");
    let id = info["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|d| d["model_name"] == "shared")
        .and_then(|d| d["model_info"]["id"].as_str())
        .expect("the stored deployment's id")
        .to_owned();
    restarted
        .admin_post("/model/delete", &json!({"id": id}))
        .await;
    eventually(
        Duration::from_secs(10),
        "replica a stops serving `shared`",
        || async {
            let (status, _) = answer(&a, "shared").await;
            (status == 404).then_some(())
        },
    )
    .await;
}
