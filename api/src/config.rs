//! Configuration: every setting is an environment variable, read and checked once at start
//! by [`Settings`] (clap, ADR 0016), each bad value refused with the variable's name;
//! `zippcrm --help` lists them all. [`Config`] is what the server is built from:
//! typed, its secrets held as `SecretString`, which no `Debug` print shows.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::builder::BoolishValueParser;
use reactions::courier::Drain;
use reactions::mail::{MailConfig, MailTransport, TlsMode};
use reactions::runner::ReactorConfig;
use reactions::webhooks::{AddressPolicy, WebhookConfig};
use reactions::whatsapp::WhatsAppConfig;
use secrecy::{ExposeSecret, SecretString};

pub use crate::files::{StorageConfig, DEFAULT_MAX_UPLOAD_BYTES};

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`; `None` starts the embedded PostgreSQL (development only).
    pub database_url: Option<SecretString>,
    /// `BIND_ADDR`, default `127.0.0.1:8088`.
    pub bind_addr: SocketAddr,
    /// `PORTAL_URL`: where links in messages point, default `http://127.0.0.1:8088`.
    pub portal_url: String,
    /// `ZIPPCRM_ENV=production` turns on strict checks (`development`, the default, does not;
    /// any other value is refused).
    pub production: bool,
    /// `JWT_SECRET`. In development without one, a random secret made at first start and
    /// kept beside the data directory (`jwt-secret`), so no secret in the source signs tokens.
    pub jwt_secret: SecretString,
    /// `ZIPPCRM_ADMIN_EMAIL` / `ZIPPCRM_ADMIN_PASSWORD`: first admin, created on first start.
    pub admin: Option<(String, SecretString)>,
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
    pub reactors: ReactorConfig,
    /// Email delivery: SMTP with `SMTP_HOST` (and `SMTP_PORT`, `SMTP_USERNAME`,
    /// `SMTP_PASSWORD`, `SMTP_TLS`, `SMTP_FROM`); without it in development, `.eml` files in
    /// `ZIPPCRM_MAIL_DIR` (default `.zippcrm/mail`).
    pub mail: MailConfig,
    /// Webhook delivery: `ZIPPCRM_WEBHOOK_ATTEMPTS`, `_BACKOFF_MS`, `_LEASE_SECS`,
    /// `_TIMEOUT_MS`, `_DISABLE_AFTER_SECS`, and `ZIPPCRM_WEBHOOK_ALLOW` (internal addresses
    /// endpoints may use all the same).
    pub webhooks: WebhookConfig,
    /// WhatsApp delivery through a BSP: `WHATSAPP_BSP_URL`, `WHATSAPP_TOKEN`,
    /// `WHATSAPP_NUMBER` (all or none), `ZIPPCRM_WHATSAPP_ATTEMPTS`, `_BACKOFF_MS`,
    /// `_LEASE_SECS`. None: nobody can opt into WhatsApp.
    pub whatsapp: Option<WhatsAppConfig>,
}

/// Where the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Environment {
    Development,
    Production,
}

