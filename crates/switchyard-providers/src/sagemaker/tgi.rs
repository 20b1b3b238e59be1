//! OpenAI chat requests as the Hugging Face TGI payload that LiteLLM's `sagemaker/` sends
//! (<https://docs.litellm.ai/docs/providers/aws_sagemaker>; TGI's `generate` API,
//! <https://huggingface.github.io/text-generation-inference/>): `{"inputs": prompt,
//! "parameters": {...}}`, answered `[{"generated_text": ...}]` (JumpStart's Llama containers:
//! `{"generation": ...}`), streamed as TGI's token events.
//!
//! The prompt is made as LiteLLM makes it when no template is registered: Llama 2's chat
//! template for an endpoint whose name holds `llama-2` and `chat`, else every message's text
//! joined by spaces (its `default_pt`). OpenAI's parameters map as LiteLLM maps them:
//! `max_tokens` to `max_new_tokens` (at least 1), `temperature` (0 raised to 0.01, which TGI
//! requires to be positive), `top_p`, `stop`; `top_k`, `repetition_penalty`, `do_sample` and
//! `seed` pass into `parameters` too.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_wire::{ChatMessage, ChatRequest, MessageContent, Role, Stop};

use crate::{ErrorClass, ProviderError};

fn bad_request(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::BadRequest, message)
}

/// Provider-specific parameters passed into `parameters` as they came.
const PASSED_PARAMETERS: &[&str] = &["top_k", "repetition_penalty", "do_sample", "seed"];

