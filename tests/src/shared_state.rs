//! Fixtures for the tests of shared state (budgets, keys, spend across replicas): the admin API
//! under the master key, polling until something holds, a PostgreSQL schema of a test's own, and
//! a Redis of a test's own that the test can stop, restart empty and flush, never touching the
//! Redis other tests share.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::{Gateway, MASTER_KEY, unique_prefix};

/// An admin `POST` under the master key; the answer, which must be a 200.
pub async fn admin_post(gateway: &Gateway, path: &str, body: &Value) -> Value {
    let response = gateway.post(path, body, Some(MASTER_KEY)).await;
    let status = response.status();
    let answer: Value = response.json().await.expect("JSON answer");
    assert_eq!(status, 200, "{path} {body}: {answer}");
    answer
}

/// An admin `GET` under the master key; the answer, which must be a 200.
pub async fn admin_get(gateway: &Gateway, path: &str) -> Value {
    let response = gateway.get(path, Some(MASTER_KEY)).await;
    let status = response.status();
    let answer: Value = response.json().await.expect("JSON answer");
    assert_eq!(status, 200, "{path}: {answer}");
    answer
}

/// A new key made with `body`: its secret and public id.
pub async fn new_key(gateway: &Gateway, body: &Value) -> (String, String) {
    let created = admin_post(gateway, "/key/generate", body).await;
    (
        created["key"].as_str().expect("secret").to_owned(),
        created["token"].as_str().expect("id").to_owned(),
    )
}

/// Polls `probe` until it answers `Some`, for at most `within` (for what happens off the call
/// path, such as spend records written in batches).
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The PostgreSQL server of the shared-state tests, from `SWITCHYARD_TEST_DATABASE_URL` (set by
/// `cargo xtask test`); `None`, with a line saying the test is skipped, without it.
pub fn database_url() -> Option<String> {
    match std::env::var("SWITCHYARD_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: SWITCHYARD_TEST_DATABASE_URL not set");
            None
        }
    }
}

/// A Postgres schema of one test's own, at `SWITCHYARD_TEST_DATABASE_URL`.
pub struct Schema {
    server: String,
    name: String,
    /// The server's URL with the schema as the search path, for the gateways.
    pub url: String,
}

impl Schema {
    /// `None`, with a line saying the test is skipped, when the variable is unset.
    pub async fn create() -> Option<Self> {
        let server = database_url()?;
        let name = unique_prefix().replace('-', "_");
        let mut connection = PgConnection::connect(&server)
            .await
            .expect("connect to Postgres");
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut connection)
            .await
            .expect("create a schema");
        connection.close().await.expect("close");
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-c%20search_path%3D{name}");
        Some(Self { server, name, url })
    }

    /// Every row of every table in the schema, as text.
    pub async fn dump(&self) -> String {
        let mut connection = PgConnection::connect(&self.server)
            .await
            .expect("connect to Postgres");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
        )
        .bind(&self.name)
        .fetch_all(&mut connection)
        .await
        .expect("list tables");
        let mut out = String::new();
        for table in tables {
            let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT t::text FROM {}.{table} t",
                self.name
            )))
            .fetch_all(&mut connection)
            .await
            .expect("read a table");
            for row in rows {
                out.push_str(&row);
                out.push('\n');
            }
        }
        let _ = connection.close().await;
        out
    }

    /// Drops the schema and all it holds.
    pub async fn remove(self) {
        let mut connection = PgConnection::connect(&self.server)
            .await
            .expect("connect to Postgres");
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.name)))
            .execute(&mut connection)
            .await
            .expect("drop the test schema");
        let _ = connection.close().await;
    }
}

/// Removes every Redis key under `prefix`.
pub async fn forget_redis_keys(url: &str, prefix: &str) {
    let client = redis::Client::open(url).expect("a Redis URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .expect("KEYS");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut connection)
            .await
            .expect("DEL");
    }
}

/// A Redis server of one test's own (`redis-server` on a free loopback port, no persistence),
/// which the test may stop and start again; killed on drop. Needs `redis-server` on the PATH
/// (`scripts/services.sh` installs it); `None`, with a line saying the test is skipped, when the
/// shared-state tests are not configured (`SWITCHYARD_TEST_REDIS_URL` unset).
pub struct OwnRedis {
    port: u16,
    process: Option<std::process::Child>,
}

impl OwnRedis {
    /// Starts it and waits until it answers.
    pub async fn start() -> Option<Self> {
        crate::redis_url()?;
        let port = crate::closed_port().await;
        let mut redis = Self {
            port,
            process: None,
        };
        redis.restart().await;
        Some(redis)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash or a network cut would look to the gateways) and waits
    /// until its port no longer answers.
    pub async fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
        let address = format!("127.0.0.1:{}", self.port);
        eventually(Duration::from_secs(10), "Redis stopped", || async {
            tokio::net::TcpStream::connect(&address)
                .await
                .is_err()
                .then_some(())
        })
        .await;
    }

    /// Starts the server again on the same port, empty (it keeps nothing on disk), and waits
    /// until it answers.
    pub async fn restart(&mut self) {
        if self.process.is_some() {
            self.stop().await;
        }
        let process = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start redis-server (scripts/services.sh installs it)");
        self.process = Some(process);
        let url = self.url();
        eventually(Duration::from_secs(10), "Redis answers", || async {
            let client = redis::Client::open(url.as_str()).ok()?;
            let mut connection = client.get_multiplexed_async_connection().await.ok()?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .ok()
        })
        .await;
    }

    /// Every key and value it holds, as text.
    pub async fn dump(&self) -> String {
        let client = redis::Client::open(self.url()).expect("a Redis URL");
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to Redis");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut connection)
            .await
            .expect("KEYS");
        let mut out = String::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .expect("TYPE");
            let value: Vec<String> = match kind.as_str() {
                "string" => vec![
                    redis::cmd("GET")
                        .arg(&key)
                        .query_async(&mut connection)
                        .await
                        .expect("GET"),
                ],
                "hash" => redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
                    .expect("HGETALL"),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut connection)
                    .await
                    .expect("ZRANGE"),
                other => vec![format!("({other})")],
            };
            out.push_str(&format!("{key} {value:?}\n"));
        }
        out
    }

    /// Empties it (as `FLUSHALL`, or a failover to an empty replica, would).
    pub async fn flush(&self) {
        let client = redis::Client::open(self.url()).expect("a Redis URL");
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to Redis");
        let _: () = redis::cmd("FLUSHALL")
            .query_async(&mut connection)
            .await
            .expect("FLUSHALL");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}
