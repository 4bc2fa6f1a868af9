//! The macros that export a transform from a `cdylib`.

/// Exports a [`Transform`](crate::Transform) as this module's transform.
///
/// Use it once, at the root of a `cdylib` crate built for `wasm32-unknown-unknown`. On other
/// targets it expands to nothing, so the crate's native unit tests still build.
///
/// ```
/// use sluicegate_sdk::{Error, Event, NoConfig, Transform, Verdict};
///
/// struct Upper;
///
/// impl Transform for Upper {
///     type Config = NoConfig;
///     fn new(_config: NoConfig) -> Result<Self, Error> {
///         Ok(Upper)
///     }
///     fn process(&mut self, event: &mut Event<'_>) -> Result<Verdict, Error> {
///         let upper = event.message().to_uppercase();
///         event.set_message(upper);
///         Ok(Verdict::Keep)
///     }
/// }
///
/// sluicegate_sdk::export!(Upper);
/// ```
#[macro_export]
macro_rules! export {
    ($transform:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[unsafe(no_mangle)]
            pub extern "C" fn sluicegate_abi_v1() -> i32 {
                $crate::__private::abi_version()
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn sluicegate_buffer(len: i32) -> i32 {
                $crate::__private::buffer(len)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn sluicegate_init(len: i32) -> i64 {
                $crate::__private::init::<$transform>(len)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn sluicegate_process(len: i32) -> i64 {
                $crate::__private::process(len)
            }
        };
    };
}

/// Exports a filter written as one function or closure that answers `true` to keep the event and
/// `false` to drop it.
///
/// | form | the function |
/// |---|---|
/// | `export_filter!(keep)` | `fn(&Event) -> bool` or `fn(&Event) -> Result<bool, Error>` |
/// | `export_filter!(keep, config: Config)` | `fn(&Config, &Event) -> bool` or `... -> Result<bool, Error>` |
///
/// An `Err` fails the event with the error's message (the pipeline applies the transform's
/// `on_error` policy); `?` turns any [`std::error::Error`] into one. With `config: Config`, the
/// transform's `config` in the pipeline file is read into `Config` (any public
/// [`serde::Deserialize`] type) once, when the module starts; a configuration that does not read
/// stops the pipeline from starting, with serde's words for what is wrong. Without it, any
/// configuration is accepted and ignored.
///
/// The macro exports a type named `SluicegateFilter` that [`testing::Harness`](crate::testing::Harness)
/// can run. A check that must run once at start beyond what serde checks, or state kept between
/// events, wants a [`Transform`](crate::Transform) and [`export!`](crate::export).
///
/// ```
/// fn keep(event: &sluicegate_sdk::Event<'_>) -> bool {
///     !event.message().contains("healthcheck")
/// }
///
/// sluicegate_sdk::export_filter!(keep);
/// ```
///
/// With a configuration, and failing the events it cannot judge:
///
/// ```
/// use serde::Deserialize;
/// use sluicegate_sdk::{Error, Event, Value, json};
///
/// #[derive(Deserialize)]
/// pub struct Config {
///     /// The lowest HTTP status kept.
///     min_status: u64,
/// }
///
/// fn keep(config: &Config, event: &Event<'_>) -> Result<bool, Error> {
///     let line: Value = json::from_str(event.message())?;
///     let status = line["status"].as_u64().ok_or_else(|| Error::msg("no status"))?;
///     Ok(status >= config.min_status)
/// }
///
/// sluicegate_sdk::export_filter!(keep, config: Config);
///
/// use sluicegate_sdk::testing::{Harness, TestEvent, TestOutcome};
///
/// let mut harness = Harness::<SluicegateFilter>::new(r#"{"min_status": 500}"#).unwrap();
/// assert_eq!(harness.run_one(TestEvent::new(r#"{"status": 503}"#)), TestOutcome::Kept);
/// assert_eq!(harness.run_one(TestEvent::new(r#"{"status": 200}"#)), TestOutcome::Dropped);
/// assert_eq!(harness.run_one(TestEvent::new(r#"{"path": "/"}"#)), TestOutcome::Failed("no status".into()));
/// assert_eq!(
///     Harness::<SluicegateFilter>::new(r#"{"min_status": "500"}"#).unwrap_err().message(),
///     r#"bad configuration: invalid type: string "500", expected u64 at line 1 column 20"#
/// );
/// ```
///
/// A closure works too: `export_filter!(|event| !event.message().is_empty())`. Anything else is
/// a compile error that shows both forms:
///
/// ```compile_fail
/// fn keep(_event: &sluicegate_sdk::Event<'_>) -> bool {
///     true
/// }
///
/// sluicegate_sdk::export_filter!(keep, Config);
/// ```
#[macro_export]
macro_rules! export_filter {
    ($keep:expr, config: $config:ty $(,)?) => {
        $crate::__export_function!(SluicegateFilter, "The filter exported by this module.", filter_with, $config, $keep);
    };
    ($keep:expr $(,)?) => {
        $crate::__export_function!(SluicegateFilter, "The filter exported by this module.", filter, $crate::NoConfig, $keep);
    };
    ($($other:tt)*) => {
        ::core::compile_error!("export_filter! takes a function or closure, optionally followed by `, config: Type`: `export_filter!(keep)` or `export_filter!(keep, config: Config)`");
    };
}

/// Exports a transform written as one function or closure that changes each event; every event is
/// kept, with its changes, unless the function fails it.
///
/// | form | the function |
/// |---|---|
/// | `export_map!(change)` | `fn(&mut Event) -> Result<(), Error>` or `fn(&mut Event)` |
/// | `export_map!(change, config: Config)` | `fn(&Config, &mut Event) -> Result<(), Error>` or `fn(&Config, &mut Event)` |
///
/// Errors and the configuration work as in [`export_filter!`](crate::export_filter). The macro
/// exports a type named `SluicegateMap` that [`testing::Harness`](crate::testing::Harness) can
/// run.
///
/// ```
/// fn tag(event: &mut sluicegate_sdk::Event<'_>) -> Result<(), sluicegate_sdk::Error> {
///     event.set_field("team", "payments");
///     Ok(())
/// }
///
/// sluicegate_sdk::export_map!(tag);
/// ```
///
/// With a configuration:
///
/// ```
/// use serde::Deserialize;
/// use sluicegate_sdk::Event;
///
/// #[derive(Deserialize)]
/// pub struct Config {
///     team: String,
/// }
///
/// sluicegate_sdk::export_map!(|config: &Config, event: &mut Event<'_>| event.set_field("team", config.team.as_str()), config: Config);
///
/// use sluicegate_sdk::testing::{Harness, TestEvent, TestOutcome};
///
/// let mut harness = Harness::<SluicegateMap>::new(r#"{"team": "payments"}"#).unwrap();
/// let TestOutcome::Changed(event) = harness.run_one(TestEvent::new("paid")) else { panic!("expected a change") };
/// assert_eq!(event.fields.as_deref(), Some(r#"{"team":"payments"}"#));
/// assert_eq!(
///     Harness::<SluicegateMap>::new("").unwrap_err().message(),
///     "bad configuration: missing field `team` (the transform got no configuration)"
/// );
/// ```
#[macro_export]
macro_rules! export_map {
    ($change:expr, config: $config:ty $(,)?) => {
        $crate::__export_function!(SluicegateMap, "The transform exported by this module.", map_with, $config, $change);
    };
    ($change:expr $(,)?) => {
        $crate::__export_function!(SluicegateMap, "The transform exported by this module.", map, $crate::NoConfig, $change);
    };
    ($($other:tt)*) => {
        ::core::compile_error!("export_map! takes a function or closure, optionally followed by `, config: Type`: `export_map!(change)` or `export_map!(change, config: Config)`");
    };
}

/// What the short forms expand to: a transform type `$name` holding its configuration, whose
/// `process` hands the configuration, the event and the author's function to `__private::$run`.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_function {
    ($name:ident, $doc:literal, $run:ident, $config:ty, $function:expr) => {
        #[doc = $doc]
        pub struct $name {
            config: $config,
        }

        impl $crate::Transform for $name {
            type Config = $config;

            fn new(config: $config) -> ::core::result::Result<Self, $crate::Error> {
                Ok($name { config })
            }

            fn process(&mut self, event: &mut $crate::Event<'_>) -> ::core::result::Result<$crate::Verdict, $crate::Error> {
                $crate::__private::$run(&self.config, event, $function)
            }
        }

        $crate::export!($name);
    };
}
