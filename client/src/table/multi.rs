//! Multi-row calls: [`Table::multi_get`] and [`Table::batch`].
//!
//! Items are located, grouped by region server (each request inside names its own
//! region), and sent as one MultiGet/MultiMutate per server, concurrently. Each item has
//! its own outcome: items that failed with a retryable error are located again and
//! resent after a backoff; the others keep their result. Rows are independent, as in
//! HBase: a batch is not a transaction.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;
use strata_proto::v1 as pb;

use super::{Table, idempotency};
use crate::cell::Row;
use crate::connection::{RegionClient, request};
use crate::error::{Error, Result};
use crate::get::Get;
use crate::location::RegionInfo;
use crate::mutation::Mutation;
use crate::retry::{Idempotency, Retrier, should_retry};

/// What one server call returns: one outcome per item of the group, in group order.
type GroupResult<R> = Result<Vec<Result<R>>>;

impl Table {
    /// Reads several rows; results in the order of `gets`. Fails if any get fails for
    /// good.
    pub async fn multi_get(&self, gets: Vec<Get>) -> Result<Vec<Option<Row>>> {
        gets.iter().try_for_each(Get::validate)?;
        let rows = gets
            .iter()
            .map(|g| (g.row().clone(), Idempotency::Idempotent))
            .collect();
        let gets = &gets;
        let results = self
            .per_item(rows, "multi_get", |mut client, items, timeout| {
                let message = pb::MultiGetRequest {
                    gets: items
                        .iter()
                        .map(|(i, region)| gets[*i].to_request(Some(region.region_ref())))
                        .collect(),
                };
                async move {
                    let response = client.multi_get(request(message, timeout)).await;
                    let response = response.map_err(|s| Error::from_region_status(&s))?;
                    let response = response.into_inner();
                    if response.results.len() != items.len() {
                        return Err(Error::protocol(format!(
                            "multi_get returned {} results for {} gets",
                            response.results.len(),
                            items.len()
                        )));
                    }
                    Ok((0..items.len())
                        .map(|k| match response.statuses.get(k) {
                            Some(s) if s.code != 0 => Err(Error::from_item_status(s)),
                            _ => Ok(response.results[k].row.clone().map(Row::from)),
                        })
                        .collect())
                }
            })
            .await;
        results.into_iter().collect()
    }

    /// Applies puts and deletes to many rows; one result per mutation, in input order.
    /// Each row is atomic; rows are independent.
    pub async fn batch(&self, mutations: Vec<impl Into<Mutation>>) -> Vec<Result<()>> {
        let mutations: Vec<Mutation> = mutations.into_iter().map(Into::into).collect();
        let mut checked: Vec<Option<Result<()>>> = mutations
            .iter()
            .map(|m| m.validate().err().map(Err))
            .collect();
        let valid: Vec<usize> = (0..mutations.len())
            .filter(|&i| checked[i].is_none())
            .collect();
        let rows = valid
            .iter()
            .map(|&i| {
                (
                    mutations[i].row().clone(),
                    idempotency(mutations[i].is_idempotent()),
                )
            })
            .collect();
        let (mutations, valid_ref) = (&mutations, &valid);
        let results = self
            .per_item(rows, "batch", |mut client, items, timeout| {
                let message = pb::MultiMutateRequest {
                    mutations: items
                        .iter()
                        .map(|(k, region)| mutations[valid_ref[*k]].to_request(region.region_ref()))
                        .collect(),
                };
                async move {
                    let response = client.multi_mutate(request(message, timeout)).await;
                    let statuses = response
                        .map_err(|s| Error::from_region_status(&s))?
                        .into_inner()
                        .statuses;
                    if statuses.len() != items.len() {
                        return Err(Error::protocol(format!(
                            "multi_mutate returned {} statuses for {} rows",
                            statuses.len(),
                            items.len()
                        )));
                    }
                    let outcome = |s: &pb::ItemStatus| match s.code {
                        0 => Ok(()),
                        _ => Err(Error::from_item_status(s)),
                    };
                    Ok(statuses.iter().map(outcome).collect())
                }
            })
            .await;
        for (k, result) in results.into_iter().enumerate() {
            checked[valid[k]] = Some(result);
        }
        let missing = || Err(Error::protocol("batch item without an outcome"));
        checked
            .into_iter()
            .map(|r| r.unwrap_or_else(missing))
            .collect()
    }

