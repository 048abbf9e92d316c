//! Access tokens: Ed25519 signing keys, the issuer, the published key set, and the verifier.

use std::collections::HashMap;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{AuthError, Result};
use crate::role::Role;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 30;

/// What an access token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    pub email: String,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    /// Expiry, issue time and start of validity, as Unix seconds.
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    /// The token's own id.
    pub jti: String,
}

/// An Ed25519 key pair that signs access tokens, named by its `kid`.
pub struct SigningKey {
    kid: String,
    /// PKCS#8 document of the private key: a secret, never printed.
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key with a new `kid`.
    pub fn generate() -> Result<Self> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| AuthError::Key("cannot generate an Ed25519 key".into()))?;
        Self::from_pkcs8(uuid::Uuid::now_v7().simple().to_string(), document.as_ref())
    }

    /// A key stored earlier (see [`SigningKey::pkcs8`]).
    pub fn from_pkcs8(kid: impl Into<String>, pkcs8: &[u8]) -> Result<Self> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|_| AuthError::Key("not an Ed25519 PKCS#8 private key".into()))?;
        Ok(Self { kid: kid.into(), pkcs8: pkcs8.to_vec(), public: pair.public_key().as_ref().to_vec() })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as a PKCS#8 document, for storing. Keep it secret.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public half, as published in the key set.
    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(&self.public),
            kid: self.kid.clone(),
            alg: "EdDSA".into(),
            key_use: "sig".into(),
        }
    }
}

/// One public key of the set (RFC 8037 `OKP` key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub key_use: String,
}

/// `GET /.well-known/jwks.json`: every key a valid token may be signed with (two during a
/// rotation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<PublicJwk>,
}

