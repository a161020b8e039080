//! The composition root: database, migrations, seeds, projection workers and HTTP.

use std::sync::Arc;

use anyhow::{Context as _, Result};
use commands::CommandBus;
use projections::runner::{self, RunnerConfig};
use projections::Notices;
use secrecy::ExposeSecret;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::jwt::JwtKeys;
use crate::auth::password;
use crate::config::Config;
use crate::graphql;
use crate::http::{self, Http};
use crate::state::AppState;

/// A built server, ready to serve.
#[derive(Debug)]
pub struct Server {
    state: AppState,
    shutdown: watch::Sender<bool>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

/// A pooled connection idle for longer than this is pinged before it is handed out.
const PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Connects a pool with the service's settings. sqlx pings a connection when it goes back
/// to the pool, so one handed out was alive at its last use; what can kill it since is
/// PostgreSQL going away while it sat idle, and a restart takes longer than
/// [`PING_AFTER_IDLE`]. So only connections idle that long are pinged before use (a dead one
/// is replaced, and no request fails on it): pinging before every use was an extra round
/// trip per query on the read path (ADR 0006), where connections are idle for microseconds.
pub async fn connect(url: &str, size: u32) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(size)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(connection).await?;
                }
                Ok(true)
            })
        })
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await
        .context("could not connect to the database (check DATABASE_URL)")
}

impl Server {
    /// Migrates, seeds, creates the first admin and starts the projection workers.
    pub async fn build(config: &Config, database_url: &str) -> Result<Self> {
        let pool = connect(database_url, config.pool_size).await?;
        projections::MIGRATOR
            .run(&pool)
            .await
            .context("running migrations")?;
        let notices = Notices::new();
        let (shutdown, shutdown_rx) = watch::channel(false);
        // Listening before anything is appended (the seeds below), so no append goes unheard.
        let listening = notices
            .clone()
            .listen(pool.clone())
            .await
            .context("listening for notifications")?;
        let mut background = vec![tokio::spawn(listening)];
        let all = projections::all();
        runner::register(&pool, &all).await?;
        background.push(tokio::spawn(runner::run(
            pool.clone(),
            all,
            notices.clone(),
            RunnerConfig::default(),
            shutdown_rx,
        )));

        let (sessions, follow_sessions) = crate::auth::sessions::Sessions::start(&pool, &notices)
            .await
            .context("loading token versions")?;
        background.push(tokio::spawn(follow_sessions));
        let bus = Arc::new(CommandBus::new(pool.clone()));
        bus.seed_templates()
            .await
            .map_err(|e| anyhow::anyhow!("seeding workflow templates: {e}"))?;
        bus.seed_departments()
            .await
            .map_err(|e| anyhow::anyhow!("seeding departments: {e}"))?;
        if let Some((email, admin_password)) = &config.admin {
            let hash = password::hash(admin_password.expose_secret().to_owned())
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            if bus
                .ensure_admin(email, &hash)
                .await
                .map_err(|e| anyhow::anyhow!("creating the first admin: {e}"))?
            {
                tracing::info!(%email, "created the first admin user");
            }
        }
        // Ready means the seeds are readable: wait (bounded) until the templates and users
        // read models have folded everything appended so far. Without this, a worker held
        // at the horizon by another database's transaction resumes only on its poll, and a
        // first `workflowTemplates` query could find none.
        if let Some(target) = projections::wait::log_head(&pool).await? {
            let seeded = projections::wait::wait_for(
                &pool,
                &notices,
                &[projections::templates::NAME, projections::users::NAME],
                target,
                std::time::Duration::from_secs(30),
            )
            .await?;
            if !seeded {
                tracing::warn!("templates and users read models still catching up at start-up");
            }
        }
        let reactors: Vec<_> = reactions::all(&bus, &config.portal_url);
        reactions::runner::register(&pool, &reactors).await?;
        background.push(tokio::spawn(reactions::runner::run(
            pool.clone(),
            reactors.clone(),
            notices.clone(),
            config.reactors,
            shutdown.subscribe(),
        )));
        let mailer = reactions::mail::Mailer::new(config.mail.clone(), &config.portal_url)
            .context("setting up email delivery (check SMTP_* and ZIPPCRM_MAIL_DIR)")?;
        background.push(tokio::spawn(mailer.run(pool.clone(), shutdown.subscribe())));
        let deliverer = reactions::webhooks::Deliverer::new(
            config.webhooks.clone(),
            pool.clone(),
            bus.clone(),
        )?;
        background.push(tokio::spawn(deliverer.run(shutdown.subscribe())));
        if let Some(whatsapp) = &config.whatsapp {
            let sender = reactions::whatsapp::WhatsAppSender::new(whatsapp.clone(), pool.clone())?;
            background.push(tokio::spawn(sender.run(shutdown.subscribe())));
        }
        let files = crate::files::FileStore::open(&config.storage, config.max_upload_bytes)
            .context("opening the file store (check ZIPPCRM_FILES_DIR or S3_*)")?;
        if config.scheduler_enabled {
            background.push(tokio::spawn(reactions::scheduler::run(
                bus.clone(),
                pool.clone(),
                config.scheduler_interval,
            )));
        }
        let state = AppState {
            pool,
            bus,
            notices,
            jwt: JwtKeys::new(config.jwt_secret.expose_secret()),
            sessions,
            ryw_timeout: config.read_your_writes_timeout,
            files,
            public_introspection: !config.production,
            client_ip_header: config.client_ip_header.clone(),
            portal_url: config.portal_url.clone(),
            reactors: reactors.into(),
            webhook_addresses: config.webhooks.addresses.clone(),
            whatsapp_enabled: config.whatsapp.is_some(),
        };
        Ok(Self {
            state,
            shutdown,
            background,
        })
    }

    /// Shared state (tests use its pool).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves on `listener` until `signal` resolves, then stops the workers.
    pub async fn serve(
        self,
        listener: TcpListener,
        signal: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let app = http::router(Http {
            served: graphql::Served::new(self.state.clone()),
            state: self.state.clone(),
        })
        .layer(tower_http::trace::TraceLayer::new_for_http());
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(signal)
        .await?;
        let _ = self.shutdown.send(true);
        for task in &self.background {
            task.abort();
        }
        // Wait until every aborted task is dropped, so no worker keeps a transaction (and the
        // checkpoint lock it holds) open after the server has stopped.
        for task in self.background {
            let _ = task.await;
        }
        self.state.pool.close().await;
        Ok(())
    }
}
