//! Swapping the local model a job runs on (ModelSwapRequest): requested -> persist (the job's
//! state is saved) -> offload (the old model is unloaded) -> load (the new one is warmed) ->
//! resume.
//!
//! Guarantees: every step is written to `model_swaps` before it returns, so a crash or a failure
//! at any step leaves a row saying how far the swap got and which model the job should run on
//! (`active_model_id`: the old model until the new one is loaded). A failed step is an error
//! naming the step; [`ModelSwap::resume`] after a failed offload or load reloads the old model
//! and resumes on it. Only local models are swapped: a cloud model is never reached this way.
//! Each step returns the facts of its event (FR-EVT-MODEL-001..005); the job's state itself never
//! leaves the database (events carry its SHA-256 and size).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqlitePool};

use super::catalog::{effective_tier, ModelCatalog, ModelId, NoTier};
use super::store::{now, sha256_hex};
use crate::db::Database;
use crate::llm::LlmError;
use crate::vocab::ProviderTier;

/// Unloads and loads local models (the lead plugs in the Ollama adapter: `keep_alive: 0` to
/// unload, an empty generate to warm).
#[async_trait]
pub trait ModelLoader: Send + Sync {
    async fn unload(&self, model_id: &str) -> Result<(), LlmError>;
    async fn load(&self, model_id: &str) -> Result<(), LlmError>;
}

/// A step of the swap; each has its Flight Recorder event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SwapStep {
    Requested,
    Persist,
    Offload,
    Load,
    Resume,
}

impl SwapStep {
    const ALL: [SwapStep; 5] = [
        Self::Requested,
        Self::Persist,
        Self::Offload,
        Self::Load,
        Self::Resume,
    ];

    /// The step's Flight Recorder event id (FR-EVT-MODEL-001..005).
    pub fn event_id(self) -> &'static str {
        match self {
            Self::Requested => "FR-EVT-MODEL-001",
            Self::Persist => "FR-EVT-MODEL-002",
            Self::Offload => "FR-EVT-MODEL-003",
            Self::Load => "FR-EVT-MODEL-004",
            Self::Resume => "FR-EVT-MODEL-005",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Persist => "persist",
            Self::Offload => "offload",
            Self::Load => "load",
            Self::Resume => "resume",
        }
    }
}

impl std::fmt::Display for SwapStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a swap got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SwapState {
    Requested,
    Persisted,
    Offloaded,
    Loaded,
    Resumed,
    Failed { step: SwapStep },
}

impl SwapState {
    fn columns(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::Requested => ("requested", None),
            Self::Persisted => ("persisted", None),
            Self::Offloaded => ("offloaded", None),
            Self::Loaded => ("loaded", None),
            Self::Resumed => ("resumed", None),
            Self::Failed { step } => ("failed", Some(step.as_str())),
        }
    }

    fn from_columns(step: &str, failed: Option<&str>) -> Option<Self> {
        Some(match (step, failed) {
            ("requested", None) => Self::Requested,
            ("persisted", None) => Self::Persisted,
            ("offloaded", None) => Self::Offloaded,
            ("loaded", None) => Self::Loaded,
            ("resumed", None) => Self::Resumed,
            ("failed", Some(f)) => Self::Failed {
                step: SwapStep::ALL.into_iter().find(|s| s.as_str() == f)?,
            },
            _ => return None,
        })
    }
}

/// Whether a step succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Ok,
    Failed,
}

/// Facts of one FR-EVT-MODEL-00x event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct SwapStepRecord {
    pub event_id: String,
    pub swap_id: String,
    pub job_id: Option<String>,
    pub step: SwapStep,
    pub outcome: StepOutcome,
    pub from_model_id: String,
    pub to_model_id: String,
    /// The model the job runs on after this step.
    pub active_model_id: String,
    /// Set by `persist`: hash and size of the saved job state (never the state).
    pub job_state_sha256: Option<String>,
    pub job_state_bytes: Option<u64>,
    /// Set by `resume` when the swap failed and the job resumed on the old model.
    pub fell_back_to_old_model: bool,
    pub error: Option<String>,
}

/// A request to swap a job's local model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ModelSwapRequest {
    pub job_id: Option<String>,
    pub from_model_id: String,
    pub to_model_id: String,
}

