//! The indexer against the real CMS write path: fed from its outbox (embedded mode), and through
//! the relay and a real broker (tansu; `integration` feature).

mod cms;
mod embedded;
#[cfg(feature = "integration")]
mod kafka;
#[cfg(feature = "integration")]
mod process;

/// Tests whose consumer groups rebalance run one at a time (the process tests, and the two
/// indexers of `kafka`): each starts a broker and indexers, and on two cores a tansu starved of CPU
/// answers group heartbeats late enough to look dead, after which tansu 0.6 may never complete the
/// group's rebalance.
#[cfg(feature = "integration")]
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(feature = "integration")]
fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
