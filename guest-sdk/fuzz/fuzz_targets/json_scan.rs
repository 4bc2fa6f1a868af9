//! `json_scan` against serde_json, the reference it must agree with: any text is a valid object,
//! valid JSON that is not an object, or invalid, for both; and an object's members, as the scanner
//! reports them, are serde_json's values for their keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sluicegate_abi::json_scan::object_members;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut members = Vec::new();
    let ours = object_members(text, |member| members.push((member.decoded_key(text).into_owned(), member.value(text).to_owned())))
        .map(|_| ())
        .map_err(|error| error.is_not_an_object());
    let reference = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(_)) => Ok(()),
        Ok(_) => Err(true),
        Err(_) => Err(false),
    };
    assert_eq!(ours, reference, "{text:?}");
    if ours.is_ok() {
        let whole: Value = serde_json::from_str(text).expect("checked above");
        for (member_idx, (key, value)) in members.iter().enumerate() {
            // serde_json keeps the last of repeated keys.
            if members[member_idx + 1..].iter().any(|(later, _)| later == key) {
                continue;
            }
            let value: Value = serde_json::from_str(value).expect("a member's value is JSON");
            assert_eq!(value, whole[key], "{text:?}");
        }
    }
});
