//! Switchyard's layers around a plain HTTP client, outside the gateway: a chat completion call to
//! an OpenAI-compatible server, wrapped in the retry, rate-limit and cost layers.
//!
//! Run with `cargo run -p switchyard-layers --example http_client`. It starts its own tiny
//! upstream on loopback, which fails the first call with a 503 so the retry layer has work to do.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use switchyard_layers::cost::{
    Billable, Cost, CostLayer, ModelPrice, PriceCatalog, SpendSink, Tokens,
};
use switchyard_layers::rate_limit::{
    LimitCheck, Limits, LocalBackend, RateLimitLayer, Scope, UsedTokens,
};
use switchyard_layers::retry::{RetryClass, RetryConfig, RetryDecision, RetryPolicy};
use switchyard_providers::http::{ClientSettings, HttpClient, MAX_RESPONSE_BYTES, parse_uri};
use switchyard_providers::{ErrorClass, ProviderError};
use switchyard_wire::{ChatRequest, ChatResponse};
use tower::{BoxError, ServiceBuilder, ServiceExt};

/// The answer of one call, priced by the catalog's entry for `gpt-4o-mini`.
struct Answer {
    response: ChatResponse,
    cost: Option<Cost>,
}

impl Billable for Answer {
    fn price(&self) -> Option<ModelPrice> {
        PriceCatalog::embedded()
            .get("gpt-4o-mini")
            .map(|entry| entry.price)
    }
    fn tokens(&self) -> Option<(Tokens, bool)> {
        self.response
            .usage
            .as_ref()
            .map(|u| (Tokens::from(u), false))
    }
    fn set_cost(&mut self, cost: Cost) {
        self.cost = Some(cost);
    }
}

impl UsedTokens for Answer {
    fn used_tokens(&self) -> Option<u64> {
        self.response.usage.as_ref().map(|u| u.total_tokens)
    }
}

impl RetryClass for Answer {
    fn retry_decision(&self) -> RetryDecision {
        RetryDecision::Final
    }
}

/// Spend, as a real service would send it to its ledger.
#[derive(Default)]
struct Ledger(Mutex<Vec<f64>>);

impl SpendSink<Answer> for Ledger {
    fn record(&self, _: &Answer, cost: Option<Cost>, elapsed: Duration) {
        let usd = cost.map_or(0.0, |c| c.usd);
        println!("spend: ${usd:.8} in {elapsed:?}");
        if let Ok(mut entries) = self.0.lock() {
            entries.push(usd);
        }
    }
}

/// A loopback upstream in OpenAI's shape: 503 on its first call, then answers.
async fn upstream() -> Result<String, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let calls = Arc::new(AtomicU32::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let calls = Arc::clone(&calls);
            let service = hyper::service::service_fn(
                move |_req: Request<hyper::body::Incoming>| {
                    let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
                    async move {
                        let (status, body) = if first {
                            (
                                StatusCode::SERVICE_UNAVAILABLE,
                                r#"{"error":{"message":"warming up","type":"server_error"}}"#,
                            )
                        } else {
                            (
                                StatusCode::OK,
                                r#"{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}"#,
                            )
                        };
                        let mut response =
                            Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                        *response.status_mut() = status;
                        Ok::<_, Infallible>(response)
                    }
                },
            );
            let io = hyper_util::rt::TokioIo::new(stream);
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
        }
    });
    Ok(format!("http://{addr}/v1/chat/completions"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let uri = parse_uri(&upstream().await?)?;
    let client = HttpClient::new(&ClientSettings::default())?;

    // The plain HTTP client service: one POST, the answer parsed, failures classified.
    let call = tower::service_fn(move |request: ChatRequest| {
        let (client, uri) = (client.clone(), uri.clone());
        async move {
            let response = client
                .post_json(&uri, &http::HeaderMap::new(), &request)
                .await?;
            if !response.status().is_success() {
                let status = response.status().as_u16();
                return Err(ProviderError::from_status(
                    status,
                    None,
                    format!("HTTP {status}"),
                    None,
                ));
            }
            let body = response.bytes(MAX_RESPONSE_BYTES).await?;
            let response = serde_json::from_slice(&body)
                .map_err(|e| ProviderError::new(ErrorClass::InvalidResponse, e.to_string()))?;
            Ok(Answer {
                response,
                cost: None,
            })
        }
    });

    let ledger = Arc::new(Ledger::default());
    let per_model = |request: &ChatRequest| {
        vec![LimitCheck::new(
            Scope::MODEL,
            request.model.as_str(),
            Limits::none().rpm(60).tpm(100_000),
        )]
    };
    let policy = RetryPolicy::new(&RetryConfig {
        base_delay: Duration::from_millis(10),
        ..RetryConfig::default()
    })?;
    let service = ServiceBuilder::new()
        .layer(CostLayer::new(Arc::clone(&ledger)))
        .layer(RateLimitLayer::new(
            per_model,
            Arc::new(LocalBackend::new()),
        ))
        .retry(policy)
        .service(call);

    let request: ChatRequest = serde_json::from_value(serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Say hello."}],
    }))?;
    let answer = service.oneshot(request).await?;
    let text = answer.response.choices[0]
        .message
        .content
        .as_ref()
        .map(|c| c.joined_text())
        .unwrap_or_default();
    println!("answer: {text} (after one retry of a 503)");
    let cost = answer.cost.ok_or("the answer was priced")?;
    assert!(cost.usd > 0.0);
    println!("cost: ${:.8}", cost.usd);
    Ok(())
}