/// Why a swap step failed.
#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error("model swap `{swap_id}` failed at step {step}: {source}")]
    StepFailed {
        swap_id: String,
        step: SwapStep,
        /// The facts of the failed step's event.
        record: Box<SwapStepRecord>,
        source: LlmError,
    },
    #[error("model swap `{swap_id}` could not save step {step}: {source}")]
    Storage {
        swap_id: String,
        step: SwapStep,
        source: sqlx::Error,
    },
    #[error("model swap `{swap_id}` is {state:?}; step {step} cannot run now")]
    OutOfOrder {
        swap_id: String,
        state: SwapState,
        step: SwapStep,
    },
    #[error("`{model_id}` cannot be swapped: {reason}")]
    NotSwappable { model_id: String, reason: String },
    #[error("no model swap `{swap_id}`")]
    NotFound { swap_id: String },
    #[error("model swap `{swap_id}` has an unreadable row: {detail}")]
    CorruptRow { swap_id: String, detail: String },
    #[error("cannot serialize the job state: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl SwapError {
    /// A stable, machine-readable name for the variant (for the UI's `{code, message}`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::StepFailed { .. } => "step_failed",
            Self::Storage { .. } => "storage",
            Self::OutOfOrder { .. } => "out_of_order",
            Self::NotSwappable { .. } => "not_swappable",
            Self::NotFound { .. } => "not_found",
            Self::CorruptRow { .. } => "corrupt_row",
            Self::Serialize(_) => "serialize",
            Self::Db(_) => "database",
        }
    }
}

/// One swap, driven step by step; its row in `model_swaps` always matches `state`.
#[derive(Debug)]
pub struct ModelSwap {
    pool: SqlitePool,
    swap_id: String,
    request: ModelSwapRequest,
    state: SwapState,
    active_model_id: String,
}

fn require_local(catalog: &dyn ModelCatalog, model_id: &str) -> Result<(), SwapError> {
    let not = |reason: String| SwapError::NotSwappable {
        model_id: model_id.to_owned(),
        reason,
    };
    let id = ModelId::parse(model_id).map_err(|p| not(p.to_string()))?;
    match effective_tier(catalog, &id) {
        Ok(ProviderTier::Local) => Ok(()),
        Ok(ProviderTier::Cloud) => Err(not("it is a cloud model; only local models swap".into())),
        Err(NoTier::Undecidable(problem)) => Err(not(problem.to_string())),
        Err(NoTier::UnknownProvider) => Err(not(format!(
            "no provider `{}` is registered",
            id.provider_id()
        ))),
    }
}

impl ModelSwap {
    /// Records a swap request (FR-EVT-MODEL-001). Both models must be local.
    pub async fn request(
        db: &Database,
        request: ModelSwapRequest,
        catalog: &dyn ModelCatalog,
    ) -> Result<(Self, SwapStepRecord), SwapError> {
        require_local(catalog, &request.from_model_id)?;
        require_local(catalog, &request.to_model_id)?;
        let swap_id = format!("swap-{}", uuid::Uuid::now_v7());
        let at = now();
        sqlx::query(
            "INSERT INTO model_swaps (swap_id, job_id, from_model_id, to_model_id, step, active_model_id, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 'requested', ?, ?, ?)",
        )
        .bind(&swap_id)
        .bind(&request.job_id)
        .bind(&request.from_model_id)
        .bind(&request.to_model_id)
        .bind(&request.from_model_id)
        .bind(&at)
        .bind(&at)
        .execute(db.pool())
        .await?;
        let active_model_id = request.from_model_id.clone();
        let swap = Self {
            pool: db.pool().clone(),
            swap_id,
            request,
            state: SwapState::Requested,
            active_model_id,
        };
        let record = swap.record(SwapStep::Requested, StepOutcome::Ok, None);
        Ok((swap, record))
    }

    /// Reopens a swap from its row (after a restart).
    pub async fn open(db: &Database, swap_id: &str) -> Result<Self, SwapError> {
        let row = sqlx::query(
            "SELECT job_id, from_model_id, to_model_id, step, failed_step, active_model_id \
             FROM model_swaps WHERE swap_id = ?",
        )
        .bind(swap_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| SwapError::NotFound {
            swap_id: swap_id.to_owned(),
        })?;
        let step: String = row.try_get("step")?;
        let failed: Option<String> = row.try_get("failed_step")?;
        let state = SwapState::from_columns(&step, failed.as_deref()).ok_or_else(|| {
            SwapError::CorruptRow {
                swap_id: swap_id.to_owned(),
                detail: format!("step `{step}`"),
            }
        })?;
        Ok(Self {
            pool: db.pool().clone(),
            swap_id: swap_id.to_owned(),
            request: ModelSwapRequest {
                job_id: row.try_get("job_id")?,
                from_model_id: row.try_get("from_model_id")?,
                to_model_id: row.try_get("to_model_id")?,
            },
            state,
            active_model_id: row.try_get("active_model_id")?,
        })
    }

