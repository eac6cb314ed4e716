//! [`OllamaClient`]: the [`LlmClient`] for Ollama's native API (`/api/chat`, NDJSON streaming),
//! plus the model operations a model swap needs (`load`, `unload`) and `show` / `list_models`.
//!
//! One client serves one model of one provider, over the endpoint's own `reqwest::Client`
//! (egress-checked, pooled, reused for every call; never built per call).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use serde::Serialize;

use super::translate::{
    context_length, finish_reason, num_ctx_for, parse_line, to_wire_request, OllamaDecoder,
    DEFAULT_NUM_CTX_CAP,
};
use super::wire::{KeepAlive, LoadRequest, ShowRequest, ShowResponse, TagsResponse};
use crate::llm::budget::Budget;
use crate::llm::driver::{collect, drive, json_error, model_name};
use crate::llm::retry::RetryPolicy;
use crate::llm::transport::{join_url, start, CallContext};
use crate::llm::WireConfig;
use crate::llm::{
    CompletionRequest, CompletionResponse, CompletionStream, FinishReason, LlmClient, LlmError,
    ModelProfile,
};
use crate::vocab::ProviderTier;

/// What `/api/show` says about a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OllamaModelInfo {
    pub name: String,
    /// `<arch>.context_length` from `model_info`, where present.
    pub context_length: Option<u32>,
    pub family: Option<String>,
    pub parameter_size: Option<String>,
    pub quantization_level: Option<String>,
    pub capabilities: Vec<String>,
    /// Where the daemon forwards this model (`remote_host` in `/api/show`), when it is not run
    /// locally: a cloud model even if its name carries no cloud tag.
    pub remote_host: Option<String>,
}

/// An [`LlmClient`] for one model on an Ollama daemon.
#[derive(Debug)]
pub struct OllamaClient {
    endpoint: WireConfig,
    model: String,
    profile: ModelProfile,
    headers: HeaderMap,
    num_ctx_cap: u32,
    num_ctx: Option<u32>,
    keep_alive: Option<KeepAlive>,
    retry: RetryPolicy,
}

impl OllamaClient {
    /// A client for `model_name`, reading its context length from `/api/show` (so this fails with
    /// `ModelNotFound` for a model the daemon does not have). A model the daemon says it forwards
    /// to a remote host (`remote_host`: an Ollama cloud model, or one created to point at a remote
    /// API, renamed or not) is cloud tier, whatever its name.
    pub async fn new(endpoint: WireConfig, model_name: &str) -> Result<Self, LlmError> {
        let mut client = Self::with_context_length(endpoint, model_name, None)?;
        let info = client.show().await?;
        client.set_context_length(info.context_length);
        if info
            .remote_host
            .as_deref()
            .is_some_and(|h| !h.trim().is_empty())
        {
            client.profile.tier = ProviderTier::Cloud;
        }
        Ok(client)
    }

    /// A client whose context length is already known (or unknown: `None`), without any I/O.
    pub fn with_context_length(
        endpoint: WireConfig,
        model_name: &str,
        context_length: Option<u32>,
    ) -> Result<Self, LlmError> {
        // A `:cloud` model runs on Ollama's servers even though the daemon is local.
        let profile = ModelProfile::for_model(&endpoint.provider_id, endpoint.tier, model_name)?;
        let headers = endpoint.headers()?;
        let mut client = Self {
            endpoint,
            model: model_name.to_owned(),
            profile,
            headers,
            num_ctx_cap: DEFAULT_NUM_CTX_CAP,
            num_ctx: None,
            keep_alive: None,
            retry: RetryPolicy::default(),
        };
        client.set_context_length(context_length);
        Ok(client)
    }

