//! Latency percentiles, throughput, memory, and the one-line JSON report every scenario prints.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// One scenario's figures; fields that do not apply are left out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub scenario: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p90_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docs_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
}

impl Report {
    pub fn new(scenario: impl Into<String>) -> Self {
        Self { scenario: scenario.into(), ..Self::default() }
    }

    /// Fills the latency fields and the rate from a run.
    pub fn with_latencies(mut self, run: &Run) -> Self {
        let mut sorted = run.latencies.clone();
        sorted.sort_unstable();
        let at = |q: f64| {
            sorted.get(((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1)).map(|d| d.as_micros() as u64)
        };
        self.p50_us = at(0.50);
        self.p90_us = at(0.90);
        self.p99_us = at(0.99);
        self.max_us = sorted.last().map(|d| d.as_micros() as u64);
        self.qps = Some(run.latencies.len() as f64 / run.wall.as_secs_f64().max(1e-9));
        self
    }

    /// Prints the report: one JSON object, or an aligned human line.
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string(self).unwrap_or_default());
            return;
        }
        let mut line = format!("{:<28}", self.scenario);
        let mut push = |label: &str, value: Option<String>| {
            if let Some(value) = value {
                line.push_str(&format!(" {label}={value}"));
            }
        };
        push("docs", self.docs.map(|v| v.to_string()));
        push("p50", self.p50_us.map(|v| format!("{v}µs")));
        push("p90", self.p90_us.map(|v| format!("{v}µs")));
        push("p99", self.p99_us.map(|v| format!("{v}µs")));
        push("max", self.max_us.map(|v| format!("{v}µs")));
        push("qps", self.qps.map(|v| format!("{v:.0}")));
        push("docs/s", self.docs_per_s.map(|v| format!("{v:.0}")));
        push("rss", self.rss_bytes.map(|v| format!("{:.0}MiB", v as f64 / 1048576.0)));
        println!("{line}");
    }
}

/// Latencies of one run and its wall-clock time.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub latencies: Vec<Duration>,
    pub wall: Duration,
}

/// Calls `work(i)` for `i` in `0..count` on `concurrency` threads, timing each call.
pub fn run_concurrent<E>(
    count: usize,
    concurrency: usize,
    work: impl Fn(usize) -> Result<(), E> + Sync,
) -> Result<Run, E>
where
    E: Send,
{
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let per_thread: Vec<Result<Vec<Duration>, E>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..concurrency.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut latencies = Vec::with_capacity(count / concurrency.max(1) + 1);
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= count {
                            return Ok(latencies);
                        }
                        let start = Instant::now();
                        work(index)?;
                        latencies.push(start.elapsed());
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let wall = started.elapsed();
    let mut latencies = Vec::with_capacity(count);
    for result in per_thread {
        latencies.extend(result?);
    }
    Ok(Run { latencies, wall })
}

/// Resident set size of this process (Linux), including mapped index files that are resident.
pub fn rss_bytes() -> Option<u64> {
    status_kib("VmRSS:").map(|kib| kib * 1024)
}

/// Peak resident set size of this process (Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// A `kB` line of `/proc/self/status`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_sorted_latencies() {
        let run = Run { latencies: (1..=100).rev().map(Duration::from_micros).collect(), wall: Duration::from_secs(1) };
        let report = Report::new("x").with_latencies(&run);
        assert_eq!(
            (report.p50_us, report.p90_us, report.p99_us, report.max_us),
            (Some(50), Some(90), Some(99), Some(100))
        );
        assert_eq!(report.qps, Some(100.0));
    }

    #[test]
    fn every_call_runs_once() {
        let seen = std::sync::Mutex::new(Vec::new());
        let run = run_concurrent::<()>(500, 4, |i| {
            seen.lock().map_err(|_| ())?.push(i);
            Ok(())
        })
        .expect("runs");
        let mut seen = seen.into_inner().expect("not poisoned");
        seen.sort_unstable();
        assert_eq!(seen, (0..500).collect::<Vec<_>>());
        assert_eq!(run.latencies.len(), 500);
    }
}
