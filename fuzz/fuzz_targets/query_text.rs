//! Query text of any bytes parses into words and phrases, or fails naming `q`; never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = engine::words(text);
        if let Err(engine::EngineError::InvalidParameter { parameter, .. }) = engine::parse_query(text, &[]) {
            assert_eq!(parameter, "q");
        }
    }
});
