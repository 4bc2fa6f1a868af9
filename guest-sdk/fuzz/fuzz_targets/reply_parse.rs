//! The host's reading of a guest's reply: whatever bytes a hostile guest answers with, reading
//! them fails or succeeds, it never panics, and every text it hands out lies inside the reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluicegate_abi::{Patch, Reply};

fuzz_target!(|data: &[u8]| {
    // The first byte chooses how many events the frame had, the rest is the reply.
    let Some((&n_events, bytes)) = data.split_first() else { return };
    let Ok(reply) = Reply::parse(bytes, usize::from(n_events % 16)) else { return };
    let _ = reply.verdicts().count();
    let Ok(patches) = reply.patches() else { return };
    let range = bytes.as_ptr_range();
    let inside = |text: &str| text.is_empty() || (range.contains(&text.as_ptr()) && text.len() <= bytes.len());
    for patch in patches {
        match patch {
            Patch::Failed { reason, .. } => assert!(inside(reason)),
            Patch::Modified { changes, .. } => {
                for text in [changes.message, changes.fields.flatten(), changes.index.flatten()].into_iter().flatten() {
                    assert!(inside(text));
                }
            }
        }
    }
});
