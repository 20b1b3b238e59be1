//! Text completions on providers without a completions API (Anthropic, Gemini, Bedrock, the
//! mock): each text prompt becomes one chat call with the prompt as its user message, as LiteLLM
//! translates them, and the answers come back in chat shape for the gateway to render as a
//! `text_completion`. `echo` is honoured by putting the prompt before the text; what only a
//! completions API can do (pre-tokenized prompts, `suffix`, `logprobs`, `best_of`) is refused
//! with a bad request naming the provider, never silently dropped.

use std::collections::HashSet;

use futures_util::future::{BoxFuture, try_join_all};
use futures_util::{StreamExt, future};
use switchyard_wire::{
    ChatMessage, ChatRequest, ChatResponse, CompletionRequest, MessageContent, Role, Usage,
};

use crate::{ChunkStream, ErrorClass, Provider, ProviderError};

/// A complete text completion answered through `provider`'s chat calls, one per prompt; the
/// choices of prompt `i` follow those of the prompts before it (`index` counts across all), as
/// OpenAI numbers them, and usage adds up.
pub(crate) fn complete_through_chat<P: Provider + ?Sized>(
    provider: &P,
    request: CompletionRequest,
) -> BoxFuture<'static, Result<ChatResponse, ProviderError>> {
    let calls = match chat_calls(provider.family(), request) {
        Ok(calls) => calls,
        Err(err) => return Box::pin(future::ready(Err(err))),
    };
    let answers: Vec<_> = calls
        .into_iter()
        .map(|(chat, echo)| {
            let answer = provider.chat(chat);
            async move {
                let mut answer = answer.await?;
                if let Some(prompt) = echo {
                    for choice in &mut answer.choices {
                        let text = choice
                            .message
                            .content
                            .as_ref()
                            .map(MessageContent::joined_text)
                            .unwrap_or_default();
                        choice.message.content = Some(MessageContent::Text(prompt.clone() + &text));
                    }
                }
                Ok::<_, ProviderError>(answer)
            }
        })
        .collect();
    Box::pin(async move {
        let mut answers = try_join_all(answers).await?.into_iter();
        let Some(mut merged) = answers.next() else {
            return Err(bad_request("`prompt` must hold at least one prompt"));
        };
        let mut next_index = merged.choices.len() as u32;
        for answer in answers {
            for mut choice in answer.choices {
                choice.index += next_index;
                merged.choices.push(choice);
            }
            next_index = merged.choices.len() as u32;
            merged.usage = match (merged.usage.take(), answer.usage) {
                (Some(a), Some(b)) => Some(Usage::new(
                    a.prompt_tokens + b.prompt_tokens,
                    a.completion_tokens + b.completion_tokens,
                )),
                (a, b) => a.or(b),
            };
        }
        Ok(merged)
    })
}

/// A streamed text completion through `provider`'s streamed chat call; one prompt only.
pub(crate) fn stream_through_chat<P: Provider + ?Sized>(
    provider: &P,
    request: CompletionRequest,
) -> BoxFuture<'static, Result<ChunkStream, ProviderError>> {
    let mut calls = match chat_calls(provider.family(), request) {
        Ok(calls) => calls,
        Err(err) => return Box::pin(future::ready(Err(err))),
    };
    if calls.len() != 1 {
        return Box::pin(future::ready(Err(bad_request(format!(
            "{} streams one prompt at a time; send several prompts without `stream`",
            provider.family()
        )))));
    }
    let (chat, echo) = calls.remove(0);
    let started = provider.chat_stream(chat);
    Box::pin(async move {
        let chunks = started.await?;
        let Some(prompt) = echo else {
            return Ok(chunks);
        };
        // The prompt goes before the first text of each choice.
        let mut echoed: HashSet<u32> = HashSet::new();
        let stream: ChunkStream = Box::pin(chunks.map(move |item| {
            item.map(|mut chunk| {
                for choice in &mut chunk.choices {
                    if echoed.insert(choice.index) {
                        let text = choice.delta.content.take().unwrap_or_default();
                        choice.delta.content = Some(prompt.clone() + &text);
                    }
                }
                chunk
            })
        }));
        Ok(stream)
    })
}

