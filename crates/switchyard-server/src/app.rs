//! The axum application: routes, authentication, body limit, panic safety, and serving it.

use std::future::Future;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::require_key;
use crate::error::ApiError;
use crate::messages;
use crate::routes;
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
    Router::new()
        .merge(api)
        .route("/health/liveness", get(routes::liveness))
        .route("/health/readiness", get(routes::readiness))
        .route("/metrics", get(routes::metrics))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.max_request_bytes()))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes, then lets open requests finish.
/// While it serves, usage counts are synced with other replicas when configured.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        // Small SSE events must leave at once rather than wait for Nagle.
        let _ = tcp.set_nodelay(true);
    });
    let _usage_sync = state.start_usage_sync();
    let _sweeper = state.start_rate_limit_sweeper();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
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
