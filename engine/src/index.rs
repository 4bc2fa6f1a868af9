//! Index names from a template such as `cwl-{yyyy}.{MM}.{dd}` or `logs-{log_group}-{yyyy}.{MM}`.

use std::fmt;

use crate::event::Context;
use crate::time::Civil;

/// The default index template: one index per day of event time.
pub const DEFAULT_INDEX_TEMPLATE: &str = "cwl-{yyyy}.{MM}.{dd}";

/// A parsed index template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexTemplate {
    source: String,
    parts: Vec<Part>,
    uses_log_group: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Year,
    Month,
    Day,
    Hour,
    LogGroup,
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IndexTemplateError {
    /// A `{...}` placeholder that is not known.
    #[error("unknown placeholder {{{name}}} in index template {template:?} (known: yyyy, MM, dd, HH, log_group)")]
    UnknownPlaceholder {
        /// The placeholder's name.
        name: String,
        /// The whole template.
        template: String,
    },
    /// A `{` without its `}`.
    #[error("unclosed '{{' in index template {template:?}")]
    Unclosed {
        /// The whole template.
        template: String,
    },
    /// The literal text cannot be part of an index name.
    #[error("index template {template:?} is not a valid index name: {reason}")]
    Invalid {
        /// The whole template.
        template: String,
        /// What is wrong.
        reason: &'static str,
    },
}

impl IndexTemplate {
    /// Parses a template, checking its placeholders and literal text.
    pub fn parse(template: &str) -> Result<IndexTemplate, IndexTemplateError> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let close = rest[open..].find('}').ok_or_else(|| IndexTemplateError::Unclosed { template: template.to_owned() })? + open;
            parts.push(match &rest[open + 1..close] {
                "yyyy" => Part::Year,
                "MM" => Part::Month,
                "dd" => Part::Day,
                "HH" => Part::Hour,
                "log_group" => Part::LogGroup,
                name => {
                    return Err(IndexTemplateError::UnknownPlaceholder { name: name.to_owned(), template: template.to_owned() });
                }
            });
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        let invalid = |reason| Err(IndexTemplateError::Invalid { template: template.to_owned(), reason });
        if parts.is_empty() {
            return invalid("it is empty");
        }
        for part in &parts {
            if let Part::Text(text) = part {
                if text.chars().any(|c| c.is_ascii_uppercase()) {
                    return invalid("index names must be lowercase");
                }
                if text.chars().any(|c| FORBIDDEN.contains(&c)) {
                    return invalid("it contains one of \\ / * ? \" < > | , # : or a space");
                }
            }
        }
        if let Some(Part::Text(first)) = parts.first()
            && (first.starts_with(['-', '_', '+', '.']))
        {
            return invalid("index names cannot start with -, _, + or .");
        }
        let uses_log_group = parts.contains(&Part::LogGroup);
        Ok(IndexTemplate { source: template.to_owned(), parts, uses_log_group })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the name depends on the log group (and so cannot be cached per day alone).
    pub fn uses_log_group(&self) -> bool {
        self.uses_log_group
    }

    /// The index for an event at `timestamp_ms` in `context`.
    pub fn render(&self, timestamp_ms: i64, context: &Context<'_>) -> String {
        let civil = Civil::from_millis(timestamp_ms);
        let mut out = String::with_capacity(self.source.len() + 16);
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Year => out.push_str(&format!("{:04}", civil.year)),
                Part::Month => out.push_str(&format!("{:02}", civil.month)),
                Part::Day => out.push_str(&format!("{:02}", civil.day)),
                Part::Hour => out.push_str(&format!("{:02}", civil.hour)),
                Part::LogGroup => push_index_safe(&mut out, &context.log_group),
            }
        }
        // Elasticsearch refuses names over 255 bytes.
        while out.len() > 255 {
            out.pop();
        }
        out
    }
}

impl fmt::Display for IndexTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Default for IndexTemplate {
    fn default() -> Self {
        IndexTemplate::parse(DEFAULT_INDEX_TEMPLATE).expect("the default template is valid")
    }
}

