-- A task claim in one statement (PgStore::claim_group): one round trip, and the queue's row lock,
-- which serializes the claims of one queue so MaxConcurrent is exact, is held only while this
-- function runs instead of across several client round trips (a lock convoy with many workers).
--
-- Each attempt: the oldest claimable task of each queue with room (and of no queue), through
-- tasks_claim_queue, the oldest of those locked SKIP LOCKED; for a section task with siblings
-- wanted, its run's row (SKIP LOCKED: another claimer taking that run's group makes us step over
-- the run); under the queue's lock, the room counted again on a fresh snapshot; then the task
-- and its fusable siblings (same run, input and queue; locked waiting) become Running for
-- p_owner. An attempt that has to step over a run or a full queue runs in a subtransaction that
-- is rolled back, releasing its locks at once, and the next attempt excludes that run or queue.
-- Returns the claimed task first, then its siblings; no rows when nothing is claimable.
CREATE FUNCTION reelflow_claim(p_owner TEXT, p_now BIGINT, p_lease_until BIGINT,
                               p_siblings INT, p_sections TEXT[], p_max_skips INT)
RETURNS SETOF tasks LANGUAGE plpgsql AS $$
DECLARE
    v_full TEXT[] := '{}';
    v_busy TEXT[] := '{}';
    v_skip_queue TEXT;
    v_skip_run TEXT;
    v_fuse BOOLEAN;
    c RECORD;
    v_head tasks;
BEGIN
    FOR attempt IN 1 .. p_max_skips + 1 LOOP
        v_skip_queue := NULL;
        v_skip_run := NULL;
        BEGIN
            WITH open AS (
                SELECT q.id FROM queues q
                WHERE q.state = 'Active' AND q.id <> ALL (v_full)
                  AND q.max_concurrent > (SELECT COUNT(*) FROM tasks r
                                          WHERE r.queue_id = q.id AND r.state = 'Running')
                UNION ALL SELECT ''::text)
            SELECT x.job_id, x.queue_id, x.run_id, x.node_type INTO c
            FROM open o CROSS JOIN LATERAL (
                SELECT t.job_id, t.queue_id, t.run_id, t.node_type, t.created FROM tasks t
                WHERE t.queue_id = o.id AND t.state = 'Submitted' AND t.not_before <= p_now
                  AND t.run_id <> ALL (v_busy)
                ORDER BY t.created, t.job_id LIMIT 1 FOR UPDATE SKIP LOCKED) x
            ORDER BY x.created, x.job_id LIMIT 1;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            v_fuse := p_siblings > 0 AND c.node_type = ANY (p_sections);
            IF v_fuse THEN
                PERFORM 1 FROM instances WHERE run_id = c.run_id FOR UPDATE SKIP LOCKED;
                IF NOT FOUND THEN
                    v_skip_run := c.run_id;
                    RAISE EXCEPTION USING ERRCODE = 'RFSKP';
                END IF;
            END IF;
            IF c.queue_id <> '' THEN
                PERFORM 1 FROM queues WHERE id = c.queue_id FOR UPDATE;
                IF NOT EXISTS (SELECT 1 FROM queues q
                               WHERE q.id = c.queue_id AND q.state = 'Active'
                                 AND q.max_concurrent > (SELECT COUNT(*) FROM tasks r
                                                         WHERE r.queue_id = q.id
                                                           AND r.state = 'Running')) THEN
                    v_skip_queue := c.queue_id;
                    RAISE EXCEPTION USING ERRCODE = 'RFSKP';
                END IF;
            END IF;
            UPDATE tasks SET state = 'Running', started = COALESCE(started, p_now),
                             lease_owner = p_owner, lease_until = p_lease_until
            WHERE job_id = c.job_id RETURNING * INTO v_head;
            RETURN NEXT v_head;
            IF v_fuse THEN
                RETURN QUERY
                WITH picked AS (
                    SELECT s.job_id FROM tasks s
                    WHERE s.run_id = v_head.run_id AND s.state = 'Submitted'
                      AND s.not_before <= p_now AND s.input_bucket = v_head.input_bucket
                      AND s.input_key = v_head.input_key AND s.queue_id = v_head.queue_id
                      AND s.node_type = ANY (p_sections) AND s.job_id <> v_head.job_id
                    ORDER BY s.job_id LIMIT p_siblings FOR UPDATE)
                UPDATE tasks t SET state = 'Running', started = COALESCE(t.started, p_now),
                                   lease_owner = p_owner, lease_until = p_lease_until
                FROM picked WHERE t.job_id = picked.job_id
                RETURNING t.*;
            END IF;
            RETURN;
        EXCEPTION WHEN SQLSTATE 'RFSKP' THEN
            IF v_skip_queue IS NOT NULL THEN
                v_full := v_full || v_skip_queue;
            END IF;
            IF v_skip_run IS NOT NULL THEN
                v_busy := v_busy || v_skip_run;
            END IF;
        END;
    END LOOP;
END
$$;
