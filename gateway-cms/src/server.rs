//! gateway-cms: the editors' API in front of cms-core (`MEDIAMESH_CMS_URL`) and auth
//! (`MEDIAMESH_AUTH_URL`), whose key set it follows to check tokens. Rate limits are shared
//! through Redis when `MEDIAMESH_REDIS_URL` is set and kept in-process otherwise.
//!
//! The binary and `mediamesh` run [`run`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::{CmsGateway, CmsGatewayConfig, default_policies};
use anyhow::Context;
use auth::KeySource;
use platform::ratelimit::RateLimiter;
use tokio::sync::watch;

/// The gateway's configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long, env = "MEDIAMESH_CMS_GATEWAY_ADDR", default_value = "127.0.0.1:8081")]
    pub addr: String,
    #[arg(long, env = "MEDIAMESH_CMS_URL", default_value = "http://127.0.0.1:8082")]
    pub cms_url: String,
    #[arg(long, env = "MEDIAMESH_AUTH_URL", default_value = "http://127.0.0.1:8083")]
    pub auth_url: String,
    #[arg(long, env = "MEDIAMESH_AUTH_ISSUER", default_value = "mediamesh-auth")]
    pub issuer: String,
    #[arg(long, env = "MEDIAMESH_AUTH_AUDIENCE", default_value = "mediamesh")]
    pub audience: String,
    #[arg(long, env = "MEDIAMESH_REDIS_URL")]
    pub redis_url: Option<String>,
    /// While Redis is unreachable: `local` (limit in this process) or `closed` (refuse, 503).
    #[arg(long, env = "MEDIAMESH_RATE_LIMIT_FAIL", default_value = "local")]
    pub rate_limit_fail: String,
    /// Policy overrides, e.g. `login=5/m,refresh=30/m,cms_write=120/m,cms_read=600/m:300`.
    #[arg(long, env = "MEDIAMESH_CMS_RATE_LIMITS", default_value = "")]
    pub rate_limits: String,
    /// Proxies whose X-Forwarded-For is believed, comma-separated.
    #[arg(long, env = "MEDIAMESH_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
}

/// Serves until `shutdown` resolves; then stops accepting and lets requests in flight finish.
pub async fn run(args: Args, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    let metrics = platform::metrics::install("gateway-cms");
    let mut config = CmsGatewayConfig::new(args.auth_url.clone(), args.cms_url.clone());
    config.policies = default_policies().with_overrides(&args.rate_limits).map_err(anyhow::Error::msg)?;
    config.trusted_proxies = platform::http::parse_ips(&args.trusted_proxies).map_err(anyhow::Error::msg)?;
    let limiter =
        RateLimiter::configured("cms", args.redis_url.as_deref(), &args.rate_limit_fail).map_err(anyhow::Error::msg)?;
    let (stop, stopping) = watch::channel(false);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let source =
        KeySource { auth_url: args.auth_url.clone(), issuer: args.issuer.clone(), audience: args.audience.clone() };
    let keys = source.connect(&client, Duration::from_secs(60)).await?;
    let refresher = source.follow(client, keys.clone(), Duration::from_secs(60), stopping);

    let gateway = CmsGateway::new(keys, limiter, config, Some(metrics))?;
    let listener = tokio::net::TcpListener::bind(&args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    tracing::info!(addr = %args.addr, cms = %args.cms_url, auth = %args.auth_url, "gateway-cms listening");
    platform::http::serve(listener, move |request| Arc::clone(&gateway).handle(request), shutdown).await?;
    let _ = stop.send(true);
    let _ = refresher.await;
    tracing::info!("gateway-cms stopped");
    Ok(())
}
