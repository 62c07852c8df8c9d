//! The event's shape borrowed from the body: `&str`s, the two dates, no
//! allocation at all. What any typed `serde_json` parse of the event costs
//! at least: the ceiling under the crate's own parse (`benches/verify.rs`,
//! `receive/464B/borrowed_parse`) and in the load test's `ceiling` target.

use serde::Deserialize;
use time::OffsetDateTime;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct Event<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    created_date: OffsetDateTime,
    #[serde(borrow)]
    payload: Payment<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Payment<'a> {
    id: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    created_date: OffsetDateTime,
    amount: i64,
    currency: &'a str,
    status: &'a str,
    mode: &'a str,
    #[serde(borrow)]
    payment_method_details: Option<Details<'a>>,
    #[serde(borrow)]
    metadata: Metadata<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Details<'a> {
    #[serde(rename = "type")]
    method: &'a str,
    #[serde(borrow)]
    card: Option<Card<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Card<'a> {
    expiry_month: Option<u8>,
    expiry_year: Option<u16>,
    masked_card: Option<&'a str>,
    scheme: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Metadata<'a> {
    checkout_id: Option<&'a str>,
}
