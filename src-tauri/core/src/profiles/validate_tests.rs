//! Unit tests of [`super`]: each rule of validation, by the field path it reports.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;
use crate::profiles::test_support::{catalog, profile, profile_json};

fn parse(value: serde_json::Value) -> Result<WorkProfile, ValidationErrors> {
    parse_profile_json(&value.to_string(), &catalog())
}

#[test]
fn the_sample_profile_is_valid() {
    let parsed = parse(profile_json("wp-1")).unwrap();
    assert_eq!(parsed, profile("wp-1"));
}

#[test]
fn a_wrong_schema_version_is_named() {
    let mut v = profile_json("wp-1");
    v["schema_version"] = json!("hsk.work_profile@0.4");
    let err = parse(v).unwrap_err();
    assert_eq!(err.errors.len(), 1);
    assert_eq!(err.errors[0].path, "schema_version");
    assert!(
        matches!(&err.errors[0].problem, FieldProblem::WrongSchemaVersion { found, .. } if found == "hsk.work_profile@0.4")
    );
    // The same rule holds for a profile built in code.
    let mut p = profile("wp-1");
    p.schema_version = "x".into();
    assert!(validate_profile(&p, &catalog())
        .unwrap_err()
        .has_path("schema_version"));
}

#[test]
fn missing_roles_and_unknown_override_roles_are_named_by_path() {
    let mut v = profile_json("wp-1");
    v["model_assignments"]
        .as_object_mut()
        .unwrap()
        .remove("validator");
    v["overrides"]["task_type_rules"]["review"]["reviewer"] =
        json!({"primary_model_id": "oll/qwen3:8b", "local_only": true});
    let err = parse(v).unwrap_err();
    assert!(err.errors.contains(&FieldError {
        path: "model_assignments.validator".into(),
        problem: FieldProblem::MissingRole {
            role: Role::Validator
        },
    }));
    assert!(err.errors.contains(&FieldError {
        path: "overrides.task_type_rules.review.reviewer".into(),
        problem: FieldProblem::UnknownRole {
            name: "reviewer".into()
        },
    }));
    assert_eq!(err.errors.len(), 2, "{err}");
}

#[test]
fn malformed_unknown_provider_and_unknown_model_ids() {
    let mut v = profile_json("wp-1");
    v["model_assignments"]["frontend"]["primary_model_id"] = json!("gemma3");
    v["model_assignments"]["worker"]["fallback_model_id"] = json!("ghost/gpt-4o");
    v["model_assignments"]["orchestrator"]["allowed_models"][1] = json!("oll/llama9:1b");
    let err = parse(v).unwrap_err();
    let at = |path: &str| {
        err.errors
            .iter()
            .find(|e| e.path == path)
            .map(|e| e.problem.clone())
    };
    assert!(matches!(
        at("model_assignments.frontend.primary_model_id"),
        Some(FieldProblem::MalformedModelId {
            problem: ModelIdProblem::NoSlash,
            ..
        })
    ));
    assert!(matches!(
        at("model_assignments.worker.fallback_model_id"),
        Some(FieldProblem::UnknownProvider { provider_id, .. }) if provider_id == "ghost"
    ));
    assert!(matches!(
        at("model_assignments.orchestrator.allowed_models[1]"),
        Some(FieldProblem::UnknownModel { .. })
    ));
    // The fallback `oll/gemma3:270m` is now outside the edited whitelist.
    assert!(matches!(
        at("model_assignments.orchestrator.fallback_model_id"),
        Some(FieldProblem::OutsideAllowedModels { .. })
    ));
    assert!(
        err.to_string()
            .contains("model_assignments.worker.fallback_model_id"),
        "{err}"
    );
}

#[test]
fn a_primary_outside_allowed_models_is_refused() {
    let mut p = profile("wp-1");
    p.model_assignments.orchestrator.primary_model_id = "oll/qwen3-coder:30b".into();
    let err = validate_profile(&p, &catalog()).unwrap_err();
    assert_eq!(err.errors.len(), 1);
    assert_eq!(
        err.errors[0].path,
        "model_assignments.orchestrator.primary_model_id"
    );
    assert!(matches!(
        err.errors[0].problem,
        FieldProblem::OutsideAllowedModels { .. }
    ));
}

#[test]
fn local_only_refuses_cloud_providers_and_ollama_cloud_tags() {
    let mut p = profile("wp-1");
    p.model_assignments.frontend.fallback_model_id = Some("open/gpt-4o-mini".into());
    p.model_assignments.validator.primary_model_id = "oll/gpt-oss:120b-cloud".into();
    let err = validate_profile(&p, &catalog()).unwrap_err();
    assert_eq!(err.errors.len(), 2, "{err}");
    let why = |path: &str| match &err.errors.iter().find(|e| e.path == path).unwrap().problem {
        FieldProblem::CloudModelInLocalOnly { why, .. } => why.clone(),
        other => panic!("{other:?}"),
    };
    assert!(why("model_assignments.frontend.fallback_model_id").contains("cloud tier"));
    assert!(why("model_assignments.validator.primary_model_id").contains("Ollama tag"));
    // The same cloud model is fine where local_only is false.
    p.model_assignments.validator.local_only = false;
    p.model_assignments.frontend.local_only = false;
    validate_profile(&p, &catalog()).unwrap();
}

#[test]
fn override_assignments_are_checked_like_base_ones() {
    let mut p = profile("wp-1");
    let rules = p
        .overrides
        .as_mut()
        .unwrap()
        .filetype_rules
        .as_mut()
        .unwrap();
    rules
        .get_mut("rs")
        .unwrap()
        .worker
        .as_mut()
        .unwrap()
        .primary_model_id = "open/gpt-4o".into();
    let err = validate_profile(&p, &catalog()).unwrap_err();
    assert!(
        err.has_path("overrides.filetype_rules.rs.worker.primary_model_id"),
        "{err}"
    );
}

#[test]
fn not_json_and_unknown_fields_are_malformed() {
    let err = parse_profile_json("{ nope", &catalog()).unwrap_err();
    assert!(matches!(
        err.errors[0].problem,
        FieldProblem::Malformed { .. }
    ));
    let mut v = profile_json("wp-1");
    v["parent_profile_id"] = json!("wp-0");
    let err = parse(v).unwrap_err();
    assert!(err.to_string().contains("parent_profile_id"), "{err}");
}

#[test]
fn errors_serialize_with_a_code_for_the_ui() {
    let e = FieldError::new("name", FieldProblem::Empty);
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"path": "name", "problem": {"code": "empty"}})
    );
}

#[test]
fn missing_required_fields_are_named_by_path() {
    let mut v = profile_json("wp-1");
    v.as_object_mut().unwrap().remove("name");
    v["governance"]
        .as_object_mut()
        .unwrap()
        .remove("allow_cloud_escalation");
    v["model_assignments"]["worker"]
        .as_object_mut()
        .unwrap()
        .remove("local_only");
    v["overrides"]["filetype_rules"]["rs"]["worker"]
        .as_object_mut()
        .unwrap()
        .remove("primary_model_id");
    let err = parse(v).unwrap_err();
    let mut paths: Vec<_> = err.errors.iter().map(|e| e.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "governance.allow_cloud_escalation",
            "model_assignments.worker.local_only",
            "name",
            "overrides.filetype_rules.rs.worker.primary_model_id",
        ]
    );
    assert!(err
        .errors
        .iter()
        .all(|e| e.problem == FieldProblem::MissingField));
}
