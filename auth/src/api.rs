//! The auth service's HTTP API (hyper 1.x), which gateway-cms fronts.
//!
//! Routes: `POST /v1/auth/login`, `POST /v1/auth/refresh`, `POST /v1/auth/logout`,
//! `GET /v1/auth/me`, `POST|GET /v1/users`, `PATCH /v1/users/{id}`, `GET /.well-known/jwks.json`,
//! `GET /healthz`. Login, refresh, logout, the key set and health need no token; the rest need a
//! valid bearer token, and user management needs ADMIN.

use std::sync::Arc;

use contracts::Problem;
use http::{Method, StatusCode};
use platform::http::{
    Request, Response, Routes, answer, authorization, json, method_not_allowed, parse_json, read_body,
};

use crate::forms::{Login, NewUser, RefreshToken, UserChanges};
use crate::service::{AuthService, ServiceError};
use crate::token::Claims;

/// Credentials and small forms are tiny; anything bigger is refused before it is read.
const MAX_AUTH_BODY_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Health,
    Ready,
    Metrics,
    Jwks,
    Login,
    Refresh,
    Logout,
    Me,
    Users,
    User,
}

/// The auth HTTP API over the service.
pub struct AuthApi {
    service: AuthService,
    routes: Routes<Route>,
}

impl std::fmt::Debug for AuthApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthApi").finish_non_exhaustive()
    }
}

impl AuthApi {
    pub fn new(service: AuthService) -> Arc<Self> {
        let routes = Routes::new(&[
            ("/healthz", Route::Health),
            ("/readyz", Route::Ready),
            ("/metrics", Route::Metrics),
            ("/.well-known/jwks.json", Route::Jwks),
            ("/v1/auth/login", Route::Login),
            ("/v1/auth/refresh", Route::Refresh),
            ("/v1/auth/logout", Route::Logout),
            ("/v1/auth/me", Route::Me),
            ("/v1/users", Route::Users),
            ("/v1/users/{id}", Route::User),
        ]);
        Arc::new(Self { service, routes })
    }

    pub async fn handle(self: Arc<Self>, request: Request) -> Response {
        let template = self.routes.template(request.uri().path());
        let mut response = answer(self.route(request).await);
        response.extensions_mut().insert(template);
        response
    }

    async fn route(&self, request: Request) -> Result<Response, Problem> {
        let (route, user_id) = self.routes.resolve(request.uri().path())?;
        let service = &self.service;
        match (route, request.method().clone()) {
            (Route::Health, Method::GET) => Ok(json(StatusCode::OK, &serde_json::json!({"status": "ok"}))),
            (Route::Ready, Method::GET) => Ok(match service.jwks().await {
                Ok(_) => {
                    json(StatusCode::OK, &serde_json::json!({"status": "ready", "checks": {"store": {"ok": true}}}))
                }
                Err(error) => json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &serde_json::json!({"status": "unready", "checks": {"store": {"ok": false, "error": error.to_string()}}}),
                ),
            }),
            (Route::Metrics, Method::GET) => platform::metrics::current().ok_or_else(|| {
                Problem::new(contracts::ErrorCode::NotFound, "metrics are not recorded in this process")
            }),
            (Route::Jwks, Method::GET) => {
                let mut response = json(StatusCode::OK, &service.jwks().await.map_err(failure)?);
                // Verifiers may cache the set briefly; rotation keeps the old key published longer.
                response
                    .headers_mut()
                    .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("public, max-age=60"));
                Ok(response)
            }
            (Route::Login, Method::POST) => {
                let form: Login = body(request).await?;
                Ok(json(StatusCode::OK, &service.login(&form.email, &form.password).await.map_err(failure)?))
            }
            (Route::Refresh, Method::POST) => {
                let form: RefreshToken = body(request).await?;
                Ok(json(StatusCode::OK, &service.refresh(&form.refresh_token).await.map_err(failure)?))
            }
            (Route::Logout, Method::POST) => {
                let form: RefreshToken = body(request).await?;
                service.logout(&form.refresh_token).await.map_err(failure)?;
                Ok(json(StatusCode::OK, &serde_json::json!({"logged_out": true})))
            }
            (Route::Me, Method::GET) => {
                let claims = self.authenticate(&request).await?;
                Ok(json(StatusCode::OK, &claims))
            }
            (Route::Users, Method::POST) => {
                let claims = self.authenticate(&request).await?;
                let form: NewUser = body(request).await?;
                let user =
                    service.create_user(&claims, &form.email, &form.password, form.role).await.map_err(failure)?;
                Ok(json(StatusCode::CREATED, &user))
            }
            (Route::Users, Method::GET) => {
                let claims = self.authenticate(&request).await?;
                Ok(json(
                    StatusCode::OK,
                    &serde_json::json!({"users": service.list_users(&claims).await.map_err(failure)?}),
                ))
            }
            (Route::User, Method::PATCH) => {
                let claims = self.authenticate(&request).await?;
                let form: UserChanges = body(request).await?;
                let id = user_id.unwrap_or_default();
                let user = service.update_user(&claims, &id, form.role, form.disabled).await.map_err(failure)?;
                Ok(json(StatusCode::OK, &user))
            }
            _ => Err(method_not_allowed()),
        }
    }

    async fn authenticate(&self, request: &Request) -> Result<Claims, Problem> {
        let authorization = authorization(request.headers())?;
        let verifier = self.service.verifier().await.map_err(failure)?;
        verifier.verify_bearer(authorization).map_err(|error| {
            tracing::info!(error = %error, "token refused");
            error.to_problem()
        })
    }
}

async fn body<T: serde::de::DeserializeOwned>(request: Request) -> Result<T, Problem> {
    let (parts, bytes) = read_body(request, MAX_AUTH_BODY_BYTES).await?;
    parse_json(&parts.headers, &bytes)
}

fn failure(error: ServiceError) -> Problem {
    let problem = error.to_problem();
    if problem.status >= 500 {
        tracing::error!(error = %error, "auth request failed");
    } else if matches!(error, ServiceError::Auth(_)) {
        tracing::info!(error = %error, "refused");
    }
    problem
}
