//! Translation helpers every adapter for a non-OpenAI wire format shares.

use switchyard_wire::{ChatMessage, MessageContent};

use crate::{ErrorClass, ProviderError};

/// The text of a system or developer message for providers whose system prompt holds text only:
/// `None` when it is empty, a `BadRequest` naming `provider` when it holds other parts.
pub(crate) fn system_text(
    message: &ChatMessage,
    provider: &str,
) -> Result<Option<String>, ProviderError> {
    let Some(content) = &message.content else {
        return Ok(None);
    };
    if let MessageContent::Parts(parts) = content
        && let Some(part) = parts.iter().find(|p| p.kind != "text")
    {
        return Err(ProviderError::new(
            ErrorClass::BadRequest,
            format!(
                "a system message may hold text only for {provider}, not `{}` parts",
                part.kind
            ),
        ));
    }
    let text = content.joined_text();
    Ok((!text.is_empty()).then_some(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(value: serde_json::Value) -> ChatMessage {
        serde_json::from_value(value).expect("valid message")
    }

    #[test]
    fn system_text_joins_text_parts_and_refuses_others() {
        let parts = message(json!({"role": "system", "content": [
            {"type": "text", "text": "be "}, {"type": "text", "text": "brief"}]}));
        assert_eq!(
            system_text(&parts, "X").expect("text").as_deref(),
            Some("be brief")
        );
        let empty = message(json!({"role": "system", "content": ""}));
        assert_eq!(system_text(&empty, "X").expect("empty"), None);
        let image = message(json!({"role": "system", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}));
        let err = system_text(&image, "Gemini").expect_err("refused");
        assert_eq!(err.class, ErrorClass::BadRequest);
        assert!(err.message.contains("Gemini") && err.message.contains("image_url"));
    }
}