fn environment(value: &str) -> Result<Environment, String> {
    match value.to_ascii_lowercase().as_str() {
        "development" => Ok(Environment::Development),
        "production" => Ok(Environment::Production),
        other => Err(format!(
            "ZIPPCRM_ENV must be 'production' or 'development' (or unset), not '{other}'"
        )),
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

fn header_name(value: &str) -> Result<axum::http::HeaderName, String> {
    value
        .parse()
        .map_err(|_| format!("'{value}' is not a header name"))
}

fn tls_mode(value: &str) -> Result<TlsMode, String> {
    TlsMode::from_name(value).ok_or_else(|| "use tls, starttls or none".to_owned())
}

fn sender(value: &str) -> Result<String, String> {
    if reactions::mail::valid_sender(value) {
        Ok(value.to_owned())
    } else {
        Err("give an address such as 'ZippCRM <no-reply@firm.example>'".to_owned())
    }
}

fn allowed_addresses(value: &str) -> Result<AddressPolicy, String> {
    reactions::webhooks::parse_allow(value)
        .map(|allow| AddressPolicy { allow })
        .map_err(|e| format!("{e:#}"))
}

fn positive(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("give a whole number above 0".to_owned()),
    }
}

/// Every setting of the server, each the environment variable its value is named after
/// (`--db-pool <ZIPPCRM_DB_POOL>`). Read once at start; a value that does not parse is
/// refused with the variable's name.
#[derive(Debug, clap::Parser)]
#[command(name = "zippcrm", version, about = "The ZippCRM server", long_about = None)]
#[command(args_override_self = true, after_help = ENVIRONMENT_HELP)]
#[command(next_help_heading = "Settings (environment variables)")]
pub struct Settings {
    /// `production` turns on the strict checks; `development` (the default) does not.
    #[arg(
        long,
        value_name = "ZIPPCRM_ENV",
        value_parser = environment,
        default_value = "development"
    )]
    environment: Environment,
    /// The PostgreSQL to use; unset, the embedded one starts (development only).
    #[arg(long, value_name = "DATABASE_URL", value_parser = secret)]
    database_url: Option<SecretString>,
    /// The address the server listens on.
    #[arg(long, value_name = "BIND_ADDR", default_value = "127.0.0.1:8088")]
    bind_addr: SocketAddr,
    /// Where links in messages point.
    #[arg(
        long,
        value_name = "PORTAL_URL",
        default_value = "http://127.0.0.1:8088"
    )]
    portal_url: String,
    /// The signing secret of access tokens (production: at least 32 characters).
    #[arg(long, value_name = "JWT_SECRET", value_parser = secret)]
    jwt_secret: Option<SecretString>,
    /// The first admin's email, created on first start (with ZIPPCRM_ADMIN_PASSWORD).
    #[arg(long, value_name = "ZIPPCRM_ADMIN_EMAIL")]
    admin_email: Option<String>,
    /// The first admin's password (production: at least 12 characters).
    #[arg(long, value_name = "ZIPPCRM_ADMIN_PASSWORD", value_parser = secret)]
    admin_password: Option<SecretString>,
    /// Where the embedded PostgreSQL keeps its data.
    #[arg(
        long,
        value_name = "ZIPPCRM_DATA_DIR",
        default_value = ".zippcrm/pgdata"
    )]
    data_dir: String,
    /// How long a mutation waits for its read models, in milliseconds.
    #[arg(long, value_name = "ZIPPCRM_RYW_TIMEOUT_MS", default_value_t = 5_000)]
    ryw_timeout_ms: u64,
    /// Connections in the database pool.
    #[arg(long, value_name = "ZIPPCRM_DB_POOL", value_parser = positive, default_value = "20")]
    db_pool: u32,
    /// `text` or `json`.
    #[arg(
        long,
        value_name = "LOG_FORMAT",
        value_enum,
        ignore_case = true,
        default_value = "text"
    )]
    log_format: LogFormat,
    /// S3-compatible storage for files; unset, ZIPPCRM_FILES_DIR.
    #[arg(long, value_name = "S3_BUCKET")]
    s3_bucket: Option<String>,
    /// The S3 endpoint URL (unset: AWS).
    #[arg(long, value_name = "S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// The S3 access key (with S3_SECRET_KEY).
    #[arg(long, value_name = "S3_ACCESS_KEY", value_parser = secret)]
    s3_access_key: Option<SecretString>,
    /// The S3 secret key.
    #[arg(long, value_name = "S3_SECRET_KEY", value_parser = secret)]
    s3_secret_key: Option<SecretString>,
    /// The S3 region (default us-east-1).
    #[arg(long, value_name = "S3_REGION")]
    s3_region: Option<String>,
    /// The directory files are kept in without S3.
    #[arg(
        long,
        value_name = "ZIPPCRM_FILES_DIR",
        default_value = ".zippcrm/files"
    )]
    files_dir: PathBuf,
    /// The largest upload, in bytes.
    #[arg(long, value_name = "ZIPPCRM_MAX_UPLOAD_BYTES", default_value_t = DEFAULT_MAX_UPLOAD_BYTES)]
    max_upload_bytes: usize,
    /// `true` on exactly one replica: expiry alerts, reminders, due alerts and digests.
    #[arg(long, value_name = "SCHEDULER_ENABLED", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, default_value = "false")]
    scheduler_enabled: bool,
    /// Seconds between the scheduler's passes.
    #[arg(long, value_name = "ZIPPCRM_SCHEDULER_INTERVAL_SECS", value_parser = positive, default_value = "3600")]
    scheduler_interval_secs: u32,
    /// The header a trusted proxy puts the caller's address in (only behind such a proxy).
    #[arg(long, value_name = "ZIPPCRM_CLIENT_IP_HEADER", value_parser = header_name)]
    client_ip_header: Option<axum::http::HeaderName>,
    /// Attempts at an event before a reactor parks it (default 5).
    #[arg(long, value_name = "ZIPPCRM_REACTOR_ATTEMPTS", value_parser = positive)]
    reactor_attempts: Option<u32>,
    /// A reactor's first retry, in milliseconds, doubling (default 1000).
    #[arg(long, value_name = "ZIPPCRM_REACTOR_BACKOFF_MS")]
    reactor_backoff_ms: Option<u64>,
    /// Where emails become `.eml` files without SMTP_HOST (development).
    #[arg(long, value_name = "ZIPPCRM_MAIL_DIR", default_value = ".zippcrm/mail")]
    mail_dir: PathBuf,
    /// The SMTP server emails go through.
    #[arg(long, value_name = "SMTP_HOST")]
    smtp_host: Option<String>,
    /// The SMTP port.
    #[arg(long, value_name = "SMTP_PORT", default_value_t = 587)]
    smtp_port: u16,
    /// With SMTP_PASSWORD, or neither.
    #[arg(long, value_name = "SMTP_USERNAME")]
    smtp_username: Option<String>,
    /// The SMTP password.
    #[arg(long, value_name = "SMTP_PASSWORD", value_parser = secret)]
    smtp_password: Option<SecretString>,
    /// `tls`, `starttls` or `none`; unset, TLS on port 465 and STARTTLS elsewhere.
    #[arg(long, value_name = "SMTP_TLS", value_parser = tls_mode)]
    smtp_tls: Option<TlsMode>,
    /// The sender, such as `ZippCRM <no-reply@firm.example>`.
    #[arg(long, value_name = "SMTP_FROM", value_parser = sender)]
    smtp_from: Option<String>,
    /// Attempts at an email before it fails (default 8).
    #[arg(long, value_name = "ZIPPCRM_MAIL_ATTEMPTS", value_parser = positive)]
    mail_attempts: Option<u32>,
    /// An email's first retry, in milliseconds, doubling up to an hour (default 30 000).
    #[arg(long, value_name = "ZIPPCRM_MAIL_BACKOFF_MS")]
    mail_backoff_ms: Option<u64>,
    /// How long a sender's claim on an email lasts, in seconds (default 300).
    #[arg(long, value_name = "ZIPPCRM_MAIL_LEASE_SECS")]
    mail_lease_secs: Option<u64>,
    /// Attempts at a delivery before it fails (default 8).
    #[arg(long, value_name = "ZIPPCRM_WEBHOOK_ATTEMPTS", value_parser = positive)]
    webhook_attempts: Option<u32>,
    /// A delivery's first retry, in milliseconds, doubling up to an hour (default 30 000).
    #[arg(long, value_name = "ZIPPCRM_WEBHOOK_BACKOFF_MS")]
    webhook_backoff_ms: Option<u64>,
    /// How long a deliverer's claim lasts, in seconds (default 300).
    #[arg(long, value_name = "ZIPPCRM_WEBHOOK_LEASE_SECS")]
    webhook_lease_secs: Option<u64>,
    /// How long a receiver may take to answer, in milliseconds (default 10 000).
    #[arg(long, value_name = "ZIPPCRM_WEBHOOK_TIMEOUT_MS")]
    webhook_timeout_ms: Option<u64>,
    /// An endpoint failing this long without a success is disabled (default 5 days).
    #[arg(long, value_name = "ZIPPCRM_WEBHOOK_DISABLE_AFTER_SECS")]
    webhook_disable_after_secs: Option<u64>,
    /// Comma-separated special-purpose addresses or ranges endpoints may use all the same.
    #[arg(long, value_name = "ZIPPCRM_WEBHOOK_ALLOW", value_parser = allowed_addresses)]
    webhook_allow: Option<AddressPolicy>,
    /// The BSP's messages endpoint (with WHATSAPP_TOKEN and WHATSAPP_NUMBER, or none).
    #[arg(long, value_name = "WHATSAPP_BSP_URL")]
    whatsapp_bsp_url: Option<String>,
    /// The BSP's bearer token.
    #[arg(long, value_name = "WHATSAPP_TOKEN", value_parser = secret)]
    whatsapp_token: Option<SecretString>,
    /// The firm's sending number, E.164.
    #[arg(long, value_name = "WHATSAPP_NUMBER")]
    whatsapp_number: Option<String>,
    /// Attempts at a WhatsApp message before it fails (default 8).
    #[arg(long, value_name = "ZIPPCRM_WHATSAPP_ATTEMPTS", value_parser = positive)]
    whatsapp_attempts: Option<u32>,
    /// A WhatsApp message's first retry, in milliseconds, doubling up to an hour (default 30 000).
    #[arg(long, value_name = "ZIPPCRM_WHATSAPP_BACKOFF_MS")]
    whatsapp_backoff_ms: Option<u64>,
    /// How long a sender's claim on a WhatsApp message lasts, in seconds (default 300).
    #[arg(long, value_name = "ZIPPCRM_WHATSAPP_LEASE_SECS")]
    whatsapp_lease_secs: Option<u64>,
}

