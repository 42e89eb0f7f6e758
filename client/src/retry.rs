//! Retries with exponential backoff and full jitter, bounded by a deadline on every
//! operation.
//!
//! One attempt is bounded by `rpc_timeout` (and by what is left of the deadline); between
//! attempts the client sleeps a random time in `[0, min(backoff_max, backoff_base * 2^n)]`.
//! The attempt itself (locate, call, drop a stale location) is the caller's closure, so
//! this module only decides *whether* and *when* to try again.
//!
//! Idempotency decides which failures are retried:
//! - [`Idempotency::Idempotent`] (get, scan, put, most deletes, admin reads): every
//!   [`Error::is_retryable`] failure, and an attempt that timed out.
//! - [`Idempotency::AtMostOnce`] (increment, append, check-and-mutate, delete of the
//!   latest version, create/drop table): only failures that prove the server did not run
//!   the request ([`Error::proves_not_executed`]: region not served, server busy,
//!   connection refused). A timeout or a broken connection is returned to the caller,
//!   since the request may have been applied and running it again would apply it twice.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::ClientConfig;
use crate::error::{Error, Result};

/// Whether running a request twice has the same effect as running it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Safe to repeat after any transient failure.
    Idempotent,
    /// Repeat only when the server provably did not execute it.
    AtMostOnce,
}

