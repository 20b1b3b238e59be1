//! Tests of settings validation: providers, limits, secrets and key paths.

use switchyard_providers::anthropic::ANTHROPIC_API_BASE;
use switchyard_providers::gemini::GEMINI_API_BASE;
use switchyard_providers::openai::{Dialect, OPENAI_API_BASE};

use super::super::parse_with_env;
use super::*;

fn env(name: &str) -> Option<String> {
    (name == "UPSTREAM_KEY").then(|| "sk-from-env".to_owned())
}

/// The OpenAI-compatible settings of a config's one deployment, `litellm_params: {params}`,
/// read with `vars` as the environment.
pub(super) fn openai_deployment(
    params: &str,
    vars: &[(&str, &str)],
) -> Result<switchyard_providers::openai::OpenAiSettings, ConfigError> {
    let text = format!("model_list:\n  - model_name: m\n    litellm_params: {params}\n");
    let lookup = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    match parse_with_env(&text, &lookup)?
        .settings
        .deployments
        .remove(0)
        .provider
    {
        ProviderSettings::OpenAi(settings) => Ok(settings),
        other => panic!("an OpenAI-compatible deployment expected, got {other:?}"),
    }
}

fn one(params: &str) -> Result<DeploymentSettings, ConfigError> {
    let text = format!("model_list:\n  - model_name: m\n    litellm_params: {params}\n");
    let mut loaded = parse_with_env(&text, &env)?;
    Ok(loaded.settings.deployments.remove(0))
}

#[test]
fn openai_deployment_resolves_its_key_from_the_environment() {
    let d = one("{model: openai/gpt-4o-mini, api_base: 'http://127.0.0.1:9/v1', api_key: os.environ/UPSTREAM_KEY, timeout: 2.5}")
        .expect("valid");
    let ProviderSettings::OpenAi(openai) = &d.provider else {
        panic!("openai expected")
    };
    assert_eq!(openai.model, "gpt-4o-mini");
    assert_eq!(openai.api_key.as_deref(), Some("sk-from-env"));
    assert_eq!(d.timeout, Duration::from_millis(2500));
    assert_eq!(d.stream_timeout, d.timeout);
    assert_eq!(d.id, "m-0");
}

// https://docs.litellm.ai/docs/providers/text_completion_openai: the `text-completion-openai/`
// prefix calls OpenAI's completions API with OpenAI's key; LiteLLM's `get_llm_provider` files
// `gpt-3.5-turbo-instruct` under it.
#[test]
fn text_completion_openai_deployments_take_openai_s_settings_and_are_priced() {
    let d = one(
        "{model: text-completion-openai/gpt-3.5-turbo-instruct, api_key: os.environ/UPSTREAM_KEY}",
    )
    .expect("valid");
    let ProviderSettings::TextCompletion(settings) = &d.provider else {
        panic!(
            "a text completion deployment expected, got {:?}",
            d.provider
        )
    };
    assert_eq!(settings.model, "gpt-3.5-turbo-instruct");
    assert_eq!(settings.api_base, OPENAI_API_BASE);
    assert_eq!(settings.api_key.as_deref(), Some("sk-from-env"));
    let price = d.price.expect("priced by the catalog");
    assert!(price.input_per_token > 0.0, "{price:?}");
    let text =
        "model_list:\n  - model_name: m\n    litellm_params: {model: gpt-3.5-turbo-instruct}\n";
    let loaded = parse_with_env(text, &env).expect("valid");
    assert!(matches!(
        loaded.settings.deployments[0].provider,
        ProviderSettings::TextCompletion(_)
    ));
    assert!(
        loaded.warnings[0]
            .message
            .contains("text-completion-openai"),
        "{:?}",
        loaded.warnings
    );
}

