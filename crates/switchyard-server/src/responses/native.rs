//! `POST /v1/responses` passed through to deployments that speak OpenAI's Responses API
//! (OpenAI's and Azure OpenAI's; [`crate::native`] is the mechanism): the client's body goes
//! to the upstream's `/responses` with only `model` replaced, and the response object (or its
//! events) comes back as the upstream sent it, its `id` included. Reasoning items with their
//! `encrypted_content`, `include`, built-in tools and fields the gateway does not know all
//! survive, so reasoning carries across turns with `store: false` too.
//!
//! A response the upstream stores (`store` not false) is recorded in the gateway's store for
//! the key that created it, with the deployment that holds it: a `previous_response_id` is
//! forwarded as it came only for the key that owns it (any other key is told it does not
//! exist, as OpenAI answers) and to the deployment that holds it whenever it is available
//! (LiteLLM's routing affinity,
//! <https://docs.litellm.ai/docs/response_api#load-balancing-with-routing-affinity>), and
//! `GET /v1/responses/{id}` reads it back; `DELETE` deletes it upstream too. A continuation of a
//! response the gateway holds (one served by translation) sends its conversation as input.
//! Reference: <https://platform.openai.com/docs/api-reference/responses>.

use std::sync::Arc;

use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;
use switchyard_providers::native::{NativeApi, NativeEvent, NativeRequest};
use switchyard_store::{ResponseStore, StoredResponse};
use switchyard_wire::responses::StreamEvent;
use switchyard_wire::{RawExtra, RawJson};

use super::stored;
use crate::caller::Caller;
use crate::dispatch::Dispatched;
use crate::dispatch::unary::unary;
use crate::error::ApiError;
use crate::native::{NativeCall, NativeReply, estimated_input_tokens, typed};
use crate::routes::tag_route;
use crate::state::AppState;

/// The fields of a Responses request that hold its prompt.
const PROMPT_FIELDS: [&str; 3] = ["instructions", "input", "tools"];

/// What the gateway reads of a passed-through body; the upstream validates the rest.
#[derive(Deserialize)]
struct Head {
    model: String,
    #[serde(default)]
    store: Option<bool>,
    #[serde(default)]
    previous_response_id: Option<String>,
    #[serde(default)]
    max_output_tokens: Option<u64>,
    #[serde(default)]
    user: Option<String>,
}

/// Serves `body` through the upstream's own Responses API.
pub async fn create(
    state: AppState,
    caller: Caller,
    headers: &HeaderMap,
    mut body: RawExtra,
) -> Result<Response, ApiError> {
    let head: Head = typed(&body)?;
    let holder = match &head.previous_response_id {
        Some(previous) => continue_from(&state, &caller, previous, &mut body).await?,
        None => None,
    };
    drop_gateway_reasoning(&mut body)?;
    let keeper = (head.store != Some(false)).then(|| UpstreamKeeper {
        store: Arc::clone(state.storage().responses()),
        key_id: Arc::clone(&caller.key_id),
    });
    let input_tokens = estimated_input_tokens(&body, &PROMPT_FIELDS);
    // The gateway takes `metadata` out of bodies it does not store upstream; a Responses
    // call is stored unless it says otherwise, and its metadata is the response's own.
    let metadata = body.get("metadata").cloned();
    let request = NativeRequest {
        body,
        headers: Vec::new(),
    };
    let call = NativeCall::new(
        NativeApi::Responses,
        head.model,
        head.user,
        request,
        input_tokens,
        head.max_output_tokens,
    )
    .with_metadata(metadata)
    .pinned_to(holder);
    let Dispatched { route, outcome } = unary(&state, call, headers, caller).await?;
    let deployment = route.answered_by();
    let outcome = match (outcome, keeper) {
        (NativeReply::Whole(answer), Some(keeper)) => {
            keeper.keep(&answer.body, &deployment).await;
            NativeReply::Whole(answer)
        }
        (NativeReply::Stream(events), Some(keeper)) => {
            let deployment = Arc::clone(&deployment);
            NativeReply::Stream(Box::pin(events.then(move |event| {
                let keeper = keeper.clone();
                let deployment = Arc::clone(&deployment);
                async move {
                    if let Ok(event) = &event
                        && let Some(response) = completed_response(event)
                    {
                        keeper.keep(response.as_bytes(), &deployment).await;
                    }
                    event
                }
            })))
        }
        (outcome, None) => outcome,
    };
    let mut response = crate::native::respond(outcome, deployment, error_event);
    tag_route(&mut response, &route);
    Ok(response)
}

