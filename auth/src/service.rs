//! The auth service's logic over its store: users, login, refresh-token rotation, logout, the
//! published key set and key rotation.
//!
//! Refresh tokens are opaque random strings stored only as SHA-256 hashes. Each use rotates the
//! token: the old one is marked used and a new one of the same family is issued. Presenting a used
//! token again means it was stolen (or replayed), so the whole family is revoked and both the thief
//! and the user must log in again. Disabling a user revokes their tokens.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use platform::db::{Database, now_millis};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::AuthError;
use crate::role::{Role, require};
use crate::token::{Claims, JwkSet, SigningKey, TokenIssuer, Verifier};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A field failed validation.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error("user {0} does not exist")]
    NotFound(String),
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("store migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

type Result<T, E = ServiceError> = std::result::Result<T, E>;

impl ServiceError {
    pub fn to_problem(&self) -> contracts::Problem {
        use contracts::{ErrorCode, Problem};
        match self {
            Self::Auth(error) => error.to_problem(),
            Self::Invalid { field, message } => Problem::for_field(ErrorCode::ValidationFailed, *field, message),
            Self::Conflict(message) => Problem::new(ErrorCode::Conflict, message.clone()),
            Self::NotFound(_) => Problem::new(ErrorCode::NotFound, self.to_string()),
            Self::Store(_) | Self::Migration(_) => {
                Problem::new(ErrorCode::Internal, "the user store failed; see the logs")
            }
        }
    }
}

/// How tokens are issued.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
    /// A rotated-in key is published this long before it signs, so every verifier (which refetch
    /// the key set every minute) knows it before the first token it signs arrives.
    pub key_activation_delay_seconds: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "mediamesh-auth".into(),
            audience: "mediamesh".into(),
            access_ttl_seconds: 15 * 60,
            refresh_ttl_seconds: 30 * 24 * 3600,
            key_activation_delay_seconds: 120,
        }
    }
}

/// A user as the API shows them (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
}

/// What a login or a refresh returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

/// The auth service over its database.
#[derive(Debug, Clone)]
pub struct AuthService {
    database: Database,
    config: AuthConfig,
    /// The verifier for the published keys, rebuilt at most every [`VERIFIER_TTL`] (every
    /// authenticated request needs one; the keys change only on rotation, possibly by another
    /// process, and a new key signs only after the activation delay, which is longer).
    verifier: Arc<Mutex<Option<CachedVerifier>>>,
}

/// A verifier and when it was built.
type CachedVerifier = (Instant, Arc<Verifier>);

const VERIFIER_TTL: Duration = Duration::from_secs(30);

/// A hash of a random password, verified against when the email is unknown so that a wrong email
/// costs as much time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&uuid::Uuid::new_v4().to_string()).unwrap_or_default())
}

impl AuthService {
    /// Connects, migrates and makes sure a signing key exists.
    pub async fn open(url: &str, config: AuthConfig) -> Result<Self> {
        let database = Database::connect(url).await?;
        // The auth tables use only types both backends share, so one set of migrations serves both.
        database.migrate(sqlx::migrate!("./migrations")).await?;
        let service = Self { database, config, verifier: Arc::new(Mutex::new(None)) };
        if service.keys().await?.is_empty() {
            service.add_key().await?;
        }
        Ok(service)
    }

    /// Creates the first ADMIN when there is no user at all (from configuration or the CLI).
    pub async fn bootstrap_admin(&self, email: &str, password: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM auth_users").fetch_one(self.database.pool()).await?;
        if row.try_get::<i64, _>("n")? > 0 {
            return Ok(None);
        }
        self.insert_user(email, password, Role::Admin).await.map(Some)
    }

    /// Creates a user (ADMIN only).
    pub async fn create_user(&self, caller: &Claims, email: &str, password: &str, role: Role) -> Result<User> {
        require(caller, Role::Admin)?;
        self.insert_user(email, password, role).await
    }

    pub async fn list_users(&self, caller: &Claims) -> Result<Vec<User>> {
        require(caller, Role::Admin)?;
        let rows = sqlx::query("SELECT id, email, role, disabled FROM auth_users ORDER BY email")
            .fetch_all(self.database.pool())
            .await?;
        rows.iter().map(user_of).collect()
    }

