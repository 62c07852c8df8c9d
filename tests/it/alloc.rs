//! Verification allocates nothing, receiving a processed delivery at most 3
//! times, a foreign one not at all, a `MemoryStore` claim and completion
//! not at all: counted with this binary's global
//! allocator (see `main.rs`), per thread, so tests running in parallel do not
//! disturb the count.

use std::hint::black_box;

use yoco_webhooks::testing::{DOCUMENTED_SAMPLE, SignedHeaders, Signer, TEST_SECRET};
use yoco_webhooks::{CheckoutFilter, Mode, Outcome, Receiver, Verifier, VerifyError, WebhookSecret};

use crate::{body_16k, count_allocations, unix};

/// Calls of `verify_at` per request shape.
const CALLS: usize = 50;
const SIGNED_AT: i64 = 1_718_466_715;

const SECRETS: [&str; 3] = [
    TEST_SECRET,
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==",
];

/// One request to verify, with everything built in advance.
struct Request {
    name: String,
    map: http::HeaderMap,
    pairs: Vec<(String, String)>,
    body: Vec<u8>,
    expected: Result<(), VerifyError>,
}

impl Request {
    fn new(name: String, headers: &SignedHeaders, body: Vec<u8>, expected: Result<(), VerifyError>) -> Self {
        let pairs = headers
            .pairs()
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Self {
            name,
            map: headers.to_header_map().unwrap(),
            pairs,
            body,
            expected,
        }
    }
}

fn secret(text: &str) -> WebhookSecret {
    WebhookSecret::parse(text).unwrap()
}

#[test]
fn the_counter_sees_allocations() {
    let (count, vec) = count_allocations(|| black_box(Vec::<u8>::with_capacity(1)));
    assert_eq!(count, 1);
    drop(vec);
    let (count, ()) = count_allocations(|| {
        let mut grown = black_box(Vec::<u8>::with_capacity(1));
        grown.extend_from_slice(black_box(&[1, 2, 3]));
        drop(black_box(grown));
    });
    assert_eq!(count, 2, "an allocation and a reallocation");
    let (count, ()) = count_allocations(|| ());
    assert_eq!(count, 0);
}

#[test]
fn verification_allocates_nothing() {
    // The sanity check first, on this same thread: the counter works here.
    let (count, _) = count_allocations(|| black_box(Vec::<u8>::with_capacity(1)));
    assert_eq!(
        count, 1,
        "the counting allocator does not see this thread's allocations"
    );

    let single = Verifier::new(secret(SECRETS[0]));
    // Three secrets; requests signed with the last one, so every secret is tried.
    let rotating = Verifier::builder(secret(SECRETS[0]))
        .also_accept(secret(SECRETS[1]))
        .also_accept(secret(SECRETS[2]))
        .build();
    // The same three, named and bound to modes: saying which one verified
    // allocates nothing either.
    const NAMES: [&str; 3] = ["live", "test", "previous"];
    let named = Verifier::builder(secret(SECRETS[0]))
        .named(NAMES[0])
        .for_mode(Mode::Live)
        .also_accept_for(secret(SECRETS[1]), Mode::Test)
        .named(NAMES[1])
        .also_accept(secret(SECRETS[2]))
        .named(NAMES[2])
        .build();
    let now = unix(SIGNED_AT + 30);

    let mut requests = Vec::new();
    for (label, body) in [
        ("sample", DOCUMENTED_SAMPLE.as_bytes().to_vec()),
        ("16 KiB", body_16k()),
    ] {
        for (index, text) in SECRETS.iter().enumerate() {
            let headers = Signer::new(secret(text)).sign("msg_2fKx9bQzR4TnWc8Lp1Vd", unix(SIGNED_AT), &body);
            requests.push((
                index,
                Request::new(format!("{label}, secret {index}"), &headers, body.clone(), Ok(())),
            ));
            let mut tampered = body.clone();
            tampered[body.len() / 2] ^= 1;
            requests.push((
                index,
                Request::new(
                    format!("{label}, secret {index}, tampered"),
                    &headers,
                    tampered,
                    Err(VerifyError::SignatureMismatch),
                ),
            ));
            let mut forged = headers.clone();
            forged.webhook_signature = format!(
                "v2,xyz v1,!!! {} v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                headers.webhook_signature.get(..20).unwrap()
            );
            requests.push((
                index,
                Request::new(
                    format!("{label}, secret {index}, forged"),
                    &forged,
                    body.clone(),
                    Err(VerifyError::SignatureMismatch),
                ),
            ));
        }
    }
    let stale_headers = Signer::new(secret(SECRETS[0])).sign("msg_1", unix(SIGNED_AT - 1000), b"{}");
    requests.push((
        0,
        Request::new(
            "stale".to_owned(),
            &stale_headers,
            b"{}".to_vec(),
            Err(VerifyError::StaleTimestamp),
        ),
    ));

    let mut outcomes = 0_usize;
    for (index, request) in &requests {
        // `single` knows only secret 0; `rotating` knows all three.
        let single_expected = match (&request.expected, index) {
            (Ok(()), 0) | (Err(_), _) => request.expected.clone(),
            (Ok(()), _) => Err(VerifyError::SignatureMismatch),
        };
        let pairs: &[(String, String)] = &request.pairs;
        let (count, (matched, named_right)) = count_allocations(|| {
            let mut matched = 0_usize;
            let mut named_right = 0_usize;
            for _ in 0..CALLS {
                for (verifier, expected) in [
                    (&single, &single_expected),
                    (&rotating, &request.expected),
                    (&named, &request.expected),
                ] {
                    let by_map = verifier.verify_at(black_box(&request.map), black_box(&request.body), now);
                    let by_pairs = verifier.verify_at(black_box(pairs), black_box(&request.body), now);
                    if let (Ok(by_map), Ok(by_pairs)) = (&by_map, &by_pairs)
                        && std::ptr::eq(verifier, &named)
                        && by_map.secret_name() == NAMES[*index]
                        && by_pairs.secret_name() == NAMES[*index]
                    {
                        named_right += 1;
                    }
                    if by_map.map(|_| ()) == *expected && by_pairs.map(|_| ()) == *expected {
                        matched += 1;
                    }
                }
            }
            (matched, named_right)
        });
        let expected_named = if request.expected.is_ok() { CALLS } else { 0 };
        assert_eq!(
            named_right, expected_named,
            "{}: the wrong secret was named",
            request.name
        );
        assert_eq!(
            matched,
            3 * CALLS,
            "{}: not every call gave the expected verdict",
            request.name
        );
        assert_eq!(
            count,
            0,
            "{}: {count} allocations in {} verifications",
            request.name,
            6 * CALLS
        );
        outcomes += matched;
    }
    // Successes and failures were both counted.
    assert!(requests.iter().any(|(_, r)| r.expected.is_ok()));
    assert!(requests.iter().any(|(_, r)| r.expected.is_err()));
    assert_eq!(outcomes, requests.len() * 3 * CALLS);
}