/// Signs access tokens with one key.
pub struct TokenIssuer {
    kid: String,
    key: EncodingKey,
    issuer: String,
    audience: String,
    ttl_seconds: i64,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    pub fn new(key: &SigningKey, issuer: impl Into<String>, audience: impl Into<String>, ttl_seconds: i64) -> Self {
        Self {
            kid: key.kid.clone(),
            key: EncodingKey::from_ed_der(&key.pkcs8),
            issuer: issuer.into(),
            audience: audience.into(),
            ttl_seconds,
        }
    }

    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    /// A token for a user, valid from `now` (Unix seconds) for the issuer's lifetime.
    pub fn issue(&self, user_id: &str, email: &str, role: Role, now: i64) -> Result<(String, Claims)> {
        let claims = Claims {
            sub: user_id.to_owned(),
            email: email.to_owned(),
            role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + self.ttl_seconds,
            iat: now,
            nbf: now,
            jti: uuid::Uuid::now_v7().to_string(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| AuthError::Key(format!("cannot sign a token: {e}")))?;
        Ok((token, claims))
    }
}

/// Checks access tokens against a key set.
pub struct Verifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("kids", &self.keys.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

impl Verifier {
    /// Trusts the Ed25519 keys of `set` (others are ignored) for tokens from `issuer` to `audience`.
    pub fn new(set: &JwkSet, issuer: &str, audience: &str) -> Result<Self> {
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if jwk.kty != "OKP" || jwk.crv != "Ed25519" || jwk.alg != "EdDSA" {
                continue;
            }
            let key =
                DecodingKey::from_ed_components(&jwk.x).map_err(|e| AuthError::Key(format!("key {}: {e}", jwk.kid)))?;
            keys.insert(jwk.kid.clone(), key);
        }
        // Only EdDSA: a token whose header names another algorithm is refused before any key is
        // tried, which is what defeats `alg: none` and HS256-with-the-public-key.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Ok(Self { keys, validation })
    }

    /// The claims of a valid token; why an invalid one was refused is in the error.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Unauthorized(format!("malformed token: {e}")))?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::Unauthorized(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| AuthError::Unauthorized("the token names no key".into()))?;
        let key = self.keys.get(&kid).ok_or_else(|| AuthError::Unauthorized(format!("unknown key {kid}")))?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| AuthError::Unauthorized(format!("invalid token: {e}")))
    }

    /// Reads the bearer token of an `Authorization` header value and verifies it.
    pub fn verify_bearer(&self, authorization: &str) -> Result<Claims> {
        let token = authorization
            .strip_prefix("Bearer ")
            .or_else(|| authorization.strip_prefix("bearer "))
            .ok_or_else(|| AuthError::Unauthorized("expected a bearer token".into()))?;
        self.verify(token.trim())
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::hmac;

    use super::*;

    const ISSUER: &str = "https://auth.mediamesh.test";
    const AUDIENCE: &str = "mediamesh";
    const NOW: i64 = 1_780_000_000;

    fn setup() -> (SigningKey, TokenIssuer, Verifier) {
        let key = SigningKey::generate().expect("key");
        let issuer = TokenIssuer::new(&key, ISSUER, AUDIENCE, 900);
        let verifier = Verifier::new(&JwkSet { keys: vec![key.public_jwk()] }, ISSUER, AUDIENCE).expect("verifier");
        (key, issuer, verifier)
    }

    fn now() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(NOW, |d| d.as_secs() as i64)
    }

    /// A token put together by hand, signed (or not) as an attacker would.
    fn forge(header: &serde_json::Value, claims: &serde_json::Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let head = URL_SAFE_NO_PAD.encode(header.to_string());
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{head}.{body}");
        let signature = URL_SAFE_NO_PAD.encode(sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    fn claims_json(now: i64) -> serde_json::Value {
        serde_json::json!({
            "sub": "user-1", "email": "a@example.com", "role": "ADMIN", "iss": ISSUER, "aud": AUDIENCE,
            "exp": now + 600, "iat": now, "nbf": now, "jti": "j"
        })
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let (_, issuer, verifier) = setup();
        let (token, claims) = issuer.issue("user-1", "a@example.com", Role::Editor, now()).expect("issue");
        assert_eq!(verifier.verify(&token).expect("valid"), claims);
        assert_eq!(verifier.verify_bearer(&format!("Bearer {token}")).expect("valid").role, Role::Editor);
    }

    #[test]
    fn forged_and_stale_tokens_are_refused() {
        let (key, issuer, verifier) = setup();
        let now = now();
        let refused = |token: &str, why: &str| {
            let result = verifier.verify(token);
            assert!(matches!(result, Err(AuthError::Unauthorized(_))), "{why}: {result:?}");
        };

        let none =
            forge(&serde_json::json!({"alg": "none", "typ": "JWT", "kid": key.kid()}), &claims_json(now), |_| {
                Vec::new()
            });
        refused(&none, "alg none");

        // HS256 keyed with the public key: the classic algorithm-confusion attack.
        let public = URL_SAFE_NO_PAD.decode(key.public_jwk().x).expect("x");
        let hs256 =
            forge(&serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": key.kid()}), &claims_json(now), |m| {
                hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &public), m).as_ref().to_vec()
            });
        refused(&hs256, "HS256 with the public key");

        let (expired, _) = issuer.issue("u", "a@example.com", Role::Admin, now - 3_600).expect("issue");
        refused(&expired, "expired an hour ago");
        let (future, _) = issuer.issue("u", "a@example.com", Role::Admin, now + 3_600).expect("issue");
        refused(&future, "not valid for another hour");

        let other_issuer = TokenIssuer::new(&key, "https://evil.test", AUDIENCE, 900);
        refused(&other_issuer.issue("u", "a@example.com", Role::Admin, now).expect("issue").0, "wrong issuer");
        let other_audience = TokenIssuer::new(&key, ISSUER, "someone-else", 900);
        refused(&other_audience.issue("u", "a@example.com", Role::Admin, now).expect("issue").0, "wrong audience");

        // A USER token whose payload is swapped for an ADMIN one keeps a signature that no longer matches.
        let (user_token, _) = issuer.issue("u", "a@example.com", Role::User, now).expect("issue");
        let parts: Vec<&str> = user_token.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims_json(now).to_string()), parts[2]);
        refused(&tampered, "tampered payload");

        let stranger = SigningKey::generate().expect("key");
        let (unknown_kid, _) = TokenIssuer::new(&stranger, ISSUER, AUDIENCE, 900)
            .issue("u", "a@example.com", Role::Admin, now)
            .expect("issue");
        refused(&unknown_kid, "unknown kid");

        refused("not-a-token", "garbage");
        refused("", "empty");
        assert!(matches!(verifier.verify_bearer("Basic abc"), Err(AuthError::Unauthorized(_))));
    }

    #[test]
    fn both_keys_verify_during_a_rotation() {
        let old = SigningKey::generate().expect("key");
        let new = SigningKey::generate().expect("key");
        let set = JwkSet { keys: vec![new.public_jwk(), old.public_jwk()] };
        let verifier = Verifier::new(&set, ISSUER, AUDIENCE).expect("verifier");
        for key in [&old, &new] {
            let (token, _) = TokenIssuer::new(key, ISSUER, AUDIENCE, 900)
                .issue("u", "a@example.com", Role::User, now())
                .expect("issue");
            assert_eq!(verifier.verify(&token).expect("valid").sub, "u");
        }
        // A stored key signs the same way after a restart.
        let restored = SigningKey::from_pkcs8(old.kid(), old.pkcs8()).expect("restore");
        assert_eq!(restored.public_jwk(), old.public_jwk());
        assert!(!format!("{restored:?}").contains("pkcs8"), "the private key never prints");
    }
}
