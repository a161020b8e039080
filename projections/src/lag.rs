//! Freshness: how long after its commit each event became visible in each read model.
//!
//! The runner records, per projection and per folded event, the time from the event's
//! `recorded_at` (taken by `clock_timestamp()` inside the appending transaction, just before
//! its commit) to the commit of the batch that folded it. Rebuilds are not recorded.
//! Counts are cumulative since the process started; `GET /metrics` exposes them.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Utc};

/// Upper bounds of the buckets in milliseconds (the last bucket is everything above).
pub const BOUNDS_MS: &[u64] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 25, 30, 35, 40, 45, 50, 60, 70, 80, 90, 100,
    120, 140, 160, 180, 200, 250, 300, 400, 500, 750, 1000, 2000, 5000, 10000,
];

/// One projection's histogram: `counts[i]` events took at most `BOUNDS_MS[i]` (and more than
/// the bound before); the extra last count is above every bound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Per-bucket counts (not cumulative), `BOUNDS_MS.len() + 1` long.
    pub counts: Vec<u64>,
    /// Sum of the lags in microseconds.
    pub sum_us: u64,
}

impl Histogram {
    fn empty() -> Self {
        Histogram {
            counts: vec![0; BOUNDS_MS.len() + 1],
            sum_us: 0,
        }
    }

    /// Events recorded.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

fn registry() -> &'static Mutex<BTreeMap<&'static str, Histogram>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<&'static str, Histogram>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Records the lags of events committed at `recorded` and visible at `visible`.
pub fn record(
    projection: &'static str,
    visible: DateTime<Utc>,
    recorded: impl Iterator<Item = DateTime<Utc>>,
) {
    let Ok(mut registry) = registry().lock() else {
        return;
    };
    let histogram = registry.entry(projection).or_insert_with(Histogram::empty);
    for at in recorded {
        let micros =
            u64::try_from((visible - at).num_microseconds().unwrap_or(i64::MAX)).unwrap_or(0);
        let millis = micros.div_ceil(1000);
        let bucket = BOUNDS_MS.partition_point(|&bound| bound < millis);
        histogram.counts[bucket] += 1;
        histogram.sum_us = histogram.sum_us.saturating_add(micros);
    }
}

/// A copy of every projection's histogram.
pub fn snapshot() -> BTreeMap<&'static str, Histogram> {
    registry().lock().map(|r| r.clone()).unwrap_or_default()
}

/// The histograms in the Prometheus text format.
pub fn prometheus() -> String {
    let mut out = String::from(
        "# HELP zippcrm_projection_lag_ms Time from an event's commit to its read model's commit.\n\
         # TYPE zippcrm_projection_lag_ms histogram\n",
    );
    for (name, histogram) in snapshot() {
        let mut cumulative = 0;
        for (bound, count) in BOUNDS_MS.iter().zip(&histogram.counts) {
            cumulative += count;
            out.push_str(&format!(
                "zippcrm_projection_lag_ms_bucket{{projection=\"{name}\",le=\"{bound}\"}} {cumulative}\n"
            ));
        }
        out.push_str(&format!(
            "zippcrm_projection_lag_ms_bucket{{projection=\"{name}\",le=\"+Inf\"}} {}\n\
             zippcrm_projection_lag_ms_sum{{projection=\"{name}\"}} {}\n\
             zippcrm_projection_lag_ms_count{{projection=\"{name}\"}} {}\n",
            histogram.total(),
            histogram.sum_us as f64 / 1000.0,
            histogram.total()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lags_fall_into_the_bucket_of_their_upper_bound() {
        let visible = Utc::now();
        let ms = |n: i64| visible - chrono::Duration::microseconds(n);
        record(
            "lag_test",
            visible,
            [ms(500), ms(1_000), ms(1_001), ms(99_500), ms(60_000_000)].into_iter(),
        );
        let histogram = snapshot().remove("lag_test").expect("recorded");
        assert_eq!(histogram.counts[0], 2, "0.5 ms and 1 ms are within 1 ms");
        assert_eq!(histogram.counts[1], 1, "1.001 ms is within 2 ms");
        let at_100 = BOUNDS_MS.iter().position(|&b| b == 100).expect("bound");
        assert_eq!(histogram.counts[at_100], 1);
        assert_eq!(
            histogram.counts[BOUNDS_MS.len()],
            1,
            "a minute is above all"
        );
        assert!(prometheus().contains("zippcrm_projection_lag_ms_count{projection=\"lag_test\"} 5"));
    }
}
