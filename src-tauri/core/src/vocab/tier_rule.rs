//! The one rule that decides where a model's bytes go: [`effective_tier`].
//!
//! A model's tier is its provider's tier, except that a model whose tag is `cloud` or ends with
//! `-cloud` runs on Ollama's servers: a local Ollama daemon forwards such a model to Ollama's
//! cloud through its native API *and* its OpenAI-compatible `/v1`, and any other local server may
//! be such a daemon behind a proxy. So the rule applies to every provider kind. The tag is what
//! follows the last `:` of the last `/`-separated segment, compared without regard to ASCII case:
//! `x:cloud`, `X:CLOUD`, `x:120B-CLOUD`, `ns/x:cloud`, `host/library/x:cloud` are all cloud.
//!
//! On a local-tier provider, a name the rule cannot judge with certainty is refused rather than
//! guessed local: a digest, more than one tag, a `:` elsewhere than the tag or a registry's
//! `host:port`, a trailing `/`, a space or any character outside printable ASCII anywhere in the
//! name, a tag with characters other than Ollama's (letters, digits, `_`, `.`, `-`). On a cloud-tier provider every call is a
//! cloud call anyway, so only the checks every id gets apply (provider names such as OpenAI's
//! fine-tuned `ft:gpt-4o-mini:org:suffix:id` stay usable there).

use super::model_id::{check_part, ModelIdProblem};
use super::ProviderTier;

/// Where a call to `model` on a provider of `provider_tier` sends its bytes.
pub fn effective_tier(
    provider_tier: ProviderTier,
    model: &str,
) -> Result<ProviderTier, ModelIdProblem> {
    check_part(model, ModelIdProblem::EmptyModel)?;
    if provider_tier == ProviderTier::Cloud {
        return Ok(ProviderTier::Cloud);
    }
    let tag = judgeable_tag(model)?;
    Ok(if tag.is_some_and(is_cloud_tag) {
        ProviderTier::Cloud
    } else {
        ProviderTier::Local
    })
}

/// True when `model`'s tag marks an Ollama cloud model, judged as [`effective_tier`] does for a
/// local provider; a name it cannot judge counts as cloud (the safe side).
pub fn has_cloud_tag(model: &str) -> bool {
    effective_tier(ProviderTier::Local, model) != Ok(ProviderTier::Local)
}

fn is_cloud_tag(tag: &str) -> bool {
    let tag = tag.to_ascii_lowercase();
    tag == "cloud" || tag.ends_with("-cloud")
}

/// The tag of the last segment (`None` without one), or why it cannot be told for certain.
fn judgeable_tag(model: &str) -> Result<Option<&str>, ModelIdProblem> {
    let mut segments: Vec<&str> = model.split('/').collect();
    let last = segments.pop().unwrap_or_default();
    if last.is_empty() {
        return Err(ModelIdProblem::TrailingSlash);
    }
    for (index, segment) in segments.iter().enumerate() {
        if let Some((host, port)) = segment.split_once(':') {
            let registry_port = index == 0
                && !host.is_empty()
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit());
            if !registry_port {
                return Err(ModelIdProblem::ColonOutsideTag);
            }
        }
    }
    if !model.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ModelIdProblem::OutsideAscii);
    }
    if last.contains('@') && last.contains(':') {
        return Err(ModelIdProblem::Digest);
    }
    let mut parts = last.split(':');
    let _name = parts.next();
    let tag = parts.next();
    if parts.next().is_some() {
        return Err(ModelIdProblem::SeveralTags);
    }
    let tag_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if tag.is_some_and(|t| t.is_empty() || !t.chars().all(tag_char)) {
        return Err(ModelIdProblem::TagCharacter);
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ModelIdProblem::*;
    use ProviderTier::{Cloud, Local};

    #[test]
    fn cloud_tags_are_cloud_in_every_spelling() {
        for name in [
            "x:cloud",
            "X:CLOUD",
            "x:120B-CLOUD",
            "gpt-oss:120b-cloud",
            "kimi-k2:1t-Cloud",
            "ns/x:cloud",
            "registry.ollama.ai/library/x:cloud",
            "localhost:11434/library/x:120b-cloud",
        ] {
            assert_eq!(effective_tier(Local, name), Ok(Cloud), "{name}");
            assert_eq!(effective_tier(Cloud, name), Ok(Cloud), "{name}");
            assert!(has_cloud_tag(name), "{name}");
        }
    }

    #[test]
    fn other_names_keep_the_providers_tier() {
        for name in [
            "gemma3:270m",
            "gemma3",
            "cloud-model",
            "cloud:latest",
            "my-cloud",
            "hf.co/org/cloudy:Q4_K_M",
            "mycloud:latest",
            "x:cloudy",
            "x:cloud-7b",
            "/models/Llama-3",
            "claude-3-5-sonnet@20240620",
        ] {
            assert_eq!(effective_tier(Local, name), Ok(Local), "{name}");
            assert_eq!(effective_tier(Cloud, name), Ok(Cloud), "{name}");
            assert!(!has_cloud_tag(name), "{name}");
        }
    }

    #[test]
    fn names_that_cannot_be_judged_are_refused_on_a_local_provider() {
        for (name, problem) in [
            ("x:cloud ", SurroundingWhitespace),
            (" x:cloud", SurroundingWhitespace),
            ("x:cloud\t", SurroundingWhitespace),
            ("x:clo\u{7}ud", HiddenCharacter),
            ("x:clo\u{200d}ud", HiddenCharacter),
            ("x:cloud@sha256:00", Digest),
            ("x@sha256:00", Digest),
            ("x:cloud:latest", SeveralTags),
            ("x:latest:cloud", SeveralTags),
            ("x:cloud/y", ColonOutsideTag),
            ("ns/x:cloud/y", ColonOutsideTag),
            ("x:cloud/", TrailingSlash),
            ("x:\u{FF43}loud", OutsideAscii),
            ("gpt-oss\u{FF1A}120b-cloud", OutsideAscii),
            ("x: cloud", OutsideAscii),
            ("x:clo ud", OutsideAscii),
            ("x:cloud?", TagCharacter),
            ("x:cloud!", TagCharacter),
            ("x:", TagCharacter),
            ("", EmptyModel),
        ] {
            assert_eq!(effective_tier(Local, name), Err(problem), "{name:?}");
            assert!(has_cloud_tag(name), "{name:?} must count as cloud");
        }
    }

    #[test]
    fn a_cloud_provider_takes_any_tag_but_not_hidden_characters() {
        assert_eq!(
            effective_tier(Cloud, "ft:gpt-4o-mini:org:suffix:id"),
            Ok(Cloud)
        );
        assert_eq!(effective_tier(Cloud, "x:cloud@sha256:00"), Ok(Cloud));
        assert_eq!(effective_tier(Cloud, "gpt-4o "), Err(SurroundingWhitespace));
        assert_eq!(
            effective_tier(Cloud, "gpt\u{200b}-4o"),
            Err(HiddenCharacter)
        );
    }
}
