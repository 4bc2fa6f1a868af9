//! `promote`: chosen fields moved out of a line's parsed fields to typed root fields of the same
//! path, their values converted to the type `sluicegate setup` maps them with.

use sluicegate_sdk::{Error, Value};

use crate::fields::Target;

/// One field to promote.
#[derive(Debug)]
pub(crate) struct Promotion {
    /// The path's keys, inside the parsed fields and, after the move, from the root.
    pub(crate) parts: Vec<String>,
    pub(crate) field_type: FieldType,
}

/// A type a promoted field is converted to: the names and types of `sluicegate setup`'s
/// mappings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Keyword,
    Text,
    Long,
    Double,
    Boolean,
    Date,
    Ip,
}

const TYPE_NAMES: &str = "keyword, text, long, double, boolean, date or ip";

/// The fields only the engine writes (the template's `ENGINE_FIELDS`, engine/src/mapping.rs):
/// a promotion onto one, or into one, would fight the engine or the flattened object.
pub(crate) const ENGINE_FIELDS: [&str; 7] = ["@timestamp", "message", "event", "aws.cloudwatch", "cloud", "log.level", "attributes"];

impl FieldType {
    fn parse(name: &str) -> Option<FieldType> {
        Some(match name {
            "keyword" => FieldType::Keyword,
            "text" => FieldType::Text,
            "long" => FieldType::Long,
            "double" => FieldType::Double,
            "boolean" => FieldType::Boolean,
            "date" => FieldType::Date,
            "ip" => FieldType::Ip,
            _ => return None,
        })
    }

    /// `value` as this type, or `None` when it is not one: then it stays where it was.
    pub(crate) fn convert(self, value: &Value) -> Option<Value> {
        match (self, value) {
            (FieldType::Keyword | FieldType::Text, Value::String(_)) => Some(value.clone()),
            (FieldType::Keyword | FieldType::Text, Value::Number(number)) => Some(Value::String(number.to_string())),
            (FieldType::Keyword | FieldType::Text, Value::Bool(boolean)) => Some(Value::String(boolean.to_string())),
            (FieldType::Long, Value::Number(number)) => match number.as_i64() {
                Some(integer) => Some(Value::from(integer)),
                // An integer written with a fraction (`5.0`); not one beyond a long's range.
                None => number
                    .as_f64()
                    .filter(|float| float.fract() == 0.0 && (-9.2e18..9.2e18).contains(float))
                    .map(|float| Value::from(float as i64)),
            },
            (FieldType::Long, Value::String(text)) => text.parse::<i64>().ok().map(Value::from),
            (FieldType::Double, Value::Number(_)) => Some(value.clone()),
            // `inf` and `NaN` parse, but are no JSON number.
            (FieldType::Double, Value::String(text)) => text.parse::<f64>().ok().filter(|float| float.is_finite()).map(Value::from),
            (FieldType::Boolean, Value::Bool(_)) => Some(value.clone()),
            (FieldType::Boolean, Value::String(text)) => match text.as_str() {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            (FieldType::Date, Value::Number(_)) => Some(value.clone()),
            (FieldType::Date, Value::String(text)) => is_index_date(text).then(|| value.clone()),
            (FieldType::Ip, Value::String(text)) => text.parse::<std::net::IpAddr>().is_ok().then(|| value.clone()),
            _ => None,
        }
    }
}

/// Whether `text` is RFC 3339 the way a date field's default format reads it: a `T` between
/// date and time, an upper-case `Z`, no leap second and at most nanoseconds (the text forms
/// RFC 3339 also allows would be refused with the whole document).
fn is_index_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let fraction_digits = match bytes.get(19) {
        Some(b'.') => bytes[20..].iter().take_while(|byte| byte.is_ascii_digit()).count(),
        _ => 0,
    };
    crate::parse_rfc3339(text).is_some() && bytes[10] == b'T' && !text.ends_with('z') && &bytes[17..19] != b"60" && fraction_digits <= 9
}

