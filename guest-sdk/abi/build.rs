//! Sets `cfg(sluicegate_simd)` where the scanners' sixteen-byte SIMD steps apply: SSE2 (part of
//! x86_64) on the host, Wasm SIMD in guests built with `+simd128`. The `portable` feature turns
//! it off, so that CI on x86_64 also tests the plain steps that arm64 (the Lambda) runs.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(sluicegate_simd)");
    println!("cargo::rerun-if-changed=build.rs");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let has = |feature: &str| features.split(',').any(|enabled| enabled == feature);
    let simd = (arch == "x86_64" && has("sse2")) || (arch == "wasm32" && has("simd128"));
    if simd && std::env::var_os("CARGO_FEATURE_PORTABLE").is_none() {
        println!("cargo::rustc-cfg=sluicegate_simd");
    }
}
