//! The periodic stats line (every `server.stats_interval`, default 5 minutes), as HBase
//! operators read it from the region server log: block cache size, hit ratio and
//! evictions, memstore bytes against the global limits, compaction queue, requests.
//!
//! The line is one `INFO` event with target `strata_server::stats` whose message is
//! the whole line, so `RUST_LOG=strata_server::stats=info` alone keeps it.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::html::bytes;
use crate::metrics::prometheus::hit_ratio;
use crate::region_server::RegionServer;

/// The stats line of `rs` now; `rate` is requests per second over the last period.
pub fn line(rs: &RegionServer, rate: f64) -> String {
    let e = rs.engine();
    let c = e.block_cache_stats();
    let m = e.memory_stats();
    let cp = e.compaction_stats();
    format!(
        "stats: block_cache size={} of {} blocks={} hit_ratio={:.3} hits={} misses={} \
         evictions={}; memstore global={} low={} high={} stalls={} stalled_now={}; \
         compaction queue={} running={}; regions={} requests={} ({:.1}/s) inflight={} \
         slow={}",
        bytes(c.size_bytes),
        bytes(c.capacity_bytes),
        c.entries,
        hit_ratio(c.hits, c.misses),
        c.hits,
        c.misses,
        c.evictions,
        bytes(m.global_memstore_bytes),
        bytes(m.global_low_bytes),
        bytes(m.global_high_bytes),
        m.stalls,
        m.stalled_now,
        cp.queued,
        cp.running,
        rs.online_count(),
        rs.metrics().total_requests(),
        rate,
        rs.admission().inflight(),
        rs.slow_log().recorded(),
    )
}

/// Logs the stats line every `interval` (0 = never) until the task is aborted.
pub fn spawn(rs: Arc<RegionServer>, interval: Duration) -> Option<JoinHandle<()>> {
    if interval.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await; // the first tick is immediate: skip it
        let mut last = rs.metrics().total_requests();
        loop {
            ticker.tick().await;
            let total = rs.metrics().total_requests();
            let rate = total.saturating_sub(last) as f64 / interval.as_secs_f64();
            last = total;
            let rs2 = rs.clone();
            // Region figures take short locks: build the line off the async workers.
            match tokio::task::spawn_blocking(move || line(&rs2, rate)).await {
                Ok(l) => tracing::info!(target: "strata_server::stats", "{l}"),
                Err(e) => tracing::warn!(error = %e, "stats line task failed"),
            }
        }
    }))
}
