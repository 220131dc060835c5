-- Transient failures put a task back with a count of its failed attempts and a time before
-- which it is not claimed (exponential backoff).
ALTER TABLE tasks ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN not_before BIGINT NOT NULL DEFAULT 0;