    /// Retries for calls that fail before any output (never used for a cloud-tier model).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How long the daemon keeps the model loaded after each call (`None`: the daemon's default,
    /// five minutes). Sent as `keep_alive` with every completion and `load`.
    pub fn with_keep_alive(mut self, keep_alive: Option<Duration>) -> Self {
        self.keep_alive =
            keep_alive.map(|d| KeepAlive(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
        self
    }

    /// Caps the `num_ctx` sent (default [`DEFAULT_NUM_CTX_CAP`]).
    pub fn with_num_ctx_cap(mut self, cap: u32) -> Self {
        self.num_ctx_cap = cap.max(1);
        let context = self.profile.context_window;
        self.set_context_length(context);
        self
    }

    fn set_context_length(&mut self, context_length: Option<u32>) {
        self.profile.context_window = context_length;
        self.num_ctx = num_ctx_for(context_length, self.num_ctx_cap);
    }

    /// The model name as the daemon knows it.
    pub fn model_name(&self) -> &str {
        &self.model
    }

    /// The `num_ctx` sent with every completion (`None`: the daemon's default).
    pub fn num_ctx(&self) -> Option<u32> {
        self.num_ctx
    }

    /// `/api/show` for this client's model.
    pub async fn show(&self) -> Result<OllamaModelInfo, LlmError> {
        let body = self
            .call_json("api/show", &ShowRequest { model: &self.model })
            .await?;
        let show: ShowResponse =
            serde_json::from_slice(&body).map_err(|e| json_error("the /api/show answer", &e))?;
        let details = show.details.as_ref();
        Ok(OllamaModelInfo {
            name: self.model.clone(),
            context_length: context_length(&show),
            family: details.and_then(|d| d.family.clone()),
            parameter_size: details.and_then(|d| d.parameter_size.clone()),
            quantization_level: details.and_then(|d| d.quantization_level.clone()),
            capabilities: show.capabilities,
            remote_host: show.remote_host,
        })
    }

    /// The names of the models the daemon has (`/api/tags`).
    pub async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        let url = join_url(&self.endpoint.base_url, "api/tags");
        let ctx = self.call_context();
        let reader = start(&ctx, || {
            self.endpoint
                .http
                .get(url.clone())
                .headers(self.headers.clone())
        })
        .await?;
        let body = reader.read_all().await?;
        let tags: TagsResponse =
            serde_json::from_slice(&body).map_err(|e| json_error("the /api/tags answer", &e))?;
        Ok(tags
            .models
            .into_iter()
            .filter_map(|m| m.name.or(m.model))
            .collect())
    }

    /// Loads the model into memory (a generate call with no prompt), kept per `keep_alive`.
    /// For model swaps: call after [`OllamaClient::unload`] of the previous model.
    pub async fn load(&self) -> Result<(), LlmError> {
        let done = self.load_request(self.keep_alive).await?;
        match done {
            FinishReason::Load | FinishReason::Stop => Ok(()),
            other => Err(LlmError::MalformedResponse {
                what: format!("load answered done_reason {other:?}"),
            }),
        }
    }

    /// Unloads the model from memory now (`keep_alive: 0`).
    pub async fn unload(&self) -> Result<(), LlmError> {
        let done = self.load_request(Some(KeepAlive(0))).await?;
        match done {
            FinishReason::Unload | FinishReason::Stop => Ok(()),
            other => Err(LlmError::MalformedResponse {
                what: format!("unload answered done_reason {other:?}"),
            }),
        }
    }

    /// A prompt-less `/api/generate`. Asked as a stream (one NDJSON line) rather than with
    /// `stream: false`: a daemon then never has to hold a whole answer back, and the test peer
    /// only stays responsive under concurrent calls that way.
    async fn load_request(&self, keep_alive: Option<KeepAlive>) -> Result<FinishReason, LlmError> {
        let request = LoadRequest {
            model: &self.model,
            stream: true,
            keep_alive,
        };
        let body = self.call_json("api/generate", &request).await?;
        let text = std::str::from_utf8(&body).map_err(|_| LlmError::MalformedResponse {
            what: "the /api/generate answer is not UTF-8".into(),
        })?;
        let mut last = None;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            last = Some(parse_line(line)?); // an error line is an error
        }
        match last {
            Some(chunk) if chunk.done => Ok(finish_reason(chunk.done_reason.as_deref())),
            _ => Err(LlmError::MalformedResponse {
                what: "the /api/generate answer has no final (done) line".into(),
            }),
        }
    }

    async fn call_json<T: Serialize>(&self, path: &str, body: &T) -> Result<Bytes, LlmError> {
        let body =
            Bytes::from(serde_json::to_vec(body).map_err(|e| json_error("the request", &e))?);
        let url = join_url(&self.endpoint.base_url, path);
        let ctx = self.call_context();
        let reader = start(&ctx, || self.post(&url, body.clone())).await?;
        reader.read_all().await
    }

    fn post(&self, url: &url::Url, body: Bytes) -> reqwest::RequestBuilder {
        self.endpoint
            .http
            .post(url.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
    }

    fn call_context(&self) -> CallContext<'_> {
        CallContext {
            tier: self.profile.tier,
            timeouts: &self.endpoint.timeouts,
            retry: &self.retry,
            model_id: &self.profile.model_id,
        }
    }
}

#[async_trait]
impl LlmClient for OllamaClient {
    #[tracing::instrument(skip_all, fields(trace_id = %req.trace_id, model_id = %self.profile.model_id))]
    async fn completion(&self, req: CompletionRequest) -> Result<CompletionResponse, LlmError> {
        let started = Instant::now();
        let stream = self.completion_stream(req).await?;
        collect(stream, started).await
    }

    #[tracing::instrument(skip_all, fields(trace_id = %req.trace_id, model_id = %self.profile.model_id))]
    async fn completion_stream(
        &self,
        req: CompletionRequest,
    ) -> Result<CompletionStream, LlmError> {
        req.validate()?;
        let model = model_name(&req.model_id, &self.endpoint.provider_id, &self.model)?;
        let wire = to_wire_request(&req, model, self.num_ctx, self.keep_alive);
        let body =
            Bytes::from(serde_json::to_vec(&wire).map_err(|e| json_error("the request", &e))?);
        // No cloud-tier completion leaves without the consent gate's pass (see consent::pass).
        crate::llm::cloud_pass::check_cloud_completion(
            self.profile.tier,
            &self.endpoint.base_url,
            &req.prompt,
        )?;
        let url = join_url(&self.endpoint.base_url, "api/chat");
        let ctx = self.call_context();
        let reader = start(&ctx, || self.post(&url, body.clone())).await?;
        let decoder = OllamaDecoder::new(&self.endpoint.provider_id, model, self.num_ctx);
        Ok(drive(reader, decoder, Budget::new(req.max_tokens)))
    }

    fn profile(&self) -> &ModelProfile {
        &self.profile
    }
}
