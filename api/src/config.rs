//! Configuration from the environment (names from the domain brief; see `.env.example`).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};

pub use crate::files::{StorageConfig, DEFAULT_MAX_UPLOAD_BYTES};

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`; `None` starts the embedded PostgreSQL (development only).
    pub database_url: Option<String>,
    /// `BIND_ADDR`, default `127.0.0.1:8088`.
    pub bind_addr: SocketAddr,
    /// `PORTAL_URL`: where links in messages point, default `http://127.0.0.1:8088`.
    pub portal_url: String,
    /// `ZIPPCRM_ENV=production` turns on strict checks (`development`, the default, does not;
    /// any other value is refused).
    pub production: bool,
    /// `JWT_SECRET`. In development without one, a random secret made at first start and
    /// kept beside the data directory (`jwt-secret`), so no secret in the source signs tokens.
    pub jwt_secret: String,
    /// `ZIPPCRM_ADMIN_EMAIL` / `ZIPPCRM_ADMIN_PASSWORD`: first admin, created on first start.
    pub admin: Option<(String, String)>,
    /// `ZIPPCRM_DATA_DIR`: where the embedded PostgreSQL keeps its data.
    pub data_dir: String,
    /// `ZIPPCRM_RYW_TIMEOUT_MS`: how long a mutation waits for its read models.
    pub read_your_writes_timeout: Duration,
    /// `ZIPPCRM_DB_POOL`: connections in the pool.
    pub pool_size: u32,
    /// `LOG_FORMAT=json` for JSON logs.
    pub json_logs: bool,
    /// Object storage: `S3_BUCKET` (with `S3_ENDPOINT`, `S3_ACCESS_KEY`, `S3_SECRET_KEY`,
    /// `S3_REGION`) or else the directory `ZIPPCRM_FILES_DIR` (default `.zippcrm/files`).
    pub storage: StorageConfig,
    /// `ZIPPCRM_MAX_UPLOAD_BYTES`, default 10 MiB.
    pub max_upload_bytes: usize,
    /// `SCHEDULER_ENABLED=true` on exactly one replica: expiry alerts, reminders, due
    /// alerts and daily digests.
    pub scheduler_enabled: bool,
    /// `ZIPPCRM_SCHEDULER_INTERVAL_SECS`, default 3600.
    pub scheduler_interval: Duration,
    /// `ZIPPCRM_CLIENT_IP_HEADER`: the header in which a trusted proxy in front of every
    /// replica puts the caller's address (`X-Forwarded-For`, say). Unset, the connection's
    /// peer is the caller; set it only behind such a proxy, since callers can write it too.
    pub client_ip_header: Option<axum::http::HeaderName>,
    /// Reactors: `ZIPPCRM_REACTOR_ATTEMPTS` (default 5) attempts at an event before it is
    /// parked, the first retry after `ZIPPCRM_REACTOR_BACKOFF_MS` (default 1000), doubling.
    pub reactors: reactions::runner::ReactorConfig,
    /// Email delivery: SMTP with `SMTP_HOST` (and `SMTP_PORT`, `SMTP_USERNAME`,
    /// `SMTP_PASSWORD`, `SMTP_TLS`, `SMTP_FROM`); without it in development, `.eml` files in
    /// `ZIPPCRM_MAIL_DIR` (default `.zippcrm/mail`).
    pub mail: reactions::mail::MailConfig,
    /// Webhook delivery: `ZIPPCRM_WEBHOOK_ATTEMPTS`, `_BACKOFF_MS`, `_LEASE_SECS`,
    /// `_TIMEOUT_MS`, `_DISABLE_AFTER_SECS`, and `ZIPPCRM_WEBHOOK_ALLOW` (internal addresses
    /// endpoints may use all the same).
    pub webhooks: reactions::webhooks::WebhookConfig,
    /// WhatsApp delivery through a BSP: `WHATSAPP_BSP_URL`, `WHATSAPP_TOKEN`,
    /// `WHATSAPP_NUMBER` (all or none), `ZIPPCRM_WHATSAPP_ATTEMPTS`, `_BACKOFF_MS`,
    /// `_LEASE_SECS`. None: nobody can opt into WhatsApp.
    pub whatsapp: Option<reactions::whatsapp::WhatsAppConfig>,
}

