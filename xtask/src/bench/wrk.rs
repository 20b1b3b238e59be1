//! The external load generator: `wrk` (Debian's package), run beside the built-in one so the
//! figures do not rest on our own client alone. One thread, as the built-in generator has, the
//! same request body and key; its requests per second and non-2xx count are read from its
//! report. Absent wrk, this run is skipped with a note.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use super::upstream::CHAT_COMPLETIONS_PATH;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WrkRun {
    /// Requests per second, as wrk reports them (all answers, good or not).
    pub requests_per_second: f64,
    /// Answers with a status other than 2xx or 3xx, and socket errors.
    pub errors: u64,
}

/// The wrk binary, if one is on `PATH`.
pub fn binary() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("wrk"))
            .find(|path| path.is_file())
    })
}

/// Runs `binary` against `addr` for `duration` over `connections` connections, POSTing `body`
/// (the benchmark's chat request) with `authorization` (a whole header value) if given; with
/// `unique_prompts`, each request's prompt is made unique (`Say ok. w<n>`), so that a response
/// cache misses. The Lua script wrk needs for that is written into `dir`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    binary: &Path,
    dir: &Path,
    addr: SocketAddr,
    body: &str,
    authorization: Option<&str>,
    unique_prompts: bool,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<WrkRun> {
    let script = dir.join("wrk-chat.lua");
    std::fs::write(&script, lua_script(body, authorization, unique_prompts)?)
        .with_context(|| format!("writing {}", script.display()))?;
    let output = Command::new(binary)
        .args(["-t1", "-c"])
        .arg(connections.to_string())
        .arg("-d")
        .arg(format!("{}s", duration.as_secs().max(1)))
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{addr}{CHAT_COMPLETIONS_PATH}"))
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    let report = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {report}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&report).with_context(|| format!("reading wrk's report:\n{report}"))
}

/// The request wrk sends: the built-in generator's body, content type and key; with
/// `unique_prompts`, a `request` function that numbers each request's prompt.
fn lua_script(
    body: &str,
    authorization: Option<&str>,
    unique_prompts: bool,
) -> anyhow::Result<String> {
    let quoted = |text: &str| serde_json::Value::from(text).to_string();
    let mut script = format!(
        "wrk.method = \"POST\"\nwrk.body = {}\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
        quoted(body)
    );
    if let Some(value) = authorization {
        script.push_str(&format!(
            "wrk.headers[\"Authorization\"] = {}\n",
            quoted(value)
        ));
    }
    if unique_prompts {
        let prompt = super::load::PROMPT;
        let Some(at) = body.find(prompt) else {
            bail!("the request body has no prompt `{prompt}` to number");
        };
        let (head, tail) = body.split_at(at + prompt.len());
        script.push_str(&format!(
            "local sent = 0\nrequest = function()\n  sent = sent + 1\n  return wrk.format(nil, nil, nil, {} .. sent .. {})\nend\n",
            quoted(&format!("{head} w")),
            quoted(tail)
        ));
    }
    Ok(script)
}

/// Reads `Requests/sec:`, `Non-2xx or 3xx responses:` and `Socket errors:` from wrk's report.
fn parse(report: &str) -> Option<WrkRun> {
    let mut requests_per_second = None;
    let mut errors = 0;
    for line in report.lines().map(str::trim) {
        if let Some(rate) = line.strip_prefix("Requests/sec:") {
            requests_per_second = rate.trim().parse().ok();
        } else if let Some(count) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += count.trim().parse::<u64>().ok()?;
        } else if let Some(counts) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            errors += counts
                .split(',')
                .filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    Some(WrkRun {
        requests_per_second: requests_per_second?,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The layout of wrk 4's report.
    #[test]
    fn the_rate_and_the_failures_are_read_from_the_report() {
        let report = "Running 4s test @ http://127.0.0.1:1/v1/chat/completions
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.83ms  310.00us   9.99ms   90.00%
    Req/Sec    27.40k     1.10k   29.00k    80.00%
  109000 requests in 4.00s, 30.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:  27250.12
Transfer/sec:      7.50MB
";
        assert_eq!(
            parse(report),
            Some(WrkRun {
                requests_per_second: 27250.12,
                errors: 8
            })
        );
        assert_eq!(parse("no report"), None);
    }

    #[test]
    fn the_script_sends_the_body_and_the_key() {
        let body = crate::bench::load::chat_request("bench-model", false);
        let script = lua_script(&body, Some("Bearer sk-1"), false).expect("a script");
        assert!(script.contains(r#"wrk.headers["Authorization"] = "Bearer sk-1""#));
        assert!(script.contains(r#"\"model\":\"bench-model\""#), "{script}");
        assert!(!script.contains("request = function"));
        let unquoted = lua_script(&body, None, false).expect("a script");
        assert!(!unquoted.contains("Authorization"));
        let numbered = lua_script(&body, None, true).expect("a script");
        // The prompt is cut after "Say ok." and numbered there; the rest of the body follows.
        assert!(numbered.contains("request = function()"), "{numbered}");
        assert!(
            numbered.contains(r#"Say ok. w" .. sent .. "\""#),
            "{numbered}"
        );
        assert!(lua_script("{}", None, true).is_err(), "no prompt to number");
    }
}
