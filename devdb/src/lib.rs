//! A private PostgreSQL for development and tests, started from the machine's own binaries.
//!
//! `zippcrm` with no `DATABASE_URL` and the test suite with no `TEST_DATABASE_URL` both use
//! [`LocalPostgres`]: it runs `initdb` once into a data directory, starts the server on a free
//! loopback port with its socket inside the data directory, and stops it when dropped. When
//! run as root it runs every PostgreSQL binary as the unprivileged `postgres` (or `nobody`)
//! user, since PostgreSQL refuses to run as root.
//!
//! A watchdog shell process stops the server if this process dies without dropping it (a
//! crash, `kill -9`, or a test binary whose statics are never dropped), so no orphaned
//! server outlives its owner.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// A running private PostgreSQL server.
#[derive(Debug)]
pub struct LocalPostgres {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    run_as: Option<(u32, u32)>,
    stopped: bool,
}

/// What the data is worth: kept data is written durably, throw-away data is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Keep the data (the development server, where someone may keep real records): the
    /// server runs with PostgreSQL's durable defaults (`fsync`, synchronous commits), so a
    /// crash of the machine loses no committed write and corrupts nothing.
    Data,
    /// Remove the directory when the server stops (test and bench clusters): `fsync=off`
    /// and `initdb --no-sync`, for speed; a crash of the machine may lose such a cluster.
    Nothing,
}

impl LocalPostgres {
    /// Initialises `data_dir` if needed and starts a server on a free port.
    pub fn start(data_dir: &Path, keep: Keep) -> Result<Self> {
        let bin_dir = find_bin_dir()?;
        let run_as = unprivileged_user()?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let data_dir = data_dir.canonicalize()?;
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))?;
        if let Some((uid, gid)) = run_as {
            chown_recursive(&data_dir, uid, gid)?;
        }
        let pg = LocalPostgres {
            data_dir,
            bin_dir,
            port: free_port()?,
            run_as,
            stopped: false,
        };
        let durable = keep == Keep::Data;
        if !pg.data_dir.join("PG_VERSION").exists() {
            let dir = pg.dir();
            let mut args = vec!["-D", &dir, "-U", "postgres", "--auth=trust", "-E", "UTF8"];
            if !durable {
                args.push("--no-sync");
            }
            pg.run("initdb", &args).context("initdb failed")?;
        }
        // A previous owner may have died without stopping its server.
        let _ = pg.run("pg_ctl", &["-D", &pg.dir(), "stop", "-m", "immediate"]);
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync={} -c max_connections=300 -c shared_buffers=256MB",
            pg.port,
            pg.dir(),
            if durable { "on" } else { "off" },
        );
        let log = pg.data_dir.join("server.log");
        pg.run(
            "pg_ctl",
            &[
                "-D",
                &pg.dir(),
                "-o",
                &options,
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .with_context(|| format!("pg_ctl start failed; see {}", log.display()))?;
        pg.spawn_watchdog(keep)?;
        Ok(pg)
    }

    /// Connection URL for database `db`, through the Unix socket in the data directory.
    ///
    /// The socket, not the loopback port: every projection and command statement is a round
    /// trip, and on this machine a socket round trip is about a fifth cheaper (ADR 0006).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@{}:{}/{db}",
            percent_encode(&self.dir()),
            self.port
        )
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops the server (fast shutdown).
    pub fn stop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            let _ = self.run("pg_ctl", &["-D", &self.dir(), "stop", "-m", "fast", "-w"]);
        }
    }

    fn dir(&self) -> String {
        self.data_dir.to_string_lossy().into_owned()
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command.env_remove("PGDATA").current_dir(&self.data_dir);
        command
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<()> {
        let output = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .process_group(0)
            .output()
            .with_context(|| format!("running {program}"))?;
        if !output.status.success() {
            bail!(
                "{program}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    fn spawn_watchdog(&self, keep: Keep) -> Result<()> {
        let cleanup = match keep {
            Keep::Data => String::new(),
            Keep::Nothing => format!("; rm -rf '{}'", self.dir()),
        };
        let script = format!(
            "while [ -e /proc/{pid} ]; do sleep 1; done; '{pg_ctl}' -D '{dir}' stop -m fast >/dev/null 2>&1{cleanup}",
            pid = std::process::id(),
            pg_ctl = self.bin_dir.join("pg_ctl").display(),
            dir = self.dir(),
        );
        let mut command = Command::new("sh");
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting the PostgreSQL watchdog")?;
        Ok(())
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Finds the directory holding `initdb` and `pg_ctl`: `PG_BIN_DIR`, then the newest
/// `/usr/lib/postgresql/*/bin`, then `PATH`.
fn find_bin_dir() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    candidates.sort();
    if let Some((_, bin)) = candidates.pop() {
        return Ok(bin);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
            return Ok(dir);
        }
    }
    bail!("no PostgreSQL server binaries found (looked in PG_BIN_DIR, /usr/lib/postgresql/*/bin and PATH); install PostgreSQL or set DATABASE_URL")
}

/// When running as root, the uid/gid to run PostgreSQL as.
fn unprivileged_user() -> Result<Option<(u32, u32)>> {
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Some(user) = nix::unistd::User::from_name(name)? {
            return Ok(Some((user.uid.as_raw(), user.gid.as_raw())));
        }
    }
    bail!(
        "running as root, but neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL as"
    )
}

fn chown_recursive(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            if !entry.file_type()?.is_symlink() {
                chown_recursive(&entry.path(), uid, gid)?;
            }
        }
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Percent-encodes `text` for the host part of a URL (a socket directory is a path).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
