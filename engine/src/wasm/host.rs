//! The process-wide Wasm host: one engine, its epoch ticker, the host functions, and loading
//! (or precompiling) modules.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use sluicegate_abi as abi;
use wasmtime::{Caller, Config, Engine, Extern, ExternType, InstancePre, Linker, Module, ValType};

use super::WasmError;
use super::instance::HostState;

/// How often the epoch advances: the granularity of call deadlines.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);
/// Longest panic message or log line taken from a guest.
pub(crate) const MAX_GUEST_TEXT: usize = 4096;
/// Log lines a guest may send per call; the rest are counted, not printed.
pub(crate) const MAX_LOG_LINES_PER_CALL: u32 = 100;
/// Longest guest log line printed, in bytes; longer ones are cut.
const MAX_LOG_LINE_BYTES: usize = 1024;
/// Set (to anything), the host writes every module it loads into `/tmp/perf-<pid>.map`, the
/// file `perf report` reads to name code it finds no symbols for: samples in a transform's
/// compiled code then show as `transform::function` instead of bare addresses. For profiling
/// only; a file that cannot be written is a warning, not an error.
pub const PERF_MAP_ENV: &str = "SLUICEGATE_PERF_MAP";

/// Limits that contain a transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest one call into a transform may run (a frame of up to `max_frame_bytes`).
    pub call_timeout: Duration,
    /// Largest linear memory of one instance.
    pub memory_bytes: usize,
    /// Largest Wasm stack of one call.
    pub stack_bytes: usize,
    /// Largest frame sent in one call; a batch larger than this goes in several calls.
    pub max_frame_bytes: usize,
    /// Largest linear memory of all the instances of a host together (every transform of the
    /// chain, and the instance being remade after a trap): six modules that each fill their own
    /// cap must not take six times it.
    pub chain_memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            call_timeout: Duration::from_millis(200),
            memory_bytes: 64 << 20,
            stack_bytes: 512 << 10,
            max_frame_bytes: 1 << 20,
            chain_memory_bytes: 128 << 20,
        }
    }
}

/// The Wasm engine of this process; clones share it.
#[derive(Clone)]
pub struct WasmHost {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<HostState>>,
    pub(crate) limits: Limits,
    /// Whether [`PERF_MAP_ENV`] was set when the host was made.
    perf_map: bool,
    /// The engine's compatibility key (`artifact.rs`), computed once.
    pub(crate) compatibility_key: [u8; 32],
    /// Bytes of linear memory all live instances of this host hold, against
    /// [`Limits::chain_memory_bytes`].
    pub(crate) chain_memory: Arc<std::sync::atomic::AtomicUsize>,
    _ticker: Arc<Ticker>,
}

impl std::fmt::Debug for WasmHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmHost").field("limits", &self.limits).finish_non_exhaustive()
    }
}

/// A module checked against the ABI, ready to instantiate.
#[derive(Clone)]
pub struct LoadedModule {
    pub(crate) pre: InstancePre<HostState>,
    /// Whether it came from a precompiled `.cwasm`.
    pub precompiled: bool,
}

impl LoadedModule {
    /// The module's compiled functions in the perf map format, one line each: start address and
    /// size in hex, then `name::function` (the function's name from the module's name section,
    /// mangled as the compiler left it, or its index). The addresses hold while the module is
    /// loaded.
    pub fn perf_map(&self, name: &str) -> String {
        let module = self.pre.module();
        let text = module.text().as_ptr() as usize;
        let mut map = String::new();
        for function in module.functions() {
            let function_name = function.name.unwrap_or_else(|| format!("function[{}]", function.index.as_u32()));
            map.push_str(&format!("{:x} {:x} {name}::{function_name}\n", text + function.offset, function.len));
        }
        map
    }
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule").field("precompiled", &self.precompiled).finish_non_exhaustive()
    }
}

/// The engine configuration; compiling ahead of time uses the same one, so `.cwasm` files match.
fn config(limits: &Limits, target: Option<&str>) -> Result<Config, WasmError> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.max_wasm_stack(limits.stack_bytes);
    if let Some(target) = target {
        config.target(target).map_err(|error| WasmError::Engine { reason: format!("target {target}: {error}") })?;
    }
    Ok(config)
}

