//! Coalescing of concurrent gets to one region server into MultiGet calls.
//!
//! A get goes out as its own Get call while fewer than `coalesce_gets_after` get calls
//! are in flight to its server. Past that it waits in the server's queue, and when one
//! of those calls ends, the gets queued by then leave together as one MultiGet (at most
//! `max_coalesced_gets` of them), each with its own outcome. Nothing waits on a timer:
//! at low load every get is a plain Get and pays nothing extra; under load one call
//! carries many gets, so the per-call costs (HTTP/2 frames and headers, a task and a
//! wake-up on each side, the server's admission and metrics) are paid once per batch.
//! It is group commit applied to reads.
//!
//! A coalesced get keeps a single get's semantics: each carries its own region, columns
//! and filter, the server answers each with its own status, and a get is only ever sent
//! after its caller asked for it, so it sees every write acknowledged before. If a whole
//! MultiGet fails (or its answer is malformed), each caller resends its own get as a
//! plain Get, so it sees the error (or the row) a plain Get gives. Callers pass a
//! closure that builds their request, so that resend needs no copy kept on the way.
//!
//! Thread safety: a mutex around a counter and a queue, never held across an await.
//! Cancellation: a queued get whose caller gave up (its deadline passed) is left out of
//! the next batch; a call slot is handed on by a guard's `Drop`, so a cancelled call
//! never strands the queue. Bounds: the queue holds at most [`MAX_QUEUED`] gets (past
//! it a get goes out on its own), a batch at most `max_coalesced_gets`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use strata_proto::v1 as pb;
use tokio::sync::oneshot;
use tonic::{Code, Status};

use crate::connection::{RegionClient, request};

/// Gets queued for one server at most; past this a get is sent on its own.
pub(crate) const MAX_QUEUED: usize = 65_536;

/// A get's outcome as the server gave it.
pub(crate) type GetOutcome = Result<Option<pb::Row>, Status>;

/// What a queued get hears back.
#[derive(Debug)]
enum Reply {
    /// Its own answer from the batch.
    Done(GetOutcome),
    /// The batch failed as a whole: send the get again, alone.
    Alone,
}

/// The get calls in flight to one region server, and the gets waiting for one to end.
#[derive(Debug)]
pub(crate) struct GetCoalescer {
    state: Mutex<State>,
    /// Calls in flight before gets start to queue; 0 = never queue.
    after: usize,
    /// Gets per MultiGet at most.
    max_batch: usize,
}

#[derive(Debug, Default)]
struct State {
    in_flight: usize,
    queue: VecDeque<Waiting>,
}

#[derive(Debug)]
struct Waiting {
    message: pb::GetRequest,
    deadline: Instant,
    reply: oneshot::Sender<Reply>,
}

/// One call slot; giving it back sends the next batch if gets are waiting.
struct Slot {
    coalescer: Arc<GetCoalescer>,
    client: RegionClient,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.coalescer.release(&self.client);
    }
}

impl GetCoalescer {
    /// `after`: calls in flight before gets queue (0 turns coalescing off);
    /// `max_batch`: gets per MultiGet (at least 1).
    pub(crate) fn new(after: usize, max_batch: usize) -> GetCoalescer {
        GetCoalescer {
            state: Mutex::new(State::default()),
            after,
            max_batch: max_batch.max(1),
        }
    }

    /// Gets that are waiting and calls in flight, for tests and figures.
    #[cfg(test)]
    fn load(&self) -> (usize, usize) {
        let state = self.state.lock();
        (state.queue.len(), state.in_flight)
    }

    /// Reads one row through `client`: as a Get of its own, or inside a MultiGet with
    /// the gets queued beside it. `request` builds the get's message (once, or a second
    /// time if its batch failed as a whole).
    pub(crate) async fn get(
        self: &Arc<Self>,
        client: RegionClient,
        request: impl Fn() -> pb::GetRequest,
        timeout: Duration,
    ) -> GetOutcome {
        let message = request();
        if self.after == 0 {
            return single(client, message, timeout).await;
        }
        let queued = {
            let mut state = self.state.lock();
            if state.in_flight < self.after || state.queue.len() >= MAX_QUEUED {
                state.in_flight += 1;
                Err(message)
            } else {
                let (reply, answer) = oneshot::channel();
                state.queue.push_back(Waiting {
                    message,
                    deadline: Instant::now() + timeout,
                    reply,
                });
                Ok(answer)
            }
        };
        match queued {
            Err(message) => {
                let _slot = Slot {
                    coalescer: Arc::clone(self),
                    client: client.clone(),
                };
                single(client, message, timeout).await
            }
            Ok(answer) => match answer.await {
                Ok(Reply::Done(outcome)) => outcome,
                Ok(Reply::Alone) => single(client, request(), timeout).await,
                // The sender is only dropped unanswered when the runtime is going away.
                Err(_) => Err(Status::cancelled("client shutting down")),
            },
        }
    }

