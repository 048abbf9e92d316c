//! Identity for MediaMesh: users, login, refresh-token rotation, JWT issuing, and the verification
//! library (`Claims`, `Role`, `require`) that gateways and services share.
//!
//! Tokens are EdDSA (Ed25519) JWTs with a `kid` header, an issuer and an audience. Verification pins
//! the algorithm, checks `exp`, `nbf`, `iss` and `aud` with a small leeway, and only trusts keys from
//! the JSON Web Key Set the auth service publishes, so a token signed any other way (`alg: none`,
//! HS256 keyed with the public key, an unknown key) is refused. Other services follow that set
//! with [`KeySource`].
#![forbid(unsafe_code)]

mod api;
mod error;
pub mod forms;
mod keys;
mod role;
pub mod server;
mod service;
mod token;

pub use api::AuthApi;
pub use error::{AuthError, Result};
pub use keys::{KeySource, Keys, TokenArgs};
pub use role::{Role, require};
pub use service::{AuthConfig, AuthService, ServiceError, TokenPair, User};
pub use token::{Claims, JwkSet, LEEWAY_SECONDS, PublicJwk, SigningKey, TokenIssuer, Verifier};
