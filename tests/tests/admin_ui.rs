//! End to end through a real gateway process: the admin UI's session rules. The page and its
//! files are served with their content types and a content security policy; the login trades
//! the master key (and nothing else) for a session cookie that is `HttpOnly`, `Secure`,
//! `SameSite=Strict` and scoped to `/ui`; `/ui/api` answers only that cookie together with its
//! CSRF token, from the page's own origin; logout ends the session. Also the spend log's CSV
//! export and keyset pages, as the UI uses them.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE};
use serde_json::{Value, json};
use switchyard_e2e::shared_state::eventually;
use switchyard_e2e::{Gateway, MASTER_KEY, assert_openai_error, error_of};

const CSRF_HEADER: &str = "x-switchyard-csrf";

fn config() -> String {
    format!(
        "model_list:\n  - model_name: echo\n    litellm_params: {{model: mock/echo, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n"
    )
}

/// A logged-in browser: its cookie header and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn login(gateway: &Gateway) -> (reqwest::Response, Option<Session>) {
    let response = gateway
        .client
        .post(format!("{}/ui/login", gateway.base))
        .header(CONTENT_TYPE, "application/json")
        .body(json!({"master_key": MASTER_KEY}).to_string())
        .send()
        .await
        .expect("gateway answers");
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    (
        response,
        cookie.map(|cookie| Session {
            cookie,
            csrf: String::new(),
        }),
    )
}

async fn logged_in(gateway: &Gateway) -> Session {
    let (response, session) = login(gateway).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    let mut session = session.expect("a session cookie");
    session.csrf = body["csrf_token"].as_str().expect("csrf_token").to_owned();
    session
}

/// `GET /ui/api{path}` with what a browser would send: the cookie, and the CSRF token when
/// given.
async fn ui_get(
    gateway: &Gateway,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
) -> reqwest::Response {
    let mut request = gateway
        .client
        .get(format!("{}/ui/api{path}", gateway.base))
        .header(COOKIE, cookie);
    if let Some(csrf) = csrf {
        request = request.header(CSRF_HEADER, csrf);
    }
    request.send().await.expect("gateway answers")
}

/// `GET /ui/session` with the session's cookie.
async fn current_session(gateway: &Gateway, session: &Session) -> reqwest::Response {
    gateway
        .client
        .get(format!("{}/ui/session", gateway.base))
        .header(COOKIE, &session.cookie)
        .send()
        .await
        .expect("answer")
}

async fn ui_post(
    gateway: &Gateway,
    path: &str,
    session: &Session,
    body: &Value,
) -> reqwest::Response {
    gateway
        .client
        .post(format!("{}/ui/api{path}", gateway.base))
        .header(COOKIE, &session.cookie)
        .header(CSRF_HEADER, &session.csrf)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("gateway answers")
}

