//! Checks of the `[master]` keys.

use std::time::Duration;

use super::MasterSection;

/// Shortest `master.heartbeat_interval`.
pub const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(10);

impl MasterSection {
    /// The `[master]` keys make sense together; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.heartbeat_interval < MIN_HEARTBEAT_INTERVAL {
            return Err(format!(
                "master.heartbeat_interval must be >= {MIN_HEARTBEAT_INTERVAL:?}, got {:?}",
                self.heartbeat_interval
            ));
        }
        // A server must get at least three heartbeats through per timeout, or one lost
        // packet would make it fence itself.
        if self.server_timeout < self.heartbeat_interval * 3 {
            return Err(format!(
                "master.server_timeout ({:?}) must be at least 3 x master.heartbeat_interval ({:?})",
                self.server_timeout, self.heartbeat_interval
            ));
        }
        Ok(())
    }

    /// How long a region server keeps serving after sending a heartbeat the master
    /// accepted: nine tenths of `server_timeout`, the margin covering clock-rate
    /// differences between the two processes (see docs/cluster.md, "Fencing").
    pub fn lease(&self) -> Duration {
        self.server_timeout.mul_f64(0.9)
    }
}
