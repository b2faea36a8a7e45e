//! Pacing requests (latency counted from when each was due, as wrk2
//! does) and tallying latencies and statuses.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// When each request of one connection is due, at a fixed rate.
pub(crate) struct Pacer {
    interval: Option<Duration>,
    next: Instant,
}

impl Pacer {
    /// The pacer of connection `index` of `connections`: starts are
    /// staggered so the connections do not send in bursts.
    pub(crate) fn new(rate: Option<f64>, connections: usize, index: usize) -> Self {
        let interval = rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(connections as f64 / r));
        let offset = interval.map_or(Duration::ZERO, |i| {
            i.mul_f64(index as f64 / connections.max(1) as f64)
        });
        Self {
            interval,
            next: Instant::now() + offset,
        }
    }

    /// Waits until the next request is due; the time it was due (or now).
    pub(crate) async fn due(&mut self) -> Instant {
        match self.interval {
            Some(interval) => {
                let due = self.next;
                self.next += interval;
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => Instant::now(),
        }
    }
}

/// Latencies of one kind of request, and the statuses seen.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) hist: Option<Histogram<u64>>,
    statuses: BTreeMap<u16, u64>,
}

impl Tally {
    pub(crate) fn record(&mut self, started: Instant, status: u16) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        if self.hist.is_none() {
            self.hist = Histogram::new_with_bounds(1, 60_000_000, 3).ok();
        }
        if let Some(h) = self.hist.as_mut() {
            let _ = h.record(micros.max(1));
        }
        *self.statuses.entry(status).or_default() += 1;
    }

    pub(crate) fn merge(&mut self, other: &Tally) {
        if let Some(h) = &other.hist {
            match self.hist.as_mut() {
                Some(mine) => {
                    let _ = mine.add(h);
                }
                None => self.hist = Some(h.clone()),
            }
        }
        for (s, n) in &other.statuses {
            *self.statuses.entry(*s).or_default() += n;
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.hist.as_ref().map_or(0, Histogram::len)
    }

    pub(crate) fn line(&self, name: &str, seconds: f64) -> String {
        let Some(h) = &self.hist else {
            return format!("{name:<14} no requests");
        };
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        format!(
            "{name:<14} {:>8} req {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   p99.9 {:>7.2} ms   max {:>7.2} ms   statuses {:?}",
            h.len(),
            h.len() as f64 / seconds,
            ms(0.5),
            ms(0.99),
            ms(0.999),
            h.max() as f64 / 1000.0,
            self.statuses
        )
    }

    pub(crate) fn json(&self, seconds: f64) -> Value {
        match &self.hist {
            Some(h) => json!({
                "requests": h.len(),
                "per_second": (h.len() as f64 / seconds).round(),
                "p50_ms": h.value_at_quantile(0.5) as f64 / 1000.0,
                "p99_ms": h.value_at_quantile(0.99) as f64 / 1000.0,
                "p999_ms": h.value_at_quantile(0.999) as f64 / 1000.0,
                "statuses": self.statuses,
            }),
            None => Value::Null,
        }
    }
}
