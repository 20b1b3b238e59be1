//! OpenAI chat requests translated into Gemini `GenerateContentRequest`s: roles and contents,
//! system instructions, images, tools and tool results, generation settings.
//!
//! Everything a client can get wrong is refused here as a [`ErrorClass::BadRequest`], before
//! anything is sent.

use serde_json::{Map, Value};
use switchyard_wire::{
    ChatMessage, ChatRequest, ContentPart, MessageContent, Role, Stop, Tool as OpenAiTool,
};

use super::tool_call_id;
use super::wire::{
    Blob, Content, FileData, FunctionCall, FunctionCallingConfig, FunctionDeclaration,
    FunctionResponse, GenerateContentRequest, GenerationConfig, Part, Tool, ToolConfig,
};
use crate::translate::{RequestedFormat, requested_format};
use crate::{ErrorClass, ProviderError};

/// Gemini's role of the user's turns (function results included).
const USER: &str = "user";
/// Gemini's role of the model's turns.
const MODEL: &str = "model";

/// Translates an OpenAI chat request into Gemini's request body.
pub fn generate_content_request(
    request: &ChatRequest,
) -> Result<GenerateContentRequest, ProviderError> {
    let mut system = Vec::new();
    let mut contents: Vec<Content> = Vec::new();
    for (position, message) in request.messages.iter().enumerate() {
        let (role, parts) = match message.role {
            Role::System | Role::Developer => {
                system.extend(system_parts(message)?);
                continue;
            }
            Role::User => (USER, user_parts(message.content.as_ref())?),
            Role::Assistant => (MODEL, assistant_parts(message)?),
            Role::Tool => {
                let name = tool_name(&request.messages[..position], message)?;
                (USER, vec![function_response(name, message)])
            }
            Role::Function => {
                let name = message.name.clone().ok_or_else(|| {
                    bad_request("a `function` message needs the `name` of the function")
                })?;
                (USER, vec![function_response(name, message)])
            }
        };
        push_turn(&mut contents, role, parts);
    }
    Ok(GenerateContentRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(Content {
            role: None,
            parts: system,
        }),
        generation_config: generation_config(request)?,
        tools: tools(request.tools.as_deref())?,
        tool_config: tool_config(request.tool_choice.as_ref())?,
    })
}

/// Appends a turn, merged into the previous one when the role is the same (Gemini wants turns
/// to alternate; parallel tool results, for one, arrive as several `tool` messages in a row).
fn push_turn(contents: &mut Vec<Content>, role: &str, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    match contents.last_mut() {
        Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
        _ => contents.push(Content {
            role: Some(role.to_owned()),
            parts,
        }),
    }
}

fn bad_request(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::BadRequest, message)
}

fn text_part(text: impl Into<String>) -> Part {
    Part {
        text: Some(text.into()),
        ..Part::default()
    }
}

/// System and developer messages: Gemini's `systemInstruction` takes text only.
fn system_parts(message: &ChatMessage) -> Result<Vec<Part>, ProviderError> {
    Ok(crate::translate::system_text(message, "Gemini")?
        .map(text_part)
        .into_iter()
        .collect())
}

fn user_parts(content: Option<&MessageContent>) -> Result<Vec<Part>, ProviderError> {
    match content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(text)) if text.is_empty() => Ok(Vec::new()),
        Some(MessageContent::Text(text)) => Ok(vec![text_part(text.clone())]),
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .filter(|p| !(p.kind == "text" && p.text.as_deref().unwrap_or_default().is_empty()))
            .map(content_part)
            .collect(),
    }
}

