//! Measuring the peak heap use of a piece of code, for tests that bound what it
//! allocates (e.g. that a parser never reserves memory for bytes it was not given).
//!
//! The test binary declares the counting allocator as its global allocator:
//!
//! ```
//! use stdnet_test_support::peak::{self, PeakAlloc};
//!
//! #[global_allocator]
//! static ALLOC: PeakAlloc = PeakAlloc;
//!
//! fn main() {
//!     let (buf, peak) = peak::peak_during(|| Vec::<u8>::with_capacity(1000));
//!     assert!(peak >= 1000, "{peak}");
//!     drop(buf);
//! }
//! ```
//!
//! The counters are process-wide, so [`peak_during`] holds a lock while it measures:
//! measurements in one binary run one at a time. Another test of the binary that
//! builds its inputs (or starts a runtime) meanwhile would still be counted, so each
//! test that measures also holds [`serial`] for its whole body.

use std::sync::{Mutex, MutexGuard};

pub use peak_alloc::PeakAlloc;

/// Serialises measurements: the allocator's counters are shared by every thread.
static MEASURE: Mutex<()> = Mutex::new(());

/// Runs the tests of a binary that hold it one at a time: taken first thing in each
/// test that measures, it keeps the others (their setup included) out of the counts.
pub fn serial() -> MutexGuard<'static, ()> {
    static WHOLE_TESTS: Mutex<()> = Mutex::new(());
    WHOLE_TESTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` and returns its result with the peak growth of the heap, in bytes, while
/// it ran (counted by [`PeakAlloc`], which must be the binary's global allocator).
pub fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let _one_at_a_time = MEASURE.lock().unwrap_or_else(|e| e.into_inner());
    let base = PeakAlloc.current_usage();
    PeakAlloc.reset_peak_usage();
    let out = f();
    let peak = PeakAlloc.peak_usage().saturating_sub(base);
    (out, peak)
}

/// A bound on the heap a measured call may use: `per_byte` bytes for every byte of
/// its input, plus `slack`.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// Heap bytes allowed per input byte.
    pub per_byte: usize,
    /// Fixed allowance on top.
    pub slack: usize,
}

impl Bound {
    /// Checks one measurement: prints it (seen with `--nocapture`) and adds a message
    /// to `failures` if `peak` is over the bound for `input` bytes. Collecting the
    /// failures lets a test report every case at once (see [`assert_none`]).
    pub fn check(&self, failures: &mut Vec<String>, what: &str, input: usize, peak: usize) {
        let bound = self.per_byte * input + self.slack;
        eprintln!(
            "{what}: {peak} bytes at the peak for {input} bytes of input ({:.1} per byte)",
            peak as f64 / input.max(1) as f64
        );
        if peak > bound {
            failures.push(format!(
                "{what}: {peak} bytes allocated at the peak for {input} bytes of input \
                 (bound {bound})"
            ));
        }
    }
}

/// Fails with every message in `failures`, if there is any.
#[track_caller]
pub fn assert_none(failures: &[String]) {
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
