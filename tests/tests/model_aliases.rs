//! A key's `aliases` and a team's `model_aliases` through a real gateway process, as LiteLLM's
//! docs use them: proxy/virtual_keys "Model Aliases" (a key with `models: ["my-free-tier"]` and
//! `aliases: {"gpt-3.5-turbo": "my-free-tier"}` calls `gpt-3.5-turbo`) and
//! proxy/team_based_routing "Create Team with Model Alias" (a team's keys call
//! `gpt-3.5-turbo`, served by `gpt-3.5-turbo-eu`). An alias is served by its target, a key's
//! alias wins over its team's, an alias never opens a model the key may not call, budgets and
//! spend records hold, and the admin API takes and shows the maps under LiteLLM's names.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::shared_state::{Schema, admin_get, eventually, new_key};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, error_of};

/// US dollars per prompt and completion token: the fake upstream reports 10 and 5 tokens, so a
/// call costs $0.019.
const INPUT_PRICE: f64 = 0.001;
const OUTPUT_PRICE: f64 = 0.0018;
const CALL_COST: f64 = 10.0 * INPUT_PRICE + 5.0 * OUTPUT_PRICE;

/// Two priced groups on the fake upstream, `my-free-tier` (upstream model `free-model`) and
/// `my-paid-tier` (`paid-model`), and a configuration alias `gpt-4` of the free tier; `extra`
/// is appended to `general_settings`.
fn config(api_base: &str, extra: &str) -> String {
    let group = |name: &str, upstream: &str| {
        format!(
            "  - model_name: {name}\n    litellm_params: {{model: openai/{upstream}, api_base: '{api_base}', input_cost_per_token: {INPUT_PRICE}, output_cost_per_token: {OUTPUT_PRICE}}}\n"
        )
    };
    format!(
        "model_list:\n{}{}router_settings:\n  model_group_alias:\n    gpt-4: my-free-tier\ngeneral_settings:\n  master_key: {MASTER_KEY}\n{extra}",
        group("my-free-tier", "free-model"),
        group("my-paid-tier", "paid-model"),
    )
}

/// A chat call for `model`, with a short prompt and `max_tokens: 5`.
fn ask(model: &str) -> Value {
    json!({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
}

/// The upstream models the fake upstream was asked for, in order.
fn asked_upstream(upstream: &FakeUpstream) -> Vec<String> {
    upstream
        .received()
        .iter()
        .filter_map(|r| r.body["model"].as_str().map(str::to_owned))
        .collect()
}

/// Calls `model` with `key`; the answer must be a 200. Answers the call's id.
async fn call_ok(gateway: &Gateway, key: &str, model: &str) -> String {
    let response = gateway
        .post("/v1/chat/completions", &ask(model), Some(key))
        .await;
    let status = response.status();
    let body: Value = response.json().await.expect("JSON answer");
    assert_eq!(status, 200, "{model}: {body}");
    body["id"].as_str().expect("an id").to_owned()
}

/// The spend record of call `id`, once written.
async fn spend_record(gateway: &Gateway, id: &str) -> Value {
    let path = format!("/spend/logs?request_id={id}");
    eventually(Duration::from_secs(15), "the spend record", || async {
        let rows = admin_get(gateway, &path).await;
        rows.as_array()
            .and_then(|rows| rows.first())
            .cloned()
            .filter(|row| row["request_id"] == json!(id))
    })
    .await
}

/// LiteLLM's own example: the key may call `my-free-tier` and names it `gpt-3.5-turbo`.
async fn a_key_alias_is_served_by_its_target(gateway: &Gateway, upstream: &FakeUpstream) {
    let (key, id) = new_key(
        gateway,
        &json!({"models": ["my-free-tier"], "aliases": {"gpt-3.5-turbo": "my-free-tier"},
                "max_budget": 0.015}),
    )
    .await;
    let call = call_ok(gateway, &key, "gpt-3.5-turbo").await;
    assert_eq!(asked_upstream(upstream), ["free-model"]);

    // The spend record keeps the name asked for and the group that served it.
    let record = spend_record(gateway, &call).await;
    assert_eq!(record["model"], json!("gpt-3.5-turbo"), "{record}");
    assert_eq!(record["model_group"], json!("my-free-tier"), "{record}");
    assert_eq!(record["api_key"], json!(id));
    assert!(
        (record["spend"].as_f64().expect("spend") - CALL_COST).abs() < 1e-9,
        "{record}"
    );

    // `/key/info` shows the aliases under LiteLLM's name, and the spend they cost.
    let info = admin_get(gateway, &format!("/key/info?key={id}")).await;
    assert_eq!(
        info["info"]["aliases"],
        json!({"gpt-3.5-turbo": "my-free-tier"}),
        "{info}"
    );
    assert!((info["info"]["spend"].as_f64().expect("spend") - CALL_COST).abs() < 1e-9);

    // The budget ($0.015) holds through the alias: $0.019 is spent, so no call more.
    let response = gateway
        .post("/v1/chat/completions", &ask("gpt-3.5-turbo"), Some(&key))
        .await;
    let (status, code, body) = error_of(response).await;
    assert_eq!((status, code.as_str()), (422, "budget_exceeded"), "{body}");
    assert_eq!(
        asked_upstream(upstream).len(),
        1,
        "nothing more went upstream"
    );
}

#[tokio::test]
async fn a_key_alias_is_served_by_its_target_charged_and_shown() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(&config(&upstream.api_base, ""), &[]).await;
    a_key_alias_is_served_by_its_target(&gateway, &upstream).await;
}

#[tokio::test]
async fn a_key_alias_kept_in_postgres_is_served_by_its_target() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let upstream = FakeUpstream::start().await;
    let config = config(
        &upstream.api_base,
        "  database_url: os.environ/TEST_DATABASE_URL\n",
    );
    let gateway = Gateway::spawn(&config, &[("TEST_DATABASE_URL", schema.url.as_str())]).await;
    a_key_alias_is_served_by_its_target(&gateway, &upstream).await;
    drop(gateway);
    schema.remove().await;
}

