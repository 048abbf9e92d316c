//! The CMS service: its HTTP API, the scheduler that publishes scheduled items when their date
//! comes, and (when `MEDIAMESH_KAFKA_BROKERS` is set) the outbox relay to Kafka.
//!
//! Callers' tokens are checked against the auth service's key set (`MEDIAMESH_AUTH_URL`), fetched
//! at start and refreshed every minute so key rotations are picked up.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use auth::KeySource;
use clap::Parser;
use cms_core::{Cms, CmsApi, Outbox, Relay, RelayConfig, Store};
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(name = "cms-core", about = "MediaMesh CMS service")]
struct Cli {
    #[arg(long, env = "MEDIAMESH_DATABASE_URL")]
    database_url: Option<String>,
    #[arg(long, env = "MEDIAMESH_CMS_ADDR", default_value = "127.0.0.1:8082")]
    addr: String,
    /// Where the auth service publishes its key set.
    #[arg(long, env = "MEDIAMESH_AUTH_URL", default_value = "http://127.0.0.1:8083")]
    auth_url: String,
    #[arg(long, env = "MEDIAMESH_AUTH_ISSUER", default_value = "mediamesh-auth")]
    issuer: String,
    #[arg(long, env = "MEDIAMESH_AUTH_AUDIENCE", default_value = "mediamesh")]
    audience: String,
    /// Kafka brokers; without them no relay runs (the embedded indexer reads the outbox).
    #[arg(long, env = "MEDIAMESH_KAFKA_BROKERS")]
    kafka_brokers: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MEDIAMESH_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    let url = cli.database_url.clone().unwrap_or_else(platform::db::default_database_url);
    let store = Store::connect(&url).await.with_context(|| format!("opening {url}"))?;
    let cms = Cms::new(store.clone());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let source =
        KeySource { auth_url: cli.auth_url.clone(), issuer: cli.issuer.clone(), audience: cli.audience.clone() };
    let keys = source.connect(&client, Duration::from_secs(60)).await?;
    let api = CmsApi::new(cms.clone(), keys.clone());
    let (stop, stopping) = watch::channel(false);
    // Key rotations: refresh the key set every minute.
    let refresher = source.follow(client, keys, Duration::from_secs(60), stopping.clone());

    // The scheduler: publishes scheduled items when their date comes (safe to run anywhere, any
    // number of times).
    let scheduler = {
        let cms = cms.clone();
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            loop {
                match cms.publish_due(chrono::Utc::now()).await {
                    Ok(0) => {}
                    Ok(published) => tracing::info!(published, "scheduled items published"),
                    Err(error) => tracing::warn!(error = %error, "scheduler pass failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopping.changed() => break,
                }
            }
        })
    };

    let relay = match &cli.kafka_brokers {
        Some(brokers) => {
            let relay = Relay::new(Outbox::new(store), RelayConfig::new(brokers.clone()))?;
            tracing::info!(brokers = %brokers, "relaying the outbox to Kafka");
            Some(tokio::spawn(relay.run(stopping.clone())))
        }
        None => None,
    };

    let listener = tokio::net::TcpListener::bind(&cli.addr).await.with_context(|| format!("binding {}", cli.addr))?;
    tracing::info!(addr = %cli.addr, "cms-core listening");
    platform::http::serve(listener, move |request| Arc::clone(&api).handle(request), platform::shutdown_signal())
        .await?;
    let _ = stop.send(true);
    let _ = refresher.await;
    let _ = scheduler.await;
    if let Some(relay) = relay {
        relay.await??;
    }
    Ok(())
}
