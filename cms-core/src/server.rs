//! cms-core as a process: configuration (flags or `MEDIAMESH_*` variables) and the function that
//! runs it — the HTTP API, the scheduler that publishes scheduled items when their date comes, and,
//! when Kafka is configured, the outbox relay — until told to stop. The `cms-core` binary and
//! `mediamesh cms-core` / `mediamesh up` run this.
//!
//! Callers' tokens are checked against the auth service's key set (`MEDIAMESH_AUTH_URL`), fetched
//! at start and refreshed every minute so key rotations are picked up.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::{Cms, CmsApi, Outbox, Relay, RelayConfig, Store};

/// cms-core's configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long, env = "MEDIAMESH_DATABASE_URL")]
    pub database_url: Option<String>,
    #[arg(long, env = "MEDIAMESH_CMS_ADDR", default_value = "127.0.0.1:8082")]
    pub addr: String,
    /// Where the auth service publishes its key set.
    #[arg(long, env = "MEDIAMESH_AUTH_URL", default_value = "http://127.0.0.1:8083")]
    pub auth_url: String,
    #[command(flatten)]
    pub tokens: auth::TokenArgs,
    /// Kafka brokers; without them no relay runs (the embedded indexer reads the outbox).
    #[arg(long, env = "MEDIAMESH_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Partitions of the content topic when cms-core creates it (it never changes an existing one).
    #[arg(long, env = "MEDIAMESH_KAFKA_PARTITIONS", default_value_t = 6)]
    pub kafka_partitions: i32,
}

/// Runs the API, the scheduler and (with brokers) the relay until `shutdown` resolves; then stops
/// accepting, lets requests finish, and lets the relay flush what it has taken.
pub async fn run(args: Args, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    platform::metrics::install("cms-core");
    let url = args.database_url.clone().unwrap_or_else(platform::db::default_database_url);
    let store = Store::connect(&url).await.with_context(|| format!("opening {url}"))?;
    let cms = Cms::new(store.clone());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let source = args.tokens.source(&args.auth_url);
    let keys = source.connect(&client, Duration::from_secs(60)).await?;
    let api = CmsApi::with_broker(cms.clone(), keys.clone(), args.kafka_brokers.clone());
    let (stop, stopping) = watch::channel(false);
    // Key rotations: refresh the key set every minute.
    let refresher = source.follow(client, keys, Duration::from_secs(60), stopping.clone());
    let scheduler = tokio::spawn(schedule(cms, stopping.clone()));
    let gauges = tokio::spawn(report_outbox(Outbox::new(store.clone()), stopping.clone()));
    let relay = match &args.kafka_brokers {
        Some(brokers) => {
            ensure_topics(brokers, args.kafka_partitions).await?;
            let relay = Relay::new(Outbox::new(store), RelayConfig::new(brokers.clone()))?;
            tracing::info!(brokers = %brokers, "relaying the outbox to Kafka");
            Some(tokio::spawn(relay.run(stopping.clone())))
        }
        None => None,
    };

    let listener = tokio::net::TcpListener::bind(&args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    tracing::info!(addr = %args.addr, "cms-core listening");
    platform::http::serve(listener, move |request| Arc::clone(&api).handle(request), shutdown).await?;
    let _ = stop.send(true);
    let _ = refresher.await;
    let _ = scheduler.await;
    let _ = gauges.await;
    if let Some(relay) = relay {
        relay.await??;
    }
    tracing::info!("cms-core stopped");
    Ok(())
}

/// Publishes scheduled items when their date comes, every second until `stopping` (safe to run
/// anywhere, any number of times).
pub async fn schedule(cms: Cms, mut stopping: watch::Receiver<bool>) {
    loop {
        match cms.publish_due(chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(published) => tracing::info!(published, "scheduled items published"),
            Err(error) => tracing::warn!(error = %error, "scheduler pass failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopping.changed() => break,
        }
    }
}

/// `outbox_backlog_rows` and `outbox_oldest_age_seconds`, every five seconds until `stopping`.
pub async fn report_outbox(outbox: Outbox, mut stopping: watch::Receiver<bool>) {
    loop {
        if let Ok(backlog) = outbox.backlog().await {
            metrics::gauge!("outbox_backlog_rows").set(backlog.rows as f64);
            metrics::gauge!("outbox_oldest_age_seconds").set(backlog.oldest_age_millis as f64 / 1000.0);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stopping.changed() => break,
        }
    }
}

/// Creates the content topic and its dead-letter topic when the broker has neither (a new
/// cluster); existing topics are left as they are.
pub async fn ensure_topics(brokers: &str, partitions: i32) -> anyhow::Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::types::RDKafkaErrorCode;

    let admin: AdminClient<DefaultClientContext> =
        rdkafka::ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let topics = [
        NewTopic::new(contracts::CONTENT_TOPIC, partitions.max(1), TopicReplication::Fixed(1)),
        NewTopic::new(contracts::CONTENT_DLQ_TOPIC, 1, TopicReplication::Fixed(1)),
    ];
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&topics, &options).await? {
        match result {
            Ok(topic) => tracing::info!(topic = %topic, "created the topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("cannot create topic {topic}: {code:?}"),
        }
    }
    Ok(())
}

/// Whether the Kafka brokers answer a metadata request within two seconds (for `/readyz`).
pub async fn broker_reachable(brokers: &str) -> Result<(), String> {
    use rdkafka::producer::{BaseProducer, Producer};

    let brokers = brokers.to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let producer: BaseProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .map_err(|error| error.to_string())?;
        producer
            .client()
            .fetch_metadata(Some(contracts::CONTENT_TOPIC), Duration::from_secs(2))
            .map(|_| ())
            .map_err(|error| error.to_string())
    })
    .await;
    answer.map_err(|error| error.to_string())?
}
