//! End to end through real gateway processes: virtual keys. Their lifecycle through the admin
//! API (a secret shown once, info by id or secret, update, block, unblock, expiry, delete), the
//! admin API's own gate (the master key only), model allow-lists, and the promise that a
//! secret, once handed out, appears in no log line, answer or database file.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use switchyard_e2e::{Gateway, MASTER_KEY, error_of};
use switchyard_store::hash_key;

/// `gpt-4o-mini` (priced) and `gpt-4o`, both answered locally by the mock provider; the
/// master key; keys in the default SQLite file of the gateway's working directory.
fn config() -> String {
    format!(
        "model_list:
  - model_name: gpt-4o-mini
    litellm_params: {{model: mock/echo, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}
    model_info: {{id: mini}}
  - model_name: gpt-4o
    litellm_params: {{model: mock/echo}}
    model_info: {{id: big}}
general_settings:
  master_key: {MASTER_KEY}
"
    )
}

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello there"}]})
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An RFC 3339 time of the admin API (LiteLLM's `expires` is a datetime) as Unix seconds.
fn unix(value: &Value) -> i64 {
    let text = value.as_str().unwrap_or_else(|| panic!("a time: {value}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|err| panic!("{text}: {err}"))
        .unix_timestamp()
}

/// `POST /key/generate` under the master key; the answer, which must be a 200.
async fn generate(gateway: &Gateway, body: &Value) -> Value {
    let response = gateway.post("/key/generate", body, Some(MASTER_KEY)).await;
    assert_eq!(response.status(), 200, "/key/generate {body}");
    response.json().await.expect("JSON answer")
}

/// An admin `GET` under the master key: status and body text.
async fn admin_get(gateway: &Gateway, path: &str) -> (u16, String) {
    let response = gateway.get(path, Some(MASTER_KEY)).await;
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// The status of a chat call to `model` with `key`.
async fn call_status(gateway: &Gateway, key: &str, model: &str) -> u16 {
    let response = gateway
        .post("/v1/chat/completions", &ask(model), Some(key))
        .await;
    let status = response.status().as_u16();
    let _ = response.bytes().await;
    status
}

/// The secret and public id of a freshly generated key.
fn secret_and_id(created: &Value) -> (String, String) {
    let secret = created["key"].as_str().expect("the secret").to_owned();
    let id = created["token"].as_str().expect("the public id").to_owned();
    (secret, id)
}

#[tokio::test]
async fn a_key_lives_through_generate_info_update_block_unblock_and_delete() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    let created = generate(
        &gateway,
        &json!({"key_alias": "ci", "models": ["gpt-4o-mini"], "max_budget": 5.0,
                "metadata": {"owner": "e2e"}}),
    )
    .await;
    let (secret, id) = secret_and_id(&created);
    assert!(secret.starts_with("sk-") && secret.len() > 40, "{secret}");
    assert!(id.starts_with("key-"), "{id}");
    assert_eq!(created["key_id"], json!(id));
    assert_eq!(created["key_alias"], "ci");
    assert_eq!(created["models"], json!(["gpt-4o-mini"]));
    assert_eq!(created["max_budget"], json!(5.0));
    assert_eq!(created["metadata"], json!({"owner": "e2e"}));
    assert_eq!(created["blocked"], json!(false));
    let hash = hash_key(&secret).to_hex();
    let created_text = created.to_string();
    assert!(
        !created_text.contains(&hash),
        "the hash is never shown: {created}"
    );

    // By its id and by its secret: the same key, never the secret nor its hash.
    for name in [id.as_str(), secret.as_str()] {
        let (status, text) = admin_get(&gateway, &format!("/key/info?key={name}")).await;
        assert_eq!(status, 200, "{text}");
        let info: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(info["key"], json!(id), "{info}");
        assert_eq!(info["info"]["key_alias"], "ci");
        assert_eq!(info["info"]["models"], json!(["gpt-4o-mini"]));
        assert!(!text.contains(&secret) && !text.contains(&hash), "{text}");
    }
    let (status, list) = admin_get(&gateway, "/key/list").await;
    assert_eq!(status, 200, "{list}");
    assert!(list.contains(&id), "{list}");
    assert!(!list.contains(&secret) && !list.contains(&hash), "{list}");
    assert_eq!(call_status(&gateway, &secret, "gpt-4o-mini").await, 200);

    // Update by id: the fields given change, the others stay.
    let updated = gateway
        .admin_post(
            "/key/update",
            &json!({"key": id, "key_alias": "renamed", "models": ["gpt-4o-mini", "gpt-4o"],
                "max_budget": 10.0}),
        )
        .await;
    assert_eq!(updated["key_alias"], "renamed");
    assert_eq!(updated["models"], json!(["gpt-4o-mini", "gpt-4o"]));
    assert_eq!(updated["max_budget"], json!(10.0));
    assert_eq!(updated["metadata"], json!({"owner": "e2e"}));
    assert_eq!(call_status(&gateway, &secret, "gpt-4o").await, 200);

    // Update by secret: `null` clears.
    let cleared = gateway
        .admin_post(
            "/key/update",
            &json!({"key": secret, "key_alias": null, "max_budget": null}),
        )
        .await;
    assert_eq!(cleared["key_alias"], Value::Null, "{cleared}");
    assert_eq!(cleared["max_budget"], Value::Null, "{cleared}");
    assert_eq!(cleared["models"], json!(["gpt-4o-mini", "gpt-4o"]));
    assert!(!cleared.to_string().contains(&secret));
    let (_, text) = admin_get(&gateway, &format!("/key/info?key={id}")).await;
    let info: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(info["info"]["key_alias"], Value::Null, "{info}");
    assert_eq!(info["info"]["max_budget"], Value::Null, "{info}");

    // Blocked: refused as not authenticated, until unblocked.
    let blocked = gateway.admin_post("/key/block", &json!({"key": id})).await;
    assert_eq!(blocked["blocked"], json!(true));
    let response = gateway
        .post("/v1/chat/completions", &ask("gpt-4o-mini"), Some(&secret))
        .await;
    let (status, _, body) = error_of(response).await;
    assert_eq!(status, 401, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&id) && message.contains("blocked"),
        "{body}"
    );
    let unblocked = gateway
        .admin_post("/key/unblock", &json!({"key": secret}))
        .await;
    assert_eq!(unblocked["blocked"], json!(false));
    assert_eq!(call_status(&gateway, &secret, "gpt-4o-mini").await, 200);

    // Deleted: refused, and unknown to the admin API.
    let deleted = gateway
        .admin_post("/key/delete", &json!({"keys": [id]}))
        .await;
    assert_eq!(deleted["deleted_keys"], json!([id]));
    let response = gateway
        .post("/v1/chat/completions", &ask("gpt-4o-mini"), Some(&secret))
        .await;
    let (status, _, body) = error_of(response).await;
    assert_eq!(status, 401, "{body}");
    let response = gateway
        .get(&format!("/key/info?key={id}"), Some(MASTER_KEY))
        .await;
    let (status, _, body) = error_of(response).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn null_clears_a_keys_model_list_and_metadata() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    let created = generate(
        &gateway,
        &json!({"models": ["gpt-4o-mini"], "metadata": {"owner": "e2e"}, "rpm_limit": 100}),
    )
    .await;
    let (secret, id) = secret_and_id(&created);
    assert_eq!(call_status(&gateway, &secret, "gpt-4o").await, 403);
    let cleared = gateway
        .admin_post(
            "/key/update",
            &json!({"key": id, "models": null, "metadata": null, "rpm_limit": null}),
        )
        .await;
    assert_eq!(cleared["models"], json!([]), "{cleared}");
    assert_eq!(cleared["metadata"], json!({}), "{cleared}");
    assert_eq!(cleared["rpm_limit"], Value::Null, "{cleared}");
    assert_eq!(call_status(&gateway, &secret, "gpt-4o").await, 200);
}

#[tokio::test]
async fn a_blocked_user_or_team_blocks_its_keys() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    gateway
        .admin_post("/user/new", &json!({"user_id": "ada"}))
        .await;
    gateway
        .admin_post("/team/new", &json!({"team_id": "research"}))
        .await;
    let (user_key, _) = secret_and_id(&generate(&gateway, &json!({"user_id": "ada"})).await);
    let (team_key, _) = secret_and_id(&generate(&gateway, &json!({"team_id": "research"})).await);
    for (path, field, owner, key) in [
        ("/user/update", "user_id", "ada", &user_key),
        ("/team/update", "team_id", "research", &team_key),
    ] {
        assert_eq!(call_status(&gateway, key, "gpt-4o-mini").await, 200);
        gateway
            .admin_post(path, &json!({ field: owner, "blocked": true }))
            .await;
        let response = gateway
            .post("/v1/chat/completions", &ask("gpt-4o-mini"), Some(key))
            .await;
        let (status, _, body) = error_of(response).await;
        assert_eq!(status, 401, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("`{owner}` is blocked")), "{body}");
        gateway
            .admin_post(path, &json!({ field: owner, "blocked": false }))
            .await;
        assert_eq!(call_status(&gateway, key, "gpt-4o-mini").await, 200);
    }
}

#[tokio::test]
async fn bad_admin_requests_answer_400_in_the_openai_shape() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    for (path, body, code) in [
        ("/key/generate", "{\"key_alias\": ", "invalid_json"),
        ("/key/generate", "{\"nope\": 1}", "invalid_request"),
        ("/key/generate", "{\"max_budget\": -1}", "invalid_request"),
        (
            "/key/generate",
            "{\"duration\": \"soon\"}",
            "invalid_request",
        ),
        ("/key/update", "[]", "invalid_request"),
        (
            "/key/update",
            "{\"key_alias\": \"no key named\"}",
            "invalid_request",
        ),
        ("/key/delete", "{}", "invalid_request"),
        ("/key/block", "{\"key\": 5}", "invalid_request"),
        ("/user/new", "{\"user_id\": 5}", "invalid_request"),
        (
            "/team/update",
            "{\"team_id\": \"t\", \"models\": \"all\"}",
            "invalid_request",
        ),
    ] {
        let response = gateway.post_raw(path, body, Some(MASTER_KEY)).await;
        let (status, got, error) = error_of(response).await;
        assert_eq!(
            (status, got.as_str()),
            (400, code),
            "{path} {body}: {error}"
        );
    }
    for path in [
        "/key/info",
        "/user/info",
        "/team/info?team=x",
        "/key/list?limit=many",
        "/spend/logs?limit=-1",
        "/spend/report?group_by=planet",
        "/spend/logs?start_date=yesterday",
    ] {
        let response = gateway.get(path, Some(MASTER_KEY)).await;
        let (status, got, error) = error_of(response).await;
        assert_eq!(
            (status, got.as_str()),
            (400, "invalid_request"),
            "{path}: {error}"
        );
    }
    // A bare `POST /key/generate` makes a key with no limits, as in LiteLLM.
    let response = gateway
        .post_raw("/key/generate", "", Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let created: Value = response.json().await.expect("JSON");
    assert!(
        created["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("sk-"))
    );
}

#[tokio::test]
async fn an_expired_key_is_refused_until_its_expiry_moves() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    let created = generate(&gateway, &json!({"duration": "30d"})).await;
    let (secret, id) = secret_and_id(&created);
    let expires = unix(&created["expires"]);
    let thirty_days = 30 * 86_400;
    assert!(
        (expires - now() - thirty_days).abs() <= 5,
        "expires {expires}, now {}",
        now()
    );
    assert_eq!(call_status(&gateway, &secret, "gpt-4o-mini").await, 200);

    let past = now() - 60;
    let updated = gateway
        .admin_post("/key/update", &json!({"key": id, "expires_at": past}))
        .await;
    assert_eq!(unix(&updated["expires"]), past);
    let response = gateway
        .post("/v1/chat/completions", &ask("gpt-4o-mini"), Some(&secret))
        .await;
    let (status, _, body) = error_of(response).await;
    assert_eq!(status, 401, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&id) && message.contains("expired"),
        "{body}"
    );

    // A new `duration` counts from now; `null` makes the key last for ever.
    let renewed = gateway
        .admin_post("/key/update", &json!({"key": id, "duration": "1h"}))
        .await;
    let expires = unix(&renewed["expires"]);
    assert!((expires - now() - 3_600).abs() <= 5, "{renewed}");
    assert_eq!(call_status(&gateway, &secret, "gpt-4o-mini").await, 200);
    let forever = gateway
        .admin_post("/key/update", &json!({"key": id, "expires_at": null}))
        .await;
    assert_eq!(forever["expires"], Value::Null, "{forever}");
    assert_eq!(call_status(&gateway, &secret, "gpt-4o-mini").await, 200);
}