    /// Drives items (a row and how safe it is to resend) to an outcome each.
    /// `send` gets a server's client and its items as `(item index, region)`.
    async fn per_item<R, F, Fut>(
        &self,
        rows: Vec<(Bytes, Idempotency)>,
        what: &str,
        send: F,
    ) -> Vec<Result<R>>
    where
        F: Fn(RegionClient, Vec<(usize, Arc<RegionInfo>)>, Duration) -> Fut,
        Fut: Future<Output = GroupResult<R>>,
    {
        let inner = &*self.inner;
        let mut outcomes: Vec<Option<Result<R>>> = rows.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..rows.len()).collect();
        let mut retrier = Retrier::new(&inner.config, Idempotency::Idempotent);
        while !pending.is_empty() {
            let timeout = match retrier.begin_attempt(what) {
                Ok(t) => t,
                Err(e) => return finish(outcomes, &pending, e),
            };
            let mut retry_later = Vec::new();
            let mut last_error = None;
            let mut settle = |i: usize, result: Result<R>| match result {
                Err(e) if should_retry(&e, rows[i].1) => {
                    retry_later.push(i);
                    last_error = Some(e);
                }
                other => outcomes[i] = Some(other),
            };
            let mut groups: HashMap<String, Vec<(usize, Arc<RegionInfo>)>> = HashMap::new();
            for &i in &pending {
                match inner.locate(&self.name, &rows[i].0, timeout).await {
                    Ok(region) => groups
                        .entry(region.server.clone())
                        .or_default()
                        .push((i, region)),
                    Err(e) => settle(i, Err(e)),
                }
            }
            let calls = groups.into_values().map(|items| {
                let send = &send;
                async move {
                    let result = match inner.region_server(&items[0].1.server).await {
                        Ok(client) => {
                            let call = send(client, items.clone(), timeout);
                            tokio::time::timeout(timeout, call)
                                .await
                                .unwrap_or_else(|_| Err(retrier_timeout(what, timeout)))
                        }
                        Err(e) => Err(e),
                    };
                    (items, result)
                }
            });
            for (items, result) in join_all(calls).await {
                match result {
                    Ok(per_item) => {
                        for ((i, region), r) in items.into_iter().zip(per_item) {
                            if let Err(e) = &r {
                                inner.region_failed(&region, e);
                            }
                            settle(i, r);
                        }
                    }
                    Err(e) => {
                        for (i, region) in items {
                            inner.region_failed(&region, &e);
                            settle(i, Err(e.clone()));
                        }
                    }
                }
            }
            pending = retry_later;
            if let Some(e) = last_error
                && let Err(e) = retrier.backoff(e).await
            {
                return finish(outcomes, &pending, e);
            }
        }
        finish(outcomes, &[], Error::protocol("unreachable"))
    }
}

/// Gives every still-pending item `err` and unwraps the outcomes.
fn finish<R>(
    mut outcomes: Vec<Option<Result<R>>>,
    pending: &[usize],
    err: Error,
) -> Vec<Result<R>> {
    for &i in pending {
        outcomes[i] = Some(Err(err.clone()));
    }
    let missing = || Err(Error::protocol("item without an outcome"));
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(missing))
        .collect()
}

/// A group call that got no answer in time; for non-idempotent items it says the
/// outcome is unknown.
fn retrier_timeout(what: &str, timeout: Duration) -> Error {
    Error::Timeout {
        elapsed: timeout,
        attempts: 1,
        message: format!(
            "{what}: no answer within {timeout:?}; writes may or may not have been applied"
        ),
    }
}
