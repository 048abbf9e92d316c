//! OpenAPI schemas (feature `openapi`) for the validated value types, which serialise as plain
//! strings and numbers; the structs built from them derive theirs.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::category::{CATEGORIES, Category};
use crate::domain::{Description, DurationSeconds, PublishDate, Title};
use crate::language::LanguageCode;

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).description(Some(description))
}

impl PartialSchema for Title {
    fn schema() -> RefOr<Schema> {
        string("Non-blank text").min_length(Some(1)).max_length(Some(Title::MAX_CHARS)).into()
    }
}
impl ToSchema for Title {}

impl PartialSchema for Description {
    fn schema() -> RefOr<Schema> {
        string("Plain text").max_length(Some(Description::MAX_CHARS)).into()
    }
}
impl ToSchema for Description {}

impl PartialSchema for Category {
    fn schema() -> RefOr<Schema> {
        string("A category slug").enum_values(Some(CATEGORIES.iter().map(|(slug, _)| *slug))).into()
    }
}
impl ToSchema for Category {}

impl PartialSchema for LanguageCode {
    fn schema() -> RefOr<Schema> {
        string("An ISO 639-1 code (a BCP 47 tag is reduced to its language)").examples(["en", "pt"]).into()
    }
}
impl ToSchema for LanguageCode {}

impl PartialSchema for DurationSeconds {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .description(Some("Seconds, 1 to 172800 (48 h)"))
            .minimum(Some(1))
            .maximum(Some(DurationSeconds::MAX as f64))
            .into()
    }
}
impl ToSchema for DurationSeconds {}

impl PartialSchema for PublishDate {
    fn schema() -> RefOr<Schema> {
        string("RFC 3339 date-time")
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
            .into()
    }
}
impl ToSchema for PublishDate {}
