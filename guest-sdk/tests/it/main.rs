//! The SDK's integration tests, in one binary so it links once: the export macros used as an
//! author uses them, run through the native harness.

mod short_forms;
