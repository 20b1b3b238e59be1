//! End to end through real gateway processes: what Kubernetes does to a pod. SIGTERM during
//! streaming calls lets every one of them finish (readiness false meanwhile) and records their
//! spend; a changed configuration file swaps a deployment's upstream while calls continue,
//! without a failed call; an invalid file (or SIGHUP with one) leaves the old configuration
//! serving.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, sse_data};
use switchyard_store::{SpendFilter, SqliteStore, Store};

/// Polls `check` every 20 ms until it holds, failing after `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn readiness(gateway: &Gateway) -> (u16, Value) {
    let response = gateway.get("/health/readiness", None).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sigterm_lets_fifty_streams_finish_and_records_their_spend() {
    let upstream = FakeUpstream::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("spend.db");
    let config = format!(
        "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params: {{model: openai/gated-stream, api_base: '{}', input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}\n    model_info: {{id: gated}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n  database_url: 'sqlite://{}'\n  drain_delay_seconds: 1\n  grace_period_seconds: 60\n",
        upstream.api_base,
        database.display()
    );
    let mut gateway = Gateway::spawn(&config, &[]).await;
    let body = json!({"model": "gpt-4o-mini", "stream": true,
        "messages": [{"role": "user", "content": "drain me"}]});
    let calls = futures_util::future::join_all((0..50).map(|_| async {
        let response = gateway
            .post("/v1/chat/completions", &body, Some(MASTER_KEY))
            .await;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-switchyard-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        (status, request_id, text)
    }));
    let signal = async {
        // Every call has reached the upstream and holds a started stream.
        eventually(Duration::from_secs(20), "50 streams are open", || async {
            upstream.received().len() == 50
        })
        .await;
        gateway.terminate();
        eventually(Duration::from_secs(10), "readiness turns false", || async {
            readiness(&gateway).await.0 == 503
        })
        .await;
        upstream.open_gate();
    };
    let (results, ()) = tokio::join!(calls, signal);
    let exit = gateway
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("the gateway exits once the streams are done");
    assert!(exit.success(), "{exit}");
    let mut ids = Vec::new();
    for (status, request_id, text) in results {
        assert_eq!(status, 200, "{text}");
        let data = sse_data(&text);
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{text}");
        assert!(text.contains("upstream says: drain me"), "{text}");
        ids.push(request_id.expect("a request id"));
    }
    let store = SqliteStore::connect(&database.display().to_string())
        .await
        .expect("the database the gateway wrote");
    let filter = SpendFilter {
        limit: 1_000,
        ..SpendFilter::default()
    };
    let records = store.spend_logs(&filter).await.expect("spend records");
    for id in &ids {
        let record = records
            .iter()
            .find(|r| &r.request_id == id)
            .unwrap_or_else(|| panic!("no spend record for {id}"));
        assert_eq!((record.input_tokens, record.output_tokens), (10, 5));
        assert!(record.cost_usd > 0.0);
    }
}

fn reloadable_config(upstream: &FakeUpstream, id: &str) -> String {
    format!(
        "model_list:\n  - model_name: m\n    litellm_params: {{model: openai/echo, api_base: '{}'}}\n    model_info: {{id: {id}}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n",
        upstream.api_base
    )
}

/// Writes `text` to `path` in one step (a rename), as Kubernetes swaps a ConfigMap's files.
fn replace_file(path: &Path, text: &str) {
    let staged = path.with_extension("staged");
    std::fs::write(&staged, text).expect("write the new config");
    std::fs::rename(&staged, path).expect("swap the config in");
}

async fn served_by(gateway: &Gateway) -> (u16, String) {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "who?"}]});
    let response = gateway
        .post("/v1/chat/completions", &body, Some(MASTER_KEY))
        .await;
    let deployment = response
        .headers()
        .get("x-switchyard-deployment")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status().as_u16(), deployment)
}

