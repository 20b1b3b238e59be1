//! `cargo xtask test`: the whole test suite, as README and CI run it.
//!
//! 1. `cargo test --workspace` (unit tests and the end-to-end tests in `tests/`).
//! 2. The client tests in `tests/clients/`: the official OpenAI (and Anthropic) Python SDKs,
//!    installed from PyPI into a throwaway virtualenv under `target/`, drive a real gateway
//!    process built from this tree.

use std::path::Path;
use std::process::Command;

use anyhow::Context;

use crate::{cargo, exec, root};

/// Runs every test; `extra` goes to `cargo test`.
pub fn run(extra: &[String]) -> anyhow::Result<()> {
    // The end-to-end tests run the real binary as a process, so it is built first.
    exec(cargo().args(["build", "-p", "switchyard"]))?;
    exec(cargo().args(["test", "--workspace"]).args(extra))?;
    client_tests()
}

fn client_tests() -> anyhow::Result<()> {
    let root = root();
    let venv = root.join("target/client-venv");
    let python = venv.join("bin/python");
    let requirements = root.join("tests/clients/requirements.txt");
    let stamp = venv.join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let installed = std::fs::read_to_string(&stamp).unwrap_or_default();
    if !python.exists() || installed != wanted {
        let interpreter = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
        exec(
            Command::new(interpreter)
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
        )?;
        exec(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements),
        )?;
        std::fs::write(&stamp, wanted).context("recording the installed requirements")?;
    }
    let binary = root.join("target/debug/switchyard");
    exec(
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(Path::new("tests/clients"))
            .env("SWITCHYARD_BIN", binary),
    )
}
