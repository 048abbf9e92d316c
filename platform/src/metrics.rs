//! Prometheus metrics: one recorder per process, rendered by each service's `GET /metrics`.
//!
//! Code everywhere records through the `metrics` macros; a process that never installs the
//! recorder (a library under test, a benchmark) records into nothing at no cost.

use std::sync::OnceLock;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::http::Response;

/// Histogram buckets, in seconds, fitting both request latencies and freshness.
const SECONDS_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same handle). Every series gets
/// a `service` label. Histograms are Prometheus histograms with [`SECONDS_BUCKETS`], except
/// `*_size` ones, which count items.
pub fn install(service: &str) -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .add_global_label("service", service)
                .set_buckets(SECONDS_BUCKETS)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Suffix("_size".into()),
                        &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0],
                    )
                })
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics shows only this one's");
            }
            handle
        })
        .clone()
}

/// The Prometheus text exposition of everything recorded so far.
pub fn render(handle: &PrometheusHandle) -> Response {
    handle.run_upkeep();
    let mut response = hyper::Response::new(Full::new(Bytes::from(handle.render())));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// `GET /metrics` for this process's recorder; `None` when none was installed.
pub fn current() -> Option<Response> {
    HANDLE.get().map(render)
}
