//! `cargo xtask prices`: regenerate `crates/switchyard-layers/data/prices.json`, the price catalog
//! embedded in Switchyard, from LiteLLM's `model_prices_and_context_window.json`.
//!
//! Options: `--source PATH` (default `../shared/data/model_prices_and_context_window.json`, from
//! the workspace root) and `--check`, which fails instead of writing when the file would change.

use std::path::PathBuf;

use anyhow::{Context, bail};
use switchyard_layers::cost::{PriceCatalog, litellm};

use crate::root;

/// The data file, relative to the workspace root.
const DATA_FILE: &str = "crates/switchyard-layers/data/prices.json";

/// Writes (or with `--check`, verifies) the data file.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut source = root().join("../shared/data/model_prices_and_context_window.json");
    let mut check = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--source" => {
                source = args
                    .next()
                    .map(PathBuf::from)
                    .context("--source needs a path")?;
            }
            "--check" => check = true,
            other => bail!("unknown argument `{other}`; usage: prices [--source PATH] [--check]"),
        }
    }

    let text = std::fs::read_to_string(&source)
        .with_context(|| format!("reading {}", source.display()))?;
    let data =
        litellm::data_file(&text).with_context(|| format!("converting {}", source.display()))?;
    let models = PriceCatalog::from_json(&data)
        .context("reading back the generated data file")?
        .len();

    let out = root().join(DATA_FILE);
    if check {
        let committed =
            std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
        if committed != data {
            bail!("{DATA_FILE} is out of date; run `cargo xtask prices`");
        }
        eprintln!("xtask: {DATA_FILE} is up to date ({models} models)");
    } else {
        std::fs::write(&out, &data).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("xtask: wrote {models} models to {DATA_FILE}");
    }
    Ok(())
}
