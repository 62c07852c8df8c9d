//! The memory a full `MemoryStore` takes per remembered delivery, counted by
//! this binary's global allocator (see `main.rs`): the README and the
//! `MemoryStore` docs quote it.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use yoco_webhooks::WebhookId;
use yoco_webhooks::dedup::{Claim, DEFAULT_LEASE, DEFAULT_RETENTION, IdempotencyStore, MemoryStore};

use crate::count_live_bytes;

/// The length of a Yoco `webhook-id` such as `msg_2KWPBgLlAfxdpx2AI54pPJ85f4W`.
const ID_LEN: usize = 31;

/// Bytes per delivery a store can remember, id included, at most: the
/// README and the `MemoryStore` docs say 40 to 80 for a capacity of 1000
/// or more (the hash tables' power-of-two sizes decide where in that
/// range; 3585 × 16 is the worst case, each table just past a power of
/// two). Keeping the id took 141 to 166 (one copy) and 189 to 233 (two),
/// and a table under churn with tombstones doubled.
const BOUND: usize = 80;

/// The memory store answers at once; its futures never wait.
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the memory store made a caller wait"),
    }
}

/// A realistic id, unique per `n`.
fn id(n: usize) -> WebhookId {
    let id = WebhookId::new(format!("msg_{n:0>27}"));
    assert_eq!(id.as_str().len(), ID_LEN);
    id
}

/// The heap bytes a store of `capacity` holds per delivery it can remember,
/// once it is full and has forgotten ten times its capacity (a hash table
/// that removes entries one by one grows under such churn).
fn bytes_per_delivery(capacity: usize) -> f64 {
    let (bytes, store) = count_live_bytes(|| {
        let store = MemoryStore::with_capacity(capacity);
        for n in 0..capacity * 10 {
            let Claim::Acquired(token) = now(store.claim(&id(n), DEFAULT_LEASE)).unwrap() else {
                panic!("{n} is new")
            };
            now(store.complete(&token, DEFAULT_RETENTION)).unwrap();
        }
        store
    });
    // Full: it forgets an eighth at a time.
    assert!(store.len() * 8 >= capacity * 7, "the store is full: {}", store.len());
    // The newest deliveries are still remembered: the count is of a working store.
    assert_eq!(
        now(store.claim(&id(capacity * 10 - 1), DEFAULT_LEASE)).unwrap(),
        Claim::Done
    );
    let per_delivery = bytes as f64 / capacity as f64;
    eprintln!("MemoryStore::with_capacity({capacity}): {per_delivery:.1} B per delivery, id included");
    per_delivery
}

#[test]
fn a_full_memory_store_takes_at_most_the_documented_bytes_per_delivery() {
    for capacity in [1000, 1023, 3585 * 16, 10_000, 100_000] {
        let per_delivery = bytes_per_delivery(capacity);
        assert!(
            per_delivery <= BOUND as f64,
            "{capacity}: {per_delivery:.1} B per delivery, above {BOUND}"
        );
    }
}
