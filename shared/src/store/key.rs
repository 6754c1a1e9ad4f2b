//! The database key: derived from the worker's passphrase with Argon2id, salted with the
//! 16 bytes SQLCipher keeps at the start of the database file.
//!
//! Keeping the salt in the file header means there is nothing beside the database to lose
//! or to keep in step with it: the file alone plus the passphrase opens it. The salt also
//! records Argon2id's cost ([`KeyCost`]), so that the cost can be raised as phones get
//! faster: a store with a lower one is rekeyed at its next unlock.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use super::StoreError;

/// Bytes of salt SQLCipher stores at the start of the file.
pub(super) const SALT_LEN: usize = 16;
const KEY_LEN: usize = 32;

const LANES: u32 = 1;

/// The cost of deriving a store's key with Argon2id: memory and passes.
///
/// It is kept in the last four bytes of the salt at the head of the file: a two-byte tag,
/// the memory as a power of two KiB, and the passes; the first twelve bytes are random.
/// Stores made before the cost was kept have sixteen random bytes there, and the
/// [`KeyCost::LEGACY`] cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCost {
    memory_kib: u32,
    passes: u32,
}

/// Marks a salt whose last two bytes are a [`KeyCost`].
const COST_TAG: [u8; 2] = [0xD0, 0x0C];

impl KeyCost {
    /// The cost of stores made before it was recorded: 19 MiB and two passes (OWASP's
    /// minimum).
    pub const LEGACY: KeyCost = KeyCost {
        memory_kib: 19 * 1024,
        passes: 2,
    };

    /// The cost of new stores, and of older ones once unlocked: 64 MiB and three passes,
    /// about half a second on a mid-range phone in the browser (BENCHMARKS.md, "Unlocking":
    /// 0.21 s in Chromium, 0.29 s in WebKit and 0.13 s natively on the benchmark machine,
    /// whose core is two to three times a mid-range phone's), and as much for every guess at
    /// a copied file.
    pub const CURRENT: KeyCost = KeyCost {
        memory_kib: 64 * 1024,
        passes: 3,
    };

    /// The cost a salt records, if it records one that can be used.
    pub(super) fn of_salt(salt: &[u8; SALT_LEN]) -> Option<KeyCost> {
        if salt[12..14] != COST_TAG {
            return None;
        }
        let (log2_kib, passes) = (u32::from(salt[14]), u32::from(salt[15]));
        // Within what a phone can do at all: 8 MiB to 1 GiB, one to sixteen passes.
        ((13..=20).contains(&log2_kib) && (1..=16).contains(&passes)).then(|| KeyCost {
            memory_kib: 1 << log2_kib,
            passes,
        })
    }

    /// A fresh salt for a store of this cost: random, with the cost in its last bytes
    /// (sixteen random bytes for [`KeyCost::LEGACY`], which salts never recorded).
    pub(super) fn new_salt(self) -> Result<[u8; SALT_LEN], StoreError> {
        let mut salt = [0; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|error| StoreError::Random(error.to_string()))?;
        if self != KeyCost::LEGACY {
            debug_assert!(self.memory_kib.is_power_of_two());
            salt[12..14].copy_from_slice(&COST_TAG);
            salt[14] = self.memory_kib.trailing_zeros() as u8;
            salt[15] = self.passes as u8;
        }
        Ok(salt)
    }
}

/// The worker's passphrase. Wiped from memory when dropped, and never printed.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase typed by the worker.
    pub fn new(passphrase: impl Into<String>) -> Self {
        Passphrase(Zeroizing::new(passphrase.into()))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// The salt of an existing database, or `None` when the file is missing or empty (a store
/// that was never written to).
pub(super) fn existing_salt(path: &Path) -> Result<Option<[u8; SALT_LEN]>, StoreError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    if file.metadata()?.len() == 0 {
        return Ok(None);
    }
    let mut salt = [0; SALT_LEN];
    file.read_exact(&mut salt)
        .map_err(|_| StoreError::Corrupt("the database file is shorter than its header".into()))?;
    Ok(Some(salt))
}