/// One OpenAI content part: text, an image (a `data:` URL inline, an http(s) URL by reference),
/// audio, or a file given as a `data:` URL.
fn content_part(part: &ContentPart) -> Result<Part, ProviderError> {
    match part.kind.as_str() {
        "text" => Ok(text_part(part.text.clone().unwrap_or_default())),
        "image_url" => {
            // `image_url` is `{"url": ..., "detail": ...}`, or a bare string in older clients.
            let payload = part.extra.get("image_url");
            let url = payload
                .and_then(|v| v.get("url").or(Some(v)))
                .and_then(Value::as_str)
                .ok_or_else(|| bad_request("an `image_url` part needs `image_url.url`"))?;
            media_part(url)
        }
        "input_audio" => {
            let audio = part.extra.get("input_audio");
            let field = |name: &str| audio.and_then(|a| a.get(name)).and_then(Value::as_str);
            let (Some(data), Some(format)) = (field("data"), field("format")) else {
                return Err(bad_request(
                    "an `input_audio` part needs `input_audio.data` and `input_audio.format`",
                ));
            };
            Ok(Part {
                inline_data: Some(Blob {
                    mime_type: format!("audio/{format}"),
                    data: data.to_owned(),
                }),
                ..Part::default()
            })
        }
        "file" => {
            let data_url = part
                .extra
                .get("file")
                .and_then(|f| f.get("file_data"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad_request("a `file` part needs `file.file_data` (a data: URL) for Gemini")
                })?;
            media_part(data_url)
        }
        other => Err(bad_request(format!(
            "content parts of type `{other}` are not supported by Gemini deployments"
        ))),
    }
}

/// A `data:` URL becomes inline bytes; an http(s) URL becomes a file Gemini fetches.
fn media_part(url: &str) -> Result<Part, ProviderError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (mime_type, data) = rest
            .split_once(";base64,")
            .filter(|(mime, data)| !mime.is_empty() && !data.is_empty())
            .ok_or_else(|| {
                bad_request("a data: URL must be `data:<media type>;base64,<data>` for Gemini")
            })?;
        return Ok(Part {
            inline_data: Some(Blob {
                mime_type: mime_type.to_owned(),
                data: data.to_owned(),
            }),
            ..Part::default()
        });
    }
    let lowered = url.to_ascii_lowercase();
    if lowered.starts_with("https://") || lowered.starts_with("http://") {
        return Ok(Part {
            file_data: Some(FileData {
                mime_type: mime_type_of(&lowered).map(str::to_owned),
                file_uri: url.to_owned(),
            }),
            ..Part::default()
        });
    }
    Err(bad_request(
        "media URLs must be data: URLs or http(s) URLs for Gemini",
    ))
}

/// The media type a URL's extension names, for the types Gemini accepts as images.
fn mime_type_of(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let extension = path.rsplit_once('.').map(|(_, ext)| ext)?;
    Some(match extension {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "gif" => "image/gif",
        _ => return None,
    })
}

/// An assistant turn: its text, then one `functionCall` part per tool call.
fn assistant_parts(message: &ChatMessage) -> Result<Vec<Part>, ProviderError> {
    let mut parts = Vec::new();
    if let Some(content) = &message.content {
        let text = content.joined_text();
        if !text.is_empty() {
            parts.push(text_part(text));
        }
    }
    for call in message.tool_calls.iter().flatten() {
        let arguments = call.function.arguments.trim();
        let args = if arguments.is_empty() {
            Value::Object(Map::new())
        } else {
            match serde_json::from_str::<Value>(arguments) {
                Ok(value @ Value::Object(_)) => value,
                _ => {
                    return Err(bad_request(format!(
                        "the arguments of tool call `{}` are not a JSON object",
                        call.id
                    )));
                }
            }
        };
        let thought_signature = tool_call_id::signature(&call.id);
        parts.push(Part {
            function_call: Some(FunctionCall {
                id: None,
                name: call.function.name.clone(),
                args: Some(args),
            }),
            thought_signature,
            ..Part::default()
        });
    }
    Ok(parts)
}

/// The function a `tool` message answers: the nearest earlier assistant tool call with its id
/// (ids such as `call_0` repeat from one turn to the next), else the message's own `name`.
fn tool_name(earlier: &[ChatMessage], message: &ChatMessage) -> Result<String, ProviderError> {
    let id = message.tool_call_id.as_deref().unwrap_or_default();
    earlier
        .iter()
        .rev()
        .flat_map(|m| m.tool_calls.iter().flatten())
        .find(|call| call.id == id)
        .map(|call| call.function.name.clone())
        .or_else(|| message.name.clone())
        .ok_or_else(|| {
            bad_request(format!(
                "the tool message for call `{id}` answers no tool call of an earlier assistant message"
            ))
        })
}

