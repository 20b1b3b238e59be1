//! LiteLLM's price list (`model_prices_and_context_window.json`) turned into the catalog's compact
//! data file. `cargo xtask prices` writes the result to `data/prices.json`; a test here checks that
//! the committed file is still what the shared copy of LiteLLM's list gives.

use serde_json::{Map, Value};

use super::catalog::{COLUMNS, Mode, Row};
use super::error::{CatalogError, check_price};

/// The data file for LiteLLM's price list `source`.
///
/// Keeps the models whose `mode` is `chat`, `completion`, `embedding` or `responses` and that
/// have an input or output price per token, with the [catalog's fields](super::PriceCatalog) only,
/// sorted by name: one model per line, so a new LiteLLM release shows as a readable diff. The same
/// `source` always gives the same bytes.
pub fn data_file(source: &str) -> Result<String, CatalogError> {
    let models: Map<String, Value> = serde_json::from_str(source)?;
    let mut rows = Vec::new();
    for (name, spec) in &models {
        // LiteLLM documents the fields in a fake model at the top of the file.
        if name == "sample_spec" {
            continue;
        }
        if let Some(row) = row_of(name, spec)? {
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));

    let mut out = format!(
        "{{\"fields\":{},\n\"models\":[\n",
        serde_json::to_string(COLUMNS)?
    );
    for (i, row) in rows.iter().enumerate() {
        let separator = if i + 1 < rows.len() { ",\n" } else { "\n" };
        out.push_str(&serde_json::to_string(row)?);
        out.push_str(separator);
    }
    out.push_str("]}\n");
    Ok(out)
}

/// The row for one of LiteLLM's models, or `None` when the catalog does not keep it.
fn row_of(name: &str, spec: &Value) -> Result<Option<Row>, CatalogError> {
    let field_error =
        |field: &'static str, found: &Value, expected: &'static str| CatalogError::Field {
            model: name.to_owned(),
            field,
            found: found.to_string(),
            expected,
        };
    let Some(spec) = spec.as_object() else {
        return Err(field_error("name", spec, "an object of model fields"));
    };
    let Some(mode) = spec
        .get("mode")
        .and_then(Value::as_str)
        .and_then(Mode::from_litellm)
    else {
        return Ok(None);
    };
    let provider = match spec.get("litellm_provider") {
        Some(Value::String(provider)) => provider.clone(),
        found => {
            let found = found.unwrap_or(&Value::Null);
            return Err(field_error("litellm_provider", found, "a provider name"));
        }
    };
    let price = |field: &'static str| match spec.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(found) => found
            .as_f64()
            .and_then(|value| check_price(field, value).ok())
            .map(Some)
            .ok_or_else(|| field_error(field, found, "a non-negative number")),
    };
    let count = |field: &'static str| match spec.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(found) => found
            .as_u64()
            .map(Some)
            .ok_or_else(|| field_error(field, found, "a whole number of tokens")),
    };
    let input = price(COLUMNS[3])?;
    let output = price(COLUMNS[4])?;
    if input.is_none() && output.is_none() {
        return Ok(None);
    }
    Ok(Some(Row(
        name.to_owned(),
        provider,
        mode,
        input,
        output,
        price(COLUMNS[5])?,
        price(COLUMNS[6])?,
        count(COLUMNS[7])?,
        count(COLUMNS[8])?,
    )))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::cost::PriceCatalog;
    use crate::cost::catalog::DATA_FILE;

    const SOURCE: &str = r#"{
        "sample_spec": {"mode": "chat", "litellm_provider": "one of ...", "input_cost_per_token": 0.0},
        "zeta": {"mode": "chat", "litellm_provider": "openai", "input_cost_per_token": 1e-06,
                 "output_cost_per_token": 2e-06, "cache_read_input_token_cost": 5e-07,
                 "max_input_tokens": 128000, "max_output_tokens": 16384, "supports_vision": true},
        "alpha-embed": {"mode": "embedding", "litellm_provider": "mistral",
                        "input_cost_per_token": 1e-07},
        "dall-e": {"mode": "image_generation", "litellm_provider": "openai",
                   "input_cost_per_token": 1e-06},
        "per-second": {"mode": "chat", "litellm_provider": "bedrock",
                       "input_cost_per_second": 0.001},
        "no-mode": {"litellm_provider": "openai", "input_cost_per_token": 1e-06}
    }"#;

    #[test]
    fn keeps_priced_models_of_the_kept_modes_sorted() {
        let data = data_file(SOURCE).expect("converts");
        assert_eq!(
            data,
            concat!(
                r#"{"fields":["name","provider","mode","input_cost_per_token","#,
                r#""output_cost_per_token","cache_read_input_token_cost","#,
                r#""cache_creation_input_token_cost","max_input_tokens","max_output_tokens"],"#,
                "\n\"models\":[\n",
                r#"["alpha-embed","mistral","embedding",1e-7,null,null,null,null,null],"#,
                "\n",
                r#"["zeta","openai","chat",1e-6,2e-6,5e-7,null,128000,16384]"#,
                "\n]}\n",
            )
        );
        let catalog = PriceCatalog::from_json(&data).expect("reads back");
        assert_eq!(catalog.len(), 2);
        assert_eq!(data_file(SOURCE).expect("converts"), data, "deterministic");
    }

    #[test]
    fn an_empty_list_gives_an_empty_catalog() {
        let data = data_file("{}").expect("converts");
        assert!(
            PriceCatalog::from_json(&data)
                .expect("reads back")
                .is_empty()
        );
    }

    #[test]
    fn rejects_values_that_cannot_be_prices() {
        for (spec, field) in [
            (r#"{"m": 1}"#, "name"),
            (
                r#"{"m": {"mode": "chat", "input_cost_per_token": 1e-6}}"#,
                "litellm_provider",
            ),
            (
                r#"{"m": {"mode": "chat", "litellm_provider": "p", "input_cost_per_token": "1e-6"}}"#,
                "input_cost_per_token",
            ),
            (
                r#"{"m": {"mode": "chat", "litellm_provider": "p", "output_cost_per_token": -1}}"#,
                "output_cost_per_token",
            ),
            (
                r#"{"m": {"mode": "chat", "litellm_provider": "p", "input_cost_per_token": 0,
                   "max_input_tokens": 1.5}}"#,
                "max_input_tokens",
            ),
        ] {
            match data_file(spec) {
                Err(CatalogError::Field {
                    model, field: f, ..
                }) => {
                    assert_eq!((model.as_str(), f), ("m", field), "{spec}");
                }
                other => panic!("{spec}: {other:?}"),
            }
        }
        assert!(matches!(data_file("[]"), Err(CatalogError::Json(_))));
    }

    /// The committed data file must be what `cargo xtask prices` makes of the shared copy of
    /// LiteLLM's list, so the two never drift apart.
    #[test]
    fn the_committed_data_file_is_generated_from_the_shared_source() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/model_prices_and_context_window.json");
        let source = match std::fs::read_to_string(&path) {
            Ok(source) => source,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                println!("skipped: {} is absent", path.display());
                return;
            }
            Err(err) => panic!("reading {}: {err}", path.display()),
        };
        let generated = data_file(&source).expect("LiteLLM's list converts");
        if generated != DATA_FILE {
            let line = generated
                .lines()
                .zip(DATA_FILE.lines())
                .position(|(new, old)| new != old)
                .map_or_else(|| "the end".to_owned(), |i| format!("line {}", i + 1));
            panic!(
                "data/prices.json differs from {} from {line} on; run `cargo xtask prices`",
                path.display()
            );
        }
    }
}
