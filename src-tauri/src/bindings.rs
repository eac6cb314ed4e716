//! TypeScript bindings for every type the UI shares with Rust, generated from the Rust types with
//! ts-rs into `ui/src/lib/bindings.ts`. Each command module lists the types its commands take and
//! return ([`Bindings::add`]); the types they reference are collected with them, so nothing is
//! copied by hand. A test fails when the committed file is out of date; run
//! `UPDATE_BINDINGS=1 cargo test -p handshake bindings` to regenerate it.

use std::collections::BTreeMap;

use ts_rs::{TypeVisitor, TS};

/// The declarations collected so far, by TypeScript name (sorted, so the file is stable).
#[derive(Default)]
pub struct Bindings {
    decls: BTreeMap<String, String>,
    /// Names declared twice with different bodies (two Rust types with one TypeScript name).
    collisions: Vec<String>,
}

impl Bindings {
    /// Adds `T` and, transitively, every named type it references.
    pub fn add<T: TS + 'static + ?Sized>(&mut self) -> &mut Self {
        self.visit::<T>();
        self
    }
}

impl TypeVisitor for Bindings {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Primitives and wrappers (String, Vec, Option) have no output path and no declaration.
        if T::output_path().is_none() {
            T::visit_dependencies(self);
            return;
        }
        let name = T::ident();
        let decl = T::decl();
        if let Some(existing) = self.decls.get(&name) {
            if *existing != decl {
                self.collisions.push(name);
            }
            return;
        }
        self.decls.insert(name, decl);
        T::visit_dependencies(self);
    }
}

fn collect() -> Bindings {
    let mut bindings = Bindings::default();
    bindings.add::<crate::error::CommandError>();
    crate::commands::bindings(&mut bindings);
    bindings
}

/// Names that two different Rust types both claim in TypeScript (must be empty: rename one with
/// `#[ts(rename = "...")]`).
pub fn collisions() -> Vec<String> {
    collect().collisions
}

/// The generated TypeScript.
pub fn typescript() -> String {
    let bindings = collect();
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/src/bindings.rs. Do not edit by hand:\n\
         // run `UPDATE_BINDINGS=1 cargo test -p handshake bindings` instead.\n\n",
    );
    for decl in bindings.decls.values() {
        out.push_str("export ");
        out.push_str(decl);
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
    fn referenced_types_are_collected() {
        let ts = super::typescript();
        // CommandError references FieldIssue; AppInfo is listed by the settings commands.
        assert!(ts.contains("export type FieldIssue"), "{ts}");
        assert!(ts.contains("export type AppInfo"), "{ts}");
        assert_eq!(ts.matches("export type CommandError").count(), 1);
    }

    #[test]
    fn no_two_rust_types_share_a_typescript_name() {
        assert_eq!(super::collisions(), Vec::<String>::new());
    }

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
