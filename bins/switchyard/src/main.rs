//! The `switchyard` binary: parses the command line, loads the configuration, starts telemetry
//! (logs, traces) and runs the gateway from `switchyard-server` until SIGTERM or Ctrl-C, then
//! flushes buffered spans. All logic lives in the libraries.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchyard_server::config::{self, LoadedConfig};
use switchyard_server::server::Listeners;
use switchyard_server::{AppState, serve};
use switchyard_telemetry::{Telemetry, TelemetrySettings};

/// mimalloc's thread-local free lists instead of glibc's arenas: a call allocates and frees
/// many small buffers (headers, JSON, spans), mostly on one thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Switchyard: one OpenAI-compatible API in front of every LLM provider.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Configuration file (LiteLLM `config.yaml` layout). Without one, the embedded default
        /// with mock models is served.
        #[arg(short, long, env = "SWITCHYARD_CONFIG")]
        config: Option<PathBuf>,
        /// Port to listen on (0 picks a free one and prints it).
        #[arg(short, long, env = "SWITCHYARD_PORT", default_value_t = 4000)]
        port: u16,
        /// Address to listen on.
        #[arg(long, env = "SWITCHYARD_HOST", default_value = "0.0.0.0")]
        host: IpAddr,
        /// Serving threads, each with its own runtime and listening socket (`SO_REUSEPORT`).
        /// Default: `TOKIO_WORKER_THREADS` if set, else the CPUs this process may use (its
        /// cgroup's CPU quota included).
        #[arg(long, env = "SWITCHYARD_THREADS")]
        threads: Option<usize>,
    },
    /// Validate a configuration file and print what would be ignored.
    Check {
        /// Configuration file to check.
        #[arg(short, long, env = "SWITCHYARD_CONFIG")]
        config: PathBuf,
    },
    /// Print the JSON Schema of the configuration file.
    Schema,
}

fn main() -> ExitCode {
    // mimalloc maps its memory in 2 MiB-aligned arenas; where transparent huge pages are on
    // (`always`, common on Linux hosts), the kernel backs each touched arena page with a 2 MiB
    // page: 12 MiB more at rest and +60 % per idle connection, for no gain in a process this
    // small. Turned off for this process only, before it allocates much.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            config,
            port,
            host,
            threads,
        } => run_server(config, SocketAddr::new(host, port), threads),
        Command::Check { config } => check(&config),
        Command::Schema => print_schema(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: Option<&PathBuf>) -> anyhow::Result<LoadedConfig> {
    let loaded = match path {
        Some(path) => config::load_file(path)?,
        None => config::parse(config::DEFAULT_CONFIG)?,
    };
    Ok(loaded)
}

fn run_server(
    path: Option<PathBuf>,
    addr: SocketAddr,
    threads: Option<usize>,
) -> anyhow::Result<()> {
    // One TLS crypto provider for the whole process, chosen before any client is built.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let loaded = load(path.as_ref())?;
    // The standard OTEL_* variables win over the file's `telemetry` section.
    let telemetry = loaded
        .settings
        .telemetry
        .clone()
        .from_env_over(|name| std::env::var(name).ok())?;
    let threads = serving_threads(threads)?;
    // This thread's runtime runs start-up and the background work (spend writer, reloads,
    // telemetry export); calls are served on `threads` threads of their own (see `serve`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        // Within the runtime: OTLP over gRPC spawns its channel on it.
        let guard = Telemetry::init(&telemetry).context("starting telemetry")?;
        let served = run_gateway(loaded, path, addr, threads).await;
        if let Err(err) = guard.shutdown().await {
            tracing::warn!("flushing traces at shutdown: {err}");
        }
        served
    })
}

/// Serves the gateway until a shutdown signal, once telemetry is up.
async fn run_gateway(
    loaded: LoadedConfig,
    path: Option<PathBuf>,
    addr: SocketAddr,
    threads: usize,
) -> anyhow::Result<()> {
    for warning in &loaded.warnings {
        tracing::warn!("config {warning}");
    }
    match &path {
        Some(path) => tracing::info!("configuration: {}", path.display()),
        None => {
            tracing::info!("no configuration given: serving the embedded default (mock models)")
        }
    }
    if loaded.settings.master_key.is_none() {
        tracing::warn!(
            "no general_settings.master_key: the gateway is open, anyone who can reach it may call it"
        );
    }
    // Within the runtime: connections to Redis and the database are set up as the state is built.
    let state = AppState::new(loaded.settings).await?;
    let listeners = Listeners::bind(addr, threads).with_context(|| format!("binding {addr}"))?;
    let local = listeners.local_addr()?;
    let models: Vec<&str> = state.groups().iter().map(|g| g.name()).collect();
    tracing::info!("models: {}", models.join(", "));
    // Tests and scripts read this line to learn the port when started with `-p 0`.
    println!("switchyard listening on http://{local}");
    let live = switchyard_server::Live::new(state, path);
    serve(listeners, live, shutdown_signal()).await?;
    tracing::info!("shut down");
    Ok(())
}

/// How many serving threads: `--threads`, else `TOKIO_WORKER_THREADS` (the variable Tokio's own
/// runtime reads), else the CPUs available to this process.
fn serving_threads(threads: Option<usize>) -> anyhow::Result<usize> {
    let threads = match threads {
        Some(threads) => threads,
        None => match std::env::var("TOKIO_WORKER_THREADS") {
            Ok(value) => value
                .trim()
                .parse()
                .with_context(|| format!("TOKIO_WORKER_THREADS is not a number: `{value}`"))?,
            Err(_) => std::thread::available_parallelism().map_or(1, usize::from),
        },
    };
    anyhow::ensure!(
        threads > 0,
        "the number of serving threads must be at least 1"
    );
    Ok(threads)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received: finishing open requests");
}

fn check(path: &Path) -> anyhow::Result<()> {
    // Logs only (no OTLP export): nothing here is traced.
    let _telemetry = Telemetry::init(&TelemetrySettings::default())?;
    let loaded = config::load_file(path)?;
    for warning in &loaded.warnings {
        println!("warning: {warning}");
    }
    let groups = loaded
        .settings
        .deployments
        .iter()
        .map(|d| d.model_name.as_str())
        .collect::<std::collections::BTreeSet<_>>();
    println!(
        "{}: valid ({} deployments in {} model groups, {} warnings)",
        path.display(),
        loaded.settings.deployments.len(),
        groups.len(),
        loaded.warnings.len()
    );
    Ok(())
}

fn print_schema() -> anyhow::Result<()> {
    let schema = serde_json::to_string_pretty(&config::json_schema())?;
    println!("{schema}");
    Ok(())
}
