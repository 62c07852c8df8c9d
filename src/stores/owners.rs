//! Owner tokens: 128 bits in hex, counted up from a random start drawn when
//! the store connects, so unique across processes and machines without
//! coordination, and without a system call per claim.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::dedup::StoreError;

/// Where the owner tokens of one store's claims come from.
pub(crate) struct Owners {
    start: u128,
    issued: AtomicU64,
}

impl Owners {
    /// A new random start.
    ///
    /// # Errors
    /// [`StoreError`] if the system has no randomness to give.
    pub(crate) fn new() -> Result<Self, StoreError> {
        let mut start = [0_u8; 16];
        getrandom::fill(&mut start).map_err(|err| StoreError::new(format!("no randomness for owner tokens: {err}")))?;
        Ok(Self {
            start: u128::from_be_bytes(start),
            issued: AtomicU64::new(0),
        })
    }

    /// The next owner token, as 32 lowercase hex digits.
    pub(crate) fn next(&self) -> OwnerText {
        let count = self.issued.fetch_add(1, Ordering::Relaxed);
        let owner = self.start.wrapping_add(u128::from(count));
        let mut text = [b'0'; 32];
        for (digit, shift) in text.iter_mut().rev().zip((0..128).step_by(4)) {
            let nibble = owner.wrapping_shr(shift) as u32 & 0xf;
            if let Some(hex) = char::from_digit(nibble, 16) {
                *digit = hex as u8; // an ASCII digit or lowercase letter
            }
        }
        OwnerText(text)
    }
}

/// An owner token's hex digits, on the stack.
pub(crate) struct OwnerText([u8; 32]);

impl AsRef<str> for OwnerText {
    fn as_ref(&self) -> &str {
        // Hex digits only, so always UTF-8; an empty owner never happens.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_128_bit_hex_counted_up_from_a_random_start() {
        let owners = Owners::new().unwrap();
        let (a, b) = (owners.next(), owners.next());
        let (a, b) = (a.as_ref(), b.as_ref());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')), "{a}");
        assert_eq!(u128::from_str_radix(a, 16).unwrap(), owners.start);
        assert_eq!(u128::from_str_radix(b, 16).unwrap(), owners.start.wrapping_add(1));
        assert_ne!(
            Owners::new().unwrap().start,
            owners.start,
            "each store draws its own start"
        );

        // Every digit place, and the wrap at the top.
        let owners = Owners {
            start: u128::MAX,
            issued: AtomicU64::new(0),
        };
        assert_eq!(owners.next().as_ref(), "f".repeat(32));
        assert_eq!(owners.next().as_ref(), "0".repeat(32));
        let owners = Owners {
            start: 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
            issued: AtomicU64::new(0),
        };
        assert_eq!(owners.next().as_ref(), "0123456789abcdeffedcba9876543210");
    }
}
