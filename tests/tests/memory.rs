//! Oversized bodies are refused before they are buffered, and the server's memory stays
//! flat. Its own test binary: nothing else runs in the process while it measures the
//! resident set (server and client share it).

use std::time::Duration;

use serde_json::json;
use tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MIB: usize = 1024 * 1024;

/// Resident memory of this process, in bytes.
fn resident() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// Sends `head` and then up to `body` bytes of `filler`, stopping when the server stops
/// reading; returns the status of the server's answer.
async fn send(app: &TestApp, head: String, body: usize, filler: u8) -> u16 {
    let address = app.address.trim_start_matches("http://");
    let stream = TcpStream::connect(address).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![filler; 64 * 1024];
        let mut sent = 0;
        while sent < body {
            let n = chunk.len().min(body - sent);
            writer.write_all(&chunk[..n]).await?;
            sent += n;
        }
        writer.flush().await
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    // The status line arrives whatever becomes of the rest of the body.
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(30), reader.read(&mut buffer))
            .await
            .expect("an answer within 30 s")
            .expect("read");
        assert!(n > 0, "connection closed without an answer");
        answer.extend_from_slice(&buffer[..n]);
    }
    writing.abort();
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status")
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_they_are_buffered() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let host = app.address.trim_start_matches("http://").to_owned();

    // Declared too large: answered from the head alone, before a byte of the body.
    let head = format!("POST /graphql HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", 64 * MIB);
    assert_eq!(send(&app, head, 0, b' ').await, 413);

    // Not declared (chunked), 64 MiB of JSON whitespace: cut off at the limit.
    let before = resident();
    let chunk = format!("{:x}\r\n{}\r\n", MIB, " ".repeat(MIB));
    let head = format!("POST /graphql HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n");
    let chunked = {
        let address = app.address.trim_start_matches("http://").to_owned();
        let stream = TcpStream::connect(&address).await.expect("connect");
        let (mut reader, mut writer) = stream.into_split();
        let writing = tokio::spawn(async move {
            writer.write_all(head.as_bytes()).await?;
            for _ in 0..64 {
                writer.write_all(chunk.as_bytes()).await?;
            }
            writer.write_all(b"0\r\n\r\n").await
        });
        let mut answer = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(30), reader.read(&mut answer))
            .await
            .expect("an answer within 30 s")
            .expect("read");
        writing.abort();
        String::from_utf8_lossy(&answer[..n]).to_string()
    };
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    let grown = resident().saturating_sub(before);
    assert!(
        grown < 16 * MIB,
        "the server's memory grew by {} MiB",
        grown / MIB
    );

    // GraphQL multipart (the spec's file uploads) is not offered at all.
    let head = format!("POST /graphql HTTP/1.1\r\nhost: {host}\r\ncontent-type: multipart/form-data; boundary=x\r\ncontent-length: {}\r\n\r\n", 32 * MIB);
    assert_eq!(send(&app, head, 0, b'x').await, 415);

    // An upload streams to storage and is cut off at its limit: a 32 MiB part.
    let before = resident();
    let lead = capture_lead(&app, &admin, "Acme Finance", "asha@acme.example").await;
    win_lead(&app, &admin, &lead).await;
    let (_, project) = convert_with_project(&app, &admin, &lead, "asha@acme.example").await;
    let request = raise_request(&app, &admin, &project, "ONBOARDING", "engagement_letter").await;
    let part_head = "--x\r\ncontent-disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\ncontent-type: text/csv\r\n\r\n";
    let length = part_head.len() + 32 * MIB + "\r\n--x--\r\n".len();
    let head = format!(
        "POST /files/requests/{request} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {admin}\r\ncontent-type: multipart/form-data; boundary=x\r\ncontent-length: {length}\r\n\r\n{part_head}"
    );
    assert_eq!(send(&app, head, 32 * MIB, b'a').await, 413);
    let grown = resident().saturating_sub(before);
    assert!(
        grown < 16 * MIB,
        "the server's memory grew by {} MiB",
        grown / MIB
    );
    // Nothing was stored of it.
    let body = app
        .ok(Some(&admin), "{ reviewQueue { id } }", json!({}))
        .await;
    assert_eq!(body["reviewQueue"].as_array().map(Vec::len), Some(0));
    app.stop().await;
}
