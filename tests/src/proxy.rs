//! A TCP proxy between a test server and PostgreSQL, to do to the server what a PostgreSQL
//! restart or a network fault does: [`DbProxy::cut`] drops every connection and closes new
//! ones at once until [`DbProxy::restore`]; [`DbProxy::break_on`] breaks the connection that
//! next sends a marker, before the database sees it or after the database has answered it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// When a connection is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// Before the database receives the bytes holding the marker.
    BeforeSent,
    /// After the database has executed them, committed and answered (`ReadyForQuery`),
    /// before the answer reaches the server: it cannot tell what happened.
    AfterAnswered,
}

#[derive(Debug, Default)]
struct Faults {
    cut: AtomicBool,
    /// The marker to break on, and when.
    pending: Mutex<Option<(Vec<u8>, Break)>>,
}

/// The proxy; it stops when dropped.
#[derive(Debug)]
pub struct DbProxy {
    /// The database URL through the proxy.
    pub url: String,
    faults: Arc<Faults>,
    /// Bumped by every cut: each connection ends when it changes.
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

/// Where the database listens.
#[derive(Debug, Clone)]
enum Upstream {
    Unix(std::path::PathBuf),
    Tcp(String),
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl Upstream {
    async fn connect(&self) -> std::io::Result<Box<dyn Stream>> {
        Ok(match self {
            Upstream::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
            Upstream::Tcp(address) => Box::new(tokio::net::TcpStream::connect(address).await?),
        })
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let escaped = bytes
            .get(at + 1..at + 3)
            .filter(|_| bytes[at] == b'%')
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            at += 3;
            continue;
        }
        out.push(bytes[at]);
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl DbProxy {
    /// Starts a proxy to the database of `database_url` (`postgres://user@host:port/db`,
    /// where the host may be a socket directory, percent-encoded).
    pub async fn start(database_url: &str) -> DbProxy {
        let rest = database_url
            .strip_prefix("postgres://")
            .or_else(|| database_url.strip_prefix("postgresql://"))
            .expect("a postgres:// URL");
        let (authority, path) = rest.split_once('/').expect("a database in the URL");
        let (user, host_port) = authority.rsplit_once('@').unwrap_or(("", authority));
        let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "5432"));
        let host = percent_decode(host);
        let upstream = if host.starts_with('/') {
            Upstream::Unix(std::path::Path::new(&host).join(format!(".s.PGSQL.{port}")))
        } else {
            Upstream::Tcp(format!("{host}:{port}"))
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let local = listener.local_addr().expect("address");
        let at = if user.is_empty() {
            String::new()
        } else {
            format!("{user}@")
        };
        let url = format!("postgres://{at}{local}/{path}");
        let faults = Arc::new(Faults::default());
        let (generation, _) = watch::channel(0u64);
        let task = tokio::spawn(serve(
            listener,
            upstream,
            faults.clone(),
            generation.clone(),
        ));
        DbProxy {
            url,
            faults,
            generation,
            task,
        }
    }

    /// Drops every connection, and closes each new one at once, until [`Self::restore`].
    pub fn cut(&self) {
        self.faults.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|n| *n += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.faults.cut.store(false, Ordering::SeqCst);
    }

    /// Breaks the connection whose next bytes to the database hold `marker`, `when` says.
    pub fn break_on(&self, marker: &str, when: Break) {
        let mut pending = self.faults.pending.lock().expect("faults");
        *pending = Some((marker.as_bytes().to_vec(), when));
    }

    /// Whether the fault set by [`Self::break_on`] has happened.
    pub fn broke(&self) -> bool {
        self.faults.pending.lock().expect("faults").is_none()
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.generation.send_modify(|n| *n += 1);
    }
}

async fn serve(
    listener: TcpListener,
    upstream: Upstream,
    faults: Arc<Faults>,
    generation: watch::Sender<u64>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        // Subscribed before the cut flag is read: a cut either is seen here or ends the
        // connection later (`cut` sets the flag before it bumps the generation).
        let ended = generation.subscribe();
        if faults.cut.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let upstream = upstream.clone();
        let faults = faults.clone();
        tokio::spawn(async move {
            let Ok(server) = upstream.connect().await else {
                return;
            };
            relay(client, server, faults, ended).await;
        });
    }
}

/// Whether `haystack` holds `needle`.
fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// `ReadyForQuery`: the database has finished a request, its transaction ended.
const READY_FOR_QUERY: &[u8] = b"Z\0\0\0\x05";

/// Copies bytes both ways until either side closes, a cut, or the fault.
async fn relay(
    client: tokio::net::TcpStream,
    server: Box<dyn Stream>,
    faults: Arc<Faults>,
    mut ended: watch::Receiver<u64>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = tokio::io::split(server);
    // Set when this connection took the fault `AfterAnswered`: the answers it waits for.
    let (armed_tx, armed_rx) = watch::channel(false);
    let upward = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = client_read
                .read(&mut buffer)
                .await
                .ok()
                .filter(|n| *n > 0)?;
            let chunk = &buffer[..n];
            let fault = {
                let mut pending = faults.pending.lock().ok()?;
                match pending.as_ref() {
                    Some((marker, when)) if holds(chunk, marker) => {
                        let when = *when;
                        *pending = None;
                        Some(when)
                    }
                    _ => None,
                }
            };
            match fault {
                Some(Break::BeforeSent) => return None::<()>,
                Some(Break::AfterAnswered) => {
                    let _ = armed_tx.send(true);
                }
                None => {}
            }
            server_write.write_all(chunk).await.ok()?;
        }
    };
    let downward = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = server_read
                .read(&mut buffer)
                .await
                .ok()
                .filter(|n| *n > 0)?;
            let chunk = &buffer[..n];
            if *armed_rx.borrow() && holds(chunk, READY_FOR_QUERY) {
                return None::<()>;
            }
            client_write.write_all(chunk).await.ok()?;
        }
    };
    tokio::select! {
        _ = upward => {}
        _ = downward => {}
        _ = ended.changed() => {}
    }
}