const FORBIDDEN: [char; 12] = ['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':'];

/// Checks an index name a transform chose against Elasticsearch's rules (lowercase; not `.`
/// or `..`; no leading `-`, `_` or `+`; none of `\ / * ? " < > | , # :` or a space; at most 255
/// bytes) and, when `allowed` is given, against that pattern (`*` matches any text).
pub fn check_index_name(name: &str, allowed: Option<&str>) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("index {name:?} set by the transform: {why}"));
    if name.is_empty() || name == "." || name == ".." {
        return refuse("not an index name");
    }
    if name.len() > 255 {
        return refuse("longer than 255 bytes");
    }
    if name.starts_with(['-', '_', '+']) {
        return refuse("index names cannot start with -, _ or +");
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return refuse("index names must be lowercase");
    }
    if name.chars().any(|c| FORBIDDEN.contains(&c) || c.is_control()) {
        return refuse("it contains one of \\ / * ? \" < > | , # : or a space");
    }
    if let Some(pattern) = allowed
        && !glob_matches(pattern, name)
    {
        return refuse(&format!("the pipeline allows only indices matching {pattern:?}"));
    }
    Ok(())
}

/// Whether `text` matches `pattern`, where `*` stands for any text.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Appends a log group name made index-safe: lowercase, forbidden characters as `-`, no leading
/// `-` or `_` (`/aws/lambda/Orders` becomes `aws-lambda-orders`).
fn push_index_safe(out: &mut String, log_group: &str) {
    let start = out.len();
    for c in log_group.chars() {
        let c = c.to_ascii_lowercase();
        if FORBIDDEN.contains(&c) || c.is_control() {
            if !out[start..].is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        } else if !(out[start..].is_empty() && matches!(c, '-' | '_' | '+' | '.')) {
            out.push(c);
        }
    }
    while out.len() > start && out.ends_with('-') {
        out.pop();
    }
    if out.len() == start {
        out.push_str("unknown");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_choose_only_valid_allowed_indices() {
        assert_eq!(check_index_name("logs-orders", None), Ok(()));
        assert_eq!(check_index_name("cwl-app", Some("cwl-*")), Ok(()));
        assert_eq!(check_index_name("a-b-c", Some("a*c")), Ok(()));
        let refused = |name: &str, allowed: Option<&str>| check_index_name(name, allowed).unwrap_err();
        assert_eq!(refused("Logs", None), r#"index "Logs" set by the transform: index names must be lowercase"#);
        assert_eq!(refused("..", None), r#"index ".." set by the transform: not an index name"#);
        assert_eq!(refused("_all", None), r#"index "_all" set by the transform: index names cannot start with -, _ or +"#);
        assert!(refused("a b", None).contains("or a space"));
        assert!(refused("a\nb", None).contains("or a space"));
        assert!(refused(&"a".repeat(256), None).contains("longer than 255 bytes"));
        assert_eq!(
            refused("secrets", Some("cwl-*")),
            r#"index "secrets" set by the transform: the pipeline allows only indices matching "cwl-*""#
        );
        assert!(!glob_matches("cwl-*-x", "cwl-x"));
        assert!(glob_matches("*", ""));
    }

    fn context(log_group: &str) -> Context<'_> {
        Context { owner: "1".into(), log_group: log_group.into(), log_stream: "s".into() }
    }

    #[test]
    fn renders_dates_and_log_groups() {
        let at = 1_510_109_208_016; // 2017-11-08T02:46:48.016Z
        assert_eq!(IndexTemplate::default().render(at, &context("x")), "cwl-2017.11.08");
        let template = IndexTemplate::parse("logs-{log_group}-{yyyy}.{MM}.{dd}.{HH}").unwrap();
        assert_eq!(template.render(at, &context("/aws/lambda/Orders API")), "logs-aws-lambda-orders-api-2017.11.08.02");
        assert_eq!(template.render(at, &context("///")), "logs-unknown-2017.11.08.02");
    }

    #[test]
    fn refuses_bad_templates() {
        for (template, expected) in [
            ("cwl-{yyyy", "unclosed"),
            ("cwl-{year}", "unknown placeholder {year}"),
            ("CWL-{yyyy}", "lowercase"),
            ("cwl/{yyyy}", "contains one of"),
            ("_cwl", "cannot start"),
            ("", "empty"),
        ] {
            let error = IndexTemplate::parse(template).unwrap_err().to_string();
            assert!(error.contains(expected), "{template}: {error}");
        }
    }
}
