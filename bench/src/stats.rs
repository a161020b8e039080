//! Latency samples and the figures derived from them.

use std::time::Duration;

use serde::Serialize;

/// Figures of one measured run.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Figures {
    /// Operations completed.
    pub ops: usize,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Operations per second.
    pub per_second: f64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile latency in milliseconds.
    pub p99_ms: f64,
    /// Slowest in milliseconds.
    pub max_ms: f64,
    /// CPU per operation by process, for the scenarios run with concurrent clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<crate::cpu::Split>,
}

impl Figures {
    /// From latencies and the wall time they took together.
    pub(crate) fn new(mut samples: Vec<Duration>, wall: Duration) -> Self {
        samples.sort_unstable();
        let at = |q: f64| -> f64 {
            if samples.is_empty() {
                return 0.0;
            }
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[rank - 1].as_secs_f64() * 1000.0
        };
        let seconds = wall.as_secs_f64();
        Figures {
            ops: samples.len(),
            seconds,
            per_second: if seconds > 0.0 {
                samples.len() as f64 / seconds
            } else {
                0.0
            },
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: samples.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            cpu: None,
        }
    }
}

/// `numerator / denominator`, 0 when the denominator is 0.
pub(crate) fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples = (1..=100).map(Duration::from_millis).collect();
        let figures = Figures::new(samples, Duration::from_secs(2));
        assert_eq!(
            (figures.p50_ms, figures.p99_ms, figures.max_ms),
            (50.0, 99.0, 100.0)
        );
        assert_eq!(figures.per_second, 50.0);
    }
}