#[tokio::test]
async fn a_teams_aliases_serve_its_keys_and_a_keys_own_alias_wins() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(&config(&upstream.api_base, ""), &[]).await;
    let team = gateway
        .admin_post(
            "/team/new",
            &json!({"team_id": "eu", "model_aliases":
                {"gpt-3.5-turbo": "my-free-tier", "smart": "my-paid-tier"}}),
        )
        .await;
    assert_eq!(
        team["model_aliases"],
        json!({"gpt-3.5-turbo": "my-free-tier", "smart": "my-paid-tier"})
    );
    let info = admin_get(&gateway, "/team/info?team_id=eu").await;
    assert_eq!(
        info["team_info"]["litellm_model_table"]["model_aliases"]["gpt-3.5-turbo"],
        json!("my-free-tier"),
        "as LiteLLM shows a team's aliases: {info}"
    );

    let (team_key, _) = new_key(&gateway, &json!({"team_id": "eu"})).await;
    let (own_key, _) = new_key(
        &gateway,
        &json!({"team_id": "eu", "aliases": {"gpt-3.5-turbo": "my-paid-tier"}}),
    )
    .await;
    call_ok(&gateway, &team_key, "gpt-3.5-turbo").await;
    call_ok(&gateway, &own_key, "gpt-3.5-turbo").await;
    call_ok(&gateway, &own_key, "smart").await;
    assert_eq!(
        asked_upstream(&upstream),
        ["free-model", "paid-model", "paid-model"],
        "the team's alias, the key's over the team's, the team's where the key has none"
    );

    // A key's alias may lead to a configuration alias, which leads on to its group.
    let (chained, _) = new_key(
        &gateway,
        &json!({"models": ["my-free-tier"], "aliases": {"fast": "gpt-4"}}),
    )
    .await;
    call_ok(&gateway, &chained, "fast").await;
    assert_eq!(
        asked_upstream(&upstream).last().map(String::as_str),
        Some("free-model")
    );

    // `null` clears the team's aliases; its keys feel it at once.
    let cleared = gateway
        .admin_post(
            "/team/update",
            &json!({"team_id": "eu", "model_aliases": null}),
        )
        .await;
    assert_eq!(cleared["model_aliases"], json!({}));
    let response = gateway
        .post(
            "/v1/chat/completions",
            &ask("gpt-3.5-turbo"),
            Some(&team_key),
        )
        .await;
    let (status, _, body) = error_of(response).await;
    assert_eq!(status, 404, "no such model without the alias: {body}");
    call_ok(&gateway, &own_key, "gpt-3.5-turbo").await;
}

