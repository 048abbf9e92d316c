//! Every route's role rule, through the gateway to the real services: no token is 401, a token
//! without the role is 403 (at the gateway, before the service sees it), and the role gets through.

use reqwest::Method;
use serde_json::{Value, json};

use crate::world::{ADMIN_EMAIL, Cluster, PASSWORD, call};

/// What a caller needs on each route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Anyone,
    Editor,
    Admin,
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_enforces_its_role() {
    let cluster = Cluster::start(|_| {}).await;
    let admin = cluster.login(ADMIN_EMAIL).await;
    let editor = cluster.user(&admin, "editor@mediamesh.test", "EDITOR").await;
    let listener = cluster.user(&admin, "listener@mediamesh.test", "USER").await;

    // Content to address.
    let (status, program) = call(
        Method::POST,
        &cluster.url("/v1/programs"),
        Some(&editor),
        Some(json!({"title": "Harbour History Hour", "category": "history", "language": "en"})),
    )
    .await;
    assert_eq!(status, 201, "{program}");
    let program_id = program["id"].as_str().expect("id").to_owned();
    let (status, episode) = call(
        Method::POST,
        &cluster.url(&format!("/v1/programs/{program_id}/episodes")),
        Some(&editor),
        Some(json!({"title": "Lighthouse keepers", "duration_seconds": 1800})),
    )
    .await;
    assert_eq!(status, 201, "{episode}");
    let episode_id = episode["id"].as_str().expect("id").to_owned();
    let (_, users) = call(Method::GET, &cluster.url("/v1/users"), Some(&admin), None).await;
    let user_id = users["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == "listener@mediamesh.test")
        .and_then(|u| u["id"].as_str())
        .expect("listener id")
        .to_owned();

    let program_body = json!({"title": "Another show", "category": "news", "language": "fr"});
    let episode_body = json!({"title": "Another episode", "duration_seconds": 60});
    let cases: Vec<(Method, String, Needs, Option<Value>)> = vec![
        (Method::GET, "/v1/auth/me".into(), Needs::Anyone, None),
        (Method::GET, "/v1/users".into(), Needs::Admin, None),
        (
            Method::POST,
            "/v1/users".into(),
            Needs::Admin,
            Some(json!({"email": "x@mediamesh.test", "password": PASSWORD, "role": "USER"})),
        ),
        (Method::PATCH, format!("/v1/users/{user_id}"), Needs::Admin, Some(json!({"disabled": false}))),
        (Method::GET, "/v1/programs".into(), Needs::Editor, None),
        (Method::POST, "/v1/programs".into(), Needs::Editor, Some(program_body)),
        (Method::GET, format!("/v1/programs/{program_id}"), Needs::Editor, None),
        (Method::PATCH, format!("/v1/programs/{program_id}"), Needs::Editor, Some(json!({"description": "Ports."}))),
        (Method::GET, format!("/v1/programs/{program_id}/episodes"), Needs::Editor, None),
        (Method::POST, format!("/v1/programs/{program_id}/episodes"), Needs::Editor, Some(episode_body)),
        (Method::GET, format!("/v1/episodes/{episode_id}"), Needs::Editor, None),
        (Method::PATCH, format!("/v1/episodes/{episode_id}"), Needs::Editor, Some(json!({"season": 1}))),
        (Method::POST, format!("/v1/episodes/{episode_id}/publish"), Needs::Editor, None),
        (Method::POST, format!("/v1/episodes/{episode_id}/unpublish"), Needs::Editor, None),
        (Method::POST, format!("/v1/programs/{program_id}/publish"), Needs::Editor, None),
        (Method::POST, format!("/v1/programs/{program_id}/unpublish"), Needs::Editor, None),
        (Method::GET, "/v1/audit".into(), Needs::Admin, None),
        (Method::DELETE, format!("/v1/episodes/{episode_id}"), Needs::Editor, None),
        (Method::DELETE, format!("/v1/programs/{program_id}"), Needs::Editor, None),
    ];
    for (method, path, needs, body) in cases {
        let url = cluster.url(&path);
        let (status, problem) = call(method.clone(), &url, None, body.clone()).await;
        assert_eq!((status, problem["code"].as_str()), (401, Some("unauthorized")), "{method} {path} without a token");
        let (status, _) = call(method.clone(), &url, Some("not.a.token"), body.clone()).await;
        assert_eq!(status, 401, "{method} {path} with a bad token");
        let callers: Vec<(&str, &str, bool)> = vec![
            ("USER", &listener, needs == Needs::Anyone),
            ("EDITOR", &editor, needs != Needs::Admin),
            ("ADMIN", &admin, true),
        ];
        for (role, token, allowed) in callers {
            if !allowed {
                let (status, problem) = call(method.clone(), &url, Some(token), body.clone()).await;
                assert_eq!((status, problem["code"].as_str()), (403, Some("forbidden")), "{method} {path} as {role}");
            }
        }
        // The least role that may: allowed, and answered by the service.
        let token = match needs {
            Needs::Anyone => &listener,
            Needs::Editor => &editor,
            Needs::Admin => &admin,
        };
        let (status, answer) = call(method.clone(), &url, Some(token), body.clone()).await;
        assert!((200..300).contains(&status), "{method} {path} as {needs:?}: {status} {answer}");
    }

    // Login and refresh need no token; logout needs one.
    let (status, pair) = call(
        Method::POST,
        &cluster.url("/v1/auth/login"),
        None,
        Some(json!({"email": "editor@mediamesh.test", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200);
    let refresh = json!({"refresh_token": pair["refresh_token"]});
    let (status, rotated) = call(Method::POST, &cluster.url("/v1/auth/refresh"), None, Some(refresh.clone())).await;
    assert_eq!(status, 200, "{rotated}");
    let (status, _) = call(Method::POST, &cluster.url("/v1/auth/refresh"), None, Some(refresh)).await;
    assert_eq!(status, 401, "a used refresh token is refused");
    let logout = json!({"refresh_token": rotated["refresh_token"]});
    let (status, _) = call(Method::POST, &cluster.url("/v1/auth/logout"), None, Some(logout.clone())).await;
    assert_eq!(status, 401, "logout needs a token");
    let access = rotated["access_token"].as_str().expect("access");
    let (status, body) = call(Method::POST, &cluster.url("/v1/auth/logout"), Some(access), Some(logout)).await;
    assert_eq!((status, body["logged_out"].as_bool()), (200, Some(true)));
    // Unknown routes and methods.
    let (status, _) = call(Method::GET, &cluster.url("/v1/nothing"), Some(&admin), None).await;
    assert_eq!(status, 404);
    let (status, _) = call(Method::PUT, &cluster.url("/v1/programs"), Some(&admin), None).await;
    assert_eq!(status, 405);
}
