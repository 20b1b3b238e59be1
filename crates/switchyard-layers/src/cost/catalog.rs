//! The price catalog: every model's list price and context window, from the data file kept in the
//! repository (`data/prices.json`, generated from LiteLLM's price list by `cargo xtask prices`),
//! embedded in the binary and parsed once on first use.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::error::{CatalogError, check_price};
use super::price::ModelPrice;

/// The data file, as committed.
pub(crate) const DATA_FILE: &str = include_str!("../../data/prices.json");

/// The columns of the data file, in order (LiteLLM's field names, `name` and `provider` aside).
pub(crate) const COLUMNS: &[&str] = &[
    "name",
    "provider",
    "mode",
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "max_input_tokens",
    "max_output_tokens",
];

static EMBEDDED: LazyLock<PriceCatalog> = LazyLock::new(|| {
    PriceCatalog::from_json(DATA_FILE).expect(
        "crates/switchyard-layers/data/prices.json is a valid price file; \
         regenerate it with `cargo xtask prices`",
    )
});

/// What kind of call a model serves, as LiteLLM's `mode` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Mode {
    /// Chat completions.
    Chat,
    /// Legacy text completions.
    Completion,
    /// Embeddings.
    Embedding,
    /// OpenAI's Responses API only.
    Responses,
}

impl Mode {
    /// The mode LiteLLM names `name`, if it is one the catalog keeps.
    pub fn from_litellm(name: &str) -> Option<Self> {
        match name {
            "chat" => Some(Self::Chat),
            "completion" => Some(Self::Completion),
            "embedding" => Some(Self::Embedding),
            "responses" => Some(Self::Responses),
            _ => None,
        }
    }
}

/// One model of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    /// The name the catalog lists it under (`gpt-4o-mini`, `gemini/gemini-2.5-flash`).
    pub name: String,
    /// The provider that serves it at this price (LiteLLM's `litellm_provider`).
    pub provider: String,
    /// The kind of call it serves.
    pub mode: Mode,
    /// Its list price.
    pub price: ModelPrice,
    /// The most prompt tokens it accepts, when known.
    pub max_input_tokens: Option<u64>,
    /// The most tokens it generates in one answer, when known.
    pub max_output_tokens: Option<u64>,
}

/// One line of the data file: the [`COLUMNS`], in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Row(
    pub(crate) String,
    pub(crate) String,
    pub(crate) Mode,
    pub(crate) Option<f64>,
    pub(crate) Option<f64>,
    pub(crate) Option<f64>,
    pub(crate) Option<f64>,
    pub(crate) Option<u64>,
    pub(crate) Option<u64>,
);

/// The data file: its column names, then one row per model.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DataFile {
    fields: Vec<String>,
    models: Vec<Row>,
}

/// Model prices by model name.
///
/// [`PriceCatalog::embedded`] is the list shipped with Switchyard:
///
/// ```
/// use switchyard_layers::cost::{PriceCatalog, Tokens, cost_of, cost_of_tokens};
/// use switchyard_wire::Usage;
///
/// let catalog = PriceCatalog::embedded();
/// let sonnet = catalog.get("anthropic/claude-sonnet-4-5").expect("listed");
/// assert_eq!((sonnet.name.as_str(), sonnet.provider.as_str()), ("claude-sonnet-4-5", "anthropic"));
///
/// // 2,000 x $3e-6 + 100 x $1.5e-5, exactly (costs are rounded to the catalog's 12 places).
/// let usage = Usage::new(2_000, 100);
/// assert_eq!(cost_of(&sonnet.price, &usage).usd, 0.0075);
///
/// // Anthropic reports prompt tokens written to its cache apart; they cost more:
/// // 500 x $3e-6 + 1,500 x $3.75e-6 + 100 x $1.5e-5.
/// let tokens = Tokens::from(&usage).with_cache_write(1_500);
/// assert_eq!(cost_of_tokens(&sonnet.price, tokens).usd, 0.008625);
///
/// assert!(catalog.get("my-company/secret-model").is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceCatalog {
    models: BTreeMap<String, CatalogEntry>,
}

