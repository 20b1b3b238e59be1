//! Configuration: reading a LiteLLM-style `config.yaml` (or the embedded default), warning about
//! keys we do not know, and failing with the key's path on values we cannot use.
//!
//! Loading is two steps (vector's habit): [`file::ConfigFile`] is the documented user-facing
//! shape; [`settings::Settings`] is what the gateway runs on, validated once at start.

pub mod budgets;
pub mod experiments;
pub mod file;
pub mod layers;
pub mod litellm_keys;
pub mod routing;
pub mod rules;
pub mod settings;
pub mod shared_usage;
pub mod source;
pub mod storage;
pub mod yaml;

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
    /// Keys the gateway cannot honour as the configuration asks (each with what to do).
    #[error("the configuration asks for what Switchyard does not do:{}", list(.0))]
    Refused(Vec<ConfigWarning>),
    /// A value is missing, malformed or out of range.
    #[error("invalid configuration at `{path}`: {reason}")]
    Invalid {
        /// Where in the file, such as `model_list[0].litellm_params.timeout`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn list(refusals: &[ConfigWarning]) -> String {
    refusals.iter().map(|r| format!("\n  {r}")).collect()
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
/// environment; `include:` paths are relative to the file's directory.
pub fn load_file(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    load(&text, &source::Origin::of_file(path), &process_env)
}

/// [`load_file`] with `os.environ/NAME` resolved by `env`.
pub fn load_file_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    load(&text, &source::Origin::of_file(path), env)
}

/// Parses and validates configuration text, resolving `os.environ/NAME` from the process
/// environment.
pub fn parse(text: &str) -> Result<LoadedConfig, ConfigError> {
    parse_with_env(text, &process_env)
}

/// Parses and validates configuration text, resolving `os.environ/NAME` with `env`.
pub fn parse_with_env(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    load(text, &source::Origin::default(), env)
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn load(
    text: &str,
    origin: &source::Origin,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    load_with_stored(text, origin, env, &[])
}

/// Reads and validates a configuration with the deployments the admin API stored
/// (`/model/new`) joining its `model_list`, after the file's own, each judged and checked as a
/// deployment of the file is. `origin` locates `include:`d files.
pub fn load_with_stored(
    text: &str,
    origin: &source::Origin,
    env: &dyn Fn(&str) -> Option<String>,
    stored: &[serde_json::Value],
) -> Result<LoadedConfig, ConfigError> {
    let mut warnings = Vec::new();
    let mut source = source::read(
        text,
        origin,
        env,
        &litellm_keys::may_stay_unresolved,
        &mut warnings,
    )?;
    if !stored.is_empty() {
        source::add_deployments(&mut source.document, stored, env)?;
    }
    let file = typed(source.document, &mut warnings)?;
    // `environment_variables` win over the process environment for every lookup, as LiteLLM
    // sets them in its environment before reading anything.
    let variables = source.variables;
    let env = |name: &str| variables.get(name).cloned().or_else(|| env(name));
    let settings = Settings::from_file(file, &env, &mut warnings)?;
    Ok(LoadedConfig { settings, warnings })
}

/// Parses configuration text into the user-facing shape (without `include:`s, with
/// `os.environ/` resolved from the process environment), with its warnings.
pub fn parse_file(text: &str) -> Result<(ConfigFile, Vec<ConfigWarning>), ConfigError> {
    let mut warnings = Vec::new();
    let source = source::read(
        text,
        &source::Origin::default(),
        &process_env,
        &litellm_keys::may_stay_unresolved,
        &mut warnings,
    )?;
    let file = typed(source.document, &mut warnings)?;
    Ok((file, warnings))
}

/// The document as [`ConfigFile`]; keys it does not take are judged by [`litellm_keys`]:
/// warned about, or refused.
fn typed(
    document: serde_json::Value,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ConfigFile, ConfigError> {
    let mut unknown = Vec::new();
    let mut on_unknown = |path: serde_ignored::Path<'_>| unknown.push(path_string(&path));
    let ignored = serde_ignored::Deserializer::new(document, &mut on_unknown);
    let mut file: ConfigFile = serde_path_to_error::deserialize(ignored).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." {
            "(top level)".to_owned()
        } else {
            path
        };
        ConfigError::invalid(path, err.into_inner().to_string())
    })?;
    // serde_ignored cannot see through `flatten`; these sections collect their unknown keys.
    let flattened = [
        ("litellm_settings", Some(&file.litellm_settings.unknown)),
        ("router_settings", Some(&file.router_settings.unknown)),
        (
            "litellm_settings.cache_params",
            file.litellm_settings
                .cache_params
                .as_ref()
                .map(|c| &c.unknown),
        ),
    ];
    for (section, keys) in flattened {
        for key in keys.into_iter().flat_map(|k| k.keys()) {
            unknown.push(format!("{section}.{key}"));
        }
    }
    // A deployment's other keys are request parameters (`litellm_params`) or information
    // (`model_info`), except those LiteLLM documents as settings of its own, which are judged
    // like any other key.
    for (index, entry) in file.model_list.iter_mut().enumerate() {
        let path = format!("model_list[{index}]");
        take_documented(
            &mut entry.litellm_params.request_defaults,
            &path,
            "litellm_params",
            &mut unknown,
        );
        take_documented(
            &mut entry.model_info.extra,
            &path,
            "model_info",
            &mut unknown,
        );
    }
    let verdict = litellm_keys::judge(&unknown, &file.general_settings.allow_unenforced_controls);
    if !verdict.refusals.is_empty() {
        return Err(ConfigError::Refused(verdict.refusals));
    }
    warnings.extend(verdict.warnings);
    Ok(file)
}

