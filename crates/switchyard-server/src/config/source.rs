//! The configuration's text turned into one document before it is typed, as LiteLLM prepares
//! its own: the YAML read with PyYAML's rules ([`super::yaml`]), the files named by `include:`
//! merged in, the top-level `environment_variables` laid over the process environment, and
//! every `os.environ/NAME` value, wherever it stands, replaced by the variable's value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{ConfigError, ConfigWarning, yaml};

/// The prefix by which a value names an environment variable instead of holding the value.
pub const ENV_PREFIX: &str = "os.environ/";

/// A configuration document ready to be typed.
#[derive(Debug, Default)]
pub struct Source {
    /// The merged, resolved document (an empty mapping for an empty text).
    pub document: Value,
    /// The `environment_variables` section: variables the configuration sets, which win over
    /// the process environment for every lookup the configuration makes.
    pub variables: BTreeMap<String, String>,
}

/// Where `include:` paths are looked up: the directory of the file that names them. Text that
/// came from no file may include none.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The directory of the configuration file; `None` for text that came from no file.
    pub dir: Option<PathBuf>,
}

/// The largest file `include:` reads.
const MAX_INCLUDE_BYTES: u64 = 16 * 1024 * 1024;

impl Origin {
    /// The origin of the file at `path`.
    pub fn of_file(path: &Path) -> Self {
        Self {
            dir: Some(
                path.parent()
                    .map(Path::to_owned)
                    .unwrap_or_else(|| PathBuf::from(".")),
            ),
        }
    }

    /// Reads the included file `name`: a regular file, relative to the including file's
    /// directory, of at most [`MAX_INCLUDE_BYTES`].
    fn read(&self, name: &str) -> Result<String, ConfigError> {
        let Some(dir) = &self.dir else {
            return Err(ConfigError::invalid(
                "include",
                "only a configuration file may include others (`switchyard serve -c FILE`)",
            ));
        };
        let path = dir.join(name);
        let read_error = |source| ConfigError::Read {
            path: path.clone(),
            source,
        };
        let meta = std::fs::metadata(&path).map_err(read_error)?;
        if !meta.is_file() || meta.len() > MAX_INCLUDE_BYTES {
            return Err(ConfigError::invalid(
                format!("include ({name})"),
                "must name a regular file of at most 16 MiB",
            ));
        }
        std::fs::read_to_string(&path).map_err(read_error)
    }
}

/// Adds `deployments` (stored `model_list` entries) to the document's `model_list`, their
/// `os.environ/NAME` values resolved like the file's; an unset variable is an error naming the
/// deployment.
pub fn add_deployments(
    document: &mut Value,
    deployments: &[Value],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let Value::Object(root) = document else {
        return Ok(());
    };
    let list = root
        .entry("model_list")
        .or_insert_with(|| Value::Array(Vec::new()));
    if list.is_null() {
        *list = Value::Array(Vec::new());
    }
    let Value::Array(list) = list else {
        return Err(ConfigError::invalid("model_list", "must be a list"));
    };
    for deployment in deployments {
        let mut deployment = deployment.clone();
        let id = deployment["model_info"]["id"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        let mut path = format!("model_list[stored {id}]");
        resolve_env(&mut deployment, &mut path, env, &|_| false)?;
        list.push(deployment);
    }
    Ok(())
}

/// Reads `text` into one document: includes merged, variables resolved.
///
/// `skip_env` says which paths may keep an `os.environ/NAME` whose variable is not set (keys
/// that are only warned about and never used); anywhere else that is an error at the path.
pub fn read(
    text: &str,
    origin: &Origin,
    env: &dyn Fn(&str) -> Option<String>,
    skip_env: &dyn Fn(&str) -> bool,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Source, ConfigError> {
    let mut document = parse_yaml(text, "", warnings)?;
    if document.is_null() {
        document = Value::Object(Map::new());
    }
    let Value::Object(root) = &mut document else {
        return Err(ConfigError::invalid(
            "(top level)",
            "a configuration is a mapping of sections (`model_list`, `litellm_settings`, ...)",
        ));
    };
    if let Some(include) = root.remove("include") {
        for (index, name) in include_names(include)?.into_iter().enumerate() {
            let text = origin.read(&name)?;
            let prefix = format!("include[{index}] ({name}): ");
            let included = parse_yaml(&text, &prefix, warnings)?;
            merge_included(root, included, &name, warnings)?;
        }
    }
    let variables = match root.remove("environment_variables") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(map)) => map
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (name, text)
            })
            .collect(),
        Some(_) => {
            return Err(ConfigError::invalid(
                "environment_variables",
                "must be a mapping of variable names to values",
            ));
        }
    };
    let lookup = |name: &str| variables.get(name).cloned().or_else(|| env(name));
    resolve_env(&mut document, &mut String::new(), &lookup, skip_env)?;
    Ok(Source {
        document,
        variables,
    })
}

