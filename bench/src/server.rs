//! The server under test, in its own process (so its memory is its own): `zippcrm-bench serve`
//! runs the same `api::Server` as `zippcrm`, configured from the environment.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

use anyhow::{bail, Context, Result};
use tokio::io::AsyncReadExt;

/// Admin credentials the bench server is started with.
pub(crate) const ADMIN_EMAIL: &str = "bench-admin@zippcrm.example";
/// Admin password.
pub(crate) const ADMIN_PASSWORD: &str = "bench-admin-password-1";

/// The `serve` subcommand: start the server from the environment, print its address, stop
/// when stdin closes (the bench process ended or let go of it).
pub(crate) async fn serve() -> Result<()> {
    let config = api::config::Config::from_env()?;
    let url = config
        .database_url
        .clone()
        .context("DATABASE_URL must be set for `zippcrm-bench serve`")?;
    let server = api::Server::build(&config, secrecy::ExposeSecret::expose_secret(&url)).await?;
    let listener = tokio::net::TcpListener::bind(config.bind_addr).await?;
    println!("listening {}", listener.local_addr()?);
    server
        .serve(listener, async {
            let mut sink = Vec::new();
            let _ = tokio::io::stdin().read_to_end(&mut sink).await;
        })
        .await
}

/// A running server process.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
}

impl ServerProcess {
    /// Starts `zippcrm-bench serve` on `database_url`, sending email to the SMTP server on
    /// loopback port `smtp_port`.
    pub(crate) fn start(
        database_url: &str,
        files_dir: &std::path::Path,
        smtp_port: u16,
    ) -> Result<Self> {
        let exe = std::env::current_exe().context("locating zippcrm-bench")?;
        let mut child = Command::new(exe)
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("ZIPPCRM_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("ZIPPCRM_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env(
                "JWT_SECRET",
                "bench-jwt-secret-that-is-long-enough-0123456789",
            )
            .env("ZIPPCRM_FILES_DIR", files_dir)
            .env("SCHEDULER_ENABLED", "false")
            .env("SMTP_HOST", "127.0.0.1")
            .env("SMTP_PORT", smtp_port.to_string())
            .env("SMTP_TLS", "none")
            // The fan-out scenario's receivers listen on loopback.
            .env("ZIPPCRM_WEBHOOK_ALLOW", "127.0.0.1")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the server process")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(address) = line.trim().strip_prefix("listening ") else {
            let _ = child.kill();
            bail!("the server did not start (said {line:?})");
        };
        Ok(ServerProcess {
            address: format!("http://{address}"),
            child,
            stdin,
        })
    }

    /// Process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resets the peak resident set size, so the next [`Self::peak_rss_kib`] covers what follows.
    pub(crate) fn reset_peak_rss(&self) -> Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .context("resetting the server's peak RSS (/proc/PID/clear_refs)")
    }

    /// Peak resident set size since start or the last reset, in KiB.
    pub(crate) fn peak_rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmHWM missing from /proc/PID/status")
    }

    /// Stops the server gracefully (closing its stdin) and waits for it.
    pub(crate) fn stop(mut self) -> Result<()> {
        drop(self.stdin.take());
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
