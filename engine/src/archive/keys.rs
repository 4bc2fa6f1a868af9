//! Hive-style object keys: `{prefix}/year=YYYY/month=MM/day=DD/hour=HH/{shard}-{first seq}{suffix}.ndjson.gz`.
//!
//! The time is the first record's arrival in the stream, not the clock at run time, so a retried
//! batch writes the same key again instead of a second copy.

use crate::time::Civil;

/// The key of an object for the batch that starts with `first_sequence_number` on `shard_id`.
pub fn object_key(prefix: &str, arrival_ms: i64, shard_id: &str, first_sequence_number: &str, suffix: &str) -> String {
    let at = Civil::from_millis(arrival_ms);
    let shard_id = key_safe(shard_id);
    let first_sequence_number = key_safe(first_sequence_number);
    let prefix = prefix.trim_end_matches('/');
    let separator = if prefix.is_empty() { "" } else { "/" };
    format!(
        "{prefix}{separator}year={:04}/month={:02}/day={:02}/hour={:02}/{shard_id}-{first_sequence_number}{suffix}.ndjson.gz",
        at.year, at.month, at.day, at.hour
    )
}

/// Keeps a key part to letters, digits, `-` and `_`: shard ids and sequence numbers come from
/// the event, and a crafted one must not climb out of a folder (`../`) on the command line.
fn key_safe(part: &str) -> String {
    let safe: String = part.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if safe.is_empty() { "unknown".to_owned() } else { safe }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_hive_partitioned_by_arrival_hour() {
        assert_eq!(
            super::object_key("archive/", 1_510_109_208_016, "shardId-000000000001", "4959", ""),
            "archive/year=2017/month=11/day=08/hour=02/shardId-000000000001-4959.ndjson.gz"
        );
        assert_eq!(super::object_key("", 0, "s", "1", "-bulk"), "year=1970/month=01/day=01/hour=00/s-1-bulk.ndjson.gz");
        // Regression: a crafted shard id must not become a path that leaves the folder.
        assert_eq!(super::object_key("a", 0, "../../etc", "", ""), "a/year=1970/month=01/day=01/hour=00/______etc-unknown.ndjson.gz");
    }
}
