//! Admission control: at most `server.max_inflight` requests execute at once; up to
//! `server.max_queue` more wait at most `server.queue_timeout` for a slot; anything
//! beyond fails at once with a retryable RESOURCE_EXHAUSTED (HBase's handler count and
//! call queue length, with the queue bounded in time as well as length).
//!
//! A slot is an owned semaphore permit, moved into the blocking task that runs the
//! engine call, so a request whose client went away still counts until its engine work
//! ends. Closing admission (shutdown) fails waiting and later requests with UNAVAILABLE.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;

use crate::error::shutting_down;

/// A slot to execute one request; released on drop.
pub type Permit = OwnedSemaphorePermit;

/// Counts requests in flight and in the queue.
#[derive(Debug)]
pub struct Admission {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_inflight: usize,
    max_queue: usize,
    queue_timeout: Duration,
    rejected: AtomicU64,
}

impl Admission {
    /// Admission with the given limits.
    pub fn new(max_inflight: usize, max_queue: usize, queue_timeout: Duration) -> Admission {
        Admission {
            permits: Arc::new(Semaphore::new(max_inflight)),
            waiting: AtomicUsize::new(0),
            max_inflight,
            max_queue,
            queue_timeout,
            rejected: AtomicU64::new(0),
        }
    }

    /// A slot now, or after waiting in the bounded queue; RESOURCE_EXHAUSTED when the
    /// queue is full or the wait times out.
    pub async fn admit(&self) -> Result<Permit, Status> {
        match self.permits.clone().try_acquire_owned() {
            Ok(p) => return Ok(p),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(shutting_down()),
            Err(tokio::sync::TryAcquireError::NoPermits) => {}
        }
        // Boxed: the queue wait (a timer and a semaphore wait) would otherwise make every
        // request's future that much larger, and futures are moved as they nest.
        Box::pin(self.queue_for_slot()).await
    }

    async fn queue_for_slot(&self) -> Result<Permit, Status> {
        let queued = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = LeaveQueue(&self.waiting);
        if queued >= self.max_queue {
            return Err(self.busy("the request queue is full"));
        }
        match tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_closed)) => Err(shutting_down()),
            Err(_elapsed) => Err(self.busy("no slot freed within server.queue_timeout")),
        }
    }

    /// A slot for the next step of an admitted request (a scan's next batch): waits
    /// as long as it takes, failing only at shutdown.
    pub async fn continue_with(&self) -> Result<Permit, Status> {
        self.permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| shutting_down())
    }

    /// Requests executing now.
    pub fn inflight(&self) -> usize {
        self.max_inflight
            .saturating_sub(self.permits.available_permits())
    }

    /// Requests waiting for a slot now.
    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Requests turned away as busy so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Fails every waiting and later request with UNAVAILABLE; slots held stay valid.
    pub fn close(&self) {
        self.permits.close();
    }

    fn busy(&self, why: &str) -> Status {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        Status::resource_exhausted(format!(
            "server busy: max_inflight={} requests executing and max_queue={} waiting ({why}, \
             queue_timeout={:?}); retry after a backoff",
            self.max_inflight, self.max_queue, self.queue_timeout
        ))
    }
}

struct LeaveQueue<'a>(&'a AtomicUsize);

impl Drop for LeaveQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_server_rejects_then_recovers() {
        let a = Arc::new(Admission::new(1, 1, Duration::from_millis(20)));
        let held = a.admit().await.unwrap();
        assert_eq!(a.inflight(), 1);
        // One may wait (and time out); with the queue taken, the next fails at once.
        let a2 = a.clone();
        let waiter = tokio::spawn(async move { a2.admit().await });
        while a.queued() == 0 {
            tokio::task::yield_now().await;
        }
        let e = a.admit().await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert!(e.message().contains("max_inflight=1"), "{}", e.message());
        let e = waiter.await.unwrap().unwrap_err();
        assert!(e.message().contains("queue_timeout"), "{}", e.message());
        drop(held);
        let _p = a.admit().await.unwrap();
        a.close();
        assert_eq!(
            a.continue_with().await.unwrap_err().code(),
            tonic::Code::Unavailable
        );
    }
}