/// One chat call per text prompt, each with the prompt to echo when `echo` is set.
fn chat_calls(
    family: &str,
    request: CompletionRequest,
) -> Result<Vec<(ChatRequest, Option<String>)>, ProviderError> {
    let unsupported = |what: &str| {
        bad_request(format!(
            "{family} has no text completions API, so its completions are chat calls, which \
             cannot take {what}"
        ))
    };
    if request.suffix.is_some() {
        return Err(unsupported("`suffix`"));
    }
    if request.logprobs.is_some() {
        return Err(unsupported("`logprobs`"));
    }
    if request.best_of.is_some_and(|best_of| best_of > 1) {
        return Err(unsupported("`best_of`"));
    }
    let Some(texts) = request.prompt.texts() else {
        return Err(unsupported("a pre-tokenized prompt"));
    };
    let texts: Vec<String> = texts.into_iter().map(str::to_owned).collect();
    let echo = request.echo.unwrap_or(false);
    let (chat, _) = request.split();
    Ok(texts
        .into_iter()
        .map(|text| {
            let mut call = chat.clone();
            call.messages = vec![ChatMessage::text(Role::User, text.clone())];
            (call, echo.then_some(text))
        })
        .collect())
}

fn bad_request(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::BadRequest, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{Mock, MockSettings};
    use serde_json::json;
    use switchyard_wire::Completion;

    fn request(body: serde_json::Value) -> CompletionRequest {
        serde_json::from_value(body).expect("valid request")
    }

    fn echo_mock() -> Mock {
        Mock::new(MockSettings {
            model: "mock-1".to_owned(),
            ..MockSettings::default()
        })
    }

    #[tokio::test]
    async fn each_prompt_is_a_chat_call_and_choices_count_across_prompts() {
        let answer = complete_through_chat(
            &echo_mock(),
            request(json!({"model": "m", "prompt": ["one", "two"]})),
        )
        .await
        .expect("answer");
        let completion = Completion::from_chat(answer);
        let texts: Vec<(&str, u32)> = completion
            .choices
            .iter()
            .map(|c| (c.text.as_str(), c.index))
            .collect();
        assert_eq!(texts, [("one", 0), ("two", 1)]);
        let usage = completion.usage.expect("usage");
        assert_eq!(
            usage.total_tokens,
            usage.prompt_tokens + usage.completion_tokens
        );
        assert_eq!(usage.prompt_tokens, 2, "one estimated token per prompt");
    }

    #[tokio::test]
    async fn echo_puts_the_prompt_before_the_text_in_answers_and_streams() {
        let body = json!({"model": "m", "prompt": "say hi", "echo": true});
        let answer = complete_through_chat(&echo_mock(), request(body.clone()))
            .await
            .expect("answer");
        assert_eq!(
            Completion::from_chat(answer).choices[0].text,
            "say hisay hi"
        );
        let chunks: Vec<_> = stream_through_chat(&echo_mock(), request(body))
            .await
            .expect("stream")
            .collect()
            .await;
        let text: String = chunks
            .into_iter()
            .map(|c| Completion::from_chat_chunk(c.expect("chunk")))
            .flat_map(|c| c.choices)
            .map(|c| c.text)
            .collect();
        assert_eq!(text, "say hisay hi");
    }

    #[tokio::test]
    async fn what_only_a_completions_api_can_do_is_refused() {
        for body in [
            json!({"model": "m", "prompt": [1, 2]}),
            json!({"model": "m", "prompt": "x", "suffix": "y"}),
            json!({"model": "m", "prompt": "x", "logprobs": 1}),
            json!({"model": "m", "prompt": "x", "best_of": 2}),
        ] {
            let err = complete_through_chat(&echo_mock(), request(body.clone()))
                .await
                .expect_err("refused");
            assert_eq!(err.class, ErrorClass::BadRequest, "{body}");
            assert!(err.message.contains("mock"), "{}", err.message);
        }
        let err = stream_through_chat(
            &echo_mock(),
            request(json!({"model": "m", "prompt": ["a", "b"], "stream": true})),
        )
        .await
        .err()
        .expect("refused");
        assert_eq!(err.class, ErrorClass::BadRequest);
    }
}
