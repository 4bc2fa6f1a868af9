//! The built-in transforms (`filter`, `redact`, `extract`) through the real Wasm modules, alone
//! and as the demo chain over the standard corpus.

use std::path::Path;
use std::time::Duration;

use expect_test::{Expect, expect};
use sluicegate_engine::corpus::{self, CorpusSpec};
use sluicegate_engine::pipeline_file::PipelineFile;
use sluicegate_engine::wasm::{Chain, Limits, OnError, StageSpec, WasmHost};
use sluicegate_engine::{Pipeline, PipelineConfig};

use crate::guests;
use crate::wasm_host::render_chain;

fn host() -> WasmHost {
    WasmHost::new(Limits { call_timeout: Duration::from_secs(2), ..Limits::default() }).unwrap()
}

#[track_caller]
fn check(transform: &str, config: &str, messages: &[&str], expect: Expect) {
    let host = host();
    let module = host.load(transform, &guests::module(transform)).unwrap();
    let spec = StageSpec { name: transform.to_owned(), module, config: config.to_owned(), on_error: OnError::DeadLetter };
    let mut chain = Chain::new(&host, vec![spec]).unwrap();
    expect.assert_eq(&render_chain(&mut chain, messages));
}

/// Like [`check`] for many messages: each rendered line against its expected line, so that a
/// failure names the first line that differs.
#[track_caller]
fn check_lines(transform: &str, config: &str, messages: &[String], expected: &[String]) {
    let host = host();
    let module = host.load(transform, &guests::module(transform)).unwrap();
    let spec = StageSpec { name: transform.to_owned(), module, config: config.to_owned(), on_error: OnError::DeadLetter };
    let mut chain = Chain::new(&host, vec![spec]).unwrap();
    let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
    let rendered = render_chain(&mut chain, &messages);
    let rendered: Vec<&str> = rendered.lines().collect();
    assert_eq!(rendered.len(), expected.len());
    for (got, want) in rendered.iter().zip(expected) {
        assert_eq!(got, want);
    }
}

