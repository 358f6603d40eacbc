//! The pipeline loader on arbitrary text: it never panics, and every error is positioned
//! inside the text (`file:line:col: key.path: message`).
#![no_main]

use std::path::Path;

use audex::pipeline::LoadedPipeline;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = LoadedPipeline::parse(text, Path::new("fuzz.yaml")) {
        let lines = text.lines().count().max(1);
        assert!(e.line >= 1 && e.line <= lines + 1, "{e}");
        assert!(e.column >= 1, "{e}");
        assert!(!e.key.is_empty() && !e.message.is_empty(), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("fuzz.yaml:{}:{}: {}: ", e.line, e.column, e.key)),
            "{e}"
        );
    }
});