// https://docs.litellm.ai/docs/providers/cohere: `cohere/<model>` with `COHERE_API_KEY`.
#[test]
fn cohere_deployments_need_a_key_for_cohere_s_own_api() {
    let text =
        "model_list:\n  - model_name: m\n    litellm_params: {model: cohere/command-a-03-2025}\n";
    let with_key = |name: &str| (name == "COHERE_API_KEY").then(|| "co-key".to_owned());
    let loaded = parse_with_env(text, &with_key).expect("valid");
    let ProviderSettings::Cohere(settings) = &loaded.settings.deployments[0].provider else {
        panic!("a Cohere deployment expected")
    };
    assert_eq!(settings.model, "command-a-03-2025");
    assert_eq!(settings.api_base, "https://api.cohere.com");
    assert_eq!(settings.api_key.as_deref(), Some("co-key"));
    assert!(
        loaded.settings.deployments[0].price.is_some(),
        "priced by the catalog"
    );
    let err = one("{model: cohere/command-a-03-2025}").expect_err("no key");
    assert!(err.to_string().contains("api_key"), "{err}");
    one("{model: cohere/command-r, api_base: 'http://127.0.0.1:9'}")
        .expect("a proxy may need no key");
    let err = one("{model: cohere/command-r, api_key: k, extra_headers: {x-a: b}}")
        .expect_err("no extra headers");
    assert!(err.to_string().contains("extra_headers"), "{err}");
}

#[test]
fn streams_run_for_half_an_hour_unless_the_deployment_or_router_says_otherwise() {
    let d = one("{model: mock/a}").expect("valid");
    assert_eq!(d.max_stream_duration, Duration::from_secs(1800));
    let d = one("{model: mock/a, max_stream_duration: 90}").expect("valid");
    assert_eq!(d.max_stream_duration, Duration::from_secs(90));
    let text = "model_list:\n  - {model_name: m, litellm_params: {model: mock/a}}\n  - {model_name: m, litellm_params: {model: mock/b, max_stream_duration: 5}}\nrouter_settings: {max_stream_duration: 120}\n";
    let loaded = parse_with_env(text, &env).expect("valid");
    let limits: Vec<Duration> = loaded
        .settings
        .deployments
        .iter()
        .map(|d| d.max_stream_duration)
        .collect();
    assert_eq!(limits, [Duration::from_secs(120), Duration::from_secs(5)]);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    for (text, path) in [
        (
            "{model: mock/a, max_stream_duration: 0}",
            "model_list[0].litellm_params.max_stream_duration",
        ),
        (
            "{model: mock/a, max_stream_duration: -1}",
            "model_list[0].litellm_params.max_stream_duration",
        ),
        (
            "{model: mock/a, max_stream_duration: 1e300}",
            "model_list[0].litellm_params.max_stream_duration",
        ),
    ] {
        let err = one(text).expect_err(text);
        assert!(
            matches!(&err, ConfigError::Invalid { path: p, .. } if p == path),
            "{text}: {err}"
        );
    }
}

#[test]
fn a_missing_environment_variable_names_the_key_and_variable() {
    let err = one("{model: openai/x, api_key: os.environ/NOT_SET_ANYWHERE}").expect_err("invalid");
    let message = err.to_string();
    assert!(
        message.contains("model_list[0].litellm_params.api_key"),
        "{message}"
    );
    assert!(message.contains("NOT_SET_ANYWHERE"), "{message}");
}

#[test]
fn catalog_prices_reach_the_router_for_cost_based_routing() {
    let d = one("{model: openai/gpt-4o-mini}").expect("valid");
    let expected = 0.15e-6 + 0.6e-6;
    let got = d
        .limits
        .cost_per_token
        .expect("gpt-4o-mini is in the catalog");
    assert!((got - expected).abs() < 1e-12, "{got}");
    let d = one("{model: mock/anything}").expect("valid");
    assert_eq!(d.limits.cost_per_token, None);
}

