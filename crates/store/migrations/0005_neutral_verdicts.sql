-- The verdict of a logged delivery attempt is applied by the store's backend-neutral code
-- (crates/store/src/outbox.rs), in the transaction that logs it, the same way on SQLite and
-- PostgreSQL; the trigger that used to apply it here goes.
DROP TRIGGER IF EXISTS callback_attempt_verdict;
