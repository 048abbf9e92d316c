//! The auth HTTP API over a real socket.

use std::sync::Arc;

use auth::{AuthApi, AuthConfig, AuthService};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn start() -> (String, reqwest::Client, tempfile::TempDir, tokio::sync::oneshot::Sender<()>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let service = AuthService::open(&url, AuthConfig::default()).await.expect("open");
    service.bootstrap_admin("admin@example.com", "correct horse battery").await.expect("bootstrap");
    let api = AuthApi::new(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(platform::http::serve(listener, move |request| Arc::clone(&api).handle(request), async move {
        let _ = stopped.await;
    }));
    (base, reqwest::Client::new(), dir, stop)
}

async fn call(client: &reqwest::Client, request: reqwest::RequestBuilder) -> (StatusCode, String, Value) {
    let response = client.execute(request.build().expect("request")).await.expect("send");
    let status = response.status();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, content_type, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn login_refresh_users_and_the_key_set() {
    let (base, client, _dir, _stop) = start().await;
    let login = |email: &str, password: &str| {
        client.post(format!("{base}/v1/auth/login")).json(&json!({"email": email, "password": password}))
    };
    let (status, _, tokens) = call(&client, login("admin@example.com", "correct horse battery")).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let admin = tokens["access_token"].as_str().expect("access token").to_owned();

    let (status, _, me) = call(&client, client.get(format!("{base}/v1/auth/me")).bearer_auth(&admin)).await;
    assert_eq!((status, me["role"].as_str()), (StatusCode::OK, Some("ADMIN")));

    let create = client
        .post(format!("{base}/v1/users"))
        .bearer_auth(&admin)
        .json(&json!({"email": "ed@example.com", "password": "another long one", "role": "EDITOR"}));
    let (status, _, editor) = call(&client, create).await;
    assert_eq!(status, StatusCode::CREATED, "{editor}");
    let (_, _, ed_tokens) = call(&client, login("ed@example.com", "another long one")).await;
    let ed_access = ed_tokens["access_token"].as_str().expect("token").to_owned();

    // An EDITOR cannot manage users.
    let (status, content_type, body) =
        call(&client, client.get(format!("{base}/v1/users")).bearer_auth(&ed_access)).await;
    assert_eq!(
        (status, content_type.as_str(), body["code"].as_str()),
        (StatusCode::FORBIDDEN, "application/problem+json", Some("forbidden"))
    );

    // Rotation, then reuse of the old refresh token.
    let refresh = |token: &str| client.post(format!("{base}/v1/auth/refresh")).json(&json!({"refresh_token": token}));
    let first = ed_tokens["refresh_token"].as_str().expect("refresh").to_owned();
    let (status, _, rotated) = call(&client, refresh(&first)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(&client, refresh(&first)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "reuse is refused");
    let (status, _, _) = call(&client, refresh(rotated["refresh_token"].as_str().expect("refresh"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "and revoked the family");

    // Disable the editor.
    let id = editor["id"].as_str().expect("id");
    let disable = client.patch(format!("{base}/v1/users/{id}")).bearer_auth(&admin).json(&json!({"disabled": true}));
    let (status, _, user) = call(&client, disable).await;
    assert_eq!((status, user["disabled"].as_bool()), (StatusCode::OK, Some(true)));
    let (status, _, _) = call(&client, login("ed@example.com", "another long one")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _, jwks) = call(&client, client.get(format!("{base}/.well-known/jwks.json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    assert!(jwks["keys"][0].get("d").is_none(), "no private key material");
}

#[tokio::test]
async fn wrong_credentials_and_bad_bodies_are_refused_cleanly() {
    let (base, client, _dir, _stop) = start().await;
    let login = |body: Value| client.post(format!("{base}/v1/auth/login")).json(&body);
    let (wrong_status, _, wrong) =
        call(&client, login(json!({"email": "admin@example.com", "password": "wrong password!"}))).await;
    let (unknown_status, _, unknown) =
        call(&client, login(json!({"email": "nobody@example.com", "password": "correct horse battery"}))).await;
    assert_eq!((wrong_status, unknown_status), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(wrong, unknown, "no user enumeration");

    let (status, _, body) = call(&client, login(json!({"email": "a@example.com"}))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")));
    let (status, _, body) =
        call(&client, login(json!({"email": "a@example.com", "password": "x", "admin": true}))).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("admin")));
    let big = client
        .post(format!("{base}/v1/auth/login"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"email":"a@example.com","password":"{}"}}"#, "p".repeat(100_000)));
    let (status, _, _) = call(&client, big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _, _) = call(&client, client.get(format!("{base}/v1/auth/me")).bearer_auth("nonsense")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(&client, client.get(format!("{base}/v1/users"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
