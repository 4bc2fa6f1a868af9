//! The C SDK (`guest-sdk/c/`) through its example filter, built from source with zig (the
//! `ziglang` package of the test venv) and run by the engine's host as the Rust guests are: the
//! Wasm ABI is enough to write a transform in another language.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use expect_test::expect;
use sluicegate_engine::transform::Transforms;
use sluicegate_engine::wasm::{Chain, Limits, OnError, StageSpec, WasmHost};
use sluicegate_engine::{Context, Event};

use crate::guests;
use crate::wasm_host::render_chain;

/// The venv's Python, which runs zig as `python -m ziglang`; panics with what to do when the
/// venv or its ziglang package is missing, as the end-to-end tests do for their venv.
fn venv_python() -> PathBuf {
    let workspace = sluicegate_tests::workspace_dir();
    let venv = std::env::var_os("SLUICEGATE_VENV").map_or_else(|| workspace.join("target/venv"), PathBuf::from);
    let has_ziglang = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|python_dir| python_dir.path().join("site-packages/ziglang/__main__.py").is_file());
    assert!(
        venv.join("bin/python").is_file() && has_ziglang,
        "no venv with the ziglang package at {}: run `cargo xtask ci` (it creates the venv; cargo-lambda brings ziglang)",
        venv.display()
    );
    venv.join("bin/python")
}

/// The example filter, built once per test process with the guide's command (plus `-Werror`,
/// so the SDK and the example stay free of warnings).
fn filter_module() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let workspace = sluicegate_tests::workspace_dir();
        let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-guest");
        std::fs::create_dir_all(&out_dir).unwrap();
        // Built under a name of this process's own and renamed into place, so that test
        // processes running at once never read a module another is still writing.
        let building = out_dir.join(format!("filter.{}.wasm", std::process::id()));
        let module = out_dir.join("filter.wasm");
        let output = Command::new(venv_python())
            .args(["-m", "ziglang", "cc", "--target=wasm32-freestanding", "-O2", "-s", "-Wl,--no-entry", "-Wall", "-Wextra", "-Werror"])
            .args(["-I", "guest-sdk/c", "-o"])
            .arg(&building)
            .args(["guest-sdk/c/examples/filter.c", "guest-sdk/c/sluicegate.c"])
            .current_dir(&workspace)
            .output()
            .expect("python runs");
        assert!(output.status.success(), "building the C example failed:\n{}", String::from_utf8_lossy(&output.stderr));
        std::fs::rename(&building, &module).unwrap();
        module
    })
}

fn c_filter(host: &WasmHost, name: &str, config: &str) -> StageSpec {
    StageSpec {
        name: name.to_owned(),
        module: host.load(name, filter_module()).unwrap(),
        config: config.to_owned(),
        on_error: OnError::DeadLetter,
    }
}

