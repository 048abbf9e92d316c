//! The CMS side as production runs it: the auth service and cms-core (each on its own SQLite file,
//! served over HTTP on its own port, stoppable and restartable on that port as a crashed process
//! would be), and gateway-cms in front of them, following auth's published key set.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use auth::{AuthApi, AuthConfig, AuthService, KeySource};
use cms_core::{Cms, CmsApi, Store};
use gateway_cms::{CmsGateway, CmsGatewayConfig};
use platform::ratelimit::RateLimiter;
use serde_json::{Value, json};

/// A server on a fixed port that can be killed and started again.
pub struct Server {
    pub addr: SocketAddr,
    handler: Arc<dyn Fn(platform::http::Request) -> futures_lite::BoxedResponse + Send + Sync>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Boxed response futures, so any service's handler fits one `Server`.
pub mod futures_lite {
    pub type BoxedResponse =
        std::pin::Pin<Box<dyn std::future::Future<Output = platform::http::Response> + Send + 'static>>;
}

impl Server {
    pub async fn start(
        handler: Arc<dyn Fn(platform::http::Request) -> futures_lite::BoxedResponse + Send + Sync>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut server = Self { addr, handler, task: None };
        server.serve(listener);
        server
    }

    /// Serves like `platform::http::serve`, but every connection lives in a set the server task
    /// owns, so killing the task drops the connections too, as a dying process does.
    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let handler = Arc::clone(&self.handler);
        self.task = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            loop {
                let Ok((stream, peer)) = listener.accept().await else { continue };
                let handler = Arc::clone(&handler);
                let service = hyper::service::service_fn(move |mut request: platform::http::Request| {
                    request.extensions_mut().insert(platform::http::Peer(peer));
                    let response = platform::http::traced(request, &*handler);
                    async move { Ok::<_, std::convert::Infallible>(response.await) }
                });
                let connection =
                    builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service).into_owned();
                connections.spawn(async move {
                    let _ = connection.await;
                });
                while connections.try_join_next().is_some() {}
            }
        }));
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops answering at once: the listener closes and open connections drop.
    pub async fn kill(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        let mut attempts = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(error) if attempts < 100 => {
                    attempts += 1;
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("cannot listen on {} again: {error}", self.addr),
            }
        };
        self.serve(listener);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub const ADMIN_EMAIL: &str = "admin@mediamesh.test";
pub const PASSWORD: &str = "correct horse battery staple";

/// Auth, cms-core and a gateway in front of them.
pub struct Cluster {
    _dir: tempfile::TempDir,
    pub auth: Server,
    pub cms: Server,
    pub gateway: Server,
    pub api: Arc<CmsGateway>,
    pub keys: auth::Keys,
}

impl Cluster {
    pub async fn start(configure: impl FnOnce(&mut CmsGatewayConfig)) -> Self {
        Self::start_with(configure, RateLimiter::local("cms")).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut CmsGatewayConfig), limiter: RateLimiter) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let auth_url = format!("sqlite://{}", dir.path().join("auth.db").display());
        let service = AuthService::open(&auth_url, AuthConfig::default()).await.expect("auth service");
        service.bootstrap_admin(ADMIN_EMAIL, PASSWORD).await.expect("bootstrap admin");
        let auth_api = AuthApi::new(service);
        let auth = Server::start(Arc::new(move |request| Box::pin(Arc::clone(&auth_api).handle(request)))).await;

        let client = reqwest::Client::new();
        let source = KeySource { auth_url: auth.url(), issuer: "mediamesh-auth".into(), audience: "mediamesh".into() };
        let keys = source.connect(&client, Duration::from_secs(10)).await.expect("key set");

        let cms_url = format!("sqlite://{}", dir.path().join("cms.db").display());
        let store = Store::connect(&cms_url).await.expect("cms store");
        let cms_api = CmsApi::new(Cms::new(store.clone()), keys.clone());
        let cms = Server::start(Arc::new(move |request| Box::pin(Arc::clone(&cms_api).handle(request)))).await;

        let mut config = CmsGatewayConfig::new(auth.url(), cms.url());
        configure(&mut config);
        let api = CmsGateway::new(keys.clone(), limiter, config, None).expect("gateway");
        let served = Arc::clone(&api);
        let gateway = Server::start(Arc::new(move |request| Box::pin(Arc::clone(&served).handle(request)))).await;
        Self { _dir: dir, auth, cms, gateway, api, keys }
    }

    /// Another gateway, in front of auth and the CMS at `cms_url`.
    pub async fn gateway_to(&self, cms_url: &str) -> Server {
        let config = CmsGatewayConfig::new(self.auth.url(), cms_url);
        let api = CmsGateway::new(self.keys.clone(), RateLimiter::local("cms"), config, None).expect("gateway");
        Server::start(Arc::new(move |request| Box::pin(Arc::clone(&api).handle(request)))).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.url())
    }

    /// Logs in through the gateway; the access token.
    pub async fn login(&self, email: &str) -> String {
        let (status, body) = call(
            reqwest::Method::POST,
            &self.url("/v1/auth/login"),
            None,
            Some(json!({"email": email, "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, 200, "login {email}: {body}");
        body["access_token"].as_str().expect("access token").to_owned()
    }

    /// An ADMIN creates a user through the gateway, who then logs in; their access token.
    pub async fn user(&self, admin: &str, email: &str, role: &str) -> String {
        let (status, body) = call(
            reqwest::Method::POST,
            &self.url("/v1/users"),
            Some(admin),
            Some(json!({"email": email, "password": PASSWORD, "role": role})),
        )
        .await;
        assert_eq!(status, 201, "create {email}: {body}");
        self.login(email).await
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client")
}

/// One JSON call; the status and the parsed body (`Null` when empty).
pub async fn call(method: reqwest::Method, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let (status, _, body) = call_full(method, url, token, body, &[]).await;
    (status, body)
}

/// One JSON call with extra headers; the status, the headers and the parsed body.
pub async fn call_full(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = client().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}