impl WasmHost {
    /// Makes the engine and starts its epoch ticker (a thread that stops with the last clone).
    pub fn new(limits: Limits) -> Result<WasmHost, WasmError> {
        let engine = Engine::new(&config(&limits, None)?).map_err(|error| WasmError::Engine { reason: error.to_string() })?;
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap(abi::HOST_MODULE, abi::LOG_IMPORT, |mut caller: Caller<'_, HostState>, _level: i32, ptr: i32, len: i32| {
                let line = guest_text(&mut caller, ptr, len);
                let state = caller.data_mut();
                state.n_log_lines += 1;
                if state.n_log_lines <= MAX_LOG_LINES_PER_CALL {
                    eprintln!("transform {} log: {}", state.name, log_line(&line.unwrap_or_default()));
                }
            })
            .and_then(|linker| {
                linker.func_wrap(abi::HOST_MODULE, abi::PANIC_IMPORT, |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| {
                    let message = guest_text(&mut caller, ptr, len).unwrap_or_else(|| "a panic whose message could not be read".to_owned());
                    caller.data_mut().panic_message = Some(message);
                })
            })
            .map_err(|error| WasmError::Engine { reason: error.to_string() })?;
        // Without the ticker no deadline would ever fire, so failing to start it fails the host.
        let ticker = Ticker::start(engine.clone())
            .map_err(|error| WasmError::Engine { reason: format!("cannot start the epoch ticker: {error}") })?;
        let perf_map = std::env::var_os(PERF_MAP_ENV).is_some();
        let compatibility_key = super::artifact::compatibility_key(&engine);
        Ok(WasmHost {
            engine,
            linker: Arc::new(linker),
            limits,
            perf_map,
            compatibility_key,
            chain_memory: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            _ticker: Arc::new(ticker),
        })
    }

    /// The limits every instance runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Loads the module of transform `name` from `path`: a precompiled `.cwasm` next to a
    /// `.wasm` (same stem) is used when it was made for this engine and is not older than the
    /// `.wasm` (a module rebuilt after `sluicegate compile` must not run its old code), otherwise
    /// the `.wasm` is compiled. The module is checked against the ABI.
    ///
    /// A `.cwasm` is native code: it must come from `sluicegate compile` and be shipped with the
    /// pipeline, never from an untrusted place.
    pub fn load(&self, name: &str, path: &Path) -> Result<LoadedModule, WasmError> {
        let cwasm =
            if path.extension().is_some_and(|extension| extension == "cwasm") { path.to_owned() } else { path.with_extension("cwasm") };
        let mut precompile_error = None;
        let wasm = if path == cwasm { path.with_extension("wasm") } else { path.to_owned() };
        if cwasm.is_file() && !older_than(&cwasm, &wasm) {
            // SAFETY: `.cwasm` files are produced by `sluicegate compile` with this engine
            // configuration and shipped next to the modules (see the doc comment); wasmtime
            // checks the version, configuration and target and refuses a mismatch.
            match unsafe { Module::deserialize_file(&self.engine, &cwasm) } {
                Ok(module) => return self.check(name, module, true),
                Err(error) => precompile_error = Some(error.to_string()),
            }
        }
        let bytes = std::fs::read(&wasm).map_err(|error| WasmError::Read {
            name: name.to_owned(),
            path: wasm.clone(),
            reason: match &precompile_error {
                Some(precompiled) => format!("{error} (and {} is not usable: {precompiled})", cwasm.display()),
                None => error.to_string(),
            },
        })?;
        self.compile(name, &wasm, &bytes)
    }

    /// Compiles a module from `.wasm` bytes and checks it against the ABI.
    pub fn compile(&self, name: &str, path: &Path, bytes: &[u8]) -> Result<LoadedModule, WasmError> {
        let module = Module::new(&self.engine, bytes).map_err(|error| WasmError::Compile {
            name: name.to_owned(),
            path: path.to_owned(),
            reason: format!("{error:#}"),
        })?;
        self.check(name, module, false)
    }

    pub(super) fn check(&self, name: &str, module: Module, precompiled: bool) -> Result<LoadedModule, WasmError> {
        for import in module.imports() {
            let known = import.module() == abi::HOST_MODULE && [abi::LOG_IMPORT, abi::PANIC_IMPORT].contains(&import.name());
            if !known {
                return Err(WasmError::ForbiddenImport {
                    name: name.to_owned(),
                    module: import.module().to_owned(),
                    import: import.name().to_owned(),
                });
            }
        }
        let missing = |export: &'static str| WasmError::MissingExport { name: name.to_owned(), version: abi::ABI_VERSION, export };
        let expect_func = |export: &'static str, params: &[ValType], results: &[ValType]| match module.get_export(export) {
            Some(ExternType::Func(func))
                if func.params().len() == params.len()
                    && func.results().len() == results.len()
                    && func.params().zip(params).all(|(have, want)| have.matches(want))
                    && func.results().zip(results).all(|(have, want)| have.matches(want)) =>
            {
                Ok(())
            }
            _ => Err(missing(export)),
        };
        expect_func(abi::MARKER_EXPORT, &[], &[ValType::I32])?;
        expect_func(abi::BUFFER_EXPORT, &[ValType::I32], &[ValType::I32])?;
        expect_func(abi::INIT_EXPORT, &[ValType::I32], &[ValType::I64])?;
        expect_func(abi::PROCESS_EXPORT, &[ValType::I32], &[ValType::I64])?;
        if !matches!(module.get_export(abi::MEMORY_EXPORT), Some(ExternType::Memory(_))) {
            return Err(missing(abi::MEMORY_EXPORT));
        }
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|error| WasmError::Instantiate { name: name.to_owned(), reason: format!("{error:#}") })?;
        let loaded = LoadedModule { pre, precompiled };
        if self.perf_map {
            append_perf_map(&loaded.perf_map(name));
        }
        Ok(loaded)
    }
}

