//! `zippcrm`: the ZippCRM server.
//!
//! `zippcrm` serves the API (see README); `zippcrm print-schema` prints the GraphQL SDL;
//! `zippcrm --help` lists every setting (each an environment variable).

use anyhow::Result;
use api::config::Settings;
use api::{telemetry, Server};
use clap::Parser;
use secrecy::ExposeSecret;

/// The command line: the settings (from the environment, or as flags) and what to do.
#[derive(Debug, Parser)]
#[command(name = "zippcrm", version, about = "The ZippCRM server")]
#[command(args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Print the GraphQL schema (SDL) and exit.
    PrintSchema,
}

/// mimalloc returns freed pages to the system; glibc's malloc kept the freed heap of a
/// catch-up fold (ADR 0006).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    // The environment's settings first, so that a flag on the command line overrides them.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let given = args.split_off(1.min(args.len()));
    args.extend(Settings::environment().into_iter().map(Into::into));
    args.extend(given);
    let cli = Cli::parse_from(args);
    if let Some(Command::PrintSchema) = cli.command {
        print!("{}", api::graphql::sdl());
        return Ok(());
    }
    let config = cli.settings.config()?;
    telemetry::init(config.json_logs);
    if std::env::var_os("JWT_SECRET").is_none() {
        tracing::warn!("JWT_SECRET is not set: tokens are signed with the random development secret kept in jwt-secret beside the data directory (production refuses to start without JWT_SECRET)");
    }
    let mut embedded = None;
    let url = match &config.database_url {
        Some(url) => url.expose_secret().to_owned(),
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
