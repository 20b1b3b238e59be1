//! Fixtures for the tests of shared state (budgets, keys, spend across replicas): the admin API
//! under the master key, polling until something holds, a PostgreSQL schema of a test's own, and
//! a Redis of a test's own that the test can stop, restart empty and flush, never touching the
//! Redis other tests share.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::{Gateway, MASTER_KEY, unique_prefix};

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
    let created = gateway.admin_post("/key/generate", body).await;
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

/// A PostgreSQL server of one test's own (a fresh cluster in a temporary folder, on a free
/// loopback port, loopback logins trusted), which the test may stop and start again; stopped
/// on drop. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user that
/// Debian's package creates. `None`, with a line saying the test is skipped, when the
/// shared-state tests are not configured (`SWITCHYARD_TEST_DATABASE_URL` unset).
pub struct OwnPostgres {
    dir: tempfile::TempDir,
    port: u16,
    bin: std::path::PathBuf,
    as_root: bool,
}

impl OwnPostgres {
    /// Creates the cluster, starts it and waits until it answers.
    pub async fn start() -> Option<Self> {
        database_url()?;
        let versions = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server is installed (scripts/services.sh)");
        let mut versions: Vec<std::path::PathBuf> = versions
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        versions.sort();
        let bin = versions.pop().expect("a PostgreSQL version").join("bin");
        let dir = tempfile::Builder::new()
            .prefix("switchyard-pg-")
            .tempdir()
            .expect("a folder for the cluster");
        let uid = std::process::Command::new("id")
            .arg("-u")
            .output()
            .expect("run `id -u`");
        let as_root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let server = Self {
            dir,
            port: crate::closed_port().await,
            bin,
            as_root,
        };
        if as_root {
            server.run(
                std::process::Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(server.dir.path()),
                false,
            );
        }
        let data = server.dir.path().join("data");
        server.run(
            std::process::Command::new(server.bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]),
            true,
        );
        server.resume().await;
        Some(server)
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once (as a crash would) and waits until it no longer answers.
    pub async fn stop(&self) {
        self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
        let address = format!("127.0.0.1:{}", self.port);
        eventually(Duration::from_secs(10), "PostgreSQL stopped", || async {
            tokio::net::TcpStream::connect(&address)
                .await
                .is_err()
                .then_some(())
        })
        .await;
    }

    /// Starts the server (again) and waits until it answers.
    pub async fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        self.pg_ctl(&["-o", &options, "-l", &log.to_string_lossy(), "-w", "start"]);
        let url = self.url();
        eventually(Duration::from_secs(20), "PostgreSQL answers", || async {
            PgConnection::connect(&url).await.ok().map(drop)
        })
        .await;
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.dir.path().join("data");
        self.run(
            std::process::Command::new(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .args(args),
            true,
        );
    }

    /// Runs `command`, as the `postgres` user when `as_postgres` and this process is root.
    fn run(&self, command: &mut std::process::Command, as_postgres: bool) {
        let mut command = if as_postgres && self.as_root {
            let mut wrapped = std::process::Command::new("runuser");
            wrapped
                .args(["-u", "postgres", "--"])
                .arg(command.get_program())
                .args(command.get_args());
            wrapped
        } else {
            std::mem::replace(command, std::process::Command::new("true"))
        };
        let output = command
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        assert!(
            output.status.success(),
            "{command:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let mut stop = std::process::Command::new(self.bin.join("pg_ctl"));
        stop.arg("-D").arg(&data).args(["-m", "immediate", "stop"]);
        let mut command = if self.as_root {
            let mut wrapped = std::process::Command::new("runuser");
            wrapped
                .args(["-u", "postgres", "--"])
                .arg(stop.get_program())
                .args(stop.get_args());
            wrapped
        } else {
            stop
        };
        let _ = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// The wall clock's minute since 1970: rate limits and usage shared through Redis count per
/// calendar minute.
fn wall_minute() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}

/// Runs `scenario`; if it fails while the wall-clock minute turned (per-minute counts start
/// afresh each minute, so calls straddling the turn see two windows), runs it once more. The
/// scenario must make what it counts against afresh each time (gateways with a new Redis prefix,
/// or a new key).
pub async fn within_one_minute<F, Fut>(scenario: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    use futures_util::FutureExt;
    let minute = wall_minute();
    match std::panic::AssertUnwindSafe(scenario())
        .catch_unwind()
        .await
    {
        Ok(()) => {}
        Err(_) if wall_minute() != minute => {
            println!("a minute began during the scenario: running it again");
            scenario().await;
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
