//! The index schema: one index holds programs and episodes, told apart by `kind`.
//!
//! Text is indexed in `title` and `description` through the language-aware tokenizer, and stored
//! there too (with the language tag the tokenizer reads, which `analysis::strip_language_tag`
//! removes on the way out), so a hit renders without a second lookup and highlighting works on the
//! words the user wrote. Ids are stored and indexed as the UUID's 16
//! bytes. Facets and filters are columnar (fast)
//! fields holding taxonomy ordinals, which collectors read with array lookups.

use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions};

use crate::analysis::TOKENIZER_NAME;

/// Visibility, kind, category and language packed into one columnar value, so the collector reads
/// one column per document instead of four: bit 0 visible (a hidden document is a tombstone kept
/// so the item's version survives unpublish and delete), bit 1 episode, bits 2–7 the category
/// ordinal, bits 8–15 the language ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packed(pub u64);

impl Packed {
    /// The bit of visibility, and the bit of the kind.
    pub const VISIBLE: u64 = 1;
    pub const KIND: u64 = 1 << 1;

    pub fn new(visible: bool, kind: contracts::ContentKind, category: u64, language: u64) -> Self {
        Self(u64::from(visible) | Self::kind_bit(kind_ordinal(kind)) | (category & 0x3F) << 2 | (language & 0xFF) << 8)
    }

    /// The packed value of a document of `kind` (no category, no language), to test the kind bit.
    pub fn kind_bit(kind: u64) -> u64 {
        (kind & 1) << 1
    }

    pub fn category(self) -> usize {
        ((self.0 >> 2) & 0x3F) as usize
    }

    pub fn language(self) -> usize {
        ((self.0 >> 8) & 0xFF) as usize
    }
}

/// Handles to every field of the schema.
#[derive(Debug, Clone)]
pub struct Fields {
    pub id: Field,
    pub kind: Field,
    pub program_id: Field,
    pub title: Field,
    pub description: Field,
    pub category: Field,
    pub language: Field,
    pub duration_seconds: Field,
    pub publish_date: Field,
    pub artwork_url: Field,
    pub version: Field,
    pub packed: Field,
}

/// Field names, shared by the schema and the fast-field readers.
pub mod names {
    pub const ID: &str = "id";
    pub const KIND: &str = "kind";
    pub const PROGRAM_ID: &str = "program_id";
    pub const TITLE: &str = "title";
    pub const DESCRIPTION: &str = "description";
    pub const CATEGORY: &str = "category";
    pub const LANGUAGE: &str = "language";
    pub const DURATION_SECONDS: &str = "duration_seconds";
    pub const PUBLISH_DATE: &str = "publish_date";
    pub const ARTWORK_URL: &str = "artwork_url";
    pub const VERSION: &str = "version";
    pub const PACKED: &str = "packed";
}

pub fn build() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER_NAME)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: builder.add_bytes_field(names::ID, INDEXED | STORED),
        kind: builder.add_u64_field(names::KIND, STORED),
        program_id: builder.add_bytes_field(names::PROGRAM_ID, INDEXED | STORED),
        title: builder.add_text_field(names::TITLE, text.clone()),
        description: builder.add_text_field(names::DESCRIPTION, text),
        category: builder.add_u64_field(names::CATEGORY, STORED),
        language: builder.add_u64_field(names::LANGUAGE, STORED),
        duration_seconds: builder.add_u64_field(names::DURATION_SECONDS, FAST | STORED),
        publish_date: builder.add_i64_field(names::PUBLISH_DATE, FAST | STORED),
        artwork_url: builder.add_text_field(names::ARTWORK_URL, STORED),
        version: builder.add_u64_field(names::VERSION, FAST | STORED),
        packed: builder.add_u64_field(names::PACKED, FAST),
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
            category: get(names::CATEGORY)?,
            language: get(names::LANGUAGE)?,
            duration_seconds: get(names::DURATION_SECONDS)?,
            publish_date: get(names::PUBLISH_DATE)?,
            artwork_url: get(names::ARTWORK_URL)?,
            version: get(names::VERSION)?,
            packed: get(names::PACKED)?,
        })
    }
}

/// The term of an id (`id` and `program_id` hold the 16 bytes of the UUID: half the length of its
/// text, which matters for a term dictionary of a million unique ids).
pub fn id_term(field: Field, id: uuid::Uuid) -> tantivy::Term {
    tantivy::Term::from_field_bytes(field, id.as_bytes())
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