/// Deletes response `id` at `deployment`, which holds it. A deployment no longer configured
/// holds nothing the gateway can reach: only the gateway's record goes.
pub async fn delete_upstream(state: &AppState, deployment: &str, id: &str) -> Result<(), ApiError> {
    let holder = state
        .groups()
        .iter()
        .flat_map(|group| group.deployments())
        .find(|d| d.id == deployment)
        .cloned();
    let Some(holder) = holder else {
        tracing::warn!(
            deployment,
            response = id,
            "the deployment holding a response is gone"
        );
        return Ok(());
    };
    holder
        .provider
        .native_delete(NativeApi::Responses, id)
        .await
        .map_err(|err| ApiError::from_provider(deployment, &err))
}

/// Makes `body` continue `previous`, which the calling key must own: a response held upstream
/// keeps its `previous_response_id`, and the deployment holding it is returned, for the call
/// to go there (another deployment of the group may be another OpenAI project, which does not
/// know the id); one the gateway holds (served by translation) becomes its conversation put
/// before the body's input.
async fn continue_from(
    state: &AppState,
    caller: &Caller,
    previous: &str,
    body: &mut RawExtra,
) -> Result<Option<String>, ApiError> {
    let stored = stored::owned(state, caller, previous).await?;
    if stored.deployment.is_some() {
        return Ok(stored.deployment);
    }
    let mut items = stored::conversation_of(&stored)?
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| ApiError::internal(format!("a stored item is unwritable: {e}")))?;
    match body.value("input") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => {
            items.push(serde_json::json!({"role": "user", "content": text}))
        }
        Some(Value::Array(input)) => items.extend(input),
        Some(_) => {
            return Err(ApiError::invalid_request(
                "input: a string or a list of input items is required",
            ));
        }
    }
    let input = RawJson::from_value(&items)
        .map_err(|e| ApiError::internal(format!("the conversation is unwritable: {e}")))?;
    body.insert("input", input);
    body.remove("previous_response_id");
    Ok(None)
}

/// Takes out of `input` the `reasoning` items whose `encrypted_content` the gateway wrote
/// ([`super::reasoning::PREFIX`]: another provider's signed thinking, from turns served by
/// translation): OpenAI cannot read them and refuses a request that carries them, and the
/// thinking they hold is another model's. Their summaries go with them; the rest of the
/// conversation stays as it came. Bodies without such an item are not parsed.
fn drop_gateway_reasoning(body: &mut RawExtra) -> Result<(), ApiError> {
    if !body
        .get("input")
        .is_some_and(|input| input.get().contains(super::reasoning::PREFIX))
    {
        return Ok(());
    }
    let Some(Value::Array(items)) = body.value("input") else {
        return Ok(());
    };
    let kept: Vec<Value> = items
        .into_iter()
        .filter(|item| {
            let gateway_reasoning = item["type"] == "reasoning"
                && item["encrypted_content"]
                    .as_str()
                    .is_some_and(|content| content.starts_with(super::reasoning::PREFIX));
            !gateway_reasoning
        })
        .collect();
    let input = RawJson::from_value(&kept)
        .map_err(|e| ApiError::internal(format!("the input is unwritable: {e}")))?;
    body.insert("input", input);
    Ok(())
}

/// The response object a `response.completed` event carries, as JSON text.
fn completed_response(event: &NativeEvent) -> Option<String> {
    let named = event.event.as_deref();
    if named.is_some_and(|name| name != "response.completed")
        || (named.is_none() && !event.data.contains("response.completed"))
    {
        return None;
    }
    let mut data: serde_json::Map<String, Value> = serde_json::from_str(&event.data).ok()?;
    if data.get("type").and_then(Value::as_str) != Some("response.completed") {
        return None;
    }
    data.remove("response").map(|response| response.to_string())
}

