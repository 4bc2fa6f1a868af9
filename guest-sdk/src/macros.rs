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

/// Exports a filter written as one function: `fn(&Event) -> bool`, `true` keeps the event.
///
/// ```
/// fn keep(event: &sluicegate_sdk::Event<'_>) -> bool {
///     !event.message().contains("healthcheck")
/// }
///
/// sluicegate_sdk::export_filter!(keep);
/// ```
#[macro_export]
macro_rules! export_filter {
    ($keep:path) => {
        /// The filter exported by this module.
        pub struct SluicegateFilter;

        impl $crate::Transform for SluicegateFilter {
            type Config = $crate::NoConfig;

            fn new(_config: $crate::NoConfig) -> ::core::result::Result<Self, $crate::Error> {
                Ok(SluicegateFilter)
            }

            fn process(&mut self, event: &mut $crate::Event<'_>) -> ::core::result::Result<$crate::Verdict, $crate::Error> {
                Ok(if $keep(event) { $crate::Verdict::Keep } else { $crate::Verdict::Drop })
            }
        }

        $crate::export!(SluicegateFilter);
    };
}

/// Exports a transform written as one function that changes each event:
/// `fn(&mut Event) -> Result<(), Error>`; every event is kept unless it fails.
///
/// ```
/// fn tag(event: &mut sluicegate_sdk::Event<'_>) -> Result<(), sluicegate_sdk::Error> {
///     event.set_field("team", "payments");
///     Ok(())
/// }
///
/// sluicegate_sdk::export_map!(tag);
/// ```
#[macro_export]
macro_rules! export_map {
    ($change:path) => {
        /// The transform exported by this module.
        pub struct SluicegateMap;

        impl $crate::Transform for SluicegateMap {
            type Config = $crate::NoConfig;

            fn new(_config: $crate::NoConfig) -> ::core::result::Result<Self, $crate::Error> {
                Ok(SluicegateMap)
            }

            fn process(&mut self, event: &mut $crate::Event<'_>) -> ::core::result::Result<$crate::Verdict, $crate::Error> {
                $change(event)?;
                Ok($crate::Verdict::Keep)
            }
        }

        $crate::export!(SluicegateMap);
    };
}
