-- Claims at cluster speed (PgStore::claim_groups): many tasks per statement, and no claim step
-- whose cost grows with the number of tasks processed since the last vacuum.
--
-- Every state change of a task leaves a dead entry in the indexes that order or count tasks by
-- state until VACUUM removes it; an index scan steps over each one. Counting a queue's Running
-- tasks through tasks_queue, and finding its oldest Submitted task through tasks_claim_queue,
-- therefore cost more with every task claimed since the last vacuum (measured: ~2.5 ms per claim
-- after 10,000 tasks). So:
--   * queue_running counts Running tasks per queue and node, kept exact by a statement trigger on
--     every change of tasks (one row per node, so nodes finishing tasks do not contend on one
--     row); reelflow_running(queue) sums a queue's few rows;
--   * reelflow_claim_many can start its scan after a position (p_after_created, p_after_job) the
--     caller remembers from its previous batch of that queue, an index descent instead of a walk
--     over the entries of everything claimed before. Tasks that become claimable behind that
--     position (retries, requeued tasks) are found by the caller's periodic claims without one.

CREATE TABLE queue_running (
    queue_id TEXT COLLATE "C" NOT NULL,
    owner    TEXT COLLATE "C" NOT NULL,
    running  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (queue_id, owner)
);
INSERT INTO queue_running (queue_id, owner, running)
SELECT queue_id, COALESCE(lease_owner, ''), COUNT(*) FROM tasks WHERE state = 'Running'
GROUP BY 1, 2;

CREATE FUNCTION reelflow_count_running() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO queue_running AS r (queue_id, owner, running)
    SELECT d.queue_id, d.owner, SUM(d.delta) FROM (
        SELECT n.queue_id, COALESCE(n.lease_owner, '') AS owner, 1 AS delta
        FROM new_rows n LEFT JOIN old_rows o ON o.job_id = n.job_id
        WHERE n.state = 'Running' AND o.state IS DISTINCT FROM 'Running'
        UNION ALL
        SELECT o.queue_id, COALESCE(o.lease_owner, ''), -1
        FROM old_rows o LEFT JOIN new_rows n ON n.job_id = o.job_id
        WHERE o.state = 'Running' AND n.state IS DISTINCT FROM 'Running') d
    GROUP BY d.queue_id, d.owner
    ON CONFLICT (queue_id, owner) DO UPDATE SET running = r.running + EXCLUDED.running;
    RETURN NULL;
END
$$;

-- One trigger per event: a trigger with transition tables serves one event only.
CREATE FUNCTION reelflow_count_running_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO queue_running AS r (queue_id, owner, running)
    SELECT queue_id, COALESCE(lease_owner, ''), COUNT(*) FROM new_rows WHERE state = 'Running'
    GROUP BY 1, 2
    ON CONFLICT (queue_id, owner) DO UPDATE SET running = r.running + EXCLUDED.running;
    RETURN NULL;
END
$$;
CREATE FUNCTION reelflow_count_running_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO queue_running AS r (queue_id, owner, running)
    SELECT queue_id, COALESCE(lease_owner, ''), -COUNT(*) FROM old_rows WHERE state = 'Running'
    GROUP BY 1, 2
    ON CONFLICT (queue_id, owner) DO UPDATE SET running = r.running + EXCLUDED.running;
    RETURN NULL;
END
$$;
CREATE TRIGGER tasks_running_upd AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reelflow_count_running();
CREATE TRIGGER tasks_running_ins AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reelflow_count_running_ins();
CREATE TRIGGER tasks_running_del AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reelflow_count_running_del();

-- Running tasks of a queue, all nodes.
CREATE FUNCTION reelflow_running(p_queue TEXT) RETURNS BIGINT LANGUAGE sql STABLE AS $$
    SELECT COALESCE(SUM(running), 0)::BIGINT FROM queue_running WHERE queue_id = p_queue
$$;

