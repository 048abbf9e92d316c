//! `/openapi.json` stays true: every route is documented (and nothing else), and real answers of
//! each documented status match their schemas, with no undocumented fields.

use std::collections::BTreeSet;

use gateway_public::{PublicConfig, ROUTES};
use platform::ratelimit::RateLimiter;

use crate::world::{Node, client, get};

#[tokio::test(flavor = "multi_thread")]
async fn the_document_describes_every_route_and_every_answer() {
    let node = Node::new().await;
    let gateway = node.gateway(RateLimiter::local("public"), PublicConfig::default()).await;
    let client = client();
    let (status, _, document) = get(&client, &gateway.url("/openapi.json"), None).await;
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with('3')), "{}", document["openapi"]);

    let documented: BTreeSet<&str> = document["paths"].as_object().expect("paths").keys().map(String::as_str).collect();
    let routed: BTreeSet<&str> = ROUTES.iter().map(|(path, _)| *path).collect();
    assert_eq!(documented, routed, "the document and the route table list the same paths");

    let catalog = &node.catalog;
    let harbour = catalog.harbour.to_string();
    let episode = catalog.harbour_episodes[0].to_string();
    let calls: Vec<(String, &str, u16)> = vec![
        ("/v1/search?q=lighthouse".into(), "/v1/search", 200),
        ("/v1/search?q=storm&category=history&language=en&sort=relevance".into(), "/v1/search", 200),
        ("/v1/search?per_page=500".into(), "/v1/search", 400),
        ("/v1/search?q=x".into(), "/v1/search", 401),
        ("/v1/browse?kind=episode".into(), "/v1/browse", 200),
        ("/v1/browse?sort=best".into(), "/v1/browse", 400),
        ("/v1/suggest?q=light".into(), "/v1/suggest", 200),
        ("/v1/suggest".into(), "/v1/suggest", 400),
        (format!("/v1/programs/{harbour}"), "/v1/programs/{id}", 200),
        ("/v1/programs/nope".into(), "/v1/programs/{id}", 400),
        (format!("/v1/programs/{episode}"), "/v1/programs/{id}", 404),
        (format!("/v1/programs/{harbour}/episodes"), "/v1/programs/{id}/episodes", 200),
        (format!("/v1/programs/{}/episodes", catalog.draft), "/v1/programs/{id}/episodes", 404),
        (format!("/v1/programs/{harbour}/related"), "/v1/programs/{id}/related", 200),
        (format!("/v1/episodes/{episode}"), "/v1/episodes/{id}", 200),
        (format!("/v1/episodes/{harbour}"), "/v1/episodes/{id}", 404),
        ("/v1/categories".into(), "/v1/categories", 200),
        ("/v1/languages".into(), "/v1/languages", 200),
    ];
    for (url, template, expected) in calls {
        let token = (expected == 401).then_some("garbage");
        let (status, _, body) = get(&client, &gateway.url(&url), token).await;
        assert_eq!(status, expected, "{url}: {body}");
        let answer = &document["paths"][template]["get"]["responses"][status.to_string()];
        assert!(!answer.is_null(), "{template} does not document {status}");
        let content = answer["content"].as_object().expect("content");
        let schema = &content.values().next().expect("a media type")["schema"];
        if let Err(failure) = platform::testing::conforms(&document, schema, &body, "body") {
            panic!("{url} ({status}) does not match the document: {failure}\n{body}");
        }
    }
    gateway.stop().await;
}
