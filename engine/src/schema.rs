//! The index schema: one index holds programs and episodes, told apart by `kind`.
//!
//! Text is indexed in `title` and `description` through the language-aware tokenizer and stored
//! untouched in `title_stored` and `description_stored`, so a hit renders without a second lookup
//! and highlighting works on the words the user wrote. Facets and filters are columnar (fast)
//! fields holding taxonomy ordinals, which collectors read with array lookups.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::analysis::TOKENIZER_NAME;

/// `status` of a document that discovery may show. Everything else is a tombstone kept so the
/// item's version survives unpublish and delete.
pub const VISIBLE: u64 = 1;
pub const HIDDEN: u64 = 0;

/// Handles to every field of the schema.
#[derive(Debug, Clone)]
pub struct Fields {
    pub id: Field,
    pub kind: Field,
    pub program_id: Field,
    pub title: Field,
    pub description: Field,
    pub title_stored: Field,
    pub description_stored: Field,
    pub category: Field,
    pub language: Field,
    pub duration_seconds: Field,
    pub publish_date: Field,
    pub artwork_url: Field,
    pub version: Field,
    pub status: Field,
}

/// Field names, shared by the schema and the fast-field readers.
pub mod names {
    pub const ID: &str = "id";
    pub const KIND: &str = "kind";
    pub const PROGRAM_ID: &str = "program_id";
    pub const TITLE: &str = "title";
    pub const DESCRIPTION: &str = "description";
    pub const TITLE_STORED: &str = "title_stored";
    pub const DESCRIPTION_STORED: &str = "description_stored";
    pub const CATEGORY: &str = "category";
    pub const LANGUAGE: &str = "language";
    pub const DURATION_SECONDS: &str = "duration_seconds";
    pub const PUBLISH_DATE: &str = "publish_date";
    pub const ARTWORK_URL: &str = "artwork_url";
    pub const VERSION: &str = "version";
    pub const STATUS: &str = "status";
}

pub fn build() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER_NAME)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: builder.add_text_field(names::ID, STRING | STORED | FAST),
        kind: builder.add_u64_field(names::KIND, FAST | STORED),
        program_id: builder.add_text_field(names::PROGRAM_ID, STRING | STORED),
        title: builder.add_text_field(names::TITLE, text.clone()),
        description: builder.add_text_field(names::DESCRIPTION, text),
        title_stored: builder.add_text_field(names::TITLE_STORED, STORED),
        description_stored: builder.add_text_field(names::DESCRIPTION_STORED, STORED),
        category: builder.add_u64_field(names::CATEGORY, FAST | STORED),
        language: builder.add_u64_field(names::LANGUAGE, FAST | STORED),
        duration_seconds: builder.add_u64_field(names::DURATION_SECONDS, FAST | STORED),
        publish_date: builder.add_i64_field(names::PUBLISH_DATE, FAST | STORED),
        artwork_url: builder.add_text_field(names::ARTWORK_URL, STORED),
        version: builder.add_u64_field(names::VERSION, FAST | STORED | INDEXED),
        status: builder.add_u64_field(names::STATUS, FAST | INDEXED),
    };
    (builder.build(), fields)
}

impl Fields {
    /// Resolves the handles from an existing index's schema (an index written by another process).
    pub fn from_schema(schema: &Schema) -> tantivy::Result<Self> {
        let get = |name: &str| schema.get_field(name);
        Ok(Self {
            id: get(names::ID)?,
            kind: get(names::KIND)?,
            program_id: get(names::PROGRAM_ID)?,
            title: get(names::TITLE)?,
            description: get(names::DESCRIPTION)?,
            title_stored: get(names::TITLE_STORED)?,
            description_stored: get(names::DESCRIPTION_STORED)?,
            category: get(names::CATEGORY)?,
            language: get(names::LANGUAGE)?,
            duration_seconds: get(names::DURATION_SECONDS)?,
            publish_date: get(names::PUBLISH_DATE)?,
            artwork_url: get(names::ARTWORK_URL)?,
            version: get(names::VERSION)?,
            status: get(names::STATUS)?,
        })
    }
}

/// `kind` ordinals.
pub fn kind_ordinal(kind: contracts::ContentKind) -> u64 {
    match kind {
        contracts::ContentKind::Program => 0,
        contracts::ContentKind::Episode => 1,
    }
}

pub fn kind_from_ordinal(ordinal: u64) -> contracts::ContentKind {
    if ordinal == 0 { contracts::ContentKind::Program } else { contracts::ContentKind::Episode }
}
