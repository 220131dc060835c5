-- reelflow schema for PostgreSQL: the tables and columns of the SQLite schema (migrations/0001–0005),
-- so both backends decode rows the same way. Times are Unix seconds unless the column name ends in
-- _ms. Text that is compared or ordered (names, keys, ids) uses the "C" collation: keys list in
-- byte order, as S3 and SQLite order them, whatever the database's locale.

CREATE TABLE buckets (
    name    TEXT COLLATE "C" PRIMARY KEY,
    created BIGINT NOT NULL
);

CREATE TABLE objects (
    bucket           TEXT COLLATE "C" NOT NULL,
    key              TEXT COLLATE "C" NOT NULL,
    blob_id          TEXT   NOT NULL,
    size             BIGINT NOT NULL,
    etag             TEXT   NOT NULL,
    content_type     TEXT   NOT NULL,
    last_modified_ms BIGINT NOT NULL,
    user_meta        TEXT   NOT NULL,  -- JSON [[name, value], ...] in upload order
    origin           TEXT   NOT NULL,  -- Upload | Workflow
    crc64            BIGINT,           -- CRC-64/XZ bit-cast to signed; NULL = not recorded
    PRIMARY KEY (bucket, key)
);

CREATE TABLE templates (
    id       TEXT COLLATE "C" PRIMARY KEY,
    bucket   TEXT COLLATE "C" NOT NULL,
    name     TEXT   NOT NULL,
    tag      TEXT   NOT NULL,
    category TEXT   NOT NULL,
    params   TEXT   NOT NULL,          -- the validated parameter container, as XML
    created  BIGINT NOT NULL,
    updated  BIGINT NOT NULL
);
CREATE INDEX templates_bucket ON templates (bucket, created);

CREATE TABLE workflows (
    id       TEXT COLLATE "C" PRIMARY KEY,
    bucket   TEXT COLLATE "C" NOT NULL,
    name     TEXT   NOT NULL,
    state    TEXT   NOT NULL,
    topology TEXT   NOT NULL,          -- the Topology element, as XML
    created  BIGINT NOT NULL,
    updated  BIGINT NOT NULL
);
CREATE INDEX workflows_bucket ON workflows (bucket, state);

CREATE TABLE instances (
    run_id        TEXT COLLATE "C" PRIMARY KEY,
    workflow_id   TEXT COLLATE "C" NOT NULL,
    workflow_name TEXT   NOT NULL,
    bucket        TEXT COLLATE "C" NOT NULL,
    object        TEXT   NOT NULL,
    cos_headers   TEXT   NOT NULL,     -- JSON [[name, value], ...]
    topology      TEXT   NOT NULL,     -- snapshot of the Topology element, as XML
    state         TEXT   NOT NULL,
    created       BIGINT NOT NULL,
    ended         BIGINT
);
CREATE INDEX instances_workflow ON instances (workflow_id, run_id);

CREATE TABLE tasks (
    job_id           TEXT COLLATE "C" PRIMARY KEY,
    run_id           TEXT COLLATE "C" NOT NULL REFERENCES instances (run_id),
    node_name        TEXT    NOT NULL,
    node_type        TEXT    NOT NULL,
    template_id      TEXT    NOT NULL,
    template_name    TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    code             TEXT    NOT NULL DEFAULT '',
    message          TEXT    NOT NULL DEFAULT '',
    progress         BIGINT  NOT NULL DEFAULT 0,
    input_bucket     TEXT    NOT NULL DEFAULT '',
    input_key        TEXT    NOT NULL DEFAULT '',
    outputs          TEXT    NOT NULL DEFAULT '[]',  -- JSON [[bucket, key], ...]
    created          BIGINT  NOT NULL,
    started          BIGINT,
    ended            BIGINT,
    lease_owner      TEXT,
    lease_until      BIGINT,
    result           TEXT    NOT NULL DEFAULT '',    -- extra result document (XML)
    queue_id         TEXT COLLATE "C" NOT NULL DEFAULT '',
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (run_id, node_name)
);
-- Claims: the oldest submitted task first.
CREATE INDEX tasks_submitted ON tasks (created, job_id) WHERE state = 'Submitted';
CREATE INDEX tasks_running ON tasks (lease_until) WHERE state = 'Running';
CREATE INDEX tasks_queue ON tasks (queue_id, state);
CREATE INDEX tasks_type ON tasks (node_type, created);

CREATE TABLE queues (
    id             TEXT COLLATE "C" PRIMARY KEY,
    bucket         TEXT COLLATE "C" NOT NULL,
    name           TEXT    NOT NULL,
    state          TEXT    NOT NULL,   -- Active | Paused
    max_size       BIGINT  NOT NULL,
    max_concurrent BIGINT  NOT NULL,
    notify         TEXT    NOT NULL DEFAULT '',  -- NotifyConfig element as XML, '' when none
    is_default     BOOLEAN NOT NULL DEFAULT FALSE,
    created        BIGINT  NOT NULL,
    updated        BIGINT  NOT NULL
);
CREATE UNIQUE INDEX queues_default ON queues (bucket) WHERE is_default;

