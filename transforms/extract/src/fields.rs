//! Where extract's fields go and how they join the event's: targets, paths, and the merge that
//! keeps what is already there.

use sluicegate_sdk::{Map, Value};

/// Where a parser's fields go: the root of the event's fields, or the object at a dotted path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The path's keys; none for the root.
    parts: Vec<String>,
    /// What comes before the fields' object text when they are written as text: `{"a":{"b":`
    /// for `a.b`, nothing for the root.
    open: String,
}

/// The root, for the parsers whose fields have fixed places there.
pub(crate) static ROOT: Target = Target { parts: Vec::new(), open: String::new() };

impl Target {
    /// The target named in a configuration: `""` is the root, anything else a dotted path.
    pub(crate) fn new(path: &str) -> Target {
        if path.is_empty() {
            return ROOT.clone();
        }
        let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
        let mut open = String::new();
        for part in &parts {
            open.push('{');
            sluicegate_abi::json_text::push_str(&mut open, part);
            open.push(':');
        }
        Target { parts, open }
    }

    pub(crate) fn parts(&self) -> &[String] {
        &self.parts
    }

    pub(crate) fn is_root(&self) -> bool {
        self.parts.is_empty()
    }

    /// The text that opens the objects around the fields (see [`Target::close`]).
    pub(crate) fn open(&self) -> &str {
        &self.open
    }

    /// Appends what closes the objects [`Target::open`] opened; `but_one` leaves the outermost
    /// open, for another member after it.
    pub(crate) fn close(&self, out: &mut String, but_one: bool) {
        for _ in usize::from(but_one)..self.parts.len() {
            out.push('}');
        }
    }
}

/// Merges `src` into `dest`: keys `dest` lacks are added and objects on both sides are merged key
/// by key; on any other clash (two values, or an object and a value) `dest` keeps what it has,
/// unless `src_wins`.
pub(crate) fn merge(dest: &mut Map<String, Value>, src: Map<String, Value>, src_wins: bool) {
    for (key, value) in src {
        match dest.get_mut(&key) {
            None => {
                dest.insert(key, value);
            }
            Some(Value::Object(inner)) if value.is_object() => {
                let Value::Object(value) = value else { unreachable!("checked above") };
                merge(inner, value, src_wins);
            }
            Some(existing) => {
                if src_wins {
                    *existing = value;
                }
            }
        }
    }
}

/// Merges `value` into `dest` at the path `parts` (at least one), as [`merge`] does.
pub(crate) fn merge_at(dest: &mut Map<String, Value>, parts: &[String], value: Value, src_wins: bool) {
    let mut wrapped = value;
    for part in parts.iter().rev() {
        let mut object = Map::new();
        object.insert(part.clone(), wrapped);
        wrapped = Value::Object(object);
    }
    if let Value::Object(object) = wrapped {
        merge(dest, object, src_wins);
    }
}

/// The value at the path `parts` (at least one) in `fields`.
pub(crate) fn get<'v>(fields: &'v Map<String, Value>, parts: &[String]) -> Option<&'v Value> {
    let (first, rest) = parts.split_first()?;
    let mut value = fields.get(first)?;
    for part in rest {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// Whether a write at the path `parts` (at least one) would replace something in `fields`: a
/// value there, or a value that is not an object on the way.
pub(crate) fn occupied(fields: &Map<String, Value>, parts: &[String]) -> bool {
    let Some((last, parents)) = parts.split_last() else { return true };
    let mut object = fields;
    for part in parents {
        match object.get(part) {
            None => return false,
            Some(Value::Object(inner)) => object = inner,
            Some(_) => return true,
        }
    }
    object.contains_key(last)
}

/// Removes the value at the path `parts` (at least one) from `fields`, and the objects on the way
/// that it leaves empty.
pub(crate) fn take(fields: &mut Map<String, Value>, parts: &[String]) -> Option<Value> {
    let (first, rest) = parts.split_first()?;
    if rest.is_empty() {
        return fields.remove(first);
    }
    let inner = fields.get_mut(first)?.as_object_mut()?;
    let taken = take(inner, rest)?;
    if inner.is_empty() {
        fields.remove(first);
    }
    Some(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap()
    }

    fn parts(path: &str) -> Vec<String> {
        path.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn merges_keep_what_is_there_unless_told() {
        let existing = r#"{"service":"a","attributes":{"team":"x"},"user":"bob","n":1}"#;
        let new = r#"{"service":"b","attributes":{"team":"y","id":2},"user":{"name":"eve"},"m":2}"#;
        let mut kept = map(existing);
        merge(&mut kept, map(new), false);
        assert_eq!(Value::Object(kept).to_string(), r#"{"attributes":{"id":2,"team":"x"},"m":2,"n":1,"service":"a","user":"bob"}"#);
        let mut replaced = map(existing);
        merge(&mut replaced, map(new), true);
        assert_eq!(
            Value::Object(replaced).to_string(),
            r#"{"attributes":{"id":2,"team":"y"},"m":2,"n":1,"service":"b","user":{"name":"eve"}}"#
        );
    }

    #[test]
    fn paths_are_found_taken_and_seen_as_occupied() {
        let mut fields = map(r#"{"order":{"total":5,"id":"a"},"tier":"gold","user":"bob","only":{"one":1}}"#);
        assert_eq!(get(&fields, &parts("order.total")), Some(&Value::from(5)));
        assert_eq!(get(&fields, &parts("user.name")), None);
        assert!(occupied(&fields, &parts("user.name")) && occupied(&fields, &parts("tier")) && occupied(&fields, &parts("order")));
        assert!(!occupied(&fields, &parts("order.count")) && !occupied(&fields, &parts("new.path")));
        assert_eq!(take(&mut fields, &parts("order.total")), Some(Value::from(5)));
        assert_eq!(take(&mut fields, &parts("only.one")), Some(Value::from(1)));
        assert_eq!(take(&mut fields, &parts("user.name")), None);
        assert_eq!(Value::Object(fields).to_string(), r#"{"order":{"id":"a"},"tier":"gold","user":"bob"}"#);
    }

    #[test]
    fn targets_open_and_close_their_objects() {
        for (path, open, closed) in
            [("", "", "{}"), ("attributes", r#"{"attributes":"#, r#"{"attributes":{}}"#), ("a.b", r#"{"a":{"b":"#, r#"{"a":{"b":{}}}"#)]
        {
            let target = Target::new(path);
            assert_eq!(target.open(), open);
            let mut text = target.open().to_owned() + "{}";
            target.close(&mut text, false);
            assert_eq!(text, closed);
            assert_eq!(target.is_root(), path.is_empty());
        }
    }
}
