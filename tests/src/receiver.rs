//! A small HTTP receiver for the tests: it accepts any POST, keeps its path, headers and
//! body, and answers with the status it was told (200 unless told otherwise), so webhook
//! and WhatsApp deliveries can be checked on a real socket.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A request the receiver got.
#[derive(Debug, Clone)]
pub struct Request {
    /// When it arrived.
    pub at: chrono::DateTime<chrono::Utc>,
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Request {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Debug)]
struct Shared {
    status: StatusCode,
    /// The body of the answers; none: a word that says whether it went well.
    body: Option<String>,
    requests: Vec<Request>,
}

/// The receiver; it stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: JoinHandle<()>,
}

async fn receive(
    State(shared): State<Arc<Mutex<Shared>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let mut shared = shared.lock().expect("receiver state");
    shared.requests.push(Request {
        at: chrono::Utc::now(),
        path: uri.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let status = shared.status;
    let body = shared.body.clone().unwrap_or_else(|| {
        if status.is_success() {
            "thanks".into()
        } else {
            "receiver is down for maintenance".into()
        }
    });
    (status, body)
}

impl Receiver {
    /// Listens on a free loopback port.
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let shared = Arc::new(Mutex::new(Shared {
            status: StatusCode::OK,
            body: None,
            requests: Vec::new(),
        }));
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, shared, task }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers every request from now on with `status`.
    pub fn answer(&self, status: u16) {
        let mut shared = self.shared.lock().expect("receiver state");
        shared.status = StatusCode::from_u16(status).expect("status");
        shared.body = None;
    }

    /// Answers every request from now on with `status` and `body`.
    pub fn answer_with(&self, status: u16, body: &str) {
        let mut shared = self.shared.lock().expect("receiver state");
        shared.status = StatusCode::from_u16(status).expect("status");
        shared.body = Some(body.to_owned());
    }

    /// What arrived so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().expect("receiver state").requests.clone()
    }

    /// What arrived at `path`.
    pub fn at(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
