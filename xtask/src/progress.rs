//! The progress sink: how a stage reports what people follow while it runs (log lines, bars,
//! periodic progress) without printing. The face hands a [`Sink`] in; `report::terminal_progress`
//! implements it for terminals and logs. Also the units those lines speak in.

use std::sync::Arc;
use std::time::Duration;

/// Where a stage writes its log lines and progress.
pub trait Sink: Send + Sync {
    /// One log line.
    fn line(&self, msg: &str);
    /// Is verbose detail wanted?
    fn is_verbose(&self) -> bool;
    /// One log line, when verbose detail is wanted.
    fn verbose(&self, msg: &str) {
        if self.is_verbose() {
            self.line(msg);
        }
    }
    /// Are bars drawn (a terminal), rather than plain lines?
    fn is_terminal(&self) -> bool;
    /// A byte-counting bar, drawn on a terminal, silent otherwise.
    fn bar(&self, label: &str, total: u64) -> Box<dyn Meter>;
    /// A byte-counting task with periodic progress lines when there is no terminal.
    fn ticker(&self, label: &str, total: u64) -> Box<dyn Meter>;
}

/// One task's progress, in bytes.
pub trait Meter: Send + Sync {
    fn inc(&self, n: u64);
    fn dec(&self, n: u64);
    fn set(&self, done: u64);
    fn set_total(&self, total: u64);
    fn elapsed(&self) -> Duration;
    fn finish(&self);
}

/// A sink shared by the tasks of a stage.
pub type Shared = Arc<dyn Sink>;

/// A sink that drops everything (for callers that show nothing).
pub struct Silent;

struct SilentMeter(std::time::Instant);

impl Sink for Silent {
    fn line(&self, _: &str) {}
    fn is_verbose(&self) -> bool {
        false
    }
    fn is_terminal(&self) -> bool {
        false
    }
    fn bar(&self, _: &str, _: u64) -> Box<dyn Meter> {
        Box::new(SilentMeter(std::time::Instant::now()))
    }
    fn ticker(&self, _: &str, _: u64) -> Box<dyn Meter> {
        Box::new(SilentMeter(std::time::Instant::now()))
    }
}

impl Meter for SilentMeter {
    fn inc(&self, _: u64) {}
    fn dec(&self, _: u64) {}
    fn set(&self, _: u64) {}
    fn set_total(&self, _: u64) {}
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
    fn finish(&self) {}
}

/// `1.5 MiB`, `312 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// `0.4s`, `1m05s`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(300 << 20), "300.0 MiB");
        assert_eq!(human_duration(Duration::from_millis(420)), "0.4s");
        assert_eq!(human_duration(Duration::from_secs(65)), "1m05s");
    }
}