fn parse_yaml(
    text: &str,
    prefix: &str,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Value, ConfigError> {
    let doc = yaml::load(text)
        .map_err(|err| ConfigError::invalid(format!("{prefix}(YAML)"), err.to_string()))?;
    for path in doc.duplicate_keys {
        warnings.push(ConfigWarning {
            path: format!("{prefix}{path}"),
            message: "given more than once: the last value is used, as LiteLLM does".to_owned(),
        });
    }
    Ok(doc.value)
}

/// `include: file.yaml` or `include: [a.yaml, b.yaml]`.
fn include_names(include: Value) -> Result<Vec<String>, ConfigError> {
    let invalid = || ConfigError::invalid("include", "must be a file name or a list of them");
    match include {
        Value::String(name) => Ok(vec![name]),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(name) => Ok(name),
                _ => Err(invalid()),
            })
            .collect(),
        _ => Err(invalid()),
    }
}

/// Merges an included file into the including one, section by section: lists (such as
/// `model_list`) are joined, the including file's list first; mappings take the keys they do
/// not set themselves; a value both set is the including file's, with a warning.
fn merge_included(
    root: &mut Map<String, Value>,
    included: Value,
    name: &str,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    let included = match included {
        Value::Null => return Ok(()),
        Value::Object(map) => map,
        _ => {
            return Err(ConfigError::invalid(
                format!("include ({name})"),
                "an included file is a mapping of sections, as a configuration is",
            ));
        }
    };
    if included.contains_key("include") {
        return Err(ConfigError::invalid(
            format!("include ({name}).include"),
            "an included file may not include others",
        ));
    }
    for (section, value) in included {
        match (root.get_mut(&section), value) {
            (None, value) => {
                root.insert(section, value);
            }
            (Some(Value::Array(mine)), Value::Array(theirs)) => mine.extend(theirs),
            (Some(Value::Object(mine)), Value::Object(theirs)) => {
                for (key, value) in theirs {
                    if mine.contains_key(&key) {
                        warnings.push(ConfigWarning {
                            path: format!("{section}.{key}"),
                            message: format!(
                                "also set in the included `{name}`; the including file's value is used"
                            ),
                        });
                    } else {
                        mine.insert(key, value);
                    }
                }
            }
            (Some(_), _) => {
                warnings.push(ConfigWarning {
                    path: section.clone(),
                    message: format!(
                        "also set in the included `{name}`; the including file's value is used"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Replaces every `os.environ/NAME` string in `value` by the variable's value.
fn resolve_env(
    value: &mut Value,
    path: &mut String,
    env: &dyn Fn(&str) -> Option<String>,
    skip: &dyn Fn(&str) -> bool,
) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => {
            if let Some(name) = text.strip_prefix(ENV_PREFIX) {
                match env(name) {
                    Some(resolved) => *text = resolved,
                    None if skip(path) => {}
                    None => {
                        return Err(ConfigError::invalid(
                            path.clone(),
                            format!("environment variable `{name}` is not set"),
                        ));
                    }
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                resolve_env(item, path, env, skip)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                resolve_env(item, path, env, skip)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "FROM_PROCESS").then(|| "process".to_owned())
    }

    fn read_text(text: &str, origin: &Origin) -> Result<(Source, Vec<ConfigWarning>), ConfigError> {
        let mut warnings = Vec::new();
        let source = read(
            text,
            origin,
            &env,
            &|path| path.contains("callback"),
            &mut warnings,
        )?;
        Ok((source, warnings))
    }

    #[test]
    fn os_environ_is_resolved_anywhere_and_environment_variables_win() {
        let text = "
environment_variables:
  MINE: from-config
  FROM_PROCESS: overridden
model_list:
  - model_name: m
    litellm_params: {model: os.environ/MINE, api_base: os.environ/FROM_PROCESS}
router_settings:
  redis_host: os.environ/MINE
";
        let (source, _) = read_text(text, &Origin::default()).expect("valid");
        let doc = &source.document;
        assert_eq!(
            doc["model_list"][0]["litellm_params"]["model"],
            json!("from-config")
        );
        assert_eq!(
            doc["model_list"][0]["litellm_params"]["api_base"],
            json!("overridden")
        );
        assert_eq!(doc["router_settings"]["redis_host"], json!("from-config"));
        assert!(doc.get("environment_variables").is_none());
        assert_eq!(source.variables["MINE"], "from-config");
    }

    #[test]
    fn a_missing_variable_is_an_error_at_its_path_unless_the_key_is_unused() {
        let err = read_text(
            "router_settings:\n  redis_host: os.environ/NOPE\n",
            &Origin::default(),
        )
        .expect_err("missing");
        assert!(
            err.to_string().contains("router_settings.redis_host"),
            "{err}"
        );
        assert!(err.to_string().contains("NOPE"), "{err}");
        let (source, _) = read_text(
            "litellm_settings:\n  success_callback_key: os.environ/NOPE\n",
            &Origin::default(),
        )
        .expect("skipped");
        assert_eq!(
            source.document["litellm_settings"]["success_callback_key"],
            json!("os.environ/NOPE")
        );
    }

    #[test]
    fn included_files_are_merged_relative_to_the_including_file() {
        let dir = std::env::temp_dir().join(format!("switchyard-include-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(
            dir.join("models.yaml"),
            "model_list:\n  - model_name: b\n    litellm_params: {model: mock/b}\nlitellm_settings:\n  drop_params: true\n  request_timeout: 5\n",
        )
        .expect("write");
        let text = "include:\n  - models.yaml\nmodel_list:\n  - model_name: a\n    litellm_params: {model: mock/a}\nlitellm_settings:\n  request_timeout: 9\n";
        let origin = Origin::of_file(&dir.join("config.yaml"));
        let (source, warnings) = read_text(text, &origin).expect("valid");
        let names: Vec<_> = source.document["model_list"]
            .as_array()
            .expect("list")
            .iter()
            .map(|m| m["model_name"].clone())
            .collect();
        assert_eq!(names, [json!("a"), json!("b")]);
        assert_eq!(
            source.document["litellm_settings"]["request_timeout"],
            json!(9)
        );
        assert_eq!(
            source.document["litellm_settings"]["drop_params"],
            json!(true)
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].path, "litellm_settings.request_timeout");
        let err = read_text("include: missing.yaml\n", &origin).expect_err("no such file");
        assert!(err.to_string().contains("missing.yaml"), "{err}");
        let err = read_text("include: /dev/zero\n", &origin).expect_err("not a regular file");
        assert!(err.to_string().contains("regular file"), "{err}");
        let err = read_text("include: models.yaml\n", &Origin::default()).expect_err("no file");
        assert!(
            err.to_string().contains("only a configuration file"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_top_level_that_is_not_a_mapping_is_refused() {
        assert!(read_text("- a\n- b\n", &Origin::default()).is_err());
        let (source, _) = read_text("", &Origin::default()).expect("empty is fine");
        assert_eq!(source.document, json!({}));
    }
}