/// A tool result as a `functionResponse` part. Gemini wants an object: a JSON object is sent as
/// it is, anything else is wrapped as `{"result": <text>}`.
fn function_response(name: String, message: &ChatMessage) -> Part {
    let text = message
        .content
        .as_ref()
        .map(MessageContent::joined_text)
        .unwrap_or_default();
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(object @ Value::Object(_)) => object,
        _ => Value::Object(Map::from_iter([("result".to_owned(), Value::String(text))])),
    };
    Part {
        function_response: Some(FunctionResponse { name, response }),
        ..Part::default()
    }
}

fn generation_config(request: &ChatRequest) -> Result<Option<GenerationConfig>, ProviderError> {
    let number = |name: &str| request.extra.value(name).and_then(|v| v.as_f64());
    let mut config = GenerationConfig {
        temperature: request.temperature,
        top_p: request.top_p,
        max_output_tokens: request.max_completion_tokens.or(request.max_tokens),
        stop_sequences: request.stop.as_ref().map(|stop| match stop {
            Stop::One(one) => vec![one.clone()],
            Stop::Many(many) => many.clone(),
        }),
        candidate_count: request.n,
        seed: request.extra.value("seed").and_then(|v| v.as_i64()),
        presence_penalty: number("presence_penalty"),
        frequency_penalty: number("frequency_penalty"),
        ..GenerationConfig::default()
    };
    // JSON mode and JSON Schema: https://ai.google.dev/gemini-api/docs/structured-output
    // (`responseMimeType`, `responseJsonSchema`).
    match requested_format(request)? {
        RequestedFormat::Text => {}
        RequestedFormat::JsonObject => {
            config.response_mime_type = Some("application/json".into());
        }
        RequestedFormat::JsonSchema { schema, .. } => {
            config.response_mime_type = Some("application/json".into());
            config.response_json_schema = schema;
        }
    }
    Ok((config != GenerationConfig::default()).then_some(config))
}