impl PriceCatalog {
    /// The catalog shipped in the binary, parsed on first use and shared from then on.
    pub fn embedded() -> &'static PriceCatalog {
        &EMBEDDED
    }

    /// Reads a catalog from the data file's format (see `data/README.md`).
    pub fn from_json(text: &str) -> Result<Self, CatalogError> {
        let file: DataFile = serde_json::from_str(text)?;
        if file.fields != COLUMNS {
            return Err(CatalogError::Columns {
                found: file.fields,
                expected: COLUMNS,
            });
        }
        let mut models = BTreeMap::new();
        for row in file.models {
            let entry = entry_of(row)?;
            if models.contains_key(&entry.name) {
                return Err(CatalogError::Duplicate(entry.name));
            }
            models.insert(entry.name.clone(), entry);
        }
        Ok(Self { models })
    }

    /// The entry for `model` as a deployment names it.
    ///
    /// The exact name comes first (`gpt-4o-mini`, `azure/gpt-4o`, `groq/openai/gpt-oss-120b`);
    /// failing that, a `provider/model` name falls back to `model`, since LiteLLM lists many
    /// models only under their bare name (`anthropic/claude-sonnet-4-5` finds `claude-sonnet-4-5`).
    /// The fallback trusts that a provider sells a model at its maker's list price, which is what
    /// LiteLLM assumes too.
    pub fn get(&self, model: &str) -> Option<&CatalogEntry> {
        if let Some(entry) = self.models.get(model) {
            return Some(entry);
        }
        let (_provider, bare) = model.split_once('/')?;
        self.models.get(bare)
    }

    /// Every entry, by name.
    pub fn iter(&self) -> impl Iterator<Item = &CatalogEntry> {
        self.models.values()
    }

    /// How many models the catalog lists.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether the catalog lists no model.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

