//! Any JSON body either deserialises into a valid DTO or is rejected; never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(program) = serde_json::from_slice::<contracts::CreateProgram>(data) {
        assert!(!program.title.as_str().is_empty());
    }
    let _ = serde_json::from_slice::<contracts::EventEnvelope>(data);
});