#[test]
fn c_filter_verdicts() {
    let host = WasmHost::new(Limits::default()).unwrap();
    // Escapes in the configuration are decoded (`\u00e9` is é), and the tag is escaped again in
    // the fields it writes.
    let config = r#"{"drop_if_contains": ["GET /healthz", "DEBUG", "caf\u00e9 closed"], "tag": "team \"x\""}"#;
    let mut chain = Chain::new(&host, vec![c_filter(&host, "c_filter", config)]).unwrap();
    expect![[r#"
        0: dropped
        1: dropped
        2: failed in c_filter: empty message: there is nothing to ship
        3: kept payment accepted fields={"tags":["team \"x\""]}
        4: dropped
        5: kept café open fields={"tags":["team \"x\""]}
        6: kept GET /orders 200 fields={"tags":["team \"x\""]}
    "#]]
    .assert_eq(&render_chain(
        &mut chain,
        &["GET /healthz 200", "level=DEBUG cache warm", "", "payment accepted", "café closed early", "café open", "GET /orders 200"],
    ));
    // Without a tag, kept events are not changed; an empty configuration keeps everything.
    let mut chain = Chain::new(&host, vec![c_filter(&host, "c_filter", r#"{"drop_if_contains": ["DEBUG"]}"#)]).unwrap();
    expect![[r#"
        0: kept a
        1: dropped
    "#]]
    .assert_eq(&render_chain(&mut chain, &["a", "DEBUG b"]));
    let mut chain = Chain::new(&host, vec![c_filter(&host, "c_filter", " { } ")]).unwrap();
    assert_eq!(render_chain(&mut chain, &["DEBUG b"]), "0: kept DEBUG b\n");
}

#[test]
fn c_filter_after_a_rust_guest_keeps_its_fields() {
    // The Rust test guest upper-cases `upper` events and sets a field; the first C filter adds its
    // tags next to that field, the second finds tags already there and keeps them.
    let host = WasmHost::new(Limits::default()).unwrap();
    let rust_guest = StageSpec {
        name: "hostile".to_owned(),
        module: host.load("hostile", &guests::module("test_guest")).unwrap(),
        config: "{}".to_owned(),
        on_error: OnError::DeadLetter,
    };
    let specs = vec![rust_guest, c_filter(&host, "team_x", r#"{"tag": "team-x"}"#), c_filter(&host, "team_y", r#"{"tag": "team-y"}"#)];
    let mut chain = Chain::new(&host, specs).unwrap();
    expect![[r#"
        0: kept UPPER ME fields={"tags":["team-x"],"seen":{"by":"hostile"}}
        1: kept plain fields={"tags":["team-x"]}
        2: dropped
    "#]]
    .assert_eq(&render_chain(&mut chain, &["upper me", "plain", "please drop"]));
}

#[test]
fn c_filter_refuses_bad_configs_naming_the_problem() {
    let host = WasmHost::new(Limits::default()).unwrap();
    let configs = [
        "null",
        r#"["DEBUG"]"#,
        r#"{"drop_if_contains": "DEBUG"}"#,
        r#"{"drop_if_contains": ["DEBUG", 3]}"#,
        r#"{"drop_if_contains": ["DEBUG", ""]}"#,
        r#"{"tag": ""}"#,
        r#"{"tag": 7}"#,
        r#"{"tags": "team-x"}"#,
        r#"{"tag": "a", "tag": "b"}"#,
        r#"{"tag": "a""#,
        r#"{"tag": "a"} x"#,
        r#"{"drop_if_contains": ["\q"]}"#,
    ];
    let rendered: String = configs
        .iter()
        .map(|config| match Chain::new(&host, vec![c_filter(&host, "c_filter", config)]) {
            Ok(_) => format!("{config} -> accepted\n"),
            Err(error) => format!("{config} -> {error}\n"),
        })
        .collect();
    expect![[r#"
        null -> transform c_filter: init failed: the configuration must be a JSON object such as {"drop_if_contains": ["GET /healthz"], "tag": "team-x"}, not null
        ["DEBUG"] -> transform c_filter: init failed: the configuration must be a JSON object such as {"drop_if_contains": ["GET /healthz"], "tag": "team-x"}, not an array
        {"drop_if_contains": "DEBUG"} -> transform c_filter: init failed: drop_if_contains must be an array of strings, not a string
        {"drop_if_contains": ["DEBUG", 3]} -> transform c_filter: init failed: drop_if_contains[1] must be a string, not a number
        {"drop_if_contains": ["DEBUG", ""]} -> transform c_filter: init failed: drop_if_contains[1] is empty: every message contains it, so every event would be dropped
        {"tag": ""} -> transform c_filter: init failed: tag must be a non-empty string, not ""
        {"tag": 7} -> transform c_filter: init failed: tag must be a non-empty string, not a number
        {"tags": "team-x"} -> transform c_filter: init failed: unknown key "tags" in the configuration (accepted: drop_if_contains, tag)
        {"tag": "a", "tag": "b"} -> transform c_filter: init failed: key "tag" appears twice in the configuration
        {"tag": "a" -> transform c_filter: init failed: the configuration is not valid JSON (at byte 11)
        {"tag": "a"} x -> transform c_filter: init failed: the configuration is not valid JSON (at byte 13)
        {"drop_if_contains": ["\q"]} -> transform c_filter: init failed: the configuration is not valid JSON (at byte 25)
    "#]]
    .assert_eq(&rendered);
}

/// The imports and exports of a Wasm module, read from its sections: `module::name` for each
/// import, the name of each export.
fn imports_and_exports(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    fn leb(bytes: &[u8], at: &mut usize) -> u32 {
        let (mut value, mut shift) = (0u32, 0);
        loop {
            let byte = bytes[*at];
            *at += 1;
            value |= u32::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return value;
            }
            shift += 7;
        }
    }
    fn name(bytes: &[u8], at: &mut usize) -> String {
        let len = leb(bytes, at) as usize;
        *at += len;
        String::from_utf8(bytes[*at - len..*at].to_vec()).unwrap()
    }
    assert_eq!(&bytes[..8], b"\0asm\x01\0\0\0", "a Wasm module, version 1");
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut at = 8;
    while at < bytes.len() {
        let section_id = bytes[at];
        at += 1;
        let size = leb(bytes, &mut at) as usize;
        let end = at + size;
        let mut entry_at = at;
        match section_id {
            2 => {
                for _ in 0..leb(bytes, &mut entry_at) {
                    let module = name(bytes, &mut entry_at);
                    let field = name(bytes, &mut entry_at);
                    // Only functions may be imported here: anything else is named and refused.
                    assert_eq!(bytes[entry_at], 0, "import {module}::{field} is not a function");
                    entry_at += 1;
                    leb(bytes, &mut entry_at);
                    imports.push(format!("{module}::{field}"));
                }
            }
            7 => {
                for _ in 0..leb(bytes, &mut entry_at) {
                    exports.push(name(bytes, &mut entry_at));
                    entry_at += 1;
                    leb(bytes, &mut entry_at);
                }
            }
            _ => {}
        }
        at = end;
    }
    (imports, exports)
}

#[test]
fn c_filter_imports_only_the_host_module() {
    let bytes = std::fs::read(filter_module()).unwrap();
    let (imports, mut exports) = imports_and_exports(&bytes);
    for import in &imports {
        assert!(["sluicegate::log", "sluicegate::panic"].contains(&import.as_str()), "the C example imports {import}");
    }
    exports.sort();
    expect![[r#"
        imports: sluicegate::panic
        exports: memory, sluicegate_abi_v1, sluicegate_buffer, sluicegate_init, sluicegate_process
    "#]]
    .assert_eq(&format!("imports: {}\nexports: {}\n", imports.join(", "), exports.join(", ")));
}

/// One context and the events `(message, fields)`, with ids 0, 1, ...
fn events_with_fields(events: Vec<(String, Option<String>)>) -> ([Context<'static>; 1], Vec<Event<'static>>) {
    let contexts = [Context {
        owner: Cow::Borrowed("123456789012"),
        log_group: Cow::Borrowed("/aws/lambda/orders-api"),
        log_stream: Cow::Borrowed("stream"),
    }];
    let events = events
        .into_iter()
        .enumerate()
        .map(|(event_idx, (message, fields))| Event {
            record_idx: 0,
            context_idx: 0,
            id: Cow::Owned(event_idx.to_string()),
            timestamp: 1_764_324_000_000,
            message: Cow::Owned(message),
            fields,
            index: None,
        })
        .collect();
    (contexts, events)
}

#[test]
fn c_filter_answers_a_full_frame() {
    // A thousand events in one frame: every third carries fields from an earlier transform, so the
    // filter allocates merged fields between the reply's growths (the reply moves), and every
    // tenth is dropped.
    let host = WasmHost::new(Limits::default()).unwrap();
    let mut chain = Chain::new(&host, vec![c_filter(&host, "c_filter", r#"{"drop_if_contains": ["DEBUG"], "tag": "team-x"}"#)]).unwrap();
    let (contexts, events) = events_with_fields(
        (0..1000u32)
            .map(|event_idx| {
                let level = if event_idx.is_multiple_of(10) { "DEBUG" } else { "INFO" };
                (
                    format!("{level} {event_idx} {}", "p".repeat(500)),
                    (event_idx.is_multiple_of(3)).then(|| format!(r#"{{"n":{event_idx}}}"#)),
                )
            })
            .collect(),
    );
    let outcome = chain.apply(&contexts, events, None);
    assert!(outcome.failed.is_empty() && outcome.unfinished.is_empty(), "{:?}", outcome.failed.first());
    assert_eq!((outcome.kept.len(), outcome.dropped.len()), (900, 100));
    for event in &outcome.kept {
        let event_idx: u32 = event.id.parse().unwrap();
        let expected = if event_idx.is_multiple_of(3) {
            format!(r#"{{"tags":["team-x"],"n":{event_idx}}}"#)
        } else {
            r#"{"tags":["team-x"]}"#.to_owned()
        };
        assert_eq!(event.fields.as_deref(), Some(expected.as_str()), "event {event_idx}");
    }
}

#[test]
fn c_filter_merges_fields_of_every_shape() {
    // Fields as earlier transforms may leave them: the tag goes first and the rest is copied as
    // it is; fields with `tags` are kept; what is not a JSON object fails the event, and so does
    // nesting deeper than serde_json reads.
    let host = WasmHost::new(Limits::default()).unwrap();
    let mut chain = Chain::new(&host, vec![c_filter(&host, "c_filter", r#"{"tag": "team-x"}"#)]).unwrap();
    let nested = |depth: usize| format!("{}1{}", r#"{"a":["#.repeat(depth / 2), "]}".repeat(depth / 2));
    let (deep, too_deep) = (nested(128), nested(130));
    let fields = [
        "{}",
        r#" { "x" : null }"#,
        r#"{"a":[1,-2.5e3,{"b":"c\"d}"}],"t":true,"tags2":false}"#,
        r#"{"tags":["mine"]}"#,
        "not json",
        "[1]",
        r#"{"a":1"#,
        &deep,
        &too_deep,
    ];
    let (contexts, events) = events_with_fields(fields.iter().map(|fields| ("m".to_owned(), Some((*fields).to_owned()))).collect());
    let outcome = chain.apply(&contexts, events, None);
    let mut lines: Vec<(usize, String)> = outcome
        .kept
        .iter()
        .map(|event| (event.id.parse().unwrap(), format!("kept {}", event.fields.as_deref().unwrap_or("-"))))
        .chain(outcome.failed.iter().map(|failure| (failure.event.id.parse().unwrap(), format!("failed: {}", failure.reason))))
        .collect();
    lines.sort();
    let rendered: String = lines.iter().map(|(id, line)| format!("{id}: {}\n", line.replace(&deep[1..], "(128 levels)}"))).collect();
    expect![[r#"
        0: kept {"tags":["team-x"]}
        1: kept {"tags":["team-x"], "x" : null }
        2: kept {"tags":["team-x"],"a":[1,-2.5e3,{"b":"c\"d}"}],"t":true,"tags2":false}
        3: kept {"tags":["mine"]}
        4: failed: the fields an earlier transform set are not a JSON object (or nest deeper than 128 levels)
        5: failed: the fields an earlier transform set are not a JSON object (or nest deeper than 128 levels)
        6: failed: the fields an earlier transform set are not a JSON object (or nest deeper than 128 levels)
        7: kept {"tags":["team-x"],(128 levels)}
        8: failed: the fields an earlier transform set are not a JSON object (or nest deeper than 128 levels)
    "#]]
    .assert_eq(&rendered);
}

// Regression guard for the SDK's allocator: each call's memory (the frame, the reply and what the
// transform allocates) must be free again at the next call, or a long-lived instance reaches its
// memory cap. A call of one event that traps fails that event (a call of several would be
// bisected on fresh instances, which hides a leak), so the batches here have one event each, and
// together they pass the cap many times over.
#[test]
fn c_filter_reuses_its_memory_from_call_to_call() {
    let host = WasmHost::new(Limits { memory_bytes: 8 << 20, ..Limits::default() }).unwrap();
    let mut chain = Chain::new(&host, vec![c_filter(&host, "c_filter", r#"{"tag": "team-x"}"#)]).unwrap();
    for batch_idx in 0..100 {
        let (contexts, events) =
            events_with_fields(vec![(format!("{batch_idx} {}", "p".repeat(256 << 10)), Some(r#"{"n":1}"#.to_owned()))]);
        let outcome = chain.apply(&contexts, events, None);
        assert!(outcome.failed.is_empty(), "batch {batch_idx}: {}", outcome.failed[0].reason);
        assert_eq!(outcome.kept[0].fields.as_deref(), Some(r#"{"tags":["team-x"],"n":1}"#), "batch {batch_idx}");
    }
}
