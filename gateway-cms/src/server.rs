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
    #[command(flatten)]
    pub tokens: auth::TokenArgs,
    #[command(flatten)]
    pub limits: platform::ratelimit::LimitArgs,
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
    let limiter = args.limits.limiter("cms").map_err(anyhow::Error::msg)?;
    let (stop, stopping) = watch::channel(false);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let source = args.tokens.source(&args.auth_url);
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