#[tokio::test]
async fn the_page_and_its_files_are_served_with_their_types_and_a_strict_policy() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    for (path, content_type, text) in [
        (
            "/ui",
            "text/html; charset=utf-8",
            "<label for=\"master-key\">",
        ),
        ("/ui/", "text/html; charset=utf-8", "<!doctype html>"),
        (
            "/ui/app.js",
            "text/javascript; charset=utf-8",
            "x-switchyard-csrf",
        ),
        ("/ui/app.css", "text/css; charset=utf-8", ":focus-visible"),
    ] {
        let response = gateway.get(path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("content-type"), content_type, "{path}");
        assert!(
            header("content-security-policy").contains("script-src 'self'"),
            "{path}"
        );
        assert!(
            header("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let body = response.text().await.expect("body");
        assert!(body.contains(text), "{path} lacks {text}");
    }
    // Nothing is fetched from elsewhere.
    let page = gateway.get("/ui", None).await.text().await.expect("page");
    assert!(!page.contains("http://") && !page.contains("https://"));
    // An unknown path is a 404 in OpenAI's shape, as everywhere else.
    let (status, _, body) = error_of(gateway.get("/ui/nothing-here", None).await).await;
    assert_eq!(status, 404, "{body}");
    assert_openai_error(&body, "not_found");
}

#[tokio::test]
async fn login_sets_a_strict_session_cookie_and_never_the_key() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    let (response, _) = login(&gateway).await;
    assert_eq!(response.status(), 200);
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("Set-Cookie")
        .to_owned();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/ui"] {
        assert!(
            cookie.split("; ").any(|part| part == flag),
            "{cookie} lacks {flag}"
        );
    }
    assert!(cookie.starts_with("switchyard_ui_session="));
    assert!(!cookie.contains(MASTER_KEY));
    let body: Value = response.json().await.expect("JSON");
    let csrf = body["csrf_token"].as_str().expect("csrf_token");
    assert!(csrf.len() >= 32 && !csrf.contains(MASTER_KEY));

    // A wrong key: 401 in OpenAI's shape, no cookie.
    let wrong = gateway
        .client
        .post(format!("{}/ui/login", gateway.base))
        .header(CONTENT_TYPE, "application/json")
        .body(json!({"master_key": "sk-wrong"}).to_string())
        .send()
        .await
        .expect("answer");
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    let (status, _, body) = error_of(wrong).await;
    assert_eq!(status, 401);
    assert_openai_error(&body, "invalid_api_key");
    // A form post (what a cross-site form could send) is refused before the key is read.
    let form = gateway
        .client
        .post(format!("{}/ui/login", gateway.base))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("master_key={MASTER_KEY}"))
        .send()
        .await
        .expect("answer");
    assert!(form.headers().get(SET_COOKIE).is_none());
    assert!(
        [400, 415].contains(&form.status().as_u16()),
        "{}",
        form.status()
    );
    // Another origin's login is refused.
    let cross = gateway
        .client
        .post(format!("{}/ui/login", gateway.base))
        .header(CONTENT_TYPE, "application/json")
        .header(ORIGIN, "http://evil.example")
        .body(json!({"master_key": MASTER_KEY}).to_string())
        .send()
        .await
        .expect("answer");
    assert_eq!(cross.status(), 403);
    assert!(cross.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn the_ui_api_needs_the_cookie_and_its_csrf_token_and_nothing_else_will_do() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    let session = logged_in(&gateway).await;
    let other = logged_in(&gateway).await;
    // The cookie and its own token: the admin API, as the master key.
    let ok = ui_get(&gateway, "/key/list", &session.cookie, Some(&session.csrf)).await;
    assert_eq!(ok.status(), 200);
    assert!(ok.json::<Value>().await.expect("JSON")["keys"].is_array());
    // The cookie alone, or with another session's token: 401.
    for csrf in [None, Some(other.csrf.as_str()), Some("forged")] {
        let (status, _, body) =
            error_of(ui_get(&gateway, "/key/list", &session.cookie, csrf).await).await;
        assert_eq!(status, 401, "{csrf:?}: {body}");
        assert_openai_error(&body, "invalid_api_key");
    }
    // A state-changing call without the token changes nothing.
    let refused = gateway
        .client
        .post(format!("{}/ui/api/key/generate", gateway.base))
        .header(COOKIE, &session.cookie)
        .header(CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), 401);
    let keys: Value = ui_get(&gateway, "/key/list", &session.cookie, Some(&session.csrf))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(keys["total_count"], 0, "{keys}");
    // The master key itself is not a way into /ui/api, and the cookie is not a way into the
    // admin API at its usual paths.
    let bearer = gateway.get("/ui/api/key/list", Some(MASTER_KEY)).await;
    assert_eq!(bearer.status(), 401);
    let plain = gateway
        .client
        .get(format!("{}/key/list", gateway.base))
        .header(COOKIE, &session.cookie)
        .header(CSRF_HEADER, &session.csrf)
        .send()
        .await
        .expect("answer");
    assert_eq!(plain.status(), 401);
    // Nor is a session a way to call models.
    let call = gateway
        .client
        .post(format!("{}/v1/chat/completions", gateway.base))
        .header(COOKIE, &session.cookie)
        .header(CSRF_HEADER, &session.csrf)
        .header(CONTENT_TYPE, "application/json")
        .body(json!({"model": "echo", "messages": [{"role": "user", "content": "hi"}]}).to_string())
        .send()
        .await
        .expect("answer");
    assert_eq!(call.status(), 401);
    // Another origin, even with cookie and token: 403.
    let cross = gateway
        .client
        .get(format!("{}/ui/api/key/list", gateway.base))
        .header(COOKIE, &session.cookie)
        .header(CSRF_HEADER, &session.csrf)
        .header(ORIGIN, "http://evil.example")
        .send()
        .await
        .expect("answer");
    assert_eq!(cross.status(), 403);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    let session = logged_in(&gateway).await;
    let logout = |csrf: Option<String>| {
        let mut request = gateway
            .client
            .post(format!("{}/ui/logout", gateway.base))
            .header(COOKIE, &session.cookie);
        if let Some(csrf) = csrf {
            request = request.header(CSRF_HEADER, csrf);
        }
        request.send()
    };
    // Without the token, logout is refused (a cross-site page cannot log anyone out).
    assert_eq!(logout(None).await.expect("answer").status(), 401);
    let current = current_session(&gateway, &session).await;
    assert_eq!(current.status(), 200);
    assert_eq!(
        current.json::<Value>().await.expect("JSON")["csrf_token"],
        session.csrf
    );
    // Another origin (another port of the same host is the same site, so a browser would send
    // the cookie) never gets the token.
    let cross = gateway
        .client
        .get(format!("{}/ui/session", gateway.base))
        .header(COOKIE, &session.cookie)
        .header(ORIGIN, "http://127.0.0.1:1")
        .send()
        .await
        .expect("answer");
    assert_eq!(cross.status(), 403);
    let out = logout(Some(session.csrf.clone())).await.expect("answer");
    assert_eq!(out.status(), 204);
    let cleared = out
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("Set-Cookie");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let after = ui_get(&gateway, "/key/list", &session.cookie, Some(&session.csrf)).await;
    assert_eq!(after.status(), 401);
    let current = current_session(&gateway, &session).await;
    assert_eq!(current.status(), 401);
}

