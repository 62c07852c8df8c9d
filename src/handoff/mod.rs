//! Answer now, process later: a verified delivery kept as received
//! ([`StoredDelivery`], checked again by [`Receiver::receive_stored`](crate::Receiver::receive_stored)
//! before a worker acts on it), and the [`DeliveryQueue`] the pipeline
//! records deliveries in.
//!
//! - `stored`: [`StoredDelivery`], its stable format and its receipt check;
//! - `queue`: [`DeliveryQueue`], the contract of a queue.

mod queue;
mod stored;

pub use queue::{DeliveryQueue, Enqueued};
pub use stored::StoredDelivery;