    pub fn swap_id(&self) -> &str {
        &self.swap_id
    }

    pub fn state(&self) -> SwapState {
        self.state
    }

    /// The model the job runs on now.
    pub fn active_model_id(&self) -> &str {
        &self.active_model_id
    }

    fn record(
        &self,
        step: SwapStep,
        outcome: StepOutcome,
        error: Option<String>,
    ) -> SwapStepRecord {
        SwapStepRecord {
            event_id: step.event_id().to_owned(),
            swap_id: self.swap_id.clone(),
            job_id: self.request.job_id.clone(),
            step,
            outcome,
            from_model_id: self.request.from_model_id.clone(),
            to_model_id: self.request.to_model_id.clone(),
            active_model_id: self.active_model_id.clone(),
            job_state_sha256: None,
            job_state_bytes: None,
            fell_back_to_old_model: false,
            error,
        }
    }

    fn expect(&self, step: SwapStep, allowed: &[SwapState]) -> Result<(), SwapError> {
        if allowed.contains(&self.state) {
            Ok(())
        } else {
            Err(SwapError::OutOfOrder {
                swap_id: self.swap_id.clone(),
                state: self.state,
                step,
            })
        }
    }

    fn storage(&self, step: SwapStep, source: sqlx::Error) -> SwapError {
        SwapError::Storage {
            swap_id: self.swap_id.clone(),
            step,
            source,
        }
    }

    /// Writes the new state, guarded by the state this value last saw (a concurrent driver of
    /// the same swap makes this fail as out of order instead of overwriting).
    async fn transition(
        &mut self,
        step: SwapStep,
        to: SwapState,
        active_model_id: &str,
        error: Option<&str>,
    ) -> Result<(), SwapError> {
        let (from_step, from_failed) = self.state.columns();
        let (to_step, to_failed) = to.columns();
        let done = sqlx::query(
            "UPDATE model_swaps SET step = ?, failed_step = ?, error = ?, active_model_id = ?, updated_at = ? \
             WHERE swap_id = ? AND step = ? AND failed_step IS ?",
        )
        .bind(to_step)
        .bind(to_failed)
        .bind(error)
        .bind(active_model_id)
        .bind(now())
        .bind(&self.swap_id)
        .bind(from_step)
        .bind(from_failed)
        .execute(&self.pool)
        .await
        .map_err(|source| self.storage(step, source))?;
        if done.rows_affected() == 0 {
            return Err(SwapError::OutOfOrder {
                swap_id: self.swap_id.clone(),
                state: self.state,
                step,
            });
        }
        self.state = to;
        active_model_id.clone_into(&mut self.active_model_id);
        Ok(())
    }

    async fn fail(&mut self, step: SwapStep, source: LlmError) -> SwapError {
        let message = source.to_string();
        let active = self.active_model_id.clone();
        let failed = SwapState::Failed { step };
        if let Err(e) = self.transition(step, failed, &active, Some(&message)).await {
            return e;
        }
        let record = self.record(step, StepOutcome::Failed, Some(message));
        SwapError::StepFailed {
            swap_id: self.swap_id.clone(),
            step,
            record: Box::new(record),
            source,
        }
    }

    /// Saves the job's state (FR-EVT-MODEL-002).
    pub async fn persist(
        &mut self,
        job_state: &serde_json::Value,
    ) -> Result<SwapStepRecord, SwapError> {
        self.expect(SwapStep::Persist, &[SwapState::Requested])?;
        let text = serde_json::to_string(job_state)?;
        let sha = sha256_hex(text.as_bytes());
        // One statement: the state and the step are saved together or not at all.
        let done = sqlx::query(
            "UPDATE model_swaps SET step = 'persisted', job_state = ?, job_state_sha256 = ?, updated_at = ? \
             WHERE swap_id = ? AND step = 'requested' AND failed_step IS NULL",
        )
        .bind(&text)
        .bind(&sha)
        .bind(now())
        .bind(&self.swap_id)
        .execute(&self.pool)
        .await
        .map_err(|source| self.storage(SwapStep::Persist, source))?;
        if done.rows_affected() == 0 {
            return Err(SwapError::OutOfOrder {
                swap_id: self.swap_id.clone(),
                state: self.state,
                step: SwapStep::Persist,
            });
        }
        self.state = SwapState::Persisted;
        let mut record = self.record(SwapStep::Persist, StepOutcome::Ok, None);
        record.job_state_sha256 = Some(sha);
        record.job_state_bytes = Some(text.len() as u64);
        Ok(record)
    }