    /// A call ended: send the next batch on its slot, or free the slot.
    fn release(self: &Arc<Self>, client: &RegionClient) {
        let batch = {
            let mut state = self.state.lock();
            let mut batch = Vec::new();
            while batch.len() < self.max_batch {
                match state.queue.pop_front() {
                    // A caller that gave up is not asked about.
                    Some(w) if w.reply.is_closed() => {}
                    Some(w) => batch.push(w),
                    None => break,
                }
            }
            if batch.is_empty() {
                state.in_flight -= 1;
                return;
            }
            batch
        };
        let slot = Slot {
            coalescer: Arc::clone(self),
            client: client.clone(),
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                // The slot travels with the task: if the task is dropped unpolled, the
                // slot is still given back.
                runtime.spawn(async move {
                    send_batch(slot.client.clone(), batch).await;
                    drop(slot);
                });
            }
            Err(_) => {
                for w in batch {
                    let _ = w
                        .reply
                        .send(Reply::Done(Err(Status::cancelled("client shutting down"))));
                }
                drop(slot);
            }
        }
    }
}

/// One get as its own call.
async fn single(
    mut client: RegionClient,
    message: pb::GetRequest,
    timeout: Duration,
) -> GetOutcome {
    let response = client.get(request(message, timeout)).await?;
    Ok(response.into_inner().row)
}

/// Sends `batch` as one MultiGet (a lone get as a Get) and answers each caller.
async fn send_batch(mut client: RegionClient, batch: Vec<Waiting>) {
    let now = Instant::now();
    // The call lasts as long as the most patient caller waits; each caller's own
    // deadline still ends its wait.
    let timeout = batch
        .iter()
        .map(|w| w.deadline.saturating_duration_since(now))
        .max()
        .unwrap_or_default()
        .max(Duration::from_millis(1));
    let (mut messages, replies): (Vec<_>, Vec<_>) =
        batch.into_iter().map(|w| (w.message, w.reply)).unzip();
    if messages.len() == 1
        && let Some(message) = messages.pop()
    {
        let outcome = single(client, message, timeout).await;
        answer(replies, Some(vec![outcome]));
        return;
    }
    let n = replies.len();
    let call = pb::MultiGetRequest { gets: messages };
    let outcomes = match client.multi_get(request(call, timeout)).await {
        Ok(response) => split(response.into_inner(), n),
        // The call as a whole failed (too large an answer, a server going away, ...).
        Err(_) => None,
    };
    answer(replies, outcomes);
}

/// Each get's outcome from a MultiGet answer; `None` if the answer does not have one
/// result per get.
fn split(response: pb::MultiGetResponse, n: usize) -> Option<Vec<GetOutcome>> {
    if response.results.len() != n || response.statuses.len() > n {
        return None;
    }
    let mut statuses = response.statuses.into_iter();
    let outcomes = response
        .results
        .into_iter()
        .map(|result| match statuses.next() {
            Some(s) if s.code != 0 => Err(Status::new(Code::from_i32(s.code), s.message)),
            _ => Ok(result.row),
        })
        .collect();
    Some(outcomes)
}

/// Hands each caller its outcome, or (`None`) tells each to resend its get alone.
fn answer(replies: Vec<oneshot::Sender<Reply>>, outcomes: Option<Vec<GetOutcome>>) {
    // A caller that gave up meanwhile is simply not told.
    match outcomes {
        Some(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Reply::Done(outcome));
            }
        }
        None => {
            for reply in replies {
                let _ = reply.send(Reply::Alone);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str) -> pb::GetResponse {
        pb::GetResponse {
            row: Some(pb::Row {
                row: name.to_owned().into(),
                cells: vec![],
            }),
        }
    }

    #[test]
    fn a_multi_get_answer_is_split_per_get() {
        let response = pb::MultiGetResponse {
            results: vec![row("a"), pb::GetResponse { row: None }, row("c")],
            statuses: vec![
                pb::ItemStatus::default(),
                pb::ItemStatus {
                    code: Code::FailedPrecondition as i32,
                    message: "not serving".into(),
                },
                pb::ItemStatus::default(),
            ],
        };
        let outcomes = split(response.clone(), 3).unwrap();
        assert_eq!(outcomes[0].as_ref().unwrap().as_ref().unwrap().row, "a");
        let err = outcomes[1].as_ref().unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (Code::FailedPrecondition, "not serving")
        );
        assert_eq!(outcomes[2].as_ref().unwrap().as_ref().unwrap().row, "c");
        // Statuses may be left out when all are OK.
        let bare = pb::MultiGetResponse {
            results: vec![row("a"), pb::GetResponse { row: None }],
            statuses: vec![],
        };
        let outcomes = split(bare, 2).unwrap();
        assert!(outcomes[0].is_ok() && matches!(outcomes[1], Ok(None)));
        // A short answer is not trusted.
        assert!(split(response, 4).is_none());
    }

    #[tokio::test]
    async fn a_slot_is_given_back_when_nothing_waits() {
        let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
        let client = RegionClient::new(channel);
        let coalescer = Arc::new(GetCoalescer::new(2, 8));
        coalescer.state.lock().in_flight = 1;
        drop(Slot {
            coalescer: Arc::clone(&coalescer),
            client,
        });
        assert_eq!(coalescer.load(), (0, 0));
    }
}
