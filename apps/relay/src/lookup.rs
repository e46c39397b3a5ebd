//! Name lookups that a slow DNS server cannot turn into a queue.
//!
//! Names go through the system resolver (`getaddrinfo`), so the search domains and
//! `ndots` of Kubernetes' resolv.conf work. `getaddrinfo` blocks and cannot be stopped:
//! with a silent DNS server it holds its thread for as long as resolv.conf says (5 s per
//! try by default). So:
//!
//! - at most [`THREADS`] lookups run at once; a call waits for one only until its deadline,
//!   and a lookup nobody waits for any more is dropped before it starts;
//! - calls for a name that is being looked up share that lookup;
//! - a name found in the last [`FRESH`] needs no lookup, and a name found in the last
//!   [`STALE`] is used as it was while a new lookup runs. So names the relay has called
//!   lately keep working while slow names fill every lookup thread.
//!
//! Addresses (`10.0.0.7:8080`) never come here: the client connects to them directly.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};

/// At most this many `getaddrinfo` calls run at once, each on its own thread.
pub const THREADS: usize = 32;
/// A name found this recently is used without a new lookup.
pub const FRESH: Duration = Duration::from_secs(5);
/// A name found this recently is used while a new lookup runs.
pub const STALE: Duration = Duration::from_secs(300);
/// The most names remembered; older ones are forgotten first.
const REMEMBERED: usize = 1024;

static RUNNING: Semaphore = Semaphore::const_new(THREADS);
static TABLE: Mutex<Option<HashMap<String, Entry>>> = Mutex::new(None);

type Found = Option<Arc<[SocketAddr]>>;

#[derive(Default)]
struct Entry {
    /// The addresses last found, and when.
    known: Option<(Arc<[SocketAddr]>, Instant)>,
    /// The lookup under way. Its value is `None` until it ends, then what it found.
    /// (The table keeps the sender: only callers hold receivers, so the lookup can tell
    /// when nobody waits any more.)
    running: Option<Arc<watch::Sender<Option<Found>>>>,
}

/// The addresses of `host`, or `None` when it does not resolve.
pub async fn resolve(host: &str) -> Found {
    let mut waiting = {
        let mut guard = TABLE.lock().unwrap_or_else(|e| e.into_inner());
        let table = guard.get_or_insert_with(HashMap::new);
        let entry = table.entry(host.to_owned()).or_default();
        let age = entry.known.as_ref().map(|(_, at)| at.elapsed());
        if let (Some((addrs, _)), Some(age)) = (&entry.known, age) {
            if age < FRESH {
                return Some(addrs.clone());
            }
        }
        let waiting = match &entry.running {
            Some(running) => running.subscribe(),
            None => {
                let (tx, rx) = watch::channel(None);
                let tx = Arc::new(tx);
                entry.running = Some(tx.clone());
                tokio::spawn(look_up(host.to_owned(), tx));
                rx
            }
        };
        if let (Some((addrs, _)), Some(age)) = (&entry.known, age) {
            if age < STALE {
                return Some(addrs.clone()); // the new lookup runs on without us
            }
        }
        if table.len() > REMEMBERED {
            forget_oldest(table);
        }
        waiting
    };
    // The caller's deadline ends this wait: dropping `waiting` tells the lookup.
    let found = waiting.wait_for(Option::is_some).await;
    found.ok().and_then(|found| found.clone().flatten())
}

/// Runs one lookup on a thread, when one is free and someone still waits for it.
async fn look_up(host: String, done: Arc<watch::Sender<Option<Found>>>) {
    let permit = tokio::select! {
        biased;
        permit = RUNNING.acquire() => permit.expect("the semaphore is never closed"),
        () = done.closed() => {
            // Every caller reached its deadline before a thread was free.
            finish(&host, None);
            return;
        }
    };
    let name = host.clone();
    let found = tokio::task::spawn_blocking(move || {
        let found = (name.as_str(), 0).to_socket_addrs();
        drop(permit);
        found.ok().map(|addrs| addrs.collect::<Vec<_>>())
    })
    .await
    .ok()
    .flatten()
    .filter(|addrs| !addrs.is_empty())
    .map(Arc::from);
    finish(&host, found.clone());
    let _ = done.send(Some(found));
}

/// Records what a lookup found; a failed lookup keeps the last addresses until they are stale.
fn finish(host: &str, found: Found) {
    let mut guard = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    let table = guard.get_or_insert_with(HashMap::new);
    if let Some(entry) = table.get_mut(host) {
        entry.running = None;
        if let Some(addrs) = found {
            entry.known = Some((addrs, Instant::now()));
        }
        if entry.known.is_none() {
            table.remove(host);
        }
    }
}

/// Forgets names with no lookup under way, oldest first, down to half the table.
fn forget_oldest(table: &mut HashMap<String, Entry>) {
    let mut idle: Vec<(Instant, String)> = table
        .iter()
        .filter(|(_, e)| e.running.is_none())
        .map(|(name, e)| {
            (
                e.known.as_ref().map_or(Instant::now(), |k| k.1),
                name.clone(),
            )
        })
        .collect();
    idle.sort();
    for (_, name) in idle
        .into_iter()
        .take(table.len().saturating_sub(REMEMBERED / 2))
    {
        table.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_is_found_then_remembered() {
        let first = resolve("localhost").await.expect("localhost resolves");
        assert!(first.iter().all(|a| a.ip().is_loopback()), "{first:?}");
        let started = Instant::now();
        let again = resolve("localhost").await.unwrap();
        assert_eq!(first, again);
        assert!(
            started.elapsed() < Duration::from_millis(5),
            "no lookup the second time"
        );
        assert!(resolve("no-such-name.invalid").await.is_none());
    }
}
