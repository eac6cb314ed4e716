//! Checks a Work Profile before it is stored: shape problems serde cannot name well (wrong
//! `schema_version`, a missing role, an override naming an unknown role) and meaning problems
//! (malformed or unknown model ids, a primary or fallback outside `allowed_models`, a cloud model
//! in a `local_only` assignment).
//!
//! Every problem is a [`FieldError`] whose `path` names the form field to show it next to (e.g.
//! `model_assignments.worker.fallback_model_id`); all problems are reported at once.

use serde::Serialize;
use serde_json::Value;

use super::catalog::{effective_tier, ModelCatalog, ModelId, ModelIdProblem, NoTier};
use super::schema::{ModelAssignment, Role, WorkProfile, WORK_PROFILE_SCHEMA_VERSION};
use crate::vocab::ProviderTier;

/// What is wrong with one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum FieldProblem {
    #[error("not valid JSON for a Work Profile: {message}")]
    Malformed { message: String },
    #[error("required field is missing")]
    MissingField,
    #[error("must not be empty")]
    Empty,
    #[error("schema_version is `{found}`; this build reads `{expected}`")]
    WrongSchemaVersion { found: String, expected: String },
    #[error("the role `{role}` has no model assignment")]
    MissingRole { role: Role },
    #[error("`{name}` is not a role (expected frontend, orchestrator, worker or validator)")]
    UnknownRole { name: String },
    #[error("`{model_id}` is not a model id: {problem}")]
    MalformedModelId {
        model_id: String,
        problem: ModelIdProblem,
    },
    #[error("no provider `{provider_id}` is registered (model `{model_id}`)")]
    UnknownProvider {
        provider_id: String,
        model_id: String,
    },
    #[error("provider `{provider_id}` does not serve `{model_id}`")]
    UnknownModel {
        provider_id: String,
        model_id: String,
    },
    #[error("`{model_id}` is not in this role's allowed_models")]
    OutsideAllowedModels { model_id: String },
    #[error("`{model_id}` runs in the cloud ({why}) but this assignment is local_only")]
    CloudModelInLocalOnly { model_id: String, why: String },
}

/// One problem and the field it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct FieldError {
    /// Dotted path from the profile root, `[i]` for list items; empty for the whole document.
    pub path: String,
    pub problem: FieldProblem,
}

impl FieldError {
    fn new(path: impl Into<String>, problem: FieldProblem) -> Self {
        Self {
            path: path.into(),
            problem,
        }
    }
}

/// Every problem found in one profile (never empty).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, thiserror::Error)]
#[error("the Work Profile is invalid: {}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors {
    pub errors: Vec<FieldError>,
}

impl ValidationErrors {
    /// True when some error is at `path`.
    pub fn has_path(&self, path: &str) -> bool {
        self.errors.iter().any(|e| e.path == path)
    }
}

fn finish(errors: Vec<FieldError>) -> Result<(), ValidationErrors> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors { errors })
    }
}

/// Parses a profile from JSON text, naming structural problems by field, then validates it
/// against `catalog`.
pub fn parse_profile_json(
    text: &str,
    catalog: &dyn ModelCatalog,
) -> Result<WorkProfile, ValidationErrors> {
    let value: Value = serde_json::from_str(text).map_err(|e| ValidationErrors {
        errors: vec![FieldError::new(
            "",
            FieldProblem::Malformed {
                message: e.to_string(),
            },
        )],
    })?;
    finish(check_structure(&value))?;
    let profile: WorkProfile = serde_json::from_value(value).map_err(|e| ValidationErrors {
        errors: vec![FieldError::new(
            "",
            FieldProblem::Malformed {
                message: e.to_string(),
            },
        )],
    })?;
    validate_profile(&profile, catalog)?;
    Ok(profile)
}