/// The TGI body for `request` to the endpoint `endpoint`, and its prompt.
pub(super) fn payload(
    request: &ChatRequest,
    endpoint: &str,
    stream: bool,
) -> Result<(Value, String), ProviderError> {
    if request.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(bad_request(
            "SageMaker endpoints take a text prompt (the TGI payload), which has no tools",
        ));
    }
    if request.response_format.is_some() {
        return Err(bad_request(
            "SageMaker endpoints take a text prompt (the TGI payload), which has no `response_format`",
        ));
    }
    if request.n.is_some_and(|n| n > 1) {
        return Err(bad_request(
            "a SageMaker endpoint answers one choice; `n` must be 1",
        ));
    }
    let prompt = prompt(&request.messages, endpoint)?;
    let mut parameters = Map::new();
    if let Some(max) = request.max_completion_tokens.or(request.max_tokens) {
        parameters.insert("max_new_tokens".to_owned(), json!(max.max(1)));
    }
    if let Some(temperature) = request.temperature {
        let temperature = if temperature == 0.0 {
            0.01
        } else {
            temperature
        };
        parameters.insert("temperature".to_owned(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        parameters.insert("top_p".to_owned(), json!(top_p));
    }
    if let Some(stop) = &request.stop {
        let stop = match stop {
            Stop::One(one) => vec![one.clone()],
            Stop::Many(many) => many.clone(),
        };
        parameters.insert("stop".to_owned(), json!(stop));
    }
    for name in PASSED_PARAMETERS {
        if let Some(value) = request.extra.value(name) {
            parameters.insert((*name).to_owned(), value);
        }
    }
    let mut body = json!({"inputs": prompt, "parameters": parameters});
    if stream {
        body["stream"] = json!(true);
    }
    Ok((body, prompt))
}

/// The prompt of a conversation, as LiteLLM's prompt factory makes it for `endpoint`.
fn prompt(messages: &[ChatMessage], endpoint: &str) -> Result<String, ProviderError> {
    let texts = messages
        .iter()
        .map(|m| {
            if m.role == Role::Tool || m.tool_calls.as_ref().is_some_and(|c| !c.is_empty()) {
                return Err(bad_request(
                    "SageMaker endpoints take a text prompt (the TGI payload), which has no tool calls",
                ));
            }
            Ok((m.role, m.content.as_ref().map(MessageContent::joined_text).unwrap_or_default()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let name = endpoint.to_ascii_lowercase();
    if name.contains("llama-2") && name.contains("chat") {
        Ok(llama_2_chat(&texts))
    } else {
        Ok(texts
            .iter()
            .map(|(_, text)| text.as_str())
            .collect::<Vec<_>>()
            .join(" "))
    }
}

/// Llama 2's chat template, as LiteLLM's `llama_2_chat_pt` writes it: `<s>`, a system message
/// as `[INST] <<SYS>>\n...\n<</SYS>>\n [/INST]\n`, a user message as `[INST] ... [/INST]\n`,
/// an assistant message as `...\n</s>`, a new `<s>` before the turn after an answer.
fn llama_2_chat(messages: &[(Role, String)]) -> String {
    let mut prompt = String::from("<s>");
    let mut open = true;
    for (role, text) in messages {
        match role {
            Role::System | Role::Developer => {
                if !open {
                    prompt.push_str("<s>");
                    open = true;
                }
                prompt.push_str(&format!("[INST] <<SYS>>\n{text}\n<</SYS>>\n [/INST]\n"));
            }
            Role::Assistant => {
                prompt.push_str(&format!("{text}\n</s>"));
                open = false;
            }
            _ => {
                if !open {
                    prompt.push_str("<s>");
                    open = true;
                }
                prompt.push_str(&format!("[INST] {text} [/INST]\n"));
            }
        }
    }
    prompt
}

/// One answer: TGI's `generated_text`, or JumpStart's `generation`.
#[derive(Debug, Deserialize)]
struct Generated {
    #[serde(default)]
    generated_text: Option<String>,
    #[serde(default)]
    generation: Option<String>,
}

/// The text of an answer (a list of generations, or one), without the prompt when the
/// endpoint answered it back with a Llama template's `<s>`, as LiteLLM strips it.
pub(super) fn answer_text(body: &[u8], prompt: &str) -> Result<String, ProviderError> {
    let invalid = |detail: String| {
        ProviderError::new(
            ErrorClass::InvalidResponse,
            format!("the SageMaker endpoint answered with a body that is not TGI's: {detail}"),
        )
    };
    let value: Value = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    let first = match value {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        Value::Object(_) => value,
        other => return Err(invalid(format!("{other}"))),
    };
    let generated: Generated = serde_json::from_value(first).map_err(|e| invalid(e.to_string()))?;
    let text = generated
        .generation
        .or(generated.generated_text)
        .ok_or_else(|| invalid("no `generated_text`".to_owned()))?;
    Ok(match text.strip_prefix(prompt) {
        Some(rest) if prompt.contains("<s>") => rest.to_owned(),
        _ => text,
    })
}

/// One event of TGI's token stream.
#[derive(Debug, Deserialize)]
pub(super) struct TokenEvent {
    #[serde(default)]
    pub token: Option<Token>,
    /// The whole text, on the last event only.
    #[serde(default)]
    pub generated_text: Option<String>,
    /// On the last event, when asked for: why generation stopped.
    #[serde(default)]
    pub details: Option<Details>,
}

/// A generated token.
#[derive(Debug, Deserialize)]
pub(super) struct Token {
    #[serde(default)]
    pub text: String,
    /// Special tokens (`</s>`) are not text.
    #[serde(default)]
    pub special: bool,
}

/// What the last event says of the whole generation.
#[derive(Debug, Deserialize)]
pub(super) struct Details {
    /// `length`, `eos_token` or `stop_sequence`.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// OpenAI's `finish_reason` for TGI's.
pub(super) fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "length" => "length",
        _ => "stop",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> ChatRequest {
        serde_json::from_value(body).expect("request")
    }

    #[test]
    fn llama_2_chat_endpoints_get_its_template_others_the_texts_joined() {
        let conversation = json!({"model": "m", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Bye"}
        ]});
        let (_, prompt) = payload(
            &request(conversation.clone()),
            "berri-benchmarking-Llama-2-70b-chat-hf-4",
            false,
        )
        .expect("payload");
        assert_eq!(
            prompt,
            "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n [/INST]\n[INST] Hi [/INST]\nHello\n</s><s>[INST] Bye [/INST]\n"
        );
        let (_, prompt) =
            payload(&request(conversation), "my-falcon-endpoint", false).expect("payload");
        assert_eq!(prompt, "Be brief. Hi Hello Bye");
    }

    #[test]
    fn parameters_map_as_litellm_maps_them() {
        let (body, _) = payload(
            &request(
                json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 0, "temperature": 0, "top_p": 0.9, "stop": "END", "top_k": 5}),
            ),
            "e",
            true,
        )
        .expect("payload");
        assert_eq!(
            body,
            json!({"inputs": "Hi", "stream": true, "parameters": {"max_new_tokens": 1,
                "temperature": 0.01, "top_p": 0.9, "stop": ["END"], "top_k": 5}})
        );
    }

    #[test]
    fn answers_are_read_in_both_shapes_and_an_echoed_template_is_cut() {
        let text = answer_text(br#"[{"generated_text": "Paris."}]"#, "Capital?").expect("text");
        assert_eq!(text, "Paris.");
        let text = answer_text(br#"{"generation": "Paris."}"#, "Capital?").expect("text");
        assert_eq!(text, "Paris.");
        let prompt = "<s>[INST] Capital? [/INST]\n";
        let text = answer_text(
            format!(
                r#"[{{"generated_text": {}}}]"#,
                json!(format!("{prompt}Paris."))
            )
            .as_bytes(),
            prompt,
        )
        .expect("text");
        assert_eq!(text, "Paris.");
        let err = answer_text(b"[]", "x").expect_err("empty");
        assert_eq!(err.class, ErrorClass::InvalidResponse);
    }
}
