//! Atomic row operations under contention, through 16 independent clients (each its own
//! `Client`, so its own connections) against the real in-process server: increments lose
//! no update and hand out every intermediate value exactly once, and of 16 racing
//! check-and-mutates exactly one wins and its value is the one stored.

use std::sync::Arc;
use std::time::Duration;

use strata_client::admin::FamilyDescriptor;
use strata_client::{CheckAndMutate, Client, Get, Put};
use strata_tests::{TestServer, create_table, text};
use tokio::sync::Barrier;

const CLIENTS: usize = 16;
/// Increments per client.
const INCREMENTS: usize = 40;
/// Independent check-and-mutate races, one row each.
const RACES: usize = 5;
/// Bound on the whole of one concurrent phase.
const PHASE_TIMEOUT: Duration = Duration::from_secs(60);

async fn clients(server: &TestServer) -> Vec<Client> {
    let mut out = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        out.push(server.quick_client().await);
    }
    out
}

/// Runs `work(client index, client)` on every client at once (released by a barrier)
/// and returns the results in client order.
async fn race<T, F, Fut>(clients: &[Client], work: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize, Client) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(clients.len()));
    let tasks: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (barrier, job) = (Arc::clone(&barrier), work(i, c.clone()));
            tokio::spawn(async move {
                barrier.wait().await;
                job.await
            })
        })
        .collect();
    let all = futures::future::join_all(tasks);
    let results = tokio::time::timeout(PHASE_TIMEOUT, all)
        .await
        .expect("concurrent phase finished in time");
    results.into_iter().map(|r| r.expect("task")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_lose_no_update() {
    let server = TestServer::start().await;
    let admin = server.quick_client().await;
    let families = vec![FamilyDescriptor::new("c")];
    let t = create_table(&admin, "counters", families, &["m"]).await;
    let clients = clients(&server).await;

    let returned = race(&clients, |_, client| async move {
        let t = client.table("counters");
        let mut seen = Vec::with_capacity(INCREMENTS * 2);
        for _ in 0..INCREMENTS {
            seen.push(t.increment("hits", "c", "n", 1).await.expect("increment"));
            // A second counter in the other region, moved by 2 each time.
            let other = t.increment("zeta", "c", "n", 2).await.expect("increment");
            seen.push(-other);
        }
        seen
    })
    .await;

    let total = (CLIENTS * INCREMENTS) as i64;
    let row = t.get(Get::new("hits")).await.unwrap().unwrap();
    assert_eq!(row.counter("c", "n"), Some(total), "lost updates");
    let zeta = t.get(Get::new("zeta")).await.unwrap().unwrap();
    assert_eq!(zeta.counter("c", "n"), Some(2 * total));

    // Each increment returned a distinct new value: 1..=total, and 2, 4, ..., 2 * total.
    let mut hits: Vec<i64> = returned
        .iter()
        .flatten()
        .copied()
        .filter(|v| *v > 0)
        .collect();
    let mut twos: Vec<i64> = returned
        .iter()
        .flatten()
        .filter(|v| **v < 0)
        .map(|v| -v)
        .collect();
    hits.sort_unstable();
    twos.sort_unstable();
    assert_eq!(hits, (1..=total).collect::<Vec<_>>());
    assert_eq!(twos, (1..=total).map(|v| 2 * v).collect::<Vec<_>>());
    // Every client saw its own values strictly increase.
    for seen in &returned {
        let own: Vec<i64> = seen.iter().copied().filter(|v| *v > 0).collect();
        assert!(own.windows(2).all(|w| w[0] < w[1]), "{own:?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_check_and_mutate_wins_each_race() {
    let server = TestServer::start().await;
    let admin = server.quick_client().await;
    let t = create_table(
        &admin,
        "locks",
        vec![FamilyDescriptor::new("f")],
        &["lock2"],
    )
    .await;
    let clients = clients(&server).await;

    for round in 0..RACES {
        let row = format!("lock{round}");
        let r = row.clone();
        let applied = race(&clients, move |i, client| {
            let row = r.clone();
            async move {
                let claim = CheckAndMutate::new(row.clone())
                    .if_absent("f", "owner")
                    .then_put(Put::new(row).add("f", "owner", format!("client-{i}")));
                client
                    .table("locks")
                    .check_and_mutate(claim)
                    .await
                    .expect("check_and_mutate")
            }
        })
        .await;
        let winners: Vec<usize> = (0..CLIENTS).filter(|&i| applied[i]).collect();
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let stored = t.get(Get::new(row.clone())).await.unwrap().unwrap();
        let owner = text(stored.value("f", "owner").unwrap());
        assert_eq!(owner, format!("client-{}", winners[0]), "round {round}");

        // Handing over: every client tries to swap the owner away from the winner;
        // again exactly one succeeds.
        let (r, previous) = (row.clone(), owner.clone());
        let swapped = race(&clients, move |i, client| {
            let (row, previous) = (r.clone(), previous.clone());
            async move {
                let swap = CheckAndMutate::new(row.clone())
                    .if_equals("f", "owner", previous)
                    .then_put(Put::new(row).add("f", "owner", format!("next-{i}")));
                client
                    .table("locks")
                    .check_and_mutate(swap)
                    .await
                    .expect("swap")
            }
        })
        .await;
        let next: Vec<usize> = (0..CLIENTS).filter(|&i| swapped[i]).collect();
        assert_eq!(next.len(), 1, "round {round}: swaps {next:?}");
        let stored = t.get(Get::new(row)).await.unwrap().unwrap();
        assert_eq!(
            text(stored.value("f", "owner").unwrap()),
            format!("next-{}", next[0])
        );
    }
    server.stop().await;
}