#[test]
fn bad_values_are_refused_with_their_path() {
    let cases = [
        ("{model: openai/x, api_base: 'ftp://host'}", "api_base"),
        ("{model: openai/x, timeout: -1}", "timeout"),
        ("{model: mock/x, mock_failure_rate: 2}", "mock_failure_rate"),
        ("{model: frobnicator/x}", "model"),
        ("{model: 'openai/'}", "model"),
    ];
    for (params, key) in cases {
        let err = one(params).expect_err(params);
        let ConfigError::Invalid { path, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(
            path,
            &format!("model_list[0].litellm_params.{key}"),
            "{params}"
        );
    }
}

#[test]
fn a_bare_model_name_goes_to_an_openai_compatible_upstream() {
    let d = one("{model: gpt-4o}").expect("valid");
    assert!(
        matches!(d.provider, ProviderSettings::OpenAi(ref s) if s.model == "gpt-4o" && s.api_base == OPENAI_API_BASE)
    );
}

#[test]
fn presets_resolve_their_default_base_and_key_variable() {
    let groq = |name: &str| (name == "GROQ_API_KEY").then(|| "gsk-1".to_owned());
    let text =
        "model_list:\n  - model_name: m\n    litellm_params: {model: groq/llama-3.1-8b-instant}\n";
    let loaded = parse_with_env(text, &groq).expect("valid");
    let ProviderSettings::OpenAi(s) = &loaded.settings.deployments[0].provider else {
        panic!("openai-compatible expected")
    };
    assert_eq!(
        (s.family, s.api_base.as_str()),
        ("groq", "https://api.groq.com/openai/v1")
    );
    assert_eq!(s.api_key.as_deref(), Some("gsk-1"));
    assert_eq!(s.model, "llama-3.1-8b-instant");
}

#[test]
fn ollama_gets_its_v1_path_and_vllm_needs_a_base() {
    let d = one("{model: ollama/llama3, api_base: 'http://10.0.0.5:11434'}").expect("valid");
    let ProviderSettings::OpenAi(s) = &d.provider else {
        panic!("openai-compatible")
    };
    assert_eq!(s.api_base, "http://10.0.0.5:11434/v1");
    let err = one("{model: hosted_vllm/qwen}").expect_err("needs api_base");
    assert!(err.to_string().contains("litellm_params.api_base"), "{err}");
}

#[test]
fn azure_deployments_carry_their_api_version() {
    let d = one("{model: azure/my-gpt4o, api_base: 'https://res.openai.azure.com', api_key: k, api_version: '2025-01-01-preview'}")
        .expect("valid");
    let ProviderSettings::OpenAi(s) = &d.provider else {
        panic!("openai-compatible")
    };
    assert_eq!(s.model, "my-gpt4o");
    assert_eq!(
        s.dialect,
        Dialect::Azure {
            api_version: "2025-01-01-preview".to_owned()
        }
    );
    let err = one("{model: azure/x}").expect_err("needs a base");
    assert!(err.to_string().contains("api_base"), "{err}");
}

#[test]
fn anthropic_deployments_read_their_key_and_base_from_config_or_environment() {
    let vars = |name: &str| match name {
        "ANTHROPIC_API_KEY" => Some("sk-ant-env".to_owned()),
        "ANTHROPIC_API_BASE" => Some("http://127.0.0.1:9".to_owned()),
        _ => None,
    };
    let text = "model_list:\n  - model_name: m\n    litellm_params: {model: anthropic/claude-sonnet-4-5}\n";
    let loaded = parse_with_env(text, &vars).expect("valid");
    let ProviderSettings::Anthropic(s) = &loaded.settings.deployments[0].provider else {
        panic!("anthropic expected")
    };
    assert_eq!(s.model, "claude-sonnet-4-5");
    assert_eq!(s.api_base, "http://127.0.0.1:9");
    assert_eq!(s.api_key.as_deref(), Some("sk-ant-env"));
    let d = one("{model: anthropic/claude-haiku-4-5, api_key: os.environ/UPSTREAM_KEY}")
        .expect("valid");
    let ProviderSettings::Anthropic(s) = &d.provider else {
        panic!("anthropic expected")
    };
    assert_eq!(s.api_base, ANTHROPIC_API_BASE);
    assert_eq!(s.api_key.as_deref(), Some("sk-from-env"));
    let err = one("{model: anthropic/c, api_base: 'ftp://x'}").expect_err("bad base");
    assert!(err.to_string().contains("litellm_params.api_base"), "{err}");
    let err = one("{model: nope/c}").expect_err("unknown provider");
    assert!(err.to_string().contains("anthropic"), "{err}");
}

#[test]
fn gemini_deployments_read_their_key_and_base_from_config_or_environment() {
    let vars = |name: &str| match name {
        "GOOGLE_API_KEY" => Some("AIza-google".to_owned()),
        "GEMINI_API_BASE" => Some("http://127.0.0.1:9".to_owned()),
        _ => None,
    };
    let text =
        "model_list:\n  - model_name: m\n    litellm_params: {model: gemini/gemini-2.5-flash}\n";
    let loaded = parse_with_env(text, &vars).expect("valid");
    let ProviderSettings::Gemini(s) = &loaded.settings.deployments[0].provider else {
        panic!("gemini expected")
    };
    assert_eq!(s.model, "gemini-2.5-flash");
    assert_eq!(s.api_base, "http://127.0.0.1:9");
    assert_eq!(s.api_key.as_deref(), Some("AIza-google"));
    let both = |name: &str| match name {
        "GEMINI_API_KEY" => Some("AIza-gemini".to_owned()),
        "GOOGLE_API_KEY" => Some("AIza-google".to_owned()),
        _ => None,
    };
    let loaded = parse_with_env(text, &both).expect("valid");
    let ProviderSettings::Gemini(s) = &loaded.settings.deployments[0].provider else {
        panic!("gemini expected")
    };
    assert_eq!(
        s.api_key.as_deref(),
        Some("AIza-gemini"),
        "GEMINI_API_KEY comes first"
    );
    assert_eq!(s.api_base, GEMINI_API_BASE);
    let d = one("{model: gemini/gemini-2.5-pro, api_key: os.environ/UPSTREAM_KEY}").expect("valid");
    let ProviderSettings::Gemini(s) = &d.provider else {
        panic!("gemini expected")
    };
    assert_eq!(s.api_key.as_deref(), Some("sk-from-env"));
    assert!(
        !format!("{d:?}").contains("sk-from-env"),
        "keys stay out of Debug output"
    );
}

#[test]
fn gemini_on_google_s_api_needs_a_key() {
    let err = one("{model: gemini/gemini-2.5-flash}").expect_err("no key");
    assert!(err.to_string().contains("litellm_params.api_key"), "{err}");
    assert!(err.to_string().contains("GEMINI_API_KEY"), "{err}");
    let err = one(
        "{model: gemini/gemini-2.5-flash, api_base: 'https://generativelanguage.googleapis.com/v1beta/'}",
    )
    .expect_err("no key for Google's API, however its URL is written");
    assert!(err.to_string().contains("api_key"), "{err}");
    let d = one("{model: gemini/gemini-2.5-flash, api_base: 'http://127.0.0.1:9'}")
        .expect("a proxy may add the key itself");
    assert!(matches!(d.provider, ProviderSettings::Gemini(ref s) if s.api_key.is_none()));
    let err = one("{model: nope/c}").expect_err("unknown provider");
    assert!(err.to_string().contains("gemini"), "{err}");
}

#[test]
fn mock_keys_on_other_providers_are_warned_about() {
    let text = "model_list:\n  - model_name: m\n    litellm_params: {model: openai/x, mock_response: hi}\n";
    let loaded = parse_with_env(text, &env).expect("valid");
    let paths: Vec<&str> = loaded.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "model_list[0].litellm_params.model",
            "model_list[0].litellm_params.mock_response"
        ],
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn a_deployment_without_a_price_is_warned_about_and_base_model_prices_it() {
    let text = "model_list:\n  - model_name: m\n    litellm_params: {model: hosted_vllm/my-llama, api_base: 'http://127.0.0.1:9'}\n";
    let loaded = parse_with_env(text, &env).expect("valid");
    let warning = loaded
        .warnings
        .iter()
        .find(|w| w.path == "model_list[0].litellm_params.model")
        .expect("an unpriced deployment is warned about");
    assert!(warning.message.contains("no price"), "{warning}");
    assert_eq!(loaded.settings.deployments[0].price, None);

    let text = "model_list:\n  - model_name: m\n    litellm_params: {model: azure/my-deployment, api_base: 'https://x.openai.azure.com', api_key: k, api_version: '2024-10-21'}\n    model_info: {base_model: azure/gpt-4o}\n";
    let loaded = parse_with_env(text, &env).expect("valid");
    assert!(
        loaded
            .warnings
            .iter()
            .all(|w| !w.message.contains("no price")),
        "{:?}",
        loaded.warnings
    );
    let d = &loaded.settings.deployments[0];
    let price = d.price.expect("priced as its base model");
    assert!(
        price.input_per_token > 0.0 && price.output_per_token > 0.0,
        "{price:?}"
    );
    assert!(
        d.max_output_tokens.is_some_and(|n| n > 0),
        "limits of the base model too"
    );

    // The mock provider is free, and known to be.
    let d = one("{model: mock/anything}").expect("valid");
    assert_eq!(d.price.map(|p| p.input_per_token), Some(0.0));
}

#[test]
fn master_key_and_body_limit_are_read() {
    let text =
        "general_settings:\n  master_key: os.environ/UPSTREAM_KEY\n  max_request_size_mb: 0.5\n";
    let loaded = parse_with_env(text, &env).expect("valid");
    assert_eq!(loaded.settings.master_key.as_deref(), Some("sk-from-env"));
    assert_eq!(loaded.settings.max_request_bytes, 512 * 1024);
    assert!(!format!("{:?}", loaded.settings).contains("sk-from-env"));
}

#[test]
fn connection_timeouts_are_read_with_their_defaults() {
    let server = parse_with_env("", &env).expect("valid").settings.server;
    assert_eq!(server, ServerSettings::default());
    assert_eq!(server.body_timeout, Duration::from_secs(30));
    assert_eq!(server.idle_timeout, Duration::from_secs(120));
    let text = "general_settings:\n  header_timeout_seconds: 2\n  body_timeout_seconds: 1.5\n  idle_timeout_seconds: 90\n";
    let server = parse_with_env(text, &env).expect("valid").settings.server;
    assert_eq!(server.header_timeout, Duration::from_secs(2));
    assert_eq!(server.body_timeout, Duration::from_millis(1500));
    assert_eq!(server.idle_timeout, Duration::from_secs(90));
    for key in ["body_timeout_seconds", "idle_timeout_seconds"] {
        for value in ["0", "-1", ".nan"] {
            let text = format!("general_settings:\n  {key}: {value}\n");
            let err = parse_with_env(&text, &env).expect_err(&text);
            let ConfigError::Invalid { path, .. } = &err else {
                panic!("{err}")
            };
            assert_eq!(path, &format!("general_settings.{key}"), "{text}");
        }
    }
}

#[test]
fn duplicate_ids_are_refused() {
    let text = "model_list:\n  - {model_name: a, litellm_params: {model: mock/a}, model_info: {id: x}}\n  - {model_name: b, litellm_params: {model: mock/b}, model_info: {id: x}}\n";
    let err = parse_with_env(text, &env).expect_err("duplicate");
    assert!(
        err.to_string().contains("model_list[1].model_info.id"),
        "{err}"
    );
}

#[test]
fn deployments_state_their_own_prices_over_the_catalog() {
    let listed = one("{model: openai/gpt-4o-mini}")
        .expect("valid")
        .price
        .expect("in the catalog");
    assert_eq!(listed.input_per_token, 1.5e-7);

    // `model_info` prices a model the catalog does not know.
    let text = "model_list:\n  - model_name: m\n    litellm_params: {model: mock/echo}\n    \
                model_info: {input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}\n";
    let d = parse_with_env(text, &env)
        .expect("valid")
        .settings
        .deployments
        .remove(0);
    let price = d.price.expect("configured");
    assert_eq!(
        (price.input_per_token, price.output_per_token),
        (1e-6, 2e-6)
    );

    // `litellm_params` wins over `model_info`, key by key, and both over the catalog.
    let text = "model_list:\n  - model_name: m\n    litellm_params: {model: openai/gpt-4o-mini, \
                input_cost_per_token: 0.000003}\n    model_info: {input_cost_per_token: 0.000001, \
                output_cost_per_token: 0.000002}\n";
    let d = parse_with_env(text, &env)
        .expect("valid")
        .settings
        .deployments
        .remove(0);
    let price = d.price.expect("configured");
    assert_eq!(
        (price.input_per_token, price.output_per_token),
        (3e-6, 2e-6)
    );

    let err = one("{model: mock/echo, input_cost_per_token: -1}").expect_err("negative");
    assert!(err.to_string().contains("input_cost_per_token"), "{err}");
}

#[test]
fn the_telemetry_section_is_read_and_validated() {
    let text = "
telemetry:
  service_name: gw-test
  sample_ratio: 0.5
  record_content: true
  otlp: {endpoint: 'http://127.0.0.1:4318', protocol: http/protobuf}
  colour: blue
";
    let loaded = parse_with_env(text, &env).expect("valid");
    let telemetry = &loaded.settings.telemetry;
    assert_eq!(telemetry.service_name, "gw-test");
    assert_eq!(telemetry.sample_ratio, 0.5);
    assert!(telemetry.record_content);
    let otlp = telemetry.otlp.as_ref().expect("otlp");
    assert_eq!(otlp.traces_url(), "http://127.0.0.1:4318/v1/traces");
    let paths: Vec<_> = loaded.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, ["telemetry.colour"]);

    let err = parse_with_env("telemetry: {sample_ratio: 2}\n", &env).expect_err("invalid");
    let ConfigError::Invalid { path, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(path, "telemetry.sample_ratio");
}

#[test]
fn without_a_telemetry_section_nothing_is_exported() {
    let loaded = parse_with_env("model_list: []\n", &env).expect("valid");
    assert!(loaded.settings.telemetry.otlp.is_none());
    assert!(!loaded.settings.telemetry.record_content);
}

#[test]
fn wildcard_deployments_need_a_wildcard_name_and_a_per_call_provider() {
    let err =
        one("{model: 'openai/*', api_base: 'http://127.0.0.1:9/v1'}").expect_err("m is no pattern");
    assert!(err.to_string().contains("model_name"), "{err}");
    for (model, extra) in [
        ("gemini/*", "api_key: k"),
        (
            "azure/*",
            "api_base: 'https://x.openai.azure.com', api_key: k",
        ),
    ] {
        let text = format!(
            "model_list:\n  - model_name: 'p/*'\n    litellm_params: {{model: '{model}', {extra}}}\n"
        );
        let err = parse_with_env(&text, &env).expect_err(model);
        assert!(
            err.to_string().contains("wildcard deployments are served"),
            "{model}: {err}"
        );
    }
    let text = "model_list:\n  - model_name: 'openai/*'\n    litellm_params: {model: 'openai/*', api_base: 'http://127.0.0.1:9/v1'}\n";
    let loaded = parse_with_env(text, &env).expect("valid");
    assert_eq!(loaded.settings.deployments[0].model_name, "openai/*");
}

#[test]
fn a_star_deployment_becomes_one_per_provider_with_credentials() {
    let text = "model_list:\n  - model_name: '*'\n    litellm_params: {model: '*'}\n";
    let both =
        |name: &str| matches!(name, "OPENAI_API_KEY" | "ANTHROPIC_API_KEY").then(|| "k".to_owned());
    let loaded = parse_with_env(text, &both).expect("valid");
    let names: Vec<_> = loaded
        .settings
        .deployments
        .iter()
        .map(|d| d.model_name.as_str())
        .collect();
    assert_eq!(names, ["openai/*", "anthropic/*"]);
    assert!(loaded.settings.infer_wildcard_provider);
    let loaded = parse_with_env(text, &|_| None).expect("valid, serving nothing");
    assert!(loaded.settings.deployments.is_empty());
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.message.contains("serves nothing"))
    );
    let err = parse_with_env(
        "model_list:\n  - model_name: x\n    litellm_params: {model: '*'}\n",
        &both,
    )
    .expect_err("needs model_name *");
    assert!(err.to_string().contains("model_name"), "{err}");
}

