//! End to end: two gateways stand for two replicas that share their per-minute usage through
//! Redis (`router_settings.redis_url`), so `rpm`/`tpm` limits and usage-based routing count the
//! calls of both: in this process (syncing on demand), and as two real gateway processes
//! (syncing on their own every 250 ms, observed through `GET /model/info`). The Redis tests read `SWITCHYARD_TEST_REDIS_URL` (CI sets
//! it) and are skipped without it; each run uses its own key prefix. The outage test needs no
//! Redis.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use switchyard_e2e::shared_state::within_one_minute;
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, redis_url, unique_prefix};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Groups: `limited` (`limited-first`, order 1, tpm 30; `limited-second`, order 2), `counted`
/// (`counted-only`, rpm 2) and `balanced` (`balanced-left`, `balanced-right`), with
/// usage-based routing and Redis at `TEST_REDIS_URL` under `prefix`.
fn config(api_base: &str, prefix: &str) -> String {
    let entry = |group: &str, id: &str, extra: &str| {
        format!(
            "  - model_name: {group}\n    litellm_params: {{model: openai/{id}, api_base: '{api_base}'{extra}}}\n    model_info: {{id: {group}-{id}}}\n"
        )
    };
    format!(
        "model_list:\n{}{}{}{}{}general_settings:\n  master_key: {MASTER_KEY}\nrouter_settings:\n  routing_strategy: usage-based-routing\n  num_retries: 0\n  redis_url: os.environ/TEST_REDIS_URL\n  redis_key_prefix: {prefix}\n",
        entry("limited", "first", ", order: 1, tpm: 30"),
        entry("limited", "second", ", order: 2"),
        entry("counted", "only", ", rpm: 2"),
        entry("balanced", "left", ""),
        entry("balanced", "right", ""),
    )
}

/// Two replicas on `redis_url`, sharing a fresh prefix.
async fn replicas(upstream: &FakeUpstream, redis_url: &str) -> (Gateway, Gateway) {
    let config = config(&upstream.api_base, &unique_prefix());
    let env = [("TEST_REDIS_URL", redis_url)];
    (
        Gateway::start(&config, &env).await,
        Gateway::start(&config, &env).await,
    )
}

async fn sync(gateway: &Gateway) {
    gateway
        .state()
        .usage_sync()
        .expect("usage is shared")
        .sync_now()
        .await
        .expect("redis answers");
}

/// Calls `model`; answers the status and the deployment that served it.
async fn call(gateway: &Gateway, model: &str) -> (u16, String) {
    let body = json!({"model": model, "messages": [{"role": "user", "content": "count me"}]});
    let response = gateway
        .post("/v1/chat/completions", &body, Some(MASTER_KEY))
        .await;
    let deployment = response
        .headers()
        .get("x-switchyard-deployment")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let status = response.status().as_u16();
    let _: Value = response.json().await.expect("a JSON body");
    (status, deployment)
}

/// `(requests, tokens)` of deployment `id` this minute, as `gateway` sees them.
fn seen(gateway: &Gateway, group: &str, id: &str) -> (u64, u64) {
    let router = gateway.state().router();
    let deployment = router
        .groups()
        .get(group)
        .and_then(|g| g.deployments().iter().find(|d| d.id == id))
        .expect("deployment exists");
    let now = router.now_ms();
    (
        deployment.stats.requests_this_minute(now),
        deployment.stats.tokens_this_minute(now),
    )
}

