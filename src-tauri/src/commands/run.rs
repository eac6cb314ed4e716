//! Commands behind the Run view: what can be run (`run_choices`), starting a run and resuming an
//! approved cloud escalation, both streamed to the UI over a `Channel<RunMessage>`, and
//! cancelling a run by id. The core does the work (`run_job_stream`, `resume_job_stream`); this
//! file only spawns it, forwards its events, and keeps each running task's handle so that
//! `cancel_run` can abort it (dropping the model stream closes its connection).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use handshake_core::consent::deny_reason_str;
use handshake_core::facade::{FacadeError, RunChoices, RunEvent, StartRun};
use handshake_core::Handshake;
use serde::Serialize;
use tauri::ipc::Channel;

use crate::error::{codes, CommandError};
use crate::state::AppState;

/// A run that was started: its id (for `cancel_run`) and the job it belongs to.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct RunStarted {
    pub run_id: String,
    pub job_id: String,
}

/// What the channel carries: the core's events, then at most one failure, which ends the run
/// (`cancelled` when the user stopped it). `deny_reason` names why the guard refused a cloud
/// escalation (`locked`, `profile`, `cap`, ...).
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunMessage {
    Event {
        event: RunEvent,
    },
    Failed {
        error: CommandError,
        deny_reason: Option<String>,
    },
}

impl RunMessage {
    fn failed(error: FacadeError) -> Self {
        let deny_reason = match &error {
            FacadeError::Consent(e) => e.deny_reason().map(|r| deny_reason_str(r).to_owned()),
            _ => None,
        };
        Self::Failed {
            error: error.into(),
            deny_reason,
        }
    }

    fn internal() -> Self {
        Self::Failed {
            error: CommandError::new(
                codes::INTERNAL,
                "the run stopped because of an internal error; see the app's log",
            ),
            deny_reason: None,
        }
    }

    fn cancelled() -> Self {
        Self::Failed {
            error: CommandError::new(
                codes::CANCELLED,
                "the run was cancelled; its connection to the model was closed",
            ),
            deny_reason: None,
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs in progress, by run id: the task to abort and the channel to tell. Held as app state
/// (`app.manage`); cheap to clone.
#[derive(Clone, Default)]
pub struct Runs {
    next: Arc<AtomicU64>,
    active: Arc<Mutex<HashMap<String, Running>>>,
}

struct Running {
    task: tauri::async_runtime::JoinHandle<()>,
    channel: Channel<RunMessage>,
}

impl Runs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spawns `work`, which reports through `channel`, under a fresh run id.
    fn spawn<F>(&self, channel: Channel<RunMessage>, work: F) -> String
    where
        F: std::future::Future<Output = Result<(), FacadeError>> + Send + 'static,
    {
        let run_id = format!("run-{}", self.next.fetch_add(1, Ordering::Relaxed) + 1);
        let mut active = self.lock();
        let id = run_id.clone();
        let tell = channel.clone();
        let runs = self.clone();
        let task = tauri::async_runtime::spawn(async move {
            // The work runs in its own task so that a panic ends the run with a message instead
            // of a view stuck on "running"; aborting this task aborts it too (the guard).
            let inner = tokio::spawn(work);
            let _abort_inner = AbortOnDrop(inner.abort_handle());
            match inner.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    let _ = tell.send(RunMessage::failed(error));
                }
                Err(joined) if joined.is_panic() => {
                    tracing::error!("a run's task panicked");
                    let _ = tell.send(RunMessage::internal());
                }
                Err(_) => {}
            }
            runs.lock().remove(&id);
        });
        active.insert(run_id.clone(), Running { task, channel });
        run_id
    }

    /// Aborts a run; false when it already ended.
    fn cancel(&self, run_id: &str) -> bool {
        let Some(running) = self.lock().remove(run_id) else {
            return false;
        };
        running.task.abort();
        let _ = running.channel.send(RunMessage::cancelled());
        true
    }
}

fn forward(channel: &Channel<RunMessage>) -> impl FnMut(RunEvent) + Send + '_ {
    move |event| {
        let _ = channel.send(RunMessage::Event { event });
    }
}

/// The profiles a run can use and the governance mode.
#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn run_choices(state: tauri::State<'_, AppState>) -> Result<RunChoices, CommandError> {
    Ok(state.core()?.run_choices().await?)
}

/// Starts a run (a new job on the chosen or active profile, unless `job_id` continues one) and
/// streams its events over `channel`.
#[tauri::command]
#[tracing::instrument(skip(state, runs, channel, run), fields(role = ?run.role), err)]
pub async fn start_run(
    state: tauri::State<'_, AppState>,
    runs: tauri::State<'_, Runs>,
    run: StartRun,
    channel: Channel<RunMessage>,
) -> Result<RunStarted, CommandError> {
    let core: Handshake = state.core()?.clone();
    let request = core.prepare_run(run).await?;
    let job_id = request.job_id.clone();
    let tell = channel.clone();
    let run_id = runs.spawn(channel, async move {
        core.run_job_stream(request, &mut forward(&tell)).await?;
        Ok(())
    });
    Ok(RunStarted { run_id, job_id })
}