    /// Changes a user's role or disables them (ADMIN only). Disabling revokes their refresh tokens.
    pub async fn update_user(
        &self,
        caller: &Claims,
        user_id: &str,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<User> {
        require(caller, Role::Admin)?;
        let mut tx = self.database.begin().await?;
        let now = now_millis();
        let updated = sqlx::query(
            "UPDATE auth_users SET role = COALESCE($2, role), disabled = COALESCE($3, disabled), updated_at = $4 \
             WHERE id = $1",
        )
        .bind(user_id.to_owned())
        .bind(role.map(|r| r.as_str().to_owned()))
        .bind(disabled.map(i64::from))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(ServiceError::NotFound(user_id.to_owned()));
        }
        if disabled == Some(true) {
            sqlx::query("UPDATE auth_refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                .bind(user_id.to_owned())
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        let row = sqlx::query("SELECT id, email, role, disabled FROM auth_users WHERE id = $1")
            .bind(user_id.to_owned())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        user_of(&row)
    }

    /// Exchanges an email and password for tokens. An unknown email and a wrong password are
    /// refused alike, in about the same time.
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenPair> {
        let row = sqlx::query("SELECT id, email, role, disabled, password_hash FROM auth_users WHERE email = $1")
            .bind(normalise_email(email))
            .fetch_optional(self.database.pool())
            .await?;
        let refused = || ServiceError::Auth(AuthError::Unauthorized("invalid email or password".into()));
        let Some(row) = row else {
            let _ = verify_password(password, decoy_hash());
            return Err(refused());
        };
        let hash: String = row.try_get("password_hash")?;
        let user = user_of(&row)?;
        if !verify_password(password, &hash) || user.disabled {
            return Err(refused());
        }
        let family = uuid::Uuid::now_v7().to_string();
        let mut tx = self.database.begin().await?;
        let refresh = self.store_refresh(&mut tx, &family, &user.id).await?;
        tx.commit().await?;
        self.pair(&user, refresh).await
    }

    /// Rotates a refresh token: the presented one is spent and a new pair is returned. A token
    /// presented twice revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        let refused = |why: &str| ServiceError::Auth(AuthError::Unauthorized(why.to_owned()));
        let hash = hash_token(refresh_token);
        let now = now_millis();
        let mut tx = self.database.begin().await?;
        let row = sqlx::query(
            "SELECT t.family_id, t.user_id, t.expires_at, t.used_at, t.revoked_at, u.id, u.email, u.role, u.disabled \
             FROM auth_refresh_tokens t JOIN auth_users u ON u.id = t.user_id WHERE t.token_hash = $1",
        )
        .bind(hash.clone())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Err(refused("unknown refresh token")) };
        let family: String = row.try_get("family_id")?;
        if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
            return Err(refused("revoked refresh token"));
        }
        // Spend it; if it was spent already, this is a replay.
        let spent =
            sqlx::query("UPDATE auth_refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL")
                .bind(hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        if spent.rows_affected() == 0 {
            sqlx::query("UPDATE auth_refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
                .bind(family.clone())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::warn!(family = %family, "a rotated refresh token was presented again; its family is revoked");
            return Err(refused("refresh token reuse"));
        }
        let user = user_of(&row)?;
        if user.disabled || row.try_get::<i64, _>("expires_at")? <= now {
            tx.commit().await?;
            return Err(refused("expired refresh token or disabled user"));
        }
        let refresh = self.store_refresh(&mut tx, &family, &user.id).await?;
        tx.commit().await?;
        self.pair(&user, refresh).await
    }

    /// Ends the login the refresh token belongs to.
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        sqlx::query(
            "UPDATE auth_refresh_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND family_id = \
             (SELECT family_id FROM auth_refresh_tokens WHERE token_hash = $1)",
        )
        .bind(hash_token(refresh_token))
        .bind(now_millis())
        .execute(self.database.pool())
        .await?;
        Ok(())
    }

    /// `GET /.well-known/jwks.json`: every key a live token may be signed with.
    pub async fn jwks(&self) -> Result<JwkSet> {
        Ok(JwkSet { keys: self.keys().await?.iter().map(SigningKey::public_jwk).collect() })
    }

