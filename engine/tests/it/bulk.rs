//! `_bulk` bodies: splitting at the size limit, subsets for retries, and response classification.

use expect_test::expect;
use sluicegate_engine::bulk::{BulkAction, BulkBody, BulkWriter, ItemResult, classify};

fn body_of(n_items: usize, max_bytes: usize) -> Vec<BulkBody> {
    let mut writer = BulkWriter::new(BulkAction::Index, max_bytes);
    for item_idx in 0..n_items {
        writer
            .push(item_idx as u32, "i", &item_idx.to_string(), |out| {
                out.extend_from_slice(format!("{{\"n\":{item_idx}}}").as_bytes());
                Ok::<(), ()>(())
            })
            .unwrap();
    }
    writer.finish()
}

#[test]
fn bodies_split_at_the_limit_and_keep_every_item() {
    let item_bytes = body_of(1, usize::MAX)[0].body.len();
    let bodies = body_of(10, item_bytes * 3);
    assert_eq!(bodies.iter().map(|body| body.items.len()).collect::<Vec<_>>(), [3, 3, 3, 1]);
    for body in &bodies {
        assert!(body.body.len() <= item_bytes * 3);
        // Each item's range is exactly its two lines.
        for item in &body.items {
            let lines = std::str::from_utf8(&body.body[item.range.clone()]).unwrap();
            assert_eq!(lines.lines().count(), 2);
            assert!(lines.contains(&format!("\"_id\":\"{}\"", item.record_idx)));
        }
    }
    // One item larger than the limit still goes, alone.
    assert_eq!(body_of(2, 1).iter().map(|body| body.items.len()).collect::<Vec<_>>(), [1, 1]);
}

#[test]
fn an_expected_size_allocates_each_body_once() {
    let push_all = |writer: &mut BulkWriter, n_items: usize| {
        let mut body_starts = Vec::new();
        for item_idx in 0..n_items {
            writer
                .push(0, "logs-2025.11.28", &format!("{item_idx:056}"), |out| {
                    out.extend_from_slice(format!("{{\"message\":\"{}\"}}", "x".repeat(200)).as_bytes());
                    body_starts.push(out.as_ptr() as usize);
                    Ok::<(), ()>(())
                })
                .unwrap();
        }
        body_starts
    };
    let item_bytes = body_of(1, usize::MAX)[0].body.len() + 56 + 200 + 16;
    let mut writer = BulkWriter::new(BulkAction::Index, 64 << 10);
    writer.expect(2_000 * (item_bytes + 64));
    let starts = push_all(&mut writer, 2_000);
    let bodies = writer.finish();
    assert!(bodies.len() > 2, "the items fill several bodies");
    // Every item of a body was written at the same address: the body never moved (grew).
    let n_distinct = starts.windows(2).filter(|pair| pair[0] != pair[1]).count() + 1;
    assert_eq!(n_distinct, bodies.len());
    for body in &bodies {
        assert!(body.body.capacity() <= (64 << 10) + (256 << 10), "a body reserves its limit and slack, not the whole batch");
    }
}

