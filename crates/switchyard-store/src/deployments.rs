//! [`DeploymentStore`]: deployments added through the admin API (LiteLLM's `/model/new`), kept
//! in the database beside the configuration file's, so that they survive restarts and every
//! replica serves them. Each is a `model_list` entry as JSON text; a revision number, raised by
//! every change in the same transaction, tells replicas when to read the list again.

use async_trait::async_trait;

use crate::error::StoreError;

/// One stored deployment: a `model_list` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeployment {
    /// Its id (`model_info.id`), by which it is updated and deleted.
    pub id: String,
    /// The model group it serves.
    pub model_name: String,
    /// Its `litellm_params`, as JSON text.
    pub litellm_params: String,
    /// Its `model_info`, as JSON text.
    pub model_info: String,
    /// When it was added, unix seconds.
    pub created_at: i64,
    /// When it last changed, unix seconds.
    pub updated_at: i64,
}

/// Durable deployments; shared as `Arc<dyn DeploymentStore>`.
#[async_trait]
pub trait DeploymentStore: Send + Sync {
    /// Adds `deployment`; [`StoreError::Conflict`] if its id is taken.
    async fn create_deployment(&self, deployment: &StoredDeployment) -> Result<(), StoreError>;

    /// Replaces the deployment with `deployment.id` (keeping its `created_at`);
    /// [`StoreError::NotFound`] if there is none.
    async fn replace_deployment(&self, deployment: &StoredDeployment) -> Result<(), StoreError>;

    /// Deletes deployment `id`; [`StoreError::NotFound`] if there is none.
    async fn delete_deployment(&self, id: &str) -> Result<(), StoreError>;

    /// Every stored deployment, oldest first, with the revision they are as of.
    async fn deployments(&self) -> Result<(u64, Vec<StoredDeployment>), StoreError>;

    /// The revision of the list: it changes whenever a deployment is added, changed or deleted.
    async fn deployments_revision(&self) -> Result<u64, StoreError>;
}

/// Implements [`DeploymentStore`] for a store with a `pool: sqlx::Pool<$db>` field (the same
/// SQL for both databases; see `sql_store!` for why a macro).
macro_rules! sql_deployments {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::deployments::DeploymentStore for $store {
            async fn create_deployment(
                &self,
                d: &$crate::deployments::StoredDeployment,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO deployments (id, model_name, litellm_params, model_info, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&d.id)
                .bind(&d.model_name)
                .bind(&d.litellm_params)
                .bind(&d.model_info)
                .bind(d.created_at)
                .bind(d.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(|error| $crate::StoreError::from_insert(error, "deployment"))?;
                sqlx::query($crate::deployments::BUMP)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn replace_deployment(
                &self,
                d: &$crate::deployments::StoredDeployment,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE deployments SET model_name = $2, litellm_params = $3, \
                     model_info = $4, updated_at = $5 WHERE id = $1",
                )
                .bind(&d.id)
                .bind(&d.model_name)
                .bind(&d.litellm_params)
                .bind(&d.model_info)
                .bind(d.updated_at)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound("deployment"));
                }
                sqlx::query($crate::deployments::BUMP)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_deployment(&self, id: &str) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query("DELETE FROM deployments WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound("deployment"));
                }
                sqlx::query($crate::deployments::BUMP)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn deployments(
                &self,
            ) -> Result<(u64, Vec<$crate::deployments::StoredDeployment>), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let revision: i64 =
                    sqlx::query_scalar("SELECT revision FROM deployments_revision WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await?;
                let rows: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
                    "SELECT id, model_name, litellm_params, model_info, created_at, updated_at \
                     FROM deployments ORDER BY created_at, id",
                )
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let deployments = rows
                    .into_iter()
                    .map(
                        |(id, model_name, litellm_params, model_info, created_at, updated_at)| {
                            $crate::deployments::StoredDeployment {
                                id,
                                model_name,
                                litellm_params,
                                model_info,
                                created_at,
                                updated_at,
                            }
                        },
                    )
                    .collect();
                Ok((u64::try_from(revision).unwrap_or_default(), deployments))
            }

            async fn deployments_revision(&self) -> Result<u64, $crate::StoreError> {
                let revision: i64 =
                    sqlx::query_scalar("SELECT revision FROM deployments_revision WHERE id = 1")
                        .fetch_one(&self.pool)
                        .await?;
                Ok(u64::try_from(revision).unwrap_or_default())
            }
        }
    };
}

pub(crate) use sql_deployments;

/// Raises the revision, inside the change's transaction.
pub(crate) const BUMP: &str =
    "UPDATE deployments_revision SET revision = revision + 1 WHERE id = 1";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

    fn deployment(id: &str, name: &str) -> StoredDeployment {
        StoredDeployment {
            id: id.to_owned(),
            model_name: name.to_owned(),
            litellm_params: r#"{"model":"mock/x"}"#.to_owned(),
            model_info: format!(r#"{{"id":"{id}"}}"#),
            created_at: 10,
            updated_at: 10,
        }
    }

    #[tokio::test]
    async fn deployments_are_added_changed_and_deleted_and_each_change_raises_the_revision() {
        let store = SqliteStore::connect("sqlite::memory:")
            .await
            .expect("store");
        assert_eq!(store.deployments_revision().await.expect("rev"), 0);
        store
            .create_deployment(&deployment("a", "m"))
            .await
            .expect("create");
        assert!(matches!(
            store.create_deployment(&deployment("a", "n")).await,
            Err(StoreError::Conflict("deployment"))
        ));
        let mut changed = deployment("a", "renamed");
        changed.updated_at = 20;
        store.replace_deployment(&changed).await.expect("replace");
        let (revision, all) = store.deployments().await.expect("list");
        assert_eq!(revision, 2, "one add and one change");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].model_name, "renamed");
        assert_eq!((all[0].created_at, all[0].updated_at), (10, 20));
        assert!(matches!(
            store.replace_deployment(&deployment("zz", "m")).await,
            Err(StoreError::NotFound("deployment"))
        ));
        store.delete_deployment("a").await.expect("delete");
        assert!(matches!(
            store.delete_deployment("a").await,
            Err(StoreError::NotFound("deployment"))
        ));
        assert_eq!(store.deployments_revision().await.expect("rev"), 3);
        assert!(store.deployments().await.expect("list").1.is_empty());
    }
}