/// `drain` with the settings given in place of its own.
fn drain(
    drain: Drain,
    attempts: Option<u32>,
    backoff_ms: Option<u64>,
    lease_secs: Option<u64>,
) -> Drain {
    Drain {
        attempts: attempts.unwrap_or(drain.attempts),
        backoff: backoff_ms.map_or(drain.backoff, Duration::from_millis),
        lease: lease_secs.map_or(drain.lease, Duration::from_secs),
        ..drain
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

const ENVIRONMENT_HELP: &str = "Each setting is read from the environment variable in capitals \
beside it; an empty one counts as unset (as .env.example leaves them). A flag given here \
overrides the variable.";

impl Settings {
    /// The flags the environment gives: one per setting whose variable (its value's name) is
    /// set, trimmed, and not empty. Put before the command line's own arguments, which
    /// override them.
    pub fn environment() -> Vec<String> {
        Self::flags(|variable| std::env::var(variable).ok())
    }

    /// The flags of the variables `lookup` finds set and not empty.
    fn flags(lookup: impl Fn(&str) -> Option<String>) -> Vec<String> {
        <Settings as clap::CommandFactory>::command()
            .get_arguments()
            .filter_map(|arg| {
                let variable = arg.get_value_names()?.first()?.as_str().to_owned();
                let value = lookup(&variable)?.trim().to_owned();
                let long = arg.get_long()?;
                (!value.is_empty()).then(|| format!("--{long}={value}"))
            })
            .collect()
    }

    /// The settings in the environment alone (no command-line arguments).
    pub fn from_env() -> Result<Self> {
        let args = std::iter::once("zippcrm".to_owned()).chain(Self::environment());
        <Settings as clap::Parser>::try_parse_from(args)
            .map_err(|e| anyhow::anyhow!("{}", e.render().to_string().trim_end()))
    }

    /// The configuration these settings make, with the rules between settings (all or
    /// none of a group) and production's checks.
    pub fn config(self) -> Result<Config> {
        let production = self.environment == Environment::Production;
        let jwt_secret = match self.jwt_secret {
            Some(secret) => secret,
            None if production => SecretString::default(),
            None => development_secret(
                std::path::Path::new(&self.data_dir)
                    .parent()
                    .unwrap_or(std::path::Path::new(".")),
            )?
            .into(),
        };
        let admin = match (self.admin_email, self.admin_password) {
            (Some(email), Some(password)) => Some((email, password)),
            (None, None) if !production => Some((
                "admin@zippcrm.local".into(),
                SecretString::from("zippcrm-admin-dev"),
            )),
            (None, None) => None,
            _ => bail!("set both ZIPPCRM_ADMIN_EMAIL and ZIPPCRM_ADMIN_PASSWORD, or neither"),
        };
        let mut mail = MailConfig::directory(self.mail_dir);
        if let Some(host) = self.smtp_host {
            let credentials = match (self.smtp_username, self.smtp_password) {
                (Some(user), Some(password)) => Some((user, password)),
                (None, None) => None,
                _ => bail!("set both SMTP_USERNAME and SMTP_PASSWORD, or neither"),
            };
            mail.transport = MailTransport::Smtp {
                host,
                port: self.smtp_port,
                credentials,
                tls: self
                    .smtp_tls
                    .unwrap_or_else(|| TlsMode::default_for(self.smtp_port)),
            };
        }
        if let Some(from) = self.smtp_from {
            mail.from = from;
        }
        mail.drain = drain(
            mail.drain,
            self.mail_attempts,
            self.mail_backoff_ms,
            self.mail_lease_secs,
        );
        let defaults = WebhookConfig::default();
        let webhooks = WebhookConfig {
            drain: drain(
                defaults.drain,
                self.webhook_attempts,
                self.webhook_backoff_ms,
                self.webhook_lease_secs,
            ),
            timeout: self
                .webhook_timeout_ms
                .map_or(defaults.timeout, Duration::from_millis),
            disable_after: self
                .webhook_disable_after_secs
                .map_or(defaults.disable_after, Duration::from_secs),
            addresses: self.webhook_allow.unwrap_or(defaults.addresses),
        };
        let whatsapp = match (
            self.whatsapp_bsp_url,
            self.whatsapp_token,
            self.whatsapp_number,
        ) {
            (None, None, None) => None,
            (Some(url), Some(token), Some(number)) => {
                let mut whatsapp = WhatsAppConfig::new(&url, token, &number)?;
                whatsapp.drain = drain(
                    whatsapp.drain,
                    self.whatsapp_attempts,
                    self.whatsapp_backoff_ms,
                    self.whatsapp_lease_secs,
                );
                Some(whatsapp)
            }
            _ => {
                bail!("set WHATSAPP_BSP_URL, WHATSAPP_TOKEN and WHATSAPP_NUMBER together, or none")
            }
        };
        let reactors = ReactorConfig::default();
        let config = Config {
            database_url: self.database_url,
            bind_addr: self.bind_addr,
            portal_url: self.portal_url,
            production,
            jwt_secret,
            admin,
            data_dir: self.data_dir,
            read_your_writes_timeout: Duration::from_millis(self.ryw_timeout_ms),
            pool_size: self.db_pool,
            json_logs: self.log_format == LogFormat::Json,
            storage: match self.s3_bucket {
                Some(bucket) => StorageConfig::S3 {
                    endpoint: self.s3_endpoint,
                    bucket,
                    access_key: self.s3_access_key,
                    secret_key: self.s3_secret_key,
                    region: self.s3_region,
                },
                None => StorageConfig::Local(self.files_dir),
            },
            max_upload_bytes: self.max_upload_bytes,
            scheduler_enabled: self.scheduler_enabled,
            scheduler_interval: Duration::from_secs(u64::from(self.scheduler_interval_secs)),
            client_ip_header: self.client_ip_header,
            reactors: ReactorConfig {
                attempts: self.reactor_attempts.unwrap_or(reactors.attempts),
                backoff: self
                    .reactor_backoff_ms
                    .map_or(reactors.backoff, Duration::from_millis),
                ..reactors
            },
            mail,
            webhooks,
            whatsapp,
        };
        config.check()?;
        Ok(config)
    }
}

impl Config {
    /// Reads the environment (every setting, once) and applies the production checks.
    pub fn from_env() -> Result<Self> {
        Settings::from_env()?.config()
    }

    /// The production rules: a real database, a strong secret, a strong admin password.
    pub fn check(&self) -> Result<()> {
        if !self.production {
            return Ok(());
        }
        if self.database_url.is_none() {
            bail!("ZIPPCRM_ENV=production needs DATABASE_URL (the embedded database is for development only)");
        }
        if published_secret(self.jwt_secret.expose_secret()) {
            bail!("JWT_SECRET is a value published in ZippCRM's own files or history (the former development secret, a test's): anyone could sign tokens with it. Make one of your own, e.g. `openssl rand -hex 32`");
        }
        if weak_secret(self.jwt_secret.expose_secret()) {
            bail!("ZIPPCRM_ENV=production needs a JWT_SECRET of at least 32 characters, not one character repeated");
        }
        if let Some((_, password)) = &self.admin {
            if password.expose_secret().chars().count() < 12 {
                bail!("ZIPPCRM_ADMIN_PASSWORD must be at least 12 characters in production");
            }
        }
        if matches!(self.mail.transport, MailTransport::Directory(_)) {
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
mod tests;