#[tokio::test]
async fn limits_count_the_calls_made_through_another_replica() {
    let Some(redis) = redis_url() else { return };
    let url = redis.as_str();
    within_one_minute(|| async move {
        let upstream = FakeUpstream::start().await;
        let (a, b) = replicas(&upstream, url).await;
        // Each answer of the fake upstream is 15 tokens: two spend `limited-first`'s tpm of 30.
        assert_eq!(call(&a, "limited").await, (200, "limited-first".to_owned()));
        assert_eq!(call(&a, "limited").await, (200, "limited-first".to_owned()));
        assert_eq!(call(&a, "counted").await, (200, "counted-only".to_owned()));
        assert_eq!(call(&a, "counted").await, (200, "counted-only".to_owned()));
        sync(&a).await;
        sync(&b).await;
        assert_eq!(seen(&b, "limited", "limited-first"), (2, 30));
        assert_eq!(seen(&b, "counted", "counted-only"), (2, 30));
        assert_eq!(
            call(&b, "limited").await,
            (200, "limited-second".to_owned()),
            "b leaves the deployment whose tpm a spent"
        );
        assert_eq!(
            call(&b, "counted").await.0,
            503,
            "b refuses the deployment whose rpm a spent"
        );
        sync(&b).await;
        sync(&a).await;
        assert_eq!(
            seen(&a, "limited", "limited-second"),
            (1, 15),
            "and a sees b's call"
        );
    })
    .await;
}

/// `(requests, tokens)` of deployment `id` this minute, as a gateway process reports them on
/// `GET /model/info`.
async fn reported(gateway: &Gateway, id: &str) -> (u64, u64) {
    let info: Value = gateway
        .get("/model/info", Some(MASTER_KEY))
        .await
        .json()
        .await
        .expect("a JSON body");
    let deployment = info["data"]
        .as_array()
        .and_then(|all| all.iter().find(|d| d["model_info"]["id"] == id))
        .unwrap_or_else(|| panic!("deployment {id} listed: {info}"));
    let count = |field: &str| deployment["model_info"][field].as_u64().unwrap_or_default();
    (count("requests_this_minute"), count("tokens_this_minute"))
}

#[tokio::test]
async fn two_gateway_processes_share_one_rpm_limit_through_redis() {
    let Some(redis) = redis_url() else { return };
    let url = redis.as_str();
    within_one_minute(|| async move {
        let upstream = FakeUpstream::start().await;
        let config = config(&upstream.api_base, &unique_prefix());
        let env = [("TEST_REDIS_URL", url)];
        let (a, b) = tokio::join!(Gateway::spawn(&config, &env), Gateway::spawn(&config, &env));
        // `counted-only` takes 2 requests a minute: one through each process.
        assert_eq!(call(&a, "counted").await, (200, "counted-only".to_owned()));
        assert_eq!(call(&b, "counted").await, (200, "counted-only".to_owned()));
        // Each process syncs every 250 ms; wait (bounded) until `a` has seen `b`'s call.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while reported(&a, "counted-only").await != (2, 30) {
            assert!(
                std::time::Instant::now() < deadline,
                "a never saw b's call: {:?}",
                reported(&a, "counted-only").await
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(
            call(&a, "counted").await.0,
            503,
            "a refuses the deployment whose rpm the two processes spent together"
        );
    })
    .await;
}

#[tokio::test]
async fn usage_based_routing_prefers_the_deployment_another_replica_left_idle() {
    let Some(redis) = redis_url() else { return };
    let url = redis.as_str();
    within_one_minute(|| async move {
        let upstream = FakeUpstream::start().await;
        let (a, b) = replicas(&upstream, url).await;
        let (status, used) = call(&a, "balanced").await;
        assert_eq!(status, 200);
        let idle = if used == "balanced-left" {
            "balanced-right"
        } else {
            "balanced-left"
        };
        sync(&a).await;
        sync(&b).await;
        assert_eq!(seen(&b, "balanced", &used), (1, 15));
        let router = b.state().router();
        let group = router.groups().get("balanced").expect("group");
        for _ in 0..20 {
            let picked = group
                .pick(&router.policy().strategy, router.now_ms(), &[])
                .expect("a pick");
            assert_eq!(picked.id, idle, "b's choice");
        }
        assert_eq!(call(&b, "balanced").await, (200, idle.to_owned()));
    })
    .await;
}

/// A TCP forwarder to Redis that can refuse service, as a Redis outage looks to a client.
struct Outage {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Outage {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (up_, links_) = (Arc::clone(&up), Arc::clone(&links));
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up_.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                links_.lock().expect("lock").push(link);
            }
        });
        Self {
            addr,
            up,
            links,
            accept,
        }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            for link in self.links.lock().expect("lock").drain(..) {
                link.abort();
            }
        }
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        self.set_up(false);
        self.accept.abort();
    }
}

