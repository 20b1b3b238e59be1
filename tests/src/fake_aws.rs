//! Fake AWS credential endpoints for the end-to-end tests of Bedrock's credential chain, on one
//! loopback port: the ECS container credentials endpoint, EC2's instance metadata service
//! (IMDSv2: a session token first, then the role's credentials) and STS (`AssumeRole`,
//! `AssumeRoleWithWebIdentity`), each answering in the shape AWS documents. Every set of
//! credentials it issues is new (`{SOURCE}{n}` as the access key id) and is registered with the
//! fake Bedrock, so a signature made with it verifies there; what each endpoint received is kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

/// The authorization token the ECS endpoint requires (`AWS_CONTAINER_AUTHORIZATION_TOKEN`).
pub const ECS_AUTH_TOKEN: &str = "ecs-container-auth-token-e2e";
/// The IMDSv2 session token the fake hands out.
pub const IMDS_SESSION_TOKEN: &str = "imds-session-token-e2e";
/// The instance profile role IMDS names.
pub const IMDS_ROLE: &str = "bedrock-instance-role";

/// One request an endpoint received.
#[derive(Debug, Clone, Default)]
pub struct CredentialRequest {
    /// `ecs`, `imds-token`, `imds-role`, `imds-credentials`, or the STS `Action`.
    pub endpoint: String,
    /// The `authorization` header (ECS: the container token; STS: a SigV4 signature).
    pub authorization: Option<String>,
    /// IMDS: the `x-aws-ec2-metadata-token` header.
    pub imds_token: Option<String>,
    /// STS: the form parameters.
    pub form: HashMap<String, String>,
}

/// The fake; see the module documentation.
pub struct FakeAws {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    state: Arc<Issuer>,
}

struct Issuer {
    issued: AtomicUsize,
    lifetime: Duration,
    /// The fake Bedrock's key pairs, which every issued pair joins.
    keys: Arc<Mutex<HashMap<String, String>>>,
    received: Mutex<Vec<CredentialRequest>>,
}

struct Issued {
    key_id: String,
    secret: String,
    token: String,
    expiration: String,
}

impl Issuer {
    fn issue(&self, source: &str) -> Issued {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let key_id = format!("{source}{n}");
        let secret = format!("{key_id}/secret+key");
        self.keys
            .lock()
            .expect("lock")
            .insert(key_id.clone(), secret.clone());
        let expiration = DateTime::from(SystemTime::now() + self.lifetime)
            .fmt(Format::DateTime)
            .expect("a formattable time");
        Issued {
            token: format!("{key_id}-session-token"),
            key_id,
            secret,
            expiration,
        }
    }

    fn record(&self, request: CredentialRequest) {
        self.received.lock().expect("lock").push(request);
    }
}

