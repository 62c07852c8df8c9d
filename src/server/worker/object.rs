//! The Durable Object side of [`DurableObjectStore`](super::DurableObjectStore):
//! one object per `webhook-id`, holding that delivery's claim or completion
//! in its storage.
//!
//! A Durable Object runs one request at a time as far as its storage goes:
//! while it reads and writes storage, its input gate holds every other
//! request to it, and its output gate holds its answer until the write is
//! durable. So reading the record and writing the claim is atomic, and an
//! `Acquired` is never answered before it is stored.

use serde::{Deserialize, Serialize};
use worker::{Date, Request, Response, State, Storage};

/// The storage key of the delivery's record.
const RECORD: &str = "record";

/// What the Worker asks the object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(super) enum Ask {
    Claim { lease_ms: u64 },
    Complete { owner: String, retention_ms: u64 },
    Release { owner: String },
}

/// What the object answers: the claim's outcome, or whether it recorded.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub(super) enum Told {
    Acquired {
        owner: String,
    },
    Done,
    InProgress,
    Recorded,
    Released,
    /// `complete` by an attempt whose claim another attempt took over.
    HeldByAnother,
}

/// The delivery's state: claimed by `owner` until `until_ms`, or done
/// (remembered until `until_ms`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    owner: String,
    done: bool,
    until_ms: u64,
}

impl Record {
    fn is_live(&self, now: u64) -> bool {
        now < self.until_ms
    }
}

/// The deduplication object: wrap it in your Worker's own
/// `#[durable_object]` class, as the `worker` module's docs show, and bind
/// that class in `wrangler.toml`.
///
/// It answers only what [`DurableObjectStore`](super::DurableObjectStore)
/// sends it; any other request gets a 400. Its storage is emptied by an
/// alarm once the claim's lease or the completion's retention has passed,
/// so it keeps nothing for longer than
/// [`DEFAULT_RETENTION`](crate::dedup::DEFAULT_RETENTION).
#[derive(Debug)]
pub struct DedupObject {
    storage: Storage,
}

impl DedupObject {
    /// The object over its `state`, given to your class's `new`.
    pub fn new(state: &State) -> Self {
        Self {
            storage: state.storage(),
        }
    }

    /// Answers one request from a [`DurableObjectStore`](super::DurableObjectStore):
    /// call it from your class's `fetch`.
    ///
    /// # Errors
    /// Its storage's, when it cannot be read or written: the store then
    /// answers 503 for the delivery, and Yoco retries.
    pub async fn fetch(&self, mut request: Request) -> worker::Result<Response> {
        let Ok(ask) = request.json::<Ask>().await else {
            return Response::error("not a yoco-webhooks deduplication request", 400);
        };
        let now = Date::now().as_millis();
        let record: Option<Record> = self.storage.get(RECORD).await?;
        let told = match ask {
            Ask::Claim { lease_ms } => match record {
                Some(record) if record.is_live(now) && record.done => Told::Done,
                Some(record) if record.is_live(now) => Told::InProgress,
                // None, or a claim or completion that has run out.
                _ => {
                    let owner = new_owner(now);
                    self.keep(Record {
                        owner: owner.clone(),
                        done: false,
                        until_ms: now.saturating_add(lease_ms),
                    })
                    .await?;
                    Told::Acquired { owner }
                }
            },
            Ask::Complete { owner, retention_ms } => match record {
                // Another attempt took over after our lease and finished.
                Some(record) if record.done && record.is_live(now) => Told::Recorded,
                Some(record) if !record.done && record.is_live(now) && record.owner != owner => Told::HeldByAnother,
                // Ours, or run out and not taken over: ours to record.
                _ => {
                    self.keep(Record {
                        owner,
                        done: true,
                        until_ms: now.saturating_add(retention_ms),
                    })
                    .await?;
                    Told::Recorded
                }
            },
            Ask::Release { owner } => {
                if record.is_some_and(|record| !record.done && record.owner == owner) {
                    self.storage.delete_all().await?;
                }
                Told::Released
            }
        };
        Response::from_json(&told)
    }

    /// Empties the storage once its record has run out: call it from your
    /// class's `alarm`.
    ///
    /// # Errors
    /// Its storage's; the runtime retries a failed alarm.
    pub async fn alarm(&self) -> worker::Result<Response> {
        let now = Date::now().as_millis();
        match self.storage.get::<Record>(RECORD).await? {
            Some(record) if record.is_live(now) => self.storage.set_alarm(alarm_at(record.until_ms)).await?,
            _ => self.storage.delete_all().await?,
        }
        Response::empty()
    }

    /// Stores `record`, with an alarm for when it runs out.
    async fn keep(&self, record: Record) -> worker::Result<()> {
        let until = record.until_ms;
        self.storage.put(RECORD, record).await?;
        self.storage.set_alarm(alarm_at(until)).await
    }
}

/// The alarm time for `until_ms`, as the runtime takes it.
fn alarm_at(until_ms: u64) -> worker::ScheduledTime {
    #[allow(
        clippy::cast_precision_loss,
        reason = "milliseconds since 1970 stay below 2^53 until the year 287396"
    )]
    let millis = until_ms as f64;
    worker::ScheduledTime::new(worker::js_sys::Date::new(&millis.into()))
}

/// An owner token no other claim on this delivery has had: the time and a
/// random number.
fn new_owner(now: u64) -> String {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a random number in [0, 2^53), scaled to whole numbers"
    )]
    let random = (worker::js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
    format!("{now:x}-{random:x}")
}
