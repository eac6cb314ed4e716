-- Providers the user registered. Secrets are never stored here: `secret_handle` and
-- `provider_headers.secret_handle` name entries in the OS keychain.
CREATE TABLE providers (
    provider_id          TEXT PRIMARY KEY NOT NULL
                         CHECK (length(provider_id) BETWEEN 1 AND 64 AND provider_id NOT GLOB '*[^a-z0-9_-]*'),
    display_name         TEXT NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('ollama', 'openai_compat')),
    tier                 TEXT NOT NULL CHECK (tier IN ('local', 'cloud')),
    base_url             TEXT NOT NULL,
    secret_handle        TEXT,
    default_model        TEXT,
    connect_timeout_ms   INTEGER NOT NULL CHECK (connect_timeout_ms > 0),
    first_byte_timeout_ms INTEGER NOT NULL CHECK (first_byte_timeout_ms > 0),
    idle_timeout_ms      INTEGER NOT NULL CHECK (idle_timeout_ms > 0),
    total_timeout_ms     INTEGER NOT NULL CHECK (total_timeout_ms > 0),
    max_tokens_field     TEXT NOT NULL CHECK (max_tokens_field IN ('max_tokens', 'max_completion_tokens')),
    stream_include_usage INTEGER NOT NULL CHECK (stream_include_usage IN (0, 1)),
    proxy_url            TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
) STRICT;

-- Extra headers sent with every request to a provider, in the order the user gave them. A plain
-- header keeps its value here; a secret header keeps only the keychain handle of its value.
CREATE TABLE provider_headers (
    provider_id   TEXT NOT NULL REFERENCES providers (provider_id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    name          TEXT NOT NULL,
    value         TEXT,
    secret_handle TEXT,
    PRIMARY KEY (provider_id, name),
    UNIQUE (provider_id, position),
    CHECK ((value IS NULL) <> (secret_handle IS NULL))
) STRICT;

-- One row: the namespace of this database's keychain handles. The OS keychain is shared by every
-- Handshake database on the machine, so handles carry it: two data directories (or an import into
-- a fresh database) can never read, overwrite or delete each other's secrets.
CREATE TABLE provider_keychain_namespace (
    id        INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    namespace TEXT NOT NULL
) STRICT;

INSERT INTO provider_keychain_namespace (id, namespace) VALUES (1, lower(hex(randomblob(8))));
