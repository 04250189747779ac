//! The named long-lived tasks of a process: every half (bot, web) spawns its tasks here, and a
//! task that ends unasked stops the process (see the binary's `run`).

use std::future::Future;

use tokio::task::JoinSet;
use tracing::{error, info};

/// The named long-lived tasks: one that ends unasked stops the process.
#[derive(Default)]
pub struct Tasks(JoinSet<(&'static str, anyhow::Result<()>)>);

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks")
            .field("running", &self.0.len())
            .finish()
    }
}

impl Tasks {
    /// Starts a task under `name`.
    pub fn spawn(
        &mut self,
        name: &'static str,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        self.0.spawn(async move { (name, task.await) });
    }

    /// The next task to finish, with its name (`None` once all have).
    pub async fn join_next(&mut self) -> Option<(&'static str, anyhow::Result<()>)> {
        let joined = self.0.join_next().await?;
        Some(joined.unwrap_or_else(|join| ("a", Err(anyhow::anyhow!("task panicked: {join}")))))
    }

    /// Waits for every task; returns the failures, each logged.
    pub async fn join_all(mut self) -> Vec<anyhow::Error> {
        let mut errors = Vec::new();
        while let Some((name, result)) = self.join_next().await {
            match result {
                Ok(()) => info!(task = name, "stopped"),
                Err(error) => {
                    error!(
                        task = name,
                        error = format!("{error:#}"),
                        "task failed while stopping"
                    );
                    errors.push(error);
                }
            }
        }
        errors
    }
}