#[tokio::test]
async fn the_spend_log_pages_by_cursor_and_exports_csv() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    let session = logged_in(&gateway).await;
    let key: Value = ui_post(
        &gateway,
        "/key/generate",
        &session,
        &json!({"key_alias": "csv, \"quoted\""}),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let (secret, id) = (
        key["key"].as_str().expect("key"),
        key["token"].as_str().expect("token"),
    );
    for n in 0..5 {
        let call = gateway
            .post(
                "/v1/chat/completions",
                &json!({"model": "echo", "messages": [{"role": "user", "content": format!("call {n}")}]}),
                Some(secret),
            )
            .await;
        assert_eq!(call.status(), 200);
    }
    let path = format!("/spend/logs?key_id={id}&limit=2");
    let first = eventually(Duration::from_secs(15), "five spend records", || async {
        let all: Value = ui_get(
            &gateway,
            &format!("/spend/logs?key_id={id}"),
            &session.cookie,
            Some(&session.csrf),
        )
        .await
        .json()
        .await
        .expect("JSON");
        (all.as_array().map(Vec::len) == Some(5)).then_some(all)
    })
    .await;
    // Pages of two, each from the cursor of the one before: the whole log, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_path = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.clone(),
        };
        let page = ui_get(&gateway, &page_path, &session.cookie, Some(&session.csrf)).await;
        assert_eq!(page.status(), 200);
        cursor = page
            .headers()
            .get("x-switchyard-next-cursor")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let rows: Vec<Value> = page.json().await.expect("JSON");
        seen.extend(rows.iter().map(|r| r["request_id"].clone()));
        if cursor.is_none() {
            break;
        }
    }
    let expected: Vec<Value> = first
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["request_id"].clone())
        .collect();
    assert_eq!(seen, expected);
    let (status, _, body) = error_of(
        ui_get(
            &gateway,
            "/spend/logs?cursor=nonsense",
            &session.cookie,
            Some(&session.csrf),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // The CSV: a header row and one row per call, the alias quoted, through the UI and the
    // admin API alike.
    let csv = ui_get(
        &gateway,
        &format!("/spend/logs/csv?key_id={id}"),
        &session.cookie,
        Some(&session.csrf),
    )
    .await;
    assert_eq!(csv.status(), 200);
    assert_eq!(
        csv.headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    let text = csv.text().await.expect("CSV");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines[0].starts_with("request_id,startTime,endTime,api_key,key_alias,"));
    assert!(lines[1].contains("\"csv, \"\"quoted\"\"\""), "{}", lines[1]);
    assert!(lines[1].contains(id));
    let admin = gateway
        .get(&format!("/spend/logs/csv?key_id={id}"), Some(MASTER_KEY))
        .await;
    assert_eq!(admin.status(), 200);
    assert_eq!(admin.text().await.expect("CSV"), text);

    // The overview counts the five calls.
    let overview: Value = ui_get(
        &gateway,
        "/overview?hours=1",
        &session.cookie,
        Some(&session.csrf),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let calls: u64 = overview["series"]
        .as_array()
        .expect("series")
        .iter()
        .filter(|b| b["model"] == "echo")
        .map(|b| b["requests"].as_u64().expect("requests"))
        .sum();
    assert_eq!(calls, 5, "{overview}");
    // The loaded configuration, the master key redacted.
    let config: Value = ui_get(&gateway, "/config", &session.cookie, Some(&session.csrf))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        config["config"]["general_settings"]["master_key"],
        "[redacted]"
    );
    assert!(!config.to_string().contains(MASTER_KEY));
}

#[tokio::test]
async fn a_new_master_key_ends_the_sessions_opened_with_the_old_one() {
    let gateway = Gateway::spawn(&config(), &[]).await;
    let session = logged_in(&gateway).await;
    let ok = ui_get(&gateway, "/key/list", &session.cookie, Some(&session.csrf)).await;
    assert_eq!(ok.status(), 200);
    let rotated = config().replace(MASTER_KEY, "sk-rotated-master");
    std::fs::write(gateway.config_path().expect("a config file"), rotated).expect("rewrite");
    // The file is reloaded within the watcher's interval; from then on the session is over.
    eventually(Duration::from_secs(15), "the session to end", || async {
        let status = ui_get(&gateway, "/key/list", &session.cookie, Some(&session.csrf))
            .await
            .status();
        (status == 401).then_some(())
    })
    .await;
    let current = current_session(&gateway, &session).await;
    assert_eq!(current.status(), 401);
}