impl FakeAws {
    /// Starts the fake; the credentials it issues expire `lifetime` after they are issued and
    /// join `keys` (from [`crate::fake_bedrock::FakeBedrock::keys`]).
    pub async fn start(lifetime: Duration, keys: Arc<Mutex<HashMap<String, String>>>) -> Self {
        let state = Arc::new(Issuer {
            issued: AtomicUsize::new(0),
            lifetime,
            keys,
            received: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/ecs/credentials", get(ecs))
            .route("/latest/api/token", put(imds_token))
            .route(
                "/latest/meta-data/iam/security-credentials/",
                get(imds_role),
            )
            .route(
                "/latest/meta-data/iam/security-credentials/{role}",
                get(imds_credentials),
            )
            .route("/", post(sts))
            .with_state(Arc::clone(&state));
        let addr = crate::serve_on_loopback(app).await;
        Self {
            base: format!("http://{addr}"),
            state,
        }
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<CredentialRequest> {
        self.state.received.lock().expect("lock").clone()
    }

    /// The requests received by `endpoint`.
    pub fn received_by(&self, endpoint: &str) -> Vec<CredentialRequest> {
        self.received()
            .into_iter()
            .filter(|r| r.endpoint == endpoint)
            .collect()
    }
}

fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// ECS task credentials
/// (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html>): the
/// container's token in `Authorization`, the credentials as JSON.
async fn ecs(State(state): State<Arc<Issuer>>, headers: HeaderMap) -> Response {
    let authorization = text(&headers, "authorization");
    state.record(CredentialRequest {
        endpoint: "ecs".to_owned(),
        authorization: authorization.clone(),
        ..CredentialRequest::default()
    });
    if authorization.as_deref() != Some(ECS_AUTH_TOKEN) {
        return (StatusCode::UNAUTHORIZED, "unauthorized").into_response();
    }
    let issued = state.issue("ASIAECS");
    json(format!(
        r#"{{"RoleArn": "arn:aws:iam::123456789012:role/ecs-task", "AccessKeyId": "{}", "SecretAccessKey": "{}", "Token": "{}", "Expiration": "{}"}}"#,
        issued.key_id, issued.secret, issued.token, issued.expiration
    ))
}

/// IMDSv2 session token
/// (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html>):
/// `PUT /latest/api/token` with the TTL header.
async fn imds_token(State(state): State<Arc<Issuer>>, headers: HeaderMap) -> Response {
    let ttl = text(&headers, "x-aws-ec2-metadata-token-ttl-seconds");
    state.record(CredentialRequest {
        endpoint: "imds-token".to_owned(),
        ..CredentialRequest::default()
    });
    let Some(ttl) = ttl else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    (
        [("x-aws-ec2-metadata-token-ttl-seconds", ttl)],
        IMDS_SESSION_TOKEN,
    )
        .into_response()
}

fn imds_authorized(state: &Issuer, headers: &HeaderMap, endpoint: &str) -> bool {
    let token = text(headers, "x-aws-ec2-metadata-token");
    let valid = token.as_deref() == Some(IMDS_SESSION_TOKEN);
    state.record(CredentialRequest {
        endpoint: endpoint.to_owned(),
        imds_token: token,
        ..CredentialRequest::default()
    });
    valid
}

async fn imds_role(State(state): State<Arc<Issuer>>, headers: HeaderMap) -> Response {
    if !imds_authorized(&state, &headers, "imds-role") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    IMDS_ROLE.into_response()
}

/// The instance profile's credentials
/// (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html>,
/// `iam/security-credentials/role-name`).
async fn imds_credentials(
    State(state): State<Arc<Issuer>>,
    Path(role): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !imds_authorized(&state, &headers, "imds-credentials") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if role != IMDS_ROLE {
        return StatusCode::NOT_FOUND.into_response();
    }
    let issued = state.issue("ASIAIMDS");
    json(format!(
        r#"{{"Code": "Success", "LastUpdated": "2026-12-07T12:00:00Z", "Type": "AWS-HMAC", "AccessKeyId": "{}", "SecretAccessKey": "{}", "Token": "{}", "Expiration": "{}"}}"#,
        issued.key_id, issued.secret, issued.token, issued.expiration
    ))
}

/// STS's Query API
/// (<https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>,
/// `API_AssumeRoleWithWebIdentity.html`): a form body, an XML answer.
async fn sts(State(state): State<Arc<Issuer>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = String::from_utf8_lossy(&body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (form_decode(k), form_decode(v)))
        .collect();
    let action = form.get("Action").cloned().unwrap_or_default();
    state.record(CredentialRequest {
        endpoint: action.clone(),
        authorization: text(&headers, "authorization"),
        form: form.clone(),
        ..CredentialRequest::default()
    });
    let role = form.get("RoleArn").cloned().unwrap_or_default();
    let session = form.get("RoleSessionName").cloned().unwrap_or_default();
    let (source, extra) = match action.as_str() {
        "AssumeRole" => ("ASIASTS", "<PackedPolicySize>6</PackedPolicySize>".to_owned()),
        "AssumeRoleWithWebIdentity" => (
            "ASIAWEB",
            "<SubjectFromWebIdentityToken>system:serviceaccount:default:gateway</SubjectFromWebIdentityToken>\
             <Audience>sts.amazonaws.com</Audience><Provider>oidc.eks.us-west-2.amazonaws.com</Provider>"
                .to_owned(),
        ),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "text/xml")],
                "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>\
                 <Message>unknown action</Message></Error><RequestId>r</RequestId></ErrorResponse>",
            )
                .into_response();
        }
    };
    let issued = state.issue(source);
    let xml = format!(
        "<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <{action}Result>{extra}\
         <AssumedRoleUser><Arn>{}/{session}</Arn><AssumedRoleId>AROA3XFRBF535PLBIFPI4:{session}</AssumedRoleId></AssumedRoleUser>\
         <Credentials><SessionToken>{}</SessionToken><SecretAccessKey>{}</SecretAccessKey>\
         <Expiration>{}</Expiration><AccessKeyId>{}</AccessKeyId></Credentials>\
         </{action}Result>\
         <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>\
         </{action}Response>",
        role.replace(":role/", ":assumed-role/")
            .replace("iam::", "sts::"),
        issued.token,
        issued.secret,
        issued.expiration,
        issued.key_id,
    );
    ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

fn form_decode(text: &str) -> String {
    crate::fake_bedrock::percent_decode(&text.replace('+', " "))
}
