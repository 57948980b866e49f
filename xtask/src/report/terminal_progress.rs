//! Progress output for long stages (uploads, builds).
//!
//! On a terminal (stderr is a TTY and `CI` is not set): indicatif bars, one per task (bytes,
//! rate, ETA), with log lines printed above them. Otherwise: plain lines, one per event, plus
//! a periodic progress line for long-running tickers, so a CI log never looks hung.
//!
//! ```no_run
//! use xtask::progress::Sink as _;
//! let p = xtask::report::terminal_progress::Progress::new(false);
//! let bar = p.bar("backend", 1 << 20);      // a bar on a terminal, silent otherwise
//! let tick = p.ticker("layer 1a2b", 1 << 20); // periodic lines without a terminal
//! bar.inc(4096);
//! tick.set(4096);
//! p.line("pushed backend …");
//! ```

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::{human_bytes, Meter, Sink};

#[derive(Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

struct Inner {
    bars: Option<MultiProgress>,
    verbose: bool,
    interval: Duration,
}

impl Progress {
    /// Bars when stderr is a terminal and `CI` is unset; lines otherwise.
    pub fn new(verbose: bool) -> Progress {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        if std::io::stderr().is_terminal() && !ci {
            Progress::with_bars(verbose)
        } else {
            Progress::lines(verbose)
        }
    }

    /// Plain lines (for CI logs and tests).
    pub fn lines(verbose: bool) -> Progress {
        let interval = std::env::var("STEVEDORE_PROGRESS_INTERVAL")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map_or(Duration::from_secs(10), Duration::from_secs);
        Progress {
            inner: Arc::new(Inner {
                bars: None,
                verbose,
                interval,
            }),
        }
    }

    pub fn with_bars(verbose: bool) -> Progress {
        Progress {
            inner: Arc::new(Inner {
                bars: Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
                verbose,
                interval: Duration::from_secs(10),
            }),
        }
    }

    pub fn is_terminal(&self) -> bool {
        self.inner.bars.is_some()
    }

    pub fn verbose_enabled(&self) -> bool {
        self.inner.verbose
    }

    /// A log line (to stderr, above the bars if any).
    pub fn println(&self, msg: &str) {
        match &self.inner.bars {
            Some(mp) => {
                let _ = mp.println(msg);
            }
            None => eprintln!("{msg}"),
        }
    }

    /// A line only with `-v`.
    pub fn verbose(&self, msg: &str) {
        if self.inner.verbose {
            self.println(msg);
        }
    }

    /// A byte-count bar shown on a terminal (silent without one).
    pub fn bar(&self, label: &str, total: u64) -> Task {
        let bar = self.inner.bars.as_ref().map(|mp| {
            let b = mp.add(ProgressBar::new(total));
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix:>16.bold} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} ETA {eta}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            b.set_prefix(label.to_string());
            b
        });
        Task::new(self.clone(), label, total, bar, false)
    }

    /// A task that, without a terminal, prints a progress line every interval (10 s, or
    /// `STEVEDORE_PROGRESS_INTERVAL` seconds) while it runs; silent on a terminal.
    pub fn ticker(&self, label: &str, total: u64) -> Task {
        Task::new(self.clone(), label, total, None, self.inner.bars.is_none())
    }
}

/// One unit of progress; see [`Progress::bar`] and [`Progress::ticker`].
impl Sink for Progress {
    fn line(&self, msg: &str) {
        self.println(msg)
    }

    fn is_verbose(&self) -> bool {
        self.verbose_enabled()
    }

    fn is_terminal(&self) -> bool {
        Progress::is_terminal(self)
    }

    fn bar(&self, label: &str, total: u64) -> Box<dyn Meter> {
        Box::new(Progress::bar(self, label, total))
    }

    fn ticker(&self, label: &str, total: u64) -> Box<dyn Meter> {
        Box::new(Progress::ticker(self, label, total))
    }
}

pub struct Task {
    progress: Progress,
    label: String,
    total: AtomicU64,
    done: AtomicU64,
    start: Instant,
    last_line: Mutex<Instant>,
    bar: Option<ProgressBar>,
    periodic: bool,
}

impl Task {
    fn new(
        progress: Progress,
        label: &str,
        total: u64,
        bar: Option<ProgressBar>,
        periodic: bool,
    ) -> Task {
        Task {
            progress,
            label: label.to_string(),
            total: AtomicU64::new(total),
            done: AtomicU64::new(0),
            start: Instant::now(),
            last_line: Mutex::new(Instant::now()),
            bar,
            periodic,
        }
    }

    pub fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        self.update(done);
    }

    /// Takes back progress (e.g. when an upload restarts from the beginning).
    pub fn dec(&self, n: u64) {
        let prev = self
            .done
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                Some(d.saturating_sub(n))
            })
            .unwrap_or(0);
        self.update(prev.saturating_sub(n));
    }

    /// Sets the amount done (may go back, e.g. when an upload restarts).
    pub fn set(&self, done: u64) {
        self.done.store(done, Ordering::Relaxed);
        self.update(done);
    }

    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.set_length(total);
        }
    }

    fn update(&self, done: u64) {
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
        if self.periodic {
            let mut last = self.last_line.lock().expect("not poisoned");
            if last.elapsed() >= self.progress.inner.interval {
                *last = Instant::now();
                drop(last);
                let total = self.total.load(Ordering::Relaxed);
                let secs = self.start.elapsed().as_secs_f64().max(0.001);
                let pct = (done * 100).checked_div(total).unwrap_or(100);
                self.progress.println(&format!(
                    "progress {} {}/{} ({pct}%) {}/s",
                    self.label,
                    human_bytes(done),
                    human_bytes(total),
                    human_bytes((done as f64 / secs) as u64)
                ));
            }
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
        }
    }
}

impl Meter for Task {
    fn inc(&self, n: u64) {
        Task::inc(self, n)
    }
    fn dec(&self, n: u64) {
        Task::dec(self, n)
    }
    fn set(&self, done: u64) {
        Task::set(self, done)
    }
    fn set_total(&self, total: u64) {
        Task::set_total(self, total)
    }
    fn elapsed(&self) -> Duration {
        Task::elapsed(self)
    }
    fn finish(&self) {
        Task::finish(self)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            if !b.is_finished() {
                b.abandon();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_count_without_a_terminal() {
        let p = Progress::lines(false);
        let t = p.ticker("x", 100);
        t.inc(10);
        t.set(5);
        assert_eq!(t.done.load(Ordering::Relaxed), 5);
        t.finish();
    }
}
