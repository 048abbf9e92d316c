//! gateway-public: the discovery API over this node's index replica.
//!
//! It reads the index the indexer keeps under `MEDIAMESH_DATA_DIR/index` (or `MEDIAMESH_INDEX_DIR`),
//! picking up each commit within tens of milliseconds; tokens are checked against the auth
//! service's key set when `MEDIAMESH_AUTH_URL` is set; rate limits are shared through Redis when
//! `MEDIAMESH_REDIS_URL` is set and kept in-process otherwise.
//!
//! The binary and `mediamesh` run [`run`].

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cdn::{CachePolicy, Cors};
use crate::{PublicApi, PublicConfig, default_policies};
use anyhow::Context;
use engine::{EngineConfig, Replica};
use tokio::sync::watch;

/// The gateway's configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long, env = "MEDIAMESH_PUBLIC_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// The index root (default: MEDIAMESH_DATA_DIR/index).
    #[arg(long, env = "MEDIAMESH_INDEX_DIR")]
    pub index: Option<PathBuf>,
    /// The auth service, for its key set; without it only anonymous calls are accepted.
    #[arg(long, env = "MEDIAMESH_AUTH_URL")]
    pub auth_url: Option<String>,
    #[command(flatten)]
    pub tokens: auth::TokenArgs,
    #[command(flatten)]
    pub limits: platform::ratelimit::LimitArgs,
    /// Policy overrides, e.g. `search=20/s:40,search_user=100/s:200,browse=50/s:100`.
    #[arg(long, env = "MEDIAMESH_PUBLIC_RATE_LIMITS", default_value = "")]
    pub rate_limits: String,
    /// Turns rate limiting off (load tests of the engine path).
    #[arg(long, env = "MEDIAMESH_RATE_LIMITS_OFF")]
    pub no_rate_limits: bool,
    /// Artwork URLs are served through this CDN base when set.
    #[arg(long, env = "MEDIAMESH_CDN_BASE_URL")]
    pub cdn_base_url: Option<String>,
    /// Browser origins allowed to call the API (`*` for any).
    #[arg(long, env = "MEDIAMESH_CORS_ORIGINS", default_value = "*")]
    pub cors_origins: String,
    /// Proxies whose X-Forwarded-For is believed, comma-separated.
    #[arg(long, env = "MEDIAMESH_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Seconds browsers may cache an answer.
    #[arg(long, env = "MEDIAMESH_CACHE_MAX_AGE", default_value_t = 10)]
    pub max_age: u32,
    /// Seconds CDNs may cache an answer.
    #[arg(long, env = "MEDIAMESH_CACHE_S_MAXAGE", default_value_t = 30)]
    pub s_maxage: u32,
    /// MiB the engine may keep of its own results. Rendered pages are cached by the gateway (a
    /// repeated request never reaches the engine), so the engine needs little: facets shared by the
    /// pages of one browse, and suggestions. A large one only churns under unique queries.
    #[arg(long, env = "MEDIAMESH_ENGINE_CACHE_MB", default_value_t = 8)]
    pub engine_cache_mb: u64,
    /// How often the index is checked for new commits, in milliseconds.
    #[arg(long, env = "MEDIAMESH_INDEX_SYNC_MS", default_value_t = 20)]
    pub sync_ms: u64,
}

/// Serves until `shutdown` resolves; then stops accepting and lets requests in flight finish.
pub async fn run(args: Args, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    let metrics = platform::metrics::install("gateway-public");
    let root = args.index.clone().unwrap_or_else(|| {
        PathBuf::from(std::env::var("MEDIAMESH_DATA_DIR").unwrap_or_else(|_| "data".into())).join("index")
    });
    let replica = Arc::new(
        Replica::open(&root, EngineConfig { cache_bytes: args.engine_cache_mb << 20, ..EngineConfig::default() })
            .with_context(|| format!("opening the index at {}", root.display()))?,
    );
    let (stop, stopping) = watch::channel(false);

    let mut config = PublicConfig {
        cache: CachePolicy { max_age: args.max_age, s_maxage: args.s_maxage, ..CachePolicy::default() },
        cdn_base_url: args.cdn_base_url.clone().filter(|url| !url.is_empty()),
        cors: Cors::parse(&args.cors_origins),
        rate_limits: !args.no_rate_limits,
        ..PublicConfig::default()
    };
    config.policies = default_policies().with_overrides(&args.rate_limits).map_err(anyhow::Error::msg)?;
    config.trusted_proxies = platform::http::parse_ips(&args.trusted_proxies).map_err(anyhow::Error::msg)?;
    let limiter = args.limits.limiter("public").map_err(anyhow::Error::msg)?;
    let (keys, refresher) = match &args.auth_url {
        Some(auth_url) => {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
            let source = args.tokens.source(auth_url);
            let keys = source.connect(&client, Duration::from_secs(60)).await?;
            let refresher = source.follow(client, keys.clone(), Duration::from_secs(60), stopping.clone());
            (Some(keys), Some(refresher))
        }
        None => {
            tracing::info!("no MEDIAMESH_AUTH_URL: anonymous calls only");
            (None, None)
        }
    };

    // Follows the indexer's commits and generation switches on its own thread.
    let syncer = {
        let replica = Arc::clone(&replica);
        let stopping = stopping.clone();
        let every = Duration::from_millis(args.sync_ms.max(1));
        std::thread::spawn(move || {
            while !*stopping.borrow() {
                if let Err(error) = replica.sync() {
                    tracing::warn!(error = %error, "could not follow the index");
                }
                std::thread::sleep(every);
            }
        })
    };

    let api = PublicApi::new(Arc::clone(&replica), keys, limiter, config, Some(metrics));
    let listener = tokio::net::TcpListener::bind(&args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    tracing::info!(addr = %args.addr, index = %root.display(), "gateway-public listening");
    platform::http::serve(listener, move |request| Arc::clone(&api).handle(request), shutdown).await?;
    let _ = stop.send(true);
    if let Some(refresher) = refresher {
        let _ = refresher.await;
    }
    let _ = syncer.join();
    tracing::info!("gateway-public stopped");
    Ok(())
}
