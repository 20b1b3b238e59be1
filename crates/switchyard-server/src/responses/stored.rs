//! Responses kept in the store ([`switchyard_store::ResponseStore`]), each scoped to the key
//! that created it: another key's lookups find nothing (404), as if it did not exist. Those
//! passed through to an upstream's Responses API are kept as the upstream sent them
//! ([`super::native`]), with the deployment that holds their conversation.

use std::sync::Arc;

use switchyard_store::{ResponseStore, StoreError, StoredResponse};
use switchyard_wire::responses::{Item, Response};

use crate::admin::store_error;
use crate::caller::Caller;
use crate::error::{ApiError, echo};
use crate::state::AppState;

/// The conversation a new response continues from `previous_response_id`: the stored
/// response's input items, then its output. 400 when the calling key stored no such response,
/// as OpenAI answers, or when the response is held upstream (passed through to a deployment's
/// own Responses API, which alone has its conversation).
pub async fn conversation(
    state: &AppState,
    caller: &Caller,
    previous_response_id: &str,
) -> Result<Vec<Item>, ApiError> {
    let stored = owned(state, caller, previous_response_id).await?;
    if let Some(deployment) = &stored.deployment {
        return Err(ApiError::invalid_request(format!(
            "Previous response with id '{}' is held by deployment `{deployment}`'s own \
             Responses API: continue it on a model group of OpenAI or Azure OpenAI deployments.",
            echo(previous_response_id)
        )));
    }
    conversation_of(&stored)
}

/// The response `previous_response_id` of the calling key, to continue; 400 when there is
/// none, as OpenAI answers.
pub async fn owned(
    state: &AppState,
    caller: &Caller,
    previous_response_id: &str,
) -> Result<StoredResponse, ApiError> {
    state
        .storage()
        .responses()
        .response(&caller.key_id, previous_response_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ApiError::invalid_request(format!(
                "Previous response with id '{}' not found.",
                echo(previous_response_id)
            ))
        })
}

/// A response the gateway holds as the conversation it ends: its input items, then its output.
pub fn conversation_of(stored: &StoredResponse) -> Result<Vec<Item>, ApiError> {
    let mut items: Vec<Item> = serde_json::from_str(&stored.conversation)
        .map_err(|e| ApiError::internal(format!("a stored conversation is unreadable: {e}")))?;
    let response: Response = serde_json::from_str(&stored.response)
        .map_err(|e| ApiError::internal(format!("a stored response is unreadable: {e}")))?;
    items.extend(response.output);
    Ok(items)
}

/// The response `id` of the calling key; 404 otherwise.
pub async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<StoredResponse, ApiError> {
    state
        .storage()
        .responses()
        .response(&caller.key_id, id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(id))
}

/// Deletes the response `id` of the calling key; 404 otherwise.
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    match state
        .storage()
        .responses()
        .delete_response(&caller.key_id, id)
        .await
    {
        Err(StoreError::NotFound(_)) => Err(not_found(id)),
        other => other.map_err(store_error),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Response with id '{}' not found.", echo(id)))
}

/// Keeps a response once it is complete, with the conversation that led to it, for the key
/// that asked for it.
pub struct Keeper {
    store: Arc<dyn ResponseStore>,
    key_id: Arc<str>,
    conversation: Vec<Item>,
}

impl Keeper {
    /// A keeper for `caller`'s response to `conversation`.
    pub fn new(state: &AppState, caller: &Caller, conversation: Vec<Item>) -> Self {
        Self {
            store: Arc::clone(state.storage().responses()),
            key_id: Arc::clone(&caller.key_id),
            conversation,
        }
    }

    /// Stores `response`. A failure is logged, not answered: the client has its response, and
    /// only a later `previous_response_id` or `GET` of it will miss it.
    pub async fn keep(self, response: &Response) {
        let (Ok(text), Ok(conversation)) = (
            serde_json::to_string(response),
            serde_json::to_string(&self.conversation),
        ) else {
            tracing::error!(response = %response.id, "a response could not be written as JSON");
            return;
        };
        let stored = StoredResponse {
            id: response.id.clone(),
            key_id: self.key_id.to_string(),
            response: text,
            conversation,
            created_at: i64::try_from(response.created_at).unwrap_or(i64::MAX),
            deployment: None,
        };
        if let Err(err) = self.store.save_response(&stored).await {
            tracing::error!(response = %response.id, error = %err, "a response could not be stored");
        }
    }
}
