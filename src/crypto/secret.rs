use std::fmt;

use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// 32 secret bytes that are wiped when dropped and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Secret32([u8; 32]);

impl Secret32 {
    #[must_use]
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    #[must_use]
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(***)")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_never_shows_bytes() {
        let s = super::Secret32::from_bytes([7; 32]);
        assert_eq!(format!("{s:?}"), "Secret32(***)");
    }
}
