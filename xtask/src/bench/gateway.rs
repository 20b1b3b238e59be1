//! The gateway under test as a child process: its config file, starting it on a free port,
//! learning that port from its first stdout line, waiting until it is ready, reading its peak
//! memory, and killing it when the benchmark ends (also on error, through `Drop`).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

/// The first stdout line of `switchyard serve`, before the address.
const LISTENING_PREFIX: &str = "switchyard listening on http://";

/// How long the gateway may take to print its address.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes the benchmark's LiteLLM-layout config into `dir`: one model, `bench-model`, served by
/// the fake upstream on `upstream_port`. Returns the file's path.
pub fn write_config(dir: &Path, upstream_port: u16) -> anyhow::Result<PathBuf> {
    let text = format!(
        "model_list:\n  - model_name: bench-model\n    litellm_params:\n      \
         model: openai/bench-model\n      api_base: http://127.0.0.1:{upstream_port}/v1\n      \
         api_key: sk-bench-upstream\n"
    );
    let path = dir.join("config.yaml");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A running gateway. Dropping it kills the process and waits for it.
#[derive(Debug)]
pub struct Gateway {
    child: Child,
    /// Where the gateway listens.
    pub addr: SocketAddr,
    /// Where the gateway's stderr (its log) goes.
    pub log_path: PathBuf,
}

impl Gateway {
    /// Starts `binary serve -c config -p 0 --host 127.0.0.1` with `RUST_LOG=warn`, its stderr
    /// going to `log_path`, and waits (at most 30 s) for the line that gives its address.
    pub fn spawn(binary: &Path, config: &Path, log_path: &Path) -> anyhow::Result<Self> {
        let log = File::create(log_path)
            .with_context(|| format!("creating the gateway log {}", log_path.display()))?;
        let mut child = Command::new(binary)
            .args(["serve", "-c"])
            .arg(config)
            .args(["-p", "0", "--host", "127.0.0.1"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take();
        // From here on, `Drop` kills the child whatever happens.
        let mut gateway = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_path: log_path.to_path_buf(),
        };
        let stdout = stdout.context("the gateway's stdout was not captured")?;
        gateway.addr = gateway.read_listening_addr(stdout)?;
        Ok(gateway)
    }

    /// The gateway's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The gateway's peak resident memory so far (`VmHWM` in `/proc/<pid>/status`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        parse_vm_hwm_kib(&status).with_context(|| format!("no VmHWM line in {path}"))
    }

    /// Fails if the gateway process has exited, saying how and showing its log.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait().context("checking on the gateway")? {
            None => Ok(()),
            Some(status) => bail!(
                "the gateway exited ({status}); its log:\n{}",
                self.log_tail()
            ),
        }
    }

    fn read_listening_addr(&mut self, stdout: ChildStdout) -> anyhow::Result<SocketAddr> {
        let first_line = spawn_stdout_reader(stdout);
        let line = match first_line.recv_timeout(STARTUP_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(error)) => {
                self.check_alive()?;
                bail!("reading the gateway's stdout: {error}");
            }
            Err(_) => {
                self.check_alive()?;
                bail!(
                    "the gateway printed no address within {} s; its log:\n{}",
                    STARTUP_TIMEOUT.as_secs(),
                    self.log_tail()
                );
            }
        };
        let addr = line.trim_end().strip_prefix(LISTENING_PREFIX).with_context(|| {
            format!("unexpected first line from the gateway: {line:?} (expected {LISTENING_PREFIX}…)")
        })?;
        addr.parse()
            .with_context(|| format!("parsing the gateway's address {addr:?}"))
    }

    /// The last lines of the gateway's log, for error messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Err(error) = self.child.kill() {
            eprintln!(
                "bench: killing the gateway (pid {}) failed: {error}",
                self.child.id()
            );
        }
        if let Err(error) = self.child.wait() {
            eprintln!(
                "bench: waiting for the gateway (pid {}) failed: {error}",
                self.child.id()
            );
        }
    }
}

/// Reads the first line of `stdout` on its own thread and sends it back; then keeps draining
/// stdout so the gateway can never block on a full pipe. The thread ends when the gateway does.
fn spawn_stdout_reader(stdout: ChildStdout) -> mpsc::Receiver<std::io::Result<String>> {
    let (first_line_tx, first_line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let first = match reader.read_line(&mut line) {
            Ok(0) => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the gateway closed its stdout without printing its address",
            )),
            Ok(_) => Ok(line),
            Err(error) => Err(error),
        };
        let got_line = first.is_ok();
        // The receiver may have given up already; nothing to do about it then.
        let _ = first_line_tx.send(first);
        if got_line {
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        }
    });
    first_line_rx
}

/// The `VmHWM:  12345 kB` value of a `/proc/<pid>/status` text.
fn parse_vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::parse_vm_hwm_kib;

    #[test]
    fn vm_hwm_is_read_in_kib() {
        let status =
            "Name:\tswitchyard\nVmPeak:\t  200000 kB\nVmHWM:\t   18840 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm_kib(status), Some(18840));
        assert_eq!(parse_vm_hwm_kib("Name:\tx\n"), None);
    }
}
