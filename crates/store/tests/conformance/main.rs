//! The store conformance suite: one set of tests written against the store traits, run for
//! every backend (the idea of garage's `db/test.rs`).
//!
//! Each test is an `async fn(Arc<dyn Store>)` in one of the modules below, listed once in
//! [`conformance!`], which makes a `#[tokio::test]` of it per backend: `sqlite::<module>::<test>`
//! on a fresh SQLite file, and `postgres::<module>::<test>` on a schema of its own in the
//! database at `REELFLOW_TEST_DATABASE_URL` (skipped with a message when that is unset, failed
//! when it is unset in CI). Backend-specific checks (rows written by old schemas, URL parsing)
//! stay unit tests of their backend.

mod batch;
mod batched;
mod catalog;
mod definitions;
mod jobs;
mod multipart;
mod nodes;
mod outbox;
mod queues;
mod races;
mod runs;
mod stats;
mod subtasks;
mod support;
mod wake;

/// `module: [test, …]` for every test: one `#[tokio::test]` per backend and test.
macro_rules! conformance {
    ($($module:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        mod sqlite {
            $(mod $module {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    crate::support::on_sqlite(crate::$module::$test).await;
                })*
            })*
        }
        mod postgres {
            $(mod $module {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    crate::support::on_postgres(crate::$module::$test).await;
                })*
            })*
        }
    };
}

conformance! {
    subtasks: [
        a_split_parks_the_parent_and_inserts_claimable_parts,
        the_last_part_resubmits_the_parent_and_progress_adds_up,
        a_cancel_before_the_split_refuses_it,
        cancelling_a_parked_parent_cancels_its_parts,
        pieces_of_a_cancelled_parent_are_listed_until_collected,
        pieces_of_an_ended_parent_are_listed_but_not_its_own_result,
    ],
    batch: [
        batches_are_created_read_and_listed_with_filters_and_paging,
        one_driver_holds_a_batch_until_its_lease_expires_or_it_releases_it,
        a_page_commits_runs_items_and_cursor_together_only_under_the_lease,
        cancel_stops_the_driver_and_returns_unstarted_tasks,
        the_end_is_written_with_its_callback_by_the_owner_only,
    ],
    batched: [
        batched_ends_equal_ends_one_at_a_time,
        batched_claims_take_the_oldest_once_and_end_at_a_fused_group,
        batched_claims_keep_the_queue_limit,
        batched_claims_after_a_position_lose_nothing,
    ],
    catalog: [
        buckets_are_created_once_listed_by_name_and_deleted_when_empty,
        object_listing_is_byte_ordered_and_prefix_exact,
        objects_round_trip_and_replacements_hand_back_the_old_blob,
        an_upload_and_its_runs_commit_together,
    ],
    definitions: [
        templates_are_saved_replaced_listed_and_deleted,
        workflows_are_saved_replaced_listed_and_deleted,
    ],
    runs: [
        upload_run_claim_finish_and_callback,
        a_finish_records_the_outcome_and_task_callbacks,
        leases_renew_and_progress_only_while_running,
        stale_leases_are_requeued,
        lost_workers_count_as_attempts_and_hand_backs_do_not,
        claims_take_the_oldest_submitted_task,
        runs_list_in_both_orders_with_filters_and_paging,
    ],
    jobs: [
        tasks_are_listed_with_filters_and_paging,
        a_cancel_before_start_ends_the_task_and_applies_the_decision,
        a_cancel_of_a_running_task_signals_its_worker,
        siblings_reading_the_same_input_are_claimed_together,
        a_retried_task_waits_its_turn_and_keeps_its_count,
    ],
    nodes: [
        nodes_register_beat_stop_and_restart,
        nodes_show_the_tasks_they_hold,
    ],
    queues: [
        queues_bound_concurrency_and_hold_work_while_paused,
        a_full_queue_does_not_block_other_queues,
        queues_are_listed_read_and_saved,
    ],
    outbox: [
        claim_retry_deliver_and_log,
        exhausted_messages_keep_their_due_time,
        attempts_of_one_message_in_a_batch_apply_once,
        a_lost_lease_logs_the_attempt_but_keeps_the_new_owner_state,
        born_leased_messages_are_read_in_commit_order_once,
        saturated_endpoints_are_skipped,
        claims_take_the_earliest_due_first_up_to_the_limit,
        redeliver_and_recover_start_new_rounds,
        listing_filters_and_pages_newest_first,
        nul_characters_in_free_text_read_back_as_replacement_characters,
        bucket_secrets_init_once_and_rotate,
    ],
    multipart: [
        uploads_are_found_only_under_their_bucket_and_key,
        parts_overwrite_and_list_in_number_order_with_paging,
        uploads_list_in_key_then_id_byte_order_with_markers,
        complete_commits_the_object_and_runs_once_and_ends_the_upload,
        complete_of_a_new_key_replaces_nothing,
        complete_refuses_another_key_or_a_reuploaded_part_and_changes_nothing,
        abort_returns_every_part_blob_and_ends_the_upload,
        stale_uploads_are_the_oldest_before_the_cutoff,
    ],
    races: [
        concurrent_claims_take_each_task_once,
        concurrent_sibling_finishes_end_each_run_once,
        a_queue_limit_holds_under_concurrent_claims,
        concurrent_claimers_never_split_a_sibling_group,
        a_claim_racing_a_cancel_agree,
        concurrent_replacements_hand_back_each_blob_once,
        concurrent_part_uploads_hand_back_each_blob_once,
        a_completion_racing_an_abort_has_one_winner,
        born_leased_messages_are_read_once_under_concurrent_writers,
        concurrent_callback_claims_are_disjoint,
        first_writers_win_for_default_queues_and_secrets,
    ],
    wake: [
        work_made_ready_raises_the_wake_signals,
    ],
    stats: [
        an_empty_store_counts_zero_runs_in_every_state,
        runs_tasks_and_queue_loads_are_counted,
    ],
}
