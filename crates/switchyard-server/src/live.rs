//! The configuration the gateway serves, swappable while it serves (hot reload), and whether it
//! is draining for shutdown.
//!
//! Every request takes the [`AppState`] current when it arrives (axum's `FromRef`, one atomic
//! load) and keeps it to its end, so a reload never changes a call halfway: calls in flight
//! finish on the deployments they started with while new calls see the new ones. A reload
//! builds the whole new state first and swaps it in only when it is valid; an invalid file is
//! logged and the old configuration keeps serving. The database, spend writer and identity
//! cache carry over; changes to `database_url` and `max_request_size_mb` take a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use axum::extract::FromRef;

use crate::config::source::Origin;
use crate::config::{ConfigError, DEFAULT_CONFIG, load_with_stored};
use crate::server::{ConnectionCount, ServingRuntimes};
use crate::state::{AppState, BuildError};

/// Why a reload was refused (the old configuration keeps serving).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The gateway was started without a configuration file.
    #[error("the gateway serves its embedded default configuration: there is no file to reload")]
    NoFile,
    /// The file could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The new configuration could not be assembled (a provider adapter, Redis URL...).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The deployments added through the admin API could not be read.
    #[error("the stored deployments cannot be read: {0}")]
    Store(#[from] switchyard_store::StoreError),
}

/// The served state, swappable; cheap to clone.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    current: ArcSwap<AppState>,
    /// Bumped on every swap, so the tasks of the served state can follow it.
    generation: tokio::sync::watch::Sender<u64>,
    source: Option<PathBuf>,
    draining: AtomicBool,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    /// The revision of the stored deployments the served state includes (`u64::MAX` before
    /// they were first read).
    deployments_revision: AtomicU64,
    /// Client connections open, counted by the server loop.
    connections: Arc<ConnectionCount>,
    /// The runtimes serving connections, one per serving thread.
    runtimes: Arc<ServingRuntimes>,
    /// The admin UI's sessions, kept across reloads.
    ui_sessions: crate::ui::Sessions,
    /// How the last rebuild ended, for the admin UI.
    last_reload: arc_swap::ArcSwapOption<ReloadOutcome>,
}

/// How a rebuild of the served state ended: when, and the error that refused it, if one did.
#[derive(Debug, Clone)]
pub struct ReloadOutcome {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Why the new configuration was refused; `None` when it is served.
    pub error: Option<String>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("source", &self.inner.source)
            .field("draining", &self.is_draining())
            .field("reloads", &self.reloads())
            .field("reload_failures", &self.reload_failures())
            .finish_non_exhaustive()
    }
}

