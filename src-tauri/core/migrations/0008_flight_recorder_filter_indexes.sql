-- Flight Recorder: every filter the CLI and console offer is indexed (issue 18).
--
-- 0006 dropped the profile and model indexes for write throughput, leaving `--profile` and
-- `--model` to walk the whole table: 20 ms at 100,000 events, growing with the log. They are back,
-- partial (no entry for events without the id) and keyed with `seq` so a paginated filter reads
-- its page in order. Their write cost is measured in docs/benchmarks.md.
CREATE INDEX IF NOT EXISTS flight_events_profile ON flight_events (profile_id, seq) WHERE profile_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS flight_events_model ON flight_events (model_id, seq) WHERE model_id IS NOT NULL;