/// Appends `lines` to this process's perf map, or says why it could not.
fn append_perf_map(lines: &str) {
    use std::io::Write;
    let path = std::env::temp_dir().join(format!("perf-{}.map", std::process::id()));
    let written = std::fs::OpenOptions::new().create(true).append(true).open(&path).and_then(|mut file| file.write_all(lines.as_bytes()));
    if let Err(error) = written {
        eprintln!("{PERF_MAP_ENV} is set, but {} cannot be written: {error}", path.display());
    }
}

/// Whether `file` was modified before `than`; false when either time is unknown (a `.cwasm`
/// alone, or a file system without times). Files unpacked from one zip have equal times.
fn older_than(file: &Path, than: &Path) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|metadata| metadata.modified()).ok();
    matches!((modified(file), modified(than)), (Some(file), Some(than)) if file < than)
}

/// Compiles `.wasm` bytes ahead of time for `target` (a target triple such as
/// `aarch64-unknown-linux-gnu`; `None` for this machine), with the configuration `limits` give
/// the engine. The result loads through [`WasmHost::load`] as a `.cwasm` file.
pub fn precompile(bytes: &[u8], limits: &Limits, target: Option<&str>) -> Result<Vec<u8>, WasmError> {
    let engine = Engine::new(&config(limits, target)?).map_err(|error| WasmError::Engine { reason: error.to_string() })?;
    engine.precompile_module(bytes).map_err(|error| WasmError::Precompile { reason: format!("{error:#}") })
}

/// A guest's log line as data: control characters and line breaks escaped (`\n`, `\u{1b}`),
/// so that no guest can end the host's line and forge another (a host log line, an embedded
/// metric), and cut at [`MAX_LOG_LINE_BYTES`].
pub(crate) fn log_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_LOG_LINE_BYTES) + 16);
    for c in text.chars() {
        if out.len() >= MAX_LOG_LINE_BYTES {
            out.push_str("… (cut)");
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// Reads up to [`MAX_GUEST_TEXT`] bytes of text the guest points at; `None` when out of bounds.
fn guest_text(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Option<String> {
    let Some(Extern::Memory(memory)) = caller.get_export(abi::MEMORY_EXPORT) else {
        return None;
    };
    let start = ptr as u32 as usize;
    let len = (len as u32 as usize).min(MAX_GUEST_TEXT);
    let bytes = memory.data(&caller).get(start..start.checked_add(len)?)?;
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    // The ticker is a dedicated OS thread, never a tokio worker: its sleep blocks nothing else.
    #[allow(clippy::disallowed_methods)]
    fn start(engine: Engine) -> std::io::Result<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name("wasm-epoch".to_owned()).spawn(move || {
            while !thread_stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })?;
        Ok(Ticker { stop, thread: Some(thread) })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
