//! Users, login, refresh rotation with reuse detection, logout, disabling, and key rotation.

use auth::{AuthConfig, AuthError, AuthService, Claims, Role, ServiceError};

struct Backend {
    name: &'static str,
    service: AuthService,
    _dir: tempfile::TempDir,
}

/// Keys sign as soon as they are made, so rotation can be watched without waiting.
fn config() -> AuthConfig {
    AuthConfig { key_activation_delay_seconds: 0, ..AuthConfig::default() }
}

async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let mut backends =
        vec![Backend { name: "sqlite", service: AuthService::open(&url, config()).await.expect("open"), _dir: dir }];
    if cfg!(feature = "integration") {
        let base = std::env::var("MEDIAMESH_DATABASE_URL_TEST")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL (run scripts/test.sh)");
        let name = format!("auth_it_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create");
        let (server, _) = base.rsplit_once('/').expect("a database in the URL");
        let service = AuthService::open(&format!("{server}/{name}"), config()).await.expect("open");
        backends.push(Backend { name: "postgres", service, _dir: tempfile::tempdir().expect("dir") });
    }
    backends
}

const PASSWORD: &str = "correct horse battery";

async fn admin_claims(service: &AuthService) -> Claims {
    service.bootstrap_admin("Admin@Example.com", PASSWORD).await.expect("bootstrap");
    let pair = service.login("admin@example.com", PASSWORD).await.expect("admin login");
    service.verifier().await.expect("verifier").verify(&pair.access_token).expect("valid token")
}

fn unauthorized<T>(result: impl std::borrow::Borrow<Result<T, ServiceError>>) -> bool {
    let result = result.borrow();
    matches!(result, Err(ServiceError::Auth(AuthError::Unauthorized(_))))
}