/// The database's key, from the passphrase and the salt, at `cost`.
pub(super) fn derive_key(
    passphrase: &Passphrase,
    salt: &[u8; SALT_LEN],
    cost: KeyCost,
) -> Result<Zeroizing<[u8; KEY_LEN]>, StoreError> {
    let params = Params::new(cost.memory_kib, cost.passes, LANES, Some(KEY_LEN))
        .map_err(|error| StoreError::KeyDerivation(error.to_string()))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|error| StoreError::KeyDerivation(error.to_string()))?;
    Ok(key)
}

/// The `PRAGMA key` statement for SQLCipher: a raw key with an explicit salt, so SQLCipher
/// skips its own key derivation and uses the salt we derived with.
pub(super) fn key_pragma(
    passphrase: &Passphrase,
    salt: &[u8; SALT_LEN],
    cost: KeyCost,
) -> Result<Zeroizing<String>, StoreError> {
    raw_key_pragma("key", passphrase, salt, cost)
}

/// The `PRAGMA rekey` statement that re-encrypts the store under a new salt and cost: every
/// page is written again, and the new salt heads the file.
pub(super) fn rekey_pragma(
    passphrase: &Passphrase,
    salt: &[u8; SALT_LEN],
    cost: KeyCost,
) -> Result<Zeroizing<String>, StoreError> {
    raw_key_pragma("rekey", passphrase, salt, cost)
}

fn raw_key_pragma(
    pragma: &str,
    passphrase: &Passphrase,
    salt: &[u8; SALT_LEN],
    cost: KeyCost,
) -> Result<Zeroizing<String>, StoreError> {
    let key = derive_key(passphrase, salt, cost)?;
    let key_hex = Zeroizing::new(hex::encode(key.as_ref()));
    Ok(Zeroizing::new(format!(
        "PRAGMA {pragma} = \"x'{}{}'\";",
        key_hex.as_str(),
        hex::encode(salt)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passphrase_never_prints() {
        let passphrase = Passphrase::new("correct horse battery staple");
        assert_eq!(format!("{passphrase:?}"), "Passphrase(..)");
    }

    #[test]
    fn the_key_depends_on_passphrase_and_salt() {
        let salt = [7; SALT_LEN];
        let key = |passphrase: &str, salt: &[u8; SALT_LEN]| {
            key_pragma(&Passphrase::new(passphrase), salt, KeyCost::LEGACY).unwrap()
        };
        let one = key("one", &salt);
        let again = key("one", &salt);
        let two = key("two", &salt);
        let salted = key("one", &[8; SALT_LEN]);
        assert_eq!(*one, *again);
        assert_ne!(*one, *two);
        assert_ne!(
            one[..80],
            salted[..80],
            "the key itself changes with the salt"
        );
        assert!(one.ends_with(&format!("{}'\";", hex::encode(salt))));
        let costlier = key_pragma(&Passphrase::new("one"), &salt, KeyCost::CURRENT).unwrap();
        assert_ne!(*one, *costlier, "the key changes with the cost");
    }

    #[test]
    fn a_salt_records_its_cost_and_an_old_one_records_none() {
        let salt = KeyCost::CURRENT.new_salt().unwrap();
        assert_eq!(KeyCost::of_salt(&salt), Some(KeyCost::CURRENT));
        assert_ne!(
            salt[..12],
            KeyCost::CURRENT.new_salt().unwrap()[..12],
            "random"
        );
        let old = KeyCost::LEGACY.new_salt().unwrap();
        assert_ne!(old[12..14], COST_TAG);
        assert_eq!(KeyCost::of_salt(&old), None);
        // A tag with a cost no phone could pay is not taken for one.
        let mut absurd = salt;
        absurd[14] = 40;
        assert_eq!(KeyCost::of_salt(&absurd), None);
    }
}
