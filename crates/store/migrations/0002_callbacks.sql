-- Production-grade callbacks (issue #5): event kinds, leases, delivery rounds, the attempt log
-- and per-bucket signing secrets. Times are Unix milliseconds.

-- What a message reports on. TaskFinish messages carry the task's JobId.
ALTER TABLE callbacks ADD COLUMN kind TEXT NOT NULL DEFAULT 'WorkflowFinish';
ALTER TABLE callbacks ADD COLUMN job_id TEXT;
ALTER TABLE callbacks ADD COLUMN workflow_id TEXT NOT NULL DEFAULT '';
-- scheme://host[:port] of url: the per-destination in-flight limit key ('' for rows written
-- before this migration; they simply share one key).
ALTER TABLE callbacks ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
-- Redeliver and recover start a new round; the retry schedule restarts with each round.
ALTER TABLE callbacks ADD COLUMN round INTEGER NOT NULL DEFAULT 1;
ALTER TABLE callbacks ADD COLUMN round_attempts INTEGER NOT NULL DEFAULT 0;
-- Scheduled | Manual: what triggers the next attempt.
ALTER TABLE callbacks ADD COLUMN next_trigger TEXT NOT NULL DEFAULT 'Scheduled';
-- A claimed (Sending) message is leased to one delivery node.
ALTER TABLE callbacks ADD COLUMN lease_owner TEXT;
ALTER TABLE callbacks ADD COLUMN lease_until_ms INTEGER;
-- Identifies one claim's batch, read back after the claiming UPDATE.
ALTER TABLE callbacks ADD COLUMN claim_token TEXT;
ALTER TABLE callbacks ADD COLUMN last_attempt_ms INTEGER;
ALTER TABLE callbacks ADD COLUMN last_status INTEGER;

UPDATE callbacks SET round_attempts = attempts,
    workflow_id = COALESCE((SELECT workflow_id FROM instances WHERE instances.run_id = callbacks.run_id), '');

CREATE INDEX callbacks_bucket ON callbacks (bucket, created_ms);
CREATE INDEX callbacks_workflow ON callbacks (workflow_id, created_ms);
CREATE INDEX callbacks_state_created ON callbacks (state, created_ms);
CREATE INDEX callbacks_lease ON callbacks (lease_owner) WHERE state = 'Sending';
CREATE INDEX callbacks_claim ON callbacks (claim_token) WHERE state = 'Sending';

-- One row per attempt, never updated.
CREATE TABLE callback_attempts (
    seq             INTEGER PRIMARY KEY,
    message_id      TEXT    NOT NULL,
    number          INTEGER NOT NULL,   -- 1-based over all rounds
    round           INTEGER NOT NULL,
    triggered_by    TEXT    NOT NULL,   -- Scheduled | Manual
    started_ms      INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    url             TEXT    NOT NULL,
    status          INTEGER,            -- HTTP status when a response arrived
    error_kind      TEXT,               -- NULL on success
    error           TEXT    NOT NULL DEFAULT '',
    response_body   TEXT    NOT NULL DEFAULT '',  -- first 20 KB
    verdict         TEXT    NOT NULL,   -- Delivered | Retry | Exhausted
    next_attempt_ms INTEGER,            -- set with verdict Retry
    node            TEXT    NOT NULL    -- the delivery node (lease owner) that made it
);
CREATE INDEX callback_attempts_message ON callback_attempts (message_id, seq);

-- Logging an attempt applies its verdict to the message in the same statement, so a batch of
-- attempts is one short INSERT (no multi-statement transaction holding the write lock across
-- round trips). The verdict applies only while the attempt's node still holds the lease: an
-- attempt of a node whose lease was taken over is logged but changes nothing.
CREATE TRIGGER callback_attempt_verdict AFTER INSERT ON callback_attempts
BEGIN
    UPDATE callbacks SET
        state = CASE NEW.verdict WHEN 'Delivered' THEN 'Delivered'
                                 WHEN 'Retry' THEN 'Pending' ELSE 'Exhausted' END,
        attempts = attempts + 1,
        round_attempts = round_attempts + 1,
        last_attempt_ms = NEW.started_ms,
        last_status = NEW.status,
        last_error = NEW.error,
        next_attempt_ms = COALESCE(NEW.next_attempt_ms, next_attempt_ms),
        delivered_ms = CASE NEW.verdict WHEN 'Delivered' THEN NEW.started_ms + NEW.duration_ms
                                        ELSE delivered_ms END,
        next_trigger = 'Scheduled',
        lease_owner = NULL,
        lease_until_ms = NULL
    WHERE id = NEW.message_id AND state = 'Sending' AND lease_owner = NEW.node;
END;

-- Per-bucket Standard Webhooks secrets; a bucket without a row signs with the server default.
CREATE TABLE callback_secrets (
    bucket            TEXT PRIMARY KEY,
    secret            TEXT    NOT NULL,
    previous          TEXT,
    previous_until_ms INTEGER,
    updated_ms        INTEGER NOT NULL
);
