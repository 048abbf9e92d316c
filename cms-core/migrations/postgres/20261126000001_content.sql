-- Content, its outbox, the audit log, idempotency keys and leases (PostgreSQL).
-- Times are Unix milliseconds; ids are UUID text; `data` is the item's full JSON snapshot.

CREATE TABLE content (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    program_id TEXT NOT NULL,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    title_lower TEXT NOT NULL,
    category TEXT NOT NULL,
    language TEXT NOT NULL,
    scheduled_at BIGINT,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX content_by_program ON content (program_id, kind);
CREATE INDEX content_by_kind_status ON content (kind, status, updated_at);
CREATE INDEX content_scheduled ON content (scheduled_at) WHERE scheduled_at IS NOT NULL;

CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    traceparent TEXT,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

CREATE TABLE audit_log (
    seq BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    item_kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    from_version BIGINT,
    to_version BIGINT
);
CREATE INDEX audit_by_item ON audit_log (item_id, seq);

CREATE TABLE idempotency (
    actor TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (actor, idempotency_key)
);

CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
