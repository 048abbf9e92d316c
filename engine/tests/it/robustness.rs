//! Any query string gives results or a clear error, never a panic.

use std::sync::OnceLock;

use engine::{EngineError, SearchRequest};
use proptest::prelude::*;

use crate::support::{TestIndex, catalog, load, open};

fn index() -> &'static TestIndex {
    static INDEX: OnceLock<TestIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = open();
        load(&mut index, &catalog());
        index
    })
}

fn check(text: &str) -> Result<(), TestCaseError> {
    match index().engine.search(&SearchRequest::text(text)) {
        Ok(response) => prop_assert!(response.hits.len() as u64 <= response.total),
        Err(EngineError::InvalidParameter { parameter, .. }) => prop_assert_eq!(parameter, "q"),
        Err(other) => prop_assert!(false, "unexpected error for {text:?}: {other}"),
    }
    match index().engine.suggest(text, 5) {
        Ok(_) => {}
        Err(EngineError::InvalidParameter { parameter, .. }) => prop_assert_eq!(parameter, "q"),
        Err(other) => prop_assert!(false, "unexpected suggest error for {text:?}: {other}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn query_syntax_and_mixed_scripts_never_panic(text in r#"[a-zé東京ラジオ"\\*?~^:()\[\]{}+\-!&|/<> \x00-\x1f]{0,200}"#) {
        check(&text)?;
    }
}

#[test]
fn huge_and_hostile_queries_answer_or_name_q() {
    for text in [
        "a".repeat(10 * 1024),
        "\"".repeat(999),
        "word ".repeat(200),
        "\u{0}\u{1}\u{7f}".repeat(100),
        "東".repeat(999),
        "((((title:x AND NOT y^2~3))))".to_owned(),
    ] {
        check(&text).expect("handled");
    }
    let too_long = index().engine.search(&SearchRequest::text("a".repeat(10 * 1024)));
    assert!(matches!(too_long, Err(EngineError::InvalidParameter { parameter, .. }) if parameter == "q"));
    let syntax = index().engine.search(&SearchRequest::text("((((title:x AND NOT y^2~3))))"));
    assert!(syntax.is_ok(), "query syntax is plain text");
}
