//! What the gateway checks before forwarding and what it forwards: validation at the edge, the body
//! limit, the headers a client may not set, `X-Forwarded-For` trust, rate limits with their
//! headers, and the retry policy (only requests that are safe to repeat).

use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::world::{ADMIN_EMAIL, Cluster, call, call_full};

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_and_query_strings_are_refused_at_the_edge_even_with_cms_core_down() {
    let mut cluster = Cluster::start(|_| {}).await;
    let admin = cluster.login(ADMIN_EMAIL).await;
    let editor = cluster.user(&admin, "editor@mediamesh.test", "EDITOR").await;
    // With cms-core gone, only the gateway can be answering these.
    cluster.cms.kill().await;
    let url = cluster.url("/v1/programs");
    for (body, status, field) in [
        (json!({"title": "", "category": "history", "language": "en"}), 422, "title"),
        (json!({"title": "A", "category": "podcasts", "language": "en"}), 422, "category"),
        (json!({"title": "A", "category": "history", "language": "en", "colour": "red"}), 422, "colour"),
        (json!({"title": "A", "category": "history"}), 422, "body"),
    ] {
        let (got, problem) = call(Method::POST, &url, Some(&editor), Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {problem}");
        assert_eq!(problem["code"], "validation_failed");
        if field != "body" {
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
    }
    let response = crate::world::client()
        .post(&url)
        .bearer_auth(&editor)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    let huge = format!("{{\"title\": \"{}\"}}", "a".repeat(1024 * 1024));
    let response = crate::world::client()
        .post(&url)
        .bearer_auth(&editor)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 413, "bodies over 1 MiB");
    let (status, problem) = call(Method::GET, &cluster.url("/v1/programs/not-a-uuid"), Some(&editor), None).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("id")));
    // Query strings of the list and audit routes are checked with cms-core's own parser.
    let program = "/v1/programs/7f6c1c8e-5b1a-4c57-9a44-0d7f3f0c2b11";
    for (path, token, field) in [
        ("/v1/programs?per_page=500".to_owned(), &editor, "per_page"),
        ("/v1/programs?page=0".to_owned(), &editor, "page"),
        ("/v1/programs?status=lost".to_owned(), &editor, "status"),
        ("/v1/programs?colour=red".to_owned(), &editor, "colour"),
        (format!("{program}/episodes?language=xx-klingon"), &editor, "language"),
        ("/v1/audit?item=nope".to_owned(), &admin, "item"),
        ("/v1/audit?limit=-1".to_owned(), &admin, "limit"),
    ] {
        let (status, problem) = call(Method::GET, &cluster.url(&path), Some(token), None).await;
        assert_eq!(status, 400, "{path}: {problem}");
        assert_eq!(problem["code"], "invalid_parameter", "{path}");
        assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
    }
    // A valid query string is forwarded: cms-core is down, so the answer is the gateway's 503.
    let (status, _) =
        call(Method::GET, &cluster.url("/v1/programs?status=draft&per_page=5"), Some(&editor), None).await;
    assert_eq!(status, 503);
    let (status, _) =
        call(Method::POST, &cluster.url("/v1/auth/login"), None, Some(json!({"email": "nobody", "password": "x"})))
            .await;
    assert_eq!(status, 422, "a login without an email address");
}

/// A login with a wrong password, sent as if forwarded for `forwarded`.
async fn wrong_login(url: &str, email: &str, forwarded: &str) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let body = json!({"email": email, "password": "wrong password"});
    call_full(Method::POST, url, None, Some(body), &[("x-forwarded-for", forwarded)]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn login_is_limited_per_address_and_email_and_forwarded_for_is_trusted_only_from_proxies() {
    let cluster = Cluster::start(|_| {}).await;
    let url = cluster.url("/v1/auth/login");
    // Five wrong passwords are answered by auth; the sixth is refused here, whatever address the
    // client claims to forward for (the peer is not a trusted proxy).
    for (n, forwarded) in ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5"].into_iter().enumerate() {
        let (status, headers, _) = wrong_login(&url, "victim@mediamesh.test", forwarded).await;
        assert_eq!(status, 401, "attempt {n}");
        assert_eq!(headers["ratelimit-policy"], "\"login\";q=5;w=60");
    }
    let (status, headers, problem) = wrong_login(&url, "victim@mediamesh.test", "6.6.6.6").await;
    assert_eq!((status, problem["code"].as_str()), (429, Some("rate_limited")));
    assert!(headers["retry-after"].to_str().expect("ascii").parse::<u64>().is_ok_and(|s| s > 1));
    // Another email from the same address has its own allowance.
    let (status, _, _) = wrong_login(&url, "other@mediamesh.test", "6.6.6.6").await;
    assert_eq!(status, 401);

    // Behind a trusted proxy (the loopback peer here), the forwarded address is the client's.
    let proxied = Cluster::start(|config| config.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]).await;
    let url = proxied.url("/v1/auth/login");
    for n in 0..5 {
        let (status, _, _) = wrong_login(&url, "victim@mediamesh.test", "9.9.9.9").await;
        assert_eq!(status, 401, "attempt {n}");
    }
    let (status, _, _) = wrong_login(&url, "victim@mediamesh.test", "9.9.9.9").await;
    assert_eq!(status, 429, "9.9.9.9 used its five");
    let (status, _, _) = wrong_login(&url, "victim@mediamesh.test", "8.8.8.8").await;
    assert_eq!(status, 401, "8.8.8.8 is another client with its own five");
}

