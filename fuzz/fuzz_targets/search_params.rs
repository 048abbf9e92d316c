//! Any query string parses into a search request or an error naming a parameter; never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let pairs: Vec<(&str, &str)> = text.split('&').filter_map(|pair| pair.split_once('=')).collect();
        match engine::SearchRequest::from_params(pairs) {
            Ok(request) => assert!(request.validate().is_ok()),
            Err(engine::EngineError::InvalidParameter { parameter, .. }) => assert!(!parameter.is_empty()),
            Err(other) => panic!("unexpected error {other}"),
        }
    }
});