    /// Unloads the old model (FR-EVT-MODEL-003).
    pub async fn offload(&mut self, loader: &dyn ModelLoader) -> Result<SwapStepRecord, SwapError> {
        self.expect(SwapStep::Offload, &[SwapState::Persisted])?;
        if let Err(e) = loader.unload(&self.request.from_model_id).await {
            return Err(self.fail(SwapStep::Offload, e).await);
        }
        let active = self.active_model_id.clone();
        self.transition(SwapStep::Offload, SwapState::Offloaded, &active, None)
            .await?;
        Ok(self.record(SwapStep::Offload, StepOutcome::Ok, None))
    }

    /// Loads and warms the new model (FR-EVT-MODEL-004); the job now runs on it.
    pub async fn load(&mut self, loader: &dyn ModelLoader) -> Result<SwapStepRecord, SwapError> {
        self.expect(SwapStep::Load, &[SwapState::Offloaded])?;
        if let Err(e) = loader.load(&self.request.to_model_id).await {
            return Err(self.fail(SwapStep::Load, e).await);
        }
        let to = self.request.to_model_id.clone();
        self.transition(SwapStep::Load, SwapState::Loaded, &to, None)
            .await?;
        Ok(self.record(SwapStep::Load, StepOutcome::Ok, None))
    }

    /// Resumes the job (FR-EVT-MODEL-005) and hands back its saved state. After a failed step the
    /// old model is reloaded and the job resumes on it.
    pub async fn resume(
        &mut self,
        loader: &dyn ModelLoader,
    ) -> Result<(SwapStepRecord, Option<serde_json::Value>), SwapError> {
        let fell_back = match self.state {
            SwapState::Loaded => false,
            SwapState::Failed { .. } => true,
            state => {
                let swap_id = self.swap_id.clone();
                return Err(SwapError::OutOfOrder {
                    swap_id,
                    state,
                    step: SwapStep::Resume,
                });
            }
        };
        if fell_back {
            if let Err(e) = loader.load(&self.request.from_model_id).await {
                return Err(self.fail(SwapStep::Resume, e).await);
            }
        }
        let active = if fell_back {
            self.request.from_model_id.clone()
        } else {
            self.request.to_model_id.clone()
        };
        self.transition(SwapStep::Resume, SwapState::Resumed, &active, None)
            .await?;
        let text: Option<String> =
            sqlx::query_scalar("SELECT job_state FROM model_swaps WHERE swap_id = ?")
                .bind(&self.swap_id)
                .fetch_one(&self.pool)
                .await?;
        let state = match text {
            Some(text) => Some(
                serde_json::from_str(&text).map_err(|e| SwapError::CorruptRow {
                    swap_id: self.swap_id.clone(),
                    detail: format!("job_state: {e}"),
                })?,
            ),
            None => None,
        };
        let mut record = self.record(SwapStep::Resume, StepOutcome::Ok, None);
        record.fell_back_to_old_model = fell_back;
        Ok((record, state))
    }

    /// Runs every step in order. On a failed offload or load it resumes on the old model. The
    /// records of every step that ran come back in order, with the first failure if any.
    pub async fn run(
        &mut self,
        loader: &dyn ModelLoader,
        job_state: &serde_json::Value,
    ) -> (Vec<SwapStepRecord>, Result<(), SwapError>) {
        let mut records = Vec::new();
        let steps = async {
            records.push(self.persist(job_state).await?);
            records.push(self.offload(loader).await?);
            records.push(self.load(loader).await?);
            records.push(self.resume(loader).await?.0);
            Ok::<(), SwapError>(())
        };
        let outcome = steps.await;
        let Err(error) = outcome else {
            return (records, Ok(()));
        };
        if let SwapError::StepFailed { record, step, .. } = &error {
            records.push((**record).clone());
            if matches!(step, SwapStep::Offload | SwapStep::Load) {
                match self.resume(loader).await {
                    Ok((record, _)) => records.push(record),
                    Err(SwapError::StepFailed { record, .. }) => records.push(*record),
                    Err(_) => {}
                }
            }
        }
        (records, Err(error))
    }
}

#[cfg(test)]
#[path = "swap_tests.rs"]
mod tests;
