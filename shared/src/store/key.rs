//! The database key: derived from the worker's passphrase with Argon2id, salted with the
//! 16 random bytes SQLCipher keeps at the start of the database file.
//!
//! Keeping the salt in the file header means there is nothing beside the database to lose
//! or to keep in step with it: the file alone plus the passphrase opens it.

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

/// Argon2id with 19 MiB of memory and two passes: the OWASP recommendation, a fraction of a
/// second on a phone, and costly to guess at for anyone who copies the file off it.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

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

/// A fresh random salt for a new database.
pub(super) fn new_salt() -> Result<[u8; SALT_LEN], StoreError> {
    let mut salt = [0; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|error| StoreError::Random(error.to_string()))?;
    Ok(salt)
}

/// The database's key, from the passphrase and the salt.
pub(super) fn derive_key(
    passphrase: &Passphrase,
    salt: &[u8; SALT_LEN],
) -> Result<Zeroizing<[u8; KEY_LEN]>, StoreError> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, Some(KEY_LEN))
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
) -> Result<Zeroizing<String>, StoreError> {
    let key = derive_key(passphrase, salt)?;
    let key_hex = Zeroizing::new(hex::encode(key.as_ref()));
    Ok(Zeroizing::new(format!(
        "PRAGMA key = \"x'{}{}'\";",
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
        let one = key_pragma(&Passphrase::new("one"), &salt).unwrap();
        let again = key_pragma(&Passphrase::new("one"), &salt).unwrap();
        let two = key_pragma(&Passphrase::new("two"), &salt).unwrap();
        let salted = key_pragma(&Passphrase::new("one"), &[8; SALT_LEN]).unwrap();
        assert_eq!(*one, *again);
        assert_ne!(*one, *two);
        assert_ne!(
            one[..80],
            salted[..80],
            "the key itself changes with the salt"
        );
        assert!(one.ends_with(&format!("{}'\";", hex::encode(salt))));
    }
}