/// The promotions a configuration's `promote` object asks for, checked: type names known, paths
/// well formed, none onto a field the engine writes, none inside another, and none onto or
/// around the object a parser's fields go to (`targets`, with the parser's name).
pub(crate) fn promotions(config: Value, targets: &[(&str, &Target)]) -> Result<Vec<Promotion>, Error> {
    let Value::Object(config) = config else {
        return Err(Error::msg(format!("promote: an object of field paths and type names, not {config}")));
    };
    let mut promotions: Vec<(String, Promotion)> = Vec::new();
    for (path, type_name) in config {
        let field_type = match &type_name {
            Value::String(name) => {
                FieldType::parse(name).ok_or_else(|| Error::msg(format!("promote.{path}: unknown field type {name:?} ({TYPE_NAMES})")))?
            }
            other => return Err(Error::msg(format!("promote.{path}: {other} is not a type name ({TYPE_NAMES})"))),
        };
        let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
        if parts.iter().any(String::is_empty) {
            return Err(Error::msg(format!("promote.{path}: not a field path (keys joined by single dots)")));
        }
        if ENGINE_FIELDS.iter().any(|owned| path == *owned || path.strip_prefix(owned).is_some_and(|rest| rest.starts_with('.'))) {
            return Err(Error::msg(format!("promote.{path} would replace a field the engine writes")));
        }
        for (parser, target) in targets {
            let target_parts = target.parts();
            if !target.is_root() && (parts.starts_with(target_parts) || target_parts.starts_with(&parts)) {
                return Err(Error::msg(format!(
                    "promote.{path} would land in or on {}, where the {parser} fields go",
                    target_parts.join(".")
                )));
            }
        }
        promotions.push((path, Promotion { parts, field_type }));
    }
    for (path, promotion) in &promotions {
        if let Some((outer, _)) =
            promotions.iter().find(|(other, other_promotion)| other != path && promotion.parts.starts_with(&other_promotion.parts))
        {
            return Err(Error::msg(format!("promote.{path} is inside promote.{outer}")));
        }
    }
    Ok(promotions.into_iter().map(|(_, promotion)| promotion).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_convert_to_their_types_or_stay() {
        let cases: [(FieldType, &str, Option<&str>); 30] = [
            (FieldType::Keyword, r#""gold""#, Some(r#""gold""#)),
            (FieldType::Keyword, "12", Some(r#""12""#)),
            (FieldType::Text, "1.5", Some(r#""1.5""#)),
            (FieldType::Keyword, "true", Some(r#""true""#)),
            (FieldType::Keyword, "null", None),
            (FieldType::Keyword, r#"{"a":1}"#, None),
            (FieldType::Keyword, r#"["a"]"#, None),
            (FieldType::Long, "12", Some("12")),
            (FieldType::Long, "-3", Some("-3")),
            (FieldType::Long, "5.0", Some("5")),
            (FieldType::Long, "5.5", None),
            (FieldType::Long, "18446744073709551615", None),
            (FieldType::Long, r#""42""#, Some("42")),
            (FieldType::Long, r#""4.2""#, None),
            (FieldType::Long, r#""x""#, None),
            (FieldType::Double, "12", Some("12")),
            (FieldType::Double, r#""12.5""#, Some("12.5")),
            (FieldType::Double, r#""inf""#, None),
            (FieldType::Double, r#""NaN""#, None),
            (FieldType::Double, "true", None),
            (FieldType::Boolean, "true", Some("true")),
            (FieldType::Boolean, r#""false""#, Some("false")),
            (FieldType::Boolean, r#""yes""#, None),
            (FieldType::Boolean, "1", None),
            (FieldType::Date, r#""2025-11-28T10:00:00.123Z""#, Some(r#""2025-11-28T10:00:00.123Z""#)),
            (FieldType::Date, r#""2025-11-28 10:00:00Z""#, None),
            (FieldType::Date, "1764324000000", Some("1764324000000")),
            (FieldType::Date, r#""yesterday""#, None),
            (FieldType::Ip, r#""10.0.0.1""#, Some(r#""10.0.0.1""#)),
            (FieldType::Ip, r#""10.0.0.256""#, None),
        ];
        for (field_type, value, expected) in cases {
            let converted = field_type.convert(&serde_json::from_str(value).unwrap()).map(|value| value.to_string());
            assert_eq!(converted.as_deref(), expected, "{field_type:?} {value}");
        }
        assert_eq!(FieldType::Ip.convert(&Value::from("2001:db8::1")), Some(Value::from("2001:db8::1")));
    }

    #[test]
    fn configurations_are_checked_naming_the_key() {
        let attributes = Target::new("attributes");
        let app = Target::new("app.fields");
        let targets = [("json", &attributes), ("logfmt", &app)];
        let check = |config: &str| {
            promotions(serde_json::from_str(config).unwrap(), &targets).map(|found| found.len()).map_err(|error| error.to_string())
        };
        assert_eq!(check(r#"{"order.total":"double","tier":"keyword"}"#), Ok(2));
        assert_eq!(
            check(r#"{"tier":"integer"}"#),
            Err(r#"promote.tier: unknown field type "integer" (keyword, text, long, double, boolean, date or ip)"#.to_owned())
        );
        assert_eq!(
            check(r#"{"tier":3}"#),
            Err("promote.tier: 3 is not a type name (keyword, text, long, double, boolean, date or ip)".to_owned())
        );
        for engine_field in
            ["@timestamp", "message", "event", "event.id", "aws.cloudwatch.log_group", "cloud.account.id", "log.level", "attributes.x"]
        {
            assert_eq!(
                check(&format!(r#"{{"{engine_field}":"keyword"}}"#)),
                Err(format!("promote.{engine_field} would replace a field the engine writes"))
            );
        }
        // Next to the engine's fields, not on them.
        assert_eq!(check(r#"{"aws.lambda.x":"long","log.origin":"keyword","messages":"long","events":"long"}"#), Ok(4));
        assert_eq!(check(r#"{"a..b":"long"}"#), Err("promote.a..b: not a field path (keys joined by single dots)".to_owned()));
        assert_eq!(check(r#"{"order":"keyword","order.total":"long"}"#), Err("promote.order.total is inside promote.order".to_owned()));
        assert_eq!(check(r#"{"app":"keyword"}"#), Err("promote.app would land in or on app.fields, where the logfmt fields go".to_owned()));
        assert_eq!(
            check(r#"{"app.fields.x":"keyword"}"#),
            Err("promote.app.fields.x would land in or on app.fields, where the logfmt fields go".to_owned())
        );
    }
}
