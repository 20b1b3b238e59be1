//! The admin API, with LiteLLM's paths, field names and permissions, so its scripts and UI
//! calls keep working: virtual keys ([`keys`]), users, teams and organizations ([`accounts`])
//! and their members ([`members`]), spend queries ([`spend`]), the deployments' live state
//! ([`models`]) and the deployments added without a restart ([`deployments`]). Who may call what is decided in [`access`]; how records are shown in
//! [`views`].

pub(crate) mod access;
mod accounts;
mod deployments;
mod keys;
mod members;
mod models;
mod spend;
mod views;

use axum::Router;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Query, Request};
use axum::routing::{get, post};
use http::request::Parts;
use serde::de::DeserializeOwned;
use switchyard_store::StoreError;

use crate::error::ApiError;
use crate::live::Live;
use crate::state::AppState;

/// Every admin route; the caller puts key authentication in front, and each route decides
/// what the caller's role allows.
pub fn routes() -> Router<Live> {
    Router::new()
        .route("/model/new", post(deployments::new))
        .route("/model/update", post(deployments::update))
        .route(
            "/model/{id}/update",
            axum::routing::patch(deployments::patch),
        )
        .route("/model/delete", post(deployments::delete))
        .route("/key/generate", post(keys::generate))
        .route("/key/info", get(keys::info))
        .route("/key/update", post(keys::update))
        .route("/key/delete", post(keys::delete))
        .route("/key/block", post(keys::block))
        .route("/key/unblock", post(keys::unblock))
        .route("/key/list", get(keys::list))
        .route("/user/new", post(accounts::new_user))
        .route("/user/info", get(accounts::user_info))
        .route("/user/update", post(accounts::update_user))
        .route("/user/delete", post(accounts::delete_users))
        .route("/user/list", get(accounts::list_users))
        .route("/team/new", post(accounts::new_team))
        .route("/team/info", get(accounts::team_info))
        .route("/team/update", post(accounts::update_team))
        .route("/team/delete", post(accounts::delete_teams))
        .route("/team/list", get(accounts::list_teams))
        .route("/team/member_add", post(members::add_to_team))
        .route("/team/member_update", post(members::update_in_team))
        .route("/team/member_delete", post(members::remove_from_team))
        .route("/organization/new", post(accounts::new_organization))
        .route("/organization/info", get(accounts::organization_info))
        .route("/organization/update", post(accounts::update_organization))
        .route("/organization/delete", post(accounts::delete_organizations))
        .route("/organization/list", get(accounts::list_organizations))
        .route(
            "/organization/member_add",
            post(members::add_to_organization),
        )
        .route(
            "/organization/member_update",
            post(members::update_in_organization),
        )
        .route(
            "/organization/member_delete",
            post(members::remove_from_organization),
        )
        .route("/model/info", get(models::info))
        .route("/spend/logs", get(spend::logs))
        .route("/spend/logs/csv", get(spend::logs_csv))
        .route("/spend/report", get(spend::report))
        .route("/global/spend", get(spend::global_spend))
        .route("/global/spend/keys", get(spend::global_spend_keys))
        .route("/global/spend/models", get(spend::global_spend_models))
}

/// A store failure as an answer: a missing record is 404, a conflict 409, a bad value 400;
/// a database that fails is 503 (and logged), never with its details.
pub(crate) fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound(what) => ApiError::not_found(format!("no such {what}")),
        StoreError::Conflict(what) => ApiError::conflict(format!("{what} already exists")),
        StoreError::Invalid(why) => ApiError::invalid_request(why.to_string()),
        err => {
            tracing::error!(error = %err, "the database failed a request");
            ApiError::unavailable("the database cannot be reached right now; try again shortly")
        }
    }
}

/// A query string parsed into `T`; one that does not parse is a 400 in the OpenAI error shape,
/// as every failure is (axum's own `Query` would answer in plain text).
#[derive(Debug)]
pub struct AdminQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AdminQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(query)) => Ok(Self(query)),
            Err(rejection) => Err(ApiError::invalid_request(rejection.body_text())),
        }
    }
}

/// A JSON body parsed into `T` like [`JsonBody`](crate::body::JsonBody), except that an empty body stands for
/// `T::default()`: LiteLLM's clients send `POST /key/generate` without one.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T>
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = crate::body::read(req, state).await?;
        if bytes.trim_ascii().is_empty() {
            return Ok(Self(T::default()));
        }
        crate::body::parse(&bytes).map(Self)
    }
}