#[tokio::test]
async fn an_alias_never_opens_a_model_the_key_may_not_call() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(&config(&upstream.api_base, ""), &[]).await;
    // An alias to a model outside the key's list.
    let (key, _) = new_key(
        &gateway,
        &json!({"models": ["my-free-tier"], "aliases": {"cheap": "my-paid-tier"}}),
    )
    .await;
    // A key allowed an alias's name only, not the model the alias stands for.
    let (by_name, _) = new_key(
        &gateway,
        &json!({"models": ["premium"], "aliases": {"premium": "my-paid-tier"}}),
    )
    .await;
    // A team alias to a model outside the team's list.
    gateway
        .admin_post(
            "/team/new",
            &json!({"team_id": "free", "models": ["my-free-tier"],
                    "model_aliases": {"up": "my-paid-tier"}}),
        )
        .await;
    let (team_key, _) = new_key(&gateway, &json!({"team_id": "free"})).await;

    for (key, model, body) in [
        (&key, "cheap", ask("cheap")),
        (&by_name, "premium", ask("premium")),
        (&team_key, "up", ask("up")),
        (
            &key,
            "cheap",
            json!({"model": "cheap", "stream": true,
                               "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (&key, "my-free-tier,cheap", ask("my-free-tier,cheap")),
    ] {
        let response = gateway.post("/v1/chat/completions", &body, Some(key)).await;
        let (status, code, error) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (403, "model_not_allowed"),
            "{model}: {error}"
        );
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("my-paid-tier"),
            "names the model refused: {message}"
        );
    }
    let response = gateway
        .post(
            "/v1/completions",
            &json!({"model": "cheap", "prompt": "hi", "max_tokens": 5}),
            Some(&key),
        )
        .await;
    let (status, _, body) = error_of(response).await;
    assert_eq!(status, 403, "text completions follow aliases too: {body}");
    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "cheap", "input": "hi"}),
            Some(&key),
        )
        .await;
    let (status, _, body) = error_of(response).await;
    assert_eq!(
        status, 403,
        "calls answered whole follow aliases too: {body}"
    );
    assert!(
        upstream.received().is_empty(),
        "nothing reached the upstream: {:?}",
        asked_upstream(&upstream)
    );

    // The same alias on a key allowed its target serves: chat, text completions, embeddings.
    let (allowed, _) = new_key(
        &gateway,
        &json!({"models": ["my-paid-tier"], "aliases": {"cheap": "my-paid-tier"}}),
    )
    .await;
    call_ok(&gateway, &allowed, "cheap").await;
    let response = gateway
        .post(
            "/v1/completions",
            &json!({"model": "cheap", "prompt": "hi", "max_tokens": 5}),
            Some(&allowed),
        )
        .await;
    assert_eq!(response.status(), 200);
    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "cheap", "input": "hi"}),
            Some(&allowed),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        asked_upstream(&upstream),
        ["paid-model", "paid-model", "paid-model"]
    );
}

#[tokio::test]
async fn the_admin_api_takes_maps_of_names_only_and_shows_them() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(&config(&upstream.api_base, ""), &[]).await;
    let refused = [
        ("/key/generate", json!({"aliases": {"gpt-4": 4}})),
        ("/key/generate", json!({"aliases": ["gpt-4"]})),
        ("/key/generate", json!({"aliases": {"gpt-4": ""}})),
        (
            "/team/new",
            json!({"model_aliases": {"gpt-4": {"model": "x"}}}),
        ),
        ("/team/new", json!({"model_aliases": "gpt-4"})),
        (
            "/user/new",
            json!({"user_id": "u", "model_aliases": {"a": "b"}}),
        ),
    ];
    for (path, body) in &refused {
        let response = gateway.post(path, body, Some(MASTER_KEY)).await;
        let (status, _, error) = error_of(response).await;
        assert_eq!(status, 400, "{path} {body}: {error}");
    }

    let created = gateway
        .admin_post("/key/generate", &json!({"aliases": {"a": "my-free-tier"}}))
        .await;
    assert_eq!(created["aliases"], json!({"a": "my-free-tier"}));
    let id = created["token"].as_str().expect("id").to_owned();
    let response = gateway
        .post(
            "/key/update",
            &json!({"key": id, "aliases": {"b": 1}}),
            Some(MASTER_KEY),
        )
        .await;
    let (status, _, error) = error_of(response).await;
    assert_eq!(status, 400, "{error}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("`b`"), "says which alias: {message}");

    let updated = gateway
        .admin_post(
            "/key/update",
            &json!({"key": id, "aliases": {"b": "my-paid-tier"}}),
        )
        .await;
    assert_eq!(
        updated["aliases"],
        json!({"b": "my-paid-tier"}),
        "replaced whole"
    );
    let listed = admin_get(&gateway, "/key/list?return_full_object=true").await;
    let shown = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|key| key["token"] == json!(id))
        .expect("the key is listed")
        .clone();
    assert_eq!(shown["aliases"], json!({"b": "my-paid-tier"}));
    let cleared = gateway
        .admin_post("/key/update", &json!({"key": id, "aliases": null}))
        .await;
    assert_eq!(cleared["aliases"], json!({}));

    let response = gateway
        .post(
            "/team/update",
            &json!({"team_id": "nobody", "model_aliases": {"a": 1}}),
            Some(MASTER_KEY),
        )
        .await;
    let (status, _, error) = error_of(response).await;
    assert_eq!(status, 400, "checked before the team is looked up: {error}");
}