#[tokio::test]
async fn login_issues_verifiable_tokens_and_refuses_alike() {
    for Backend { name, service, .. } in backends().await {
        let admin = admin_claims(&service).await;
        assert_eq!((admin.role, admin.email.as_str()), (Role::Admin, "admin@example.com"), "{name}");
        assert!(
            service.bootstrap_admin("second@example.com", PASSWORD).await.expect(name).is_none(),
            "{name}: only once"
        );

        let editor = service.create_user(&admin, "ed@example.com", PASSWORD, Role::Editor).await.expect(name);
        let pair = service.login("ed@example.com", PASSWORD).await.expect(name);
        assert_eq!((pair.token_type, pair.expires_in), ("Bearer", 900), "{name}");
        let claims = service.verifier().await.expect(name).verify(&pair.access_token).expect(name);
        assert_eq!((claims.sub.as_str(), claims.role), (editor.id.as_str(), Role::Editor), "{name}");

        // Wrong password and unknown user: the same refusal.
        let wrong = service.login("ed@example.com", "not the password").await;
        let unknown = service.login("nobody@example.com", PASSWORD).await;
        assert!(unauthorized(&wrong) && unauthorized(&unknown), "{name}");
        assert_eq!(problem(&wrong), problem(&unknown), "{name}: no user enumeration");

        // An EDITOR cannot manage users.
        let denied = service.create_user(&claims, "x@example.com", PASSWORD, Role::Admin).await;
        assert!(matches!(denied, Err(ServiceError::Auth(AuthError::Forbidden(_)))), "{name}");
        let duplicate = service.create_user(&admin, "ED@example.com", PASSWORD, Role::User).await;
        assert!(matches!(duplicate, Err(ServiceError::Conflict(_))), "{name}: {duplicate:?}");
        let bad_email = service.create_user(&admin, "not-an-email", PASSWORD, Role::User).await;
        assert!(matches!(bad_email, Err(ServiceError::Invalid { field: "email", .. })), "{name}");
        let short = service.create_user(&admin, "short@example.com", "short", Role::User).await;
        assert!(matches!(short, Err(ServiceError::Invalid { field: "password", .. })), "{name}");
        assert_eq!(service.list_users(&admin).await.expect(name).len(), 2, "{name}");
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replay_revokes_the_family() {
    for Backend { name, service, .. } in backends().await {
        let admin = admin_claims(&service).await;
        service.create_user(&admin, "u@example.com", PASSWORD, Role::User).await.expect(name);
        let first = service.login("u@example.com", PASSWORD).await.expect(name);
        let second = service.refresh(&first.refresh_token).await.expect(name);
        assert_ne!(second.refresh_token, first.refresh_token, "{name}: rotated");
        let third = service.refresh(&second.refresh_token).await.expect(name);

        // The first token comes back (stolen): refused, and the whole chain dies with it.
        assert!(unauthorized(service.refresh(&first.refresh_token).await), "{name}: reuse");
        assert!(unauthorized(service.refresh(&third.refresh_token).await), "{name}: family revoked");

        // Another login is a separate family; logout ends it.
        let other = service.login("u@example.com", PASSWORD).await.expect(name);
        service.logout(&other.refresh_token).await.expect(name);
        assert!(unauthorized(service.refresh(&other.refresh_token).await), "{name}: logged out");
        assert!(unauthorized(service.refresh("made-up").await), "{name}");
    }
}

#[tokio::test]
async fn a_disabled_user_can_neither_log_in_nor_refresh() {
    for Backend { name, service, .. } in backends().await {
        let admin = admin_claims(&service).await;
        let user = service.create_user(&admin, "gone@example.com", PASSWORD, Role::Editor).await.expect(name);
        let pair = service.login("gone@example.com", PASSWORD).await.expect(name);
        let promoted = service.update_user(&admin, &user.id, Some(Role::Admin), None).await.expect(name);
        assert_eq!(promoted.role, Role::Admin, "{name}");
        let disabled = service.update_user(&admin, &user.id, None, Some(true)).await.expect(name);
        assert!(disabled.disabled, "{name}");
        assert!(unauthorized(service.refresh(&pair.refresh_token).await), "{name}: tokens revoked");
        assert!(unauthorized(service.login("gone@example.com", PASSWORD).await), "{name}");
        let missing = service.update_user(&admin, "no-such-id", Some(Role::User), None).await;
        assert!(matches!(missing, Err(ServiceError::NotFound(_))), "{name}");
    }
}

#[tokio::test]
async fn tokens_of_the_previous_key_verify_during_a_rotation() {
    for Backend { name, service, .. } in backends().await {
        admin_claims(&service).await;
        let before = service.login("admin@example.com", PASSWORD).await.expect(name);
        let old_kid = service.jwks().await.expect(name).keys[0].kid.clone();
        let new_kid = service.rotate_keys().await.expect(name);
        let jwks = service.jwks().await.expect(name);
        assert_eq!(jwks.keys.len(), 2, "{name}: both keys published during the overlap");
        assert_eq!(jwks.keys[0].kid, new_kid, "{name}: the new key signs");
        let verifier = service.verifier().await.expect(name);
        assert!(verifier.verify(&before.access_token).is_ok(), "{name}: the old key still verifies");
        let after = service.login("admin@example.com", PASSWORD).await.expect(name);
        let header = jsonwebtoken::decode_header(&after.access_token).expect("header");
        assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()), "{name}");
        assert_ne!(old_kid, new_kid);
        let json = serde_json::to_string(&jwks).expect("json");
        assert!(!json.contains("pkcs8") && !json.contains("\"d\""), "{name}: no private material in the JWKS");
    }
}

fn problem<T>(result: &Result<T, ServiceError>) -> Option<String> {
    result.as_ref().err().map(|error| serde_json::to_string(&error.to_problem()).expect("json"))
}

#[tokio::test]
async fn a_rotated_in_key_is_published_before_it_signs() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let service = AuthService::open(&url, AuthConfig::default()).await.expect("open");
    admin_claims(&service).await;
    let old_kid = service.jwks().await.expect("jwks").keys[0].kid.clone();
    let new_kid = service.rotate_keys().await.expect("rotate");
    let published: Vec<String> = service.jwks().await.expect("jwks").keys.into_iter().map(|k| k.kid).collect();
    assert_eq!(published, [new_kid, old_kid.clone()], "the new key is published at once");
    let token = service.login("admin@example.com", PASSWORD).await.expect("login").access_token;
    let header = jsonwebtoken::decode_header(&token).expect("header");
    assert_eq!(header.kid.as_deref(), Some(old_kid.as_str()), "but the old key signs until verifiers have the new one");
}
