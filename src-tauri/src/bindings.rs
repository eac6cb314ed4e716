//! TypeScript bindings for every type the UI shares with Rust, generated from the Rust types with
//! ts-rs into `ui/src/lib/bindings.ts`. A test fails when the committed file is out of date; run
//! `UPDATE_BINDINGS=1 cargo test -p handshake bindings` to regenerate it.

use ts_rs::TS;

/// The generated TypeScript, in a stable order.
pub fn typescript() -> String {
    use handshake_core::{doctor, facade, llm, registry};
    let decls = [
        crate::error::ErrorCode::decl(),
        crate::error::CommandError::decl(),
        facade::AppInfo::decl(),
        doctor::CheckState::decl(),
        doctor::Check::decl(),
        doctor::DoctorReport::decl(),
        registry::ProviderKind::decl(),
        registry::ProviderTier::decl(),
        llm::TokenUsage::decl(),
        llm::FinishReason::decl(),
        llm::StreamEvent::decl(),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/src/bindings.rs. Do not edit by hand:\n\
         // run `UPDATE_BINDINGS=1 cargo test -p handshake bindings` instead.\n\n",
    );
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn bindings_are_up_to_date() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/bindings.ts");
        let generated = super::typescript();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "ui/src/lib/bindings.ts is out of date with the Rust types; run `UPDATE_BINDINGS=1 cargo test -p handshake bindings`"
        );
    }
}
