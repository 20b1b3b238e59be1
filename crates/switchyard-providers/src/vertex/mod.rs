//! `vertex_ai/...` deployments: Google's and Anthropic's models on Vertex AI, reached with an
//! OAuth2 bearer token from a Google credential ([`crate::credentials::google`]).
//!
//! A model lives at
//! `https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}`
//! (`https://aiplatform.googleapis.com/...` for the `global` location,
//! <https://cloud.google.com/vertex-ai/docs/reference/rest#service-endpoint>). Gemini models
//! (publisher `google`) take the Gemini adapter's `generateContent` bodies and embeddings
//! models its `:predict` call ([`crate::gemini`]); Claude models (publisher `anthropic`) take
//! the Anthropic adapter's Messages bodies at `:rawPredict` ([`crate::anthropic`]). No wire
//! format is repeated here: this module only says where each model lives.

use crate::anthropic::Anthropic;
use crate::credentials::BearerCredential;
use crate::credentials::google::GoogleCredential;
use crate::gemini::Gemini;
use crate::http::HttpClient;
use crate::{ErrorClass, Provider, ProviderError};

/// How to reach one Vertex AI deployment.
#[derive(Clone, Debug)]
pub struct VertexSettings {
    /// The model, such as `gemini-2.5-flash` or `claude-sonnet-4@20250514`.
    pub model: String,
    /// The Google Cloud project id.
    pub project: String,
    /// The region, such as `us-central1`, or `global`.
    pub location: String,
    /// The API's root instead of the location's own host (a proxy, a test's fake upstream).
    pub api_base: Option<String>,
    /// Where the bearer tokens come from.
    pub credential: GoogleCredential,
}

/// The publisher of a model on Vertex AI, from its name: Anthropic's Claude models, else
/// Google's.
pub fn publisher(model: &str) -> &'static str {
    if model.starts_with("claude") {
        "anthropic"
    } else {
        "google"
    }
}

/// The root of Vertex AI's API for `location`.
pub fn default_api_base(location: &str) -> String {
    if location == "global" {
        "https://aiplatform.googleapis.com".to_owned()
    } else {
        format!("https://{location}-aiplatform.googleapis.com")
    }
}

/// Whether a project id or location may stand in a URL: letters, digits, `-`, `_`, `.` and
/// `:` (domain-scoped projects such as `example.com:my-project`).
pub fn is_path_segment(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// The adapter of one Vertex AI deployment, sending through `client`.
pub fn provider(
    client: HttpClient,
    settings: VertexSettings,
) -> Result<Box<dyn Provider>, ProviderError> {
    for (name, value) in [
        ("project", &settings.project),
        ("location", &settings.location),
    ] {
        if !is_path_segment(value) {
            return Err(ProviderError::new(
                ErrorClass::BadRequest,
                format!("`{value}` is not a Vertex AI {name}"),
            ));
        }
    }
    crate::gemini::check_model(&settings.model)?;
    let root = settings
        .api_base
        .clone()
        .unwrap_or_else(|| default_api_base(&settings.location));
    let root = root.trim_end_matches('/');
    let root = root.strip_suffix("/v1").unwrap_or(root);
    let publisher = publisher(&settings.model);
    let model_url = format!(
        "{root}/v1/projects/{}/locations/{}/publishers/{publisher}/models/{}",
        settings.project, settings.location, settings.model
    );
    let tokens = BearerCredential::Google(settings.credential).token_cache(&client)?;
    Ok(match publisher {
        "anthropic" => Box::new(Anthropic::on_vertex(
            client,
            &settings.model,
            &model_url,
            tokens,
        )?),
        _ => Box::new(Gemini::on_vertex(
            client,
            &settings.model,
            &model_url,
            tokens,
        )?),
    })
}

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_find_their_publisher_and_locations_their_host() {
        assert_eq!(publisher("claude-sonnet-4@20250514"), "anthropic");
        assert_eq!(publisher("gemini-2.5-flash"), "google");
        assert_eq!(publisher("text-embedding-005"), "google");
        assert_eq!(
            default_api_base("us-central1"),
            "https://us-central1-aiplatform.googleapis.com"
        );
        assert_eq!(
            default_api_base("global"),
            "https://aiplatform.googleapis.com"
        );
        assert!(is_path_segment("example.com:my-project"));
        assert!(!is_path_segment("p/../x") && !is_path_segment(""));
    }

    #[test]
    fn a_project_that_would_bend_the_url_is_refused() {
        let settings = VertexSettings {
            model: "gemini-2.5-flash".to_owned(),
            project: "p?x=1".to_owned(),
            location: "us-central1".to_owned(),
            api_base: None,
            credential: GoogleCredential::MetadataServer("http://127.0.0.1:9".to_owned()),
        };
        let client = HttpClient::new(&crate::http::ClientSettings::default()).expect("client");
        let err = provider(client, settings).expect_err("refused");
        assert_eq!(err.class, ErrorClass::BadRequest);
    }
}
