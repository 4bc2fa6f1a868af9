//! The Wasm host through real modules: verdicts and patches, error policies, and containment of
//! hostile guests (panics, endless loops, memory bombs, huge output, bad pointers).

use std::borrow::Cow;
use std::path::Path;
use std::time::{Duration, Instant};

use expect_test::{Expect, expect};
use sluicegate_engine::transform::Transforms;
use sluicegate_engine::wasm::{Chain, Limits, OnError, StageSpec, WasmError, WasmHost, precompile};
use sluicegate_engine::{Context, Event};

use crate::guests;

fn limits() -> Limits {
    Limits { call_timeout: Duration::from_millis(100), ..Limits::default() }
}

fn stage(host: &WasmHost, name: &str, module: &Path, config: &str, on_error: OnError) -> StageSpec {
    StageSpec { name: name.to_owned(), module: host.load(name, module).unwrap(), config: config.to_owned(), on_error }
}

/// One context and an event per message (ids 0, 1, ...).
fn batch<'a>(messages: &[&'a str]) -> ([Context<'static>; 1], Vec<Event<'a>>) {
    let contexts = [Context {
        owner: Cow::Borrowed("123456789012"),
        log_group: Cow::Borrowed("/aws/lambda/orders-api"),
        log_stream: Cow::Borrowed("stream"),
    }];
    let events = messages
        .iter()
        .enumerate()
        .map(|(event_idx, message)| Event {
            record_idx: 0,
            context_idx: 0,
            id: Cow::Owned(event_idx.to_string()),
            timestamp: 1_764_324_000_000,
            message: Cow::Borrowed(*message),
            fields: None,
            index: None,
        })
        .collect();
    (contexts, events)
}

/// Runs `messages` (one event each, ids 0, 1, ...) through `chain` and renders every event's fate
/// in id order.
pub fn render_chain(chain: &mut Chain, messages: &[&str]) -> String {
    let (contexts, events) = batch(messages);
    let outcome = chain.apply(&contexts, events, None);
    let mut lines: Vec<(usize, String)> = Vec::new();
    for event in &outcome.kept {
        let mut line = format!("kept {}", event.message);
        if let Some(fields) = &event.fields {
            line.push_str(&format!(" fields={fields}"));
        }
        if event.timestamp != 1_764_324_000_000 {
            line.push_str(&format!(" timestamp={}", event.timestamp));
        }
        lines.push((event.id.parse().unwrap(), line));
    }
    for event in &outcome.dropped {
        lines.push((event.id.parse().unwrap(), "dropped".to_owned()));
    }
    for failure in &outcome.failed {
        lines.push((failure.event.id.parse().unwrap(), format!("failed in {}: {}", failure.transform, failure.reason)));
    }
    lines.sort_by_key(|(id, _)| *id);
    assert_eq!(lines.len(), messages.len(), "every event ends somewhere, once");
    lines.into_iter().map(|(id, line)| format!("{id}: {line}\n")).collect()
}

#[track_caller]
fn check(on_error: OnError, messages: &[&str], expect: Expect) {
    let host = WasmHost::new(limits()).unwrap();
    let spec = stage(&host, "hostile", &guests::module("test_guest"), "{}", on_error);
    let mut chain = Chain::new(&host, vec![spec]).unwrap();
    expect.assert_eq(&render_chain(&mut chain, messages));
}

#[test]
fn verdicts_and_patches() {
    check(
        OnError::DeadLetter,
        &["plain", "please drop", "upper me", "an error here", "plain again"],
        expect![[r#"
            0: kept plain
            1: dropped
            2: kept UPPER ME fields={"seen":{"by":"hostile"}}
            3: failed in hostile: refused "an error here"
            4: kept plain again
        "#]],
    );
}

#[test]
fn policies() {
    let messages = ["upper", "error", "panic"];
    check(
        OnError::Drop,
        &messages,
        expect![[r#"
            0: kept UPPER fields={"seen":{"by":"hostile"}}
            1: dropped
            2: dropped
        "#]],
    );
    check(
        OnError::Pass,
        &messages,
        expect![[r#"
            0: kept UPPER fields={"seen":{"by":"hostile"}}
            1: kept error
            2: kept panic
        "#]],
    );
}

#[test]
fn hostile_events_are_isolated_and_cost_at_most_their_deadline() {
    let mut messages: Vec<String> = (0..64).map(|i| format!("upper {i}")).collect();
    messages[5] = "panic".to_owned();
    messages[20] = "loop".to_owned();
    messages[33] = "bomb".to_owned();
    messages[40] = "huge".to_owned();
    messages[45] = "big".to_owned();
    messages[50] = "recurse".to_owned();
    let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
    let host = WasmHost::new(limits()).unwrap();
    let spec = stage(&host, "hostile", &guests::module("test_guest"), "{}", OnError::DeadLetter);
    let mut chain = Chain::new(&host, vec![spec]).unwrap();
    let started = Instant::now();
    let rendered = render_chain(&mut chain, &messages);
    let elapsed = started.elapsed();
    let failures: Vec<&str> = rendered.lines().filter(|line| !line.contains(": kept UPPER")).collect();
    // Every other event is its own, changed as the guest changes it: nothing of a trapping
    // neighbour leaks into it.
    for line in rendered.lines().filter(|line| line.contains(": kept UPPER")) {
        let (id, rest) = line.split_once(": ").unwrap();
        assert_eq!(rest, format!("kept UPPER {id} fields={{\"seen\":{{\"by\":\"hostile\"}}}}"), "{rendered}");
    }
    assert_eq!(rendered.lines().count() - failures.len(), 58, "{rendered}");
    expect![[r#"
        [
            "5: failed in hostile: panicked at test-guest/src/lib.rs:47:13: guest panicked on event 5",
            "20: failed in hostile: deadline exceeded: the call ran past 100 ms",
            "33: failed in hostile: memory cap exceeded: the transform asked for 68026368 bytes, the cap is 67108864 bytes",
            "40: failed in hostile: memory cap exceeded: the transform asked for 538116096 bytes, the cap is 67108864 bytes",
            "45: failed in hostile: output cap exceeded: the transform answered with 8388629 bytes for 133 bytes in (the cap is four times the input and 1 KiB per event, 1556 bytes)",
            "50: failed in hostile: wasm trap: out of bounds memory access",
        ]
    "#]]
    .assert_debug_eq(&failures);
    // Bisection runs the looping event about log2(64) + 1 times, each cut at the deadline.
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    // The chain is still usable, with a fresh instance.
    expect![[r#"
        0: kept a
        1: dropped
    "#]]
    .assert_eq(&render_chain(&mut chain, &["a", "drop"]).replace("kept A fields={\"seen\":{\"by\":\"hostile\"}}", "kept A"));
}

// Regression: events the batch deadline cut short were failed, so the transform's `on_error`
// policy dropped them, shipped them untransformed or dead-lettered them, and bisection blamed
// innocent events; they must go back to Kinesis instead.
#[test]
fn the_batch_deadline_leaves_events_unfinished_not_failed() {
    let host = WasmHost::new(Limits { call_timeout: Duration::from_secs(10), ..Limits::default() }).unwrap();
    for on_error in [OnError::DeadLetter, OnError::Drop, OnError::Pass] {
        let spec = stage(&host, "hostile", &guests::module("test_guest"), "{}", on_error);
        let mut chain = Chain::new(&host, vec![spec]).unwrap();
        let (contexts, events) = batch(&["upper a", "loop", "upper b"]);
        let started = Instant::now();
        let outcome = chain.apply(&contexts, events, Some(started + Duration::from_millis(150)));
        let elapsed = started.elapsed();
        let unfinished: Vec<&str> = outcome.unfinished.iter().map(|event| &*event.message).collect();
        assert_eq!(unfinished, ["upper a", "loop", "upper b"], "{on_error:?}");
        assert!(outcome.kept.is_empty() && outcome.dropped.is_empty() && outcome.failed.is_empty(), "{on_error:?}: {outcome:?}");
        // Cut at the batch deadline, not the 10 s call timeout, and not bisected.
        assert!(elapsed < Duration::from_secs(2), "{on_error:?} took {elapsed:?}");

        // Past the deadline nothing starts.
        let (contexts, events) = batch(&["upper c"]);
        let outcome = chain.apply(&contexts, events, Some(Instant::now()));
        assert_eq!(outcome.unfinished.len(), 1);
        // And without one the chain runs as before, on a fresh instance.
        assert_eq!(render_chain(&mut chain, &["a"]), "0: kept a\n");
    }
}

#[test]
fn loading_refuses_modules_outside_the_abi() {
    let host = WasmHost::new(limits()).unwrap();
    let load = |wat: &str| {
        let bytes = wat::parse_str(wat).unwrap();
        host.compile("bad", Path::new("bad.wasm"), &bytes).map(|_| ()).unwrap_err().to_string()
    };
    expect![[r#"transform bad: imports wasi_snapshot_preview1::fd_write, but transforms may import only from the host module `sluicegate` (log, panic)"#]]
        .assert_eq(&load(r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))"#));
    expect![[
        r#"transform bad: not a sluicegate transform for ABI version 1: missing export `sluicegate_abi_v1` (build it with sluicegate-sdk)"#
    ]]
    .assert_eq(&load(r#"(module (memory (export "memory") 1))"#));

    let error = Chain::new(
        &host,
        vec![StageSpec {
            name: "picky".to_owned(),
            module: host.load("picky", &guests::module("test_guest")).unwrap(),
            config: r#"{"fail_init": "no key given"}"#.to_owned(),
            on_error: OnError::DeadLetter,
        }],
    )
    .unwrap_err();
    assert!(matches!(error, WasmError::Init { .. }));
    expect!["transform picky: init failed: no key given"].assert_eq(&error.to_string());
    let error = Chain::new(
        &host,
        vec![StageSpec {
            name: "picky".to_owned(),
            module: host.load("picky", &guests::module("test_guest")).unwrap(),
            config: r#"{"fail_init": 3}"#.to_owned(),
            on_error: OnError::DeadLetter,
        }],
    )
    .unwrap_err();
    expect!["transform picky: init failed: bad configuration: invalid type: integer `3`, expected a string at line 1 column 15"]
        .assert_eq(&error.to_string());
}

/// A module that follows the ABI's shape but answers `process` with whatever `$answer` computes.
fn lying_module(answer: &str) -> String {
    format!(
        r#"(module
            (memory (export "memory") 2)
            (func (export "sluicegate_abi_v1") (result i32) i32.const 1)
            (func (export "sluicegate_buffer") (param i32) (result i32) i32.const 1024)
            (func (export "sluicegate_init") (param i32) (result i64) i64.const 0)
            (func (export "sluicegate_process") (param i32) (result i64) {answer}))"#
    )
}

#[test]
fn modules_of_another_abi_version_are_refused() {
    let host = WasmHost::new(limits()).unwrap();
    let bytes = wat::parse_str(lying_module("i64.const 0").replace("i32.const 1)", "i32.const 2)")).unwrap();
    let module = host.compile("future", Path::new("future.wasm"), &bytes).unwrap();
    let spec = StageSpec { name: "future".to_owned(), module, config: "{}".to_owned(), on_error: OnError::DeadLetter };
    let error = Chain::new(&host, vec![spec]).unwrap_err();
    expect!["transform future: cannot instantiate: the module speaks ABI version 2, this host speaks version 1"]
        .assert_eq(&error.to_string());
}

#[test]
fn answers_that_break_the_abi_fail_only_their_call() {
    let host = WasmHost::new(limits()).unwrap();
    let run = |answer: &str| {
        let bytes = wat::parse_str(lying_module(answer)).unwrap();
        let module = host.compile("liar", Path::new("liar.wasm"), &bytes).unwrap();
        let spec = StageSpec { name: "liar".to_owned(), module, config: "{}".to_owned(), on_error: OnError::DeadLetter };
        let mut chain = Chain::new(&host, vec![spec]).unwrap();
        render_chain(&mut chain, &["one", "two"])
    };
    // An area far outside memory.
    expect![[r#"
        0: failed in liar: the transform answered with 16 bytes at 4294901760, outside its memory of 131072 bytes
        1: failed in liar: the transform answered with 16 bytes at 4294901760, outside its memory of 131072 bytes
    "#]]
    .assert_eq(&run("i64.const 0xffff000000000010"));
    // An area inside memory, but zeros: the event count does not match.
    expect![[r#"
        0: failed in liar: the transform answered with a malformed reply event count at byte 0
        1: failed in liar: the transform answered with a malformed reply event count at byte 0
    "#]]
    .assert_eq(&run("i64.const 0x0000800000000010"));
    // Endless recursion in the guest's own code hits the stack cap.
    expect![[r#"
        0: failed in liar: stack overflow: the stack cap is 524288 bytes
        1: failed in liar: stack overflow: the stack cap is 524288 bytes
    "#]]
    .assert_eq(&run("local.get 0 call 3"));
    // A length that runs past the end of memory.
    expect![[r#"
        0: failed in liar: the transform answered with 4294967295 bytes at 0, outside its memory of 131072 bytes
        1: failed in liar: the transform answered with 4294967295 bytes at 0, outside its memory of 131072 bytes
    "#]]
    .assert_eq(&run("i64.const 0x00000000ffffffff"));
}

#[test]
fn precompiled_modules_load_when_compatible() {
    let folder = std::env::temp_dir().join(format!("sluicegate-cwasm-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let wasm = folder.join("test_guest.wasm");
    std::fs::copy(guests::module("test_guest"), &wasm).unwrap();
    let host = WasmHost::new(limits()).unwrap();
    assert!(!host.load("t", &wasm).unwrap().precompiled);

    let bytes = std::fs::read(&wasm).unwrap();
    std::fs::write(folder.join("test_guest.cwasm"), precompile(&bytes, &limits(), None).unwrap()).unwrap();
    assert!(host.load("t", &wasm).unwrap().precompiled);

    // Regression: a `.cwasm` older than its `.wasm` (the module was rebuilt after `sluicegate
    // compile`) was loaded anyway and ran the old code.
    let cwasm_time = std::fs::metadata(folder.join("test_guest.cwasm")).unwrap().modified().unwrap();
    let rebuilt = std::fs::File::options().write(true).open(&wasm).unwrap();
    rebuilt.set_modified(cwasm_time + std::time::Duration::from_secs(5)).unwrap();
    drop(rebuilt);
    assert!(!host.load("t", &wasm).unwrap().precompiled);
    let compiled = std::fs::File::options().write(true).open(folder.join("test_guest.cwasm")).unwrap();
    compiled.set_modified(cwasm_time + std::time::Duration::from_secs(10)).unwrap();
    drop(compiled);
    assert!(host.load("t", &wasm).unwrap().precompiled);

    // One made for another architecture is not used: the module is compiled instead.
    let other = if cfg!(target_arch = "aarch64") { "x86_64-unknown-linux-gnu" } else { "aarch64-unknown-linux-gnu" };
    std::fs::write(folder.join("test_guest.cwasm"), precompile(&bytes, &limits(), Some(other)).unwrap()).unwrap();
    let module = host.load("t", &wasm).unwrap();
    assert!(!module.precompiled);
    let mut chain =
        Chain::new(&host, vec![StageSpec { name: "t".to_owned(), module, config: "{}".to_owned(), on_error: OnError::Drop }]).unwrap();
    expect![[r#"
        0: dropped
    "#]]
    .assert_eq(&render_chain(&mut chain, &["drop"]));
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn a_perf_map_names_every_compiled_function_once() {
    let host = WasmHost::new(limits()).unwrap();
    for precompiled in [false, true] {
        let wasm = guests::module("test_guest");
        let module = if precompiled {
            let cwasm = precompile(&std::fs::read(&wasm).unwrap(), &limits(), None).unwrap();
            let folder = std::env::temp_dir().join(format!("sluicegate-perf-map-{}", std::process::id()));
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::copy(&wasm, folder.join("g.wasm")).unwrap();
            std::fs::write(folder.join("g.cwasm"), cwasm).unwrap();
            let module = host.load("guest", &folder.join("g.wasm")).unwrap();
            std::fs::remove_dir_all(&folder).unwrap();
            module
        } else {
            host.load("guest", &wasm).unwrap()
        };
        assert_eq!(module.precompiled, precompiled);
        let map = module.perf_map("guest");
        let mut ranges = Vec::new();
        for line in map.lines() {
            let mut parts = line.splitn(3, ' ');
            let start = usize::from_str_radix(parts.next().unwrap(), 16).unwrap();
            let size = usize::from_str_radix(parts.next().unwrap(), 16).unwrap();
            let name = parts.next().unwrap();
            assert!(name.starts_with("guest::") && name.len() > "guest::".len(), "{line}");
            ranges.push((start, start + size, name.to_owned()));
        }
        // The exports are there by name, and no two functions share an address.
        for export in ["sluicegate_process", "sluicegate_init", "sluicegate_buffer"] {
            assert!(ranges.iter().any(|(_, _, name)| name.ends_with(&format!("::{export}"))), "{export} in\n{map}");
        }
        ranges.sort();
        assert!(ranges.len() > 10);
        assert!(ranges.windows(2).all(|pair| pair[0].1 <= pair[1].0), "functions overlap");
    }
}

// Regression: after 32 traps in a slice, the remaining events got the transform's `on_error`
// policy without running, so a few crafted lines made healthy events ship unredacted (`pass`)
// or vanish (`drop`). A policy now applies only to an event's own failure.
#[test]
fn a_few_bad_events_cannot_make_healthy_ones_skip_the_transform() {
    let host = WasmHost::new(limits()).unwrap();
    for on_error in [OnError::Pass, OnError::Drop, OnError::DeadLetter] {
        let mut messages: Vec<String> = (0..1000).map(|i| format!("upper {i}")).collect();
        for bad in [3, 250, 611, 998] {
            messages[bad] = "panic".to_owned();
        }
        let (contexts, events) = batch(&messages.iter().map(String::as_str).collect::<Vec<_>>());
        let mut chain = Chain::new(&host, vec![stage(&host, "redactor", &guests::module("test_guest"), "{}", on_error)]).unwrap();
        let outcome = chain.apply(&contexts, events, None);
        let changed = outcome.kept.iter().filter(|event| event.message.starts_with("UPPER")).count();
        assert_eq!(changed, 996, "{on_error:?}: every healthy event ran");
        let counts = &outcome.counts[0];
        let failed_by_policy = counts.failed + counts.passed + counts.dropped;
        assert_eq!((failed_by_policy, counts.not_run), (4, 0), "{on_error:?}: {counts:?}");
    }
}

/// A module that loops on every event costs a bounded time per slice, and what it did not run
/// goes back to Kinesis (unfinished), never to its policy.
#[test]
fn a_module_that_loops_on_everything_costs_a_bounded_time_and_runs_nothing_by_policy() {
    let call_timeout = Duration::from_millis(10);
    let host = WasmHost::new(Limits { call_timeout, ..Limits::default() }).unwrap();
    let messages: Vec<&str> = std::iter::repeat_n("loop", 200).collect();
    for on_error in [OnError::Pass, OnError::Drop] {
        let (contexts, events) = batch(&messages);
        let mut chain = Chain::new(&host, vec![stage(&host, "looper", &guests::module("test_guest"), "{}", on_error)]).unwrap();
        let started = Instant::now();
        let outcome = chain.apply(&contexts, events, None);
        let elapsed = started.elapsed();
        let counts = &outcome.counts[0];
        // Sixteen timeouts of failing calls isolate a few events; the rest are not run.
        assert!(counts.not_run > 150 && counts.not_run == outcome.unfinished.len() as u64, "{on_error:?}: {counts:?}");
        assert_eq!(counts.passed + counts.dropped + counts.not_run, 200, "{on_error:?}: {counts:?}");
        assert!(outcome.kept.len() as u64 == counts.passed && outcome.dropped.len() as u64 == counts.dropped, "{on_error:?}");
        assert!(elapsed < Duration::from_secs(2), "{on_error:?}: took {elapsed:?}");
    }
}

/// Six modules that each fill their own cap must not take six times it: the chain's instances
/// share one cap, and the event that would cross it fails in the transform that asked.
#[test]
fn the_chain_shares_one_memory_cap() {
    // Filling 40 MiB takes a while on a loaded machine: a deadline must not be what fails.
    let host =
        WasmHost::new(Limits { memory_bytes: 64 << 20, chain_memory_bytes: 100 << 20, call_timeout: Duration::from_secs(20), ..limits() })
            .unwrap();
    let specs =
        (0..3).map(|stage_idx| stage(&host, &format!("holder{stage_idx}"), &guests::module("test_guest"), "{}", OnError::Pass)).collect();
    let mut chain = Chain::new(&host, specs).unwrap();
    let (contexts, events) = batch(&["hold 40"]);
    let outcome = chain.apply(&contexts, events, None);
    let failed: Vec<u64> = outcome.counts.iter().map(|counts| counts.passed).collect();
    // Two instances hold 40 MiB each; the third cannot take 40 more under 100 MiB.
    assert_eq!(failed, [0, 0, 1], "{:?}", outcome.counts);
    assert_eq!(outcome.kept.len(), 1, "passed through by its policy");
    // The trapped instance gave its memory back: a small event runs in every stage again.
    let (contexts, events) = batch(&["upper x"]);
    let outcome = chain.apply(&contexts, events, None);
    assert!(outcome.counts.iter().all(|counts| counts.is_clean()), "{:?}", outcome.counts);
}

/// A guest written with the SDK's short form, `export_filter!` with a typed configuration
/// (`transforms/short-filter`), runs in Wasm as it does in the native harness: its configuration
/// is read at init and refused there with serde's words for what is wrong, and an `Err` from the
/// function fails only its event, which gets the policy.
#[test]
fn a_short_form_filter_with_a_typed_configuration() {
    let host = WasmHost::new(limits()).unwrap();
    let module = guests::module("short_filter");
    let start = |config: &str, on_error| Chain::new(&host, vec![stage(&host, "short", &module, config, on_error)]);
    let messages = ["level=info paid", "level=debug paid", "paid", "level=warn late"];
    let config = r#"{"drop": "debug", "require": "level="}"#;
    expect![[r#"
        0: kept level=info paid
        1: dropped
        2: failed in short: no "level=" in the message
        3: kept level=warn late
    "#]]
    .assert_eq(&render_chain(&mut start(config, OnError::DeadLetter).unwrap(), &messages));
    expect![[r#"
        0: kept level=info paid
        1: dropped
        2: kept paid
        3: kept level=warn late
    "#]]
    .assert_eq(&render_chain(&mut start(config, OnError::Pass).unwrap(), &messages));

    let errors: String = [r#"{"drop": 5}"#, r#"{"drop": "debug", "requires": "level="}"#, "null", ""]
        .map(|config| format!("config `{config}`\n  {}\n", start(config, OnError::DeadLetter).unwrap_err()))
        .concat();
    expect![[r#"
        config `{"drop": 5}`
          transform short: init failed: bad configuration: invalid type: integer `5`, expected a string at line 1 column 10
        config `{"drop": "debug", "requires": "level="}`
          transform short: init failed: bad configuration: unknown field `requires`, expected `drop` or `require` at line 1 column 28
        config `null`
          transform short: init failed: bad configuration: missing field `drop` (the transform got no configuration)
        config ``
          transform short: init failed: bad configuration: missing field `drop` (the transform got no configuration)
    "#]]
    .assert_eq(&errors);
}

#[test]
fn a_transform_sets_only_valid_allowed_indices() {
    let host = WasmHost::new(limits()).unwrap();
    let spec = stage(&host, "router", &guests::module("test_guest"), "{}", OnError::DeadLetter);
    let mut chain = Chain::new(&host, vec![spec]).unwrap().allow_indices(Some("cwl-*".to_owned()));
    expect![[r#"
        0: kept index cwl-orders
        1: failed in router: index "secrets" set by the transform: the pipeline allows only indices matching "cwl-*"
        2: failed in router: index "Cwl-UPPER" set by the transform: index names must be lowercase
    "#]]
    .assert_eq(&render_chain(&mut chain, &["index cwl-orders", "index secrets", "index Cwl-UPPER"]));
}

/// A start function that loops is cut at the deadline and said so on one line, like a call.
#[test]
fn a_looping_start_function_reports_the_deadline() {
    let host = WasmHost::new(limits()).unwrap();
    let looping = lying_module("i64.const 0")
        .replace("(memory (export \"memory\") 2)", "(memory (export \"memory\") 2) (func $spin (loop $again (br $again))) (start $spin)");
    let module = host.compile("spinner", Path::new("spinner.wasm"), &wat::parse_str(looping).unwrap()).unwrap();
    let spec = StageSpec { name: "spinner".to_owned(), module, config: "{}".to_owned(), on_error: OnError::DeadLetter };
    let error = Chain::new(&host, vec![spec]).unwrap_err().to_string();
    assert_eq!(error, "transform spinner: cannot instantiate: deadline exceeded: the call ran past 100 ms");
}

// Regression: a transform failure's dead letter held the event as the failing transform got
// it, so a redactor that failed put the personal data it was there to remove into the bucket.
#[test]
fn transform_dead_letters_hold_metadata_unless_the_pipeline_asks_for_the_event() {
    let gzip = sluicegate_engine::corpus::gzip_json(
        br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[{"id":"7","timestamp":5,"message":"an error for ana@example.com"}]}"#,
    );
    let batch = sluicegate_engine::corpus::kinesis_event_from_payloads(&[gzip]);
    let run = |content: sluicegate_engine::DeadLetterContent| {
        let host = WasmHost::new(limits()).unwrap();
        let chain = Chain::new(&host, vec![stage(&host, "redact", &guests::module("test_guest"), "{}", OnError::DeadLetter)]).unwrap();
        let config = sluicegate_engine::PipelineConfig { transform_dead_letters: content, ..sluicegate_engine::PipelineConfig::default() };
        let outcome = sluicegate_engine::Pipeline::with_transforms(config, Box::new(chain)).run(&batch, None);
        String::from_utf8(sluicegate_engine::dead_letter::ndjson(&outcome.dead_letters)).unwrap()
    };
    let metadata = run(sluicegate_engine::DeadLetterContent::default());
    // The reason is the transform's own error text (this one quotes the message; a redactor's
    // should not), the original is the event's metadata alone.
    let original = &metadata[metadata.find(r#""original""#).unwrap()..];
    assert!(!original.contains("ana@example.com"), "{metadata}");
    assert!(
        metadata.contains(r#""original":{"owner":"1","logGroup":"g","logStream":"s","id":"7","timestamp":5,"messageBytes":28}"#),
        "{metadata}"
    );
    let event = run(sluicegate_engine::DeadLetterContent::Event);
    assert!(event.contains(r#""message":"an error for ana@example.com""#), "{event}");
}
