//! Validated runtime settings: what the gateway runs on once the file has been checked.
//! Secrets (`os.environ/NAME`) are resolved here, and every bad value is reported with its path.

use std::fmt;
use std::time::Duration;

use switchyard_providers::mock::MockSettings;
use switchyard_providers::openai::{OPENAI_API_BASE, OpenAiSettings};

use super::file::{ConfigFile, LitellmParams, ModelEntry};
use super::{ConfigError, ConfigWarning};

/// Upstream time allowed when neither the deployment nor `litellm_settings` names one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Request body limit when `general_settings.max_request_size_mb` is unset.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// What the gateway runs on.
pub struct Settings {
    /// Every deployment, in configuration order.
    pub deployments: Vec<DeploymentSettings>,
    /// The key clients must send; `None` leaves the gateway open.
    pub master_key: Option<String>,
    /// Largest request body accepted.
    pub max_request_bytes: usize,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("deployments", &self.deployments)
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "[redacted]"),
            )
            .field("max_request_bytes", &self.max_request_bytes)
            .finish()
    }
}

/// One validated deployment.
#[derive(Debug)]
pub struct DeploymentSettings {
    /// Stable id: `model_info.id`, or the model name and position.
    pub id: String,
    /// The name clients use.
    pub model_name: String,
    /// How to reach the upstream.
    pub provider: ProviderSettings,
    /// Time allowed for a complete answer.
    pub timeout: Duration,
    /// Time allowed until a stream has started.
    pub stream_timeout: Duration,
}

/// The provider family of a deployment and its settings.
#[derive(Debug)]
pub enum ProviderSettings {
    /// An OpenAI-compatible upstream.
    OpenAi(OpenAiSettings),
    /// The built-in mock.
    Mock(MockSettings),
}

