-- Users, refresh tokens and signing keys. Times are Unix milliseconds.

CREATE TABLE auth_users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Opaque refresh tokens, stored as SHA-256 hashes. A family is one login's chain of rotations.
CREATE TABLE auth_refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX auth_refresh_by_family ON auth_refresh_tokens (family_id);
CREATE INDEX auth_refresh_by_user ON auth_refresh_tokens (user_id);

-- Ed25519 signing keys (PKCS#8, base64). The newest unretired key signs; every unretired key verifies.
CREATE TABLE auth_signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    private_pkcs8 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
