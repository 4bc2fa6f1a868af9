//! The glue behind the exports that [`export!`](crate::export) makes: the input buffer, the one
//! runtime of this instance, and the host imports.
//!
//! Wasm guests are single threaded, so the state lives in thread locals.

use std::cell::RefCell;

use sluicegate_abi::ABI_VERSION;

use crate::runtime::Runtime;
use crate::{Error, Transform};

trait ErasedRuntime {
    fn process(&mut self, frame: &[u8]) -> Result<&[u8], Error>;
}

impl<T: Transform> ErasedRuntime for Runtime<T> {
    fn process(&mut self, frame: &[u8]) -> Result<&[u8], Error> {
        Runtime::process(self, frame)
    }
}

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static RUNTIME: RefCell<Option<Box<dyn ErasedRuntime>>> = const { RefCell::new(None) };
    static ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The ABI version marker.
pub fn abi_version() -> i32 {
    ABI_VERSION as i32
}

/// Makes the input buffer at least `len` bytes long and returns its address.
pub fn buffer(len: i32) -> i32 {
    BUFFER.with_borrow_mut(|buffer| {
        // Never shrunk: the calls read `buffer[..len]`, and a frame after a smaller one would
        // otherwise zero the difference again just for the host to overwrite it.
        let len = len as u32 as usize;
        if buffer.len() < len {
            buffer.resize(len, 0);
        }
        buffer.as_mut_ptr() as i32
    })
}

/// Reads the configuration from the buffer and makes the runtime: 0, or the error text's area.
pub fn init<T: Transform>(len: i32) -> i64 {
    set_panic_hook();
    let made = BUFFER.with_borrow(|buffer| Runtime::<T>::init(&buffer[..len as u32 as usize]));
    match made {
        Ok(runtime) => {
            RUNTIME.with_borrow_mut(|slot| *slot = Some(Box::new(runtime)));
            0
        }
        Err(error) => error_area(error),
    }
}

/// Runs the transform over the frame in the buffer and returns the reply area.
pub fn process(len: i32) -> i64 {
    let answer = BUFFER.with_borrow(|buffer| {
        RUNTIME.with_borrow_mut(|runtime| {
            let Some(runtime) = runtime.as_mut() else {
                return Err(Error::msg("process called before init"));
            };
            runtime.process(&buffer[..len as u32 as usize]).map(area)
        })
    });
    match answer {
        Ok(area) => area,
        // A frame the runtime cannot read is the host's bug, not an event's: trap so the host
        // sees it, with the reason as the panic message.
        Err(error) => panic!("{error}"),
    }
}

fn area(bytes: &[u8]) -> i64 {
    ((bytes.as_ptr() as u32 as i64) << 32) | bytes.len() as u32 as i64
}

fn error_area(error: Error) -> i64 {
    ERROR.with_borrow_mut(|text| {
        *text = error.message().to_owned();
        if text.is_empty() {
            text.push_str("init failed");
        }
        area(text.as_bytes())
    })
}

#[link(wasm_import_module = "sluicegate")]
unsafe extern "C" {
    #[link_name = "log"]
    fn host_log(level: i32, ptr: *const u8, len: usize);
    #[link_name = "panic"]
    fn host_panic(ptr: *const u8, len: usize);
}

fn set_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = match (info.payload_as_str(), info.location()) {
            (Some(payload), Some(location)) => format!("panicked at {location}: {payload}"),
            (Some(payload), None) => format!("panicked: {payload}"),
            (None, _) => info.to_string(),
        };
        // SAFETY: the host reads `len` bytes at `ptr` from this instance's memory and checks the
        // range; the string outlives the call.
        unsafe { host_panic(message.as_ptr(), message.len()) };
    }));
}

/// Sends a log line to the host.
pub fn log(level: i32, message: &str) {
    // SAFETY: as for the panic message; the host copies the text during the call.
    unsafe { host_log(level, message.as_ptr(), message.len()) };
}
