-- Claims for a node with p_limit idle task slots, in one statement (PgStore::claim_groups).
--
-- The first claim is exactly reelflow_claim's (migration 0005): the oldest claimable task of
-- any open queue, a section task fused with its siblings. A fused group ends the batch. Otherwise
-- the rest of the batch comes from the same queue, whose row that claim locked (held until this
-- transaction ends, so the room counted here is exact): its oldest claimable tasks, up to the
-- queue's remaining room, taken with one index scan and one UPDATE (`FOR UPDATE SKIP LOCKED`),
-- leaving out section tasks when siblings are wanted (those are claimed first by a later call,
-- with their siblings). So the rows read as single tasks, possibly followed, after a section
-- head, by its siblings; PgStore::claim_groups splits them that way.
CREATE FUNCTION reelflow_claim_many(p_owner TEXT, p_now BIGINT, p_lease_until BIGINT,
                                    p_siblings INT, p_sections TEXT[], p_max_skips INT,
                                    p_limit INT)
RETURNS SETOF tasks LANGUAGE plpgsql AS $$
DECLARE
    v_head tasks;
    v_got BOOLEAN := FALSE;
    v_room BIGINT;
    r tasks;
BEGIN
    FOR r IN SELECT * FROM reelflow_claim(p_owner, p_now, p_lease_until, p_siblings,
                                          p_sections, p_max_skips) LOOP
        IF NOT v_got THEN
            v_head := r;
            v_got := TRUE;
        END IF;
        RETURN NEXT r;
    END LOOP;
    IF NOT v_got OR p_limit <= 1
       OR (p_siblings > 0 AND v_head.node_type = ANY (p_sections)) THEN
        RETURN;
    END IF;
    v_room := p_limit - 1;
    IF v_head.queue_id <> '' THEN
        SELECT LEAST(v_room, q.max_concurrent - (SELECT COUNT(*) FROM tasks c
                                                WHERE c.queue_id = q.id AND c.state = 'Running'))
        INTO v_room FROM queues q WHERE q.id = v_head.queue_id;
    END IF;
    IF v_room > 0 THEN
        RETURN QUERY
        UPDATE tasks t SET state = 'Running', started = COALESCE(t.started, p_now),
                           lease_owner = p_owner, lease_until = p_lease_until
        WHERE t.job_id IN (
            SELECT s.job_id FROM tasks s
            WHERE s.queue_id = v_head.queue_id AND s.state = 'Submitted'
              AND s.not_before <= p_now
              AND NOT (p_siblings > 0 AND s.node_type = ANY (p_sections))
            ORDER BY s.created, s.job_id LIMIT v_room FOR UPDATE SKIP LOCKED)
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
