//! [`ResponseStore`]: responses of OpenAI's Responses API kept for retrieval and for
//! `previous_response_id`, each with the conversation that led to it, scoped to the key that
//! created it. The gateway owns their shapes; here they are JSON text. Responses passed
//! through to an upstream's own Responses API are kept the same way, with the deployment that
//! holds them, so that only their key may continue them.

use async_trait::async_trait;

use crate::error::StoreError;

/// One stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The response's id (`resp_...`).
    pub id: String,
    /// The key that created it; only it may read or delete it.
    pub key_id: String,
    /// The response object, as JSON text.
    pub response: String,
    /// The input items that led to it, as a JSON array.
    pub conversation: String,
    /// When it was created, unix seconds.
    pub created_at: i64,
    /// The deployment holding the response upstream, when it was passed through to the
    /// upstream's own Responses API; `None` when the gateway alone holds it.
    pub deployment: Option<String>,
}

/// Durable responses; shared as `Arc<dyn ResponseStore>`.
#[async_trait]
pub trait ResponseStore: Send + Sync {
    /// Keeps `response`; [`StoreError::Conflict`] if its id is taken.
    async fn save_response(&self, response: &StoredResponse) -> Result<(), StoreError>;

    /// The response `id` of key `key_id`; `None` if there is none, or another key's.
    async fn response(&self, key_id: &str, id: &str) -> Result<Option<StoredResponse>, StoreError>;

    /// Deletes the response `id` of key `key_id`; [`StoreError::NotFound`] if there is none,
    /// or it is another key's.
    async fn delete_response(&self, key_id: &str, id: &str) -> Result<(), StoreError>;
}

/// Implements [`ResponseStore`] for a store with a `pool: sqlx::Pool<$db>` field (the same SQL
/// for both databases; see `sql_store!` for why a macro).
macro_rules! sql_responses {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::responses::ResponseStore for $store {
            async fn save_response(
                &self,
                r: &$crate::responses::StoredResponse,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO responses (id, key_id, response, conversation, created_at, deployment) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&r.id)
                .bind(&r.key_id)
                .bind(&r.response)
                .bind(&r.conversation)
                .bind(r.created_at)
                .bind(&r.deployment)
                .execute(&self.pool)
                .await
                .map_err(|error| $crate::StoreError::from_insert(error, "response"))?;
                Ok(())
            }

            async fn response(
                &self,
                key_id: &str,
                id: &str,
            ) -> Result<Option<$crate::responses::StoredResponse>, $crate::StoreError> {
                type Row = (String, String, String, String, i64, Option<String>);
                let row: Option<Row> = sqlx::query_as(
                    "SELECT id, key_id, response, conversation, created_at, deployment \
                     FROM responses \
                     WHERE id = $1 AND key_id = $2",
                )
                .bind(id)
                .bind(key_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(
                    |(id, key_id, response, conversation, created_at, deployment)| {
                        $crate::responses::StoredResponse {
                            id,
                            key_id,
                            response,
                            conversation,
                            created_at,
                            deployment,
                        }
                    },
                ))
            }

            async fn delete_response(
                &self,
                key_id: &str,
                id: &str,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query("DELETE FROM responses WHERE id = $1 AND key_id = $2")
                    .bind(id)
                    .bind(key_id)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound("response"));
                }
                Ok(())
            }
        }
    };
}

pub(crate) use sql_responses;
