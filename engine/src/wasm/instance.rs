//! One live instance of a transform: its store, the ABI calls, and the checks on everything the
//! guest answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sluicegate_abi::{self as abi, FrameContext, FrameEvent, Patch, Reply, Verdict};
use wasmtime::{Memory, ResourceLimiter, Store, Trap, TypedFunc};

use super::WasmError;
use super::host::{EPOCH_TICK, LoadedModule, WasmHost};

/// What the host keeps per store.
pub(crate) struct HostState {
    pub(crate) name: Arc<str>,
    pub(crate) panic_message: Option<String>,
    pub(crate) n_log_lines: u32,
    limiter: Limiter,
}

struct Limiter {
    memory_bytes: usize,
    /// The size a refused memory growth asked for, to name it in the failure.
    refused: Option<Refusal>,
    /// What all the host's instances hold, and the cap on it.
    chain_memory: Arc<AtomicUsize>,
    chain_memory_bytes: usize,
    /// What this instance added to `chain_memory`, given back when it is dropped.
    accounted: usize,
    /// The last growth accounted, taken back should the growth itself fail.
    last_growth: usize,
}

/// A memory growth the limits refused.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// Past the instance's cap: the size asked for.
    Instance(usize),
    /// Past the chain's cap: the instances' total it would have made.
    Chain(usize),
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.refused = Some(Refusal::Instance(desired));
            return Ok(false);
        }
        let growth = desired.saturating_sub(current);
        let total = self.chain_memory.fetch_add(growth, Ordering::SeqCst) + growth;
        if total > self.chain_memory_bytes {
            self.chain_memory.fetch_sub(growth, Ordering::SeqCst);
            self.refused = Some(Refusal::Chain(total));
            return Ok(false);
        }
        self.accounted += growth;
        self.last_growth = growth;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.chain_memory.fetch_sub(self.last_growth, Ordering::SeqCst);
        self.accounted -= self.last_growth;
        self.last_growth = 0;
        Ok(())
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 16)
    }

    fn instances(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }
}

/// A change to an event, copied out of guest memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Keep,
    Drop,
    Modified {
        timestamp: Option<i64>,
        message: Option<String>,
        fields: Option<Option<String>>,
        index: Option<Option<String>>,
    },
    /// The guest failed on the event (its error text), or the event trapped it (the trap).
    Failed(String),
    /// The batch's deadline came before the event was done: not the event's fault, so no
    /// policy applies; its record is tried again.
    Unfinished,
    /// The transform's trap budget ran out before the event ran: unfinished too, but said so.
    NotRun,
}

pub(crate) struct Instance {
    store: Store<HostState>,
    memory: Memory,
    buffer: TypedFunc<i32, i32>,
    process: TypedFunc<i32, i64>,
}

