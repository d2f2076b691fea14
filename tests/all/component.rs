//! The guest component's imports are exactly wrex's own interfaces: no WASI, no ambient
//! authority (invariant 1 in `docs/design.md`).

use wasmparser::{Parser, Payload};

#[test]
fn guest_imports_only_wrex_interfaces() {
    let bytes = wrex::guest_component_bytes();
    let mut imports = Vec::new();
    let mut depth = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.expect("valid component") {
            // Nested modules and components have their own (internal) imports; only the outer
            // component's imports are what the host must provide.
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) if depth > 0 => depth -= 1,
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    imports.push(import.expect("import").name.name.to_string());
                }
            }
            _ => {}
        }
    }
    imports.sort();
    // `types` holds only the shared records (the denial); it has no functions.
    assert_eq!(
        imports,
        [
            "wrex:sdk/clock@0.1.0",
            "wrex:sdk/disk@0.1.0",
            "wrex:sdk/exec@0.1.0",
            "wrex:sdk/fs@0.1.0",
            "wrex:sdk/log@0.1.0",
            "wrex:sdk/network@0.1.0",
            "wrex:sdk/process@0.1.0",
            "wrex:sdk/sysinfo@0.1.0",
            "wrex:sdk/systemd@0.1.0",
            "wrex:sdk/types@0.1.0"
        ]
    );
}
