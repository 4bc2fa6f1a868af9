//! A filter written with the SDK's short form, `export_filter!` with a typed configuration, so
//! that the host's tests run what that form expands to in Wasm: the configuration read at `init`
//! (and refused there when it does not read), and a `Result` that keeps, drops or fails each event.
//!
//! It drops events whose message contains `drop`; with `require` set, it fails events whose
//! message lacks that text.

use serde::Deserialize;
use sluicegate_sdk::{Error, Event};

/// The filter's configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    drop: String,
    #[serde(default)]
    require: Option<String>,
}

fn keep(config: &Config, event: &Event<'_>) -> Result<bool, Error> {
    if let Some(required) = &config.require
        && !event.message().contains(required.as_str())
    {
        return Err(Error::msg(format!("no {required:?} in the message")));
    }
    Ok(!event.message().contains(config.drop.as_str()))
}

sluicegate_sdk::export_filter!(keep, config: Config);

#[cfg(test)]
mod tests {
    use super::*;
    use sluicegate_sdk::testing::{Harness, TestEvent, TestOutcome};

    #[test]
    fn keeps_drops_and_fails() {
        let mut harness = Harness::<SluicegateFilter>::new(r#"{"drop": "debug", "require": "level="}"#).unwrap();
        assert_eq!(harness.run_one(TestEvent::new("level=info paid")), TestOutcome::Kept);
        assert_eq!(harness.run_one(TestEvent::new("level=debug paid")), TestOutcome::Dropped);
        assert_eq!(harness.run_one(TestEvent::new("paid")), TestOutcome::Failed(r#"no "level=" in the message"#.to_owned()));
    }
}