/// A failure mid-stream as Responses' `error` event, numbered after the `sent` events before
/// it (<https://platform.openai.com/docs/api-reference/responses-streaming/error>).
fn error_event(err: &ApiError, sent: u64) -> Bytes {
    let event = StreamEvent::Error {
        code: Some(err.code.unwrap_or(err.kind).to_owned()),
        message: err.message.clone(),
        param: None,
        sequence_number: sent,
    };
    let data = serde_json::to_string(&event).unwrap_or_default();
    Bytes::from(format!("event: error\ndata: {data}\n\n"))
}

/// Records responses the upstream stores as the calling key's.
#[derive(Clone)]
struct UpstreamKeeper {
    store: Arc<dyn ResponseStore>,
    key_id: Arc<str>,
}

impl UpstreamKeeper {
    /// Records `response` (a response object), held upstream by `deployment`. A failure is
    /// logged, not answered: the client has its response, and only a later
    /// `previous_response_id` or `GET` of it will miss it.
    async fn keep(&self, response: &[u8], deployment: &str) {
        #[derive(Deserialize)]
        struct Head {
            id: String,
            #[serde(default)]
            created_at: i64,
        }
        let Ok(head) = serde_json::from_slice::<Head>(response) else {
            tracing::warn!(
                deployment,
                "an upstream response without an id was not recorded"
            );
            return;
        };
        let stored = StoredResponse {
            id: head.id,
            key_id: self.key_id.to_string(),
            response: String::from_utf8_lossy(response).into_owned(),
            conversation: "[]".to_owned(),
            created_at: head.created_at,
            deployment: Some(deployment.to_owned()),
        };
        if let Err(err) = self.store.save_response(&stored).await {
            tracing::error!(response = %stored.id, error = %err, "a response could not be recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: Option<&str>, data: &str) -> NativeEvent {
        NativeApi::Responses.event(name.map(str::to_owned), data.to_owned())
    }

    // Event shapes: https://platform.openai.com/docs/api-reference/responses-streaming.
    #[test]
    fn reasoning_items_the_gateway_encoded_are_not_sent_to_openai() {
        let theirs = serde_json::json!({"type": "reasoning", "id": "rs_1", "summary": [],
            "encrypted_content": "gAAAAABo-opaque"});
        let ours = serde_json::json!({"type": "reasoning", "summary": [],
            "encrypted_content": format!("{}e30", super::super::reasoning::PREFIX)});
        let user = serde_json::json!({"role": "user", "content": "go on"});
        let mut body: RawExtra = serde_json::from_value(serde_json::json!({
            "model": "gpt-5", "input": [theirs, ours, user]}))
        .expect("a body");
        drop_gateway_reasoning(&mut body).expect("rewritten");
        assert_eq!(
            body.value("input"),
            Some(serde_json::json!([theirs, user])),
            "OpenAI's own reasoning item stays, the gateway's goes"
        );
        let text: RawExtra =
            serde_json::from_value(serde_json::json!({"model": "gpt-5", "input": "hi"}))
                .expect("a body");
        let mut same = text.clone();
        drop_gateway_reasoning(&mut same).expect("untouched");
        assert_eq!(same.value("input"), text.value("input"));
    }

    #[test]
    fn only_a_completed_event_gives_its_response() {
        let completed = r#"{"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","object":"response","created_at":1,"model":"o4-mini","output":[]}}"#;
        let response =
            completed_response(&event(Some("response.completed"), completed)).expect("a response");
        let response: Value = serde_json::from_str(&response).expect("json");
        assert_eq!(response["id"], "resp_1");
        assert!(completed_response(&event(None, completed)).is_some());
        let delta = r#"{"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"response.completed"}"#;
        assert!(completed_response(&event(None, delta)).is_none());
        assert!(completed_response(&event(Some("response.output_text.delta"), delta)).is_none());
    }

    #[test]
    fn an_error_event_is_numbered_after_the_events_before_it() {
        let err = ApiError::invalid_request("bad");
        let sse = error_event(&err, 4);
        let text = std::str::from_utf8(&sse).expect("utf-8");
        let data: Value = serde_json::from_str(
            text.strip_prefix("event: error\ndata: ")
                .and_then(|t| t.strip_suffix("\n\n"))
                .expect("one event"),
        )
        .expect("json");
        assert_eq!(data["type"], "error");
        assert_eq!(data["sequence_number"], 4);
        assert_eq!(data["message"], "bad");
    }
}
