//! gateway-cms: the editors' API in front of cms-core (`MEDIAMESH_CMS_URL`) and auth
//! (`MEDIAMESH_AUTH_URL`), whose key set it follows to check tokens. Rate limits are shared
//! through Redis when `MEDIAMESH_REDIS_URL` is set and kept in-process otherwise.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use auth::KeySource;
use clap::Parser;
use gateway_cms::{CmsGateway, CmsGatewayConfig, default_policies};
use platform::ratelimit::RateLimiter;
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(name = "gateway-cms", about = "MediaMesh CMS gateway")]
struct Cli {
    #[arg(long, env = "MEDIAMESH_CMS_GATEWAY_ADDR", default_value = "127.0.0.1:8081")]
    addr: String,
    #[arg(long, env = "MEDIAMESH_CMS_URL", default_value = "http://127.0.0.1:8082")]
    cms_url: String,
    #[arg(long, env = "MEDIAMESH_AUTH_URL", default_value = "http://127.0.0.1:8083")]
    auth_url: String,
    #[arg(long, env = "MEDIAMESH_AUTH_ISSUER", default_value = "mediamesh-auth")]
    issuer: String,
    #[arg(long, env = "MEDIAMESH_AUTH_AUDIENCE", default_value = "mediamesh")]
    audience: String,
    #[arg(long, env = "MEDIAMESH_REDIS_URL")]
    redis_url: Option<String>,
    /// While Redis is unreachable: `local` (limit in this process) or `closed` (refuse, 503).
    #[arg(long, env = "MEDIAMESH_RATE_LIMIT_FAIL", default_value = "local")]
    rate_limit_fail: String,
    /// Policy overrides, e.g. `login=5/m,refresh=30/m,cms_write=120/m,cms_read=600/m:300`.
    #[arg(long, env = "MEDIAMESH_CMS_RATE_LIMITS", default_value = "")]
    rate_limits: String,
    /// Proxies whose X-Forwarded-For is believed, comma-separated.
    #[arg(long, env = "MEDIAMESH_TRUSTED_PROXIES", default_value = "")]
    trusted_proxies: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MEDIAMESH_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    let metrics = platform::metrics::install("gateway-cms");
    let mut config = CmsGatewayConfig::new(cli.auth_url.clone(), cli.cms_url.clone());
    config.policies = default_policies().with_overrides(&cli.rate_limits).map_err(anyhow::Error::msg)?;
    config.trusted_proxies = platform::http::parse_ips(&cli.trusted_proxies).map_err(anyhow::Error::msg)?;
    let limiter =
        RateLimiter::configured("cms", cli.redis_url.as_deref(), &cli.rate_limit_fail).map_err(anyhow::Error::msg)?;
    let (stop, stopping) = watch::channel(false);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let source =
        KeySource { auth_url: cli.auth_url.clone(), issuer: cli.issuer.clone(), audience: cli.audience.clone() };
    let keys = source.connect(&client, Duration::from_secs(60)).await?;
    let refresher = source.follow(client, keys.clone(), Duration::from_secs(60), stopping);

    let gateway = CmsGateway::new(keys, limiter, config, Some(metrics))?;
    let listener = tokio::net::TcpListener::bind(&cli.addr).await.with_context(|| format!("binding {}", cli.addr))?;
    tracing::info!(addr = %cli.addr, cms = %cli.cms_url, auth = %cli.auth_url, "gateway-cms listening");
    platform::http::serve(listener, move |request| Arc::clone(&gateway).handle(request), platform::shutdown_signal())
        .await?;
    let _ = stop.send(true);
    let _ = refresher.await;
    tracing::info!("gateway-cms stopped");
    Ok(())
}
