//! The OpenAI-compatible adapter (`/chat/completions` with SSE streaming, `/models`): wire types
//! ([`wire`]), pure translation ([`translate`]) and the [`OpenAiCompatClient`] ([`client`]).

mod client;
mod options;
mod translate;
mod wire;

pub use client::OpenAiCompatClient;
pub use options::{MaxTokensField, OpenAiCompatOptions};
