//! The index mappings Sluicegate's documents are written for, as `sluicegate setup` installs
//! them: typed ECS fields for what the engine and the built-in transforms write, one flattened
//! object (`attributes`) for the fields parsed out of each log line, and the fields a
//! configuration promotes to typed root fields.
//!
//! Services that share an account disagree on their fields' types (`status` a number here, a
//! word there, an object elsewhere) and some log a new key per metric. Mapped dynamically, the
//! first document of a day decides each type and every later disagreement is refused, and the
//! keys exhaust the index's field limit. Under `attributes`, mapped as `flat_object`
//! (OpenSearch 2.7 and later) or `flattened` (Elasticsearch 7.3 and later), every leaf is a
//! keyword of one field, whatever its shape: searchable (`attributes.user.id: 5`), never in
//! conflict, one mapped field in all. The name is OpenTelemetry's for a log record's own
//! key-value pairs, whatever format they came in (JSON, logfmt, regex captures).

use serde_json::{Map, Value, json};

/// Where extract puts a line's own fields by default, and what the template flattens.
pub const ATTRIBUTES: &str = "attributes";

/// The typed fields the engine writes on every document and the built-in transforms write when
/// they recognise a line, with their Elasticsearch types.
pub const OWNED_FIELDS: &[(&str, FieldType)] = &[
    ("@timestamp", FieldType::Date),
    ("message", FieldType::Text),
    ("event.id", FieldType::Keyword),
    ("event.original", FieldType::Text),
    ("event.ingest_error", FieldType::Keyword),
    ("log.level", FieldType::Keyword),
    ("aws.cloudwatch.log_group", FieldType::Keyword),
    ("aws.cloudwatch.log_stream", FieldType::Keyword),
    ("cloud.account.id", FieldType::Keyword),
    ("trace.id", FieldType::Keyword),
    ("aws.lambda.request_id", FieldType::Keyword),
    ("aws.lambda.type", FieldType::Keyword),
    ("aws.lambda.version", FieldType::Keyword),
    ("aws.lambda.duration_ms", FieldType::Double),
    ("aws.lambda.billed_duration_ms", FieldType::Double),
    ("aws.lambda.init_duration_ms", FieldType::Double),
    ("aws.lambda.memory_size_mb", FieldType::Long),
    ("aws.lambda.max_memory_used_mb", FieldType::Long),
    ("http.request.method", FieldType::Keyword),
    ("http.request.referrer", FieldType::Keyword),
    ("http.response.status_code", FieldType::Long),
    ("http.response.body.bytes", FieldType::Long),
    ("http.version", FieldType::Keyword),
    ("url.original", FieldType::Keyword),
    ("source.address", FieldType::Keyword),
    ("user.name", FieldType::Keyword),
    ("user_agent.original", FieldType::Keyword),
    ("ident", FieldType::Keyword),
];

/// The fields only the engine writes: no configuration may promote a field onto them.
pub const ENGINE_FIELDS: &[&str] = &["@timestamp", "message", "event", "aws.cloudwatch", "cloud", "log.level", ATTRIBUTES];

/// A field type a template maps and a promotion may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Exact text, for filters and aggregations.
    Keyword,
    /// Analysed text, for full-text search.
    Text,
    /// A 64-bit integer.
    Long,
    /// A 64-bit float.
    Double,
    /// `true` or `false`.
    Boolean,
    /// A date (RFC 3339 text or epoch milliseconds).
    Date,
    /// An IPv4 or IPv6 address.
    Ip,
}

impl FieldType {
    /// The type's name in a mapping.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Keyword => "keyword",
            FieldType::Text => "text",
            FieldType::Long => "long",
            FieldType::Double => "double",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Ip => "ip",
        }
    }

    /// The type named `name`.
    pub fn parse(name: &str) -> Result<FieldType, String> {
        Ok(match name {
            "keyword" => FieldType::Keyword,
            "text" => FieldType::Text,
            "long" => FieldType::Long,
            "double" => FieldType::Double,
            "boolean" => FieldType::Boolean,
            "date" => FieldType::Date,
            "ip" => FieldType::Ip,
            other => return Err(format!("unknown field type {other:?} (keyword, text, long, double, boolean, date or ip)")),
        })
    }
}

