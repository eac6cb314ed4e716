//! What a shell submits to start a run ([`StartRun`]) and how it becomes a [`RunRequest`]: the
//! prompt is checked, blank optional fields are dropped, and a job is started on the chosen (or
//! active) profile unless the run continues one.

use serde::Deserialize;

use crate::profiles::Role;

use super::error::FacadeError;
use super::run::RunRequest;
use super::Handshake;

/// A run as the Run view (or another shell) submits it.
#[derive(Clone, Debug, Deserialize, ts_rs::TS)]
pub struct StartRun {
    /// The profile to start a job on; the active profile when `null`.
    pub profile_id: Option<String>,
    /// Continue this job instead of starting one.
    pub job_id: Option<String>,
    pub role: Role,
    pub file_type: Option<String>,
    pub task_type: Option<String>,
    pub prompt: String,
    pub max_tokens: Option<u32>,
    /// Sampling temperature; 0 (the most repeatable) when absent.
    #[serde(default)]
    #[ts(optional)]
    pub temperature: Option<f32>,
    /// Stop sequences; none when absent.
    #[serde(default)]
    #[ts(optional)]
    pub stop_sequences: Option<Vec<String>>,
}

fn present(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

impl Handshake {
    /// Checks `run` and starts its job (unless it continues one); the returned request names
    /// the job. Nothing is started when the prompt is blank.
    pub async fn prepare_run(&self, run: StartRun) -> Result<RunRequest, FacadeError> {
        if run.prompt.trim().is_empty() {
            return Err(FacadeError::InvalidInput {
                field: "prompt",
                reason: "write a prompt first".into(),
            });
        }
        let job_id = match present(run.job_id) {
            Some(job_id) => job_id,
            None => {
                self.start_job(present(run.profile_id).as_deref())
                    .await?
                    .job_id
            }
        };
        Ok(RunRequest {
            job_id,
            role: run.role,
            file_type: present(run.file_type),
            task_type: present(run.task_type),
            prompt: run.prompt,
            max_tokens: run.max_tokens,
            temperature: run.temperature.unwrap_or(0.0),
            stop_sequences: run.stop_sequences.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submission(prompt: &str) -> StartRun {
        StartRun {
            profile_id: None,
            job_id: Some("job-existing".into()),
            role: Role::Worker,
            file_type: Some(" ".into()),
            task_type: Some(" review ".into()),
            prompt: prompt.into(),
            max_tokens: Some(16),
            temperature: None,
            stop_sequences: None,
        }
    }

    #[tokio::test]
    async fn a_blank_prompt_starts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let hs = Handshake::open(Some(dir.path().to_path_buf()))
            .await
            .unwrap();
        let error = hs.prepare_run(submission("  \n")).await.unwrap_err();
        assert_eq!(error.code(), "invalid_input");
        assert_eq!(error.field(), Some("prompt"));
    }

    #[tokio::test]
    async fn a_continued_job_keeps_its_id_and_blank_fields_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let hs = Handshake::open(Some(dir.path().to_path_buf()))
            .await
            .unwrap();
        let request = hs.prepare_run(submission("hello")).await.unwrap();
        assert_eq!(request.job_id, "job-existing");
        assert_eq!(request.file_type, None);
        assert_eq!(request.task_type.as_deref(), Some("review"));
        assert_eq!(request.temperature, 0.0);
        assert!(request.stop_sequences.is_empty());
    }

    #[tokio::test]
    async fn without_a_profile_no_job_is_started() {
        let dir = tempfile::tempdir().unwrap();
        let hs = Handshake::open(Some(dir.path().to_path_buf()))
            .await
            .unwrap();
        let mut run = submission("hello");
        run.job_id = None;
        // No active profile (or, without a keychain, no recorder to record the job): refused.
        let error = hs.prepare_run(run).await.unwrap_err();
        assert_ne!(error.code(), "invalid_input", "{error}");
    }
}
