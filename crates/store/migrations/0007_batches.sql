-- Batch (inventory) trigger jobs (issue #11, api-reference-2.md §4). Times are Unix seconds.
-- A batch is claimed by one driver with a lease, like a task; `cursor` is where its listing
-- resumes and moves in the transaction that creates the page's runs and items.
CREATE TABLE batches (
    id           TEXT PRIMARY KEY,          -- b + 32 hex, time-ordered
    bucket       TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    kind         TEXT    NOT NULL,          -- Workflow | Job
    state        TEXT    NOT NULL,          -- Submitted | Running | Success | Failed | Pause | Cancel
    request      TEXT    NOT NULL,          -- the parsed Request, as XML
    workflow_ids TEXT    NOT NULL DEFAULT '', -- comma list (Type=Workflow)
    code         TEXT    NOT NULL DEFAULT '',
    message      TEXT    NOT NULL DEFAULT '',
    cursor       TEXT    NOT NULL DEFAULT '',
    listing_done INTEGER NOT NULL DEFAULT 0,
    total        INTEGER NOT NULL DEFAULT 0,
    created      INTEGER NOT NULL,
    started      INTEGER,
    ended        INTEGER,
    lease_owner  TEXT,
    lease_until  INTEGER
);
CREATE INDEX batches_bucket ON batches (bucket, id);
CREATE INDEX batches_state ON batches (state, id);

-- One row per (object, workflow) a batch started: the exactly-once guard and the link from a
-- batch to its instances (progress) and back (`GET /workflowexecution?jobId=b…`).
CREATE TABLE batch_items (
    batch_id    TEXT NOT NULL,
    key         TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    job_id      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (batch_id, key, workflow_id)
) WITHOUT ROWID;
CREATE INDEX batch_items_run ON batch_items (run_id);