/// The email settings from the environment.
fn mail() -> Result<reactions::mail::MailConfig> {
    use reactions::mail::{MailConfig, MailTransport, TlsMode};
    let mut config =
        MailConfig::directory(var("ZIPPCRM_MAIL_DIR").unwrap_or_else(|| ".zippcrm/mail".into()));
    if let Some(host) = var("SMTP_HOST") {
        let port = match var("SMTP_PORT") {
            Some(port) => port.parse().context("SMTP_PORT must be a port number")?,
            None => 587,
        };
        let credentials = match (var("SMTP_USERNAME"), var("SMTP_PASSWORD")) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            _ => bail!("set both SMTP_USERNAME and SMTP_PASSWORD, or neither"),
        };
        config.transport = MailTransport::Smtp {
            host,
            port,
            credentials,
            tls: TlsMode::parse(var("SMTP_TLS").as_deref(), port)?,
        };
    }
    if let Some(from) = var("SMTP_FROM") {
        if !reactions::mail::valid_sender(&from) {
            bail!("SMTP_FROM '{from}' is not an address such as 'ZippCRM <no-reply@firm.example>'");
        }
        config.from = from;
    }
    config.drain = config.drain.from_env("ZIPPCRM_MAIL", var);
    Ok(config)
}

/// Parses `ZIPPCRM_ENV`: `true` for production, `false` for development (or unset).
fn production(value: Option<&str>) -> Result<bool> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("development") => Ok(false),
        Some("production") => Ok(true),
        Some(other) => {
            bail!("ZIPPCRM_ENV must be 'production' or 'development' (or unset), not '{other}'")
        }
    }
}