-- The callback outbox (see crates/store/src/callbacks.rs).
CREATE TABLE callbacks (
    id              TEXT COLLATE "C" PRIMARY KEY,  -- stable message id (webhook-id)
    run_id          TEXT COLLATE "C" NOT NULL,
    bucket          TEXT COLLATE "C" NOT NULL,
    url             TEXT   NOT NULL,
    content_type    TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    state           TEXT   NOT NULL,   -- Pending | Sending | Delivered | Exhausted
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    created_ms      BIGINT NOT NULL,
    last_error      TEXT   NOT NULL DEFAULT '',
    delivered_ms    BIGINT,
    kind            TEXT   NOT NULL,   -- WorkflowFinish | TaskFinish
    job_id          TEXT,
    workflow_id     TEXT COLLATE "C" NOT NULL DEFAULT '',
    endpoint        TEXT COLLATE "C" NOT NULL DEFAULT '',  -- scheme://host[:port] of url
    round           BIGINT NOT NULL DEFAULT 1,
    round_attempts  BIGINT NOT NULL DEFAULT 0,
    next_trigger    TEXT   NOT NULL DEFAULT 'Scheduled',   -- Scheduled | Manual
    lease_owner     TEXT,
    lease_until_ms  BIGINT,
    claim_token     TEXT,              -- set by a claim; NULL for a message born leased
    last_attempt_ms BIGINT,
    last_status     BIGINT,
    -- Position of a message born leased to lease_owner among that node's born messages, in
    -- commit order (from callback_births, whose row the writing transaction holds until commit).
    born_seq        BIGINT
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_ms, id) WHERE state = 'Pending';
CREATE INDEX callbacks_run ON callbacks (run_id, created_ms);
CREATE INDEX callbacks_bucket ON callbacks (bucket, created_ms);
CREATE INDEX callbacks_workflow ON callbacks (workflow_id, created_ms);
CREATE INDEX callbacks_state_created ON callbacks (state, created_ms);
CREATE INDEX callbacks_lease ON callbacks (lease_owner) WHERE state = 'Sending';
CREATE INDEX callbacks_born ON callbacks (lease_owner, born_seq)
    WHERE state = 'Sending' AND claim_token IS NULL;

-- Per node: the last position given to a message born leased to it.
CREATE TABLE callback_births (
    owner    TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

-- One row per attempt, never updated.
CREATE TABLE callback_attempts (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id      TEXT   NOT NULL,
    number          BIGINT NOT NULL,   -- 1-based over all rounds
    round           BIGINT NOT NULL,
    triggered_by    TEXT   NOT NULL,   -- Scheduled | Manual
    started_ms      BIGINT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    url             TEXT   NOT NULL,
    status          BIGINT,            -- HTTP status when a response arrived
    error_kind      TEXT,              -- NULL on success
    error           TEXT   NOT NULL DEFAULT '',
    response_body   TEXT   NOT NULL DEFAULT '',  -- first 20 KB
    verdict         TEXT   NOT NULL,   -- Delivered | Retry | Exhausted
    next_attempt_ms BIGINT,            -- set with verdict Retry
    node            TEXT   NOT NULL    -- the delivery node (lease owner) that made it
);
CREATE INDEX callback_attempts_message ON callback_attempts (message_id, seq);

-- Per-bucket Standard Webhooks secrets; a bucket without a row signs with the server default.
CREATE TABLE callback_secrets (
    bucket            TEXT PRIMARY KEY,
    secret            TEXT   NOT NULL,
    previous          TEXT,
    previous_until_ms BIGINT,
    updated_ms        BIGINT NOT NULL
);

-- One row per initiated, not yet completed or aborted, multipart upload.
CREATE TABLE multipart_uploads (
    upload_id    TEXT COLLATE "C" PRIMARY KEY,
    bucket       TEXT COLLATE "C" NOT NULL,
    key          TEXT COLLATE "C" NOT NULL,
    content_type TEXT   NOT NULL,
    user_meta    TEXT   NOT NULL,  -- JSON [[name, value], ...] in upload order, as objects
    initiated_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX multipart_uploads_list ON multipart_uploads (bucket, key, upload_id);
CREATE INDEX multipart_uploads_age ON multipart_uploads (initiated_ms);

-- The latest upload of each part number; a re-upload replaces the row.
CREATE TABLE multipart_parts (
    upload_id        TEXT COLLATE "C" NOT NULL
                     REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
    part_number      BIGINT NOT NULL,
    blob_id          TEXT   NOT NULL,
    size             BIGINT NOT NULL,
    md5_hex          TEXT   NOT NULL,
    crc64            BIGINT NOT NULL,  -- same bit-cast as objects.crc64
    last_modified_ms BIGINT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