#[test]
fn header_keys_go_only_to_providers_that_send_them() {
    let d = one("{model: openai/m, api_base: 'http://127.0.0.1:9/v1', organization: org-1, extra_headers: {X-Team: blue}}")
        .expect("valid");
    let ProviderSettings::OpenAi(openai) = &d.provider else {
        panic!("openai expected")
    };
    assert!(
        openai
            .extra_headers
            .contains(&("x-team".to_owned(), "blue".to_owned()))
    );
    assert!(
        openai
            .extra_headers
            .contains(&("openai-organization".to_owned(), "org-1".to_owned()))
    );
    let d = one("{model: azure/dep, api_base: 'https://x.openai.azure.com', azure_ad_token: os.environ/UPSTREAM_KEY}")
        .expect("valid");
    let ProviderSettings::OpenAi(azure) = &d.provider else {
        panic!("azure expected")
    };
    assert!(
        azure
            .extra_headers
            .contains(&("authorization".to_owned(), "Bearer sk-from-env".to_owned()))
    );
    for (params, key) in [
        (
            "{model: gemini/m, api_key: k, extra_headers: {a: b}}",
            "extra_headers",
        ),
        (
            "{model: anthropic/m, api_key: k, organization: o}",
            "organization",
        ),
        (
            "{model: openai/m, api_base: 'http://127.0.0.1:9/v1', azure_ad_token: t}",
            "azure_ad_token",
        ),
        (
            "{model: openai/m, api_base: 'http://127.0.0.1:9/v1', extra_headers: {'bad header': b}}",
            "extra_headers",
        ),
    ] {
        let err = one(params).expect_err(params);
        assert!(err.to_string().contains(key), "{params}: {err}");
    }
}