/// The search engine the template is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// OpenSearch (Amazon OpenSearch Service included) at `major.minor`.
    OpenSearch {
        /// The major version.
        major: u32,
        /// The minor version.
        minor: u32,
    },
    /// Elasticsearch at `major.minor` (Amazon OpenSearch Service's legacy Elasticsearch 7.x too).
    Elasticsearch {
        /// The major version.
        major: u32,
        /// The minor version.
        minor: u32,
    },
}

impl Flavor {
    /// The type that maps any object as keywords of one field, when the engine has one:
    /// `flat_object` from OpenSearch 2.7, `flattened` from Elasticsearch 7.3.
    pub fn flattened_type(self) -> Option<&'static str> {
        match self {
            Flavor::OpenSearch { major, minor } if (major, minor) >= (2, 7) => Some("flat_object"),
            Flavor::Elasticsearch { major, minor } if (major, minor) >= (7, 3) => Some("flattened"),
            _ => None,
        }
    }
}

/// What `sluicegate setup` puts into the index template.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSpec {
    /// The index pattern, e.g. `cwl-*` ([`index_pattern`]).
    pub pattern: String,
    /// The engine.
    pub flavor: Flavor,
    /// Fields a configuration promotes to typed root fields.
    pub promoted: Vec<(String, FieldType)>,
    /// The Elasticsearch ILM policy to name in the settings (OpenSearch's ISM attaches by pattern).
    pub ilm_policy: Option<String>,
}

/// The index pattern that matches every index `template` makes: each placeholder becomes `*`
/// (`cwl-{yyyy}.{MM}.{dd}` gives `cwl-*`, `logs-{log_group}-{yyyy}` gives `logs-*`).
pub fn index_pattern(template: &str) -> String {
    let mut pattern = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        pattern.push_str(&rest[..open]);
        pattern.push('*');
        rest = rest[open..].find('}').map_or("", |close| &rest[open + close + 1..]);
    }
    pattern.push_str(rest);
    // `cwl-*.*.*` matches what `cwl-*` does; one star after the literal prefix is the pattern
    // people read and other templates are compared against.
    match pattern.find('*') {
        Some(star) => format!("{}*", &pattern[..star]),
        None => pattern,
    }
}

/// The composable index template (`PUT _index_template/NAME`) for `spec`.
pub fn index_template(spec: &TemplateSpec) -> Value {
    let mut properties = Map::new();
    for (path, field_type) in OWNED_FIELDS.iter().map(|(path, field_type)| (*path, *field_type)) {
        insert_path(&mut properties, path, field_mapping(field_type));
    }
    for (path, field_type) in &spec.promoted {
        insert_path(&mut properties, path, field_mapping(*field_type));
    }
    let attributes = match spec.flavor.flattened_type() {
        Some(flattened) => json!({ "type": flattened }),
        // Without a flattened type the object is kept in `_source` but not indexed: it can then
        // never conflict nor fill the field limit, and the message stays searchable.
        None => json!({ "type": "object", "enabled": false }),
    };
    properties.insert(ATTRIBUTES.to_owned(), attributes);
    let mut settings = json!({
        // Logs are read seconds after they arrive, not milliseconds: fewer, larger segments.
        "refresh_interval": "5s",
        // Room for the typed fields and promotions above and for what reaches the root
        // dynamically (fields a transform sets outside `attributes`).
        "mapping": { "total_fields": { "limit": 2000 } },
        "codec": "best_compression",
    });
    if let Some(policy) = &spec.ilm_policy {
        settings["lifecycle"] = json!({ "name": policy });
    }
    json!({
        "index_patterns": [spec.pattern],
        // Above the built-in templates of both engines (100 and below), so these mappings win.
        "priority": 200,
        "template": {
            "settings": { "index": settings },
            "mappings": {
                // Text that reaches the root dynamically is a keyword, not text plus keyword:
                // half the fields, and what log fields are searched with.
                "dynamic_templates": [{
                    "strings_as_keywords": { "match_mapping_type": "string", "mapping": { "type": "keyword", "ignore_above": 1024 } }
                }],
                "properties": properties,
            },
        },
    })
}

