//! A fake OAuth2 token server for the end-to-end tests, on a loopback port: Google's token
//! endpoint (the JWT bearer grant of service accounts, its RS256 assertion verified against a
//! test RSA key made at start), the GCE metadata server, Microsoft Entra ID's v2.0 token
//! endpoint (client credentials) and Azure's instance metadata service (managed identity).
//! Each hands out numbered tokens and counts its fetches; [`FakeOAuth::fail`] makes them refuse.
//!
//! Shapes: <https://developers.google.com/identity/protocols/oauth2/service-account#httprest>,
//! <https://cloud.google.com/compute/docs/access/authenticate-workloads#applications>,
//! <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>,
//! <https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http>.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use bytes::Bytes;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

/// The service account of [`FakeOAuth::service_account_json`].
pub const CLIENT_EMAIL: &str = "switchyard-e2e@my-project.iam.gserviceaccount.com";
/// Its key id.
pub const KEY_ID: &str = "0123456789abcdef";
/// The Entra ID client secret the fake accepts.
pub const ENTRA_SECRET: &str = "entra-e2e-secret~value";
/// The `IDENTITY_HEADER` the fake App Service identity endpoint takes.
pub const IDENTITY_HEADER: &str = "appsvc-identity-header-secret";
/// The scope Google tokens are asked for.
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The fake. Tokens are `ya29.sa-N` (service accounts), `ya29.meta-N` (metadata server),
/// `entra-N` (client credentials), `imds-N` (managed identity on a VM) and `appsvc-N`
/// (managed identity on App Service, at `/msi/token`), N counting from 1 per endpoint.
pub struct FakeOAuth {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    state: Arc<Shared>,
    private_pem: String,
}

struct Shared {
    public_der: Vec<u8>,
    token_uri: Mutex<String>,
    fetches: Mutex<HashMap<&'static str, usize>>,
    failing: AtomicBool,
    lifetime: AtomicU64,
    /// What each fetch asked for, for tests to check (resource, scope, client id).
    requests: Mutex<Vec<(String, String)>>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    scope: String,
    aud: String,
    iat: u64,
    exp: u64,
}

