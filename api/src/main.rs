//! `zippcrm`: the ZippCRM server.
//!
//! `zippcrm` serves the API (see README); `zippcrm print-schema` prints the GraphQL SDL.

use anyhow::Result;
use api::{config::Config, telemetry, Server};

/// mimalloc returns freed pages to the system; glibc's malloc kept the freed heap of a
/// catch-up fold (ADR 0006).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    if std::env::args().nth(1).as_deref() == Some("print-schema") {
        print!("{}", api::graphql::sdl());
        return Ok(());
    }
    let config = Config::from_env()?;
    telemetry::init(config.json_logs);
    if std::env::var_os("JWT_SECRET").is_none() {
        tracing::warn!("JWT_SECRET is not set: tokens are signed with the random development secret kept in jwt-secret beside the data directory (production refuses to start without JWT_SECRET)");
    }
    let mut embedded = None;
    let url = match &config.database_url {
        Some(url) => url.clone(),
        None => {
            let pg = devdb::LocalPostgres::start(
                std::path::Path::new(&config.data_dir),
                devdb::Keep::Data,
            )?;
            let url = pg.url("postgres");
            tracing::info!(data_dir = %pg.data_dir().display(), %url, "started the embedded PostgreSQL (set DATABASE_URL to use your own)");
            embedded = Some(pg);
            url
        }
    };
    let server = Server::build(&config, &url).await?;
    let listener = tokio::net::TcpListener::bind(config.bind_addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "ZippCRM listening: GraphQL at /graphql, GraphiQL at /graphiql");
    let result = server.serve(listener, shutdown_signal()).await;
    if let Some(mut pg) = embedded {
        tracing::info!("stopping the embedded PostgreSQL");
        pg.stop();
    }
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
