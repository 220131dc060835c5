-- Sub-tasks (issue 13, segmented transcoding): a Transcode task splits its encode into pieces
-- (node_type 'TranscodePart') that any worker claims like any task. parent_job_id names the
-- task they work for (same run), sub_spec what to do (the engine's JSON). Ordinary tasks have
-- NULL/''. Sub-tasks are never shown through the API or in callbacks.
ALTER TABLE tasks ADD COLUMN parent_job_id TEXT;
ALTER TABLE tasks ADD COLUMN sub_spec TEXT NOT NULL DEFAULT '';
CREATE INDEX tasks_parent ON tasks (parent_job_id) WHERE parent_job_id IS NOT NULL;
