//! `cargo xtask test`: the whole test suite, as README and CI run it.
//!
//! 0. `scripts/services.sh`: PostgreSQL and Redis installed and started when they do not answer,
//!    Jaeger built once into a cache; their addresses and Jaeger's path go to the tests in
//!    `SWITCHYARD_TEST_DATABASE_URL`, `SWITCHYARD_TEST_REDIS_URL` and `SWITCHYARD_JAEGER_BIN`.
//! 1. `cargo test --workspace` (unit tests and the end-to-end tests in `tests/`).
//! 2. The client tests in `tests/clients/`: the official OpenAI (and Anthropic) Python SDKs,
//!    installed from PyPI into a throwaway virtualenv under `target/`, drive a real gateway
//!    process built from this tree; and the admin UI's browser test (`test_admin_ui.py`):
//!    Playwright from PyPI driving Debian's Chromium headless (`/usr/bin/chromium`, installed by
//!    `scripts/services.sh`), with screenshots of each page under `target/ui-screenshots/`.

use std::path::Path;
use std::process::Command;

use anyhow::Context;

use crate::{cargo, exec, root};

/// Runs every test; `extra` goes to `cargo test`.
pub fn run(extra: &[String]) -> anyhow::Result<()> {
    let env = services()?;
    // The end-to-end tests run the real binary as a process, so it is built first.
    exec(cargo().args(["build", "-p", "switchyard"]))?;
    exec(
        cargo()
            .args(["test", "--workspace"])
            .args(extra)
            .envs(env.iter().cloned()),
    )?;
    client_tests(&env)
}

/// The services the tests talk to, up; the variables that point the tests at them (a value
/// already in the environment wins, and `scripts/services.sh` reads the same variables).
fn services() -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut env = Vec::new();
    for (variable, default) in [
        ("SWITCHYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379"),
        (
            "SWITCHYARD_TEST_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        ),
    ] {
        let value = std::env::var(variable).unwrap_or_else(|_| default.to_owned());
        env.push((variable, value));
    }
    let script = root().join("scripts/services.sh");
    exec(Command::new("bash").arg(&script).envs(env.iter().cloned()))?;
    let jaeger = match std::env::var("SWITCHYARD_JAEGER_BIN") {
        Ok(path) => path,
        Err(_) => {
            let out = Command::new("bash")
                .arg(&script)
                .arg("jaeger-path")
                .output()
                .context("asking scripts/services.sh where Jaeger is")?;
            anyhow::ensure!(
                out.status.success(),
                "scripts/services.sh jaeger-path failed"
            );
            String::from_utf8(out.stdout)
                .context("Jaeger's path")?
                .trim()
                .to_owned()
        }
    };
    env.push(("SWITCHYARD_JAEGER_BIN", jaeger));
    Ok(env)
}

/// `cargo xtask spend-scale`: the admin UI's spend queries on a million spend records
/// (`SWITCHYARD_SCALE_ROWS` changes the count) in SQLite and in the PostgreSQL the services
/// script brings up, built in release so that SQLite's C code is optimized as it is in the
/// shipped binary; the timings are printed as Markdown table rows.
pub fn spend_scale() -> anyhow::Result<()> {
    let env = services()?;
    exec(
        cargo()
            .args([
                "test",
                "--release",
                "-p",
                "switchyard-store",
                "--test",
                "spend_scale",
                "--",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .envs(env.iter().cloned()),
    )
}

fn client_tests(env: &[(&'static str, String)]) -> anyhow::Result<()> {
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
            .env("SWITCHYARD_BIN", binary)
            .envs(env.iter().cloned()),
    )
}
