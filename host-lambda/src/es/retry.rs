//! Exponential backoff with full jitter that never sleeps past the deadline.

use std::time::{Duration, Instant};

/// When and how often to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts per item, the first included; the deadline usually ends retries sooner.
    pub max_attempts: u32,
    /// The backoff ceiling before the first retry; it doubles with each attempt.
    pub base: Duration,
    /// The largest backoff ceiling.
    pub cap: Duration,
    /// No request starts when less than this remains before the deadline: a request that cannot
    /// finish only adds load and delays the answer to Kinesis.
    pub start_margin: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { max_attempts: 8, base: Duration::from_millis(100), cap: Duration::from_secs(5), start_margin: Duration::from_millis(250) }
    }
}

/// Why no further attempt is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GiveUp {
    /// Every attempt has been used.
    Attempts,
    /// The deadline (less the start margin) is too close.
    Deadline,
}

impl Backoff {
    /// The full-jitter delay before attempt `attempt + 1` (the first retry has `attempt == 1`):
    /// uniform in `[0, min(cap, base * 2^(attempt - 1))]`, so that clients that failed together do
    /// not come back together.
    pub(crate) fn delay(&self, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(self.cap);
        let ceiling_us = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(rng.u64(0..=ceiling_us))
    }

    /// Whether a request may start now.
    pub(crate) fn may_start(&self, now: Instant, deadline: Instant) -> bool {
        now + self.start_margin < deadline
    }

    /// The delay before another attempt, or why there is none: the attempt after the delay must
    /// still start before the margin.
    pub(crate) fn next(&self, attempts_made: u32, now: Instant, deadline: Instant, rng: &mut fastrand::Rng) -> Result<Duration, GiveUp> {
        if attempts_made >= self.max_attempts {
            return Err(GiveUp::Attempts);
        }
        let delay = self.delay(attempts_made, rng);
        if self.may_start(now + delay, deadline) { Ok(delay) } else { Err(GiveUp::Deadline) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_jittered() {
        let backoff = Backoff { max_attempts: 10, base: Duration::from_millis(100), cap: Duration::from_secs(1), ..Backoff::default() };
        let mut rng = fastrand::Rng::with_seed(7);
        for attempt in 1..=9 {
            let ceiling = Duration::from_millis(100 * (1 << (attempt - 1))).min(Duration::from_secs(1));
            let delays: Vec<Duration> = (0..200).map(|_| backoff.delay(attempt, &mut rng)).collect();
            assert!(delays.iter().all(|delay| *delay <= ceiling), "attempt {attempt}");
            // Full jitter spreads over the whole range, not just near the ceiling.
            assert!(delays.iter().any(|delay| *delay < ceiling / 4), "attempt {attempt}");
            assert!(delays.iter().any(|delay| *delay > ceiling * 3 / 4), "attempt {attempt}");
        }
    }

    #[test]
    fn gives_up_on_attempts_and_before_the_deadline() {
        let backoff = Backoff { max_attempts: 3, ..Backoff::default() };
        let mut rng = fastrand::Rng::with_seed(1);
        let now = Instant::now();
        let far = now + Duration::from_secs(60);
        assert!(backoff.next(1, now, far, &mut rng).is_ok());
        assert_eq!(backoff.next(3, now, far, &mut rng), Err(GiveUp::Attempts));
        // Inside the start margin nothing new starts, whatever the delay drawn.
        let close = now + backoff.start_margin;
        assert_eq!(backoff.next(1, now, close, &mut rng), Err(GiveUp::Deadline));
        assert!(!backoff.may_start(now, close));
    }
}
