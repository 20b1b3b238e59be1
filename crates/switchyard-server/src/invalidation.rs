//! Key changes on every replica at once: when a replica's admin API changes a key, user or team,
//! it announces it on a Redis channel, and every replica (itself included) forgets the
//! identities it remembers, so the next call of a deleted, blocked, narrowed or re-budgeted key
//! reads the database again. A replica whose subscription is down forgets everything each time
//! it reconnects (it may have missed announcements), and until then its identity cache's time
//! to live ([`crate::storage::IDENTITY_TTL`]) bounds how long a change takes to reach it.

use std::time::Duration;

use futures_util::StreamExt;
use moka::future::Cache;
use redis::aio::ConnectionManager;
use tokio::task::JoinHandle;

/// How long an announcement may take before the admin API answers without it.
const ANNOUNCE_WITHIN: Duration = Duration::from_millis(500);
/// The longest wait between two attempts to subscribe again.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// The channel of one gateway's replicas, and this replica's subscription to it.
pub struct Invalidations {
    publisher: ConnectionManager,
    channel: String,
    subscriber: JoinHandle<()>,
}

impl std::fmt::Debug for Invalidations {
    // The connection's own `Debug` would print the URL, password included.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invalidations")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Invalidations {
    /// Subscribes to `channel` on `client`'s Redis, forgetting every entry of `identities` on
    /// each announcement. Needs a tokio runtime.
    pub fn start<K, V>(
        client: redis::Client,
        publisher: ConnectionManager,
        channel: String,
        identities: Cache<K, V>,
    ) -> Self
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let subscriber = tokio::spawn(subscribe(client, channel.clone(), identities));
        Self {
            publisher,
            channel,
            subscriber,
        }
    }

    /// Tells every replica that keys, users or teams changed. Waits at most half a second; a
    /// failure is logged (the other replicas then learn of it within their cache's lifetime).
    pub async fn announce(&self) {
        let mut connection = self.publisher.clone();
        let mut command = redis::cmd("PUBLISH");
        command.arg(&self.channel).arg("changed");
        let publish = command.query_async::<i64>(&mut connection);
        match tokio::time::timeout(ANNOUNCE_WITHIN, publish).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "a key change could not be announced to other replicas");
            }
            Err(_) => {
                tracing::warn!("announcing a key change to other replicas timed out");
            }
        }
    }
}

impl Drop for Invalidations {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

async fn subscribe<K, V>(client: redis::Client, channel: String, identities: Cache<K, V>)
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    // Announcements made while this replica was not listening are lost.
                    identities.invalidate_all();
                    delay = Duration::from_millis(100);
                    let mut messages = pubsub.into_on_message();
                    while messages.next().await.is_some() {
                        identities.invalidate_all();
                    }
                    tracing::warn!("the key-change subscription ended; subscribing again");
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot subscribe to key changes; retrying");
                }
            },
            Err(err) => {
                tracing::warn!(error = %err, "cannot reach Redis for key changes; retrying");
            }
        }
        identities.invalidate_all();
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_RETRY_DELAY);
    }
}
