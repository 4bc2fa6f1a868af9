//! `export_filter!` and `export_map!` in each of their forms (a function or a closure, without or
//! with a typed configuration, answering a value or a `Result`), run through `testing::Harness`.

use expect_test::{Expect, expect};
use sluicegate_sdk::Transform;
use sluicegate_sdk::testing::{Harness, TestEvent, TestOutcome};

/// Configures `T` with `config` and renders what it makes of each message, or the init error.
#[track_caller]
fn check<T: Transform>(config: &str, messages: &[&str], expect: Expect) {
    let rendered = match Harness::<T>::new(config) {
        Err(error) => format!("init failed: {error}\n"),
        Ok(mut harness) => {
            let events: Vec<TestEvent> = messages.iter().map(|message| TestEvent::new(*message)).collect();
            let outcomes = harness.run(&events);
            messages
                .iter()
                .zip(outcomes)
                .map(|(message, outcome)| match outcome {
                    TestOutcome::Kept => format!("{message}: kept\n"),
                    TestOutcome::Dropped => format!("{message}: dropped\n"),
                    TestOutcome::Failed(reason) => format!("{message}: failed: {reason}\n"),
                    TestOutcome::Changed(event) => {
                        format!("{message}: changed to {:?} fields={}\n", event.message, event.fields.as_deref().unwrap_or("none"))
                    }
                })
                .collect()
        }
    };
    expect.assert_eq(&rendered);
}

/// The form that came first: a plain `fn(&Event) -> bool`, any configuration ignored.
mod filter_bool {
    use super::*;

    fn keep(event: &sluicegate_sdk::Event<'_>) -> bool {
        !event.message().contains("healthcheck")
    }

    sluicegate_sdk::export_filter!(keep);

    #[test]
    fn keeps_what_it_answers_true_for() {
        let expect = expect![[r#"
            GET /healthcheck: dropped
            paid: kept
        "#]];
        check::<SluicegateFilter>(r#"{"whatever": [1]}"#, &["GET /healthcheck", "paid"], expect);
    }
}

/// A closure answering a `Result`, its errors from `?`.
mod filter_closure {
    use super::*;

    sluicegate_sdk::export_filter!(|event| {
        let line: sluicegate_sdk::Value = sluicegate_sdk::json::from_str(event.message())?;
        Ok(line["level"] != "debug")
    });

    #[test]
    fn an_error_fails_the_event_with_its_message() {
        let expect = expect![[r#"
            {"level":"debug"}: dropped
            {"level":"info"}: kept
            not json: failed: expected ident at line 1 column 2
        "#]];
        check::<SluicegateFilter>("", &[r#"{"level":"debug"}"#, r#"{"level":"info"}"#, "not json"], expect);
    }
}

/// A typed configuration, read once at start.
mod filter_typed {
    use serde::Deserialize;
    use sluicegate_sdk::{Error, Event};

    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Config {
        drop: String,
        #[serde(default)]
        fail: Option<String>,
    }

    fn keep(config: &Config, event: &Event<'_>) -> Result<bool, Error> {
        if config.fail.as_deref().is_some_and(|fail| event.message().contains(fail)) {
            return Err(Error::msg(format!("refused {:?}", event.message())));
        }
        Ok(!event.message().contains(config.drop.as_str()))
    }

    sluicegate_sdk::export_filter!(keep, config: Config);

    #[test]
    fn the_configuration_decides() {
        let messages = ["a debug line", "an info line", "a secret line"];
        check::<SluicegateFilter>(
            r#"{"drop": "debug", "fail": "secret"}"#,
            &messages,
            expect![[r#"
                a debug line: dropped
                an info line: kept
                a secret line: failed: refused "a secret line"
            "#]],
        );
        check::<SluicegateFilter>(
            r#"{"drop": "info"}"#,
            &messages,
            expect![[r#"
                a debug line: kept
                an info line: dropped
                a secret line: kept
            "#]],
        );
    }

    #[test]
    fn a_configuration_that_does_not_read_stops_the_start_naming_the_problem() {
        check::<SluicegateFilter>(
            r#"{"drop": 5}"#,
            &[],
            expect![[r#"
                init failed: bad configuration: invalid type: integer `5`, expected a string at line 1 column 10
            "#]],
        );
        check::<SluicegateFilter>(
            r#"{"drop": "x", "dorp": "y"}"#,
            &[],
            expect![[r#"
                init failed: bad configuration: unknown field `dorp`, expected `drop` or `fail` at line 1 column 20
            "#]],
        );
        check::<SluicegateFilter>(
            r#"{"drop": "x""#,
            &[],
            expect![[r#"
            init failed: bad configuration: EOF while parsing an object at line 1 column 12
        "#]],
        );
        // No configuration at all: the missing field is named, without a position in text the
        // author never wrote.
        for absent in ["", "  ", "null"] {
            check::<SluicegateFilter>(
                absent,
                &[],
                expect![[r#"
                    init failed: bad configuration: missing field `drop` (the transform got no configuration)
                "#]],
            );
        }
    }
}

/// A configuration whose every field has a default needs none.
mod map_typed_defaults {
    use serde::Deserialize;
    use sluicegate_sdk::Event;

    use super::*;

    #[derive(Deserialize)]
    pub struct Config {
        #[serde(default = "unknown")]
        team: String,
    }

    fn unknown() -> String {
        "unknown".to_owned()
    }

    fn tag(config: &Config, event: &mut Event<'_>) {
        event.set_field("team", config.team.as_str());
    }

    sluicegate_sdk::export_map!(tag, config: Config);

    #[test]
    fn every_event_is_changed() {
        check::<SluicegateMap>(
            "",
            &["paid"],
            expect![[r#"
                paid: changed to "paid" fields={"team":"unknown"}
            "#]],
        );
        check::<SluicegateMap>(
            r#"{"team": "payments"}"#,
            &["paid"],
            expect![[r#"
                paid: changed to "paid" fields={"team":"payments"}
            "#]],
        );
    }
}

/// A map that fails some events and panics on others.
mod map_result {
    use sluicegate_sdk::{Error, Event};

    use super::*;

    fn change(event: &mut Event<'_>) -> Result<(), Error> {
        if event.message().is_empty() {
            return Err(Error::msg("empty line"));
        }
        if event.message() == "boom" {
            panic!("boom");
        }
        let upper = event.message().to_uppercase();
        event.set_message(upper);
        Ok(())
    }

    sluicegate_sdk::export_map!(change);

    #[test]
    fn errors_and_panics_fail_only_their_event() {
        check::<SluicegateMap>(
            "",
            &["paid", "", "boom", "ok"],
            expect![[r#"
                paid: changed to "PAID" fields=none
                : failed: empty line
                boom: failed: panicked: boom
                ok: changed to "OK" fields=none
            "#]],
        );
    }
}
