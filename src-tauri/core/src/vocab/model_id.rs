//! [`ModelId`]: `<provider_id>/<model name>`, split at the first `/` (model names may hold more
//! slashes: `lan/hf.co/org/model:Q4_K_M` is provider `lan`, model `hf.co/org/model:Q4_K_M`).
//!
//! Parsing refuses what no provider could mean and what would let the same id be read two ways:
//! an empty part, whitespace around either part, control or invisible formatting characters.

use serde::{Deserialize, Serialize};

/// Why a model id is refused: malformed, or a name whose tier cannot be judged with certainty.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS, thiserror::Error,
)]
#[serde(rename_all = "snake_case")]
pub enum ModelIdProblem {
    /// No `/` separating the provider id from the model name.
    #[error("expected `<provider_id>/<model name>` but there is no `/`")]
    NoSlash,
    /// Nothing before the first `/`.
    #[error("the provider id before the first `/` is empty")]
    EmptyProvider,
    /// Nothing after the first `/`.
    #[error("the model name after the first `/` is empty")]
    EmptyModel,
    /// Whitespace before or after the provider id or the model name.
    #[error("the provider id or model name starts or ends with whitespace")]
    SurroundingWhitespace,
    /// A control character or an invisible formatting character (zero-width, bidi) in the id.
    #[error("the model id holds a control or invisible formatting character")]
    HiddenCharacter,
    /// A digest (`name@sha256:...`) on a local-tier provider: the tag cannot be judged.
    #[error("a digest (`@sha256:...`) hides the model's tag, so whether it runs in the cloud cannot be told")]
    Digest,
    /// More than one `:` in the last path segment (`x:cloud:latest`) on a local-tier provider.
    #[error(
        "the model name has more than one `:` tag, so whether it runs in the cloud cannot be told"
    )]
    SeveralTags,
    /// A `:` in a path segment other than the last that is not a registry's `host:port`.
    #[error("a `:` outside the model's tag (other than a registry's host:port) is ambiguous")]
    ColonOutsideTag,
    /// The model name ends with `/`, so it has no last segment to judge.
    #[error("the model name ends with `/`")]
    TrailingSlash,
    /// On a local-tier provider, a character outside printable ASCII (a space inside the name, a
    /// full-width `：`, a look-alike letter): a proxy that normalises it could read a cloud tag.
    #[error("the model name holds a space or a character outside printable ASCII")]
    OutsideAscii,
    /// On a local-tier provider, a tag with characters other than letters, digits, `_`, `.`, `-`.
    #[error("the model's tag holds characters other than letters, digits, `_`, `.` and `-`")]
    TagCharacter,
}

/// A model id, parsed once: its provider id and the model name as the provider knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelId {
    provider_id: String,
    model: String,
}

/// Control characters and the invisible formatting characters that make two ids look alike.
pub(super) fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
            | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}')
}

/// The checks every part of an id gets, whatever the provider's tier.
pub(super) fn check_part(part: &str, empty: ModelIdProblem) -> Result<(), ModelIdProblem> {
    if part.is_empty() {
        return Err(empty);
    }
    if part.trim() != part {
        return Err(ModelIdProblem::SurroundingWhitespace);
    }
    if part.chars().any(is_hidden) {
        return Err(ModelIdProblem::HiddenCharacter);
    }
    Ok(())
}

impl ModelId {
    /// Parses `<provider_id>/<model name>`, splitting at the first `/`.
    pub fn parse(id: &str) -> Result<Self, ModelIdProblem> {
        let Some((provider, model)) = id.split_once('/') else {
            return Err(ModelIdProblem::NoSlash);
        };
        Self::new(provider, model)
    }

    /// An id from its two parts, with the same checks as [`ModelId::parse`].
    pub fn new(provider_id: &str, model: &str) -> Result<Self, ModelIdProblem> {
        check_part(provider_id, ModelIdProblem::EmptyProvider)?;
        check_part(model, ModelIdProblem::EmptyModel)?;
        Ok(Self {
            provider_id: provider_id.to_owned(),
            model: model.to_owned(),
        })
    }

    /// The provider id (before the first `/`).
    pub fn provider_id(&self) -> &str {
        &self.provider_id
    }

    /// The model name as the provider knows it (after the first `/`).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// True when the model's tag marks an Ollama cloud model (see [`super::has_cloud_tag`]).
    pub fn has_cloud_tag(&self) -> bool {
        super::has_cloud_tag(&self.model)
    }
}

impl std::fmt::Display for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.provider_id, self.model)
    }
}

impl std::str::FromStr for ModelId {
    type Err = ModelIdProblem;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        Self::parse(id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn splits_at_the_first_slash_only() {
        let id = ModelId::parse("lan/hf.co/org/model:Q4_K_M").unwrap();
        assert_eq!(id.provider_id(), "lan");
        assert_eq!(id.model(), "hf.co/org/model:Q4_K_M");
        assert_eq!(id.to_string(), "lan/hf.co/org/model:Q4_K_M");
        // A vLLM server's default model name is the path it loaded.
        let path = ModelId::parse("lan//models/Llama-3").unwrap();
        assert_eq!(path.model(), "/models/Llama-3");
    }

    #[test]
    fn malformed_ids_are_refused_with_their_reason() {
        use ModelIdProblem::*;
        for (id, problem) in [
            ("gemma3", NoSlash),
            ("", NoSlash),
            ("/gemma3", EmptyProvider),
            ("oll/", EmptyModel),
            (" oll/x", SurroundingWhitespace),
            ("oll /x", SurroundingWhitespace),
            ("oll/ x", SurroundingWhitespace),
            ("oll/x:cloud ", SurroundingWhitespace),
            ("oll/x:cloud\n", SurroundingWhitespace),
            ("oll/x:clo\u{0}ud", HiddenCharacter),
            ("oll/x:clo\u{200b}ud", HiddenCharacter),
            ("oll/x:\u{202e}duolc", HiddenCharacter),
            ("oll/x:cloud\u{feff}", HiddenCharacter),
        ] {
            assert_eq!(ModelId::parse(id), Err(problem), "{id:?}");
        }
    }
}