fn tools(tools: Option<&[OpenAiTool]>) -> Result<Option<Vec<Tool>>, ProviderError> {
    let Some(tools) = tools.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let declarations = tools
        .iter()
        .map(|tool| {
            if tool.kind != "function" {
                return Err(bad_request(format!(
                    "tools of type `{}` are not supported by Gemini deployments",
                    tool.kind
                )));
            }
            Ok(FunctionDeclaration {
                name: tool.function.name.clone(),
                description: tool.function.description.clone(),
                parameters_json_schema: tool.function.parameters.clone(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(vec![Tool {
        function_declarations: declarations,
    }]))
}

/// `tool_choice` as Gemini's function calling mode: `auto` is `AUTO`, `required` is `ANY`,
/// `none` is `NONE`, and a named function is `ANY` restricted to that name.
fn tool_config(choice: Option<&Value>) -> Result<Option<ToolConfig>, ProviderError> {
    let Some(choice) = choice else {
        return Ok(None);
    };
    let (mode, allowed_function_names) = match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => ("AUTO", None),
            "required" => ("ANY", None),
            "none" => ("NONE", None),
            other => {
                return Err(bad_request(format!(
                    "`tool_choice` `{other}` is not one of `auto`, `required`, `none`"
                )));
            }
        },
        Value::Object(named) => {
            let name = named
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| bad_request("a named `tool_choice` needs `function.name`"))?;
            ("ANY", Some(vec![name.to_owned()]))
        }
        _ => return Err(bad_request("`tool_choice` must be a string or an object")),
    };
    Ok(Some(ToolConfig {
        function_calling_config: FunctionCallingConfig {
            mode,
            allowed_function_names,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn translate(body: Value) -> Result<Value, ProviderError> {
        let request: ChatRequest = serde_json::from_value(body).expect("valid OpenAI request");
        let translated = generate_content_request(&request)?;
        Ok(serde_json::to_value(translated).expect("serializes"))
    }

    fn refused(body: Value) -> ProviderError {
        translate(body).expect_err("refused")
    }

    // Request shape: https://ai.google.dev/api/generate-content#request-body (contents,
    // systemInstruction, generationConfig); roles `user`/`model`:
    // https://ai.google.dev/api/caching#Content
    #[test]
    fn roles_system_instructions_and_generation_settings_translate() {
        let body = translate(json!({
            "model": "client-name",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "user", "content": "Capital of France?"},
                {"role": "assistant", "content": "Paris."},
                {"role": "user", "content": "And of Italy?"}
            ],
            "temperature": 0.3, "top_p": 0.9, "max_tokens": 50, "max_completion_tokens": 64,
            "stop": "END", "n": 2, "seed": 7, "presence_penalty": 0.5,
            "response_format": {"type": "json_object"}
        }))
        .expect("translates");
        assert_eq!(
            body["systemInstruction"],
            json!({"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]})
        );
        assert_eq!(
            body["contents"],
            json!([
                {"role": "user", "parts": [{"text": "Capital of France?"}]},
                {"role": "model", "parts": [{"text": "Paris."}]},
                {"role": "user", "parts": [{"text": "And of Italy?"}]}
            ])
        );
        assert_eq!(
            body["generationConfig"],
            json!({"temperature": 0.3, "topP": 0.9, "maxOutputTokens": 64,
                   "stopSequences": ["END"], "candidateCount": 2,
                   "responseMimeType": "application/json", "seed": 7, "presencePenalty": 0.5})
        );
        assert!(body.get("tools").is_none() && body.get("toolConfig").is_none());
    }

    #[test]
    fn a_request_with_no_settings_sends_no_generation_config() {
        let body =
            translate(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
                .expect("translates");
        assert_eq!(
            body,
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        );
    }

    // Structured output: https://ai.google.dev/gemini-api/docs/structured-output
    // (`responseMimeType` with `responseJsonSchema`, which takes JSON Schema as OpenAI clients
    // write it, `additionalProperties` included).
    #[test]
    fn a_json_schema_response_format_becomes_the_response_json_schema() {
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"], "additionalProperties": false});
        let body = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "answer", "strict": true, "schema": schema}}}))
        .expect("translates");
        assert_eq!(
            body["generationConfig"],
            json!({"responseMimeType": "application/json", "responseJsonSchema": schema})
        );
        let err = refused(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "yaml"}}),
        );
        assert_eq!(err.class, ErrorClass::BadRequest);
    }

    // Inline data and file data parts: https://ai.google.dev/api/caching#Part,
    // https://ai.google.dev/gemini-api/docs/image-understanding
    #[test]
    fn images_become_inline_data_or_file_data() {
        let body = translate(json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Compare these."},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.JPG?size=large", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/render"}},
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
        ]}]}))
        .expect("translates");
        assert_eq!(
            body["contents"][0]["parts"],
            json!([
                {"text": "Compare these."},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.JPG?size=large"}},
                {"fileData": {"fileUri": "https://example.com/render"}},
                {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}
            ])
        );
    }

    #[test]
    fn unusable_parts_and_urls_are_refused_as_bad_requests() {
        for content in [
            json!([{"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}]),
            json!([{"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}]),
            json!([{"type": "image_url"}]),
            json!([{"type": "video_url", "video_url": {"url": "https://example.com/a.mp4"}}]),
        ] {
            let err =
                refused(json!({"model": "m", "messages": [{"role": "user", "content": content}]}));
            assert_eq!(err.class, ErrorClass::BadRequest, "{content}");
        }
        let err = refused(json!({"model": "m", "messages": [
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]},
            {"role": "user", "content": "hi"}]}));
        assert!(err.message.contains("system"), "{}", err.message);
    }

    // Function declarations, tool config and the function call / response round trip:
    // https://ai.google.dev/gemini-api/docs/function-calling,
    // https://ai.google.dev/api/caching#FunctionCallingConfig
    #[test]
    fn tools_tool_choice_calls_and_results_translate() {
        let parameters = json!({"type": "object", "properties": {"location": {"type": "string"}},
                                "required": ["location"], "additionalProperties": false});
        let body = translate(json!({
            "model": "m",
            "messages": [
                {"role": "user", "content": "Weather and time in Boston?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_Q2b8dXk0aP3mZr7TnV1wYc9e_ts1_c2lnbmF0dXJl", "type": "function",
                     "function": {"name": "get_current_weather", "arguments": "{\"location\":\"Boston, MA\"}"}},
                    {"id": "call_1", "type": "function",
                     "function": {"name": "get_current_time", "arguments": ""}}
                ]},
                {"role": "tool", "tool_call_id": "call_Q2b8dXk0aP3mZr7TnV1wYc9e_ts1_c2lnbmF0dXJl", "content": "{\"temperature\": 21}"},
                {"role": "tool", "tool_call_id": "call_1", "content": "10:42"},
                {"role": "user", "content": "Thanks!"}
            ],
            "tools": [
                {"type": "function", "function": {"name": "get_current_weather",
                    "description": "Current weather in a city", "parameters": parameters}},
                {"type": "function", "function": {"name": "get_current_time"}}
            ],
            "tool_choice": {"type": "function", "function": {"name": "get_current_weather"}}
        }))
        .expect("translates");
        assert_eq!(
            body["tools"],
            json!([{"functionDeclarations": [
                {"name": "get_current_weather", "description": "Current weather in a city",
                 "parametersJsonSchema": parameters},
                {"name": "get_current_time"}
            ]}])
        );
        assert_eq!(
            body["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_current_weather"]}})
        );
        assert_eq!(
            body["contents"],
            json!([
                {"role": "user", "parts": [{"text": "Weather and time in Boston?"}]},
                {"role": "model", "parts": [
                    {"functionCall": {"name": "get_current_weather", "args": {"location": "Boston, MA"}},
                     "thoughtSignature": "c2lnbmF0dXJl"},
                    {"functionCall": {"name": "get_current_time", "args": {}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_current_weather", "response": {"temperature": 21}}},
                    {"functionResponse": {"name": "get_current_time", "response": {"result": "10:42"}}},
                    {"text": "Thanks!"}
                ]}
            ])
        );
    }

    #[test]
    fn tool_choice_strings_map_to_modes() {
        for (choice, mode) in [("auto", "AUTO"), ("required", "ANY"), ("none", "NONE")] {
            let body = translate(
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                "tool_choice": choice}),
            )
            .expect("translates");
            assert_eq!(
                body["toolConfig"],
                json!({"functionCallingConfig": {"mode": mode}})
            );
        }
        let err = refused(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tool_choice": "sometimes"}),
        );
        assert_eq!(err.class, ErrorClass::BadRequest);
    }

    #[test]
    fn a_tool_result_answers_the_nearest_call_with_its_id() {
        let call = |name: &str| {
            json!({"role": "assistant", "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": name, "arguments": "{}"}}]})
        };
        let body = translate(json!({"model": "m", "messages": [
            {"role": "user", "content": "first"}, call("first_tool"),
            {"role": "tool", "tool_call_id": "call_0", "content": "one"},
            {"role": "user", "content": "second"}, call("second_tool"),
            {"role": "tool", "tool_call_id": "call_0", "content": "two"}
        ]}))
        .expect("translates");
        let last = &body["contents"][4]["parts"][0]["functionResponse"];
        assert_eq!(last["name"], "second_tool");
        assert_eq!(last["response"], json!({"result": "two"}));
    }

    #[test]
    fn broken_tool_conversations_are_refused() {
        let orphan = refused(json!({"model": "m", "messages": [
            {"role": "user", "content": "x"},
            {"role": "tool", "tool_call_id": "call_9", "content": "?"}]}));
        assert!(orphan.message.contains("call_9"), "{}", orphan.message);
        let bad_arguments = refused(json!({"model": "m", "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                "function": {"name": "f", "arguments": "[1, 2]"}}]}]}));
        assert_eq!(bad_arguments.class, ErrorClass::BadRequest);
        let not_a_function = refused(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "web_search", "function": {"name": "search"}}]}),
        );
        assert!(
            not_a_function.message.contains("web_search"),
            "{}",
            not_a_function.message
        );
    }

    #[test]
    fn empty_turns_are_dropped_rather_than_sent_without_parts() {
        let body = translate(json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "again"}]}
        ]}))
        .expect("translates");
        assert_eq!(
            body["contents"],
            json!([{"role": "user", "parts": [{"text": "hi"}, {"text": "again"}]}])
        );
    }
}
