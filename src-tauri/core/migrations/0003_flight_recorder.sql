-- Flight Recorder: an append-only, hash-chained event log (see docs/recorder.md).
--
-- One row per event. `seq` is assigned by the single writer as head + 1; `hash` is
-- sha256(prev_hash || canonical encoding of the row) (src/recorder/chain.rs), so any edit,
-- deletion or reordering breaks the chain. Truncation of the tail is caught by the anchor file
-- kept outside this database.
CREATE TABLE flight_events (
    seq            INTEGER PRIMARY KEY NOT NULL,
    event_id       TEXT    NOT NULL UNIQUE,
    event_type     TEXT    NOT NULL,
    occurred_at_ms INTEGER NOT NULL,
    trace_id       TEXT,
    job_id         TEXT,
    profile_id     TEXT,
    provider_id    TEXT,
    model_id       TEXT,
    payload        TEXT    NOT NULL,
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL
) STRICT;

CREATE INDEX flight_events_type ON flight_events (event_type, seq);
CREATE INDEX flight_events_trace ON flight_events (trace_id, seq) WHERE trace_id IS NOT NULL;
CREATE INDEX flight_events_job ON flight_events (job_id, seq) WHERE job_id IS NOT NULL;
CREATE INDEX flight_events_profile ON flight_events (profile_id, seq) WHERE profile_id IS NOT NULL;
CREATE INDEX flight_events_provider ON flight_events (provider_id, seq) WHERE provider_id IS NOT NULL;
CREATE INDEX flight_events_model ON flight_events (model_id, seq) WHERE model_id IS NOT NULL;
CREATE INDEX flight_events_time ON flight_events (occurred_at_ms);

-- Retention checkpoints: the one controlled way rows leave flight_events. Each row records the
-- last dropped sequence number and its hash, so verification restarts the chain from there.
CREATE TABLE flight_retention (
    id              INTEGER PRIMARY KEY NOT NULL,
    last_seq        INTEGER NOT NULL,
    last_hash       TEXT    NOT NULL,
    dropped         INTEGER NOT NULL,
    cutoff_ms       INTEGER NOT NULL,
    applied_at_ms   INTEGER NOT NULL
) STRICT;

CREATE TRIGGER flight_events_no_update BEFORE UPDATE ON flight_events
BEGIN
    SELECT RAISE(ABORT, 'flight_events is append-only: UPDATE refused');
END;

-- Deletion is allowed only at or below the newest recorded retention checkpoint.
CREATE TRIGGER flight_events_no_delete BEFORE DELETE ON flight_events
WHEN OLD.seq > COALESCE((SELECT MAX(last_seq) FROM flight_retention), 0)
BEGIN
    SELECT RAISE(ABORT, 'flight_events is append-only: DELETE refused');
END;

-- Appends only ever extend the chain: no row below the head or below a checkpoint.
CREATE TRIGGER flight_events_append_only BEFORE INSERT ON flight_events
WHEN NEW.seq <= MAX(
    COALESCE((SELECT MAX(seq) FROM flight_events), 0),
    COALESCE((SELECT MAX(last_seq) FROM flight_retention), 0)
)
BEGIN
    SELECT RAISE(ABORT, 'flight_events is append-only: sequence must extend the head');
END;

CREATE TRIGGER flight_retention_no_update BEFORE UPDATE ON flight_retention
BEGIN
    SELECT RAISE(ABORT, 'flight_retention is append-only: UPDATE refused');
END;

CREATE TRIGGER flight_retention_no_delete BEFORE DELETE ON flight_retention
BEGIN
    SELECT RAISE(ABORT, 'flight_retention is append-only: DELETE refused');
END;

-- A checkpoint can only move forward.
CREATE TRIGGER flight_retention_forward_only BEFORE INSERT ON flight_retention
WHEN NEW.last_seq <= COALESCE((SELECT MAX(last_seq) FROM flight_retention), 0)
BEGIN
    SELECT RAISE(ABORT, 'flight_retention checkpoints only move forward');
END;