/// A key of no user with a role is no admin: LiteLLM answers 401 "Only proxy admin can be
/// used to generate, delete, update info for new keys/users/teams" on the routes that write,
/// and an unknown key is refused everywhere (`admin_api.rs` covers every role).
#[tokio::test]
async fn keys_of_no_role_and_unknown_keys_cannot_administer() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    let (secret, id) = secret_and_id(&generate(&gateway, &json!({})).await);
    for key in [Some(secret.as_str()), Some("sk-master-e2f"), None] {
        for response in [
            gateway
                .post("/key/generate", &json!({"key_alias": "sneaky"}), key)
                .await,
            gateway.get("/spend/logs", key).await,
            gateway.get("/user/list", key).await,
            gateway
                .post("/user/new", &json!({"user_id": "mallory"}), key)
                .await,
        ] {
            let url = response.url().path().to_owned();
            let (status, _, body) = error_of(response).await;
            assert_eq!(status, 401, "{url} with {key:?}: {body}");
        }
    }
    // What such a key may do: read itself, and list itself.
    let response = gateway.get("/key/info", Some(&secret)).await;
    assert_eq!(response.status(), 200);
    let info: Value = response.json().await.expect("JSON");
    assert_eq!(info["key"], json!(id), "{info}");
    let response = gateway.get("/key/list", Some(&secret)).await;
    assert_eq!(response.status(), 200);
    let list: Value = response.json().await.expect("JSON");
    assert_eq!(list["keys"], json!([id]), "{list}");
    // Nothing was created on the way.
    let (_, list) = admin_get(&gateway, "/key/list?return_full_object=true").await;
    assert!(!list.contains("sneaky"), "{list}");
    let (status, _) = admin_get(&gateway, "/user/info?user_id=mallory").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn without_a_master_key_there_is_no_admin_api() {
    let open = "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params: {model: mock/echo}\n";
    let gateway = Gateway::spawn(open, &[]).await;
    assert_eq!(call_status(&gateway, "anything", "gpt-4o-mini").await, 200);
    for key in [None, Some("sk-anything"), Some(MASTER_KEY)] {
        let response = gateway.post("/key/generate", &json!({}), key).await;
        let (status, code, body) = error_of(response).await;
        assert_eq!((status, code.as_str()), (403, "forbidden"), "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("master_key"), "{body}");
        let response = gateway.get("/key/list", key).await;
        assert_eq!(error_of(response).await.0, 403);
    }
}

#[tokio::test]
async fn a_key_calls_only_the_models_it_lists() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    let (secret, id) =
        secret_and_id(&generate(&gateway, &json!({"models": ["gpt-4o-mini"]})).await);
    assert_eq!(call_status(&gateway, &secret, "gpt-4o-mini").await, 200);

    let mut streamed = ask("gpt-4o");
    streamed["stream"] = json!(true);
    for body in [ask("gpt-4o"), streamed] {
        let response = gateway
            .post("/v1/chat/completions", &body, Some(&secret))
            .await;
        let (status, code, error) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (403, "model_not_allowed"),
            "{error}"
        );
        assert_eq!(error["error"]["type"], "permission_error", "{error}");
        assert_eq!(error["error"]["param"], Value::Null, "{error}");
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("`gpt-4o`") && message.contains(&id),
            "{error}"
        );
    }
    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "gpt-4o", "input": "embed me"}),
            Some(&secret),
        )
        .await;
    let (status, code, error) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "model_not_allowed"),
        "{error}"
    );

    // A key without a list of its own takes its team's.
    gateway
        .admin_post(
            "/team/new",
            &json!({"team_id": "big-only", "models": ["gpt-4o"]}),
        )
        .await;
    let (team_key, _) = secret_and_id(&generate(&gateway, &json!({"team_id": "big-only"})).await);
    assert_eq!(call_status(&gateway, &team_key, "gpt-4o").await, 200);
    let response = gateway
        .post("/v1/chat/completions", &ask("gpt-4o-mini"), Some(&team_key))
        .await;
    let (status, code, error) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "model_not_allowed"),
        "{error}"
    );

    // The master key is not limited.
    assert_eq!(call_status(&gateway, MASTER_KEY, "gpt-4o").await, 200);
}

