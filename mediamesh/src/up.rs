//! `mediamesh up`: auth, cms-core, the indexer, gateway-public and gateway-cms in one process, each
//! exactly as its own binary runs it (the same `run` functions, talking over loopback HTTP), with
//! one data directory and one stop signal.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tokio::sync::watch;

/// `mediamesh up`'s configuration; each service also reads its own `MEDIAMESH_*` variables.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Where the SQLite database and the index live.
    #[arg(long, env = "MEDIAMESH_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Load a sample catalog (a few hundred programs and episodes) through the CMS when it is empty.
    #[arg(long)]
    pub demo: bool,
    #[arg(long, env = "MEDIAMESH_PUBLIC_ADDR", default_value = "127.0.0.1:8080")]
    pub public_addr: String,
    #[arg(long, env = "MEDIAMESH_CMS_GATEWAY_ADDR", default_value = "127.0.0.1:8081")]
    pub cms_gateway_addr: String,
    #[arg(long, env = "MEDIAMESH_CMS_ADDR", default_value = "127.0.0.1:8082")]
    pub cms_addr: String,
    #[arg(long, env = "MEDIAMESH_AUTH_ADDR", default_value = "127.0.0.1:8083")]
    pub auth_addr: String,
    #[arg(long, env = "MEDIAMESH_INDEXER_ADDR", default_value = "127.0.0.1:8084")]
    pub indexer_addr: String,
}

/// A service's flags and variables as its own binary would read them, with no arguments.
fn from_env<A: clap::Args>() -> anyhow::Result<A> {
    #[derive(Parser)]
    struct Wrapper<A: clap::Args> {
        #[command(flatten)]
        args: A,
    }
    Ok(Wrapper::<A>::try_parse_from(["mediamesh"])?.args)
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    platform::metrics::install("mediamesh");
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let default_url = format!("sqlite://{}", args.data_dir.join("mediamesh.db").display());
    let index = args.data_dir.join("index");
    let auth_url = format!("http://{}", args.auth_addr);
    let (stop, stopping) = watch::channel(false);

    let mut auth: auth::server::Args = from_env()?;
    auth.addr = args.auth_addr.clone();
    let database_url = auth.database_url.clone().unwrap_or(default_url);
    auth.database_url = Some(database_url.clone());
    if auth.admin_email.is_none() {
        tracing::warn!(
            "no MEDIAMESH_ADMIN_EMAIL / MEDIAMESH_ADMIN_PASSWORD: no ADMIN is created, so nobody can log in"
        );
    }

    let mut cms: cms_core::server::Args = from_env()?;
    cms.addr = args.cms_addr.clone();
    cms.auth_url = auth_url.clone();
    cms.database_url = Some(database_url.clone());

    let mut indexer: indexer::daemon::Args = from_env()?;
    indexer.addr = args.indexer_addr.clone();
    indexer.database_url = Some(database_url.clone());
    indexer.index = Some(index.clone());

    let mut public: gateway_public::server::Args = from_env()?;
    public.addr = args.public_addr.clone();
    public.index = Some(index.clone());
    public.auth_url = Some(auth_url.clone());

    let mut editors: gateway_cms::server::Args = from_env()?;
    editors.addr = args.cms_gateway_addr.clone();
    editors.auth_url = auth_url.clone();
    editors.cms_url = format!("http://{}", args.cms_addr);

    // The services share one database: migrate it once, before they open it concurrently.
    cms_core::Store::connect(&database_url).await.with_context(|| format!("opening {database_url}"))?;
    auth::AuthService::open(&database_url, auth::AuthConfig::default())
        .await
        .with_context(|| format!("opening {database_url}"))?;
    // The index root exists before its writer and its reader open it.
    engine::Replica::open(&index, engine::EngineConfig::default())
        .with_context(|| format!("opening the index at {}", index.display()))?;
    let mut tasks = tokio::task::JoinSet::new();
    let s = stopping.clone();
    tasks.spawn(async move { ("auth", auth::server::run(auth, platform::stopped(s)).await) });
    let s = stopping.clone();
    tasks.spawn(async move { ("cms-core", cms_core::server::run(cms, platform::stopped(s)).await) });
    let s = stopping.clone();
    let indexer_thread = std::thread::spawn(move || indexer::daemon::run_daemon(indexer, false, s));
    let s = stopping.clone();
    tasks.spawn(async move { ("gateway-public", gateway_public::server::run(public, platform::stopped(s)).await) });
    let s = stopping.clone();
    tasks.spawn(async move { ("gateway-cms", gateway_cms::server::run(editors, platform::stopped(s)).await) });

    if args.demo {
        let url = database_url.clone();
        let health = format!("http://{}/healthz", args.cms_addr);
        tasks.spawn(async move {
            let loaded = crate::demo::load_when_ready(&url, &health).await;
            match &loaded {
                Ok(0) => tracing::info!("the CMS has content already; no demo catalog loaded"),
                Ok(items) => tracing::info!(items, "demo catalog loaded through the CMS"),
                Err(error) => tracing::error!(error = %error, "loading the demo catalog failed"),
            }
            ("demo", loaded.map(|_| ()))
        });
    }
    tracing::info!(
        discovery = %format!("http://{}", args.public_addr),
        editors = %format!("http://{}", args.cms_gateway_addr),
        data = %args.data_dir.display(),
        "MediaMesh is starting: discovery API, editors' API"
    );

    // Until a signal, or until a service fails (the demo loader finishing is not a failure).
    let signal = platform::shutdown_signal();
    tokio::pin!(signal);
    let mut failure = None;
    loop {
        tokio::select! {
            () = &mut signal => break,
            finished = tasks.join_next() => match finished {
                Some(Ok(("demo", Ok(())))) => continue,
                Some(Ok((name, Ok(())))) => { failure = Some(anyhow::anyhow!("{name} stopped on its own")); break }
                Some(Ok((name, Err(error)))) => { failure = Some(error.context(format!("{name} failed"))); break }
                Some(Err(error)) => { failure = Some(anyhow::anyhow!("a service panicked: {error}")); break }
                None => break,
            },
        }
    }
    tracing::info!("stopping every service");
    let _ = stop.send(true);
    let drain = async {
        while let Some(finished) = tasks.join_next().await {
            if let Ok((name, Err(error))) = finished {
                tracing::warn!(service = name, error = %error, "stopped with an error");
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(30), drain).await.is_err() {
        tracing::warn!("some services did not stop within 30 s");
    }
    match tokio::task::spawn_blocking(move || indexer_thread.join()).await {
        Ok(Ok(Err(error))) => tracing::warn!(error = %error, "the indexer stopped with an error"),
        Ok(Err(_)) => tracing::warn!("the indexer panicked"),
        _ => {}
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(()),
    }
}
