//! Compiled modules kept between starts: a host compiles a module once, seals the native code
//! with what it was made from, and a later start loads it instead of compiling.
//!
//! wasmtime loads native code only on the caller's word that the bytes are exactly what a
//! wasmtime serialised (`Module::deserialize` is `unsafe`); given such bytes from any version,
//! target or configuration, it refuses the ones this engine cannot run. A sealed artifact carries
//! the SHA-256 of the module it was compiled from and the SHA-256 of the native code, and
//! [`WasmHost::load_sealed`] checks both before wasmtime sees a byte: an artifact that is
//! truncated, corrupted or made for another module is refused with the reason, and the caller
//! compiles the module instead. Who may write artifacts is the deployer's to restrict (the
//! Terraform module lets only the function's role write the cache prefix): the seal detects
//! damage and mix-ups, not a forger with write access.
//!
//! Layout: the magic `SGCWASM` and a format byte, then two 32-byte digests (module, native code),
//! then the native code as wasmtime serialised it.

use sha2::Digest as _;
use wasmtime::Module;

use super::WasmError;
use super::host::{LoadedModule, WasmHost};

const MAGIC: &[u8; 8] = b"SGCWASM\x01";
const HEADER_BYTES: usize = MAGIC.len() + 2 * 32;

/// Why a sealed artifact was not loaded. None of these is fatal: the module is compiled instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The bytes do not start with the seal.
    #[error("not a sealed sluicegate artifact")]
    NotSealed,
    /// The artifact was compiled from another module.
    #[error("compiled from module {found}, not {expected}")]
    OtherModule {
        /// The module wanted.
        expected: String,
        /// The module the artifact names.
        found: String,
    },
    /// The native code is not what was sealed.
    #[error("corrupt: the native code's sha256 is {found}, the seal says {expected}")]
    Corrupt {
        /// The digest in the seal.
        expected: String,
        /// The digest of the bytes.
        found: String,
    },
    /// wasmtime refused the native code (another wasmtime version, target, CPU or configuration).
    #[error("wasmtime refused it: {reason}")]
    Refused {
        /// What wasmtime said.
        reason: String,
    },
    /// The native code loaded but the module does not fit the ABI.
    #[error("{0}")]
    Module(String),
}

/// The SHA-256 of `bytes`.
fn digest(bytes: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(bytes).into()
}

/// 32 bytes as 64 lowercase hex digits.
pub(crate) fn hex(bytes: &[u8; 32]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// 64 hex digits as 32 bytes; `None` when the text is not that.
fn unhex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte_idx, pair) in bytes.chunks_exact(2).enumerate() {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        out[byte_idx] = (high * 16 + low) as u8;
    }
    Some(out)
}

/// Feeds what `Hash` writes into SHA-256, so the compatibility key is the same in every process
/// of one build (std's hashers are keyed or unspecified across releases).
struct Sha256Hasher(sha2::Sha256);

impl std::hash::Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        // Only the digest is read (`compatibility_key`).
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The compatibility key of `engine`: the SHA-256 of what wasmtime hashes to decide whether code
/// one engine compiled runs in another (its version, the target and CPU features, the
/// configuration).
pub(crate) fn compatibility_key(engine: &wasmtime::Engine) -> [u8; 32] {
    use std::hash::Hash as _;
    let mut hasher = Sha256Hasher(sha2::Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.finalize().into()
}

impl WasmHost {
    /// This host's compatibility key as 64 hex digits: artifacts sealed by a host with the same
    /// key load here. Use it in cache keys, beside the module's SHA-256.
    pub fn compatibility_key(&self) -> String {
        hex(&self.compatibility_key)
    }

    /// The native code of `module` (compiled by this host from the `.wasm` whose SHA-256 is
    /// `module_sha256`), sealed for [`WasmHost::load_sealed`].
    pub fn seal(&self, module: &LoadedModule, module_sha256: &str) -> Result<Vec<u8>, WasmError> {
        let code = module.pre.module().serialize().map_err(|error| WasmError::Engine { reason: format!("cannot serialize: {error:#}") })?;
        seal(module_sha256, &code)
    }

    /// Loads transform `name` from an artifact [`seal`] or [`WasmHost::seal`] made, after
    /// checking that it was compiled from the module `module_sha256` and that its native code is
    /// intact; wasmtime then refuses code of another version, target or configuration, and the
    /// module is checked against the ABI as a compiled one is.
    pub fn load_sealed(&self, name: &str, module_sha256: &str, sealed: &[u8]) -> Result<LoadedModule, ArtifactError> {
        if sealed.len() < HEADER_BYTES || &sealed[..MAGIC.len()] != MAGIC {
            return Err(ArtifactError::NotSealed);
        }
        let field = |idx: usize| -> [u8; 32] {
            let start = MAGIC.len() + idx * 32;
            sealed[start..start + 32].try_into().expect("32 bytes")
        };
        let (module_digest, code_digest) = (field(0), field(1));
        if unhex(module_sha256) != Some(module_digest) {
            return Err(ArtifactError::OtherModule { expected: module_sha256.to_owned(), found: hex(&module_digest) });
        }
        let code = &sealed[HEADER_BYTES..];
        let found = digest(code);
        if found != code_digest {
            return Err(ArtifactError::Corrupt { expected: hex(&code_digest), found: hex(&found) });
        }
        // SAFETY: `code` is, byte for byte, what wasmtime serialised when the artifact was sealed
        // (the digest over it matches the seal), which is what `deserialize` requires of its
        // input; wasmtime itself refuses code of another version, target or configuration.
        let module =
            unsafe { Module::deserialize(&self.engine, code) }.map_err(|error| ArtifactError::Refused { reason: format!("{error:#}") })?;
        self.check(name, module, true).map_err(|error| ArtifactError::Module(error.to_string()))
    }
}

/// Seals native code that wasmtime made for the module whose SHA-256 is `module_sha256`
/// (`Module::serialize`, or [`crate::wasm::precompile`] for another target), for
/// [`WasmHost::load_sealed`].
pub fn seal(module_sha256: &str, code: &[u8]) -> Result<Vec<u8>, WasmError> {
    let module_digest =
        unhex(module_sha256).ok_or_else(|| WasmError::Engine { reason: format!("{module_sha256:?} is not a sha256 in hex") })?;
    let mut sealed = Vec::with_capacity(HEADER_BYTES + code.len());
    sealed.extend_from_slice(MAGIC);
    sealed.extend_from_slice(&module_digest);
    sealed.extend_from_slice(&digest(code));
    sealed.extend_from_slice(code);
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_other_text() {
        let bytes: [u8; 32] = std::array::from_fn(|idx| (idx * 37) as u8);
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex(&hex(&bytes).to_uppercase()), Some(bytes));
        assert_eq!(unhex("ab"), None);
        assert_eq!(unhex(&"g".repeat(64)), None);
        assert_eq!(unhex(&"é".repeat(32)), None);
    }
}
