//! Deeply nested policy text (parentheses, brackets, braces, in any mix, with strings and
//! comments between them) is refused or parsed, never a stack overflow: the nesting bound is
//! checked before Cedar's recursive parser sees the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wrex::Policy;

fuzz_target!(|data: &[u8]| {
    let Some((&depth, shape)) = data.split_first() else {
        return;
    };
    // Up to 255 * 16 = 4,080 levels: far past the bound, and past what the stack survives.
    let depth = usize::from(depth) * 16;
    let mut open = String::new();
    let mut close = String::new();
    for i in 0..depth {
        let b = shape.get(i % shape.len().max(1)).copied().unwrap_or(0);
        let (o, c) = match b % 5 {
            0 => ("(", ")"),
            1 => ("[", "]"),
            2 => ("{\"a\": ", "}"),
            3 => ("(\"(\" == ", ")"),
            _ => ("(// ((\n", ")"),
        };
        open.push_str(o);
        close.insert_str(0, c);
    }
    let text = format!("permit (principal, action, resource) when {{ {open}true{close} }};");
    let _ = Policy::parse(&text);
});
