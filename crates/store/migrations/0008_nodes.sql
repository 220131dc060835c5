-- The processes sharing this database (GET /_reelflow/v1/nodes): registered at start, a
-- heartbeat every few seconds with the node's counters (JSON), marked stopped on a graceful stop.
CREATE TABLE nodes (
    id            TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    version       TEXT NOT NULL,
    hostname      TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    listen        TEXT NOT NULL,
    workers       INTEGER NOT NULL,
    started_ms    INTEGER NOT NULL,
    heartbeat_ms  INTEGER NOT NULL,
    stopped_ms    INTEGER,
    metrics       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX tasks_lease_owner ON tasks (lease_owner) WHERE state = 'Running';
