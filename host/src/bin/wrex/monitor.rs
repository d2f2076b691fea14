//! Rex's process-monitoring metrics for a CLI run: the runner's CPU use over the run, and its
//! resident and virtual memory averaged over samples taken every 100 ms (and once at the end).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wrex::outcome::{Metric, MetricUnit};

/// Resident and virtual memory of this process, in MiB (`/proc/self/status`).
fn memory() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmSize:")?))
}

fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

pub(crate) struct Monitor {
    stop: Arc<AtomicBool>,
    sampler: Option<JoinHandle<Vec<(f64, f64)>>>,
    started: Instant,
    cpu_at_start: Duration,
}

impl Monitor {
    pub(crate) fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let sampler = std::thread::Builder::new()
            .name("wrex-monitor".into())
            .spawn(move || {
                let mut samples = Vec::new();
                while !flag.load(Ordering::Relaxed) {
                    samples.extend(memory());
                    std::thread::park_timeout(Duration::from_millis(100));
                }
                samples
            })
            .ok();
        Self {
            stop,
            sampler,
            started: Instant::now(),
            cpu_at_start: cpu_time(),
        }
    }

    /// Stops sampling and returns Rex's three `ProcessMonitoring` metrics.
    pub(crate) fn finish(mut self) -> Vec<Metric> {
        self.stop.store(true, Ordering::Relaxed);
        let mut samples = match self.sampler.take() {
            Some(handle) => {
                handle.thread().unpark();
                handle.join().unwrap_or_default()
            }
            None => Vec::new(),
        };
        samples.extend(memory());
        let wall = self.started.elapsed().as_secs_f64();
        let cpu = cpu_time().saturating_sub(self.cpu_at_start).as_secs_f64();
        let n = samples.len().max(1) as f64;
        let rss = samples.iter().map(|s| s.0).sum::<f64>() / n;
        let vm = samples.iter().map(|s| s.1).sum::<f64>() / n;
        let cpu_percent = if wall > 0.0 { 100.0 * cpu / wall } else { 0.0 };
        vec![
            Metric::new(
                "RexRunnerProcessCpuUsage",
                cpu_percent,
                MetricUnit::Percent,
                "ProcessMonitoring",
            ),
            Metric::new(
                "RexRunnerProcessRssMemoryUsageAverage",
                rss,
                MetricUnit::Megabytes,
                "ProcessMonitoring",
            ),
            Metric::new(
                "RexRunnerProcessVirtualMemoryUsageAverage",
                vm,
                MetricUnit::Megabytes,
                "ProcessMonitoring",
            ),
        ]
    }
}
