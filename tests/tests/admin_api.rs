//! End to end through real gateway processes: the admin API as LiteLLM's. Who may call what
//! (`proxy_admin`, `proxy_admin_viewer`, `internal_user`, `internal_user_viewer`, team admins,
//! org admins, keys of no user), each allowed and each refused case with LiteLLM's status and
//! words (<https://docs.litellm.ai/docs/proxy/access_control>, its `route_checks.py`);
//! organizations with budgets and models that bind their teams' keys; team members with roles;
//! the field names of LiteLLM's answers; the `x-litellm-*` response headers
//! (<https://docs.litellm.ai/docs/proxy/response_headers>). On SQLite, and the permission cases
//! again on PostgreSQL.

use serde_json::{Value, json};
use switchyard_e2e::shared_state::{Schema, admin_get, eventually, new_key};
use switchyard_e2e::{Gateway, MASTER_KEY, error_of, sse_data};

const INPUT_PRICE: f64 = 0.000_001;
const OUTPUT_PRICE: f64 = 0.000_002;

/// `metered` and `other` (priced mocks), `broken` (always fails, falls back to `metered`), the
/// master key, and whatever `general` adds to `general_settings` (indented lines).
fn config(general: &str) -> String {
    let priced = |name: &str| {
        format!(
            "  - model_name: {name}\n    litellm_params: {{model: mock/echo, input_cost_per_token: {INPUT_PRICE}, output_cost_per_token: {OUTPUT_PRICE}}}\n    model_info: {{id: {name}-mock}}\n"
        )
    };
    format!(
        "model_list:\n{}{}  - model_name: broken\n    litellm_params: {{model: mock/echo, mock_failure_rate: 1.0, input_cost_per_token: {INPUT_PRICE}, output_cost_per_token: {OUTPUT_PRICE}}}\n    model_info: {{id: broken-mock}}\nrouter_settings:\n  num_retries: 1\n  fallbacks: [{{broken: [metered]}}]\ngeneral_settings:\n  master_key: {MASTER_KEY}\n{general}",
        priced("metered"),
        priced("other"),
    )
}

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello there"}]})
}

