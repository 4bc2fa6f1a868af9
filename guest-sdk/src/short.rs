//! What the short forms [`export_filter!`](crate::export_filter) and
//! [`export_map!`](crate::export_map) expand to: the author's function called with the event (and
//! the configuration, when there is one), its answer turned into a verdict.

use crate::{Error, Event, NoConfig, Verdict};

/// What a short form's function may answer: the value alone, or a `Result` whose error fails the
/// event.
#[diagnostic::on_unimplemented(
    message = "the function of export_filter! or export_map! answers `{T}` or `Result<{T}, sluicegate_sdk::Error>`, not `{Self}`",
    label = "answers `{Self}`"
)]
pub trait Answer<T> {
    /// The value, or the error that fails the event.
    fn into_result(self) -> Result<T, Error>;
}

impl Answer<bool> for bool {
    fn into_result(self) -> Result<bool, Error> {
        Ok(self)
    }
}

impl Answer<()> for () {
    fn into_result(self) -> Result<(), Error> {
        Ok(())
    }
}

impl<T> Answer<T> for Result<T, Error> {
    fn into_result(self) -> Result<T, Error> {
        self
    }
}

/// Runs a filter without configuration: `true` keeps the event.
pub fn filter<A: Answer<bool>>(_config: &NoConfig, event: &mut Event<'_>, keep: impl FnOnce(&Event<'_>) -> A) -> Result<Verdict, Error> {
    Ok(if keep(event).into_result()? { Verdict::Keep } else { Verdict::Drop })
}

/// Runs a filter with its configuration: `true` keeps the event.
pub fn filter_with<C, A: Answer<bool>>(
    config: &C,
    event: &mut Event<'_>,
    keep: impl FnOnce(&C, &Event<'_>) -> A,
) -> Result<Verdict, Error> {
    Ok(if keep(config, event).into_result()? { Verdict::Keep } else { Verdict::Drop })
}

/// Runs a map without configuration: the event is kept, with its changes, unless it fails.
pub fn map<A: Answer<()>>(_config: &NoConfig, event: &mut Event<'_>, change: impl FnOnce(&mut Event<'_>) -> A) -> Result<Verdict, Error> {
    change(event).into_result()?;
    Ok(Verdict::Keep)
}

/// Runs a map with its configuration: the event is kept, with its changes, unless it fails.
pub fn map_with<C, A: Answer<()>>(
    config: &C,
    event: &mut Event<'_>,
    change: impl FnOnce(&C, &mut Event<'_>) -> A,
) -> Result<Verdict, Error> {
    change(config, event).into_result()?;
    Ok(Verdict::Keep)
}
