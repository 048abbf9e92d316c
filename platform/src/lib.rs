//! Runtime plumbing shared by MediaMesh's services: the database connection (one `sqlx` code path
//! over SQLite and PostgreSQL), and, as the services arrive, telemetry, the hyper server skeleton,
//! resilience (retry and circuit breaker) and rate limiting.
//!
//! It holds no domain logic and defines no wire types (those live in `contracts`), and runs no
//! migrations of its own: each service owns its tables.
#![forbid(unsafe_code)]

pub mod db;
pub mod http;
pub mod metrics;
pub mod ratelimit;
pub mod resilience;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

/// The memory allocator every MediaMesh binary installs (`#[global_allocator] static ALLOCATOR:
/// platform::Allocator = platform::Allocator;` in its `main.rs`). A query allocates and frees many
/// small buffers on every worker thread at once; glibc's allocator spent about a tenth of
/// gateway-public's time under unique-query load on its arenas' locks and bookkeeping.
pub use mimalloc::MiMalloc as Allocator;

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Resolves when `stopping` turns true (or its sender is gone): a shutdown future for one of
/// several services sharing one stop signal.
pub async fn stopped(mut stopping: tokio::sync::watch::Receiver<bool>) {
    while !*stopping.borrow() {
        if stopping.changed().await.is_err() {
            return;
        }
    }
}
