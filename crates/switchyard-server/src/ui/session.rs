//! The admin UI's sessions: a random session id in an `HttpOnly`, `Secure`,
//! `SameSite=Strict` cookie scoped to `/ui`, kept server-side (in this process's memory) with
//! its CSRF token and a fixed lifetime. The master key is checked once, at login, and never
//! stored in the session, the cookie or the page.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use subtle::ConstantTimeEq;
use switchyard_store::{KeyHash, hash_key};

/// The cookie's name.
pub const COOKIE: &str = "switchyard_ui_session";
/// The request header that must carry the session's CSRF token on every `/ui/api` call.
pub const CSRF_HEADER: &str = "x-switchyard-csrf";
/// How long a session lasts from its login, whatever it does meanwhile.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// The most sessions kept at once; the oldest are forgotten past it.
const MAX_SESSIONS: u64 = 10_000;
/// Random bytes in a session id and in a CSRF token (256 bits each).
const TOKEN_BYTES: usize = 32;

/// The OS random number generator failed, so no session could be opened.
#[derive(Debug, thiserror::Error)]
#[error("the OS random number generator failed: {0}")]
pub struct RandomnessError(getrandom::Error);

/// One logged-in browser: what the server keeps under the session id.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token every state-changing or reading `/ui/api` call must send in [`CSRF_HEADER`].
    pub csrf_token: Arc<str>,
    /// The SHA-256 of the master key the session was opened with: a new master key (after a
    /// reload) ends every session opened with the old one.
    master_key: KeyHash,
}

impl Session {
    /// Whether the session was opened with `master_key`, the one configured now.
    pub fn opened_with(&self, master_key: Option<&str>) -> bool {
        master_key.is_some_and(|key| hash_key(key) == self.master_key)
    }
}

/// A session just opened: the id for the cookie and the CSRF token for the page.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The value of the session cookie.
    pub id: String,
    /// The CSRF token.
    pub csrf_token: Arc<str>,
}

/// The sessions of this process, shared by every serving thread and kept across reloads.
#[derive(Clone)]
pub struct Sessions {
    open: moka::future::Cache<String, Session>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("open", &self.open.entry_count())
            .finish()
    }
}

impl Default for Sessions {
    fn default() -> Self {
        Self::with_lifetime(LIFETIME)
    }
}

impl Sessions {
    /// Sessions that end `lifetime` after their login.
    pub fn with_lifetime(lifetime: Duration) -> Self {
        Self {
            open: moka::future::Cache::builder()
                .max_capacity(MAX_SESSIONS)
                .time_to_live(lifetime)
                .build(),
        }
    }

    /// Opens a session (after the master key was checked).
    ///
    /// # Errors
    /// The OS random number generator failed.
    pub async fn open(&self, master_key: &str) -> Result<Opened, RandomnessError> {
        let id = random_token()?;
        let csrf_token: Arc<str> = random_token()?.into();
        self.open
            .insert(
                id.clone(),
                Session {
                    csrf_token: Arc::clone(&csrf_token),
                    master_key: hash_key(master_key),
                },
            )
            .await;
        Ok(Opened { id, csrf_token })
    }

    /// The session a request's cookie names, if it is open.
    pub async fn of_request(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = session_cookie(headers)?;
        let session = self.open.get(id).await?;
        Some((id.to_owned(), session))
    }

    /// The session a request's cookie names (its id and itself) when the request also carries
    /// its CSRF token.
    pub async fn authorize(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let (id, session) = self.of_request(headers).await?;
        let presented = headers.get(CSRF_HEADER)?.as_bytes();
        bool::from(presented.ct_eq(session.csrf_token.as_bytes())).then_some((id, session))
    }

    /// Ends a session.
    pub async fn close(&self, id: &str) {
        self.open.invalidate(id).await;
    }
}

/// The session id in the request's `Cookie` headers.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(name, value)| (name == COOKIE).then_some(value))
}

/// The `Set-Cookie` value that gives the browser session `id`.
pub fn set_cookie(id: &str) -> String {
    format!(
        "{COOKIE}={id}; Path=/ui; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        LIFETIME.as_secs()
    )
}

/// The `Set-Cookie` value that makes the browser forget its session.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/ui; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

fn random_token() -> Result<String, RandomnessError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(RandomnessError)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn request(cookie: &str, csrf: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            HeaderValue::from_str(cookie).expect("cookie"),
        );
        if let Some(token) = csrf {
            headers.insert(CSRF_HEADER, HeaderValue::from_str(token).expect("token"));
        }
        headers
    }

    #[tokio::test]
    async fn a_session_needs_its_cookie_and_its_own_csrf_token() {
        let sessions = Sessions::default();
        let first = sessions.open("sk-master").await.expect("random");
        let second = sessions.open("sk-master").await.expect("random");
        let session = sessions
            .of_request(&request(&format!("{COOKIE}={}", first.id), None))
            .await
            .expect("open")
            .1;
        assert!(session.opened_with(Some("sk-master")));
        assert!(!session.opened_with(Some("sk-rotated")));
        assert!(!session.opened_with(None));
        assert_ne!(first.id, second.id);
        let cookie = format!("theme=dark; {COOKIE}={}", first.id);
        assert_eq!(
            sessions
                .authorize(&request(&cookie, Some(&first.csrf_token)))
                .await
                .map(|(id, _)| id),
            Some(first.id.clone())
        );
        assert!(sessions.authorize(&request(&cookie, None)).await.is_none());
        assert!(
            sessions
                .authorize(&request(&cookie, Some(&second.csrf_token)))
                .await
                .is_none()
        );
        let unknown = format!("{COOKIE}=forged");
        assert!(
            sessions
                .authorize(&request(&unknown, Some(&first.csrf_token)))
                .await
                .is_none()
        );
        sessions.close(&first.id).await;
        assert!(
            sessions
                .authorize(&request(&cookie, Some(&first.csrf_token)))
                .await
                .is_none()
        );
    }

    #[test]
    fn cookies_are_http_only_secure_strict_and_scoped_to_the_ui() {
        let cookie = set_cookie("abc");
        for part in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/ui",
            "Max-Age=28800",
        ] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
        assert!(clear_cookie().contains("Max-Age=0"));
    }
}
