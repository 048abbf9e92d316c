//! Following the auth service's key set from another process: fetch the JSON Web Key Set at start
//! (waiting a while for the auth service to come up), then refresh it on a cadence so a key
//! rotation is picked up without a restart. A failed refresh keeps the last good set.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::token::{JwkSet, Verifier};

/// The verifier a service checks tokens with; cheap to clone, replaced when the keys change.
#[derive(Debug, Clone)]
pub struct Keys {
    current: Arc<RwLock<Arc<Verifier>>>,
}

impl Keys {
    pub fn new(verifier: Verifier) -> Self {
        Self { current: Arc::new(RwLock::new(Arc::new(verifier))) }
    }

    pub fn verifier(&self) -> Arc<Verifier> {
        Arc::clone(&self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    pub fn replace(&self, verifier: Verifier) {
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(verifier);
    }
}

impl From<Verifier> for Keys {
    fn from(verifier: Verifier) -> Self {
        Self::new(verifier)
    }
}

/// What the tokens a service accepts must say: flags or variables every service that verifies
/// tokens takes.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    #[arg(long, env = "MEDIAMESH_AUTH_ISSUER", default_value = "mediamesh-auth")]
    pub issuer: String,
    #[arg(long, env = "MEDIAMESH_AUTH_AUDIENCE", default_value = "mediamesh")]
    pub audience: String,
}

impl TokenArgs {
    /// The key set of the auth service at `auth_url`, for tokens saying this.
    pub fn source(&self, auth_url: &str) -> KeySource {
        KeySource { auth_url: auth_url.to_owned(), issuer: self.issuer.clone(), audience: self.audience.clone() }
    }
}

/// Where the auth service publishes its keys, and what tokens must say.
#[derive(Debug, Clone)]
pub struct KeySource {
    /// The auth service's base URL; the set is at `/.well-known/jwks.json`.
    pub auth_url: String,
    pub issuer: String,
    pub audience: String,
}

impl KeySource {
    fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.auth_url.trim_end_matches('/'))
    }

    async fn fetch(&self, client: &reqwest::Client) -> anyhow::Result<Verifier> {
        let set: JwkSet = client.get(self.jwks_url()).send().await?.error_for_status()?.json().await?;
        Ok(Verifier::new(&set, &self.issuer, &self.audience)?)
    }

    /// The first key set, waiting up to `patience` for the auth service to answer.
    pub async fn connect(&self, client: &reqwest::Client, patience: Duration) -> anyhow::Result<Keys> {
        let deadline = tokio::time::Instant::now() + patience;
        let mut pause = Duration::from_millis(100);
        loop {
            match self.fetch(client).await {
                Ok(verifier) => return Ok(Keys::new(verifier)),
                Err(error) if tokio::time::Instant::now() < deadline => {
                    tracing::info!(error = %error, url = %self.jwks_url(), "waiting for the auth service's key set");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(error) => return Err(error.context(format!("fetching {}", self.jwks_url()))),
            }
        }
    }

    /// Refreshes `keys` every `every` until `stopping` turns true.
    pub fn follow(
        self,
        client: reqwest::Client,
        keys: Keys,
        every: Duration,
        mut stopping: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = stopping.changed() => break,
                }
                match self.fetch(&client).await {
                    Ok(verifier) => keys.replace(verifier),
                    Err(error) => tracing::warn!(error = %error, "could not refresh the key set; keeping the last one"),
                }
            }
        })
    }
}
