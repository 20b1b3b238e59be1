//! The admin API, under the master key: virtual keys ([`keys`]), users and teams
//! ([`accounts`]) and spend queries ([`spend`]), with LiteLLM's paths and field names
//! (`/key/generate`, `/key/info`, `/key/update`, `/key/delete`, `/user/new`, `/team/new`,
//! `/spend/logs`, ...), so its scripts and UI calls keep working; and the deployments' live
//! state ([`models`]).

mod accounts;
mod keys;
mod models;
mod spend;

use axum::Router;
use axum::routing::{get, post};
use switchyard_store::StoreError;

use crate::error::ApiError;
use crate::live::Live;

/// Every admin route; the caller puts the master key check in front.
pub fn routes() -> Router<Live> {
    Router::new()
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
        .route("/model/info", get(models::info))
        .route("/spend/logs", get(spend::logs))
        .route("/spend/report", get(spend::report))
}

/// A store failure as an answer: a missing record is 404, a conflict 409, a bad value 400;
/// a database that fails is 503 (and logged), never with its details.
fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound(what) => ApiError::not_found(format!("no such {what}")),
        StoreError::Conflict(what) => ApiError::conflict(format!("{what} already exists")),
        StoreError::Invalid(why) => ApiError::invalid_request(why.to_string()),
        err => {
            tracing::error!(error = %err, "the database failed an admin request");
            ApiError::unavailable("the database cannot be reached right now; try again shortly")
        }
    }
}