impl FakeOAuth {
    /// Starts the fake on a free loopback port with a fresh 2048-bit RSA key.
    pub async fn start() -> Self {
        let key = KeyPair::generate(KeySize::Rsa2048).expect("an RSA key");
        let pkcs8 = key.as_der().expect("PKCS#8");
        let body = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
            .collect();
        let private_pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        );
        let state = Arc::new(Shared {
            public_der: key.public_key().as_ref().to_vec(),
            token_uri: Mutex::new(String::new()),
            fetches: Mutex::new(HashMap::new()),
            failing: AtomicBool::new(false),
            lifetime: AtomicU64::new(3599),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/token", post(google_token))
            .route(
                "/computeMetadata/v1/instance/service-accounts/default/token",
                get(metadata_token),
            )
            .route("/{tenant}/oauth2/v2.0/token", post(entra_token))
            .route("/metadata/identity/oauth2/token", get(imds_token))
            .route("/msi/token", get(app_service_token))
            .with_state(Arc::clone(&state));
        let addr = crate::serve_on_loopback(app).await;
        let base = format!("http://{addr}");
        *state.token_uri.lock().expect("lock") = format!("{base}/token");
        Self {
            base,
            state,
            private_pem,
        }
    }

    /// A service-account key file whose `token_uri` is this fake's.
    pub fn service_account_json(&self) -> String {
        json!({
            "type": "service_account",
            "project_id": "my-project",
            "private_key_id": KEY_ID,
            "private_key": self.private_pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "token_uri": format!("{}/token", self.base),
        })
        .to_string()
    }

    /// The private key's PEM text, for tests that check it never shows.
    pub fn private_key_pem(&self) -> &str {
        &self.private_pem
    }

    /// How many tokens `endpoint` (`google`, `metadata`, `entra`, `imds`, `appservice`) handed
    /// out.
    pub fn fetches(&self, endpoint: &str) -> usize {
        self.state
            .fetches
            .lock()
            .expect("lock")
            .get(endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// What the token requests asked for: `(endpoint, detail)` (Entra's scope, IMDS's query).
    pub fn requests(&self) -> Vec<(String, String)> {
        self.state.requests.lock().expect("lock").clone()
    }

    /// Makes every endpoint refuse (`true`) or serve again.
    pub fn fail(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// The `expires_in` of the tokens handed out from now on.
    pub fn set_lifetime(&self, seconds: u64) {
        self.state.lifetime.store(seconds, Ordering::SeqCst);
    }
}

impl Shared {
    /// A token answer; Azure's instance metadata service gives its numbers as strings.
    fn issue(&self, endpoint: &'static str, prefix: &str) -> Response {
        let n = {
            let mut fetches = self.fetches.lock().expect("lock");
            let n = fetches.entry(endpoint).or_insert(0);
            *n += 1;
            *n
        };
        let lifetime = self.lifetime.load(Ordering::SeqCst);
        let expires_in = if endpoint == "imds" {
            json!(lifetime.to_string())
        } else {
            json!(lifetime)
        };
        axum::Json(json!({
            "access_token": format!("{prefix}-{n}"),
            "expires_in": expires_in,
            "token_type": "Bearer",
        }))
        .into_response()
    }

    fn refused(&self, status: StatusCode, error: &str, description: &str) -> Response {
        (
            status,
            axum::Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    }
}

fn form(body: &Bytes) -> HashMap<String, String> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

async fn google_token(State(state): State<Arc<Shared>>, body: Bytes) -> Response {
    if state.failing.load(Ordering::SeqCst) {
        return state.refused(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT Signature.",
        );
    }
    let form = form(&body);
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return state.refused(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type",
        );
    }
    let Some(assertion) = form.get("assertion") else {
        return state.refused(StatusCode::BAD_REQUEST, "invalid_request", "no assertion");
    };
    let token_uri = state.token_uri.lock().expect("lock").clone();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[token_uri.as_str()]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let verified = jsonwebtoken::decode::<Claims>(
        assertion,
        &DecodingKey::from_rsa_der(&state.public_der),
        &validation,
    );
    let header = jsonwebtoken::decode_header(assertion);
    match (verified, header) {
        (Ok(token), Ok(header))
            if token.claims.scope == CLOUD_PLATFORM
                && token.claims.iss == CLIENT_EMAIL
                && token.claims.aud == token_uri
                && token.claims.exp == token.claims.iat + 3600
                && header.kid.as_deref() == Some(KEY_ID) =>
        {
            state.issue("google", "ya29.sa")
        }
        (verified, header) => state.refused(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &format!(
                "assertion refused: {:?} {:?}",
                verified.err(),
                header.map(|h| h.kid)
            ),
        ),
    }
}

async fn metadata_token(State(state): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
        return (
            StatusCode::FORBIDDEN,
            "Missing Metadata-Flavor:Google header.",
        )
            .into_response();
    }
    if state.failing.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metadata server unavailable",
        )
            .into_response();
    }
    state.issue("metadata", "ya29.meta")
}

async fn entra_token(
    State(state): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let form = form(&body);
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    state
        .requests
        .lock()
        .expect("lock")
        .push(("entra".to_owned(), format!("{tenant} {}", field("scope"))));
    if field("grant_type") != "client_credentials" {
        return state.refused(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003",
        );
    }
    if state.failing.load(Ordering::SeqCst) || field("client_secret") != ENTRA_SECRET {
        return state.refused(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    state.issue("entra", "entra")
}

async fn imds_token(
    State(state): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return state.refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    state
        .requests
        .lock()
        .expect("lock")
        .push(("imds".to_owned(), query.unwrap_or_default()));
    if state.failing.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "IMDS failure").into_response();
    }
    state.issue("imds", "imds")
}

// App Service's identity endpoint answers `expires_on` in Unix seconds, as a string:
// https://learn.microsoft.com/en-us/azure/app-service/overview-managed-identity#rest-endpoint-reference
async fn app_service_token(
    State(state): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        != Some(IDENTITY_HEADER)
    {
        return (
            StatusCode::UNAUTHORIZED,
            "X-IDENTITY-HEADER missing or wrong",
        )
            .into_response();
    }
    state
        .requests
        .lock()
        .expect("lock")
        .push(("appservice".to_owned(), query.unwrap_or_default()));
    let n = {
        let mut fetches = state.fetches.lock().expect("lock");
        let n = fetches.entry("appservice").or_insert(0);
        *n += 1;
        *n
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let expires_on = now + state.lifetime.load(Ordering::SeqCst);
    axum::Json(json!({
        "access_token": format!("appsvc-{n}"),
        "expires_on": expires_on.to_string(),
        "resource": "https://cognitiveservices.azure.com",
        "token_type": "Bearer",
    }))
    .into_response()
}