/// The backoff ceilings: `base * 2^retry`, capped at `max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max }
    }

    /// Ceiling of the sleep before retry number `retry` (0 for the first retry).
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The sleep for a uniform `unit` in `[0, 1)`: full jitter.
    pub(crate) fn delay(&self, retry: u32, unit: f64) -> Duration {
        self.ceiling(retry).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// Whether `err` should be retried for an operation of the given idempotency.
pub(crate) fn should_retry(err: &Error, mode: Idempotency) -> bool {
    match (mode, err) {
        // An attempt that timed out may have been applied.
        (Idempotency::Idempotent, Error::Timeout { .. }) => true,
        (Idempotency::Idempotent, e) => e.is_retryable(),
        (Idempotency::AtMostOnce, e) => e.proves_not_executed(),
    }
}

/// Tracks one operation's attempts against its deadline.
#[derive(Debug)]
pub(crate) struct Retrier {
    mode: Idempotency,
    backoff: Backoff,
    max_retries: u32,
    rpc_timeout: Duration,
    started: Instant,
    deadline: Instant,
    attempts: u32,
    /// The error that made the last backoff retry, named by a later timeout.
    last_error: Option<String>,
}

impl Retrier {
    /// Starts the clock of one operation.
    pub(crate) fn new(config: &ClientConfig, mode: Idempotency) -> Retrier {
        let started = Instant::now();
        Retrier {
            mode,
            backoff: Backoff::new(config.backoff_base, config.backoff_max),
            max_retries: config.max_retries,
            rpc_timeout: config.rpc_timeout,
            started,
            deadline: started + config.operation_timeout,
            attempts: 0,
            last_error: None,
        }
    }

    /// Counts an attempt and returns its timeout, or the timeout error if the deadline
    /// has passed.
    pub(crate) fn begin_attempt(&mut self, what: &str) -> Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // The backoff sleep can end just past the deadline (timers round up): the
            // error still names what the retries were failing on.
            let message = match &self.last_error {
                Some(e) => format!("{what}: deadline passed; last error: {e}"),
                None => format!("{what}: deadline passed"),
            };
            return Err(self.timeout(message));
        }
        self.attempts += 1;
        Ok(self.rpc_timeout.min(left))
    }

    /// The error of an attempt that got no answer within `attempt_timeout`.
    pub(crate) fn attempt_timed_out(&self, what: &str, attempt_timeout: Duration) -> Error {
        let hint = match self.mode {
            Idempotency::Idempotent => "",
            Idempotency::AtMostOnce => "; it may or may not have been applied",
        };
        Error::Timeout {
            elapsed: self.started.elapsed(),
            attempts: self.attempts,
            message: format!("{what}: no answer within {attempt_timeout:?}{hint}"),
        }
    }

    /// After a failed attempt: sleeps the backoff and returns `Ok(())` if the operation
    /// should be tried again, or returns the error to give the caller.
    pub(crate) async fn backoff(&mut self, err: Error) -> Result<()> {
        // A scan's retrier starts at the failure of a stream it did not open itself.
        self.attempts = self.attempts.max(1);
        if !should_retry(&err, self.mode) || self.attempts > self.max_retries {
            return Err(err);
        }
        let delay = self.backoff.delay(self.attempts - 1, rand::random::<f64>());
        if Instant::now() + delay >= self.deadline {
            return Err(self.timeout(format!("last error: {err}")));
        }
        tracing::debug!(attempt = self.attempts, ?delay, error = %err, "retrying");
        self.last_error = Some(err.to_string());
        // Boxed: retries are rare, and a timer inline would enlarge every call's future.
        Box::pin(tokio::time::sleep(delay)).await;
        Ok(())
    }

    fn timeout(&self, message: String) -> Error {
        Error::Timeout {
            elapsed: self.started.elapsed(),
            attempts: self.attempts,
            message,
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the deadline passes. The
/// closure gets the attempt's timeout (to send as `grpc-timeout`) and does its own
/// relocation on errors that need it.
pub(crate) async fn run<T, F, Fut>(
    config: &ClientConfig,
    mode: Idempotency,
    what: &str,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut retrier = Retrier::new(config, mode);
    loop {
        let timeout = retrier.begin_attempt(what)?;
        let err = match tokio::time::timeout(timeout, attempt(timeout)).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => err,
            Err(_) => retrier.attempt_timed_out(what, timeout),
        };
        retrier.backoff(err).await?;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn config() -> ClientConfig {
        ClientConfig::default()
            .operation_timeout(Duration::from_secs(2))
            .rpc_timeout(Duration::from_millis(300))
            .max_retries(1000)
            .backoff(Duration::from_millis(10), Duration::from_millis(200))
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_jitter_stays_inside() {
        let b = Backoff::new(Duration::from_millis(10), Duration::from_secs(1));
        assert_eq!(b.ceiling(0), Duration::from_millis(10));
        assert_eq!(b.ceiling(1), Duration::from_millis(20));
        assert_eq!(b.ceiling(6), Duration::from_millis(640));
        assert_eq!(b.ceiling(7), Duration::from_secs(1));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1));
        assert_eq!(b.delay(3, 0.0), Duration::ZERO);
        assert_eq!(b.delay(3, 0.5), Duration::from_millis(40));
        assert!(b.delay(3, 7.0) <= b.ceiling(3));
        for retry in 0..40 {
            let d = b.delay(retry, rand::random::<f64>());
            assert!(d <= Duration::from_secs(1), "{d:?}");
        }
    }

    #[test]
    fn which_errors_retry() {
        let busy = Error::Busy("write stall".into());
        let moved = Error::NotServingRegion {
            table: "t".into(),
            region_id: "r".into(),
            message: "split".into(),
        };
        let down = Error::Unavailable("shutting down".into());
        let reset = Error::Transport {
            message: "connection reset".into(),
            connect_failed: false,
        };
        let refused = Error::Transport {
            message: "tcp connect error".into(),
            connect_failed: true,
        };
        let timeout = Error::Timeout {
            elapsed: Duration::ZERO,
            attempts: 1,
            message: String::new(),
        };
        let bad = Error::InvalidArgument("row is empty".into());
        use Idempotency::*;
        for e in [&busy, &moved, &down, &reset, &refused, &timeout] {
            assert!(should_retry(e, Idempotent), "{e}");
        }
        for e in [&busy, &moved, &refused] {
            assert!(should_retry(e, AtMostOnce), "{e}");
        }
        for e in [&down, &reset, &timeout] {
            assert!(!should_retry(e, AtMostOnce), "{e}");
        }
        assert!(!should_retry(&bad, Idempotent));
        assert!(!should_retry(&Error::NotFound("t".into()), Idempotent));
    }

    // The paused tokio clock advances only when every task waits, so these tests check
    // deadlines exactly and never sleep for real.
    #[tokio::test(start_paused = true)]
    async fn retries_until_success() {
        let calls = AtomicU32::new(0);
        let value = run(&config(), Idempotency::Idempotent, "get", |_| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err(Error::Busy("stall".into())),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(value, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_bounds_a_failing_operation() {
        let start = Instant::now();
        let calls = AtomicU32::new(0);
        let err = run(&config(), Idempotency::Idempotent, "get", |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::Unavailable("down".into()))
        })
        .await
        .unwrap_err();
        assert!(
            start.elapsed() <= Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert!(calls.load(Ordering::SeqCst) > 2);
        match err {
            Error::Timeout { message, .. } => assert!(message.contains("down"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_that_passes_during_a_backoff_names_the_last_error() {
        let mut r = Retrier::new(&config(), Idempotency::Idempotent);
        r.begin_attempt("get").unwrap();
        r.backoff(Error::Unavailable("down".into())).await.unwrap();
        // The sleep ended; the deadline passes before the next attempt begins.
        tokio::time::advance(Duration::from_secs(3)).await;
        match r.begin_attempt("get") {
            Err(Error::Timeout { message, .. }) => {
                assert!(message.contains("deadline passed"), "{message}");
                assert!(message.contains("down"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn hung_attempts_are_cut_by_rpc_timeout_and_the_deadline() {
        let start = Instant::now();
        let calls = AtomicU32::new(0);
        let err = run(&config(), Idempotency::Idempotent, "scan", |t| {
            assert!(t <= Duration::from_millis(300));
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Result<()>>()
        })
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        assert!(start.elapsed() <= Duration::from_secs(2));
        assert!(calls.load(Ordering::SeqCst) >= 5);
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_once_is_not_repeated_after_an_ambiguous_failure() {
        let calls = AtomicU32::new(0);
        let err = run(&config(), Idempotency::AtMostOnce, "increment", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Result<()>>()
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(err.to_string().contains("may or may not"), "{err}");

        let calls = AtomicU32::new(0);
        let value = run(&config(), Idempotency::AtMostOnce, "increment", |_| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(Error::Busy("stall".into())),
                _ => Ok(1),
            }
        })
        .await;
        assert_eq!(value, Ok(1));
    }

    #[tokio::test(start_paused = true)]
    async fn max_retries_returns_the_last_error() {
        let calls = AtomicU32::new(0);
        let err = run(
            &config().max_retries(2),
            Idempotency::Idempotent,
            "get",
            |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(Error::Busy("stall".into()))
            },
        )
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(err, Error::Busy("stall".into()));
    }
}