/// Every file of the SQLite database `name` in `dir` (with its `-wal` and `-shm`), as bytes.
fn database_bytes(dir: &Path, name: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the working directory") {
        let path = entry.expect("entry").path();
        let is_db = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(name));
        if is_db {
            bytes.extend(std::fs::read(&path).expect("read a database file"));
        }
    }
    assert!(!bytes.is_empty(), "no {name} in {}", dir.display());
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn a_secret_appears_in_no_log_answer_or_database_file() {
    let mut gateway = Gateway::spawn_logging(&config(), &[], "debug").await;
    let created = generate(
        &gateway,
        &json!({"key_alias": "secretive", "models": ["gpt-4o-mini"], "max_budget": 1.0}),
    )
    .await;
    let (secret, id) = secret_and_id(&created);
    // A wrong key that differs in its last character only.
    let mut similar = secret.clone();
    let last = similar.pop().expect("non-empty");
    similar.push(if last == 'A' { 'B' } else { 'A' });
    // The random part alone, in case something strips the `sk-`.
    let random = &secret[3..];

    // Everything the gateway answers from here on, headers included.
    let mut answers: Vec<String> = Vec::new();
    let mut keep = async |response: reqwest::Response, expected: u16| {
        let status = response.status().as_u16();
        let headers = format!("{:?}", response.headers());
        let body = response.text().await.expect("body");
        assert_eq!(status, expected, "{body}");
        answers.push(format!("{headers}\n{body}"));
    };
    keep(
        gateway
            .post("/v1/chat/completions", &ask("gpt-4o-mini"), Some(&secret))
            .await,
        200,
    )
    .await;
    let mut streamed = ask("gpt-4o-mini");
    streamed["stream"] = json!(true);
    keep(
        gateway
            .post("/v1/chat/completions", &streamed, Some(&secret))
            .await,
        200,
    )
    .await;
    keep(
        gateway
            .post("/v1/chat/completions", &ask("gpt-4o-mini"), Some(&similar))
            .await,
        401,
    )
    .await;
    keep(
        gateway
            .post("/v1/chat/completions", &ask("gpt-4o"), Some(&secret))
            .await,
        403,
    )
    .await;
    for path in [
        format!("/key/info?key={secret}"),
        format!("/key/info?key={id}"),
        "/key/list".to_owned(),
        format!("/spend/logs?key_id={id}"),
    ] {
        keep(gateway.get(&path, Some(MASTER_KEY)).await, 200).await;
    }
    keep(
        gateway
            .get(&format!("/key/info?key={similar}"), Some(MASTER_KEY))
            .await,
        404,
    )
    .await;
    let update = json!({"key": secret, "key_alias": "renamed"});
    keep(
        gateway.post("/key/update", &update, Some(MASTER_KEY)).await,
        200,
    )
    .await;
    keep(
        gateway
            .post("/key/block", &json!({"key": secret}), Some(MASTER_KEY))
            .await,
        200,
    )
    .await;
    keep(
        gateway
            .post("/v1/chat/completions", &ask("gpt-4o-mini"), Some(&secret))
            .await,
        401,
    )
    .await;
    keep(
        gateway
            .post("/key/delete", &json!({"keys": [secret]}), Some(MASTER_KEY))
            .await,
        200,
    )
    .await;
    keep(
        gateway
            .post("/v1/chat/completions", &ask("gpt-4o-mini"), Some(&secret))
            .await,
        401,
    )
    .await;

    for answer in &answers {
        for needle in [secret.as_str(), similar.as_str(), random] {
            assert!(!answer.contains(needle), "a secret in an answer: {answer}");
        }
    }

    // Stop it gracefully, so that every log line and spend record is written.
    gateway.terminate();
    let status = gateway.wait_exit(Duration::from_secs(30)).await;
    assert!(status.is_some_and(|s| s.success()), "exit: {status:?}");
    let log = gateway.log();
    assert!(
        log.contains("call finished") && log.contains(&id) && log.contains("DEBUG"),
        "debug logging was captured: {log}"
    );
    for needle in [secret.as_str(), similar.as_str(), random] {
        if let Some(line) = log.lines().find(|line| line.contains(needle)) {
            panic!("a secret in the log: {line}");
        }
    }

    let workdir = gateway.workdir().expect("a spawned gateway");
    let database = database_bytes(workdir, "switchyard.db");
    assert!(
        contains(&database, &id),
        "the key's id is in the database that was read"
    );
    for needle in [secret.as_str(), similar.as_str(), random] {
        assert!(!contains(&database, needle), "a secret in the database");
    }
}
