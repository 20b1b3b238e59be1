//! What AWS's services share, for the adapters of Bedrock ([`crate::bedrock`]) and SageMaker
//! ([`crate::sagemaker`]): credentials and their refresh (`credentials`), Signature Version 4
//! (`signing`), the binary event stream framing of streamed answers (`eventstream`), and
//! [`AwsCaller`], which POSTs a JSON body with a deployment's authority.

pub(crate) mod credentials;
pub(crate) mod eventstream;
pub(crate) mod signing;

use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Uri, header};

use self::credentials::Authority;
pub use self::credentials::{AssumeRole, AwsCredentials, REFRESH_BEFORE_EXPIRY};
use self::signing::Signer;
use crate::http::{HttpClient, UpstreamResponse};
use crate::{ErrorClass, ProviderError};

/// The header carrying the id AWS gives each request.
const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

/// The id of a chat completion answered by `response`: `chatcmpl-` and the id AWS gave the
/// request, else a random one naming the service.
pub(crate) fn completion_id(response: &UpstreamResponse, service: &str) -> String {
    let request_id = response
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| !id.is_empty());
    match request_id {
        Some(id) => format!("chatcmpl-{id}"),
        None => format!("chatcmpl-{service}{:016x}", fastrand::u64(..)),
    }
}

/// Checks an AWS region name (`us-east-1`) before it goes into a host name.
pub(crate) fn check_region(region: &str) -> Result<&str, ProviderError> {
    let region = region.trim();
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(ProviderError::new(
            ErrorClass::BadRequest,
            format!("`{region}` is not an AWS region name (such as `us-east-1`)"),
        ));
    }
    Ok(region)
}

/// Sends one deployment's calls to an AWS service: each body signed for the service in the
/// region with the deployment's credentials (resolved and refreshed by `credentials`), or
/// carrying its Bedrock API key.
#[derive(Debug)]
pub(crate) struct AwsCaller {
    client: HttpClient,
    signer: Signer,
    authority: Authority,
}

impl AwsCaller {
    /// A caller of `service` (its signing name) in `region`; nothing is resolved until the
    /// first call.
    pub(crate) fn new(
        client: HttpClient,
        service: &'static str,
        region: &str,
        credentials: &AwsCredentials,
        assume_role: Option<&AssumeRole>,
    ) -> Result<Self, ProviderError> {
        Ok(Self {
            client,
            signer: Signer::new(region, service),
            authority: Authority::new(credentials, assume_role, region)?,
        })
    }

    /// POSTs the JSON `body` to `uri`, `accept` naming the answer's media type when the
    /// service wants one; answers whatever status the service gave.
    pub(crate) async fn post(
        &self,
        uri: &Uri,
        body: Vec<u8>,
        accept: Option<&'static str>,
    ) -> Result<UpstreamResponse, ProviderError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        }
        match &self.authority {
            Authority::Bearer(token) => {
                headers.insert(header::AUTHORIZATION, token.clone());
            }
            Authority::Signed(credentials) => {
                let credentials = credentials.get().await?;
                let signed =
                    self.signer
                        .sign(&credentials, uri, &headers, &body, SystemTime::now())?;
                headers.extend(signed);
            }
        }
        self.client
            .post_json_bytes(uri, &headers, Bytes::from(body))
            .await
    }
}