impl Instance {
    /// Instantiates the module and runs `init` with the configuration.
    pub(crate) fn new(host: &WasmHost, name: &Arc<str>, module: &LoadedModule, config: &[u8]) -> Result<Instance, WasmError> {
        let state = HostState {
            name: Arc::clone(name),
            panic_message: None,
            n_log_lines: 0,
            limiter: Limiter {
                memory_bytes: host.limits.memory_bytes,
                refused: None,
                chain_memory: Arc::clone(&host.chain_memory),
                chain_memory_bytes: host.limits.chain_memory_bytes,
                accounted: 0,
                last_growth: 0,
            },
        };
        let mut store = Store::new(&host.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(deadline_ticks(host, None));
        let instantiate_error = |error: wasmtime::Error| WasmError::Instantiate { name: name.to_string(), reason: format!("{error:#}") };
        // The start function runs here: a trap in it (a loop past the deadline, the memory cap)
        // is named like one in a call, on one line.
        let instance = module
            .pre
            .instantiate(&mut store)
            .map_err(|error| WasmError::Instantiate { name: name.to_string(), reason: trap_reason(store.data_mut(), &error, host) })?;
        let memory = instance.get_memory(&mut store, abi::MEMORY_EXPORT).ok_or_else(|| WasmError::MissingExport {
            name: name.to_string(),
            version: abi::ABI_VERSION,
            export: abi::MEMORY_EXPORT,
        })?;
        // The marker's answer is the ABI version the guest speaks; the export's name alone only
        // says it speaks some version 1 layout.
        let marker = instance.get_typed_func::<(), i32>(&mut store, abi::MARKER_EXPORT).map_err(instantiate_error)?;
        let version = marker.call(&mut store, ()).map_err(instantiate_error)?;
        if u32::try_from(version).ok() != Some(abi::ABI_VERSION) {
            return Err(WasmError::Instantiate {
                name: name.to_string(),
                reason: format!("the module speaks ABI version {version}, this host speaks version {}", abi::ABI_VERSION),
            });
        }
        let buffer = instance.get_typed_func::<i32, i32>(&mut store, abi::BUFFER_EXPORT).map_err(instantiate_error)?;
        let init = instance.get_typed_func::<i32, i64>(&mut store, abi::INIT_EXPORT).map_err(instantiate_error)?;
        let process = instance.get_typed_func::<i32, i64>(&mut store, abi::PROCESS_EXPORT).map_err(instantiate_error)?;
        let mut instance = Instance { store, memory, buffer, process };
        let init_error = |reason: String| WasmError::Init { name: name.to_string(), reason };
        let len = i32::try_from(config.len()).map_err(|_| init_error("configuration larger than 2 GiB".to_owned()))?;
        let at = instance.reserve(config.len(), host).map_err(init_error)?;
        instance.memory.data_mut(&mut instance.store)[at..at + config.len()].copy_from_slice(config);
        let area = init.call(&mut instance.store, len).map_err(|error| init_error(trap_reason(instance.store.data_mut(), &error, host)))?;
        if area != 0 {
            let text = instance.area(area).map_err(init_error)?;
            // The text goes into a start-up error message: a few kilobytes say all there is.
            return Err(init_error(String::from_utf8_lossy(&text[..text.len().min(super::host::MAX_GUEST_TEXT)]).into_owned()));
        }
        Ok(instance)
    }

    /// Sends one frame and reads the guest's decision for each event. `Err` is a trap (or an
    /// answer that breaks the ABI, treated the same): the instance must be discarded.
    pub(crate) fn call(
        &mut self,
        host: &WasmHost,
        contexts: &[FrameContext<'_>],
        events: &[FrameEvent<'_>],
        deadline: Option<Instant>,
    ) -> Result<Vec<Decision>, String> {
        let state = self.store.data_mut();
        state.n_log_lines = 0;
        state.panic_message = None;
        state.limiter.refused = None;
        self.store.set_epoch_deadline(deadline_ticks(host, deadline));
        let len = abi::frame_len(contexts, events);
        let len_arg = i32::try_from(len).map_err(|_| format!("frame of {len} bytes is too large"))?;
        let at = self.reserve(len, host)?;
        abi::write_frame(&mut self.memory.data_mut(&mut self.store)[at..at + len], contexts, events);
        let area = self.process.call(&mut self.store, len_arg).map_err(|error| trap_reason(self.store.data_mut(), &error, host));
        let n_log_lines = self.store.data().n_log_lines;
        if n_log_lines > super::host::MAX_LOG_LINES_PER_CALL {
            eprintln!(
                "transform {} log: {} more lines of this call not printed (at most {} a call)",
                self.store.data().name,
                n_log_lines - super::host::MAX_LOG_LINES_PER_CALL,
                super::host::MAX_LOG_LINES_PER_CALL
            );
        }
        let area = area?;
        let bytes = self.area(area)?;
        let cap = reply_cap(len, events.len());
        if bytes.len() > cap {
            return Err(format!(
                "output cap exceeded: the transform answered with {} bytes for {len} bytes in (the cap is four times the input and 1 KiB per event, {cap} bytes)",
                bytes.len()
            ));
        }
        let reply = Reply::parse(bytes, events.len()).map_err(|error| format!("the transform answered with a {error}"))?;
        let mut decisions: Vec<Decision> =
            reply.verdicts().map(|verdict| if verdict == Verdict::Drop { Decision::Drop } else { Decision::Keep }).collect();
        for patch in reply.patches().map_err(|error| format!("the transform answered with a {error}"))? {
            match patch {
                Patch::Modified { event_idx, changes } => {
                    decisions[event_idx] = Decision::Modified {
                        timestamp: changes.timestamp,
                        message: changes.message.map(str::to_owned),
                        fields: changes.fields.map(|fields| fields.map(str::to_owned)),
                        index: changes.index.map(|index| index.map(str::to_owned)),
                    }
                }
                Patch::Failed { event_idx, reason } => decisions[event_idx] = Decision::Failed(reason.to_owned()),
            }
        }
        Ok(decisions)
    }

    /// Asks the guest for an input buffer of `len` bytes and checks where it put it.
    fn reserve(&mut self, len: usize, host: &WasmHost) -> Result<usize, String> {
        let len_arg = i32::try_from(len).map_err(|_| format!("{len} bytes do not fit the guest"))?;
        let at =
            self.buffer.call(&mut self.store, len_arg).map_err(|error| trap_reason(self.store.data_mut(), &error, host))? as u32 as usize;
        let size = self.memory.data_size(&self.store);
        if at.checked_add(len).is_none_or(|end| end > size) {
            return Err(format!("the transform's buffer for {len} bytes at {at} lies outside its memory of {size} bytes"));
        }
        Ok(at)
    }

    /// The bytes of an area (`address << 32 | length`) the guest returned, checked.
    fn area(&self, area: i64) -> Result<&[u8], String> {
        let at = (area as u64 >> 32) as usize;
        let len = (area as u64 & 0xffff_ffff) as usize;
        let data = self.memory.data(&self.store);
        data.get(at..at + len)
            .ok_or_else(|| format!("the transform answered with {len} bytes at {at}, outside its memory of {} bytes", data.len()))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // What this instance held of the chain's memory is free again.
        let limiter = &self.store.data().limiter;
        limiter.chain_memory.fetch_sub(limiter.accounted, Ordering::SeqCst);
    }
}

/// Names what made a call fail, on one line: the guest's panic, a memory cap, the deadline, the
/// stack cap or the trap (without wasmtime's backtrace).
fn trap_reason(state: &mut HostState, error: &wasmtime::Error, host: &WasmHost) -> String {
    if let Some(message) = state.panic_message.take() {
        return message;
    }
    match state.limiter.refused.take() {
        Some(Refusal::Instance(desired)) => {
            return format!("memory cap exceeded: the transform asked for {desired} bytes, the cap is {} bytes", host.limits.memory_bytes);
        }
        Some(Refusal::Chain(total)) => {
            return format!(
                "chain memory cap exceeded: the transforms together would hold {total} bytes, the cap is {} bytes",
                host.limits.chain_memory_bytes
            );
        }
        None => {}
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => format!("deadline exceeded: the call ran past {} ms", host.limits.call_timeout.as_millis()),
        Some(Trap::StackOverflow) => format!("stack overflow: the stack cap is {} bytes", host.limits.stack_bytes),
        Some(trap) => trap.to_string(),
        None => error.to_string().lines().next().unwrap_or_default().to_owned(),
    }
}

/// The most a reply may hold for a frame of `frame_bytes` with `n_events`: four times the input
/// and 1 KiB per event. Every event's allowance adds up the same way when bisection splits a
/// call, so a guest can at most quadruple a batch (plus 1 KiB an event) in the host's memory,
/// however it answers; an event that needs more fails alone.
fn reply_cap(frame_bytes: usize, n_events: usize) -> usize {
    frame_bytes.saturating_mul(4).saturating_add(n_events.saturating_mul(1024))
}

/// Epoch ticks until the call's deadline: the per-call timeout, or less if the batch's deadline
/// is nearer. At least one tick, so a call can always start.
fn deadline_ticks(host: &WasmHost, deadline: Option<Instant>) -> u64 {
    let mut budget = host.limits.call_timeout;
    if let Some(deadline) = deadline {
        budget = budget.min(deadline.saturating_duration_since(Instant::now()));
    }
    (budget.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64 + 1
}
