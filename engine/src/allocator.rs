//! The C allocator's settings for a process that runs batch after batch.
//!
//! A batch allocates its buffers in a few large blocks: the `_bulk` bodies (up to the body limit
//! and 256 KiB each), a slice's inflated records (about 4 MiB), the archive's members. glibc's
//! malloc maps blocks from 128 KiB up (a threshold it raises as mapped blocks are freed) and
//! gives the top of the heap back to the kernel past twice that, so every batch had its buffers
//! mapped afresh and the kernel zeroing each page again on first touch: about 2,970 page faults
//! a run of the standard corpus, time callgrind does not see. [`tune`] keeps blocks up to
//! [`MMAP_THRESHOLD_BYTES`] on the heap and lets up to [`TRIM_THRESHOLD_BYTES`] of free heap stay
//! between batches: 18 faults a run, and the maximum batch's peak stays where it was over
//! repeated batches (a larger trim threshold let it creep up by fragmentation: 95 MB to 108 MB
//! over seven maximum batches with 128 MiB).
//!
//! The hosts call it first thing: the Lambda's `bootstrap`, the `sluicegate` command line, the
//! benchmarks and the examples, so that what is measured is what runs.

/// Blocks up to this size come from the heap instead of their own mapping: more than a `_bulk`
/// body at the default limit (5 MiB and 256 KiB) and a slice of inflated records.
pub const MMAP_THRESHOLD_BYTES: usize = 8 << 20;

/// Free memory at the top of the heap up to this size stays for the next batch; more goes back
/// to the kernel, so a huge batch does not keep its memory for ever.
pub const TRIM_THRESHOLD_BYTES: usize = 16 << 20;

/// Sets the C allocator for batch after batch (see the module's docs). `true` when the settings
/// took; `false` where there is nothing to set (not glibc) or glibc refused them.
pub fn tune() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes the allocator's parameters, under its own lock.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES as libc::c_int) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES as libc::c_int) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Minor page faults of the calling thread so far.
    fn thread_minor_faults() -> i64 {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: `usage` is a valid rusage to fill.
        let status = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
        assert_eq!(status, 0, "getrusage");
        // SAFETY: getrusage filled it.
        unsafe { usage.assume_init() }.ru_minflt
    }

    /// A body-sized buffer, written to the end and freed.
    fn fill_and_free(n_bytes: usize) {
        let buffer = vec![1u8; n_bytes];
        std::hint::black_box(&buffer);
    }

    #[test]
    fn a_freed_batch_buffer_is_reused_without_faulting_its_pages_again() {
        assert!(tune(), "glibc takes the settings");
        let n_bytes = 6 << 20;
        fill_and_free(n_bytes);
        let before = thread_minor_faults();
        fill_and_free(n_bytes);
        let faults = thread_minor_faults() - before;
        // A fresh mapping of 6 MiB faults 1,536 pages in.
        assert!(faults < 64, "{faults} page faults for a buffer the heap already had");
    }
}
