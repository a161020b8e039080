//! A small SMTP server for the tests: it speaks enough of RFC 5321 for a real client (EHLO,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps what it accepted, deduplicates on
//! `Message-ID` as a careful receiving server does, and can be told to refuse every
//! message with a given reply, or to stop listening and come back on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body as sent (dot-unstuffed).
    pub data: String,
    pub message_id: Option<String>,
}

impl Received {
    /// The value of header `name` (first line only).
    pub fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.data
            .lines()
            .take_while(|l| !l.is_empty())
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim())
    }

    /// The data with quoted-printable soft breaks and escapes undone (the text parts as a
    /// reader sees them).
    pub fn text(&self) -> String {
        let joined = self.data.replace("=\r\n", "").replace("=\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut at = 0;
        while at < bytes.len() {
            let hex = bytes
                .get(at + 1..at + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[at], hex) {
                (b'=', Some(byte)) => {
                    out.push(byte);
                    at += 3;
                }
                (byte, _) => {
                    out.push(byte);
                    at += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Accepted, one per Message-ID.
    messages: Vec<Received>,
    /// Every DATA accepted, repeats included.
    deliveries: usize,
    /// Reply to MAIL FROM instead of 250.
    refuse: Option<String>,
}

/// The running server.
#[derive(Debug)]
pub struct SmtpServer {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: Option<JoinHandle<()>>,
}

impl SmtpServer {
    /// Listens on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("smtp bind");
        let addr = listener.local_addr().expect("smtp addr");
        let inner = Arc::new(Mutex::new(Inner::default()));
        let task = Some(tokio::spawn(serve(listener, inner.clone())));
        SmtpServer { addr, inner, task }
    }

    /// Stops listening (connections are refused until [`Self::resume`]).
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same port, keeping what was received.
    pub async fn resume(&mut self) {
        let listener = TcpListener::bind(self.addr).await.expect("smtp rebind");
        self.task = Some(tokio::spawn(serve(listener, self.inner.clone())));
    }

    /// Answers every MAIL FROM with `reply` (`"451 4.3.0 try later"`), or accepts again.
    pub fn refuse(&self, reply: Option<&str>) {
        self.lock().refuse = reply.map(str::to_owned);
    }

    /// The messages accepted, one per Message-ID, in order.
    pub fn messages(&self) -> Vec<Received> {
        self.lock().messages.clone()
    }

    /// How many times a message was accepted, repeats of a Message-ID included.
    pub fn deliveries(&self) -> usize {
        self.lock().deliveries
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(listener: TcpListener, inner: Arc<Mutex<Inner>>) {
    let mut sessions = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        sessions.spawn(session(stream, inner.clone()));
    }
}

async fn reply(write: &mut tokio::net::tcp::OwnedWriteHalf, text: String) -> bool {
    write
        .write_all(format!("{text}\r\n").as_bytes())
        .await
        .is_ok()
}

async fn session(stream: TcpStream, inner: Arc<Mutex<Inner>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    if !reply(&mut write, "220 test.example ESMTP".into()).await {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-test.example\r\n250-8BITMIME\r\n250 SMTPUTF8".to_owned()
        } else if upper.starts_with("MAIL FROM:") {
            let refusal = inner.lock().map(|i| i.refuse.clone()).unwrap_or_default();
            match refusal {
                Some(refusal) => refusal,
                None => {
                    from = line[10..].trim().to_owned();
                    to.clear();
                    "250 2.1.0 ok".to_owned()
                }
            }
        } else if upper.starts_with("RCPT TO:") {
            to.push(line[8..].trim().to_owned());
            "250 2.1.5 ok".to_owned()
        } else if upper == "DATA" {
            if !reply(&mut write, "354 go ahead".into()).await {
                return;
            }
            let mut data = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "." {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push('\n');
            }
            let mut received = Received {
                from: from.clone(),
                to: to.clone(),
                data,
                message_id: None,
            };
            received.message_id = received.header("Message-ID").map(str::to_owned);
            if let Ok(mut inner) = inner.lock() {
                inner.deliveries += 1;
                let repeat = received.message_id.is_some()
                    && inner
                        .messages
                        .iter()
                        .any(|m| m.message_id == received.message_id);
                if !repeat {
                    inner.messages.push(received);
                }
            }
            "250 2.0.0 queued".to_owned()
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 ok".to_owned()
        } else if upper == "QUIT" {
            reply(&mut write, "221 2.0.0 bye".into()).await;
            return;
        } else {
            "502 5.5.2 not implemented".to_owned()
        };
        if !reply(&mut write, answer).await {
            return;
        }
    }
}