/// A request with `key`: its status and JSON body.
async fn call(
    gateway: &Gateway,
    method: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> (u16, Value) {
    let response = match method {
        "GET" => gateway.get(path, Some(key)).await,
        _ => gateway.post(path, body, Some(key)).await,
    };
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Asserts a refusal: its status, and that its message (OpenAI's shape) is `message`.
#[track_caller]
fn refused(answer: &(u16, Value), status: u16, message: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"]["message"], message, "{}", answer.1);
    assert!(answer.1["error"]["type"].is_string(), "{}", answer.1);
}

/// The people of the permission cases: users of each role with a key each, in teams `red`
/// (ana its admin, bo a member) and `blue` (bo only).
struct People {
    admin: String,
    viewer: String,
    ana: String,
    bo_personal: String,
    bo_red: String,
    vic: String,
    nobody: String,
}

async fn people(gateway: &Gateway) -> People {
    for (user, role) in [
        ("root", "proxy_admin"),
        ("watcher", "proxy_admin_viewer"),
        ("ana", "internal_user"),
        ("bo", "internal_user"),
        ("vic", "internal_user_viewer"),
    ] {
        let created = gateway
            .admin_post(
                "/user/new",
                &json!({"user_id": user, "user_role": role, "auto_create_key": false}),
            )
            .await;
        assert_eq!(created["user_role"], role, "{created}");
        assert!(created.get("key").is_none(), "no key asked for: {created}");
    }
    let team = gateway
        .admin_post(
            "/team/new",
            &json!({"team_id": "red", "models": ["metered"], "members_with_roles": [
                {"user_id": "ana", "role": "admin"}, {"user_id": "bo", "role": "user"}]}),
        )
        .await;
    assert_eq!(team["admins"], json!(["ana"]), "{team}");
    gateway
        .admin_post("/team/new", &json!({"team_id": "blue", "members": ["bo"]}))
        .await;
    let key = |body: Value| async move { new_key(gateway, &body).await.0 };
    People {
        admin: key(json!({"user_id": "root"})).await,
        viewer: key(json!({"user_id": "watcher"})).await,
        ana: key(json!({"user_id": "ana"})).await,
        bo_personal: key(json!({"user_id": "bo", "key_alias": "bo-own"})).await,
        bo_red: key(json!({"user_id": "bo", "team_id": "red", "key_alias": "bo-red"})).await,
        vic: key(json!({"user_id": "vic"})).await,
        nobody: key(json!({"key_alias": "nobody's"})).await,
    }
}

async fn id_of(gateway: &Gateway, secret: &str) -> String {
    let (status, info) = call(gateway, "GET", "/key/info", secret, &Value::Null).await;
    assert_eq!(status, 200, "{info}");
    info["key"].as_str().expect("an id").to_owned()
}

/// Every allowed and refused case of LiteLLM's permission model.
async fn permissions_hold(gateway: &Gateway) {
    let p = people(gateway).await;
    let none = Value::Null;

    // proxy_admin (a user's key, not the master key): everything.
    let made = call(
        gateway,
        "POST",
        "/user/new",
        &p.admin,
        &json!({"user_id": "new-by-root", "auto_create_key": false}),
    )
    .await;
    assert_eq!(made.0, 200, "{}", made.1);
    let made = call(
        gateway,
        "POST",
        "/key/generate",
        &p.admin,
        &json!({"user_id": "bo"}),
    )
    .await;
    assert_eq!(
        (made.0, &made.1["user_id"]),
        (200, &json!("bo")),
        "{}",
        made.1
    );

    // proxy_admin_viewer: reads everything, writes nothing, calls no model.
    for path in [
        "/key/list",
        "/user/list",
        "/spend/logs",
        "/team/list",
        "/user/info?user_id=ana",
        "/team/info?team_id=red",
    ] {
        let read = call(gateway, "GET", path, &p.viewer, &none).await;
        assert_eq!(read.0, 200, "{path}: {}", read.1);
    }
    let all_keys = call(gateway, "GET", "/key/list?size=100", &p.viewer, &none).await;
    assert!(
        all_keys.1["total_count"].as_u64().is_some_and(|n| n >= 7),
        "{}",
        all_keys.1
    );
    for (path, body) in [
        ("/key/generate", json!({})),
        ("/user/new", json!({"user_id": "x"})),
        ("/team/new", json!({"team_id": "x"})),
        ("/key/delete", json!({"keys": [p.ana.clone()]})),
    ] {
        refused(
            &call(gateway, "POST", path, &p.viewer, &body).await,
            403,
            &format!(
                "user not allowed to access this route, role= proxy_admin_viewer. Trying to access: {path}"
            ),
        );
    }
    refused(
        &call(
            gateway,
            "POST",
            "/team/member_add",
            &p.viewer,
            &json!({"team_id": "red", "member": {"user_id": "x"}}),
        )
        .await,
        403,
        "user not allowed to access this route, role= proxy_admin_viewer. Trying to access: /team/member_add",
    );
    refused(
        &call(
            gateway,
            "POST",
            "/v1/chat/completions",
            &p.viewer,
            &ask("metered"),
        )
        .await,
        403,
        "user not allowed to access this OpenAI routes, role= proxy_admin_viewer",
    );

    // internal_user: keys for themselves, in their teams.
    let own = call(
        gateway,
        "POST",
        "/key/generate",
        &p.ana,
        &json!({"key_alias": "ana-2"}),
    )
    .await;
    assert_eq!(
        (own.0, &own.1["user_id"]),
        (200, &json!("ana")),
        "a key of hers: {}",
        own.1
    );
    let own_secret = own.1["key"].as_str().expect("a secret").to_owned();
    let answer = gateway
        .post("/v1/chat/completions", &ask("metered"), Some(&own_secret))
        .await;
    assert_eq!(answer.status(), 200);
    refused(
        &call(
            gateway,
            "POST",
            "/key/generate",
            &p.ana,
            &json!({"user_id": "bo"}),
        )
        .await,
        403,
        "User can only create keys for themselves. Got user_id=bo, Your ID=ana",
    );
    refused(
        &call(
            gateway,
            "POST",
            "/key/generate",
            &p.ana,
            &json!({"team_id": "blue"}),
        )
        .await,
        400,
        "User=ana not assigned to team=blue",
    );
    let team_key = call(
        gateway,
        "POST",
        "/key/generate",
        &p.ana,
        &json!({"team_id": "red"}),
    )
    .await;
    assert_eq!(
        (team_key.0, &team_key.1["team_id"]),
        (200, &json!("red")),
        "{}",
        team_key.1
    );
    // A team key may not widen the team's models, nor leave the team.
    let too_wide =
        "team=red may call only [\"metered\"]; a key of the team may not name [\"other\"]";
    refused(
        &call(
            gateway,
            "POST",
            "/key/generate",
            &p.ana,
            &json!({"team_id": "red", "models": ["other"]}),
        )
        .await,
        403,
        too_wide,
    );
    let team_key_id = team_key.1["token"].as_str().expect("an id").to_owned();
    refused(
        &call(
            gateway,
            "POST",
            "/key/update",
            &p.ana,
            &json!({"key": team_key_id, "team_id": null}),
        )
        .await,
        403,
        "Non-admin users cannot remove the team_id from a key.",
    );
    refused(
        &call(
            gateway,
            "POST",
            "/key/update",
            &p.ana,
            &json!({"key": team_key_id, "models": ["other"]}),
        )
        .await,
        403,
        too_wide,
    );
    refused(
        &call(
            gateway,
            "POST",
            "/user/new",
            &p.ana,
            &json!({"user_id": "x"}),
        )
        .await,
        401,
        "Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route=/user/new. Your role=internal_user. Your user_id=***",
    );
    // Her own keys and her team's (she administers `red`) change; bo's own key does not.
    let bo_personal = id_of(gateway, &p.bo_personal).await;
    let bo_red = id_of(gateway, &p.bo_red).await;
    let renamed = call(
        gateway,
        "POST",
        "/key/update",
        &p.ana,
        &json!({"key": own_secret, "key_alias": "mine"}),
    )
    .await;
    assert_eq!(
        (renamed.0, &renamed.1["key_alias"]),
        (200, &json!("mine")),
        "{}",
        renamed.1
    );
    let blocked = call(
        gateway,
        "POST",
        "/key/block",
        &p.ana,
        &json!({"key": bo_red}),
    )
    .await;
    assert_eq!(
        (blocked.0, &blocked.1["blocked"]),
        (200, &json!(true)),
        "{}",
        blocked.1
    );
    refused(
        &call(
            gateway,
            "POST",
            "/key/update",
            &p.ana,
            &json!({"key": bo_personal, "max_budget": 0}),
        )
        .await,
        403,
        &format!("key `{bo_personal}` is neither yours nor a key of a team you administer"),
    );
    refused(
        &call(
            gateway,
            "POST",
            "/key/delete",
            &p.ana,
            &json!({"keys": [bo_personal]}),
        )
        .await,
        403,
        &format!("key `{bo_personal}` is neither yours nor a key of a team you administer"),
    );
    let answer = gateway
        .post(
            "/v1/chat/completions",
            &ask("metered"),
            Some(&p.bo_personal),
        )
        .await;
    assert_eq!(answer.status(), 200, "bo's own key untouched");
    // Listing: her keys, her team's; not another user's nor a team she does not administer.
    let listed = call(
        gateway,
        "GET",
        "/key/list?return_full_object=true",
        &p.ana,
        &none,
    )
    .await;
    assert_eq!(listed.0, 200, "{}", listed.1);
    let owners: Vec<&Value> = listed.1["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| &k["user_id"])
        .collect();
    assert!(
        !owners.is_empty() && owners.iter().all(|u| **u == json!("ana")),
        "{}",
        listed.1
    );
    let red_keys = call(gateway, "GET", "/key/list?team_id=red", &p.ana, &none).await;
    assert!(
        red_keys.1["keys"]
            .as_array()
            .expect("keys")
            .contains(&json!(bo_red)),
        "{}",
        red_keys.1
    );
    refused(
        &call(gateway, "GET", "/key/list?user_id=bo", &p.ana, &none).await,
        403,
        "You are not authorized to check another user's keys",
    );
    refused(
        &call(gateway, "GET", "/key/list?team_id=blue", &p.ana, &none).await,
        403,
        "You are not authorized to check this team's keys",
    );
    // Members: of the team she administers, not of another.
    let added = call(
        gateway,
        "POST",
        "/team/member_add",
        &p.ana,
        &json!({"team_id": "red", "member": {"user_id": "carl", "role": "user"}}),
    )
    .await;
    assert_eq!(added.0, 200, "{}", added.1);
    refused(
        &call(
            gateway,
            "POST",
            "/team/member_add",
            &p.ana,
            &json!({"team_id": "blue", "member": {"user_id": "carl"}}),
        )
        .await,
        403,
        "Call not allowed. User not proxy admin OR team admin. route=/team/member_add, team_id=blue",
    );
    // A member who is no admin of the team (bo's key, unblocked again) may not add members.
    gateway
        .admin_post("/key/unblock", &json!({"key": bo_red}))
        .await;
    refused(
        &call(
            gateway,
            "POST",
            "/team/member_add",
            &p.bo_red,
            &json!({"team_id": "red", "member": {"user_id": "dan"}}),
        )
        .await,
        403,
        "Call not allowed. User not proxy admin OR team admin. route=/team/member_add, team_id=red",
    );
    // Spend: her own only.
    let spend = call(gateway, "GET", "/spend/logs", &p.ana, &none).await;
    assert_eq!(spend.0, 200, "{}", spend.1);
    refused(
        &call(gateway, "GET", "/spend/logs?user_id=bo", &p.ana, &none).await,
        403,
        "You are not allowed to view another user's spend logs",
    );
    refused(
        &call(gateway, "GET", "/spend/report", &p.ana, &none).await,
        401,
        "Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route=/spend/report. Your role=internal_user. Your user_id=***",
    );

    // internal_user_viewer: reads its own key, user and spend; changes nothing.
    refused(
        &call(gateway, "POST", "/key/generate", &p.vic, &json!({})).await,
        401,
        "Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route=/key/generate. Your role=internal_user_viewer. Your user_id=***",
    );
    let mine = call(gateway, "GET", "/user/info", &p.vic, &none).await;
    assert_eq!(
        (mine.0, &mine.1["user_id"]),
        (200, &json!("vic")),
        "{}",
        mine.1
    );
    assert_eq!(
        mine.1["keys"].as_array().map(Vec::len),
        Some(1),
        "{}",
        mine.1
    );
    refused(
        &call(gateway, "GET", "/user/info?user_id=ana", &p.vic, &none).await,
        403,
        "key not allowed to access this user's info. user_id=ana, key's user_id=vic",
    );
    let spend = call(gateway, "GET", "/spend/logs", &p.vic, &none).await;
    assert_eq!(spend.0, 200, "{}", spend.1);
    refused(
        &call(gateway, "GET", "/team/info?team_id=red", &p.vic, &none).await,
        403,
        "key not allowed to access this team's info",
    );

    // A key of no user: its own /key/info (no `key`: the calling key), nothing else's.
    let itself = call(gateway, "GET", "/key/info", &p.nobody, &none).await;
    assert_eq!(
        (itself.0, &itself.1["info"]["key_alias"]),
        (200, &json!("nobody's")),
        "{}",
        itself.1
    );
    refused(
        &call(
            gateway,
            "GET",
            &format!("/key/info?key={bo_personal}"),
            &p.nobody,
            &none,
        )
        .await,
        403,
        "You are not allowed to access this key's info. Your role=None",
    );
    // A team member reads the team; a user reads another key of theirs.
    let team = call(
        gateway,
        "GET",
        "/team/info?team_id=red",
        &p.bo_personal,
        &none,
    )
    .await;
    assert_eq!(team.0, 200, "{}", team.1);
    let other = call(
        gateway,
        "GET",
        &format!("/key/info?key={bo_red}"),
        &p.bo_personal,
        &none,
    )
    .await;
    assert_eq!(other.0, 200, "{}", other.1);
}

#[tokio::test]
async fn each_role_may_do_what_litellm_allows_it_on_sqlite() {
    let gateway = Gateway::spawn(&config(""), &[]).await;
    permissions_hold(&gateway).await;
}

#[tokio::test]
async fn each_role_may_do_what_litellm_allows_it_on_postgres() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let gateway = Gateway::spawn(
        &config("  database_url: os.environ/TEST_DATABASE_URL\n"),
        &[("TEST_DATABASE_URL", schema.url.as_str())],
    )
    .await;
    permissions_hold(&gateway).await;
    drop(gateway);
    schema.remove().await;
}

#[tokio::test]
async fn answers_carry_litellms_field_names() {
    let gateway = Gateway::spawn(&config(""), &[]).await;
    // /user/new: the user and a key of theirs (LiteLLM's NewUserResponse).
    let user = gateway
        .admin_post(
            "/user/new",
            &json!({"user_id": "ada", "user_email": "ada@example.com", "user_role": "internal_user",
                    "max_budget": 2.5, "budget_duration": "7d", "models": ["metered"],
                    "key_alias": "ada-first"}),
        )
        .await;
    let secret = user["key"].as_str().expect("a key made with the user");
    for (field, value) in [
        ("user_id", json!("ada")),
        ("user_email", json!("ada@example.com")),
        ("user_role", json!("internal_user")),
        ("max_budget", json!(2.5)),
        ("budget_duration", json!("7d")),
        ("models", json!(["metered"])),
        ("key_alias", json!("ada-first")),
        ("spend", json!(0.0)),
    ] {
        assert_eq!(user[field], value, "{field}: {user}");
    }
    assert_eq!(
        user["key_name"],
        json!(format!("sk-...{}", &secret[secret.len() - 4..]))
    );
    // /key/generate.
    let key = gateway
        .admin_post(
            "/key/generate",
            &json!({"key_alias": "ci", "duration": "1h", "models": ["metered"], "max_budget": 5,
                    "budget_duration": "1d", "tpm_limit": 1000, "rpm_limit": 10,
                    "metadata": {"app": "x"}, "user_id": "ada"}),
        )
        .await;
    for field in [
        "key",
        "token",
        "token_id",
        "key_name",
        "key_alias",
        "expires",
        "user_id",
        "team_id",
        "organization_id",
        "models",
        "max_budget",
        "spend",
        "metadata",
        "tpm_limit",
        "rpm_limit",
        "budget_duration",
        "budget_reset_at",
        "blocked",
        "created_at",
        "updated_at",
    ] {
        assert!(key.get(field).is_some(), "{field} missing: {key}");
    }
    let expires = key["expires"].as_str().expect("a datetime");
    assert!(
        time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{expires}"
    );
    assert_eq!(key["token"], key["token_id"]);
    // /key/info: {"key", "info"}.
    let id = key["token"].as_str().expect("an id");
    let info = admin_get(&gateway, &format!("/key/info?key={id}")).await;
    assert_eq!(info["key"], json!(id));
    assert_eq!(info["info"]["key_alias"], "ci");
    assert_eq!(info["info"]["tpm_limit"], 1000);
    // /user/info: {"user_id", "user_info", "keys", "teams"}.
    gateway
        .admin_post(
            "/team/new",
            &json!({"team_id": "t1", "team_alias": "Team One", "admins": ["ada"]}),
        )
        .await;
    let info = admin_get(&gateway, "/user/info?user_id=ada").await;
    assert_eq!(info["user_id"], "ada");
    assert_eq!(info["user_info"]["user_email"], "ada@example.com");
    assert_eq!(info["user_info"]["teams"], json!(["t1"]));
    assert_eq!(info["keys"].as_array().map(Vec::len), Some(2), "{info}");
    assert_eq!(info["teams"][0]["team_id"], "t1");
    // /team/info: {"team_id", "team_info": {"members_with_roles": [{user_id, role}]}, "keys"}.
    let info = admin_get(&gateway, "/team/info?team_id=t1").await;
    assert_eq!(info["team_id"], "t1");
    assert_eq!(info["team_info"]["team_alias"], "Team One");
    assert_eq!(
        info["team_info"]["members_with_roles"],
        json!([{"user_id": "ada", "role": "admin", "user_email": null}])
    );
    assert!(info["keys"].is_array());
    // Lists.
    let teams = admin_get(&gateway, "/team/list").await;
    assert_eq!(teams.as_array().map(Vec::len), Some(1), "a list: {teams}");
    let users = admin_get(&gateway, "/user/list?page_size=1").await;
    assert_eq!(
        (users["total"].as_u64(), users["page_size"].as_u64()),
        (Some(1), Some(1)),
        "{users}"
    );
    let keys = admin_get(&gateway, "/key/list?size=1").await;
    assert_eq!(keys["total_count"], 2, "{keys}");
    assert_eq!(keys["total_pages"], 2, "{keys}");
    assert!(
        keys["keys"][0].is_string(),
        "ids, as LiteLLM lists them: {keys}"
    );
}

#[tokio::test]
async fn team_members_join_change_role_and_leave() {
    let gateway = Gateway::spawn(&config(""), &[]).await;
    gateway
        .admin_post("/team/new", &json!({"team_id": "crew"}))
        .await;
    let added = gateway
        .admin_post(
            "/team/member_add",
            &json!({"team_id": "crew", "member": [{"user_id": "ann", "role": "admin"}, {"user_id": "ben"}]}),
        )
        .await;
    assert_eq!(
        added["members_with_roles"],
        json!([{"user_id": "ann", "role": "admin", "user_email": null},
               {"user_id": "ben", "role": "user", "user_email": null}])
    );
    assert_eq!(
        added["updated_users"].as_array().map(Vec::len),
        Some(2),
        "{added}"
    );
    // Users named by a member are made.
    admin_get(&gateway, "/user/info?user_id=ben").await;
    let changed = gateway
        .admin_post(
            "/team/member_update",
            &json!({"team_id": "crew", "user_id": "ben", "role": "admin"}),
        )
        .await;
    assert_eq!(changed["role"], "admin");
    let left = gateway
        .admin_post(
            "/team/member_delete",
            &json!({"team_id": "crew", "user_id": "ann"}),
        )
        .await;
    assert_eq!(left["admins"], json!(["ben"]), "{left}");
    let again = gateway
        .post(
            "/team/member_delete",
            &json!({"team_id": "crew", "user_id": "ann"}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(error_of(again).await.0, 404);
    let wrong = gateway
        .post(
            "/team/member_add",
            &json!({"team_id": "crew", "member": {"user_id": "cy", "role": "org_admin"}}),
            Some(MASTER_KEY),
        )
        .await;
    let (status, code, body) = error_of(wrong).await;
    assert_eq!((status, code.as_str()), (400, "invalid_request"), "{body}");
}

#[tokio::test]
async fn an_organization_binds_its_teams_keys_to_its_budget_and_models() {
    let gateway = Gateway::spawn(&config(""), &[]).await;
    let organization = gateway
        .admin_post(
            "/organization/new",
            &json!({"organization_id": "acme", "organization_alias": "Acme", "max_budget": 0.000_05,
                    "models": ["metered"]}),
        )
        .await;
    assert_eq!(organization["organization_alias"], "Acme");
    assert_eq!(organization["litellm_budget_table"]["max_budget"], 0.000_05);
    // A team may not hold more than its organization (LiteLLM's check and words).
    let too_big = gateway
        .post(
            "/team/new",
            &json!({"team_id": "big", "organization_id": "acme", "max_budget": 100}),
            Some(MASTER_KEY),
        )
        .await;
    let (status, _, body) = error_of(too_big).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "Team max_budget (100.0) exceeds organization's max_budget (5e-05)"
    );
    let team = gateway
        .admin_post(
            "/team/new",
            &json!({"team_id": "rockets", "org_id": "acme"}),
        )
        .await;
    assert_eq!(team["organization_id"], "acme");
    let (secret, _) = new_key(&gateway, &json!({"team_id": "rockets"})).await;
    // The organization's models are a ceiling.
    let other = gateway
        .post("/v1/chat/completions", &ask("other"), Some(&secret))
        .await;
    assert_eq!(error_of(other).await.0, 403);
    // Its budget holds over its teams' keys, refused in LiteLLM's words.
    let mut served = 0;
    let body = loop {
        let response = gateway
            .post("/v1/chat/completions", &ask("metered"), Some(&secret))
            .await;
        if response.status() != 200 {
            let (status, code, body) = error_of(response).await;
            assert_eq!((status, code.as_str()), (422, "budget_exceeded"), "{body}");
            break body;
        }
        let _ = response.bytes().await;
        served += 1;
        assert!(served < 50, "never refused");
    };
    assert!(served > 0);
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(
        message.starts_with("Budget has been exceeded! Organization=acme Current cost: ")
            && message.ends_with(", Max budget: 5e-05"),
        "{message}"
    );
    // Its info shows its teams and members; an org admin adds members to it, not to another.
    gateway
        .admin_post(
            "/organization/member_add",
            &json!({"organization_id": "acme", "member": {"user_id": "olga", "role": "org_admin"}}),
        )
        .await;
    gateway
        .admin_post("/organization/new", &json!({"organization_id": "globex"}))
        .await;
    gateway
        .admin_post(
            "/user/update",
            &json!({"user_id": "olga", "user_role": "internal_user"}),
        )
        .await;
    let (olga, _) = new_key(&gateway, &json!({"user_id": "olga"})).await;
    let added = gateway
        .post(
            "/organization/member_add",
            &json!({"organization_id": "acme", "member": {"user_id": "pat"}}),
            Some(&olga),
        )
        .await;
    assert_eq!(added.status(), 200);
    let added: Value = added.json().await.expect("JSON");
    assert_eq!(
        added["updated_organization_memberships"][0]["user_role"], "internal_user",
        "{added}"
    );
    let elsewhere = gateway
        .post(
            "/organization/member_add",
            &json!({"organization_id": "globex", "member": {"user_id": "pat"}}),
            Some(&olga),
        )
        .await;
    let (status, _, body) = error_of(elsewhere).await;
    assert_eq!(status, 401, "{body}");
    let info = gateway
        .get("/organization/info?organization_id=acme", Some(&olga))
        .await;
    assert_eq!(info.status(), 200);
    let info: Value = info.json().await.expect("JSON");
    assert_eq!(info["teams"][0]["team_id"], "rockets", "{info}");
    let members: Vec<&Value> = info["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| &m["user_id"])
        .collect();
    assert_eq!(members, [&json!("olga"), &json!("pat")], "{info}");
    let listed = admin_get(&gateway, "/organization/list").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    // An organization with teams is not deleted; without, it is.
    let refused = gateway
        .post(
            "/organization/delete",
            &json!({"organization_ids": ["acme"]}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(error_of(refused).await.0, 400);
    gateway
        .admin_post(
            "/organization/delete",
            &json!({"organization_ids": ["globex"]}),
        )
        .await;
    let gone = gateway
        .get(
            "/organization/info?organization_id=globex",
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(error_of(gone).await.0, 404);
}

#[tokio::test]
async fn answers_carry_litellms_response_headers() {
    let gateway = Gateway::spawn(&config(""), &[]).await;
    let (secret, _) = new_key(&gateway, &json!({"max_budget": 10.0})).await;
    let headers_of = |response: &reqwest::Response| {
        let get = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().expect("ascii").to_owned())
        };
        (
            get("x-litellm-call-id"),
            get("x-litellm-model-id"),
            get("x-litellm-model-group"),
            get("x-litellm-response-cost"),
            get("x-litellm-attempted-retries"),
            get("x-litellm-attempted-fallbacks"),
            get("x-litellm-key-spend"),
        )
    };
    // A complete answer: its id is the call id; the cost is the gateway's.
    let response = gateway
        .post("/v1/chat/completions", &ask("metered"), Some(&secret))
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("x-litellm-model-api-base").is_none(),
        "no upstream URL"
    );
    assert!(response.headers().get("x-litellm-version").is_some());
    let (call_id, model_id, group, cost, retries, fallbacks, key_spend) = headers_of(&response);
    let switchyard_cost = response.headers()["x-switchyard-cost-usd"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(call_id.as_deref(), answer["id"].as_str());
    assert_eq!(model_id.as_deref(), Some("metered-mock"));
    assert_eq!(group.as_deref(), Some("metered"));
    let cost: f64 = cost.expect("a cost").parse().expect("a number");
    let switchyard_cost: f64 = switchyard_cost.parse().expect("a number");
    assert!(
        (cost - switchyard_cost).abs() < 1e-9,
        "{cost} vs {switchyard_cost}"
    );
    assert_eq!(
        (retries.as_deref(), fallbacks.as_deref()),
        (Some("0"), Some("0"))
    );
    assert_eq!(
        key_spend.as_deref(),
        Some("0"),
        "nothing spent before the first call"
    );
    // The next call sees the first one's spend.
    let response = gateway
        .post("/v1/chat/completions", &ask("metered"), Some(&secret))
        .await;
    let (.., key_spend) = headers_of(&response);
    let spent: f64 = key_spend
        .expect("the key's spend")
        .parse()
        .expect("a number");
    assert!((spent - cost).abs() < 1e-9, "{spent} vs {cost}");
    let _ = response.bytes().await;
    // A failing group: one retry in it, then one fallback group answers.
    let response = gateway
        .post("/v1/chat/completions", &ask("broken"), Some(&secret))
        .await;
    assert_eq!(response.status(), 200);
    let (_, model_id, group, _, retries, fallbacks, _) = headers_of(&response);
    assert_eq!(
        (model_id.as_deref(), group.as_deref()),
        (Some("metered-mock"), Some("metered"))
    );
    assert_eq!(
        (retries.as_deref(), fallbacks.as_deref()),
        (Some("1"), Some("1"))
    );
    let _ = response.bytes().await;
    // A stream: the headers come with its start; every chunk carries the call id.
    let mut body = ask("metered");
    body["stream"] = json!(true);
    let response = gateway
        .post("/v1/chat/completions", &body, Some(&secret))
        .await;
    assert_eq!(response.status(), 200);
    let (call_id, model_id, group, cost, ..) = headers_of(&response);
    assert_eq!(
        (model_id.as_deref(), group.as_deref()),
        (Some("metered-mock"), Some("metered"))
    );
    assert_eq!(cost, None, "a stream is priced when it ends");
    let call_id = call_id.expect("a call id");
    let text = response.text().await.expect("body");
    let events = sse_data(&text);
    for event in &events[..events.len() - 1] {
        let chunk: Value = serde_json::from_str(event).expect("a chunk");
        assert_eq!(chunk["id"], json!(call_id));
    }
    // Its spend record is found by that id.
    let path = format!("/spend/logs?request_id={call_id}");
    let rows = eventually(
        std::time::Duration::from_secs(15),
        "the stream's spend record",
        || async {
            let rows = admin_get(&gateway, &path).await;
            (rows.as_array().map(Vec::len) == Some(1)).then_some(rows)
        },
    )
    .await;
    assert_eq!(rows[0]["request_id"], json!(call_id));
    assert_eq!(rows[0]["status"], "success");
}

#[tokio::test]
async fn the_budget_refusal_status_is_configurable_as_in_litellm() {
    // `litellm_settings.budget_exceeded_status_code`: 429, for clients of LiteLLM before
    // v1.104.0 (https://docs.litellm.ai/docs/proxy/budget_exceeded_errors).
    let config = format!(
        "{}litellm_settings:\n  budget_exceeded_status_code: 429\n",
        config("")
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    let (secret, _) = new_key(&gateway, &json!({"max_budget": 0.0})).await;
    let response = gateway
        .post("/v1/chat/completions", &ask("metered"), Some(&secret))
        .await;
    let (status, code, body) = error_of(response).await;
    assert_eq!((status, code.as_str()), (429, "budget_exceeded"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Budget has been exceeded! Key=sk-...")),
        "{body}"
    );
}

#[tokio::test]
async fn global_spend_is_for_admins_and_viewers() {
    let gateway = Gateway::spawn(&config(""), &[]).await;
    for (user, role) in [("watcher", "proxy_admin_viewer"), ("ana", "internal_user")] {
        gateway
            .admin_post(
                "/user/new",
                &json!({"user_id": user, "user_role": role, "auto_create_key": false}),
            )
            .await;
    }
    let (viewer, _) = new_key(&gateway, &json!({"user_id": "watcher"})).await;
    let (ana, _) = new_key(&gateway, &json!({"user_id": "ana"})).await;
    let (secret, id) = new_key(&gateway, &json!({"key_alias": "spender"})).await;
    let mut spent = 0.0;
    for _ in 0..2 {
        let response = gateway
            .post("/v1/chat/completions", &ask("metered"), Some(&secret))
            .await;
        spent += response.headers()["x-litellm-response-cost"]
            .to_str()
            .expect("ascii")
            .parse::<f64>()
            .expect("a cost");
        let _ = response.bytes().await;
    }
    // LiteLLM's /global/spend/keys rows: api_key, key_alias, key_name, total_spend.
    let keys = eventually(
        std::time::Duration::from_secs(15),
        "both calls recorded",
        || async {
            let response = gateway
                .get("/global/spend/keys?limit=5", Some(&viewer))
                .await;
            assert_eq!(response.status(), 200);
            let rows: Value = response.json().await.expect("JSON");
            let total = rows[0]["total_spend"].as_f64().unwrap_or_default();
            ((total - spent).abs() < 1e-9).then_some(rows)
        },
    )
    .await;
    assert_eq!(keys[0]["api_key"], json!(id), "{keys}");
    assert_eq!(keys[0]["key_alias"], "spender", "{keys}");
    assert_eq!(
        keys[0]["key_name"],
        json!(format!("sk-...{}", &secret[secret.len() - 4..]))
    );
    let models = admin_get(&gateway, "/global/spend/models").await;
    assert_eq!(models[0]["model"], "metered", "{models}");
    let total = admin_get(&gateway, "/global/spend").await;
    assert!(
        (total["spend"].as_f64().expect("a total") - spent).abs() < 1e-9,
        "{total}"
    );
    for path in [
        "/global/spend",
        "/global/spend/keys",
        "/global/spend/models",
    ] {
        let (status, body) = call(&gateway, "GET", path, &ana, &Value::Null).await;
        assert_eq!(status, 401, "{path}: {body}");
    }
}
