-- Work Profiles, the jobs that pin them, and local model swaps (see docs/profiles.md).

-- A profile row never changes: an edit inserts a new profile_id whose parent is the old one.
CREATE TABLE work_profiles (
    profile_id        TEXT PRIMARY KEY NOT NULL,
    parent_profile_id TEXT REFERENCES work_profiles (profile_id),
    name              TEXT NOT NULL,
    -- The canonical spec JSON (hsk.work_profile@0.5), exactly as exported.
    body              TEXT NOT NULL,
    body_sha256       TEXT NOT NULL,
    created_at        TEXT NOT NULL
) STRICT;

CREATE INDEX work_profiles_by_parent ON work_profiles (parent_profile_id);

CREATE TRIGGER work_profiles_are_immutable
BEFORE UPDATE ON work_profiles
BEGIN
    SELECT RAISE(ABORT, 'work profiles are immutable: save the edit as a new version');
END;

CREATE TABLE jobs (
    job_id            TEXT PRIMARY KEY NOT NULL,
    -- The profile active when the job started; a job row never changes it.
    profile_id        TEXT NOT NULL REFERENCES work_profiles (profile_id),
    started_at        TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    finished_at       TEXT,
    cloud_escalations INTEGER NOT NULL DEFAULT 0 CHECK (cloud_escalations >= 0)
) STRICT;

CREATE INDEX jobs_by_profile ON jobs (profile_id);

CREATE TRIGGER jobs_keep_their_profile
BEFORE UPDATE OF profile_id ON jobs
BEGIN
    SELECT RAISE(ABORT, 'a started job keeps the profile it pinned');
END;

-- One row per ModelSwapRequest; `step` is the last step reached.
CREATE TABLE model_swaps (
    swap_id          TEXT PRIMARY KEY NOT NULL,
    job_id           TEXT REFERENCES jobs (job_id),
    from_model_id    TEXT NOT NULL,
    to_model_id      TEXT NOT NULL,
    step             TEXT NOT NULL
        CHECK (step IN ('requested', 'persisted', 'offloaded', 'loaded', 'resumed', 'failed')),
    failed_step      TEXT CHECK (failed_step IN ('requested', 'persist', 'offload', 'load', 'resume')),
    error            TEXT,
    -- The model the job runs on now (the old one until the new one is loaded).
    active_model_id  TEXT NOT NULL,
    -- The job's saved state (local only; events carry its hash and size, never the state).
    job_state        TEXT,
    job_state_sha256 TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    CHECK ((step = 'failed') = (failed_step IS NOT NULL))
) STRICT;