#[test]
fn filter() {
    check(
        "filter",
        r#"{"drop":[{"field":"level","in":["DEBUG","TRACE"]},{"message":"GET /healthz"}],"keep":[{"log_group":"/aws/lambda/*"}]}"#,
        &[r#"{"level":"DEBUG","msg":"a"}"#, r#"{"level":"INFO","msg":"b"}"#, "GET /healthz 200", "other"],
        expect![[r#"
            0: dropped
            1: kept {"level":"INFO","msg":"b"}
            2: dropped
            3: kept other
        "#]],
    );
}

#[test]
fn redact() {
    check(
        "redact",
        r#"{"mode":"mask"}"#,
        &[
            "user jane@example.com paid with 4111 1111 1111 1111 from 10.0.0.1",
            "not a card 4111 1111 1111 1112, version 1.2.3.4.5, https://a.example/?next=/x",
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl key AKIAIOSFODNN7EXAMPLE",
        ],
        expect![[r#"
            0: kept user [REDACTED:email] paid with [REDACTED:credit_card] from [REDACTED:ipv4]
            1: kept not a card 4111 1111 1111 1112, version 1.2.3.4.5, https://a.example/?next=/x
            2: kept Authorization: Bearer [REDACTED:jwt] key [REDACTED:aws_access_key]
        "#]],
    );
}

/// The module finds where its detectors may match in 64-byte blocks, sixteen bytes a step with
/// Wasm SIMD, which the transform's native tests do not run: each case is shifted across more
/// than one block of positions (the number cases with a space, a word byte, a dot or nothing just
/// before them) and must redact the same at every one.
#[test]
fn redact_finds_what_it_looks_for_at_every_position_of_a_block() {
    // The input, its redaction, and its redaction when a word byte or a dot comes just before.
    let cases = [
        ("4111 1111 1111 1111 from 10.0.0.1", "[REDACTED:credit_card] from [REDACTED:ipv4]", "4111 1111 1111 1111 from [REDACTED:ipv4]"),
        ("10.0.0.1 9", "[REDACTED:ipv4] 9", "10.0.0.1 9"),
        (
            "4111111111111111 10.0.0.1 4111-1111-1111-1111",
            "4111111111111111 [REDACTED:ipv4] [REDACTED:credit_card]",
            "4111111111111111 [REDACTED:ipv4] [REDACTED:credit_card]",
        ),
        (
            "1.2.3.4.5 v10.1.2.3 256.1.1.1 10.0.0.1.",
            "1.2.3.4.5 v10.1.2.3 256.1.1.1 [REDACTED:ipv4].",
            "1.2.3.4.5 v10.1.2.3 256.1.1.1 [REDACTED:ipv4].",
        ),
        (
            "bab12a02-11b5-3b32-7431-c4a133c2d0f6 T10:12:43.335Z 10.0.0.1",
            "bab12a02-11b5-3b32-7431-c4a133c2d0f6 T10:12:43.335Z [REDACTED:ipv4]",
            "bab12a02-11b5-3b32-7431-c4a133c2d0f6 T10:12:43.335Z [REDACTED:ipv4]",
        ),
        (
            "x_4111111111111111 a.10.0.0.1 _10.0.0.1 -10.0.0.1",
            "x_4111111111111111 a.10.0.0.1 _10.0.0.1 -[REDACTED:ipv4]",
            "x_4111111111111111 a.10.0.0.1 _10.0.0.1 -[REDACTED:ipv4]",
        ),
    ];
    let mut messages = Vec::new();
    let mut expected = Vec::new();
    for (input, output, output_in_a_word) in cases {
        for pad in 0..70 {
            for (before, redacted) in [
                ("", output),
                (" ", output),
                ("a", output_in_a_word),
                ("z", output_in_a_word),
                ("Z", output_in_a_word),
                ("_", output_in_a_word),
                (".", output_in_a_word),
            ] {
                let prefix = format!("{}{before}", "-".repeat(pad));
                expected.push(format!("{}: kept {prefix}{redacted}", messages.len()));
                messages.push(format!("{prefix}{input}"));
            }
        }
    }
    // The other detectors start from bits of the same blocks (`@`, `:`, `A`, `e`).
    let others = [
        ("mail jane.doe@example.co.uk now", "mail [REDACTED:email] now"),
        ("peer 2001:db8::8a2e:370:7334 at 10:20:30", "peer [REDACTED:ipv6] at 10:20:30"),
        ("addr ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff end", "addr [REDACTED:ipv6] end"),
        ("key AKIAIOSFODNN7EXAMPLE used", "key [REDACTED:aws_access_key] used"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY done", "aws_secret_access_key=[REDACTED:aws_secret_key] done"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end", "token [REDACTED:jwt] end"),
        ("Authorization: BEARER abcDEF123456.xyz", "Authorization: BEARER [REDACTED:bearer]"),
    ];
    for (input, output) in others {
        for pad in 0..70 {
            let prefix = " ".repeat(pad);
            expected.push(format!("{}: kept {prefix}{output}", messages.len()));
            messages.push(format!("{prefix}{input}"));
        }
    }
    check_lines("redact", r#"{"mode":"mask"}"#, &messages, &expected);
}

#[test]
fn extract() {
    check(
        "extract",
        r#"{"timestamp":"time"}"#,
        &[
            "REPORT RequestId: 3f1c\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 512 MB\tMax Memory Used: 74 MB\t",
            r#"{"level":"warn","time":"2025-11-28T10:00:01.500Z","msg":"slow"}"#,
            "time=2025-11-28T10:00:02Z level=info msg=ok qty=3",
            r#"10.0.0.7 - - [28/Nov/2025:10:01:02 +0000] "GET / HTTP/1.1" 200 5"#,
            "{broken",
        ],
        expect![[r#"
            0: kept REPORT RequestId: 3f1c	Duration: 102.25 ms	Billed Duration: 103 ms	Memory Size: 512 MB	Max Memory Used: 74 MB	 fields={"aws":{"lambda":{"billed_duration_ms":103,"duration_ms":102.25,"max_memory_used_mb":74,"memory_size_mb":512,"request_id":"3f1c","type":"report"}}}
            1: kept {"level":"warn","time":"2025-11-28T10:00:01.500Z","msg":"slow"} fields={"attributes":{"level":"warn","time":"2025-11-28T10:00:01.500Z","msg":"slow"},"log":{"level":"WARN"}} timestamp=1764324001500
            2: kept time=2025-11-28T10:00:02Z level=info msg=ok qty=3 fields={"attributes":{"time":"2025-11-28T10:00:02Z","level":"info","msg":"ok","qty":3},"log":{"level":"INFO"}} timestamp=1764324002000
            3: kept 10.0.0.7 - - [28/Nov/2025:10:01:02 +0000] "GET / HTTP/1.1" 200 5 fields={"http":{"request":{"method":"GET"},"response":{"body":{"bytes":5},"status_code":200},"version":"1.1"},"source":{"address":"10.0.0.7"},"url":{"original":"/"}}
            4: kept {broken
        "#]],
    );
}

/// extract finds a logfmt line's token ends in 64-byte blocks, sixteen bytes a step with Wasm
/// SIMD, which its native tests do not run: lines of pairs that shift a quoted value with
/// escapes, and a value that needs escaping, across more than one block of positions.
#[test]
fn extract_reads_logfmt_at_every_position_of_a_block() {
    let mut messages = Vec::new();
    let mut expected = Vec::new();
    for n_before in 0..24 {
        let pairs: Vec<(String, String)> = (0..n_before).map(|idx| (format!("k{idx}"), "v".repeat(idx % 3 + 1))).collect();
        let before: String = pairs.iter().map(|(key, value)| format!("{key}={value} ")).collect();
        messages.push(format!(r#"{before}level=warn msg="a \"b\" c=d" tab=x\ty n=42"#));
        let fields: String = pairs.iter().map(|(key, value)| format!(r#""{key}":"{value}","#)).collect();
        // The line's own fields under `attributes`, the level typed at the root.
        expected.push(format!(
            r#"{}: kept {} fields={{"attributes":{{{fields}"level":"warn","msg":"a \"b\" c=d","tab":"x\\ty","n":42}},"log":{{"level":"WARN"}}}}"#,
            expected.len(),
            messages.last().unwrap()
        ));
    }
    check_lines("extract", "{}", &messages, &expected);
}

/// Writes the demo pipeline file next to copies of the modules and returns its path.
pub fn demo_pipeline(folder: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(folder.join("transforms")).unwrap();
    for name in ["filter", "redact", "extract"] {
        std::fs::copy(guests::module(name), folder.join("transforms").join(format!("{name}.wasm"))).unwrap();
    }
    let path = folder.join("pipeline.json");
    std::fs::write(
        &path,
        r#"{"transforms":[
            {"name":"filter","module":"transforms/filter.wasm","config":{"drop":[{"message":"GET /healthz"},{"field":"level","in":["DEBUG"]}]}},
            {"name":"redact","module":"transforms/redact.wasm","config":{"mode":"mask"}},
            {"name":"extract","module":"transforms/extract.wasm","config":{},"on_error":"dead-letter"}
        ]}"#,
    )
    .unwrap();
    path
}

#[test]
fn demo_chain_over_the_standard_corpus() {
    let folder = std::env::temp_dir().join(format!("sluicegate-demo-chain-{}", std::process::id()));
    let path = demo_pipeline(&folder);
    let file = PipelineFile::read(&path).unwrap();
    let host = host();
    let chain = file.start(&host, &path).unwrap();
    let mut pipeline = Pipeline::with_transforms(PipelineConfig::default(), Box::new(chain));
    let batch = corpus::kinesis_event(CorpusSpec::STANDARD);
    let outcome = pipeline.run(&batch, None);
    let n_events: u32 = outcome.records.iter().map(|record| record.n_events).sum();
    let n_shipped: u32 = outcome.records.iter().map(|record| record.n_shipped).sum();
    let n_dropped: u32 = outcome.records.iter().map(|record| record.n_dropped).sum();
    assert_eq!(n_events, 10_000);
    assert!(outcome.dead_letters.is_empty(), "{:?}", outcome.dead_letters.first().map(|dead| &dead.reason));
    assert_eq!(n_shipped + n_dropped, n_events);
    assert!(n_dropped > 200 && n_dropped < 3000, "{n_dropped} dropped");

    let bodies: String = outcome.bulk.iter().map(|body| String::from_utf8_lossy(&body.body).into_owned()).collect();
    // Nothing personal survives: no corpus email, card or client IP reaches the documents.
    assert!(!bodies.contains("@example.com"));
    assert!(!bodies.contains("4111 1111 1111 1111"));
    assert!(!bodies.contains(r#""message":"10.0."#));
    // Every line is JSON, and documents keep their base fields next to the added ones (the
    // merge has a fast path for fields that add only new keys, and a slow one for `aws`).
    for line in bodies.lines().skip(1).step_by(2) {
        let document: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(document["aws"]["cloudwatch"]["log_group"].is_string() && document["event"]["id"].is_string(), "{line}");
    }
    assert!(bodies.contains(r#""log":{"level":"WARN"}"#));
    assert!(bodies.contains(r#""max_memory_used_mb":"#));
    // No false positives on the corpus's ordinary text: only these kinds are ever redacted, and
    // versions, hosts, ids and hashes stay.
    let mut kinds: Vec<&str> = bodies.split("[REDACTED:").skip(1).filter_map(|rest| rest.split(']').next()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    expect![[r#"["credit_card", "email", "ipv4"]"#]].assert_eq(&format!("{kinds:?}"));
    assert!(bodies.contains("version=2.14."));
    assert!(bodies.contains("ip-10-0-1-23.eu-west-1.compute.internal"));
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn pipeline_file_errors_name_the_transform() {
    let folder = std::env::temp_dir().join(format!("sluicegate-bad-pipeline-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(guests::module("redact"), folder.join("redact.wasm")).unwrap();
    let path = folder.join("pipeline.json");
    let start = |text: &str| {
        std::fs::write(&path, text).unwrap();
        let file = PipelineFile::read(&path).map_err(|error| error.to_string())?;
        file.start(&host(), &path).map(|_| ()).map_err(|error| error.to_string())
    };
    let error = start(r#"{"transforms":[{"name":"pii","module":"redact.wasm","config":{"mode":"hash"}}]}"#).unwrap_err();
    assert!(error.ends_with("transform pii: init failed: mode hash needs a key"), "{error}");
    let error = start(r#"{"transforms":[{"name":"pii","module":"missing.wasm"}]}"#).unwrap_err();
    assert!(error.contains("transform pii: cannot read"), "{error}");
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn a_pinned_module_starts_only_with_its_own_bytes() {
    let folder = std::env::temp_dir().join(format!("sluicegate-pinned-pipeline-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let redact = std::fs::read(guests::module("redact")).unwrap();
    std::fs::write(folder.join("redact.wasm"), &redact).unwrap();
    let path = folder.join("pipeline.json");
    let start = |sha256: &str| {
        let text = format!(r#"{{"transforms":[{{"name":"pii","module":"redact.wasm","config":{{"mode":"mask"}},"sha256":"{sha256}"}}]}}"#);
        std::fs::write(&path, text).unwrap();
        let file = PipelineFile::read(&path).map_err(|error| error.to_string())?;
        file.start(&host(), &path).map(|_| ()).map_err(|error| error.to_string())
    };
    let own = sluicegate_engine::pipeline_file::sha256_hex(&redact);
    start(&own).unwrap();
    // Upper case is how some tools print it; the pin is the same.
    start(&own.to_ascii_uppercase()).unwrap();

    // A module rebuilt (or another packed under its name) after the pipeline was written: the
    // chain does not start, and the error names the transform, the file and both digests.
    let filter = std::fs::read(guests::module("filter")).unwrap();
    std::fs::write(folder.join("redact.wasm"), &filter).unwrap();
    let found = sluicegate_engine::pipeline_file::sha256_hex(&filter);
    let error = start(&own).unwrap_err();
    assert!(
        error.contains(&format!("transform pii: {} has sha256 {found}, but the pipeline pins {own}", folder.join("redact.wasm").display())),
        "{error}"
    );
    // A precompiled module does not skip the check: the .wasm beside it is what is pinned.
    std::fs::write(folder.join("redact.cwasm"), sluicegate_engine::wasm::precompile(&filter, &host().limits(), None).unwrap()).unwrap();
    assert!(start(&own).unwrap_err().contains("but the pipeline pins"));
    std::fs::remove_file(folder.join("redact.wasm")).unwrap();
    let error = start(&own).unwrap_err();
    assert!(error.contains("transform pii: cannot read") && error.contains("pins its sha256"), "{error}");

    let error = PipelineFile::parse(r#"{"transforms":[{"name":"pii","module":"m.wasm","sha256":"abc"}]}"#, &folder).unwrap_err();
    assert_eq!(error, r#"transform pii: sha256 is the module's SHA-256 as 64 hex digits, not "abc""#);
    std::fs::remove_dir_all(&folder).unwrap();
}

/// Guards against a guest crate without a host test: every member of the transforms workspace
/// must be loaded by name somewhere in these tests.
#[test]
fn every_guest_has_a_host_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let manifest = std::fs::read_to_string(root.join("transforms/Cargo.toml")).unwrap();
    let members_line = manifest.lines().find(|line| line.starts_with("members")).unwrap();
    let tests: String = ["transforms.rs", "wasm_host.rs"]
        .iter()
        .map(|file| std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it").join(file)).unwrap())
        .collect();
    for member in members_line.split('"').skip(1).step_by(2) {
        let crate_name = member.replace('-', "_");
        let used =
            tests.contains(&format!("guests::module(\"{crate_name}\")")) || tests.contains(&format!("check(\n        \"{crate_name}\""));
        assert!(used, "transforms/{member} has no host test through its wasm module");
    }
}
