//! `vertex_ai/<model>` deployments: the project, location and Google credential, from
//! LiteLLM's `vertex_project`, `vertex_location` and `vertex_credentials`
//! (<https://docs.litellm.ai/docs/providers/vertex>) or the environment, checked once at load:
//! a credentials file that cannot be read or a key that cannot sign stops the gateway with the
//! key's path.

use switchyard_providers::credentials::google::GoogleCredential;
use switchyard_providers::vertex::{VertexSettings, is_path_segment};

use super::super::file::VertexCredentials;

use super::{
    ConfigError, ConfigWarning, LitellmParams, ProviderSettings, check_url, optional_param, resolve,
};

/// The location a Vertex AI deployment uses when nothing names one, as in LiteLLM.
pub const DEFAULT_LOCATION: &str = "us-central1";

/// Validates a Vertex AI deployment of `model`.
///
/// The credential is `vertex_credentials` (a path, or the JSON text itself, each may be
/// `os.environ/NAME`), else Application Default Credentials. The project is `vertex_project`,
/// else `VERTEXAI_PROJECT`, else the credential's own project, else `GOOGLE_CLOUD_PROJECT`;
/// the location `vertex_location`, else `VERTEXAI_LOCATION`, else [`DEFAULT_LOCATION`] (with a
/// warning).
pub(super) fn settings(
    path: &str,
    model: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ProviderSettings, ConfigError> {
    if params.api_key.is_some() {
        warnings.push(ConfigWarning {
            path: format!("{path}.api_key"),
            message: "Vertex AI deployments authenticate with OAuth2 tokens from \
                      vertex_credentials (or Application Default Credentials); api_key is ignored"
                .to_owned(),
        });
    }
    let credentials_path = format!("{path}.vertex_credentials");
    let credential = match &params.vertex_credentials {
        Some(VertexCredentials::Fields(fields)) => {
            GoogleCredential::from_json(&serde_json::Value::Object(fields.clone()).to_string())
        }
        Some(VertexCredentials::Text(given)) => {
            let given = resolve(&credentials_path, given, env)?;
            let text = if given.trim_start().starts_with('{') {
                given
            } else {
                std::fs::read_to_string(given.trim()).map_err(|e| {
                    ConfigError::invalid(
                        &credentials_path,
                        format!(
                            "cannot read the credentials file `{}`: {}",
                            given.trim(),
                            e.kind()
                        ),
                    )
                })?
            };
            GoogleCredential::from_json(&text)
        }
        None => GoogleCredential::application_default(env),
    }
    .map_err(|e| ConfigError::invalid(&credentials_path, e.to_string()))?;

    let param =
        |key: &str, value: &Option<String>| optional_param(path, key, value.as_deref(), env);
    let project_path = format!("{path}.vertex_project");
    let project = param("vertex_project", &params.vertex_project)?
        .or_else(|| env("VERTEXAI_PROJECT"))
        .or_else(|| credential.project_id().map(str::to_owned))
        .or_else(|| env("GOOGLE_CLOUD_PROJECT"))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ConfigError::invalid(
                &project_path,
                "Vertex AI needs a project: vertex_project, VERTEXAI_PROJECT, a credentials file \
                 that names one, or GOOGLE_CLOUD_PROJECT",
            )
        })?;
    if !is_path_segment(&project) {
        return Err(ConfigError::invalid(
            project_path,
            format!("`{project}` is not a Google Cloud project id"),
        ));
    }
    let location_path = format!("{path}.vertex_location");
    let location = match param("vertex_location", &params.vertex_location)?
        .or_else(|| env("VERTEXAI_LOCATION").filter(|l| !l.is_empty()))
    {
        Some(location) => location,
        None => {
            warnings.push(ConfigWarning {
                path: location_path.clone(),
                message: format!(
                    "no location given (vertex_location or VERTEXAI_LOCATION): {DEFAULT_LOCATION}, \
                     LiteLLM's default, is used"
                ),
            });
            DEFAULT_LOCATION.to_owned()
        }
    };
    if !is_path_segment(&location) {
        return Err(ConfigError::invalid(
            location_path,
            format!("`{location}` is not a Vertex AI location (such as `us-central1` or `global`)"),
        ));
    }
    let api_base = match &params.api_base {
        Some(base) => {
            let base_path = format!("{path}.api_base");
            let base = resolve(&base_path, base, env)?;
            check_url(&base_path, &base)?;
            Some(base)
        }
        None => None,
    };
    Ok(ProviderSettings::Vertex(VertexSettings {
        model: model.to_owned(),
        project,
        location,
        api_base,
        credential,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::super::parse_with_env;
    use super::*;

    const USER: &str = r#"{"type":"authorized_user","client_id":"c.apps.googleusercontent.com","client_secret":"user-secret","refresh_token":"1//refresh","quota_project_id":"quota-project"}"#;

    fn load(
        params: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(VertexSettings, Vec<ConfigWarning>), ConfigError> {
        let text = format!("model_list:\n  - model_name: m\n    litellm_params: {params}\n");
        let mut loaded = parse_with_env(&text, env)?;
        match loaded.settings.deployments.remove(0).provider {
            ProviderSettings::Vertex(settings) => Ok((settings, loaded.warnings)),
            other => panic!("vertex expected: {other:?}"),
        }
    }

    // Keys: https://docs.litellm.ai/docs/providers/vertex (vertex_project, vertex_location,
    // vertex_credentials as a path or as the JSON text, `os.environ/`).
    #[test]
    fn credentials_come_as_json_text_or_a_path_and_secrets_stay_hidden() {
        let env = |name: &str| (name == "VERTEX_CREDS").then(|| USER.to_owned());
        let (settings, warnings) = load(
            "{model: vertex_ai/gemini-2.5-flash, vertex_project: my-project, vertex_location: europe-west4, vertex_credentials: os.environ/VERTEX_CREDS}",
            &env,
        )
        .expect("valid");
        assert_eq!(
            (
                settings.project.as_str(),
                settings.location.as_str(),
                settings.model.as_str()
            ),
            ("my-project", "europe-west4", "gemini-2.5-flash")
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(!format!("{settings:?}").contains("user-secret"));

        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("creds.json");
        std::fs::write(&file, USER).expect("write");
        let (settings, warnings) = load(
            &format!(
                "{{model: vertex_ai/claude-sonnet-4-5@20250929, vertex_credentials: '{}'}}",
                file.display()
            ),
            &|_: &str| None,
        )
        .expect("valid");
        assert_eq!(
            settings.project, "quota-project",
            "the credential's project"
        );
        assert_eq!(settings.location, DEFAULT_LOCATION);
        assert_eq!(
            warnings[0].path,
            "model_list[0].litellm_params.vertex_location"
        );
    }

    #[test]
    fn credentials_may_be_written_out_as_a_mapping() {
        let (settings, _) = load(
            "{model: vertex_ai/gemini-2.5-flash, vertex_location: us-east5, vertex_credentials: {type: authorized_user, client_id: c, client_secret: mapped-secret, refresh_token: r, quota_project_id: mapped-project}}",
            &|_: &str| None,
        )
        .expect("valid");
        assert_eq!(settings.project, "mapped-project");
        assert!(!format!("{settings:?}").contains("mapped-secret"));
    }

    #[test]
    fn unusable_credentials_and_missing_projects_are_refused_at_their_path() {
        let err = load(
            "{model: vertex_ai/gemini-2.5-flash, vertex_project: p, vertex_credentials: /nonexistent/creds.json}",
            &|_: &str| None,
        )
        .expect_err("no file");
        assert!(
            err.to_string()
                .contains("litellm_params.vertex_credentials"),
            "{err}"
        );
        assert!(err.to_string().contains("/nonexistent/creds.json"), "{err}");
        let err = load(
            r#"{model: vertex_ai/gemini-2.5-flash, vertex_project: p, vertex_credentials: '{"type":"service_account","client_email":"sa@p.iam.gserviceaccount.com","private_key":"not a key"}'}"#,
            &|_: &str| None,
        )
        .expect_err("bad key");
        assert!(
            err.to_string().contains("sa@p.iam.gserviceaccount.com"),
            "{err}"
        );
        // Application Default Credentials fall back to the metadata server, which names no
        // project.
        let metadata = |name: &str| (name == "GCE_METADATA_HOST").then(|| "127.0.0.1:9".to_owned());
        let err = load("{model: vertex_ai/gemini-2.5-flash}", &metadata).expect_err("no project");
        assert!(
            err.to_string().contains("litellm_params.vertex_project"),
            "{err}"
        );
        let (settings, _) = load(
            "{model: vertex_ai/gemini-2.5-flash, vertex_location: global}",
            &|name: &str| match name {
                "GCE_METADATA_HOST" => Some("127.0.0.1:9".to_owned()),
                "VERTEXAI_PROJECT" => Some("env-project".to_owned()),
                _ => None,
            },
        )
        .expect("valid");
        assert_eq!(settings.project, "env-project");
        let err = load(
            "{model: vertex_ai/gemini-2.5-flash, vertex_project: 'p/../q'}",
            &metadata,
        )
        .expect_err("bends the URL");
        assert!(err.to_string().contains("vertex_project"), "{err}");
        let err = load(
            "{model: gemini/gemini-2.5-flash, api_key: k, vertex_project: p}",
            &metadata,
        )
        .expect_err("not a vertex deployment");
        assert!(
            err.to_string().contains("litellm_params.vertex_project"),
            "{err}"
        );
    }
}
