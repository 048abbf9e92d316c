//! The CMS HTTP API over a real socket: the workflow, ETags and If-Match, idempotency, and bad
//! input and attacks answered with problem documents, never a 500.

use std::sync::Arc;

use auth::{JwkSet, Role, SigningKey, TokenIssuer, Verifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cms_core::{Cms, CmsApi};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::support::backends;

const ISSUER: &str = "mediamesh-auth";
const AUDIENCE: &str = "mediamesh";

struct Server {
    base: String,
    key: SigningKey,
    client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl Server {
    async fn start(cms: Cms) -> Self {
        let key = SigningKey::generate().expect("key");
        let verifier = Verifier::new(&JwkSet { keys: vec![key.public_jwk()] }, ISSUER, AUDIENCE).expect("verifier");
        let api = CmsApi::new(cms, verifier);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(platform::http::serve(listener, move |request| Arc::clone(&api).handle(request), async move {
            let _ = stopped.await;
        }));
        Self { base, key, client: reqwest::Client::new(), _stop: stop }
    }

    fn token(&self, role: Role) -> String {
        let issuer = TokenIssuer::new(&self.key, ISSUER, AUDIENCE, 900);
        let now = chrono::Utc::now().timestamp();
        issuer.issue(&format!("{}-user", role.as_str().to_lowercase()), "x@example.com", role, now).expect("token").0
    }

    fn request(&self, method: reqwest::Method, path: &str, role: Option<Role>) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.base));
        match role {
            Some(role) => builder.bearer_auth(self.token(role)),
            None => builder,
        }
    }
}

/// Status, `ETag`, content type and JSON body of a response.
async fn answer(response: reqwest::Response) -> (StatusCode, Option<String>, String, Value) {
    let status = response.status();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let etag = header("etag");
    let content_type = header("content-type").unwrap_or_default();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, etag, content_type, body)
}