/// Moves the keys of a deployment's open-ended `section` that [`litellm_keys`] knows out of
/// `map`, into `unknown` by path, to be judged.
fn take_documented(
    map: &mut std::collections::BTreeMap<String, serde_json::Value>,
    deployment: &str,
    section: &str,
    unknown: &mut Vec<String>,
) {
    let documented: Vec<String> = map
        .keys()
        .filter(|key| litellm_keys::handling(&format!("model_list[].{section}.{key}")).is_some())
        .cloned()
        .collect();
    for key in documented {
        map.remove(&key);
        unknown.push(format!("{deployment}.{section}.{key}"));
    }
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
    fn unknown_keys_are_warned_about_by_path_and_deployment_keys_are_request_parameters() {
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
        assert_eq!(paths, ["general_settings.colour"]);
        assert!(!loaded.settings.deployments[0].request_params.is_empty());
    }

    #[test]
    fn documented_keys_are_refused_or_warned_saying_what_happens_instead() {
        let text = "
model_list:
  - model_name: m
    litellm_params: {model: mock/m, azure_username: u}
litellm_settings:
  success_callback: [langfuse]
general_settings:
  custom_auth: my_module.auth
";
        let err = parse_with_env(text, &no_env).expect_err("refused");
        let ConfigError::Refused(refusals) = &err else {
            panic!("{err}")
        };
        let paths: Vec<_> = refusals.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "general_settings.custom_auth",
                "model_list[0].litellm_params.azure_username"
            ]
        );
        assert!(
            err.to_string().contains("allow_unenforced_controls"),
            "{err}"
        );
        let allowed = text
            .replace("azure_username: u", "temperature: 0.1")
            .replace(
                "custom_auth: my_module.auth",
                "custom_auth: x\n  allow_unenforced_controls: [custom_auth]",
            );
        let loaded = parse_with_env(&allowed, &no_env).expect("loads once allowed");
        let messages: Vec<_> = loaded.warnings.iter().map(|w| w.to_string()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("custom_auth") && m.contains("NOT enforced")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("success_callback") && m.contains("OpenTelemetry")),
            "{messages:?}"
        );
    }

    #[test]
    fn yaml_1_1_numbers_and_environment_variables_work_as_in_litellm() {
        let text = "
environment_variables:
  MOCK_TEXT: from the file
model_list:
  - model_name: m
    litellm_params: {model: mock/m, rpm: 20_000, mock_response: os.environ/MOCK_TEXT}
";
        let loaded = parse_with_env(text, &no_env).expect("valid");
        assert_eq!(loaded.settings.deployments[0].limits.rpm, Some(20_000));
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