/// The development signing secret kept in `dir`, made (random, readable by its owner only)
/// the first time.
fn development_secret(dir: &std::path::Path) -> Result<String> {
    use rand::RngCore;
    let path = dir.join("jwt-secret");
    if let Ok(secret) = std::fs::read_to_string(&path) {
        let secret = secret.trim().to_owned();
        if !weak_secret(&secret) {
            return Ok(secret);
        }
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating {} for the development secret", dir.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("writing the development secret to {}", path.display()))?;
    std::io::Write::write_all(&mut file, secret.as_bytes())?;
    Ok(secret)
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Config {
    /// Reads the environment and applies the production checks.
    pub fn from_env() -> Result<Self> {
        let production = production(var("ZIPPCRM_ENV").as_deref())?;
        let data_dir = var("ZIPPCRM_DATA_DIR").unwrap_or_else(|| ".zippcrm/pgdata".into());
        let jwt_secret = match var("JWT_SECRET") {
            Some(secret) => secret,
            None if production => String::new(),
            None => development_secret(
                std::path::Path::new(&data_dir)
                    .parent()
                    .unwrap_or(std::path::Path::new(".")),
            )?,
        };
        let bind_addr = var("BIND_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8088".into())
            .parse()
            .context("BIND_ADDR must be host:port, e.g. 127.0.0.1:8088")?;
        let admin = match (var("ZIPPCRM_ADMIN_EMAIL"), var("ZIPPCRM_ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => Some((email, password)),
            (None, None) if !production => {
                Some(("admin@zippcrm.local".into(), "zippcrm-admin-dev".into()))
            }
            (None, None) => None,
            _ => bail!("set both ZIPPCRM_ADMIN_EMAIL and ZIPPCRM_ADMIN_PASSWORD, or neither"),
        };
        let config = Config {
            mail: mail()?,
            webhooks: reactions::webhooks::WebhookConfig::from_env(var)?,
            whatsapp: reactions::whatsapp::WhatsAppConfig::from_env(var)?,
            database_url: var("DATABASE_URL"),
            bind_addr,
            portal_url: var("PORTAL_URL").unwrap_or_else(|| "http://127.0.0.1:8088".into()),
            production,
            jwt_secret,
            admin,
            data_dir,
            read_your_writes_timeout: Duration::from_millis(
                var("ZIPPCRM_RYW_TIMEOUT_MS")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(5_000),
            ),
            pool_size: var("ZIPPCRM_DB_POOL")
                .and_then(|v| v.parse().ok())
                .unwrap_or(20),
            json_logs: var("LOG_FORMAT").is_some_and(|v| v.eq_ignore_ascii_case("json")),
            storage: match var("S3_BUCKET") {
                Some(bucket) => StorageConfig::S3 {
                    endpoint: var("S3_ENDPOINT"),
                    bucket,
                    access_key: var("S3_ACCESS_KEY"),
                    secret_key: var("S3_SECRET_KEY"),
                    region: var("S3_REGION"),
                },
                None => StorageConfig::Local(
                    var("ZIPPCRM_FILES_DIR")
                        .unwrap_or_else(|| ".zippcrm/files".into())
                        .into(),
                ),
            },
            max_upload_bytes: var("ZIPPCRM_MAX_UPLOAD_BYTES")
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_MAX_UPLOAD_BYTES),
            scheduler_enabled: var("SCHEDULER_ENABLED")
                .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1"),
            scheduler_interval: Duration::from_secs(
                var("ZIPPCRM_SCHEDULER_INTERVAL_SECS")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(3_600),
            ),
            client_ip_header: var("ZIPPCRM_CLIENT_IP_HEADER")
                .map(|name| name.parse())
                .transpose()
                .context("ZIPPCRM_CLIENT_IP_HEADER must be a header name")?,
            reactors: {
                let defaults = reactions::runner::ReactorConfig::default();
                reactions::runner::ReactorConfig {
                    attempts: var("ZIPPCRM_REACTOR_ATTEMPTS")
                        .and_then(|v| v.parse().ok())
                        .filter(|&n| n > 0)
                        .unwrap_or(defaults.attempts),
                    backoff: var("ZIPPCRM_REACTOR_BACKOFF_MS")
                        .and_then(|v| v.parse().ok())
                        .map_or(defaults.backoff, Duration::from_millis),
                    ..defaults
                }
            },
        };
        config.check()?;
        Ok(config)
    }

    /// The production rules: a real database, a strong secret, a strong admin password.
    pub fn check(&self) -> Result<()> {
        if !self.production {
            return Ok(());
        }
        if self.database_url.is_none() {
            bail!("ZIPPCRM_ENV=production needs DATABASE_URL (the embedded database is for development only)");
        }
        if published_secret(&self.jwt_secret) {
            bail!("JWT_SECRET is a value published in ZippCRM's own files or history (the former development secret, a test's): anyone could sign tokens with it. Make one of your own, e.g. `openssl rand -hex 32`");
        }
        if weak_secret(&self.jwt_secret) {
            bail!("ZIPPCRM_ENV=production needs a JWT_SECRET of at least 32 characters, not one character repeated");
        }
        if let Some((_, password)) = &self.admin {
            if password.chars().count() < 12 {
                bail!("ZIPPCRM_ADMIN_PASSWORD must be at least 12 characters in production");
            }
        }
        if matches!(
            self.mail.transport,
            reactions::mail::MailTransport::Directory(_)
        ) {
            bail!("ZIPPCRM_ENV=production needs SMTP_HOST: customers must receive their emails");
        }
        Ok(())
    }
}

/// SHA-256 digests of the secret-like values ZippCRM's own files and history have held
/// (the former development signing secret, the test suites' and the bench's, examples):
/// anyone can read them, so none of them signs anything in production. A test scans the
/// repository and its history and fails on a value missing here.
pub const PUBLISHED_SECRETS: [&str; 7] = [
    "1e5c3da96aa5b6372e33c42f576dabdfa8b3986019c1d5647b5dcb0ee7bb5104",
    "94f0aefb1b7bbd58925c01602c654d67f8a6d217e47798b6fc0dfffe01e29420",
    "6bef5bf1e249b51f42f8c06b6f3a43a36687dfd2b67cecfcfc49ad0bce5080af",
    "b2ffd7123631a296076ab3c54455eae011293e8a910a812f32d1817a6ea62ec4",
    "2d34eab3abc0fbc5b393afb954bbd596808f24f0144bc41567bcd6367bc35843",
    "96ad2ccd81462a766178ae09a71df55f548a3f66da11606f9cdf40b391e22dd0",
    "f9687cd8cba444e077ceaa14a68c044e686bc6a9cd817724f94a5627e110cfa3",
];

/// Whether `secret` is one of the [`PUBLISHED_SECRETS`].
pub fn published_secret(secret: &str) -> bool {
    use sha2::Digest as _;
    let digest = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
    PUBLISHED_SECRETS.contains(&digest.as_str())
}

/// A secret is weak when short, made of a few characters repeated, or published.
pub fn weak_secret(secret: &str) -> bool {
    let distinct: std::collections::HashSet<char> = secret.chars().collect();
    secret.len() < 32 || distinct.len() < 8 || published_secret(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A secret the repository held once (the old example of a strong one).
    const PUBLISHED_EXAMPLE: &str = "k3J9x!q2Lm8#Vb7&Pz4@Wd6^Rt1*Yh5%";

    /// A strong secret no file holds.
    fn random_secret() -> String {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    }

    #[test]
    fn production_refuses_a_weak_or_default_secret() {
        let mut config = Config {
            database_url: Some("postgres://x".into()),
            bind_addr: "127.0.0.1:0".parse().expect("addr"),
            portal_url: "https://portal.firm.example".into(),
            production: true,
            jwt_secret: String::new(),
            admin: None,
            data_dir: String::new(),
            read_your_writes_timeout: Duration::from_secs(1),
            pool_size: 1,
            json_logs: false,
            storage: StorageConfig::Local(".".into()),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            scheduler_enabled: false,
            scheduler_interval: Duration::from_secs(3600),
            client_ip_header: None,
            reactors: Default::default(),
            mail: reactions::mail::MailConfig::directory("."),
            webhooks: Default::default(),
            whatsapp: None,
        };
        assert!(config.check().is_err());
        config.jwt_secret = "short".into();
        assert!(config.check().is_err());
        config.jwt_secret = "a".repeat(64);
        assert!(config.check().is_err());
        for published in [
            "zippcrm-development-secret-do-not-use-in-production",
            PUBLISHED_EXAMPLE,
        ] {
            config.jwt_secret = published.into();
            assert!(config.check().is_err(), "{published}");
        }
        config.jwt_secret = random_secret();
        assert!(config.check().is_err(), "no SMTP server");
        config.mail.transport = reactions::mail::MailTransport::Smtp {
            host: "smtp.firm.example".into(),
            port: 587,
            credentials: None,
            tls: reactions::mail::TlsMode::StartTls,
        };
        assert!(config.check().is_ok());
        config.database_url = None;
        assert!(config.check().is_err());
    }

    #[test]
    fn an_unknown_environment_is_refused_rather_than_taken_for_development() {
        assert!(!production(None).expect("unset is development"));
        assert!(!production(Some("development")).expect("development"));
        assert!(production(Some("Production")).expect("production"));
        for typo in ["prod", "staging", "dev"] {
            assert!(production(Some(typo)).is_err(), "{typo}");
        }
    }

    #[test]
    fn the_development_secret_is_random_and_kept() {
        let dir = std::env::temp_dir().join(format!("zippcrm-secret-{}", uuid::Uuid::new_v4()));
        let first = development_secret(&dir).expect("made");
        assert!(!weak_secret(&first));
        assert_eq!(development_secret(&dir).expect("read back"), first);
        let other = std::env::temp_dir().join(format!("zippcrm-secret-{}", uuid::Uuid::new_v4()));
        assert_ne!(development_secret(&other).expect("made"), first);
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(other);
    }
}
