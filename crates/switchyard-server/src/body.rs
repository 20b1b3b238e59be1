//! Reading JSON request bodies: the size limit, the body deadline, encoded bodies and parse
//! failures answer as OpenAI errors; and bodies whose model the route's path names.

use std::collections::BTreeMap;

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

/// Parses a JSON object body with its top-level `model` set to `model`, replacing the body's
/// own or supplying it when absent: the routes that name the model in their path (Azure's
/// `/openai/deployments/{model}/...`) take it from there, as LiteLLM does. The body's other
/// fields are copied as the text they came as, never read into a tree.
pub fn parse_with_model<T: DeserializeOwned>(bytes: &[u8], model: &str) -> Result<T, ApiError> {
    let mut fields: BTreeMap<String, Box<serde_json::value::RawValue>> = parse(bytes)?;
    let named = serde_json::value::to_raw_value(model)
        .map_err(|err| ApiError::invalid_request(format!("model `{model}`: {err}")))?;
    fields.insert("model".to_owned(), named);
    let text = serde_json::to_vec(&fields)
        .map_err(|err| ApiError::invalid_request(format!("invalid request body: {err}")))?;
    parse(&text)
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

    #[test]
    fn the_path_names_the_model_whatever_the_body_says() {
        for body in [
            r#"{"messages": [], "model": "from-body", "x": {"b": [1,  2]}}"#,
            r#"{"messages": [], "x": {"b": [1,  2]}}"#,
        ] {
            let request: switchyard_wire::ChatRequest =
                parse_with_model(body.as_bytes(), "from-path").expect("valid");
            assert_eq!(request.model, "from-path");
            assert_eq!(
                request.extra.get("x").map(|v| v.get()),
                Some(r#"{"b": [1,  2]}"#)
            );
        }
        let err = parse_with_model::<switchyard_wire::ChatRequest>(b"[1]", "m").expect_err("no");
        assert_eq!(err.code, Some("invalid_request"));
        let err = parse_with_model::<switchyard_wire::ChatRequest>(b"{", "m").expect_err("no");
        assert_eq!(err.code, Some("invalid_json"));
    }

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
