-- reelflow schema v1. Times are Unix seconds unless the column name ends in _ms.

CREATE TABLE buckets (
    name    TEXT PRIMARY KEY,
    created INTEGER NOT NULL
);

CREATE TABLE objects (
    bucket           TEXT    NOT NULL,
    key              TEXT    NOT NULL,
    blob_id          TEXT    NOT NULL,
    size             INTEGER NOT NULL,
    etag             TEXT    NOT NULL,
    content_type     TEXT    NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    user_meta        TEXT    NOT NULL,  -- JSON [[name, value], ...] in upload order
    origin           TEXT    NOT NULL,  -- Upload | Workflow
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;

CREATE TABLE templates (
    id       TEXT PRIMARY KEY,
    bucket   TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    tag      TEXT    NOT NULL,
    category TEXT    NOT NULL,
    params   TEXT    NOT NULL,          -- the validated parameter container, as XML
    created  INTEGER NOT NULL,
    updated  INTEGER NOT NULL
);
CREATE INDEX templates_bucket ON templates (bucket, created);

CREATE TABLE workflows (
    id       TEXT PRIMARY KEY,
    bucket   TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    state    TEXT    NOT NULL,
    topology TEXT    NOT NULL,          -- the Topology element, as XML
    created  INTEGER NOT NULL,
    updated  INTEGER NOT NULL
);
CREATE INDEX workflows_bucket ON workflows (bucket, state);

CREATE TABLE instances (
    run_id        TEXT PRIMARY KEY,
    workflow_id   TEXT    NOT NULL,
    workflow_name TEXT    NOT NULL,
    bucket        TEXT    NOT NULL,
    object        TEXT    NOT NULL,
    cos_headers   TEXT    NOT NULL,     -- JSON [[name, value], ...]
    topology      TEXT    NOT NULL,     -- snapshot of the Topology element, as XML
    state         TEXT    NOT NULL,
    created       INTEGER NOT NULL,
    ended         INTEGER
);
CREATE INDEX instances_workflow ON instances (workflow_id, run_id);

CREATE TABLE tasks (
    job_id        TEXT PRIMARY KEY,
    run_id        TEXT    NOT NULL REFERENCES instances (run_id),
    node_name     TEXT    NOT NULL,
    node_type     TEXT    NOT NULL,
    template_id   TEXT    NOT NULL,
    template_name TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    code          TEXT    NOT NULL DEFAULT '',
    message       TEXT    NOT NULL DEFAULT '',
    progress      INTEGER NOT NULL DEFAULT 0,
    input_bucket  TEXT    NOT NULL DEFAULT '',
    input_key     TEXT    NOT NULL DEFAULT '',
    outputs       TEXT    NOT NULL DEFAULT '[]',  -- JSON [[bucket, key], ...]
    created       INTEGER NOT NULL,
    started       INTEGER,
    ended         INTEGER,
    lease_owner   TEXT,
    lease_until   INTEGER,
    UNIQUE (run_id, node_name)
);
CREATE INDEX tasks_claim ON tasks (state, created);
CREATE INDEX tasks_run ON tasks (run_id);

CREATE TABLE callbacks (
    id              TEXT PRIMARY KEY,   -- stable message id (webhook-id)
    run_id          TEXT    NOT NULL,
    bucket          TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    content_type    TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    state           TEXT    NOT NULL,   -- Pending | Delivered | Exhausted
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    created_ms      INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    delivered_ms    INTEGER
);
CREATE INDEX callbacks_due ON callbacks (state, next_attempt_ms);
CREATE INDEX callbacks_run ON callbacks (run_id);
