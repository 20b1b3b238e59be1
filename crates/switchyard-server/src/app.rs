//! The axum application: routes, authentication, body limit, panic safety, and serving it.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::{require_key, require_master_key};
use crate::error::ApiError;
use crate::messages;
use crate::routes;
use crate::server::{ConnectionCount, ServerOptions, serve_connections};
use crate::state::AppState;

/// The whole HTTP API over `state`.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(routes::chat_completions))
        .route("/chat/completions", post(routes::chat_completions))
        .route("/v1/embeddings", post(routes::embeddings))
        .route("/embeddings", post(routes::embeddings))
        .route("/v1/models", get(routes::models))
        .route("/models", get(routes::models))
        .route(messages::MESSAGES_PATH, post(messages::create_message))
        .route_layer(from_fn_with_state(state.clone(), require_key))
        // Outside authentication, so that its refusals on /v1/messages take Anthropic's shape.
        .route_layer(from_fn(messages::answer_errors_in_anthropic_shape));
    let admin =
        crate::admin::routes().route_layer(from_fn_with_state(state.clone(), require_master_key));
    Router::new()
        .merge(api)
        .merge(admin)
        .route("/health/liveness", get(routes::liveness))
        .route("/health/readiness", get(routes::readiness))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.max_request_bytes()))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes, then lets open requests finish
/// (within [`ServerOptions::grace_period`]) and writes the spend records still queued. While it
/// serves, usage counts are synced with other replicas when configured.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _usage_sync = state.start_usage_sync();
    let _sweeper = state.start_rate_limit_sweeper();
    let options = ServerOptions::default();
    let open = Arc::new(ConnectionCount::default());
    serve_connections(listener, router(state.clone()), shutdown, &options, open).await;
    let report = state.storage().shutdown().await;
    tracing::info!(
        written = report.written,
        dropped = report.dropped,
        "spend records flushed"
    );
    Ok(())
}

async fn route_not_found(request: Request) -> ApiError {
    ApiError::route_not_found(request.method(), request.uri().path())
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::method_not_allowed(request.method(), request.uri().path())
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal("the gateway failed while handling this request").into_response()
}