fn assert_problem(answer: &(StatusCode, Option<String>, String, Value), status: u16, code: &str, field: Option<&str>) {
    let (got, _, content_type, body) = answer;
    assert_eq!(got.as_u16(), status, "{body}");
    assert_eq!(content_type, "application/problem+json", "{body}");
    assert_eq!(body["code"], code, "{body}");
    if let Some(field) = field {
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn the_workflow_over_http_with_etags() {
    for backend in backends().await {
        let server = Server::start(backend.cms.clone()).await;
        let editor = Some(Role::Editor);
        let create = server
            .request(reqwest::Method::POST, "/v1/programs", editor)
            .header("idempotency-key", "create-1")
            .json(&json!({"title": "Science Vs", "category": "science", "language": "en"}));
        let (status, etag, _, program) = answer(create.send().await.expect("send")).await;
        assert_eq!((status, etag.as_deref()), (StatusCode::CREATED, Some("\"1\"")), "{}", backend.name);
        let id = program["id"].as_str().expect("id").to_owned();

        // The retry returns the first result, not a second program.
        let retry = server
            .request(reqwest::Method::POST, "/v1/programs", editor)
            .header("idempotency-key", "create-1")
            .json(&json!({"title": "Science Vs", "category": "science", "language": "en"}));
        let (_, _, _, again) = answer(retry.send().await.expect("send")).await;
        assert_eq!(again["id"], program["id"]);

        let patch = server
            .request(reqwest::Method::PATCH, &format!("/v1/programs/{id}"), editor)
            .header("if-match", "\"1\"")
            .json(&json!({"description": "Facts versus feelings."}));
        let (status, etag, _, _) = answer(patch.send().await.expect("send")).await;
        assert_eq!((status, etag.as_deref()), (StatusCode::OK, Some("\"2\"")));
        let stale = server
            .request(reqwest::Method::PATCH, &format!("/v1/programs/{id}"), editor)
            .header("if-match", "\"1\"")
            .json(&json!({"description": "Again."}));
        assert_problem(&answer(stale.send().await.expect("send")).await, 412, "precondition_failed", None);

        let episode = server
            .request(reqwest::Method::POST, &format!("/v1/programs/{id}/episodes"), editor)
            .json(&json!({"title": "Vaccines", "duration_seconds": 2400, "season": 1, "episode_number": 1}));
        let (status, _, _, episode) = answer(episode.send().await.expect("send")).await;
        assert_eq!(status, StatusCode::CREATED);
        let episode_id = episode["id"].as_str().expect("id").to_owned();

        let publish = server
            .request(reqwest::Method::POST, &format!("/v1/programs/{id}/publish"), editor)
            .header("if-match", "\"2\"");
        let (status, _, _, published) = answer(publish.send().await.expect("send")).await;
        assert_eq!((status, published["status"].as_str()), (StatusCode::OK, Some("published")));
        let (status, _, _, _) = answer(
            server
                .request(reqwest::Method::POST, &format!("/v1/episodes/{episode_id}/publish"), editor)
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);

        // An episode is not a program, even by id.
        let wrong_kind = server.request(reqwest::Method::POST, &format!("/v1/programs/{episode_id}/unpublish"), editor);
        assert_problem(&answer(wrong_kind.send().await.expect("send")).await, 404, "not_found", None);

        let (status, _, _, listing) = answer(
            server
                .request(
                    reqwest::Method::GET,
                    &format!("/v1/programs/{id}/episodes?status=published&per_page=10"),
                    editor,
                )
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!((status, listing["total"].as_u64()), (StatusCode::OK, Some(1)));

        let (status, _, _, audit) = answer(
            server.request(reqwest::Method::GET, "/v1/audit?limit=50", Some(Role::Admin)).send().await.expect("send"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(audit["entries"].as_array().is_some_and(|e| e.len() >= 5), "{audit}");

        let (status, _, _, _) = answer(
            server.request(reqwest::Method::DELETE, &format!("/v1/programs/{id}"), editor).send().await.expect("send"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let gone = server.request(reqwest::Method::GET, &format!("/v1/episodes/{episode_id}"), editor).send().await;
        assert_problem(&answer(gone.expect("send")).await, 404, "not_found", None);
    }
}

#[tokio::test]
async fn bad_input_gets_a_problem_naming_the_field() {
    let backend = backends().await.remove(0);
    let server = Server::start(backend.cms.clone()).await;
    let editor = Some(Role::Editor);
    let post = |body: String| {
        server
            .request(reqwest::Method::POST, "/v1/programs", editor)
            .header("content-type", "application/json")
            .body(body)
    };
    let cases: Vec<(String, u16, &str, Option<&str>)> = vec![
        ("{not json".into(), 400, "malformed_body", None),
        (r#"{"title": 5, "category": "news", "language": "en"}"#.into(), 422, "validation_failed", Some("title")),
        (
            r#"{"title": "A", "category": "news", "language": "en", "colour": "red"}"#.into(),
            422,
            "validation_failed",
            Some("colour"),
        ),
        (
            r#"{"title": "A", "category": "podcasts", "language": "en"}"#.into(),
            422,
            "validation_failed",
            Some("category"),
        ),
        (
            r#"{"title": "A", "category": "news", "language": "klingon"}"#.into(),
            422,
            "validation_failed",
            Some("language"),
        ),
        (
            r#"{"title": "A", "category": "news", "language": "en", "duration_seconds": 0}"#.into(),
            422,
            "validation_failed",
            Some("duration_seconds"),
        ),
        (
            r#"{"title": "A", "category": "news", "language": "en", "publish_date": "yesterday"}"#.into(),
            422,
            "validation_failed",
            Some("publish_date"),
        ),
        (
            r#"{"title": "A", "category": "news", "language": "en", "artwork_url": "ftp://x"}"#.into(),
            422,
            "validation_failed",
            Some("artwork_url"),
        ),
        (
            format!(r#"{{"title": "{}", "category": "news", "language": "en"}}"#, "x".repeat(301)),
            422,
            "validation_failed",
            Some("title"),
        ),
        (
            format!(
                r#"{{"title": "A", "description": "{}", "category": "news", "language": "en"}}"#,
                "y".repeat(1_100_000)
            ),
            413,
            "payload_too_large",
            None,
        ),
    ];
    for (body, status, code, field) in cases {
        let shown: String = body.chars().take(80).collect();
        let got = answer(post(body).send().await.expect("send")).await;
        assert_eq!(got.0.as_u16(), status, "{shown}: {}", got.3);
        assert_problem(&got, status, code, field);
    }
    let no_type = server.request(reqwest::Method::POST, "/v1/programs", editor).body("{}").send().await;
    assert_problem(&answer(no_type.expect("send")).await, 400, "malformed_body", None);
    let bad_id = server.request(reqwest::Method::GET, "/v1/programs/not-a-uuid", editor).send().await;
    assert_problem(&answer(bad_id.expect("send")).await, 400, "invalid_parameter", Some("id"));
    let bad_param = server.request(reqwest::Method::GET, "/v1/programs?per_page=1000", editor).send().await;
    assert_problem(&answer(bad_param.expect("send")).await, 400, "invalid_parameter", Some("per_page"));
    let unknown_param = server.request(reqwest::Method::GET, "/v1/programs?colour=red", editor).send().await;
    assert_problem(&answer(unknown_param.expect("send")).await, 400, "invalid_parameter", Some("colour"));
    let bad_etag = server
        .request(reqwest::Method::POST, &format!("/v1/programs/{}/publish", uuid::Uuid::now_v7()), editor)
        .header("if-match", "W/\"1\"")
        .send()
        .await;
    assert_problem(&answer(bad_etag.expect("send")).await, 400, "invalid_parameter", Some("If-Match"));
    let wrong_method = server.request(reqwest::Method::PUT, "/v1/programs", editor).send().await;
    assert_problem(&answer(wrong_method.expect("send")).await, 405, "method_not_allowed", None);
}

#[tokio::test]
async fn forged_tokens_are_401_and_wrong_roles_403() {
    let backend = backends().await.remove(0);
    let server = Server::start(backend.cms.clone()).await;
    let get = |token: Option<String>| {
        let builder = server.client.get(format!("{}/v1/programs", server.base));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    };
    let valid = server.token(Role::Editor);
    let (status, _, _, _) = answer(get(Some(valid.clone())).send().await.expect("send")).await;
    assert_eq!(status, StatusCode::OK);

    let parts: Vec<&str> = valid.split('.').collect();
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let forged = [
        None,
        Some("garbage".to_owned()),
        Some(format!("{none_header}.{}.", parts[1])),
        Some(format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(r#"{"sub":"x","role":"ADMIN"}"#), parts[2])),
        Some(
            TokenIssuer::new(&SigningKey::generate().expect("key"), ISSUER, AUDIENCE, 900)
                .issue("x", "x@example.com", Role::Admin, chrono::Utc::now().timestamp())
                .expect("token")
                .0,
        ),
        Some(
            TokenIssuer::new(&server.key, ISSUER, AUDIENCE, 900)
                .issue("x", "x@example.com", Role::Admin, chrono::Utc::now().timestamp() - 7_200)
                .expect("token")
                .0,
        ),
    ];
    for token in forged {
        let shown = token.clone().unwrap_or_default();
        let got = answer(get(token).send().await.expect("send")).await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{shown}");
        assert_problem(&got, 401, "unauthorized", None);
    }

    let as_user = server.request(reqwest::Method::GET, "/v1/programs", Some(Role::User)).send().await;
    assert_problem(&answer(as_user.expect("send")).await, 403, "forbidden", None);
    let audit_as_editor = server.request(reqwest::Method::GET, "/v1/audit", Some(Role::Editor)).send().await;
    assert_problem(&answer(audit_as_editor.expect("send")).await, 403, "forbidden", None);
    let (status, _, _, _) =
        answer(server.client.get(format!("{}/healthz", server.base)).send().await.expect("send")).await;
    assert_eq!(status, StatusCode::OK, "health needs no token");
}