fn check_structure(value: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(root) = value.as_object() else {
        let message = "expected a JSON object".to_owned();
        return vec![FieldError::new("", FieldProblem::Malformed { message })];
    };
    match root.get("schema_version") {
        None => errors.push(FieldError::new(
            "schema_version",
            FieldProblem::MissingField,
        )),
        Some(Value::String(found)) if found == WORK_PROFILE_SCHEMA_VERSION => {}
        Some(other) => errors.push(FieldError::new(
            "schema_version",
            FieldProblem::WrongSchemaVersion {
                found: other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_owned),
                expected: WORK_PROFILE_SCHEMA_VERSION.to_owned(),
            },
        )),
    }
    missing_fields(root, "", &["profile_id", "name", "governance"], &mut errors);
    if let Some(governance) = root.get("governance").and_then(Value::as_object) {
        let required = ["automation_level", "allow_cloud_escalation"];
        missing_fields(governance, "governance", &required, &mut errors);
    }
    match root.get("model_assignments").and_then(Value::as_object) {
        None => errors.push(FieldError::new(
            "model_assignments",
            FieldProblem::MissingField,
        )),
        Some(assignments) => {
            for role in Role::ALL {
                if !assignments.contains_key(role.as_str()) {
                    let path = format!("model_assignments.{role}");
                    errors.push(FieldError::new(path, FieldProblem::MissingRole { role }));
                }
            }
            unknown_roles(assignments, "model_assignments", &mut errors);
            assignment_fields(assignments, "model_assignments", &mut errors);
        }
    }
    if let Some(overrides) = root.get("overrides").and_then(Value::as_object) {
        for kind in ["filetype_rules", "task_type_rules"] {
            let Some(rules) = overrides.get(kind).and_then(Value::as_object) else {
                continue;
            };
            for (key, rule) in rules {
                if let Some(rule) = rule.as_object() {
                    let prefix = format!("overrides.{kind}.{key}");
                    unknown_roles(rule, &prefix, &mut errors);
                    assignment_fields(rule, &prefix, &mut errors);
                }
            }
        }
    }
    errors
}

fn missing_fields(
    object: &serde_json::Map<String, Value>,
    prefix: &str,
    fields: &[&str],
    errors: &mut Vec<FieldError>,
) {
    for field in fields {
        if !object.contains_key(*field) {
            let path = if prefix.is_empty() {
                (*field).to_owned()
            } else {
                format!("{prefix}.{field}")
            };
            errors.push(FieldError::new(path, FieldProblem::MissingField));
        }
    }
}

/// The required fields of each role's assignment present in `roles`.
fn assignment_fields(
    roles: &serde_json::Map<String, Value>,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) {
    for role in Role::ALL {
        if let Some(assignment) = roles.get(role.as_str()).and_then(Value::as_object) {
            let path = format!("{prefix}.{role}");
            missing_fields(
                assignment,
                &path,
                &["primary_model_id", "local_only"],
                errors,
            );
        }
    }
}

fn unknown_roles(
    object: &serde_json::Map<String, Value>,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) {
    for key in object.keys() {
        if Role::from_key(key).is_none() {
            let problem = FieldProblem::UnknownRole { name: key.clone() };
            errors.push(FieldError::new(format!("{prefix}.{key}"), problem));
        }
    }
}

