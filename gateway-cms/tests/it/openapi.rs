//! `/openapi.json` stays true: it documents exactly the routes and methods the gateway takes, and
//! real answers match their schemas with no undocumented fields.

use std::collections::BTreeSet;

use gateway_cms::{ROUTES, rule_for};
use reqwest::Method;
use serde_json::{Value, json};

use crate::world::{ADMIN_EMAIL, Cluster, PASSWORD, call_full};

const METHODS: [&str; 5] = ["get", "post", "patch", "delete", "put"];

/// One call: method, URL path, the path template it documents under, token, body.
type Call<'a> = (Method, String, &'a str, Option<&'a str>, Option<Value>);

#[tokio::test(flavor = "multi_thread")]
async fn the_document_describes_every_route_method_and_answer() {
    let cluster = Cluster::start(|_| {}).await;
    let (status, _, document) = call_full(Method::GET, &cluster.url("/openapi.json"), None, None, &[]).await;
    assert_eq!(status, 200);

    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                documented.insert((path.clone(), method.to_uppercase()));
            }
        }
    }
    let mut routed = BTreeSet::new();
    for (path, route) in ROUTES {
        for method in METHODS {
            let method = method.to_uppercase();
            let takes = rule_for(*route, &method.parse().expect("method")).is_some()
                || (method == "GET" && matches!(*path, "/openapi.json" | "/healthz" | "/readyz" | "/metrics"));
            if takes {
                routed.insert(((*path).to_owned(), method));
            }
        }
    }
    assert_eq!(documented, routed, "the document and the rules list the same operations");

    let admin = cluster.login(ADMIN_EMAIL).await;
    let editor = cluster.user(&admin, "editor@mediamesh.test", "EDITOR").await;
    let (_, _, created) = call_full(
        Method::POST,
        &cluster.url("/v1/programs"),
        Some(&editor),
        Some(json!({"title": "Harbour", "category": "history", "language": "en", "publish_date": "2024-01-01T00:00:00Z"})),
        &[],
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let (_, _, episode) = call_full(
        Method::POST,
        &cluster.url(&format!("/v1/programs/{id}/episodes")),
        Some(&editor),
        Some(json!({"title": "One", "duration_seconds": 60, "season": 1})),
        &[],
    )
    .await;
    let episode_id = episode["id"].as_str().expect("id").to_owned();
    let calls: Vec<Call> = vec![
        (
            Method::POST,
            "/v1/auth/login".into(),
            "/v1/auth/login",
            None,
            Some(json!({"email": ADMIN_EMAIL, "password": PASSWORD})),
        ),
        (
            Method::POST,
            "/v1/auth/login".into(),
            "/v1/auth/login",
            None,
            Some(json!({"email": ADMIN_EMAIL, "password": "wrong"})),
        ),
        (Method::GET, "/v1/auth/me".into(), "/v1/auth/me", Some(&editor), None),
        (Method::GET, "/v1/users".into(), "/v1/users", Some(&admin), None),
        (Method::GET, "/v1/users".into(), "/v1/users", Some(&editor), None),
        (
            Method::POST,
            "/v1/programs".into(),
            "/v1/programs",
            Some(&editor),
            Some(json!({"title": "", "category": "history", "language": "en"})),
        ),
        (Method::GET, "/v1/programs".into(), "/v1/programs", Some(&editor), None),
        (Method::GET, format!("/v1/programs/{id}"), "/v1/programs/{id}", Some(&editor), None),
        (
            Method::PATCH,
            format!("/v1/programs/{id}"),
            "/v1/programs/{id}",
            Some(&editor),
            Some(json!({"description": "Ports"})),
        ),
        (Method::GET, format!("/v1/programs/{id}/episodes"), "/v1/programs/{id}/episodes", Some(&editor), None),
        (Method::GET, format!("/v1/episodes/{episode_id}"), "/v1/episodes/{id}", Some(&editor), None),
        (Method::POST, format!("/v1/episodes/{episode_id}/publish"), "/v1/episodes/{id}/publish", Some(&editor), None),
        (Method::GET, "/v1/audit".into(), "/v1/audit", Some(&admin), None),
    ];
    for (method, url, template, token, body) in calls {
        let (status, _, answer) = call_full(method.clone(), &cluster.url(&url), token, body, &[]).await;
        let operation = &document["paths"][template][method.as_str().to_lowercase()];
        let documented = &operation["responses"][status.to_string()];
        assert!(!documented.is_null(), "{method} {template} does not document {status}: {answer}");
        let content = documented["content"].as_object().expect("content");
        let schema = &content.values().next().expect("a media type")["schema"];
        if let Err(failure) = platform::testing::conforms(&document, schema, &answer, "body") {
            panic!("{method} {url} ({status}) does not match the document: {failure}\n{answer}");
        }
    }
}
