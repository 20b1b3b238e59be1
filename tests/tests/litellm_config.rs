//! A LiteLLM configuration's behaviour through a real gateway process (LiteLLM's proxy docs:
//! proxy/configs, proxy/load_balancing "model_group_alias", completion/drop_params): a
//! deployment's `litellm_params` reach the upstream as request defaults, its
//! `additional_drop_params` never do, LiteLLM's own request fields stay at the gateway, an
//! alias is served by its group (and hidden ones are not listed), and a key's `models`
//! wildcards admit what they name.

use serde_json::{Value, json};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, error_of};

fn config(api_base: &str) -> String {
    format!(
        "model_list:
  - model_name: tuned
    litellm_params:
      model: openai/upstream-model
      api_base: {api_base}
      temperature: 0.2
      seed: 7
      top_k: 40
      additional_drop_params: [user, \"tools[*].function.strict\"]
  - model_name: plain
    litellm_params:
      model: openai/plain-model
      api_base: {api_base}
router_settings:
  model_group_alias:
    gpt-4: tuned
    secret-alias: {{model: plain, hidden: true}}
general_settings:
  master_key: {MASTER_KEY}
"
    )
}

fn hello(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn deployment_params_fill_in_and_drop_fields_and_litellm_fields_stay_home() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(&config(&upstream.api_base), &[]).await;
    let mut body = hello("tuned");
    body["temperature"] = json!(0.9);
    body["user"] = json!("end-user-1");
    body["tools"] = json!([{"type": "function",
        "function": {"name": "f", "strict": true, "parameters": {"type": "object"}}}]);
    body["metadata"] = json!({"generation_name": "x"});
    body["caching"] = json!(false);
    body["disable_fallbacks"] = json!(true);
    body["litellm_session_id"] = json!("s-1");
    let response = gateway
        .post("/v1/chat/completions", &body, Some(MASTER_KEY))
        .await;
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.unwrap_or_default()
    );

    let sent = upstream.received();
    let sent = &sent.last().expect("one upstream call").body;
    assert_eq!(
        sent["temperature"],
        json!(0.9),
        "the request's own value wins"
    );
    assert_eq!(sent["seed"], json!(7), "a deployment default fills the gap");
    assert_eq!(
        sent["top_k"],
        json!(40),
        "any litellm_params key is a request parameter"
    );
    assert!(
        sent.get("user").is_none(),
        "additional_drop_params removes `user`: {sent}"
    );
    assert!(
        sent["tools"][0]["function"].get("strict").is_none(),
        "nested drop: {sent}"
    );
    assert_eq!(sent["tools"][0]["function"]["name"], json!("f"));
    for field in [
        "metadata",
        "caching",
        "disable_fallbacks",
        "litellm_session_id",
    ] {
        assert!(
            sent.get(field).is_none(),
            "`{field}` reached the upstream: {sent}"
        );
    }
}

#[tokio::test]
async fn a_request_asking_for_guardrails_the_gateway_lacks_is_refused() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(&config(&upstream.api_base), &[]).await;
    let mut body = hello("plain");
    body["guardrails"] = json!(["pii-mask"]);
    let response = gateway
        .post("/v1/chat/completions", &body, Some(MASTER_KEY))
        .await;
    let (status, _, body) = error_of(response).await;
    assert_eq!(status, 400);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("guardrails"), "{body}");
    assert!(upstream.received().is_empty(), "nothing went upstream");
}

#[tokio::test]
async fn an_alias_is_served_by_its_group_and_hidden_aliases_are_not_listed() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(&config(&upstream.api_base), &[]).await;
    let response = gateway
        .post("/v1/chat/completions", &hello("gpt-4"), Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let sent = upstream.received();
    assert_eq!(
        sent[0].body["model"],
        json!("upstream-model"),
        "served by `tuned`"
    );
    assert_eq!(
        sent[0].body["seed"],
        json!(7),
        "with the group's deployment params"
    );

    let response = gateway
        .post(
            "/v1/chat/completions",
            &hello("secret-alias"),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200, "a hidden alias still serves");

    let models: Value = gateway
        .get("/v1/models", Some(MASTER_KEY))
        .await
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = models["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"gpt-4"), "{ids:?}");
    assert!(!ids.contains(&"secret-alias"), "hidden: {ids:?}");
}

#[tokio::test]
async fn a_keys_wildcard_admits_the_models_it_names_and_no_others() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(&config(&upstream.api_base), &[]).await;
    let key = gateway
        .admin_post("/key/generate", &json!({"models": ["tun*"]}))
        .await;
    let key = key["key"].as_str().expect("a key").to_owned();
    let response = gateway
        .post("/v1/chat/completions", &hello("tuned"), Some(&key))
        .await;
    assert_eq!(response.status(), 200, "`tun*` admits `tuned`");
    let response = gateway
        .post("/v1/chat/completions", &hello("plain"), Some(&key))
        .await;
    let (status, _, body) = error_of(response).await;
    assert_eq!(status, 403, "{body}");
    let response = gateway
        .post("/v1/chat/completions", &hello("gpt-4"), Some(&key))
        .await;
    assert_eq!(
        response.status(),
        200,
        "an alias of an allowed group is allowed"
    );
    let response = gateway
        .post("/v1/chat/completions", &hello("secret-alias"), Some(&key))
        .await;
    let (status, _, _) = error_of(response).await;
    assert_eq!(status, 403, "an alias of a refused group is refused");
}