impl Settings {
    /// Validates a parsed file. `env` resolves `os.environ/NAME` references.
    pub fn from_file(
        file: ConfigFile,
        env: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<Self, ConfigError> {
        let default_timeout = match file.litellm_settings.request_timeout {
            Some(secs) => seconds("litellm_settings.request_timeout", secs)?,
            None => DEFAULT_TIMEOUT,
        };
        let mut deployments = Vec::with_capacity(file.model_list.len());
        for (index, entry) in file.model_list.into_iter().enumerate() {
            let path = format!("model_list[{index}]");
            let deployment = deployment(&path, index, entry, default_timeout, env, warnings)?;
            if deployments
                .iter()
                .any(|d: &DeploymentSettings| d.id == deployment.id)
            {
                return Err(ConfigError::invalid(
                    format!("{path}.model_info.id"),
                    format!("id `{}` is used by an earlier deployment", deployment.id),
                ));
            }
            deployments.push(deployment);
        }
        let master_key = match file.general_settings.master_key {
            Some(value) => {
                let key = resolve("general_settings.master_key", &value, env)?;
                if key.trim().is_empty() {
                    return Err(ConfigError::invalid(
                        "general_settings.master_key",
                        "must not be empty (remove the key to run without authentication)",
                    ));
                }
                Some(key)
            }
            None => None,
        };
        let max_request_bytes = match file.general_settings.max_request_size_mb {
            Some(mb) if mb.is_finite() && mb > 0.0 => (mb * 1024.0 * 1024.0) as usize,
            Some(mb) => {
                return Err(ConfigError::invalid(
                    "general_settings.max_request_size_mb",
                    format!("must be a positive number of megabytes, not {mb}"),
                ));
            }
            None => DEFAULT_MAX_REQUEST_BYTES,
        };
        Ok(Self {
            deployments,
            master_key,
            max_request_bytes,
        })
    }
}

fn deployment(
    path: &str,
    index: usize,
    entry: ModelEntry,
    default_timeout: Duration,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<DeploymentSettings, ConfigError> {
    let ModelEntry {
        model_name,
        litellm_params: params,
        model_info,
    } = entry;
    if model_name.trim().is_empty() {
        return Err(ConfigError::invalid(
            format!("{path}.model_name"),
            "must not be empty",
        ));
    }
    let params_path = format!("{path}.litellm_params");
    let timeout = match params.timeout {
        Some(secs) => seconds(&format!("{params_path}.timeout"), secs)?,
        None => default_timeout,
    };
    let stream_timeout = match params.stream_timeout {
        Some(secs) => seconds(&format!("{params_path}.stream_timeout"), secs)?,
        None => timeout,
    };
    let provider = provider(&params_path, params, env, warnings)?;
    let id = model_info
        .id
        .unwrap_or_else(|| format!("{model_name}-{index}"));
    Ok(DeploymentSettings {
        id,
        model_name,
        provider,
        timeout,
        stream_timeout,
    })
}

fn provider(
    path: &str,
    params: LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ProviderSettings, ConfigError> {
    let model_path = format!("{path}.model");
    let (family, model) = match params.model.split_once('/') {
        Some((family, model)) => (family, model),
        None => ("openai", params.model.as_str()),
    };
    if model.trim().is_empty() {
        return Err(ConfigError::invalid(
            model_path,
            "must name a model, as `provider/model` (for example `openai/gpt-4o-mini`)",
        ));
    }
    let is_mock = family == "mock";
    let mock_keys = [
        ("mock_response", params.mock_response.is_some()),
        ("mock_latency_ms", params.mock_latency_ms.is_some()),
        ("mock_failure_rate", params.mock_failure_rate.is_some()),
    ];
    if !is_mock {
        for (key, _) in mock_keys.iter().filter(|(_, set)| *set) {
            warnings.push(ConfigWarning {
                path: format!("{path}.{key}"),
                message: format!("only the mock provider reads this key; `{family}` ignores it"),
            });
        }
    }
    match family {
        "mock" => {
            let failure_rate = params.mock_failure_rate.unwrap_or(0.0);
            if !(0.0..=1.0).contains(&failure_rate) {
                return Err(ConfigError::invalid(
                    format!("{path}.mock_failure_rate"),
                    format!("must be between 0.0 and 1.0, not {failure_rate}"),
                ));
            }
            Ok(ProviderSettings::Mock(MockSettings {
                model: model.to_owned(),
                response: params.mock_response,
                latency: Duration::from_millis(params.mock_latency_ms.unwrap_or(0)),
                failure_rate,
            }))
        }
        "openai" => {
            let api_base = match &params.api_base {
                Some(value) => {
                    let base_path = format!("{path}.api_base");
                    let base = resolve(&base_path, value, env)?;
                    check_url(&base_path, &base)?;
                    base
                }
                None => OPENAI_API_BASE.to_owned(),
            };
            let api_key = match &params.api_key {
                Some(value) => Some(resolve(&format!("{path}.api_key"), value, env)?),
                None => env("OPENAI_API_KEY"),
            };
            Ok(ProviderSettings::OpenAi(OpenAiSettings {
                family: "openai",
                model: model.to_owned(),
                api_base,
                api_key,
            }))
        }
        other => Err(ConfigError::invalid(
            model_path,
            format!("provider `{other}` is not supported (supported: openai, mock)"),
        )),
    }
}

/// Resolves `os.environ/NAME` to the variable's value; other values are taken as written.
fn resolve(
    path: &str,
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    match value.strip_prefix("os.environ/") {
        Some(name) => env(name).ok_or_else(|| {
            ConfigError::invalid(path, format!("environment variable `{name}` is not set"))
        }),
        None => Ok(value.to_owned()),
    }
}

fn seconds(path: &str, secs: f64) -> Result<Duration, ConfigError> {
    if secs.is_finite() && secs > 0.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(ConfigError::invalid(
            path,
            format!("must be a positive number of seconds, not {secs}"),
        ))
    }
}

fn check_url(path: &str, url: &str) -> Result<(), ConfigError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| ConfigError::invalid(path, format!("`{url}` is not a URL: {e}")))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(()),
        _ => Err(ConfigError::invalid(
            path,
            format!("`{url}` must be an http:// or https:// URL"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_with_env;
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "UPSTREAM_KEY").then(|| "sk-from-env".to_owned())
    }

    fn one(params: &str) -> Result<DeploymentSettings, ConfigError> {
        let text = format!("model_list:\n  - model_name: m\n    litellm_params: {params}\n");
        let mut loaded = parse_with_env(&text, &env)?;
        Ok(loaded.settings.deployments.remove(0))
    }

    #[test]
    fn openai_deployment_resolves_its_key_from_the_environment() {
        let d = one("{model: openai/gpt-4o-mini, api_base: 'http://127.0.0.1:9/v1', api_key: os.environ/UPSTREAM_KEY, timeout: 2.5}")
            .expect("valid");
        let ProviderSettings::OpenAi(openai) = &d.provider else {
            panic!("openai expected")
        };
        assert_eq!(openai.model, "gpt-4o-mini");
        assert_eq!(openai.api_key.as_deref(), Some("sk-from-env"));
        assert_eq!(d.timeout, Duration::from_millis(2500));
        assert_eq!(d.stream_timeout, d.timeout);
        assert_eq!(d.id, "m-0");
    }

    #[test]
    fn a_missing_environment_variable_names_the_key_and_variable() {
        let err =
            one("{model: openai/x, api_key: os.environ/NOT_SET_ANYWHERE}").expect_err("invalid");
        let message = err.to_string();
        assert!(
            message.contains("model_list[0].litellm_params.api_key"),
            "{message}"
        );
        assert!(message.contains("NOT_SET_ANYWHERE"), "{message}");
    }

    #[test]
    fn bad_values_are_refused_with_their_path() {
        let cases = [
            ("{model: openai/x, api_base: 'ftp://host'}", "api_base"),
            ("{model: openai/x, timeout: -1}", "timeout"),
            ("{model: mock/x, mock_failure_rate: 2}", "mock_failure_rate"),
            ("{model: frobnicator/x}", "model"),
            ("{model: 'openai/'}", "model"),
        ];
        for (params, key) in cases {
            let err = one(params).expect_err(params);
            let ConfigError::Invalid { path, .. } = &err else {
                panic!("{err}")
            };
            assert_eq!(
                path,
                &format!("model_list[0].litellm_params.{key}"),
                "{params}"
            );
        }
    }

    #[test]
    fn a_bare_model_name_goes_to_an_openai_compatible_upstream() {
        let d = one("{model: gpt-4o}").expect("valid");
        assert!(
            matches!(d.provider, ProviderSettings::OpenAi(ref s) if s.model == "gpt-4o" && s.api_base == OPENAI_API_BASE)
        );
    }

    #[test]
    fn mock_keys_on_other_providers_are_warned_about() {
        let text = "model_list:\n  - model_name: m\n    litellm_params: {model: openai/x, mock_response: hi}\n";
        let loaded = parse_with_env(text, &env).expect("valid");
        assert_eq!(loaded.warnings.len(), 1);
        assert_eq!(
            loaded.warnings[0].path,
            "model_list[0].litellm_params.mock_response"
        );
    }

    #[test]
    fn master_key_and_body_limit_are_read() {
        let text = "general_settings:\n  master_key: os.environ/UPSTREAM_KEY\n  max_request_size_mb: 0.5\n";
        let loaded = parse_with_env(text, &env).expect("valid");
        assert_eq!(loaded.settings.master_key.as_deref(), Some("sk-from-env"));
        assert_eq!(loaded.settings.max_request_bytes, 512 * 1024);
        assert!(!format!("{:?}", loaded.settings).contains("sk-from-env"));
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let text = "model_list:\n  - {model_name: a, litellm_params: {model: mock/a}, model_info: {id: x}}\n  - {model_name: b, litellm_params: {model: mock/b}, model_info: {id: x}}\n";
        let err = parse_with_env(text, &env).expect_err("duplicate");
        assert!(
            err.to_string().contains("model_list[1].model_info.id"),
            "{err}"
        );
    }
}
