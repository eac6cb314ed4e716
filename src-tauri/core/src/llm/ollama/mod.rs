//! The Ollama adapter (native API): wire types ([`wire`]), pure translation ([`translate`]) and
//! the [`OllamaClient`] that does the I/O ([`client`]).

mod client;
mod translate;
mod wire;

pub use client::{OllamaClient, OllamaModelInfo};
pub use translate::DEFAULT_NUM_CTX_CAP;