/// Sends the job's approved cloud escalation and streams the answer over `channel`.
#[tauri::command]
#[tracing::instrument(skip(state, runs, channel), err)]
pub async fn resume_run(
    state: tauri::State<'_, AppState>,
    runs: tauri::State<'_, Runs>,
    job_id: String,
    channel: Channel<RunMessage>,
) -> Result<RunStarted, CommandError> {
    let core: Handshake = state.core()?.clone();
    let tell = channel.clone();
    let job = job_id.clone();
    let run_id = runs.spawn(channel, async move {
        core.resume_job_stream(&job, &mut forward(&tell)).await?;
        Ok(())
    });
    Ok(RunStarted { run_id, job_id })
}

/// Cancels a run: its model call is dropped (closing the connection) and its channel gets a
/// `cancelled` failure. Returns false when the run had already ended.
#[tauri::command]
#[tracing::instrument(skip(runs), err)]
pub async fn cancel_run(
    runs: tauri::State<'_, Runs>,
    run_id: String,
) -> Result<bool, CommandError> {
    Ok(runs.cancel(&run_id))
}

/// Types shared with the UI.
pub fn bindings(b: &mut crate::bindings::Bindings) {
    b.add::<RunChoices>()
        .add::<StartRun>()
        .add::<RunStarted>()
        .add::<RunMessage>()
        .add::<RunEvent>();
}

#[cfg(test)]
mod tests {
    use super::*;
    use handshake_core::consent::ConsentError;
    use handshake_core::recorder::DenyReason;

    #[test]
    fn a_guard_denial_names_its_reason() {
        let message = RunMessage::failed(FacadeError::Consent(ConsentError::Denied {
            reason: DenyReason::Locked,
            escalation_id: None,
        }));
        let json = serde_json::to_value(&message).unwrap_or_default();
        assert_eq!(json["type"], "failed");
        assert_eq!(json["error"]["code"], "escalation_denied");
        assert_eq!(json["deny_reason"], "locked");
    }

    /// A channel that keeps every JSON message it is sent.
    fn recording_channel() -> (Channel<RunMessage>, Arc<Mutex<Vec<serde_json::Value>>>) {
        let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let sink = got.clone();
        let channel = Channel::new(move |body| {
            if let tauri::ipc::InvokeResponseBody::Json(json) = body {
                if let Ok(value) = serde_json::from_str(&json) {
                    sink.lock().unwrap_or_else(|p| p.into_inner()).push(value);
                }
            }
            Ok(())
        });
        (channel, got)
    }

    /// Sets its flag when dropped: proves the run's future (and its model stream) was dropped.
    struct DropFlag(Arc<std::sync::atomic::AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn cancel_drops_the_run_and_tells_its_channel() {
        let runs = Runs::default();
        let (channel, got) = recording_channel();
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = DropFlag(dropped.clone());
        let run_id = runs.spawn(channel, async move {
            let _flag = flag;
            std::future::pending::<()>().await;
            Ok(())
        });
        assert!(runs.cancel(&run_id));
        for _ in 0..200 {
            if dropped.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(
            dropped.load(Ordering::SeqCst),
            "the run's future was not dropped"
        );
        let messages = got.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["error"]["code"], "cancelled");
        assert!(!runs.cancel(&run_id), "a cancelled run is gone");
    }

    #[test]
    fn a_failed_run_reports_once_and_leaves_the_registry() {
        let runs = Runs::default();
        let (channel, got) = recording_channel();
        let run_id = runs.spawn(channel, async {
            Err(FacadeError::NothingToResume {
                job_id: "job-1".into(),
                status: None,
            })
        });
        for _ in 0..200 {
            if !got.lock().unwrap_or_else(|p| p.into_inner()).is_empty() && runs.lock().is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let messages = got.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["type"], "failed");
        assert_eq!(messages[0]["error"]["code"], "nothing_to_resume");
        assert!(!runs.cancel(&run_id), "an ended run is gone");
    }

    #[test]
    fn a_panicking_run_ends_with_an_internal_error() {
        let runs = Runs::default();
        let (channel, got) = recording_channel();
        let run_id = runs.spawn(channel, async {
            let nothing: Option<()> = None;
            #[allow(clippy::unnecessary_literal_unwrap)]
            nothing.unwrap();
            Ok(())
        });
        for _ in 0..200 {
            if !got.lock().unwrap_or_else(|p| p.into_inner()).is_empty() && runs.lock().is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let messages = got.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["error"]["code"], "internal");
        assert!(!runs.cancel(&run_id), "an ended run is gone");
    }

    #[test]
    fn cancelling_an_unknown_run_says_it_already_ended() {
        assert!(!Runs::default().cancel("run-404"));
        let json = serde_json::to_value(RunMessage::cancelled()).unwrap_or_default();
        assert_eq!(json["error"]["code"], "cancelled");
    }
}