#[test]
fn disable_cooldowns_turns_cooldowns_off_from_either_section() {
    let models = "model_list:\n  - model_name: m\n    litellm_params: {model: mock/m}\n";
    let loaded = parse_with_env(models, &env).expect("valid");
    assert!(loaded.settings.routing.cooldowns);
    for section in ["router_settings", "litellm_settings"] {
        let text = format!("{models}{section}:\n  disable_cooldowns: true\n");
        let loaded = parse_with_env(&text, &env).expect("valid");
        assert!(!loaded.settings.routing.cooldowns, "{section}");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }
}

#[test]
fn router_defaults_apply_to_deployments_that_set_none() {
    let text = "
model_list:
  - model_name: a
    litellm_params: {model: mock/a}
  - model_name: b
    litellm_params: {model: mock/b, stream_timeout: 3, max_parallel_requests: 2, temperature: 0.9}
router_settings:
  timeout: 20
  stream_timeout: 7
  default_max_parallel_requests: 5
  default_litellm_params: {temperature: 0.1, seed: 4}
  redis_host: 127.0.0.1
  redis_db: 3
  enable_pre_call_check: true
general_settings:
  database_connection_pool_limit: 4
";
    let loaded = parse_with_env(text, &env).expect("valid");
    let s = &loaded.settings;
    let (a, b) = (&s.deployments[0], &s.deployments[1]);
    assert_eq!(a.stream_timeout, Duration::from_secs(7));
    assert_eq!(b.stream_timeout, Duration::from_secs(3));
    assert_eq!(a.limits.max_parallel_requests, Some(5));
    assert_eq!(b.limits.max_parallel_requests, Some(2));
    let sample = || -> switchyard_wire::ChatRequest {
        serde_json::from_value(
            serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
        )
        .expect("request")
    };
    let a_sent =
        serde_json::to_value(a.request_params.apply(sample()).expect("applies")).expect("json");
    let b_sent =
        serde_json::to_value(b.request_params.apply(sample()).expect("applies")).expect("json");
    assert_eq!(a_sent["temperature"], serde_json::json!(0.1));
    assert_eq!(
        b_sent["temperature"],
        serde_json::json!(0.9),
        "the deployment's own wins"
    );
    assert_eq!(b_sent["seed"], serde_json::json!(4));
    let redis = s.shared_usage.as_ref().expect("redis");
    assert_eq!(redis.redis.redis_settings().db(), 3);
    assert_eq!(s.database_pool_limit, Some(4));
    assert!(s.pre_call_checks);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}
