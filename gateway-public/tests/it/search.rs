//! The discovery API over HTTP: every parameter, paging limits, facets, highlights, lookups,
//! caching headers, CORS, tokens, and the problems bad input gets.

use auth::Role;
use gateway_public::cdn::Cors;
use gateway_public::{PublicConfig, default_policies};
use platform::ratelimit::RateLimiter;
use serde_json::Value;

use crate::world::{Node, client, get};

fn titles(body: &Value) -> Vec<String> {
    body["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits in {body}"))
        .iter()
        .map(|h| h["title"].as_str().expect("title").to_owned())
        .collect()
}

fn facet(body: &Value, name: &str) -> Vec<(String, u64)> {
    body["facets"][name]
        .as_array()
        .expect("facet")
        .iter()
        .map(|c| (c["value"].as_str().expect("value").to_owned(), c["count"].as_u64().expect("count")))
        .collect()
}

fn pairs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(v, c)| ((*v).to_owned(), *c)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn search_takes_every_parameter_and_counts_facets() {
    let node = Node::new().await;
    let gateway = node.gateway(RateLimiter::local("public"), PublicConfig::default()).await;
    let client = client();
    let search = |query: &str| gateway.url(&format!("/v1/search?{query}"));

    // Text: hits in every language, highlighted, with facets over the matches.
    let (status, _, body) = get(&client, &search("q=lighthouse"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 3, "{body}");
    assert_eq!((body["page"].as_u64(), body["per_page"].as_u64()), (Some(1), Some(20)));
    assert!(body["took_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert_eq!(titles(&body)[0], "Lighthouse keepers of the north", "the title match ranks first");
    let first = &body["hits"][0];
    assert_eq!(first["highlights"]["title"], "<em>Lighthouse</em> keepers of the north");
    assert!(first["highlights"]["description"].as_str().is_some_and(|d| d.contains("<em>lighthouses</em>")), "{first}");
    for field in [
        "id",
        "kind",
        "program_id",
        "title",
        "description",
        "category",
        "language",
        "duration_seconds",
        "publish_date",
        "artwork_url",
    ] {
        assert!(first.get(field).is_some(), "{field} missing from {first}");
    }
    assert_eq!(first["kind"], "episode");
    assert_eq!(first["program_id"], node.catalog.harbour.to_string());
    assert_eq!(first["category"], "history");
    assert_eq!(first["duration_seconds"], 1800);
    assert_eq!(first["publish_date"], "2021-03-01T00:00:00Z");
    assert_eq!(facet(&body, "category"), pairs(&[("history", 3)]));
    assert_eq!(facet(&body, "language"), pairs(&[("en", 3)]));

    // kind, category (repeated and comma-separated), language.
    let (_, _, body) = get(&client, &search("q=harbour&kind=program"), None).await;
    assert_eq!(titles(&body), ["Harbour History Hour"]);
    let (_, _, body) = get(&client, &search("category=news&category=science"), None).await;
    assert_eq!(body["total"], 6);
    let (_, _, same) = get(&client, &search("category=news,science"), None).await;
    assert_eq!(same["total"], 6);
    // Facets are disjunctive: a category's own filter does not hide the other categories.
    assert_eq!(facet(&body, "category"), pairs(&[("history", 4), ("news", 3), ("science", 3)]));
    assert_eq!(facet(&body, "language"), pairs(&[("de", 3), ("fr", 3)]));
    let (_, _, body) = get(&client, &search("language=fr&kind=episode"), None).await;
    assert_eq!(titles(&body), ["Élections régionales", "Les marchés ce matin"], "newest first without text");

    // Sorts.
    let (_, _, body) = get(&client, &search("kind=episode&sort=oldest&per_page=2"), None).await;
    assert_eq!(titles(&body), ["Schwarze Löcher erklärt", "Lighthouse keepers of the north"]);
    let (_, _, body) = get(&client, &search("kind=episode&sort=duration&per_page=2"), None).await;
    assert_eq!(titles(&body), ["Les marchés ce matin", "Élections régionales"]);
    let (_, _, body) = get(&client, &search("kind=episode&sort=newest&per_page=1"), None).await;
    assert_eq!(titles(&body), ["Élections régionales"]);
    let (_, _, body) = get(&client, &search("q=storm&sort=relevance"), None).await;
    assert_eq!(titles(&body), ["The great storm of 1953"]);

    // Duration and date ranges (inclusive).
    let (_, _, body) = get(&client, &search("min_duration=1500&max_duration=2400&sort=duration"), None).await;
    assert_eq!(titles(&body), ["Schwarze Löcher erklärt", "Lighthouse keepers of the north", "Shipwrecks and salvage"]);
    let (_, _, body) =
        get(&client, &search("kind=episode&published_after=2023-01-01&published_before=2023-06-30T23:59:59Z"), None)
            .await;
    assert_eq!(titles(&body), ["Les marchés ce matin", "The great storm of 1953"]);

    // Paging.
    let (_, _, page_one) = get(&client, &search("kind=episode&sort=oldest&per_page=3&page=1"), None).await;
    let (_, _, page_three) = get(&client, &search("kind=episode&sort=oldest&per_page=3&page=3"), None).await;
    assert_eq!((page_one["total"].as_u64(), page_three["total"].as_u64()), (Some(7), Some(7)));
    assert_eq!(titles(&page_one).len(), 3);
    assert_eq!(titles(&page_three), ["Élections régionales"]);
    let (_, _, past_end) = get(&client, &search("kind=episode&per_page=3&page=4"), None).await;
    assert_eq!(titles(&past_end).len(), 0);

    // Unpublished content is never found.
    let (_, _, body) = get(&client, &search("q=draft"), None).await;
    assert_eq!(body["total"], 0, "{body}");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_parameters_are_400_problems_naming_the_parameter() {
    let node = Node::new().await;
    let gateway = node.gateway(RateLimiter::local("public"), PublicConfig::default()).await;
    let client = client();
    for (path, parameter) in [
        ("/v1/search?per_page=101", "per_page"),
        ("/v1/search?per_page=0", "per_page"),
        ("/v1/search?page=0", "page"),
        ("/v1/search?page=101&per_page=100", "page"),
        ("/v1/search?category=podcasts", "category"),
        ("/v1/search?language=klingon", "language"),
        ("/v1/search?kind=movie", "kind"),
        ("/v1/search?sort=best", "sort"),
        ("/v1/search?min_duration=abc", "min_duration"),
        ("/v1/search?min_duration=100&max_duration=10", "min_duration"),
        ("/v1/search?published_after=yesterday", "published_after"),
        ("/v1/search?colour=red", "colour"),
        ("/v1/browse?q=ships", "q"),
        ("/v1/suggest", "q"),
        ("/v1/suggest?q=ha&limit=500", "limit"),
        ("/v1/programs/not-a-uuid", "id"),
        ("/v1/programs/00000000-0000-0000-0000-000000000001/related?limit=0", "limit"),
        ("/v1/categories?x=1", "x"),
    ] {
        let response = client.get(gateway.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        let body: Value = response.json().await.expect("problem");
        assert_eq!(body["code"], "invalid_parameter", "{path}: {body}");
        assert_eq!(body["errors"][0]["field"], parameter, "{path}: {body}");
    }
    let long = format!("/v1/search?q={}", "a".repeat(1001));
    let (status, _, body) = get(&client, &gateway.url(&long), None).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (400, Some("q")));
    // Unknown routes and methods.
    let (status, _, body) = get(&client, &gateway.url("/v1/nothing"), None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let response = client.post(gateway.url("/v1/search")).send().await.expect("post");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lookups_browse_suggest_related_and_facet_lists() {
    let node = Node::new().await;
    let gateway = node.gateway(RateLimiter::local("public"), PublicConfig::default()).await;
    let client = client();
    let catalog = &node.catalog;

    let (status, _, program) = get(&client, &gateway.url(&format!("/v1/programs/{}", catalog.harbour)), None).await;
    assert_eq!(status, 200);
    assert_eq!((program["title"].as_str(), program["kind"].as_str()), (Some("Harbour History Hour"), Some("program")));
    assert_eq!(program["highlights"], serde_json::json!({"title": null, "description": null}));
    // An episode id on the program route, an unpublished program, an unknown id: 404.
    let episode = catalog.harbour_episodes[0];
    for path in [
        format!("/v1/programs/{episode}"),
        format!("/v1/programs/{}", catalog.draft),
        "/v1/programs/6b2f8c1e-0000-4000-8000-000000000000".to_owned(),
        format!("/v1/episodes/{}", catalog.harbour),
        format!("/v1/programs/{}/episodes", catalog.draft),
    ] {
        let (status, _, body) = get(&client, &gateway.url(&path), None).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{path}");
    }
    let (status, _, body) = get(&client, &gateway.url(&format!("/v1/episodes/{episode}")), None).await;
    assert_eq!((status, body["title"].as_str()), (200, Some("Lighthouse keepers of the north")));

    let (_, _, episodes) =
        get(&client, &gateway.url(&format!("/v1/programs/{}/episodes?sort=oldest", catalog.harbour)), None).await;
    assert_eq!(
        titles(&episodes),
        ["Lighthouse keepers of the north", "Shipwrecks and salvage", "The great storm of 1953"]
    );
    let (status, _, body) =
        get(&client, &gateway.url(&format!("/v1/programs/{}/episodes?kind=program", catalog.harbour)), None).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (400, Some("kind")));

    let (_, _, browse) = get(&client, &gateway.url("/v1/browse?kind=program"), None).await;
    assert_eq!(titles(&browse), ["Nouvelles du matin", "Harbour History Hour", "Wissenschaft am Abend"]);
    assert!(browse["hits"][0]["highlights"]["title"].is_null());

    let (_, _, suggest) = get(&client, &gateway.url("/v1/suggest?q=ship"), None).await;
    assert_eq!(suggest["suggestions"][0]["title"], "Shipwrecks and salvage", "{suggest}");
    assert_eq!(suggest["suggestions"][0]["kind"], "episode");

    let (status, _, related) =
        get(&client, &gateway.url(&format!("/v1/programs/{}/related", catalog.harbour)), None).await;
    assert_eq!(status, 200, "{related}");
    // What the engine relates (its own tests judge how well); never the program itself.
    let expected: Vec<String> = node
        .replica
        .engine()
        .related(&catalog.harbour.to_string(), 10)
        .expect("related")
        .into_iter()
        .map(|hit| hit.title)
        .collect();
    assert_eq!(titles(&related), expected);
    assert!(expected.iter().all(|t| t != "Harbour History Hour"), "not itself: {expected:?}");

    let (_, _, categories) = get(&client, &gateway.url("/v1/categories"), None).await;
    let values: Vec<(String, u64)> = categories["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|c| (c["value"].as_str().expect("value").to_owned(), c["count"].as_u64().expect("count")))
        .collect();
    assert_eq!(values, pairs(&[("history", 4), ("news", 3), ("science", 3)]));
    let (_, _, languages) = get(&client, &gateway.url("/v1/languages"), None).await;
    assert_eq!(languages["values"].as_array().map(Vec::len), Some(3), "{languages}");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_are_cdn_friendly() {
    let node = Node::new().await;
    let config = PublicConfig {
        cdn_base_url: Some("https://cdn.mediamesh.test".into()),
        cors: Cors::parse("https://app.mediamesh.test"),
        ..PublicConfig::default()
    };
    let gateway = node.gateway(RateLimiter::local("public"), config).await;
    let client = client();
    let url = gateway.url("/v1/search?q=harbour&kind=program");

    let response = client.get(&url).header("origin", "https://app.mediamesh.test").send().await.expect("get");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["cache-control"], "public, max-age=10, s-maxage=30, stale-while-revalidate=60");
    let etag = headers["etag"].to_str().expect("etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"), "strong: {etag}");
    let surrogate = headers["surrogate-key"].to_str().expect("keys");
    assert!(surrogate.split(' ').any(|k| k == node.catalog.harbour.to_string()), "{surrogate}");
    assert!(surrogate.split(' ').any(|k| k == "search"), "{surrogate}");
    assert_eq!(headers["access-control-allow-origin"], "https://app.mediamesh.test");
    assert!(headers.get_all("vary").iter().any(|v| v == "Origin"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["hits"][0]["artwork_url"], "https://cdn.mediamesh.test/img.example.org/harbour.jpg");

    // The same page again: same bytes, same tag; a matching If-None-Match gets 304 and no body.
    let again = client.get(&url).send().await.expect("again");
    assert_eq!(again.headers()["etag"].to_str().expect("etag"), etag);
    let revalidated = client.get(&url).header("if-none-match", &etag).send().await.expect("revalidate");
    assert_eq!(revalidated.status(), 304);
    assert_eq!(revalidated.headers()["etag"].to_str().expect("etag"), etag);
    assert!(revalidated.bytes().await.expect("body").is_empty());
    let stale = client.get(&url).header("if-none-match", "\"something-else\"").send().await.expect("stale");
    assert_eq!(stale.status(), 200);

    // A new commit changes the page and its tag.
    let changes: contracts::UpdateProgram =
        serde_json::from_value(serde_json::json!({"title": "Harbour History Hour, revised"})).expect("changes");
    let editor = cms_core::Actor { user_id: "editor".into(), role: Role::Editor };
    node.cms.update_program(&editor, node.catalog.harbour, changes, None, None).await.expect("update");
    crate::world::index_all(&node.replica, &node.store).await;
    let changed = client.get(&url).header("if-none-match", &etag).send().await.expect("changed");
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().expect("etag"), etag);

    // A browser preflight from an allowed origin; another origin gets no CORS grant.
    let preflight = client
        .request(reqwest::Method::OPTIONS, gateway.url("/v1/search"))
        .header("origin", "https://app.mediamesh.test")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .expect("preflight");
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-methods"], "GET, HEAD, OPTIONS");
    let other = client.get(&url).header("origin", "https://evil.test").send().await.expect("other origin");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_raise_the_limit_and_bad_tokens_are_refused() {
    let node = Node::new().await;
    let policies = default_policies().with_overrides("search=3/m:3,search_user=6/m:6").expect("policies");
    let gateway =
        node.gateway(RateLimiter::local("public"), PublicConfig { policies, ..PublicConfig::default() }).await;
    let client = client();
    let url = gateway.url("/v1/search?q=sea");

    for n in 0..3 {
        let (status, headers, _) = get(&client, &url, None).await;
        assert_eq!(status, 200, "anonymous request {n}");
        assert_eq!(headers["ratelimit-policy"], "\"search\";q=3;w=60");
        assert_eq!(
            headers["ratelimit"].to_str().expect("ascii").split(';').nth(1),
            Some(format!("r={}", 2 - n).as_str())
        );
    }
    let (status, headers, body) = get(&client, &url, None).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    assert!(headers["retry-after"].to_str().expect("ascii").parse::<u64>().is_ok_and(|s| (1..=20).contains(&s)));

    // A listener with a token has its own, larger allowance; every role counts.
    for (user, role) in [("ursula", Role::User), ("edgar", Role::Editor), ("ada", Role::Admin)] {
        let token = node.token(user, role);
        for n in 0..6 {
            let (status, headers, _) = get(&client, &url, Some(&token)).await;
            assert_eq!(status, 200, "{user} request {n}");
            assert_eq!(headers["ratelimit-policy"], "\"search_user\";q=6;w=60");
        }
        let (status, _, _) = get(&client, &url, Some(&token)).await;
        assert_eq!(status, 429, "{user} past the limit");
    }

    // A token that does not verify is 401, never an anonymous fallback.
    for bad in ["not-a-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        let (status, _, body) = get(&client, &url, Some(bad)).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")), "{bad}");
    }
    let response = client.get(&url).header("authorization", "Basic eDp5").send().await.expect("basic");
    assert_eq!(response.status(), 401);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn operations_routes_answer() {
    let node = Node::new().await;
    let gateway = node.gateway(RateLimiter::local("public"), PublicConfig::default()).await;
    let client = client();
    let (status, _, body) = get(&client, &gateway.url("/healthz"), None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    // Every answer carries the trace it belongs to and the request's id.
    let traced = client
        .get(gateway.url("/v1/search?q=sea"))
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .header("x-request-id", "req-42")
        .send()
        .await
        .expect("traced");
    let traceparent = traced.headers()["traceparent"].to_str().expect("ascii").to_owned();
    assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{traceparent}");
    assert!(!traceparent.contains("00f067aa0ba902b7"), "this hop's own span: {traceparent}");
    assert_eq!(traced.headers()["x-request-id"], "req-42");
    let fresh = client.get(gateway.url("/v1/search?q=sea")).send().await.expect("fresh");
    assert!(fresh.headers().contains_key("traceparent") && fresh.headers().contains_key("x-request-id"));
    let (status, _, body) = get(&client, &gateway.url("/readyz"), None).await;
    assert_eq!(status, 200, "{body}");
    // Ten published items, and the draft's version marker (kept so a late event cannot resurrect it).
    assert!(body["checks"]["index"]["documents"].as_u64().is_some_and(|n| n >= 10), "{body}");
    gateway.stop().await;
}
