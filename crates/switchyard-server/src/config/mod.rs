//! Configuration: reading a LiteLLM-style `config.yaml` (or the embedded default), warning about
//! keys we do not know, and failing with the key's path on values we cannot use.
//!
//! Loading is two steps (vector's habit): [`file::ConfigFile`] is the documented user-facing
//! shape; [`settings::Settings`] is what the gateway runs on, validated once at start.

pub mod budgets;
pub mod experiments;
pub mod file;
pub mod layers;
pub mod routing;
pub mod rules;
pub mod settings;
pub mod shared_usage;
pub mod storage;

use std::fmt;
use std::path::{Path, PathBuf};

pub use file::ConfigFile;
pub use settings::{DeploymentSettings, ProviderSettings, Settings};

/// The configuration served when none is given: mock models, no key, no external service.
pub const DEFAULT_CONFIG: &str = include_str!("default.yaml");

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file named.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A value is missing, malformed or out of range.
    #[error("invalid configuration at `{path}`: {reason}")]
    Invalid {
        /// Where in the file, such as `model_list[0].litellm_params.timeout`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Something in the configuration that is ignored, such as an unknown key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Where in the file.
    pub path: String,
    /// What is ignored and why.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.path, self.message)
    }
}

/// A configuration ready to run, with what was ignored on the way.
#[derive(Debug)]
pub struct LoadedConfig {
    /// The validated settings.
    pub settings: Settings,
    /// Keys and values that were ignored.
    pub warnings: Vec<ConfigWarning>,
}

/// Reads and validates a configuration file, resolving `os.environ/NAME` from the process
/// environment.
pub fn load_file(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text)
}

/// Parses and validates configuration text, resolving `os.environ/NAME` from the process
/// environment.
pub fn parse(text: &str) -> Result<LoadedConfig, ConfigError> {
    parse_with_env(text, &|name| std::env::var(name).ok())
}

/// Parses and validates configuration text, resolving `os.environ/NAME` with `env`.
pub fn parse_with_env(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    let (file, mut warnings) = parse_file(text)?;
    let settings = Settings::from_file(file, env, &mut warnings)?;
    Ok(LoadedConfig { settings, warnings })
}

/// Parses configuration text into the user-facing shape, collecting unknown keys as warnings.
pub fn parse_file(text: &str) -> Result<(ConfigFile, Vec<ConfigWarning>), ConfigError> {
    if text.trim().is_empty() {
        return Ok((ConfigFile::default(), Vec::new()));
    }
    let mut warnings = Vec::new();
    let deserializer = yaml_serde::Deserializer::from_str(text);
    let mut on_unknown = |path: serde_ignored::Path<'_>| {
        warnings.push(ConfigWarning {
            path: path_string(&path),
            message: "unknown key, ignored".to_owned(),
        });
    };
    let ignored = serde_ignored::Deserializer::new(deserializer, &mut on_unknown);
    let file: ConfigFile = serde_path_to_error::deserialize(ignored).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." {
            "(top level)".to_owned()
        } else {
            path
        };
        ConfigError::invalid(path, err.into_inner().to_string())
    })?;
    Ok((file, warnings))
}

/// `model_list[0].litellm_params.foo`, the way the error paths are written.
fn path_string(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", path_string(parent)),
        P::Map { parent, key } => {
            let parent = path_string(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            path_string(parent)
        }
    }
}

/// The JSON Schema of the configuration file, for editors and `switchyard schema`.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(ConfigFile)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_embedded_default_loads_without_warnings() {
        let loaded = parse_with_env(DEFAULT_CONFIG, &no_env).expect("default config is valid");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert!(loaded.settings.master_key.is_none());
        assert!(loaded.settings.deployments.len() >= 2);
    }

    #[test]
    fn unknown_keys_are_warned_about_by_path() {
        let text = "
model_list:
  - model_name: m
    litellm_params:
      model: mock/m
      frobnicate: 3
general_settings:
  colour: blue
";
        let loaded = parse_with_env(text, &no_env).expect("valid");
        let paths: Vec<_> = loaded.warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "model_list[0].litellm_params.frobnicate",
                "general_settings.colour"
            ]
        );
    }

    #[test]
    fn a_malformed_value_fails_with_its_path() {
        let text = "
model_list:
  - model_name: m
    litellm_params:
      model: mock/m
      timeout: soon
";
        let err = parse_with_env(text, &no_env).expect_err("invalid");
        let ConfigError::Invalid { path, reason } = &err else {
            panic!("{err}")
        };
        assert_eq!(path, "model_list[0].litellm_params.timeout");
        assert!(reason.contains("invalid type"), "{reason}");
    }

    #[test]
    fn a_missing_required_key_fails_with_its_parent_path() {
        let err = parse_with_env(
            "model_list:\n  - litellm_params: {model: mock/x}\n",
            &no_env,
        )
        .expect_err("invalid");
        let message = err.to_string();
        assert!(message.contains("model_list[0]"), "{message}");
        assert!(message.contains("model_name"), "{message}");
    }

    #[test]
    fn the_schema_names_the_litellm_keys() {
        let schema = json_schema().to_string();
        for key in ["model_list", "litellm_params", "api_base", "master_key"] {
            assert!(schema.contains(key), "{key} missing from the schema");
        }
    }
}
