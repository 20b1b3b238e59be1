//! The axum application: routes, authentication, the admin UI (`ui`), body limit, panic
//! safety, refusal of requests framed two ways and the Anthropic error shape on `/v1/messages`
//! ([`edge`]), and serving it.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer, ExposeHeaders};

mod edge;

use crate::audio;
use crate::auth::RequireKeyLayer;
use crate::azure;
use crate::error::ApiError;
use crate::health;
use crate::live::Live;
use crate::messages;
use crate::model_info;
use crate::responses;
use crate::routes::{self, answered_whole};
use crate::server::{Listeners, ServerOptions, ServingThreads};
use edge::{AnthropicErrors, RefuseAmbiguousFraming};
use switchyard_wire::{EmbeddingsRequest, ImageRequest, ModerationRequest, RerankRequest};

/// The whole HTTP API over the state `live` serves.
pub fn router(live: Live) -> Router {
    let state = live.current();
    let cors = cors(&state.server_settings().cors_allow_origins);
    let api = Router::<Live>::new()
        .route("/v1/chat/completions", post(routes::chat_completions))
        .route("/chat/completions", post(routes::chat_completions))
        .route("/v1/completions", post(routes::completions))
        .route("/completions", post(routes::completions))
        .route("/v1/embeddings", post(answered_whole::<EmbeddingsRequest>))
        .route("/embeddings", post(answered_whole::<EmbeddingsRequest>))
        .route("/v1/moderations", post(answered_whole::<ModerationRequest>))
        .route("/moderations", post(answered_whole::<ModerationRequest>))
        .route(
            "/v1/images/generations",
            post(answered_whole::<ImageRequest>),
        )
        .route("/images/generations", post(answered_whole::<ImageRequest>))
        .route("/v1/audio/speech", post(audio::speech))
        .route("/audio/speech", post(audio::speech))
        .route("/v1/audio/transcriptions", post(audio::transcriptions))
        .route("/audio/transcriptions", post(audio::transcriptions))
        .route("/v1/rerank", post(answered_whole::<RerankRequest>))
        .route("/rerank", post(answered_whole::<RerankRequest>))
        .route("/v2/rerank", post(answered_whole::<RerankRequest>))
        .route("/v1/models", get(routes::models))
        .route("/models", get(routes::models))
        .route("/v1/models/{*id}", get(routes::model))
        .route("/models/{*id}", get(routes::model))
        .route("/model_group/info", get(model_info::model_group_info))
        .route("/v2/model/info", get(model_info::model_info_v2))
        .route(messages::MESSAGES_PATH, post(messages::create_message))
        .route(messages::COUNT_TOKENS_PATH, post(messages::count_tokens))
        .route("/v1/responses", post(responses::create_response))
        .route("/responses", post(responses::create_response))
        .route(
            "/v1/responses/{id}",
            get(responses::get_response).delete(responses::delete_response),
        )
        .route(
            "/responses/{id}",
            get(responses::get_response).delete(responses::delete_response),
        )
        .route(
            "/openai/deployments/{model}/chat/completions",
            post(azure::chat_completions),
        )
        .route(
            "/openai/deployments/{model}/completions",
            post(azure::completions),
        )
        .route(
            "/openai/deployments/{model}/embeddings",
            post(azure::embeddings),
        )
        .route_layer(RequireKeyLayer::model_calls(live.clone()));
    let admin_api = || crate::admin::routes().route("/health", get(health::check));
    let admin = admin_api().route_layer(RequireKeyLayer::any_role(live.clone()));
    // The same admin routes again under /ui/api, for the UI's sessions only.
    let ui = crate::ui::routes(live.clone(), admin_api());
    let routes = Router::<Live>::new()
        .merge(api)
        .merge(admin)
        .merge(ui)
        .route("/health/liveness", get(routes::liveness))
        .route("/health/readiness", get(routes::readiness))
        .route("/metrics", get(routes::metrics))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(live);
    // The layers every request goes through wrap the routed application once, outside it.
    // `Router::layer` would wrap each route in each layer, every one boxed again: a request
    // then cloned about 20 nested boxed services (28 allocations, ~7k instructions a call).
    let every_request = ServiceBuilder::new()
        .layer(tower::util::option_layer(cors))
        // Outside every layer that can refuse (authentication, framing, panics), so that all
        // failures on /v1/messages take Anthropic's shape.
        .layer_fn(AnthropicErrors)
        .layer_fn(RefuseAmbiguousFraming)
        .map_response(IntoResponse::into_response)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(DefaultBodyLimit::max(state.max_request_bytes()))
        .service(routes);
    Router::new().fallback_service(every_request)
}

/// Serves the API on `listeners`, one thread and single-threaded runtime each
/// ([`ServingThreads`]), until `shutdown` completes, then drains: readiness turns false at
/// once, the listeners close after `general_settings.drain_delay_seconds`, open calls and
/// streams get `grace_period_seconds` to finish, and the spend records still queued are
/// written. While it serves, the served state's background work runs on the caller's runtime
/// (usage sync, rate-limit sweeping, the spend writer) and, when the gateway was started from a
/// file, the file is watched for changes (and `SIGHUP`) to reload. A serving thread that ends
/// on its own (it panicked) shuts the whole server down, as a crash would.
///
/// # Errors
/// A serving thread could not be started.
pub async fn serve(
    listeners: Listeners,
    live: Live,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _tasks = live.start_state_tasks();
    let _watcher = live.watch(RELOAD_CHECK_INTERVAL);
    // Deployments stored through the admin API are served from the first call on.
    if let Err(err) = live.follow_stored_deployments().await {
        tracing::error!(error = %err, "the stored deployments are not served until they can be read");
    }
    let _follower = live.follow_deployments(DEPLOYMENTS_CHECK_INTERVAL);
    let settings = live.current().server_settings().clone();
    let options = ServerOptions {
        header_read_timeout: settings.header_timeout,
        body_timeout: settings.body_timeout,
        idle_timeout: settings.idle_timeout,
        grace_period: settings.grace_period,
        ..ServerOptions::default()
    };
    let threads = listeners.threads();
    let mut serving = ServingThreads::spawn(
        listeners,
        &router(live.clone()),
        &options,
        live.connections(),
        live.runtimes(),
    )?;
    tracing::info!(threads, "serving");
    tokio::select! {
        () = shutdown => {
            live.start_draining();
            tracing::info!(
                delay_ms = settings.drain_delay.as_millis() as u64,
                "shutting down: readiness is false; the listeners close after the drain delay"
            );
            tokio::time::sleep(settings.drain_delay).await;
        }
        () = serving.ended() => {
            live.start_draining();
            tracing::error!("a serving thread stopped on its own: shutting down");
        }
    }
    serving.stop().await;
    let report = live.current().storage().shutdown().await;
    tracing::info!(
        written = report.written,
        dropped = report.dropped,
        "spend records flushed"
    );
    // The serving runtimes end only now: the last spend writes may use connections they opened.
    drop(serving);
    Ok(())
}

/// How often the configuration file is checked for changes.
pub const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// How often the stored deployments' revision is checked, so that a deployment another replica
/// adds, changes or removes is served here within this time.
pub const DEPLOYMENTS_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Cross-origin browser calls from `origins`, when any are configured; none otherwise (the
/// browser then refuses the answer). Preflights are answered; credentials are not allowed, so
/// a browser never sends cookies with a cross-origin call.
fn cors(origins: &[http::HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().cloned())
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([http::Method::GET, http::Method::POST, http::Method::OPTIONS])
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers(ExposeHeaders::any())
            .max_age(Duration::from_secs(600)),
    )
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
