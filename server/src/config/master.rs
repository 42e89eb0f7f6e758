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

#[cfg(test)]
mod tests {
    use super::super::ServerConfig;
    use std::time::Duration;

    #[test]
    fn master_keys_parse_validate_and_name_the_key() {
        let c = ServerConfig::from_parts(
            Some("[master]\nheartbeat_interval = \"200ms\"\n"),
            &["master.server_timeout=\"2s\"".into()],
        )
        .unwrap();
        assert_eq!(c.master.heartbeat_interval, Duration::from_millis(200));
        assert_eq!(c.master.server_timeout, Duration::from_secs(2));
        assert_eq!(c.master.balance_interval, Duration::from_secs(300));
        assert_eq!(c.master.lease(), Duration::from_millis(1800));

        let d = ServerConfig::default();
        assert_eq!(d.master.heartbeat_interval, Duration::from_secs(1));
        assert_eq!(d.master.server_timeout, Duration::from_secs(6));

        let err = ServerConfig::from_parts(None, &["master.server_timeout=\"1s\"".into()])
            .unwrap_err()
            .0;
        assert!(
            err.contains("master.server_timeout") && err.contains("3 x"),
            "{err}"
        );
        let err = ServerConfig::from_parts(None, &["master.heartbeat_interval=\"1ms\"".into()])
            .unwrap_err()
            .0;
        assert!(err.contains("master.heartbeat_interval"), "{err}");
        let err = ServerConfig::from_parts(None, &["master.nope=1".into()])
            .unwrap_err()
            .0;
        assert!(err.contains("master.nope"), "{err}");
    }
}
