//! gateway-cms's tests, against the real auth service and cms-core served over HTTP.

mod forwarding;
mod openapi;
mod rbac;
mod resilience;
mod world;
