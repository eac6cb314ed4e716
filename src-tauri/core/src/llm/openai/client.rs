//! [`OpenAiCompatClient`]: the [`LlmClient`] for OpenAI-compatible servers (OpenAI, vLLM,
//! llama.cpp, LM Studio, OpenRouter, Groq, ...), streaming over SSE.
//!
//! One client serves one model of one provider, over the endpoint's own `reqwest::Client`. The
//! bearer key is sent only when the endpoint has one: keyless local servers get no
//! `Authorization` header at all.

use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};

use super::translate::{parse_model_list, to_wire_request, SseDecoder};
use crate::llm::budget::Budget;
use crate::llm::driver::{collect, drive, json_error, model_name};
use crate::llm::retry::RetryPolicy;
use crate::llm::transport::{join_url, start, CallContext};
use crate::llm::WireConfig;
use crate::llm::{
    CompletionRequest, CompletionResponse, CompletionStream, LlmClient, LlmError, ModelProfile,
};

/// An [`LlmClient`] for one model on an OpenAI-compatible server.
#[derive(Debug)]
pub struct OpenAiCompatClient {
    endpoint: WireConfig,
    model: String,
    profile: ModelProfile,
    headers: HeaderMap,
    /// `<base_url>/chat/completions`, joined once.
    chat_url: url::Url,
    retry: RetryPolicy,
}

impl OpenAiCompatClient {
    /// A client for `model_name` (as the server knows it, e.g. `gpt-4o-mini`). No I/O: the
    /// OpenAI API does not publish context windows, so the profile's limits are unknown unless
    /// set with [`OpenAiCompatClient::with_limits`].
    pub fn new(endpoint: WireConfig, model_name: &str) -> Result<Self, LlmError> {
        // A local OpenAI-compatible `/v1` may be an Ollama daemon, which forwards `:cloud` models.
        let profile = ModelProfile::for_model(&endpoint.provider_id, endpoint.tier, model_name)?;
        let headers = endpoint.headers()?;
        let chat_url = join_url(&endpoint.base_url, "chat/completions");
        Ok(Self {
            endpoint,
            model: model_name.to_owned(),
            profile,
            headers,
            chat_url,
            retry: RetryPolicy::default(),
        })
    }

    /// Sets the profile's context window and output limit, where the registry knows them.
    pub fn with_limits(
        mut self,
        context_window: Option<u32>,
        max_output_tokens: Option<u32>,
    ) -> Self {
        self.profile.context_window = context_window;
        self.profile.max_output_tokens = max_output_tokens;
        self
    }

    /// Retries for calls that fail before any output (never used for a cloud-tier endpoint).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The model name as the server knows it.
    pub fn model_name(&self) -> &str {
        &self.model
    }

    /// The model ids the server lists at `/models` (`{data: [..]}`, `{models: [..]}` or a bare
    /// array).
    pub async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        let url = join_url(&self.endpoint.base_url, "models");
        let ctx = self.call_context();
        let reader = start(&ctx, || {
            self.endpoint
                .http
                .get(url.clone())
                .headers(self.headers.clone())
        })
        .await?;
        parse_model_list(&reader.read_all().await?)
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
impl LlmClient for OpenAiCompatClient {
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
        let wire = to_wire_request(&req, model, &self.endpoint.openai);
        let body =
            Bytes::from(serde_json::to_vec(&wire).map_err(|e| json_error("the request", &e))?);
        // No cloud-tier completion leaves without the consent gate's pass (see consent::pass).
        crate::llm::cloud_pass::check_cloud_completion(
            self.profile.tier,
            &self.endpoint.base_url,
            &req.prompt,
        )?;
        let ctx = self.call_context();
        let reader = start(&ctx, || {
            self.endpoint
                .http
                .post(self.chat_url.clone())
                .headers(self.headers.clone())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .header(ACCEPT, HeaderValue::from_static("text/event-stream"))
                .body(body.clone())
        })
        .await?;
        let decoder = SseDecoder::new(&self.endpoint.provider_id, model);
        Ok(drive(reader, decoder, Budget::new(req.max_tokens)))
    }

    fn profile(&self) -> &ModelProfile {
        &self.profile
    }
}
