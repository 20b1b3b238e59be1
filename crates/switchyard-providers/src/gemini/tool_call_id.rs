//! Ids of the tool calls Gemini makes, as OpenAI clients see them and send them back, carrying
//! the call's thought signature.
//!
//! Gemini 3 attaches a `thoughtSignature` to a function call and refuses the next turn unless
//! it comes back on that call (<https://ai.google.dev/gemini-api/docs/thought-signatures>).
//! An OpenAI client keeps nothing of a call but its id, name and arguments, so the signature
//! rides in the id: `call_<24 random letters and digits>`, then, when there is a signature,
//! [`SIGNATURE_MARKER`] and the signature's bytes in base64url without padding.
//!
//! Why in the id rather than in a cache on the gateway, keyed by a short id: the id survives
//! any number of replicas, restarts and cache evictions, because the client holds it; a cache
//! would have to be shared (Redis) and outlive every conversation, or Gemini would refuse the
//! turn. The cost is a long id. Such ids stay valid for every provider the conversation may
//! fall back to: they only hold `[A-Za-z0-9_-]` (Anthropic's `tool_use.id` pattern
//! `^[a-zA-Z0-9_-]+$`, <https://docs.anthropic.com/en/api/messages>), and adapters with a
//! documented length limit (Bedrock's `toolUseId`, 64 characters) shorten them on the way out
//! ([`crate::translate::portable_tool_call_id`]). The random part makes every id unique across
//! turns (Gemini's own calls are unnamed; `call_<position>` repeated from one turn to the
//! next).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Separates the unique part of an id from the signature after it; the unique part holds
/// letters and digits only, so its first occurrence is the boundary.
pub const SIGNATURE_MARKER: &str = "_ts1_";

/// What ids of earlier releases put between the call's id and the signature, as it came
/// (`call_0__thought__CiQB...==`): such ids, still held by clients, keep their signature.
const LEGACY_SEPARATOR: &str = "__thought__";

/// Letters and digits in the unique part of an id: about 143 bits.
const UNIQUE_CHARS: usize = 24;

/// A new id for a call Gemini made, carrying its `thoughtSignature` (base64, as Gemini sends
/// its `bytes` fields) when there is one. A signature that is not base64 cannot be carried
/// (Gemini documents it as bytes); it is dropped, with a warning.
pub fn make(thought_signature: Option<&str>) -> String {
    let mut id = String::with_capacity(64);
    id.push_str("call_");
    id.extend(std::iter::repeat_with(fastrand::alphanumeric).take(UNIQUE_CHARS));
    if let Some(signature) = thought_signature.filter(|s| !s.is_empty()) {
        match STANDARD.decode(signature) {
            Ok(bytes) => {
                id.push_str(SIGNATURE_MARKER);
                URL_SAFE_NO_PAD.encode_string(bytes, &mut id);
            }
            Err(err) => {
                tracing::warn!(
                    "Gemini sent a thought signature that is not base64 ({err}); it is not carried to the next turn"
                );
            }
        }
    }
    id
}

/// The thought signature an id made by [`make`] carries, as base64 again for Gemini; `None`
/// for any other id (a client's, another provider's, one without a signature).
pub fn signature(id: &str) -> Option<String> {
    if let Some((_, legacy)) = id.split_once(LEGACY_SEPARATOR) {
        return (!legacy.is_empty()).then(|| legacy.to_owned());
    }
    let rest = id.strip_prefix("call_")?;
    let (unique, encoded) = rest.split_once(SIGNATURE_MARKER)?;
    if unique.is_empty() || !unique.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    (!bytes.is_empty()).then(|| STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Anthropic's `tool_use.id` pattern, `^[a-zA-Z0-9_-]+$`.
    fn anthropic_valid(id: &str) -> bool {
        !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    // A signature as Gemini's documentation shows one (base64 with `+`, `/` and padding).
    #[test]
    fn ids_carry_signatures_there_and_back_in_anthropic_s_alphabet() {
        let signed = "CiQB0e2K+/b7Jw0mQhS1gAdyYK0yTQ==";
        let id = make(Some(signed));
        assert!(anthropic_valid(&id), "{id}");
        assert!(
            id.starts_with("call_") && id.contains(SIGNATURE_MARKER),
            "{id}"
        );
        assert_eq!(signature(&id).as_deref(), Some(signed));

        let plain = make(None);
        assert!(
            anthropic_valid(&plain) && plain.len() == 5 + UNIQUE_CHARS,
            "{plain}"
        );
        assert_eq!(signature(&plain), None);
        assert_eq!(make(Some("")).len(), 5 + UNIQUE_CHARS);
        assert_eq!(make(Some("not base64!")).len(), 5 + UNIQUE_CHARS, "dropped");
    }

    #[test]
    fn ids_of_earlier_releases_keep_their_signature() {
        assert_eq!(
            signature("call_0__thought__CiQB0e2K+/==").as_deref(),
            Some("CiQB0e2K+/==")
        );
    }

    #[test]
    fn ids_are_unique_across_calls_and_turns() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| make(None)).collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn other_ids_carry_no_signature() {
        for id in [
            "call_abc",
            "toolu_01A09q90qw90lq917835lq9",
            "call_a-b_ts1_AAAA",
            "call__ts1_AAAA",
            "call_abc_ts1_",
            "call_abc_ts1_!!",
        ] {
            assert_eq!(signature(id), None, "{id}");
        }
    }
}
