-- Pieces of segmented transcodes to collect (issue 13): a sub-task's result names the blob of
-- the piece it stored; once its parent ended the engine deletes the blob and clears the result.
-- The collector looks at the sub-tasks that still have one, never at every sub-task ever run.
-- Ordinary tasks (parent_job_id NULL) get no entries; lease renewals and progress updates
-- change neither column, so they stay HOT updates.
CREATE INDEX tasks_pieces ON tasks (parent_job_id) WHERE parent_job_id IS NOT NULL AND result <> '';