/// The allocations of one `receive_at` of the documented sample, signed
/// with a Svix-style `webhook-id`, under `filter`; the outcome dropped
/// outside the count.
fn receive_allocations(filter: CheckoutFilter) -> Vec<(u64, Outcome)> {
    let receiver = Receiver::new(Verifier::new(secret(SECRETS[0])), filter);
    let body = DOCUMENTED_SAMPLE.as_bytes();
    let headers = Signer::new(secret(SECRETS[0])).sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", unix(SIGNED_AT), body);
    let map = headers.to_header_map().unwrap();
    let now = unix(SIGNED_AT + 30);
    (0..CALLS)
        .map(|_| count_allocations(|| receiver.receive_at(black_box(&map), black_box(body), now).unwrap()))
        .collect()
}

#[test]
fn a_processed_delivery_allocates_at_most_three_times() {
    let (count, _) = count_allocations(|| black_box(Vec::<u8>::with_capacity(1)));
    assert_eq!(
        count, 1,
        "the counting allocator does not see this thread's allocations"
    );
    for (count, outcome) in receive_allocations(CheckoutFilter::checkout("ch_9LVKD8GnAj7f39DFbn4F16bE")) {
        let Outcome::Process(delivery) = outcome else {
            panic!("not processed: {outcome:?}")
        };
        assert_eq!(delivery.event.id, "evt_1EAwK8Mjy2DT38WIWntiZWxm");
        // Today two: the raw parts kept for storing the delivery (body and
        // headers in one buffer) and the masked card number; ids are
        // inline, the event type and the values Yoco sends are enums.
        assert!(count <= 3, "{count} allocations for a processed delivery");
        assert_eq!(count, 2, "the count changed: update this test and the README");
    }
}

#[test]
fn a_foreign_delivery_allocates_nothing() {
    for filter in [
        CheckoutFilter::checkout("ch_2uXvWq7Bm4KpLr9TzNc3HdYe"),
        CheckoutFilter::any().only_mode(Mode::Test),
    ] {
        for (count, outcome) in receive_allocations(filter.clone()) {
            assert!(matches!(outcome, Outcome::Ignore(_)), "{filter:?}: {outcome:?}");
            assert_eq!(count, 0, "{filter:?}: deciding it is not ours allocated");
        }
    }
}

/// A `MemoryStore` claim and completion allocate nothing: no copy of the
/// id, an inline owner, tables reserved when the store is made; also when
/// it is full and forgets.
#[test]
fn the_memory_store_claims_and_completes_without_allocating() {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use yoco_webhooks::WebhookId;
    use yoco_webhooks::dedup::{Claim, DEFAULT_LEASE, DEFAULT_RETENTION, IdempotencyStore, MemoryStore};

    fn now<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the memory store made a caller wait"),
        }
    }

    let store = MemoryStore::with_capacity(2000);
    let ids: Vec<WebhookId> = (0..5000).map(|n| WebhookId::new(format!("msg_{n:0>27}"))).collect();
    let (count, ()) = count_allocations(|| {
        for id in &ids {
            let Claim::Acquired(token) = now(store.claim(id, DEFAULT_LEASE)).unwrap() else {
                panic!("{id} is new")
            };
            now(store.complete(&token, DEFAULT_RETENTION)).unwrap();
            assert_eq!(now(store.claim(id, DEFAULT_LEASE)).unwrap(), Claim::Done);
        }
    });
    assert_eq!(count, 0, "allocations for 5000 deliveries through a store of 2000");
}
