//! Process-wide settings of the CPU runtime, applied by each binary's `main` before it starts a
//! thread.
//!
//! candle runs large elementwise ops (residual adds, gradient sums) on its own thread pool, whose
//! workers spin 25,000 times (about half a millisecond) after every job before they sleep. A
//! training step runs hundreds of such ops between GEMMs, so on a small machine a spinning worker
//! holds a core the GEMM's threads need: on 2 cores a 256-token LoRA step of SmolLM2-135M ran at
//! 154-166 tokens/s with the spinning and 207-244 without (two alternating runs each).

/// The variable candle reads once, when its pool starts.
const SPIN_LIMIT: &str = "CANDLE_BARRIER_POOL_SPIN_LIMIT";

/// Lets candle's elementwise workers sleep as soon as a job ends (a value the user set is kept).
///
/// # Safety
/// Sets an environment variable: call it first thing in `main`, before any other thread exists.
pub unsafe fn configure() {
    if std::env::var_os(SPIN_LIMIT).is_none() {
        // SAFETY: the caller guarantees no other thread reads or writes the environment.
        unsafe { std::env::set_var(SPIN_LIMIT, "1") };
    }
}
