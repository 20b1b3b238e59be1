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
      organization: org-e2e
      extra_headers: {{x-team: blue}}
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
    let received = upstream.received();
    let headers = &received.last().expect("a call").headers;
    assert_eq!(headers["openai-organization"], "org-e2e");
    assert_eq!(headers["x-team"], "blue");
}

#[tokio::test]
async fn a_deployment_with_a_mock_response_never_calls_its_provider() {
    let upstream = FakeUpstream::start().await;
    let config = config(&upstream.api_base).replace(
        "      model: openai/plain-model\n",
        "      model: openai/plain-model\n      mock_response: canned answer\n",
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    let response = gateway
        .post("/v1/chat/completions", &hello("plain"), Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        json!("canned answer")
    );
    assert!(
        upstream.received().is_empty(),
        "the provider was never called"
    );
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

/// LiteLLM's wildcard routing (docs: wildcard_routing, proxy/configs "default models").
fn wildcard_config(api_base: &str) -> String {
    format!(
        "model_list:
  - model_name: \"openai/*\"
    litellm_params:
      model: \"openai/*\"
      api_base: {api_base}
  - model_name: \"fixed-*\"
    litellm_params:
      model: openai/one-model
      api_base: {api_base}
  - model_name: \"*\"
    litellm_params:
      model: \"*\"
litellm_settings:
  cache: true
general_settings:
  master_key: {MASTER_KEY}
"
    )
}

#[tokio::test]
async fn wildcard_groups_pass_the_requested_model_through() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(&wildcard_config(&upstream.api_base), &[]).await;
    for (asked, sent) in [
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("openai/o3", "o3"),
        ("fixed-anything", "one-model"),
    ] {
        let response = gateway
            .post("/v1/chat/completions", &hello(asked), Some(MASTER_KEY))
            .await;
        assert_eq!(response.status(), 200, "{asked}");
        let received = upstream.received();
        assert_eq!(
            received.last().expect("a call").body["model"],
            json!(sent),
            "{asked}"
        );
    }
    // The cache keeps two models apart even though one group serves both.
    let before = upstream.received().len();
    for asked in ["openai/model-a", "openai/model-b"] {
        let response = gateway
            .post("/v1/chat/completions", &hello(asked), Some(MASTER_KEY))
            .await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(
        upstream.received().len(),
        before + 2,
        "no answer of one model served the other"
    );

    let response = gateway
        .post(
            "/v1/chat/completions",
            &hello("anthropic/claude-x"),
            Some(MASTER_KEY),
        )
        .await;
    let (status, _, body) = error_of(response).await;
    assert_eq!(status, 404, "no wildcard group matches: {body}");
}

#[tokio::test]
async fn a_star_deployment_serves_bare_names_by_their_catalog_provider() {
    let upstream = FakeUpstream::start().await;
    let config = wildcard_config(&upstream.api_base).replace(
        "  - model_name: \"openai/*\"\n    litellm_params:\n      model: \"openai/*\"\n",
        "  - model_name: \"unused-openai\"\n    litellm_params:\n      model: openai/unused\n",
    );
    let gateway = Gateway::spawn(
        &config,
        &[
            ("OPENAI_API_KEY", "sk-upstream"),
            ("OPENAI_API_BASE", &upstream.api_base),
        ],
    )
    .await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &hello("gpt-4o-mini"),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let received = upstream.received();
    let call = received.last().expect("a call");
    assert_eq!(call.body["model"], json!("gpt-4o-mini"));
    assert_eq!(call.authorization.as_deref(), Some("Bearer sk-upstream"));
}

#[tokio::test]
async fn a_budgeted_key_on_a_wildcard_is_charged_at_the_catalog_price() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(&wildcard_config(&upstream.api_base), &[]).await;
    let key = gateway
        .admin_post("/key/generate", &json!({"max_budget": 10.0}))
        .await;
    let key = key["key"].as_str().expect("a key").to_owned();
    let response = gateway
        .post(
            "/v1/chat/completions",
            &hello("openai/gpt-4o-mini"),
            Some(&key),
        )
        .await;
    assert_eq!(
        response.status(),
        200,
        "a catalog model is priced, so a budget may use it"
    );
    let cost = switchyard_e2e::cost_of(&response);
    // The fake upstream reports 10 prompt and 5 completion tokens; gpt-4o-mini's list price.
    let expected = 10.0 * 0.15e-6 + 5.0 * 0.6e-6;
    assert!(
        (cost - expected).abs() < 1e-12,
        "cost {cost}, expected {expected}"
    );

    let response = gateway
        .post(
            "/v1/chat/completions",
            &hello("openai/not-in-any-catalog"),
            Some(&key),
        )
        .await;
    let (status, _, body) = error_of(response).await;
    assert_eq!(
        status, 400,
        "an unpriced model is refused to a budget: {body}"
    );
}

/// LiteLLM's tag routing (docs: proxy/tag_routing).
#[tokio::test]
async fn tags_choose_among_a_groups_deployments() {
    let upstream = FakeUpstream::start().await;
    let api_base = &upstream.api_base;
    let config = format!(
        "model_list:
  - model_name: gpt-4
    litellm_params: {{model: openai/free-model, api_base: {api_base}, tags: [free]}}
  - model_name: gpt-4
    litellm_params: {{model: openai/paid-model, api_base: {api_base}, tags: [paid]}}
  - model_name: gpt-4
    litellm_params: {{model: openai/default-model, api_base: {api_base}, tags: [default]}}
router_settings:
  enable_tag_filtering: true
general_settings:
  master_key: {MASTER_KEY}
"
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    let last_model = || {
        upstream.received().last().expect("a call").body["model"]
            .as_str()
            .expect("model")
            .to_owned()
    };
    for _ in 0..4 {
        let mut body = hello("gpt-4");
        body["tags"] = json!(["free"]);
        let response = gateway
            .post("/v1/chat/completions", &body, Some(MASTER_KEY))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(last_model(), "free-model");

        let mut body = hello("gpt-4");
        body["metadata"] = json!({"tags": ["paid"]});
        let response = gateway
            .post("/v1/chat/completions", &body, Some(MASTER_KEY))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(last_model(), "paid-model");

        let response = reqwest::Client::new()
            .post(format!("http://{}/v1/chat/completions", gateway.addr()))
            .bearer_auth(MASTER_KEY)
            .header("x-litellm-tags", "paid")
            .json(&hello("gpt-4"))
            .send()
            .await
            .expect("gateway answers");
        assert_eq!(response.status(), 200);
        assert_eq!(last_model(), "paid-model");

        let response = gateway
            .post("/v1/chat/completions", &hello("gpt-4"), Some(MASTER_KEY))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            last_model(),
            "default-model",
            "untagged requests go to `default`"
        );
    }
    assert!(
        upstream
            .received()
            .iter()
            .all(|r| r.body.get("tags").is_none()),
        "tags stay at the gateway"
    );
}

/// Model access groups (docs: proxy/model_access "access groups").
#[tokio::test]
async fn a_key_naming_an_access_group_may_call_its_models_only() {
    let upstream = FakeUpstream::start().await;
    let api_base = &upstream.api_base;
    let config = format!(
        "model_list:
  - model_name: beta-a
    litellm_params: {{model: openai/a, api_base: {api_base}}}
    model_info: {{access_groups: [beta-models]}}
  - model_name: beta-b
    litellm_params: {{model: openai/b, api_base: {api_base}}}
    model_info: {{access_groups: [beta-models, other]}}
  - model_name: stable
    litellm_params: {{model: openai/c, api_base: {api_base}}}
general_settings:
  master_key: {MASTER_KEY}
"
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    let key = gateway
        .admin_post("/key/generate", &json!({"models": ["beta-models"]}))
        .await;
    let key = key["key"].as_str().expect("a key").to_owned();
    for model in ["beta-a", "beta-b"] {
        let response = gateway
            .post("/v1/chat/completions", &hello(model), Some(&key))
            .await;
        assert_eq!(response.status(), 200, "{model}");
    }
    let response = gateway
        .post("/v1/chat/completions", &hello("stable"), Some(&key))
        .await;
    let (status, _, _) = error_of(response).await;
    assert_eq!(status, 403);
    let models: Value = gateway
        .get("/v1/models", Some(&key))
        .await
        .json()
        .await
        .expect("json");
    let mut ids: Vec<&str> = models["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["beta-a", "beta-b"]);
}

/// `cache_params.mode: default_off` (docs: proxy/caching "Turn on / off caching per request"):
/// only calls that ask for the cache use it.
#[tokio::test]
async fn an_opt_in_cache_answers_only_calls_that_ask_for_it() {
    let upstream = FakeUpstream::start().await;
    let config = format!(
        "{}litellm_settings:\n  cache: true\n  cache_params:\n    mode: default_off\n",
        config(&upstream.api_base)
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    for _ in 0..2 {
        let response = gateway
            .post("/v1/chat/completions", &hello("plain"), Some(MASTER_KEY))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-switchyard-cache"], "BYPASS");
    }
    assert_eq!(
        upstream.received().len(),
        2,
        "not asked for: never answered from the cache"
    );
    let mut asking = hello("plain");
    asking["cache"] = json!({"use-cache": true});
    let first = gateway
        .post("/v1/chat/completions", &asking, Some(MASTER_KEY))
        .await;
    assert_eq!(first.headers()["x-switchyard-cache"], "MISS");
    let mut asking = hello("plain");
    asking["caching"] = json!(true);
    let second = gateway
        .post("/v1/chat/completions", &asking, Some(MASTER_KEY))
        .await;
    assert_eq!(second.headers()["x-switchyard-cache"], "HIT");
    assert_eq!(upstream.received().len(), 3);
}

/// `enable_pre_call_checks` (docs: proxy/reliability "pre-call checks"): a prompt too long for
/// a deployment's `max_input_tokens` goes to one whose model takes it.
#[tokio::test]
async fn pre_call_checks_send_long_prompts_to_deployments_that_take_them() {
    let upstream = FakeUpstream::start().await;
    let api_base = &upstream.api_base;
    let config = format!(
        "model_list:
  - model_name: m
    litellm_params: {{model: openai/small-model, api_base: {api_base}}}
    model_info: {{max_input_tokens: 50}}
  - model_name: m
    litellm_params: {{model: openai/big-model, api_base: {api_base}}}
    model_info: {{max_input_tokens: 100000}}
router_settings:
  enable_pre_call_checks: true
general_settings:
  master_key: {MASTER_KEY}
"
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    let long =
        json!({"model": "m", "messages": [{"role": "user", "content": "word ".repeat(400)}]});
    for _ in 0..6 {
        let response = gateway
            .post("/v1/chat/completions", &long, Some(MASTER_KEY))
            .await;
        assert_eq!(response.status(), 200);
    }
    let models: Vec<String> = upstream
        .received()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(models.iter().all(|m| m == "big-model"), "{models:?}");
    let mut small_seen = false;
    for _ in 0..20 {
        let response = gateway
            .post("/v1/chat/completions", &hello("m"), Some(MASTER_KEY))
            .await;
        assert_eq!(response.status(), 200);
        small_seen |= upstream.received().last().expect("a call").body["model"] == "small-model";
    }
    assert!(small_seen, "a short prompt may go to either deployment");
}
