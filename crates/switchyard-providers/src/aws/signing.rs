//! Signature Version 4 for AWS calls (Bedrock, SageMaker)
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>),
//! computed by AWS's maintained signer, `aws-sigv4`: method, URI (its path encoded twice, as
//! every service but S3 expects), host, content type, date and the SHA-256 of the exact body
//! sent, for the service (`bedrock`, `sagemaker`) in the deployment's region. The signer adds `x-amz-date`,
//! `authorization` and, with temporary credentials, `x-amz-security-token`.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use crate::{ErrorClass, ProviderError};

/// Signs requests for one service in one region, with the credentials each call brings.
#[derive(Debug, Clone)]
pub struct Signer {
    region: String,
    service: &'static str,
}

impl Signer {
    /// A signer for `service` (its signing name, such as `bedrock`) in `region`.
    pub fn new(region: &str, service: &'static str) -> Self {
        Self {
            region: region.to_owned(),
            service,
        }
    }

    /// The headers that sign a POST of `body` to `uri` carrying `headers`, at `time`, with
    /// `credentials`. The secrets among them are marked sensitive.
    pub fn sign(
        &self,
        credentials: &Credentials,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        time: SystemTime,
    ) -> Result<HeaderMap, ProviderError> {
        let unsignable = |detail: String| {
            // Only the deployment's credentials can make signing fail, never the client.
            ProviderError::new(
                ErrorClass::Authentication,
                format!("the request could not be signed: {detail}"),
            )
        };
        let pairs = headers
            .iter()
            .map(|(name, value)| {
                value
                    .to_str()
                    .map(|value| (name.as_str(), value))
                    .map_err(|_| unsignable(format!("header `{name}` is not text")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let identity = Identity::from(credentials.clone());
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| unsignable(e.to_string()))?
            .into();
        let request = SignableRequest::new(
            "POST",
            uri.to_string(),
            pairs.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| unsignable(e.to_string()))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| unsignable(e.to_string()))?
            .into_parts();
        let (signing_headers, _params) = instructions.into_parts();
        let mut signed = HeaderMap::new();
        for header in signing_headers {
            let name = HeaderName::from_bytes(header.name().as_bytes())
                .map_err(|_| unsignable(format!("`{}` is not a header name", header.name())))?;
            let mut value = HeaderValue::try_from(header.value())
                .map_err(|_| unsignable(format!("`{name}` is not a valid header value")))?;
            value.set_sensitive(header.sensitive() || name == http::header::AUTHORIZATION);
            signed.insert(name, value);
        }
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// 2015-08-30T12:36:00Z, the time of AWS's SigV4 test suite.
    fn suite_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn keys(id: &str, secret: &str, token: Option<&str>) -> Credentials {
        Credentials::new(id, secret, token.map(str::to_owned), None, "test")
    }

    fn authorization(signed: &HeaderMap) -> &str {
        signed["authorization"].to_str().expect("text")
    }

    // Known-good vectors from AWS's SigV4 test suite, as shipped with aws-sigv4
    // (aws-signing-test-suite/v4/post-vanilla, from
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html's
    // example credentials, and v4/double-encode-path).
    #[test]
    fn the_signer_reproduces_aws_s_test_suite() {
        let signer = Signer::new("us-east-1", "service");
        let credentials = keys(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
        );
        let uri: Uri = "https://example.amazonaws.com/".parse().expect("uri");
        let signed = signer
            .sign(&credentials, &uri, &HeaderMap::new(), b"", suite_time())
            .expect("signs");
        assert_eq!(signed["x-amz-date"], "20150830T123600Z");
        assert_eq!(
            authorization(&signed),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
        // A percent-encoded path (as `:` in model ids is) is encoded once more when signing.
        let credentials = keys("ANOTREAL", "notrealrnrELgWzOk3IfjzDKtFBhDby", None);
        let uri: Uri = "https://tj9n5r0m12.execute-api.us-east-1.amazonaws.com/test/@connections/JBDvjfGEIAMCERw%3D"
            .parse()
            .expect("uri");
        let signed = signer
            .sign(&credentials, &uri, &HeaderMap::new(), b"", suite_time())
            .expect("signs");
        assert!(
            authorization(&signed).ends_with(
                "Signature=57d157672191bac40bae387e48bbe14b15303c001fdbb01f4abf295dccb09705"
            ),
            "{}",
            authorization(&signed)
        );
    }

    #[test]
    fn bedrock_signatures_are_deterministic_cover_the_body_and_carry_the_session_token() {
        let signer = Signer::new("eu-west-3", "bedrock");
        let credentials = keys("AKIDTEST", "secret-key-test", Some("session-token-test"));
        let uri: Uri = "https://bedrock-runtime.eu-west-3.amazonaws.com/model/mistral.mistral-large-2402-v1%3A0/converse"
            .parse()
            .expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let body = br#"{"messages":[]}"#;
        let once = signer
            .sign(&credentials, &uri, &headers, body, suite_time())
            .expect("signs");
        let twice = signer
            .sign(&credentials, &uri, &headers, body, suite_time())
            .expect("signs");
        assert_eq!(authorization(&once), authorization(&twice));
        assert!(
            authorization(&once).starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDTEST/20150830/eu-west-3/bedrock/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
            ),
            "{}",
            authorization(&once)
        );
        assert_eq!(once["x-amz-security-token"], "session-token-test");
        assert!(
            once["authorization"].is_sensitive() && once["x-amz-security-token"].is_sensitive()
        );
        let other_body = signer
            .sign(
                &credentials,
                &uri,
                &headers,
                br#"{"messages":[1]}"#,
                suite_time(),
            )
            .expect("signs");
        assert_ne!(authorization(&once), authorization(&other_body));
        let later = signer
            .sign(
                &credentials,
                &uri,
                &headers,
                body,
                suite_time() + Duration::from_secs(1),
            )
            .expect("signs");
        assert_ne!(authorization(&once), authorization(&later));
    }
}