impl Live {
    /// Serves `state`, read from the file at `source` if there is one.
    pub fn new(state: AppState, source: Option<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner {
                current: ArcSwap::from_pointee(state),
                generation: tokio::sync::watch::Sender::new(0),
                source,
                draining: AtomicBool::new(false),
                reloads: AtomicU64::new(0),
                reload_failures: AtomicU64::new(0),
                reloading: tokio::sync::Mutex::new(()),
                deployments_revision: AtomicU64::new(u64::MAX),
                connections: Arc::new(ConnectionCount::default()),
                runtimes: Arc::new(ServingRuntimes::default()),
                ui_sessions: crate::ui::Sessions::default(),
                last_reload: arc_swap::ArcSwapOption::empty(),
            }),
        }
    }

    /// The state new calls get.
    pub fn current(&self) -> AppState {
        AppState::clone(&self.inner.current.load())
    }

    /// The count of open client connections the server loop keeps.
    pub fn connections(&self) -> &Arc<ConnectionCount> {
        &self.inner.connections
    }

    /// The runtimes serving connections, one per serving thread.
    pub fn runtimes(&self) -> &Arc<ServingRuntimes> {
        &self.inner.runtimes
    }

    /// The admin UI's sessions.
    pub fn ui_sessions(&self) -> &crate::ui::Sessions {
        &self.inner.ui_sessions
    }

    /// How the last rebuild (a reload, or a change of the stored deployments) ended; `None`
    /// before the first.
    pub fn last_reload(&self) -> Option<Arc<ReloadOutcome>> {
        self.inner.last_reload.load_full()
    }

    /// The configuration file, if the gateway was started with one.
    pub fn source(&self) -> Option<&Path> {
        self.inner.source.as_deref()
    }

    /// Reads the configuration file again and, when it is valid, serves it from now on.
    /// Answers the new state; on error the old one keeps serving.
    pub async fn reload(&self) -> Result<AppState, ReloadError> {
        if self.inner.source.is_none() {
            return Err(ReloadError::NoFile);
        }
        self.rebuild().await
    }

    /// Builds the served state again from the configuration (the file, or the embedded
    /// default) and the deployments stored through the admin API, and serves it when valid;
    /// on error the old one keeps serving.
    pub async fn rebuild(&self) -> Result<AppState, ReloadError> {
        let _one_at_a_time = self.inner.reloading.lock().await;
        let rebuilt = self.swap_in().await;
        if rebuilt.is_err() {
            self.inner.reload_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.last_reload.store(Some(Arc::new(ReloadOutcome {
            at_ms: crate::storage::unix_seconds().saturating_mul(1_000),
            error: rebuilt.as_ref().err().map(ToString::to_string),
        })));
        rebuilt
    }

    /// The configuration's text (the file, or the embedded default) and where its includes are.
    pub(crate) async fn config_text(&self) -> Result<(String, Origin), ConfigError> {
        match self.inner.source.as_deref() {
            Some(path) => {
                let text =
                    tokio::fs::read_to_string(path)
                        .await
                        .map_err(|source| ConfigError::Read {
                            path: path.to_owned(),
                            source,
                        })?;
                Ok((text, Origin::of_file(path)))
            }
            None => Ok((DEFAULT_CONFIG.to_owned(), Origin::default())),
        }
    }

    /// Checks the configuration with `stored` as its stored deployments, without serving it.
    pub async fn check_with_stored(
        &self,
        stored: &[switchyard_store::StoredDeployment],
    ) -> Result<(), ConfigError> {
        let (text, origin) = self.config_text().await?;
        let stored: Vec<serde_json::Value> = stored.iter().map(stored_entry).collect();
        load_with_stored(&text, &origin, &|name| std::env::var(name).ok(), &stored).map(|_| ())
    }

    async fn swap_in(&self) -> Result<AppState, ReloadError> {
        let (text, origin) = self.config_text().await?;
        let current = self.current();
        let (revision, stored) = current.storage().deployments().deployments().await?;
        let stored: Vec<serde_json::Value> = stored.iter().map(stored_entry).collect();
        let loaded = load_with_stored(&text, &origin, &|name| std::env::var(name).ok(), &stored)?;
        for warning in &loaded.warnings {
            tracing::warn!("config {warning}");
        }
        let state = current.reconfigured(loaded.settings)?;
        self.inner.current.store(Arc::new(state.clone()));
        self.inner
            .deployments_revision
            .store(revision, Ordering::Relaxed);
        self.inner.reloads.fetch_add(1, Ordering::Relaxed);
        self.inner.generation.send_modify(|n| *n += 1);
        tracing::info!(
            source = %self.inner.source.as_deref().map_or("(embedded default)".into(), |p| p.display().to_string()),
            stored_deployments = stored.len(),
            "configuration rebuilt"
        );
        Ok(state)
    }

    /// Rebuilds when the stored deployments changed since the served state was built (another
    /// replica added, changed or removed one). Answers whether it rebuilt.
    pub async fn follow_stored_deployments(&self) -> Result<bool, ReloadError> {
        let revision = self
            .current()
            .storage()
            .deployments()
            .deployments_revision()
            .await?;
        let served = self.inner.deployments_revision.load(Ordering::Relaxed);
        if revision == served {
            return Ok(false);
        }
        if served == u64::MAX && revision == 0 {
            // Nothing was ever stored: the state built from the configuration is complete.
            self.inner.deployments_revision.store(0, Ordering::Relaxed);
            return Ok(false);
        }
        self.rebuild().await.map(|_| true)
    }

    /// How many reloads succeeded.
    pub fn reloads(&self) -> u64 {
        self.inner.reloads.load(Ordering::Relaxed)
    }

    /// How many reloads were refused (the file was unreadable or invalid).
    pub fn reload_failures(&self) -> u64 {
        self.inner.reload_failures.load(Ordering::Relaxed)
    }

    /// Marks the gateway as shutting down: readiness answers 503 from now on.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Relaxed);
    }

    /// Whether the gateway is shutting down.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Relaxed)
    }
}

