//! Ids of the tool calls Gemini makes, as OpenAI clients see them and send them back.
//!
//! Gemini rarely names its function calls, so calls get `call_<n>` (their position in the
//! answer). Gemini 3 also attaches a `thoughtSignature` to a call and refuses the next turn
//! unless it comes back with that call
//! (<https://ai.google.dev/gemini-api/docs/thought-signatures>); OpenAI clients keep nothing but
//! the id, so the signature rides in it, after [`SIGNATURE_SEPARATOR`].

/// Separates a call's id from the thought signature carried in it. Signatures are base64, which
/// never holds `_`, so the first occurrence is the boundary.
pub const SIGNATURE_SEPARATOR: &str = "__thought__";

/// The id of the call at `position` among a candidate's calls: Gemini's own id when it gave one,
/// else `call_<position>`, with the thought signature appended when there is one.
pub fn make(gemini_id: Option<&str>, position: usize, thought_signature: Option<&str>) -> String {
    let base = match gemini_id.filter(|id| !id.is_empty()) {
        Some(id) => id.to_owned(),
        None => format!("call_{position}"),
    };
    match thought_signature.filter(|s| !s.is_empty()) {
        Some(signature) => format!("{base}{SIGNATURE_SEPARATOR}{signature}"),
        None => base,
    }
}

/// Splits an id made by [`make`] into the call's id and its thought signature, if any.
pub fn split(id: &str) -> (&str, Option<&str>) {
    match id.split_once(SIGNATURE_SEPARATOR) {
        Some((base, signature)) if !signature.is_empty() => (base, Some(signature)),
        _ => (id, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_signatures_there_and_back() {
        let id = make(None, 1, Some("CiQB0e2K+/=="));
        assert_eq!(id, "call_1__thought__CiQB0e2K+/==");
        assert_eq!(split(&id), ("call_1", Some("CiQB0e2K+/==")));
        assert_eq!(make(Some("fc-7"), 0, None), "fc-7");
        assert_eq!(make(Some(""), 3, Some("")), "call_3");
        assert_eq!(split("call_abc"), ("call_abc", None));
    }
}