    /// A verifier for tokens this service issues.
    pub async fn verifier(&self) -> Result<Arc<Verifier>> {
        if let Some((built, verifier)) = self.verifier.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && built.elapsed() < VERIFIER_TTL
        {
            return Ok(Arc::clone(verifier));
        }
        let verifier = Arc::new(Verifier::new(&self.jwks().await?, &self.config.issuer, &self.config.audience)?);
        *self.verifier.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), Arc::clone(&verifier)));
        Ok(verifier)
    }

    /// Adds a new key: published at once, signing after the activation delay. The previous key keeps
    /// signing until then and stays published (tokens it signed stay valid) until its successor has
    /// signed for longer than an access token lives; then it is retired.
    pub async fn rotate_keys(&self) -> Result<String> {
        let kid = self.add_key().await?;
        *self.verifier.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let now = now_millis();
        let keys = self.keys().await?;
        // Keep the new key and the one before it; retire older ones whose successor has signed for
        // longer than a token lives.
        let overlap = self.config.access_ttl_seconds * 1000 + 60_000;
        let rows = sqlx::query(
            "SELECT kid, created_at FROM auth_signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(self.database.pool())
        .await?;
        let mut successor_since: Option<i64> = None;
        for (index, row) in rows.iter().enumerate() {
            let created: i64 = row.try_get("created_at")?;
            if index >= 2 && successor_since.is_some_and(|since| now - since > overlap) {
                sqlx::query("UPDATE auth_signing_keys SET retired_at = $2 WHERE kid = $1")
                    .bind(row.try_get::<String, _>("kid")?)
                    .bind(now)
                    .execute(self.database.pool())
                    .await?;
            }
            successor_since = Some(created);
        }
        tracing::info!(kid = %kid, published = keys.len(), "signing key rotated");
        Ok(kid)
    }

    async fn insert_user(&self, email: &str, password: &str, role: Role) -> Result<User> {
        let email = validate_email(email)?;
        validate_password(password)?;
        let hash = hash_password(password)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_millis();
        let inserted = sqlx::query(
            "INSERT INTO auth_users (id, email, password_hash, role, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $5)",
        )
        .bind(id.clone())
        .bind(email.clone())
        .bind(hash)
        .bind(role.as_str())
        .bind(now)
        .execute(self.database.pool())
        .await;
        match inserted {
            Ok(_) => Ok(User { id, email, role, disabled: false }),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                Err(ServiceError::Conflict("a user with this email exists".into()))
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn store_refresh(&self, tx: &mut platform::db::Tx, family: &str, user_id: &str) -> Result<String> {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).map_err(|_| AuthError::Key("no randomness".into()))?;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let now = now_millis();
        sqlx::query(
            "INSERT INTO auth_refresh_tokens (token_hash, family_id, user_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash_token(&token))
        .bind(family.to_owned())
        .bind(user_id.to_owned())
        .bind(now + self.config.refresh_ttl_seconds * 1000)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(token)
    }

    async fn pair(&self, user: &User, refresh_token: String) -> Result<TokenPair> {
        let key = self.signing_key().await?;
        let issuer = TokenIssuer::new(&key, &self.config.issuer, &self.config.audience, self.config.access_ttl_seconds);
        let (access_token, _) = issuer.issue(&user.id, &user.email, user.role, now_millis() / 1000)?;
        Ok(TokenPair { access_token, refresh_token, token_type: "Bearer", expires_in: self.config.access_ttl_seconds })
    }

    /// The key that signs now: the newest one published for at least the activation delay, or, on
    /// a first start, the oldest.
    async fn signing_key(&self) -> Result<SigningKey> {
        let active_before = now_millis() - self.config.key_activation_delay_seconds * 1000;
        let keys = self.keys_with_age().await?;
        let chosen =
            keys.iter().position(|(_, created)| *created <= active_before).unwrap_or(keys.len().saturating_sub(1));
        keys.into_iter().nth(chosen).map(|(key, _)| key).ok_or_else(|| AuthError::Key("no signing key".into()).into())
    }

    /// Unretired keys, newest first.
    async fn keys(&self) -> Result<Vec<SigningKey>> {
        Ok(self.keys_with_age().await?.into_iter().map(|(key, _)| key).collect())
    }

    /// Unretired keys with their creation times, newest first.
    async fn keys_with_age(&self) -> Result<Vec<(SigningKey, i64)>> {
        let rows = sqlx::query(
            "SELECT kid, private_pkcs8, created_at FROM auth_signing_keys WHERE retired_at IS NULL \
             ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(self.database.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let kid: String = row.try_get("kid")?;
                let pkcs8 = STANDARD
                    .decode(row.try_get::<String, _>("private_pkcs8")?)
                    .map_err(|e| AuthError::Key(format!("key {kid}: {e}")))?;
                Ok((SigningKey::from_pkcs8(kid, &pkcs8)?, row.try_get::<i64, _>("created_at")?))
            })
            .collect()
    }

    async fn add_key(&self) -> Result<String> {
        let key = SigningKey::generate()?;
        sqlx::query("INSERT INTO auth_signing_keys (kid, private_pkcs8, created_at) VALUES ($1, $2, $3)")
            .bind(key.kid().to_owned())
            .bind(STANDARD.encode(key.pkcs8()))
            .bind(now_millis())
            .execute(self.database.pool())
            .await?;
        Ok(key.kid().to_owned())
    }
}

fn user_of(row: &sqlx::any::AnyRow) -> Result<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: Role::parse(&role).ok_or_else(|| ServiceError::Conflict(format!("stored role {role} is unknown")))?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
    })
}

fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn validate_email(email: &str) -> Result<String> {
    let email = normalise_email(email);
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(ServiceError::Invalid { field: "email", message: "must be an email address".into() })
    }
}

/// Long enough to resist guessing, short enough that hashing it is cheap.
fn validate_password(password: &str) -> Result<()> {
    let length = password.chars().count();
    if (10..=256).contains(&length) {
        Ok(())
    } else {
        Err(ServiceError::Invalid { field: "password", message: "must be 10 to 256 characters".into() })
    }
}

fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::Key(format!("cannot hash a password: {e}")).into())
}

fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;
    PasswordHash::new(hash)
        .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
