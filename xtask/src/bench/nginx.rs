//! The plain reverse proxy anchor: Debian's nginx, started from a config written here, passing
//! every request to the fake upstream over keep-alive connections and doing nothing else (no
//! access log, no buffering of answers). What a proxy that does no work costs on this machine
//! is the yardstick the gateway's figures are read against. Absent nginx, the anchor is
//! skipped with a note.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use super::load;

/// Where Debian installs nginx; `PATH` is searched too.
const DEBIAN_NGINX: &str = "/usr/sbin/nginx";

/// A running nginx; dropping it stops it.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// The nginx binary, if one is installed.
pub fn binary() -> Option<PathBuf> {
    let debian = PathBuf::from(DEBIAN_NGINX);
    if debian.is_file() {
        return Some(debian);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|path| path.is_file())
    })
}

impl Nginx {
    /// Starts `binary` in the foreground with a config in `dir` proxying a free loopback port
    /// to `upstream`, and waits (at most 10 s) until it answers.
    pub async fn start(
        binary: PathBuf,
        dir: PathBuf,
        upstream: SocketAddr,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config(&dir, port, upstream))
            .with_context(|| format!("writing {}", conf.display()))?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut nginx = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        for _ in 0..100 {
            if let Some(status) = nginx.child.try_wait()? {
                bail!(
                    "nginx exited at start ({status}); see {}",
                    dir.join("error.log").display()
                );
            }
            if load::get_status(nginx.addr, "/").await.is_ok() {
                return Ok(nginx);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("nginx never answered on {}", nginx.addr)
    }

    /// Its master process's id (its workers are the master's children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM (fast shutdown) lets the master stop its workers; killing it would leave them.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A reverse proxy to `upstream` on `port`: one worker per core, upstream keep-alive, no access
/// log, answers passed on as they come. Every path nginx writes to lies in `dir`.
fn config(dir: &Path, port: u16, upstream: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        "daemon off;
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    upstream bench {{
        server {upstream};
        keepalive 128;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://bench;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_buffering off;
        }}
    }}
}}
"
    )
}

/// A port free on loopback right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
