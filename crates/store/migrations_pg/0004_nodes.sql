-- The processes sharing this database (GET /_reelflow/v1/nodes): registered at start, a
-- heartbeat every few seconds with the node's counters (JSON), marked stopped on a graceful stop.
CREATE TABLE nodes (
    id            TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    version       TEXT NOT NULL,
    hostname      TEXT NOT NULL,
    pid           BIGINT NOT NULL,
    listen        TEXT NOT NULL,
    workers       BIGINT NOT NULL,
    started_ms    BIGINT NOT NULL,
    heartbeat_ms  BIGINT NOT NULL,
    stopped_ms    BIGINT,
    metrics       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX tasks_lease_owner ON tasks (lease_owner) WHERE state = 'Running';

-- Claims walk each open queue's Submitted tasks oldest first (see PgStore::claim_once).
CREATE INDEX tasks_claim_queue ON tasks (queue_id, created, job_id)
    WHERE state = 'Submitted';