/// Checks one row and makes it an entry.
fn entry_of(row: Row) -> Result<CatalogEntry, CatalogError> {
    let Row(name, provider, mode, input, output, cache_read, cache_write, max_in, max_out) = row;
    let price = |field: &'static str, value: Option<f64>| {
        value
            .map(|value| check_price(field, value))
            .transpose()
            .map_err(|err| CatalogError::Field {
                model: name.clone(),
                field,
                found: err.value.to_string(),
                expected: "a non-negative number",
            })
    };
    let price = ModelPrice {
        input_per_token: price(COLUMNS[3], input)?.unwrap_or(0.0),
        output_per_token: price(COLUMNS[4], output)?.unwrap_or(0.0),
        cache_read_per_token: price(COLUMNS[5], cache_read)?,
        cache_write_per_token: price(COLUMNS[6], cache_write)?,
    };
    Ok(CatalogEntry {
        name,
        provider,
        mode,
        price,
        max_input_tokens: max_in,
        max_output_tokens: max_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"fields":["name","provider","mode","input_cost_per_token","output_cost_per_token","cache_read_input_token_cost","cache_creation_input_token_cost","max_input_tokens","max_output_tokens"],"models":["#;

    fn catalog(rows: &str) -> Result<PriceCatalog, CatalogError> {
        PriceCatalog::from_json(&format!("{HEADER}{rows}]}}"))
    }

    #[test]
    fn the_embedded_catalog_parses_and_holds_hundreds_of_chat_models() {
        let catalog = PriceCatalog::embedded();
        let chat = catalog.iter().filter(|e| e.mode == Mode::Chat).count();
        assert!(chat >= 300, "only {chat} chat models");
        assert!(catalog.len() > 1_000, "only {} models", catalog.len());
        assert!(std::ptr::eq(catalog, PriceCatalog::embedded()), "shared");
        for mode in [Mode::Completion, Mode::Embedding, Mode::Responses] {
            assert!(catalog.iter().any(|e| e.mode == mode), "no {mode:?} model");
        }
    }

    #[test]
    fn finds_exact_names_first() {
        let catalog = PriceCatalog::embedded();
        let azure = catalog.get("azure/gpt-4o").expect("azure/gpt-4o");
        assert_eq!(
            (azure.name.as_str(), azure.provider.as_str()),
            ("azure/gpt-4o", "azure")
        );
        let gemini = catalog.get("gemini/gemini-2.5-flash").expect("gemini");
        assert_eq!(gemini.provider, "gemini");
        let vertex = catalog.get("gemini-2.5-flash").expect("bare gemini");
        assert_eq!(vertex.provider, "vertex_ai-language-models");
        let groq = catalog.get("groq/openai/gpt-oss-120b").expect("groq");
        assert_eq!(groq.provider, "groq");
        let deepseek = catalog.get("deepseek/deepseek-chat").expect("deepseek");
        assert_eq!(deepseek.name, "deepseek/deepseek-chat");
        let openai = catalog.get("gpt-4o-mini").expect("gpt-4o-mini");
        assert_eq!(
            (openai.provider.as_str(), openai.mode),
            ("openai", Mode::Chat)
        );
        assert_eq!(openai.max_input_tokens, Some(128_000));
        assert_eq!(openai.max_output_tokens, Some(16_384));
    }

    #[test]
    fn falls_back_from_provider_prefix_to_the_bare_name() {
        let catalog = PriceCatalog::embedded();
        for (asked, found) in [
            ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
            ("openai/gpt-4o-mini", "gpt-4o-mini"),
            ("vertex_ai/gemini-2.5-flash", "gemini-2.5-flash"),
        ] {
            let entry = catalog
                .get(asked)
                .unwrap_or_else(|| panic!("{asked} not found"));
            assert_eq!(entry.name, found, "{asked}");
        }
    }

    #[test]
    fn unknown_models_are_not_found() {
        let catalog = PriceCatalog::embedded();
        for name in ["", "no-such-model", "azure/my-deployment", "openai/", "/"] {
            assert_eq!(catalog.get(name), None, "{name}");
        }
    }

    #[test]
    fn reads_a_small_catalog() {
        let catalog = catalog(
            r#"["m","p","chat",1e-6,2e-6,null,null,1000,null],
               ["emb","p","embedding",1e-8,null,null,null,null,null]"#,
        )
        .expect("valid");
        assert_eq!(catalog.len(), 2);
        let m = catalog.get("p/m").expect("m");
        assert_eq!(m.price.input_per_token, 1e-6);
        assert_eq!(m.price.output_per_token, 2e-6);
        assert_eq!(m.price.cache_read_per_token, None);
        assert_eq!(
            (m.max_input_tokens, m.max_output_tokens),
            (Some(1000), None)
        );
        let emb = catalog.get("emb").expect("emb");
        assert_eq!(
            (emb.mode, emb.price.output_per_token),
            (Mode::Embedding, 0.0)
        );
        assert!(
            PriceCatalog::from_json(&format!("{HEADER}]}}"))
                .expect("empty")
                .is_empty()
        );
    }

    #[test]
    fn rejects_bad_files() {
        let negative = catalog(r#"["m","p","chat",-1e-6,0,null,null,null,null]"#);
        assert!(
            matches!(&negative, Err(CatalogError::Field { model, field: "input_cost_per_token", .. }) if model == "m"),
            "{negative:?}"
        );
        let twice = catalog(
            r#"["m","p","chat",0,0,null,null,null,null],["m","q","chat",0,0,null,null,null,null]"#,
        );
        assert!(matches!(twice, Err(CatalogError::Duplicate(name)) if name == "m"));
        let mode = catalog(r#"["m","p","image_generation",0,0,null,null,null,null]"#);
        assert!(matches!(mode, Err(CatalogError::Json(_))), "{mode:?}");
        let short = catalog(r#"["m","p","chat",0,0]"#);
        assert!(matches!(short, Err(CatalogError::Json(_))), "{short:?}");
        let columns = PriceCatalog::from_json(r#"{"fields":["name"],"models":[]}"#);
        assert!(
            matches!(columns, Err(CatalogError::Columns { .. })),
            "{columns:?}"
        );
        assert!(matches!(
            PriceCatalog::from_json("{"),
            Err(CatalogError::Json(_))
        ));
    }
}
