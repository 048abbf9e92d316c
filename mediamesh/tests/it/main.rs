//! `mediamesh up --demo` as a user runs it (the built binary, embedded defaults, no servers): the
//! demo catalog becomes searchable; an ADMIN logs in through gateway-cms, creates and publishes a
//! program, and finds it through gateway-public; SIGTERM stops every service cleanly.

#[cfg(feature = "integration")]
mod e2e;
#[cfg(feature = "integration")]
mod pm2;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use platform::testing::free_port;
use serde_json::{Value, json};

/// Logs in through gateway-cms at `editors`; the access token.
pub async fn login(client: &reqwest::Client, editors: &str, email: &str) -> String {
    let answer = client
        .post(format!("{editors}/v1/auth/login"))
        .json(&json!({"email": email, "password": "a long passphrase"}))
        .send()
        .await
        .expect("login");
    let body: Value = answer.json().await.expect("json");
    body["access_token"].as_str().unwrap_or_else(|| panic!("no token: {body}")).to_owned()
}

/// Creates a music program through gateway-cms and publishes it; its id.
pub async fn publish_program(client: &reqwest::Client, editors: &str, token: &str, title: &str) -> String {
    let created = client
        .post(format!("{editors}/v1/programs"))
        .bearer_auth(token)
        .json(&json!({"title": title, "category": "music", "language": "en"}))
        .send()
        .await
        .expect("create");
    let program: Value = created.json().await.expect("json");
    let id = program["id"].as_str().unwrap_or_else(|| panic!("not created: {program}")).to_owned();
    // A 503 says to retry after `Retry-After` (an upstream call cut short on a loaded machine, as
    // CI's is with every suite running): a client does, and publishing twice is harmless.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let published = client
            .post(format!("{editors}/v1/programs/{id}/publish"))
            .bearer_auth(token)
            .send()
            .await
            .expect("publish");
        let status = published.status();
        let retry_after = published.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let body = published.text().await.unwrap_or_default();
        match (status.as_u16(), retry_after) {
            (200, _) => return id,
            (503, Some(seconds)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(seconds.min(5))).await;
            }
            _ => panic!("publish answered {status}: {body}"),
        }
    }
}

struct Up {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Up {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

async fn wait_for(what: &str, up: &Up, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}\n{}", up.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_with_the_demo_serves_discovery_and_editing_end_to_end() {
    let dir = tempfile::tempdir().expect("dir");
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let addr = |n: usize| format!("127.0.0.1:{}", ports[n]);
    let log = dir.path().join("up.log");
    let child = Command::new(env!("CARGO_BIN_EXE_mediamesh"))
        .arg("up")
        .arg("--demo")
        .args(["--data-dir", &dir.path().join("data").display().to_string()])
        .args(["--public-addr", &addr(0), "--cms-gateway-addr", &addr(1), "--cms-addr", &addr(2)])
        .args(["--auth-addr", &addr(3), "--indexer-addr", &addr(4)])
        .env("MEDIAMESH_ADMIN_EMAIL", "admin@mediamesh.test")
        .env("MEDIAMESH_ADMIN_PASSWORD", "a long passphrase")
        .env_remove("MEDIAMESH_KAFKA_BROKERS")
        .env_remove("MEDIAMESH_REDIS_URL")
        .env_remove("MEDIAMESH_DATABASE_URL")
        .env_remove("MEDIAMESH_DATA_DIR")
        .stdout(std::fs::File::create(&log).expect("log"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("mediamesh");
    let up = Up { child, log };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    let public = format!("http://{}", addr(0));
    let editors = format!("http://{}", addr(1));

    // The demo catalog: 40 programs and 240 episodes in five languages.
    wait_for("the demo catalog", &up, async || {
        let Ok(answer) = client.get(format!("{public}/v1/browse?per_page=1")).send().await else { return false };
        let body: Value = answer.json().await.unwrap_or_default();
        body["total"] == 280
    })
    .await;
    let languages: Value =
        client.get(format!("{public}/v1/languages")).send().await.expect("languages").json().await.expect("json");
    assert_eq!(languages["values"].as_array().map(Vec::len), Some(5), "{languages}");

    // An editor's change reaches discovery.
    let token = login(&client, &editors, "admin@mediamesh.test").await;
    let id = publish_program(&client, &editors, &token, "Zanzibar nights").await;
    wait_for("the new program in search", &up, async || {
        let Ok(answer) = client.get(format!("{public}/v1/search?q=zanzibar")).send().await else { return false };
        let body: Value = answer.json().await.unwrap_or_default();
        body["hits"][0]["id"] == id.as_str()
    })
    .await;

    // SIGTERM: every service stops, and the process exits cleanly.
    let pid = up.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(killed.success());
    let mut up = up;
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = up.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "did not stop\n{}", up.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}\n{}", up.log());
    let log = up.log();
    for service in ["auth stopped", "cms-core stopped", "gateway-public stopped", "gateway-cms stopped"] {
        assert!(log.contains(service), "{service} missing from\n{log}");
    }
}

/// An OTLP/HTTP receiver: every request body sent to it, by path.
async fn otlp_receiver() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let log = std::sync::Arc::clone(&log);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()))
                        .unwrap_or(0);
                    if buffer.len() < end + 4 + length {
                        continue;
                    }
                    let path = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
                    let body = buffer[end + 4..end + 4 + length].to_vec();
                    log.lock().expect("log").push((path, body));
                    buffer.drain(..end + 4 + length);
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, received)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn spans_are_exported_over_otlp_as_children_of_the_callers_trace() {
    let (otlp_port, received) = otlp_receiver().await;
    let dir = tempfile::tempdir().expect("dir");
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_mediamesh"))
        .args(["gateway-public", "--addr", &addr, "--index", &dir.path().join("index").display().to_string()])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{otlp_port}"))
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("MEDIAMESH_AUTH_URL")
        .env_remove("MEDIAMESH_REDIS_URL")
        .stdout(std::fs::File::create(dir.path().join("log")).expect("log"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("mediamesh");
    let up = Up { child, log: dir.path().join("log") };
    let client = reqwest::Client::new();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let answer = loop {
        let sent = client
            .get(format!("http://{addr}/v1/search?q=harbour"))
            .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
            .send()
            .await;
        if let Ok(answer) = sent {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let traceparent = answer.headers()["traceparent"].to_str().expect("ascii").to_owned();
    assert!(traceparent.starts_with(&format!("00-{trace_id}-")), "{traceparent}");
    let span_id = traceparent.split('-').nth(2).expect("span id").to_owned();
    // The exported spans carry the caller's trace id and, as this hop, the span id passed on.
    wait_for("the request's span at the OTLP endpoint", &up, async || {
        received.lock().expect("log").iter().any(|(path, body)| {
            path == "/v1/traces"
                && body.windows(16).any(|w| w == hex_bytes(trace_id).as_slice())
                && body.windows(8).any(|w| w == hex_bytes(&span_id).as_slice())
        })
    })
    .await;
}