#[tokio::test]
async fn a_changed_config_file_swaps_the_upstream_while_calls_continue() {
    let (old, new) = tokio::join!(FakeUpstream::start(), FakeUpstream::start());
    let gateway = Arc::new(Gateway::spawn(&reloadable_config(&old, "old"), &[]).await);
    assert_eq!(served_by(&gateway).await, (200, "old".to_owned()));

    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn({
        let gateway = Arc::clone(&gateway);
        let stop = Arc::clone(&stop);
        async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                seen.push(served_by(&gateway).await);
            }
            seen
        }
    });
    let path = gateway.config_path().expect("a config file").to_owned();
    replace_file(&path, &reloadable_config(&new, "new"));
    eventually(
        Duration::from_secs(20),
        "the new upstream serves",
        || async { !new.received().is_empty() },
    )
    .await;
    // A few more calls after the swap, all on the new upstream.
    let before = new.received().len();
    eventually(
        Duration::from_secs(10),
        "calls go on after the swap",
        || async { new.received().len() >= before + 5 },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let seen = traffic.await.expect("the traffic task");
    assert!(
        seen.iter().all(|(status, _)| *status == 200),
        "no call failed during the reload: {seen:?}"
    );
    let first_new = seen
        .iter()
        .position(|(_, d)| d == "new")
        .expect("the new deployment served");
    assert!(
        seen[first_new..].iter().all(|(_, d)| d == "new"),
        "once swapped, calls stay on the new configuration: {seen:?}"
    );
    let (_, ready) = readiness(&gateway).await;
    assert_eq!(ready["reloads"], 1, "{ready}");
}

#[tokio::test]
async fn an_invalid_config_file_is_refused_and_the_old_one_keeps_serving() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(&reloadable_config(&upstream, "old"), &[]).await;
    let path = gateway.config_path().expect("a config file").to_owned();
    replace_file(&path, "model_list: [this is not: valid");
    eventually(Duration::from_secs(20), "the reload is refused", || async {
        readiness(&gateway).await.1["reload_failures"] == 1
    })
    .await;
    // A file that parses but cannot run: a deployment without a model.
    replace_file(
        &path,
        "model_list:\n  - model_name: m\n    litellm_params: {}\n",
    );
    eventually(
        Duration::from_secs(20),
        "the second reload is refused",
        || async { readiness(&gateway).await.1["reload_failures"] == 2 },
    )
    .await;
    let (status, ready) = readiness(&gateway).await;
    assert_eq!((status, &ready["reloads"]), (200, &json!(0)), "{ready}");
    assert_eq!(served_by(&gateway).await, (200, "old".to_owned()));
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_file() {
    let (old, new) = tokio::join!(FakeUpstream::start(), FakeUpstream::start());
    let gateway = Gateway::spawn(&reloadable_config(&old, "old"), &[]).await;
    let path = gateway.config_path().expect("a config file").to_owned();
    // Written in place and announced with SIGHUP, as an operator would.
    std::fs::write(&path, reloadable_config(&new, "new")).expect("write");
    let pid = gateway.pid().expect("running");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    eventually(
        Duration::from_secs(20),
        "the new file is served",
        || async { served_by(&gateway).await == (200, "new".to_owned()) },
    )
    .await;
}

/// The names of the gateway process's threads (Linux's `/proc`, names cut at 15 bytes).
#[cfg(target_os = "linux")]
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the process's threads")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn calls_are_served_on_as_many_threads_as_configured() {
    let upstream = FakeUpstream::start().await;
    let config = format!(
        "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params: {{model: openai/gpt-4o-mini, api_base: '{}'}}\n",
        upstream.api_base
    );
    let gateway = Gateway::spawn(&config, &[("SWITCHYARD_THREADS", "3")]).await;
    let pid = gateway.pid().expect("a gateway process");
    // The listening line is printed before the serving threads start: wait for them.
    let serving = || {
        thread_names(pid)
            .into_iter()
            .filter(|name| name.starts_with("switchyard-serv"))
            .count()
    };
    eventually(Duration::from_secs(10), "three serving threads run", || {
        std::future::ready(serving() >= 3)
    })
    .await;
    assert_eq!(serving(), 3, "one serving thread per `SWITCHYARD_THREADS`");
    // Calls on many connections (each client its own) are all answered, whichever thread's
    // socket the kernel gives each connection to.
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let statuses = futures_util::future::join_all((0..24).map(|_| {
        let client = reqwest::Client::new();
        let url = format!("{}/v1/chat/completions", gateway.base);
        let body = body.clone();
        async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}