-- reelflow_claim of migration 0005, counting through reelflow_running.
CREATE OR REPLACE FUNCTION reelflow_claim(p_owner TEXT, p_now BIGINT, p_lease_until BIGINT,
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
                  AND q.max_concurrent > reelflow_running(q.id)
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
                                 AND q.max_concurrent > reelflow_running(q.id)) THEN
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

-- Claims for a node with p_limit idle task slots, in one statement.
--
-- Without a position (p_queue NULL): the first claim is exactly reelflow_claim's (the oldest
-- claimable task of any open queue, a section task fused with its siblings). A fused group ends
-- the batch. Otherwise the rest of the batch comes from the same queue, whose row that claim
-- locked (held until this transaction ends, so the room counted here is exact).
-- With a position: the queue p_queue only (its row locked, its room counted), from after that
-- position.
-- Either way the batch's other tasks are the queue's oldest claimable ones, up to its remaining
-- room, taken with one index scan and one UPDATE (`FOR UPDATE SKIP LOCKED`), leaving out section
-- tasks when siblings are wanted (those are claimed first by a later call, with their siblings).
-- So the rows read as single tasks, possibly followed, after a section head, by its siblings;
-- PgStore::claim_groups splits them that way.
CREATE FUNCTION reelflow_claim_many(p_owner TEXT, p_now BIGINT, p_lease_until BIGINT,
                                    p_siblings INT, p_sections TEXT[], p_max_skips INT,
                                    p_limit INT, p_queue TEXT, p_after_created BIGINT,
                                    p_after_job TEXT)
RETURNS SETOF tasks LANGUAGE plpgsql AS $$
DECLARE
    v_queue TEXT := p_queue;
    v_got BOOLEAN := FALSE;
    v_room BIGINT := p_limit;
    r tasks;
BEGIN
    IF v_queue IS NULL THEN
        FOR r IN SELECT * FROM reelflow_claim(p_owner, p_now, p_lease_until, p_siblings,
                                              p_sections, p_max_skips) LOOP
            IF NOT v_got THEN
                v_queue := r.queue_id;
                v_got := TRUE;
                IF p_siblings > 0 AND r.node_type = ANY (p_sections) THEN
                    v_room := 0;
                END IF;
            END IF;
            RETURN NEXT r;
        END LOOP;
        IF NOT v_got THEN
            RETURN;
        END IF;
        v_room := v_room - 1;
    END IF;
    IF v_room > 0 AND v_queue <> '' THEN
        SELECT LEAST(v_room, q.max_concurrent - reelflow_running(q.id)) INTO v_room
        FROM queues q WHERE q.id = v_queue AND q.state = 'Active' FOR UPDATE;
    END IF;
    IF v_room > 0 THEN
        RETURN QUERY
        UPDATE tasks t SET state = 'Running', started = COALESCE(t.started, p_now),
                           lease_owner = p_owner, lease_until = p_lease_until
        -- = ANY (ARRAY(...)): the picked ids are looked up by primary key; with IN (...) the
        -- planner chose a hash join over a scan of the whole table for larger batches.
        WHERE t.job_id = ANY (ARRAY(
            SELECT s.job_id FROM tasks s
            WHERE s.queue_id = v_queue AND s.state = 'Submitted' AND s.not_before <= p_now
              AND (p_after_created IS NULL
                   OR (s.created, s.job_id) > (p_after_created, p_after_job))
              AND NOT (p_siblings > 0 AND s.node_type = ANY (p_sections))
            ORDER BY s.created, s.job_id LIMIT v_room FOR UPDATE SKIP LOCKED))
        RETURNING t.*;
    END IF;
END
$$;

-- Claims find the oldest task of each open queue (and of no queue, queue_id '') through
-- tasks_claim_queue. The older tasks_submitted index (created, job_id), which knows no queue,
-- tempted the planner into answering the no-queue branch with it: a walk over every Submitted
-- task of every other queue on each claim (O(backlog), measured 578-1,210 buffers per claim
-- with 3,000 tasks waiting).
DROP INDEX tasks_submitted;
