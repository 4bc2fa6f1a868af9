//! A misbehaving transform for the host's containment tests: what it does to an event depends on
//! the event's message.
//!
//! | message contains | the transform |
//! |---|---|
//! | `panic` | panics with a message |
//! | `loop` | never returns |
//! | `bomb` | allocates until the memory cap stops it |
//! | `huge` | answers with a message of 512 MiB |
//! | `big` | answers with a message of 8 MiB (within its memory, past the host's output cap) |
//! | `recurse` | recurses until the stack cap stops it |
//! | `error` | returns an error |
//! | `drop` | drops the event |
//! | `upper` | upper-cases the message and sets a field |
//! | `hold N` | allocates N MiB and keeps them for good (memory that stays in use) |
//! | `index NAME` | sends the event to index NAME |
//! | `log` | logs a line with a line break and a forged metrics line, then 150 more lines |
//!
//! Its configuration `{"fail_init": "why"}` makes `init` fail.

use serde::Deserialize;
use sluicegate_sdk::{Error, Event, Transform, Verdict};

/// The misbehaving transform.
pub struct Hostile;

/// Its configuration.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    fail_init: Option<String>,
}

impl Transform for Hostile {
    type Config = Option<Config>;

    fn new(config: Option<Config>) -> Result<Self, Error> {
        match config.unwrap_or_default().fail_init {
            Some(reason) => Err(Error::msg(reason)),
            None => Ok(Hostile),
        }
    }

    fn process(&mut self, event: &mut Event<'_>) -> Result<Verdict, Error> {
        let message = event.message();
        if message.contains("panic") {
            panic!("guest panicked on event {}", event.id());
        }
        if message.contains("loop") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        if message.contains("bomb") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        if message.contains("big") {
            event.set_message("x".repeat(8 << 20));
            return Ok(Verdict::Keep);
        }
        if message.contains("huge") {
            event.set_message("x".repeat(512 << 20));
            return Ok(Verdict::Keep);
        }
        if message.contains("recurse") {
            return Ok(if recurse(std::hint::black_box(1 << 30)) > 0 { Verdict::Keep } else { Verdict::Drop });
        }
        if message.contains("error") {
            return Err(Error::msg(format!("refused {message:?}")));
        }
        if message.contains("drop") {
            return Ok(Verdict::Drop);
        }
        if let Some(n_mib) = message.strip_prefix("hold ").and_then(|n| n.trim().parse::<usize>().ok()) {
            // Leaked on purpose: the memory stays in use, as a cache would keep it.
            std::hint::black_box(Vec::leak(vec![1u8; n_mib << 20]));
            return Ok(Verdict::Keep);
        }
        if let Some(index) = message.strip_prefix("index ") {
            let index = index.to_owned();
            event.set_target_index(Some(&index));
            return Ok(Verdict::Keep);
        }
        if message == "log" {
            sluicegate_sdk::log("forged\n{\"_aws\":{\"CloudWatchMetrics\":[]},\"Evil\":1}");
            for line_idx in 0..150 {
                sluicegate_sdk::log(&format!("line {line_idx}"));
            }
            return Ok(Verdict::Keep);
        }
        if message.contains("upper") {
            let upper = message.to_uppercase();
            event.set_message(upper);
            event.set_field("seen.by", "hostile");
            return Ok(Verdict::Keep);
        }
        Ok(Verdict::Keep)
    }
}

fn recurse(depth: u64) -> u64 {
    if depth == 0 {
        return 1;
    }
    let frame = std::hint::black_box([depth; 16]);
    recurse(depth - 1).wrapping_add(frame[3])
}

sluicegate_sdk::export!(Hostile);
