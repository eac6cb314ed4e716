-- Flight Recorder: fewer indexes on flight_events, for write throughput (docs/benchmarks.md).
--
-- Every index costs a B-tree insert per appended event. The console filters by event type,
-- trace_id, job_id, provider_id and time, whose indexes stay (plus the primary key on seq and the
-- unique event_id). Queries by profile_id or model_id remain possible: they walk the table in seq
-- order (a filter is always paginated by seq, with a limit), without an index of their own.
DROP INDEX IF EXISTS flight_events_profile;
DROP INDEX IF EXISTS flight_events_model;
