//! `cargo xtask`: the project's chores as one Rust program (matklad's convention), so no shell
//! script hides an assumption.
//!
//! - `cargo xtask test`: every test: the Rust workspace, then the official-SDK client tests.
//! - `cargo xtask bench`: added latency and throughput of the gateway against a fast local
//!   upstream, and its peak memory.
//! - `cargo xtask soak`: the gateway under steady mixed traffic for minutes: memory must level
//!   off and nothing unexpected fail.
//! - `cargo xtask schema`: regenerate `deploy/config.schema.json` from the config types.
//! - `cargo xtask prices`: regenerate the embedded price catalog from LiteLLM's price list.
//! - `cargo xtask spend-scale`: the admin UI's spend queries timed on a million spend records in
//!   SQLite and PostgreSQL (`crates/switchyard-store/tests/spend_scale.rs`, in release).

mod bench;
mod prices;
mod soak;
mod test;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match task.as_str() {
        "test" => test::run(&rest),
        "bench" => bench::run(&rest),
        // The bench's own target (`bench/floor.rs`), started by `bench` as a process of its own.
        "bench-floor" => bench::floor::serve(&rest),
        "soak" => soak::run(&rest),
        "schema" => schema(),
        "prices" => prices::run(&rest),
        "spend-scale" => test::spend_scale(),
        _ => {
            eprintln!("usage: cargo xtask <test|bench|soak|schema|prices|spend-scale>");
            eprintln!("  test    run every test: the Rust workspace, then the SDK client tests");
            eprintln!("  bench   measure the gateway's added latency, throughput and memory");
            eprintln!("  soak    run steady mixed traffic for minutes; memory must level off");
            eprintln!("  schema  write deploy/config.schema.json from the config types");
            eprintln!("  prices  write the embedded price catalog from LiteLLM's price list");
            eprintln!(
                "  spend-scale  time the admin UI's spend queries on 1M rows, SQLite and PostgreSQL"
            );
            bail!("unknown task `{task}`")
        }
    }
}

/// The workspace root (the parent of this crate's folder).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command in the workspace root, failing if it fails.
pub fn exec(command: &mut Command) -> anyhow::Result<()> {
    eprintln!("xtask: running {command:?}");
    let status = command
        .current_dir(root())
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

/// The cargo that runs this xtask.
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

fn schema() -> anyhow::Result<()> {
    let out = cargo()
        .args(["run", "--quiet", "-p", "switchyard", "--", "schema"])
        .current_dir(root())
        .output()
        .context("running switchyard schema")?;
    if !out.status.success() {
        bail!(
            "switchyard schema failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = root().join("deploy/config.schema.json");
    std::fs::write(&path, &out.stdout).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}