/// Validates a parsed profile against `catalog`; reports every problem.
pub fn validate_profile(
    profile: &WorkProfile,
    catalog: &dyn ModelCatalog,
) -> Result<(), ValidationErrors> {
    let mut errors = Vec::new();
    if profile.schema_version != WORK_PROFILE_SCHEMA_VERSION {
        let problem = FieldProblem::WrongSchemaVersion {
            found: profile.schema_version.clone(),
            expected: WORK_PROFILE_SCHEMA_VERSION.to_owned(),
        };
        errors.push(FieldError::new("schema_version", problem));
    }
    if profile.profile_id.trim().is_empty() {
        errors.push(FieldError::new("profile_id", FieldProblem::Empty));
    }
    if profile.name.trim().is_empty() {
        errors.push(FieldError::new("name", FieldProblem::Empty));
    }
    for role in Role::ALL {
        let path = format!("model_assignments.{role}");
        check_assignment(
            profile.model_assignments.get(role),
            &path,
            catalog,
            &mut errors,
        );
    }
    if let Some(overrides) = &profile.overrides {
        let kinds = [
            ("filetype_rules", &overrides.filetype_rules),
            ("task_type_rules", &overrides.task_type_rules),
        ];
        for (kind, rules) in kinds {
            for (key, rule) in rules.iter().flatten() {
                if key.trim().is_empty() {
                    errors.push(FieldError::new(
                        format!("overrides.{kind}"),
                        FieldProblem::Empty,
                    ));
                }
                for role in Role::ALL {
                    if let Some(assignment) = rule.get(role) {
                        let path = format!("overrides.{kind}.{key}.{role}");
                        check_assignment(assignment, &path, catalog, &mut errors);
                    }
                }
            }
        }
    }
    finish(errors)
}

fn check_assignment(
    assignment: &ModelAssignment,
    path: &str,
    catalog: &dyn ModelCatalog,
    errors: &mut Vec<FieldError>,
) {
    let mut candidates = vec![("primary_model_id", &assignment.primary_model_id)];
    if let Some(fallback) = &assignment.fallback_model_id {
        candidates.push(("fallback_model_id", fallback));
    }
    for (field, model_id) in candidates {
        let field_path = format!("{path}.{field}");
        let Some(id) = check_model_id(model_id, &field_path, catalog, errors) else {
            continue;
        };
        if let Some(allowed) = &assignment.allowed_models {
            if !allowed.iter().any(|a| a == model_id) {
                let problem = FieldProblem::OutsideAllowedModels {
                    model_id: model_id.clone(),
                };
                errors.push(FieldError::new(field_path.clone(), problem));
            }
        }
        if assignment.local_only && effective_tier(catalog, &id) == Ok(ProviderTier::Cloud) {
            let why = if id.has_cloud_tag() {
                "its Ollama tag marks a cloud model".to_owned()
            } else {
                format!("provider `{}` is cloud tier", id.provider_id())
            };
            let problem = FieldProblem::CloudModelInLocalOnly {
                model_id: model_id.clone(),
                why,
            };
            errors.push(FieldError::new(field_path, problem));
        }
    }
    for (i, model_id) in assignment.allowed_models.iter().flatten().enumerate() {
        check_model_id(
            model_id,
            &format!("{path}.allowed_models[{i}]"),
            catalog,
            errors,
        );
    }
}

/// Parses and looks up one model id; returns it when it can be used for further checks.
fn check_model_id(
    model_id: &str,
    path: &str,
    catalog: &dyn ModelCatalog,
    errors: &mut Vec<FieldError>,
) -> Option<ModelId> {
    let id = match ModelId::parse(model_id) {
        Ok(id) => id,
        Err(problem) => {
            let model_id = model_id.to_owned();
            errors.push(FieldError::new(
                path,
                FieldProblem::MalformedModelId { model_id, problem },
            ));
            return None;
        }
    };
    if catalog.provider_tier(id.provider_id()).is_none() {
        let problem = FieldProblem::UnknownProvider {
            provider_id: id.provider_id().to_owned(),
            model_id: model_id.to_owned(),
        };
        errors.push(FieldError::new(path, problem));
        return None;
    }
    if let Err(NoTier::Undecidable(problem)) = effective_tier(catalog, &id) {
        let model_id = model_id.to_owned();
        errors.push(FieldError::new(
            path,
            FieldProblem::MalformedModelId { model_id, problem },
        ));
        return None;
    }
    if catalog.knows_model(&id) == Some(false) {
        let problem = FieldProblem::UnknownModel {
            provider_id: id.provider_id().to_owned(),
            model_id: model_id.to_owned(),
        };
        errors.push(FieldError::new(path, problem));
    }
    Some(id)
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
