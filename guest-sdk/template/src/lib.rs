//! A Sluicegate transform: drops noisy events and tags the rest with a team.
//!
//! A transform that only keeps or drops events, or only changes them, can be one function:
//! `sluicegate_sdk::export_filter!(keep, config: Config)` with
//! `fn keep(config: &Config, event: &Event) -> Result<bool, Error>`, or `export_map!` likewise
//! (the SDK's README shows both).

use serde::Deserialize;
use sluicegate_sdk::{Error, Event, Transform, Verdict};

/// The transform; one per Wasm instance, made from the configuration.
pub struct MyTransform {
    team: String,
    noise: Vec<String>,
}

/// The `config` of this transform in the pipeline file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    team: String,
    #[serde(default)]
    noise: Vec<String>,
}

impl Transform for MyTransform {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        Ok(MyTransform { team: config.team, noise: config.noise })
    }

    fn process(&mut self, event: &mut Event<'_>) -> Result<Verdict, Error> {
        if self.noise.iter().any(|noise| event.message().contains(noise.as_str())) {
            return Ok(Verdict::Drop);
        }
        event.set_field("team", self.team.as_str());
        Ok(Verdict::Keep)
    }
}

sluicegate_sdk::export!(MyTransform);

#[cfg(test)]
mod tests {
    use super::*;
    use sluicegate_sdk::testing::{Harness, TestEvent, TestOutcome};

    #[test]
    fn drops_noise_and_tags_the_rest() {
        let mut harness = Harness::<MyTransform>::new(r#"{"team": "payments", "noise": ["GET /healthz"]}"#).unwrap();
        assert_eq!(harness.run_one(TestEvent::new("GET /healthz 200")), TestOutcome::Dropped);
        let TestOutcome::Changed(event) = harness.run_one(TestEvent::new("paid")) else { panic!("expected a change") };
        assert_eq!(event.field("team"), Some("payments".into()));
    }
}