/// The parts of `redis://[credentials@]host[:port][/db]`.
struct RedisUrl<'a> {
    scheme: &'a str,
    credentials: &'a str,
    host: &'a str,
    path: &'a str,
}

impl<'a> RedisUrl<'a> {
    fn parse(url: &'a str) -> Self {
        let (scheme, rest) = url.split_once("://").expect("a redis:// URL");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (credentials, host) = match authority.rsplit_once('@') {
            Some((credentials, host)) => (&authority[..=credentials.len()], host),
            None => ("", authority),
        };
        Self {
            scheme,
            credentials,
            host,
            path,
        }
    }

    /// `host:port` of the server.
    fn address(&self) -> String {
        if self.host.contains(':') {
            self.host.to_owned()
        } else {
            format!("{}:6379", self.host)
        }
    }

    /// The same URL with `addr` in place of the server's address.
    fn through(&self, addr: SocketAddr) -> String {
        format!("{}://{}{addr}/{}", self.scheme, self.credentials, self.path)
    }
}

#[tokio::test]
async fn sharing_resumes_after_an_outage_with_the_counts_made_during_it() {
    let Some(redis) = redis_url() else { return };
    let url = redis.as_str();
    within_one_minute(|| async move {
        let upstream = FakeUpstream::start().await;
        let prefix = unique_prefix();
        let config = config(&upstream.api_base, &prefix);
        let parts = RedisUrl::parse(url);
        let outage = Outage::start(parts.address()).await;
        let through_outage = parts.through(outage.addr);
        let a = Gateway::start(&config, &[("TEST_REDIS_URL", &through_outage)]).await;
        let b = Gateway::start(&config, &[("TEST_REDIS_URL", url)]).await;
        let a_sync = a.state().usage_sync().expect("usage is shared");
        sync(&a).await;
        outage.set_up(false);
        assert_eq!(call(&a, "counted").await, (200, "counted-only".to_owned()));
        assert!(a_sync.sync_now().await.is_err(), "redis is out of reach");
        assert!(a_sync.sync_now().await.is_err(), "still");
        assert!(!a_sync.is_reachable());
        assert_eq!(a_sync.outages(), 1, "one outage, logged once");
        assert!(a_sync.failures() >= 2);
        assert_eq!(call(&a, "counted").await, (200, "counted-only".to_owned()));
        assert_eq!(call(&a, "counted").await.0, 503, "local counts still limit");
        outage.set_up(true);
        // The connection manager reconnects on the next exchanges; each is bounded in time.
        let mut attempts = 0;
        while a_sync.sync_now().await.is_err() {
            attempts += 1;
            assert!(attempts < 10, "no reconnection after {attempts} exchanges");
        }
        assert!(a_sync.is_reachable());
        sync(&b).await;
        assert_eq!(
            seen(&b, "counted", "counted-only"),
            (2, 30),
            "both calls made during the outage arrive"
        );
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_redis_leaves_routing_on_local_counts() {
    within_one_minute(|| async {
        let closed = {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            listener.local_addr().expect("addr")
        };
        let upstream = FakeUpstream::start().await;
        let config = config(&upstream.api_base, &unique_prefix());
        let url = format!("redis://{closed}");
        let gateway = Gateway::start(&config, &[("TEST_REDIS_URL", &url)]).await;
        let usage = gateway.state().usage_sync().expect("usage is shared");
        assert_eq!(
            call(&gateway, "counted").await,
            (200, "counted-only".to_owned())
        );
        for _ in 0..3 {
            assert!(usage.sync_now().await.is_err());
        }
        assert!(!usage.is_reachable());
        assert!(usage.failures() >= 3, "every failed exchange is counted");
        assert_eq!(usage.outages(), 1, "one outage, logged once");
        assert_eq!(
            call(&gateway, "counted").await,
            (200, "counted-only".to_owned())
        );
        assert_eq!(
            call(&gateway, "counted").await.0,
            503,
            "the local rpm still holds"
        );
    })
    .await;
}
