//! Timing helpers shared by the parse and encode benches.
//!
//! By default they time with the wall clock, as `Bencher::iter` does. With
//! `STDNET_BENCH_CLOCK=cpu` they time with the bench thread's CPU clock
//! (`stdnet_benches::thread_cpu_time`), which leaves out the time the thread waits for
//! a core while something else runs on the machine.

#![allow(dead_code)] // each bench uses a subset

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Bencher};
use stdnet_benches::{cpu_clock, thread_cpu_time};

/// Times `routine`, passing its result to `black_box`.
pub fn run<O>(b: &mut Bencher<'_>, mut routine: impl FnMut() -> O) {
    if cpu_clock() {
        b.iter_custom(|iters| {
            let start = thread_cpu_time();
            for _ in 0..iters {
                black_box(routine());
            }
            thread_cpu_time() - start
        });
    } else {
        b.iter(routine);
    }
}

/// Times `routine` on a fresh input from `setup` each iteration; neither `setup` nor
/// dropping the input is timed. `input_len` (bytes) bounds how many inputs are built
/// ahead of a timed batch.
pub fn run_batched<I, O>(
    b: &mut Bencher<'_>,
    input_len: usize,
    mut setup: impl FnMut() -> I,
    mut routine: impl FnMut(&mut I) -> O,
) {
    if cpu_clock() {
        let batch = (64 << 20) / input_len.max(1);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(batch.max(1) as u64);
                left -= n;
                let mut inputs: Vec<I> = (0..n).map(|_| setup()).collect();
                let start = thread_cpu_time();
                for input in &mut inputs {
                    black_box(routine(input));
                }
                total += thread_cpu_time() - start;
                drop(inputs);
            }
            total
        });
    } else {
        b.iter_batched_ref(setup, routine, BatchSize::LargeInput);
    }
}