fn field_mapping(field_type: FieldType) -> Value {
    match field_type {
        FieldType::Keyword => json!({ "type": "keyword", "ignore_above": 1024 }),
        other => json!({ "type": other.as_str() }),
    }
}

/// Puts `mapping` at the dotted `path` of a `properties` object, making the objects between.
fn insert_path(properties: &mut Map<String, Value>, path: &str, mapping: Value) {
    match path.split_once('.') {
        None => {
            properties.insert(path.to_owned(), mapping);
        }
        Some((head, rest)) => {
            let object = properties.entry(head.to_owned()).or_insert_with(|| json!({ "properties": {} }));
            if object.get("properties").is_none() {
                // A leaf already mapped here (a promotion onto an owned leaf): the leaf wins.
                return;
            }
            if let Some(Value::Object(inner)) = object.get_mut("properties") {
                insert_path(inner, rest, mapping);
            }
        }
    }
}

/// Whether a promotion to `path` would land on a field the engine writes.
pub fn is_engine_field(path: &str) -> bool {
    ENGINE_FIELDS.iter().any(|owned| path == *owned || path.starts_with(&format!("{owned}.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_cover_every_index_a_template_makes() {
        assert_eq!(index_pattern("cwl-{yyyy}.{MM}.{dd}"), "cwl-*");
        assert_eq!(index_pattern("logs-{log_group}-{yyyy}.{MM}"), "logs-*");
        assert_eq!(index_pattern("{log_group}"), "*");
        assert_eq!(index_pattern("fixed"), "fixed");
    }

    #[test]
    fn the_flattened_type_follows_the_engine_and_its_version() {
        let flattened = |flavor: Flavor| flavor.flattened_type();
        assert_eq!(flattened(Flavor::OpenSearch { major: 2, minor: 7 }), Some("flat_object"));
        assert_eq!(flattened(Flavor::OpenSearch { major: 3, minor: 0 }), Some("flat_object"));
        assert_eq!(flattened(Flavor::OpenSearch { major: 2, minor: 5 }), None);
        assert_eq!(flattened(Flavor::Elasticsearch { major: 7, minor: 10 }), Some("flattened"));
        assert_eq!(flattened(Flavor::Elasticsearch { major: 7, minor: 2 }), None);
        assert_eq!(flattened(Flavor::Elasticsearch { major: 8, minor: 0 }), Some("flattened"));
    }

    #[test]
    fn promotions_are_typed_at_the_root_and_never_onto_engine_fields() {
        let spec = TemplateSpec {
            pattern: "cwl-*".to_owned(),
            flavor: Flavor::OpenSearch { major: 2, minor: 11 },
            promoted: vec![("order.total".to_owned(), FieldType::Double), ("http.response.status_code".to_owned(), FieldType::Keyword)],
            ilm_policy: None,
        };
        let template = index_template(&spec);
        let properties = &template["template"]["mappings"]["properties"];
        assert_eq!(properties["order"]["properties"]["total"]["type"], "double");
        // A promotion onto an owned field replaces its type (the user asked for it).
        assert_eq!(properties["http"]["properties"]["response"]["properties"]["status_code"]["type"], "keyword");
        assert_eq!(properties["attributes"]["type"], "flat_object");
        assert_eq!(properties["event"]["properties"]["original"]["type"], "text");
        assert!(template["template"]["settings"]["index"].get("lifecycle").is_none());
        assert!(is_engine_field("message") && is_engine_field("event.id") && is_engine_field("aws.cloudwatch.log_group"));
        assert!(!is_engine_field("aws.lambda.duration_ms") && !is_engine_field("eventual"));
    }
}
