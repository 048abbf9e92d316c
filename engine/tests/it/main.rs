//! The engine's integration tests: one binary, modules by area. Each test builds a real index in a
//! temporary directory.

mod feeds;
mod robustness;
mod search;
mod support;
mod writes;
