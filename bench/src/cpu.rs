//! Where the CPU went during a scenario: the server process, the bench process (its HTTP
//! clients or its baseline queries), and the rest of the machine (PostgreSQL, and anything
//! else running on a shared machine), read from `/proc`.

use std::sync::OnceLock;

use serde::Serialize;

/// The server process whose CPU is counted apart, once it has started.
static SERVER: OnceLock<u32> = OnceLock::new();

/// Counts the CPU of process `pid` as the server's from now on.
pub(crate) fn watch_server(pid: u32) {
    let _ = SERVER.set(pid);
}

/// CPU milliseconds per operation, split by where they were spent.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub(crate) struct Split {
    /// The server process.
    pub server_ms: f64,
    /// The bench process: its clients, or the baseline's queries and decoding.
    pub bench_ms: f64,
    /// Every other process: PostgreSQL, and whatever else shares the machine.
    pub rest_ms: f64,
}

/// Cumulative CPU ticks at one instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    machine: u64,
    server: u64,
    bench: u64,
}

impl Sample {
    /// Reads the counters now; `None` where `/proc` is not there to read.
    pub(crate) fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        // cpu user nice system idle iowait irq softirq steal guest guest_nice: this machine's
        // own work is user + nice + system + irq + softirq (guest time is counted in user
        // already; steal is time another machine on the same host took from this one).
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let machine = [0, 1, 2, 5, 6].iter().filter_map(|&i| fields.get(i)).sum();
        let server = match SERVER.get() {
            Some(pid) => process_ticks(&format!("/proc/{pid}/stat"))?,
            None => 0,
        };
        Some(Sample {
            machine,
            server,
            bench: process_ticks("/proc/self/stat")?,
        })
    }

    /// The CPU spent from `self` to `later`, per operation of `ops`.
    pub(crate) fn split_to(&self, later: &Sample, ops: usize) -> Split {
        let per_op = |ticks: u64| ticks as f64 * 1000.0 / ticks_per_second() / ops.max(1) as f64;
        let server = later.server.saturating_sub(self.server);
        let bench = later.bench.saturating_sub(self.bench);
        let machine = later.machine.saturating_sub(self.machine);
        Split {
            server_ms: per_op(server),
            bench_ms: per_op(bench),
            rest_ms: per_op(machine.saturating_sub(server + bench)),
        }
    }
}

/// utime + stime of the process whose `stat` file is at `path`.
fn process_ticks(path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on every common Linux).
fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burning_cpu_shows_up_as_the_bench_processes() {
        let before = Sample::now().expect("/proc is readable");
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < std::time::Duration::from_millis(500) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let split = before.split_to(&Sample::now().expect("/proc is readable"), 1);
        // Half a second of spinning; at least a fifth of a core even on a crowded machine.
        assert!(split.bench_ms >= 100.0, "{split:?}");
        assert_eq!(split.server_ms, 0.0);
    }
}
