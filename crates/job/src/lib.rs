//! Long work (import, detection, training) reports progress through one event type, [`Progress`],
//! and can be stopped through one [`Cancel`] flag. The CLI renders the events as a progress bar,
//! the desktop shell forwards them to the UI as window events.
//!
//! Time is passed in ([`Clock`]) so that rates and ETAs are testable; this crate never reads the
//! wall clock by itself except through [`SystemClock`].

use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One progress report: `done` of `total` units (bytes, rows, steps; `total` is `None` when unknown).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// What is being done, e.g. "import", "detect".
    pub stage: String,
    /// The unit of `done` and `total`: "bytes", "rows", "notes", "steps".
    pub unit: &'static str,
    pub done: u64,
    pub total: Option<u64>,
    /// Units per second since the work started.
    pub rate: f64,
    /// Seconds left at the current rate, when the total is known and the rate is positive.
    pub eta_seconds: Option<f64>,
}

/// A sink for progress reports. `()` ignores them.
pub trait Reporter: Send + Sync {
    fn report(&self, progress: &Progress);
}

impl Reporter for () {
    fn report(&self, _: &Progress) {}
}

impl<F: Fn(&Progress) + Send + Sync> Reporter for F {
    fn report(&self, progress: &Progress) {
        self(progress)
    }
}

/// A source of monotonic time.
pub trait Clock: Send + Sync {
    fn elapsed(&self) -> Duration;
}

/// The real clock, counting from its creation.
pub struct SystemClock(Instant);

impl SystemClock {
    pub fn start() -> Self {
        SystemClock(Instant::now())
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// Shared cancellation flag: the UI or a Ctrl-C handler sets it, the work checks it between units.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed)
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Turns counts into throttled [`Progress`] reports for one piece of work.
pub struct Meter<'a> {
    stage: String,
    unit: &'static str,
    total: Option<u64>,
    reporter: &'a dyn Reporter,
    clock: Box<dyn Clock + 'a>,
    last_report: Option<Duration>,
    /// Minimum time between two reports, so that a hot loop does not flood the UI.
    pub interval: Duration,
}

impl<'a> Meter<'a> {
    pub fn new(stage: &str, unit: &'static str, total: Option<u64>, reporter: &'a dyn Reporter) -> Self {
        Self::with_clock(stage, unit, total, reporter, Box::new(SystemClock::start()))
    }

    pub fn with_clock(
        stage: &str,
        unit: &'static str,
        total: Option<u64>,
        reporter: &'a dyn Reporter,
        clock: Box<dyn Clock + 'a>,
    ) -> Self {
        Meter {
            stage: stage.to_owned(),
            unit,
            total,
            reporter,
            clock,
            last_report: None,
            interval: Duration::from_millis(100),
        }
    }

    /// The report for `done` units at the current time.
    pub fn progress(&self, done: u64) -> Progress {
        let secs = self.clock.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let eta_seconds = match self.total {
            Some(total) if rate > 0.0 => Some(total.saturating_sub(done) as f64 / rate),
            _ => None,
        };
        Progress { stage: self.stage.clone(), unit: self.unit, done, total: self.total, rate, eta_seconds }
    }

    /// Reports `done` unless the last report was less than `interval` ago.
    pub fn tick(&mut self, done: u64) {
        let now = self.clock.elapsed();
        if let Some(last) = self.last_report {
            if now.saturating_sub(last) < self.interval {
                return;
            }
        }
        self.last_report = Some(now);
        self.reporter.report(&self.progress(done));
    }

    /// Always reports: the last word of a piece of work.
    pub fn finish(&mut self, done: u64) {
        self.last_report = Some(self.clock.elapsed());
        self.reporter.report(&self.progress(done));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct FakeClock(Arc<Mutex<Duration>>);
    impl Clock for FakeClock {
        fn elapsed(&self) -> Duration {
            *self.0.lock().unwrap()
        }
    }

    #[test]
    fn meter_computes_rate_and_eta_and_throttles() {
        let now = Arc::new(Mutex::new(Duration::ZERO));
        let seen = Mutex::new(Vec::new());
        let reporter = |p: &Progress| seen.lock().unwrap().push(p.clone());
        let mut meter = Meter::with_clock("import", "rows", Some(1000), &reporter, Box::new(FakeClock(now.clone())));
        *now.lock().unwrap() = Duration::from_secs(2);
        meter.tick(200); // reported: 100 rows/s, 8 s left
        *now.lock().unwrap() = Duration::from_millis(2050);
        meter.tick(210); // throttled
        *now.lock().unwrap() = Duration::from_secs(4);
        meter.finish(1000);
        drop(meter);
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].rate, 100.0);
        assert_eq!(seen[0].eta_seconds, Some(8.0));
        assert_eq!(seen[1].done, 1000);
        assert_eq!(seen[1].eta_seconds, Some(0.0));
    }

    #[test]
    fn unknown_total_has_no_eta() {
        let meter = Meter::new("scan", "bytes", None, &());
        assert_eq!(meter.progress(10).eta_seconds, None);
    }
}