/// Runs the background work of the served state (usage sync with other replicas, the rate
/// limiter's sweeping), restarting it for each new state after a reload. Stops when dropped.
#[derive(Debug)]
pub struct StateTasks(tokio::task::JoinHandle<()>);

impl Drop for StateTasks {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Watches the configuration file: reloads when its content changes (checked every `every`,
/// which also catches Kubernetes' ConfigMap updates, made by swapping a symlink) and on
/// `SIGHUP`. Stops when dropped.
#[derive(Debug)]
pub struct Watcher(tokio::task::JoinHandle<()>);

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Live {
    /// Starts the served state's background work, following reloads. Needs a tokio runtime.
    pub fn start_state_tasks(&self) -> StateTasks {
        let live = self.clone();
        let mut generation = self.inner.generation.subscribe();
        StateTasks(tokio::spawn(async move {
            loop {
                let state = live.current();
                let _usage_sync = state.start_usage_sync();
                let _sweeper = state.start_rate_limit_sweeper();
                if generation.changed().await.is_err() {
                    return;
                }
            }
        }))
    }

    /// Starts watching the configuration file, when there is one. Needs a tokio runtime.
    pub fn watch(&self, every: std::time::Duration) -> Option<Watcher> {
        let path = self.inner.source.clone()?;
        let live = self.clone();
        Some(Watcher(tokio::spawn(async move {
            let mut seen = std::fs::read(&path).ok();
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            #[cfg(unix)]
            let mut hangups =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            loop {
                #[cfg(unix)]
                let hangup = async {
                    match hangups.as_mut() {
                        Some(signal) => signal.recv().await,
                        None => std::future::pending().await,
                    }
                };
                #[cfg(not(unix))]
                let hangup = std::future::pending::<Option<()>>();
                let forced = tokio::select! {
                    _ = ticks.tick() => false,
                    _ = hangup => true,
                };
                let now = tokio::fs::read(&path).await.ok();
                if !forced && (now.is_none() || now == seen) {
                    continue;
                }
                seen = now;
                if let Err(err) = live.reload().await {
                    tracing::error!(
                        error = %err,
                        "the new configuration is not used; the previous one keeps serving"
                    );
                }
            }
        })))
    }
}

/// A stored deployment as the `model_list` entry it was added as, its id as `model_info.id`.
fn stored_entry(deployment: &switchyard_store::StoredDeployment) -> serde_json::Value {
    let parse = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .unwrap_or_else(|_| serde_json::Value::Object(serde_json::Map::new()))
    };
    let mut info = parse(&deployment.model_info);
    if let serde_json::Value::Object(map) = &mut info {
        map.insert("id".to_owned(), deployment.id.clone().into());
    }
    serde_json::json!({
        "model_name": deployment.model_name,
        "litellm_params": parse(&deployment.litellm_params),
        "model_info": info,
    })
}

/// Follows the deployments stored through the admin API: checks their revision every `every`
/// and rebuilds when another replica changed them. Stops when dropped.
#[derive(Debug)]
pub struct DeploymentFollower(tokio::task::JoinHandle<()>);

impl Drop for DeploymentFollower {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Live {
    /// Starts following the stored deployments. Needs a tokio runtime.
    pub fn follow_deployments(&self, every: std::time::Duration) -> DeploymentFollower {
        let live = self.clone();
        DeploymentFollower(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticks.tick().await;
                match live.follow_stored_deployments().await {
                    Ok(_) => failing = false,
                    Err(err) if !failing => {
                        failing = true;
                        tracing::error!(
                            error = %err,
                            "the stored deployments cannot be followed; the current ones keep serving"
                        );
                    }
                    Err(_) => {}
                }
            }
        }))
    }
}

impl FromRef<Live> for AppState {
    fn from_ref(live: &Live) -> Self {
        live.current()
    }
}
