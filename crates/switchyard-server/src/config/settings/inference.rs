//! The provider of a `model` written without a `provider/` prefix, inferred as LiteLLM's
//! `get_llm_provider` does (<https://docs.litellm.ai/docs/providers>: "model name without a
//! prefix"): the provider its price list names for the model (`litellm_provider` in
//! `model_prices_and_context_window.json`, the embedded catalog here), else the shape of the
//! name (`claude-*` Anthropic, `gemini-*` Gemini, Bedrock's `vendor.model` ids, with or without
//! a cross-region inference profile's `us.`/`eu.`/`apac.`/`global.`), else OpenAI.

use switchyard_layers::cost::PriceCatalog;

/// The Bedrock model vendors whose ids read `vendor.model` (`anthropic.claude-3-5-sonnet-...`,
/// `amazon.nova-pro-v1:0`, `meta.llama3-1-70b-instruct-v1:0`).
const BEDROCK_VENDORS: &[&str] = &[
    "ai21",
    "amazon",
    "anthropic",
    "cohere",
    "deepseek",
    "meta",
    "mistral",
    "openai",
    "qwen",
    "stability",
    "twelvelabs",
    "writer",
];

/// The prefixes of Bedrock's cross-region inference profile ids.
const BEDROCK_PROFILE_REGIONS: &[&str] = &["us", "eu", "apac", "global", "us-gov", "jp", "au"];

/// The family of an unprefixed `model`, among `supported` (the prefixes this gateway takes).
pub(super) fn infer_family(model: &str, supported: &dyn Fn(&str) -> bool) -> &'static str {
    if let Some(family) = PriceCatalog::embedded()
        .get(model)
        .and_then(|entry| catalog_family(&entry.provider))
        .filter(|family| supported(family))
    {
        return family;
    }
    if model.starts_with("claude-") {
        "anthropic"
    } else if model.starts_with("gemini-") {
        "gemini"
    } else if is_bedrock_id(model) {
        "bedrock"
    } else {
        "openai"
    }
}

/// Our family of one of LiteLLM's `litellm_provider` names. Google's unprefixed Gemini names
/// are listed under Vertex AI; here they go to the Gemini API, as the issue asks.
fn catalog_family(provider: &str) -> Option<&'static str> {
    Some(match provider {
        "openai" => "openai",
        "text-completion-openai" => "text-completion-openai",
        "anthropic" => "anthropic",
        "cohere" | "cohere_chat" => "cohere",
        "bedrock" | "bedrock_converse" => "bedrock",
        "gemini" | "vertex_ai-language-models" => "gemini",
        "together_ai" => "together_ai",
        "deepseek" => "deepseek",
        "mistral" => "mistral",
        "groq" => "groq",
        _ => return None,
    })
}

/// `vendor.model` or `region.vendor.model`, the vendor one of Bedrock's.
fn is_bedrock_id(model: &str) -> bool {
    let mut parts = model.splitn(3, '.');
    let (Some(first), Some(second)) = (parts.next(), parts.next()) else {
        return false;
    };
    BEDROCK_VENDORS.contains(&first)
        || (BEDROCK_PROFILE_REGIONS.contains(&first)
            && BEDROCK_VENDORS.contains(&second)
            && parts.next().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(model: &str) -> &'static str {
        infer_family(model, &|_| true)
    }

    // LiteLLM's own test: `get_llm_provider(model="anthropic.claude-v2:1")` is `bedrock`
    // (litellm/tests/test_get_llm_provider.py).
    #[test]
    fn names_are_inferred_as_litellm_does() {
        for (model, expected) in [
            ("gpt-4o-mini", "openai"),
            ("gpt-3.5-turbo-instruct", "text-completion-openai"),
            ("claude-3-5-sonnet-20241022", "anthropic"),
            ("claude-some-future-model", "anthropic"),
            ("gemini-2.5-flash", "gemini"),
            ("gemini-some-future-model", "gemini"),
            ("anthropic.claude-v2:1", "bedrock"),
            ("anthropic.claude-3-5-sonnet-20240620-v1:0", "bedrock"),
            ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "bedrock"),
            ("amazon.nova-pro-v1:0", "bedrock"),
            ("meta.llama3-1-70b-instruct-v1:0", "bedrock"),
            ("eu.meta.llama3-2-3b-instruct-v1:0", "bedrock"),
            ("deepseek-chat", "deepseek"),
            ("my-finetune", "openai"),
            ("llama3.1", "openai"),
            ("us.something", "openai"),
        ] {
            assert_eq!(family(model), expected, "{model}");
        }
    }

    #[test]
    fn a_family_the_gateway_does_not_take_falls_back_to_the_name_rules() {
        assert_eq!(
            infer_family("deepseek-chat", &|family| family != "deepseek"),
            "openai"
        );
    }
}
