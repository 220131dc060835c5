-- Per-task results beyond output objects (e.g. a MediaInfo node's ffprobe report, as XML),
-- queues (one default per bucket; State and MaxConcurrent gate task claims), and cancellation.
ALTER TABLE tasks ADD COLUMN result TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN queue_id TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tasks_queue ON tasks (queue_id, state);
CREATE INDEX tasks_type ON tasks (node_type, created);

CREATE TABLE queues (
    id             TEXT PRIMARY KEY,
    bucket         TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    state          TEXT    NOT NULL,   -- Active | Paused
    max_size       INTEGER NOT NULL,
    max_concurrent INTEGER NOT NULL,
    notify         TEXT    NOT NULL DEFAULT '',  -- NotifyConfig element as XML, '' when none
    is_default     INTEGER NOT NULL DEFAULT 0,
    created        INTEGER NOT NULL,
    updated        INTEGER NOT NULL
);
CREATE UNIQUE INDEX queues_default ON queues (bucket) WHERE is_default = 1;