#[test]
fn subsets_and_halves_rebuild_valid_bodies() {
    let body = body_of(5, usize::MAX).remove(0);
    let subset = body.subset(&[1, 3]);
    expect![[r#"
        {"index":{"_index":"i","_id":"1"}}
        {"n":1}
        {"index":{"_index":"i","_id":"3"}}
        {"n":3}
    "#]]
    .assert_eq(std::str::from_utf8(&subset.body).unwrap());
    assert_eq!(subset.document(1), b"{\"n\":3}");
    let (first, second) = body.split_in_half().unwrap();
    assert_eq!((first.items.len(), second.items.len()), (2, 3));
    assert_eq!([first.body, second.body].concat(), body.body);
}

#[test]
fn classifies_each_item() {
    let items = [
        r#"{"index":{"_id":"0","status":201}}"#,
        r#"{"index":{"_id":"1","status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}}"#,
        r#"{"index":{"_id":"2","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [n]"}}}"#,
        r#"{"index":{"_id":"3","status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}}"#,
        r#"{"index":{"_id":"4","status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}}"#,
        r#"{"index":{"_id":"5","status":400,"error":{"type":"es_rejected_execution_exception","reason":"rejected"}}}"#,
        r#"{"index":{"_id":"6","status":200}}"#,
        r#"{"index":{"_id":"7","status":400,"error":{"type":"illegal_argument_exception","reason":"Limit of total fields [1000] has been exceeded"}}}"#,
        r#"{"index":{"_id":"8","status":400,"error":{"type":"illegal_argument_exception","reason":"mapper [status] cannot be changed from type [long] to [text]"}}}"#,
        r#"{"index":{"_id":"9","status":400,"error":{"type":"document_parsing_exception","reason":"[1:20] failed to parse field [user]"}}}"#,
        r#"{"index":{"_id":"10","status":400,"error":{"type":"strict_dynamic_mapping_exception","reason":"mapping set to strict"}}}"#,
        r#"{"index":{"_id":"11","status":400,"error":{"type":"illegal_argument_exception","reason":"Document contains at least one immense term"}}}"#,
        r#"{"index":{"_id":"12","status":400,"error":{"type":"invalid_index_name_exception","reason":"must be lowercase"}}}"#,
        r#"{"index":{"_id":"13","status":403,"error":{"type":"cluster_block_exception","reason":"index [cwl] blocked by: [FORBIDDEN/8/index write (api)]"}}}"#,
        r#"{"index":{"_id":"14","status":403,"error":{"type":"security_exception","reason":"no permissions for [indices:data/write/bulk[s]]"}}}"#,
        r#"{"index":{"_id":"15","status":404,"error":{"type":"index_not_found_exception","reason":"no such index [cwl]"}}}"#,
        r#"{"index":{"_id":"16","status":404,"error":{"type":"document_missing_exception","reason":"missing"}}}"#,
    ];
    let body = body_of(items.len(), usize::MAX).remove(0);
    let response = format!(r#"{{"took":3,"errors":true,"items":[{}]}}"#, items.join(","));
    let results = classify(response.as_bytes(), &body, BulkAction::Index).unwrap();
    let kinds: Vec<String> = results
        .iter()
        .enumerate()
        .map(|(item_idx, result)| match result {
            ItemResult::Delivered => format!("{item_idx} delivered"),
            ItemResult::Retry { status, .. } => format!("{item_idx} retry {status}"),
            ItemResult::Mapping { .. } => format!("{item_idx} mapping"),
            ItemResult::Reject { status, .. } => format!("{item_idx} reject {status}"),
        })
        .collect();
    // A 400 for the document's shape is worth a degraded try; a 403 or 404 of the cluster is
    // retried like a 429; any other 4xx is for good.
    expect![[r#"
        0 delivered
        1 retry 429
        2 mapping
        3 retry 503
        4 reject 409
        5 retry 400
        6 delivered
        7 mapping
        8 mapping
        9 mapping
        10 mapping
        11 reject 400
        12 reject 400
        13 retry 403
        14 retry 403
        15 retry 404
        16 reject 404"#]]
    .assert_eq(&kinds.join("\n"));
    // With `create`, 409 means the document is already there: delivered.
    assert_eq!(classify(response.as_bytes(), &body, BulkAction::Create).unwrap()[4], ItemResult::Delivered);
    let ItemResult::Mapping { status, error } = &results[2] else { unreachable!() };
    assert_eq!(*status, 400);
    assert!(error.contains("mapper_parsing_exception"));
}

#[test]
fn without_ids_the_cluster_assigns_them() {
    let mut writer = BulkWriter::new(BulkAction::Create, 1 << 20).without_ids();
    for n in 0..2 {
        writer
            .push(0, "i", &n.to_string(), |out| {
                out.extend_from_slice(b"{}");
                Ok::<_, std::convert::Infallible>(())
            })
            .unwrap();
    }
    expect![[r#"
        {"create":{"_index":"i"}}
        {}
        {"create":{"_index":"i"}}
        {}
    "#]]
    .assert_eq(std::str::from_utf8(&writer.finish()[0].body).unwrap());
}

#[test]
fn degraded_documents_keep_their_action_lines() {
    let body = body_of(3, usize::MAX).remove(0);
    let replaced = body.with_documents(&[(0, b"{\"d\":0}".to_vec()), (2, b"{\"d\":2}".to_vec())]);
    expect![[r#"
        {"index":{"_index":"i","_id":"0"}}
        {"d":0}
        {"index":{"_index":"i","_id":"2"}}
        {"d":2}
    "#]]
    .assert_eq(std::str::from_utf8(&replaced.body).unwrap());
    assert_eq!(replaced.document(1), b"{\"d\":2}");
    assert_eq!(replaced.items.iter().map(|item| item.record_idx).collect::<Vec<_>>(), [body.items[0].record_idx, body.items[2].record_idx]);
}

#[test]
fn a_response_that_does_not_match_the_request_is_an_error() {
    let body = body_of(2, usize::MAX).remove(0);
    assert!(classify(br#"{"errors":false,"items":[{"index":{"status":201}}]}"#, &body, BulkAction::Index).is_err());
    assert!(classify(b"<html>bad gateway</html>", &body, BulkAction::Index).is_err());
    assert_eq!(classify(br#"{"errors":false,"items":[{},{}]}"#, &body, BulkAction::Index).unwrap(), vec![ItemResult::Delivered; 2]);
}