/// A scripted upstream that records each request's head and answers from a list of statuses.
async fn scripted_upstream(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut answers = statuses.into_iter();
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let mut buffer = vec![0u8; 64 * 1024];
            let mut read = 0;
            loop {
                let n = stream.read(&mut buffer[read..]).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                read += n;
                let text = String::from_utf8_lossy(&buffer[..read]).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if read >= head_end + 4 + length {
                        break;
                    }
                }
            }
            log.lock().expect("log").push(String::from_utf8_lossy(&buffer[..read]).to_string());
            let status = answers.next().unwrap_or(200);
            let body = r#"{"ok":true}"#;
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nx-internal-secret: 1\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn only_safe_requests_are_retried_and_client_headers_are_filtered() {
    let cluster = Cluster::start(|_| {}).await;
    let admin = cluster.login(ADMIN_EMAIL).await;
    let editor = cluster.user(&admin, "editor@mediamesh.test", "EDITOR").await;
    let body = json!({"title": "Harbour History Hour", "category": "history", "language": "en"});

    // A POST without an Idempotency-Key is sent once: a 503 is the answer.
    let (upstream, seen) = scripted_upstream(vec![503, 201]).await;
    let gateway = crate::world::Cluster::gateway_to(&cluster, &upstream).await;
    let (status, _, _) = call_full(
        Method::POST,
        &format!("{}/v1/programs", gateway.url()),
        Some(&editor),
        Some(body.clone()),
        &[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-mediamesh-user", "admin"),
            ("forwarded", "for=6.6.6.6"),
            ("x-real-ip", "6.6.6.6"),
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ],
    )
    .await;
    assert_eq!(status, 503);
    let requests = seen.lock().expect("log").clone();
    assert_eq!(requests.len(), 1, "not retried");
    // The trace goes on (same trace id) with the gateway's own span as the parent.
    let head = requests[0].to_lowercase();
    let forwarded = head.lines().find_map(|l| l.strip_prefix("traceparent: ")).expect("a traceparent").trim();
    assert!(forwarded.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{forwarded}");
    assert!(!forwarded.contains("00f067aa0ba902b7"), "a new span id: {forwarded}");
    assert!(head.contains("x-request-id: "), "{head}");

    // With an Idempotency-Key it is retried, with the same key, and the retry's answer is returned.
    let (upstream, seen) = scripted_upstream(vec![503, 201]).await;
    let gateway = crate::world::Cluster::gateway_to(&cluster, &upstream).await;
    let (status, headers, _) = call_full(
        Method::POST,
        &format!("{}/v1/programs", gateway.url()),
        Some(&editor),
        Some(body.clone()),
        &[("idempotency-key", "create-harbour-1"), ("x-forwarded-for", "6.6.6.6"), ("x-mediamesh-user", "admin")],
    )
    .await;
    assert_eq!(status, 201);
    assert!(headers.get("x-internal-secret").is_none(), "upstream headers are filtered too");
    let requests = seen.lock().expect("log").clone();
    assert_eq!(requests.len(), 2, "retried once");
    for request in &requests {
        let head = request.to_lowercase();
        assert!(head.contains("idempotency-key: create-harbour-1"), "{request}");
        assert!(head.contains("authorization: bearer "), "{request}");
        assert!(head.contains("x-forwarded-for: 127.0.0.1"), "the gateway's own view of the client: {request}");
        assert!(!head.contains("6.6.6.6"), "a client cannot speak for the gateway: {request}");
        assert!(!head.contains("x-mediamesh-user"), "{request}");
    }

    // GETs are retried without a key.
    let (upstream, seen) = scripted_upstream(vec![502, 503, 200]).await;
    let gateway = crate::world::Cluster::gateway_to(&cluster, &upstream).await;
    let (status, _) = call(Method::GET, &format!("{}/v1/programs", gateway.url()), Some(&editor), None).await;
    assert_eq!(status, 200);
    assert_eq!(seen.lock().expect("log").len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_post_with_one_idempotency_key_creates_one_item() {
    let cluster = Cluster::start(|_| {}).await;
    let admin = cluster.login(ADMIN_EMAIL).await;
    let editor = cluster.user(&admin, "editor@mediamesh.test", "EDITOR").await;
    let body = json!({"title": "Harbour History Hour", "category": "history", "language": "en"});
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, _, item) = call_full(
            Method::POST,
            &cluster.url("/v1/programs"),
            Some(&editor),
            Some(body.clone()),
            &[("idempotency-key", "harbour-once")],
        )
        .await;
        assert_eq!(status, 201, "a replay answers as the first create did: {item}");
        ids.push(item["id"].as_str().expect("id").to_owned());
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let (_, page) = call(Method::GET, &cluster.url("/v1/programs"), Some(&editor), None).await;
    assert_eq!(page["total"], 1, "{page}");
}
