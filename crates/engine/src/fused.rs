//! Fused execution: sibling tasks of one run that read the same input and run as output
//! sections (Transcode, VideoStream, Snapshot) share one ffmpeg process and one decode, while
//! each keeps its own JobId, state and outputs. If the shared run fails, every task is run
//! again on its own, so a fused run is never less correct than separate ones.

use reelflow_media::RunControl;
use reelflow_model::execution::Task;

use crate::Engine;
use crate::counters::Counters;
use crate::execute::{Failure, Job, ScratchDir, TaskResult, redact_failure};
use crate::nodes;

impl Engine {
    /// Runs `tasks` (same run, same input) as one ffmpeg process.
    pub(crate) async fn execute_group(
        &self,
        tasks: &[Task],
        ctl: &RunControl,
    ) -> Result<Vec<TaskResult>, Failure> {
        self.refuse_split_parents(tasks).await?;
        Counters::add(&self.inner.counters.fused_runs, 1);
        let started = std::time::Instant::now();
        let scratches = tasks
            .iter()
            .map(|t| ScratchDir::create(self.inner.config.work_dir.join(&t.job_id)))
            .collect::<Result<Vec<_>, _>>()?;
        let result = async {
            let mut jobs: Vec<Job> = Vec::with_capacity(tasks.len());
            for task in tasks {
                jobs.push(self.resolve(task).await?);
            }
            let first = &tasks[0];
            let input = self
                .local_object(&first.input_bucket, &first.input_key, &scratches[0])
                .await?;
            let pairs: Vec<(&Job, &ScratchDir)> = jobs.iter().zip(scratches.iter()).collect();
            let runs = nodes::run_sections(self, &pairs, &input, ctl).await?;
            let mut results = Vec::with_capacity(runs.len());
            for (job, run) in jobs.iter().zip(runs) {
                let outputs = self.store_outputs(job, run.produced).await?;
                results.push(TaskResult {
                    outputs,
                    result: run.result,
                });
            }
            Ok(results)
        }
        .await;
        // Each task of the group took the whole shared run.
        for task in tasks {
            self.observe_task(task.node_type, result.is_ok(), started.elapsed());
        }
        result.map_err(|f| redact_failure(&scratches, &tasks[0].input_key, f))
    }
}
