//! Reading JSON request bodies: the size limit, the body deadline, encoded bodies and parse
//! failures answer as OpenAI errors.

use axum::extract::{FromRef, FromRequest, Request};
use bytes::Bytes;
use http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::server::BodyTimeout;
use crate::state::AppState;

/// A request body parsed as JSON into `T`, limited to the configured size.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T>
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read(req, state).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// Reads a request body whole, within the configured size: an encoded body is refused before
/// any of it is read, as is one whose `Content-Length` is over the limit.
pub(crate) async fn read<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError>
where
    AppState: FromRef<S>,
{
    refuse_encoded(&req)?;
    let limit = AppState::from_ref(state).max_request_bytes();
    refuse_declared_oversize(&req, limit)?;
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(limit)
        } else if let Some(timeout) = BodyTimeout::find(&rejection) {
            ApiError::body_timeout(timeout.limit())
        } else {
            ApiError::invalid_request(format!("could not read the request body: {rejection}"))
        }
    })
}

/// Refuses a body sent with a `Content-Encoding` other than `identity`: the gateway decodes
/// none (a few kilobytes of gzip can inflate to gigabytes), and reading one as JSON would only
/// answer that it is not JSON.
fn refuse_encoded(req: &Request) -> Result<(), ApiError> {
    let encoded = req
        .headers()
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .flat_map(|value| value.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .find(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case(b"identity"));
    match encoded {
        Some(coding) => Err(ApiError::unsupported_encoding(&String::from_utf8_lossy(
            coding,
        ))),
        None => Ok(()),
    }
}

/// Refuses a body whose `Content-Length` says it is over `limit` before reading any of it: the
/// length limit alone stops a body only once that much has arrived, so a client that declares a
/// huge body and sends none of it would wait for an answer forever.
fn refuse_declared_oversize(req: &Request, limit: usize) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Err(ApiError::payload_too_large(limit)),
        _ => Ok(()),
    }
}

/// Parses a JSON body, telling malformed JSON (`invalid_json`) from a well-formed body that is
/// not a valid request (`invalid_request`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => {
            ApiError::invalid_request(format!("invalid request body: {err}"))
        }
        _ => ApiError::invalid_json(err),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(values: &[&'static str]) -> Result<(), ApiError> {
        let mut request = Request::new(axum::body::Body::empty());
        for value in values {
            request.headers_mut().append(
                http::header::CONTENT_ENCODING,
                http::HeaderValue::from_static(value),
            );
        }
        refuse_encoded(&request)
    }

    #[test]
    fn only_identity_bodies_are_read() {
        assert!(encoded(&[]).is_ok());
        assert!(encoded(&["identity"]).is_ok());
        assert!(encoded(&["Identity", " identity "]).is_ok());
        for values in [
            &["gzip"][..],
            &["br"],
            &["identity, gzip"],
            &["identity", "deflate"],
            &["x-custom"],
        ] {
            let err = encoded(values).expect_err("an encoded body");
            assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{values:?}");
            assert_eq!(err.code, Some("unsupported_content_encoding"));
        }
    }
}
