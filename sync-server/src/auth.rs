//! Passwords and device tokens.
//!
//! Passwords follow NIST SP 800-63B: at least 8 characters, long passphrases welcome (up to
//! 256), no composition rules, and none of the most common passwords, nor the user's own name
//! or the service's. Sign-in is throttled per user name and per client address, and an
//! account is locked after [`LOCK_AFTER_FAILURES`] consecutive failures, until an
//! administrator sets a new password.
//!
//! Passwords are stored as Argon2id hashes (PHC strings). A device token is 32 random bytes
//! handed to the device once, as hex; the server keeps only its SHA-256, which is enough for
//! a secret of that entropy and lets every request be checked with one index lookup.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use doorstep_shared::UserId;
use sha2::{Digest, Sha256};

/// The fewest characters a password may have.
pub const PASSWORD_MIN_CHARS: usize = doorstep_shared::password_rules::MIN_CHARS;
/// The most characters a password may have: well past the 64 NIST asks to accept, and
/// bounded so that hashing one stays cheap.
pub const PASSWORD_MAX_CHARS: usize = 256;
/// Consecutive failed sign-ins after which an account is locked (NIST: at most 100).
pub const LOCK_AFTER_FAILURES: u32 = 100;

/// Why a new password was refused. The messages speak to the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRefused {
    /// Under [`PASSWORD_MIN_CHARS`].
    #[error("the password must have at least {PASSWORD_MIN_CHARS} characters")]
    TooShort,
    /// Over [`PASSWORD_MAX_CHARS`].
    #[error("the password may have at most {PASSWORD_MAX_CHARS} characters")]
    TooLong,
    /// On the list of the most common passwords, which are guessed first.
    #[error("that password is one of the most common, which are guessed first: choose another")]
    Common,
    /// The user's name or the service's, which are guessed first too.
    #[error("the password must not be the user name or the name of the service")]
    ContextSpecific,
}

/// Checks a password someone is choosing for `user`. Characters are counted as Unicode
/// scalar values, so a passphrase in any script counts as it reads; nothing is asked of its
/// composition.
pub fn check_new_password(user: &UserId, password: &str) -> Result<(), PasswordRefused> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(PasswordRefused::TooShort);
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(PasswordRefused::TooLong);
    }
    let folded = password.to_lowercase();
    if folded == user.as_str().to_lowercase() || folded == "doorstep" {
        return Err(PasswordRefused::ContextSpecific);
    }
    if doorstep_shared::password_rules::is_common(password) {
        return Err(PasswordRefused::Common);
    }
    Ok(())
}

/// Hashes a password with Argon2id and a random salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| anyhow::anyhow!("hashing the password: {error}"))?
        .to_string())
}

/// Whether `password` matches `hash`. With no hash (no such user) it still spends the time
/// of a check, so a response's timing does not tell which user names exist.
pub fn verify_password(hash: Option<&str>, password: &str) -> bool {
    static DECOY: LazyLock<String> =
        LazyLock::new(|| hash_password("decoy password").unwrap_or_default());
    let Ok(parsed) = PasswordHash::new(hash.unwrap_or(DECOY.as_str())) else {
        return false;
    };
    let matches = hash_matches(&parsed, password.as_bytes());
    matches && hash.is_some()
}

/// Argon2's working memory (19 MiB a check), kept between checks. Allocated and freed on
/// every check, glibc kept the freed blocks in its heaps: a server held 960 MB after 48
/// sign-ins at once, 1.4 GB after a thousand. There are as many buffers as checks ever ran
/// at once (the sign-in handler runs one per core).
static WORKING_MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Whether `password` hashes to `hash`, computed in a pooled buffer.
fn hash_matches(hash: &PasswordHash, password: &[u8]) -> bool {
    let (Ok(params), Ok(algorithm), Some(salt), Some(expected)) = (
        Params::try_from(hash),
        Algorithm::try_from(hash.algorithm),
        hash.salt,
        hash.hash,
    ) else {
        return false;
    };
    let Ok(version) = hash.version.map_or(Ok(Version::V0x13), Version::try_from) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let pool = || {
        WORKING_MEMORY
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    let mut blocks = pool().pop().unwrap_or_default();
    blocks.resize(params.block_count(), Block::default());
    let mut computed = vec![0u8; expected.len()];
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt,
        &mut computed,
        blocks.as_mut_slice(),
    );
    pool().push(blocks);
    // Output compares in constant time.
    hashed.is_ok() && Output::new(&computed).is_ok_and(|computed| computed == expected)
}

/// A new device token: the text for the device, and the hash to store.
pub fn new_token() -> anyhow::Result<(String, Vec<u8>)> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Counts attempts per key in a sliding window: sign-in is limited per user name and per
/// client address, so neither guessing one account nor spraying many works.
#[derive(Debug)]
pub struct RateLimiter {
    limit: usize,
    window: Duration,
    attempts: Mutex<HashMap<String, Vec<Instant>>>,
}

impl RateLimiter {
    /// At most `limit` attempts per key in any `window`.
    pub fn new(limit: usize, window: Duration) -> RateLimiter {
        RateLimiter {
            limit,
            window,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Records an attempt under `key`; `false` if the key is over its limit.
    pub fn allow(&self, key: &str, now: Instant) -> bool {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if attempts.len() > 100_000 {
            // Bounded memory under a flood of distinct keys: forget the idle ones.
            attempts.retain(|_, times| times.last().is_some_and(|t| now - *t < self.window));
        }
        let times = attempts.entry(key.to_owned()).or_default();
        times.retain(|time| now.duration_since(*time) < self.window);
        if times.len() >= self.limit {
            return false;
        }
        times.push(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(Some(&hash), "correct horse battery staple"));
        assert!(!verify_password(
            Some(&hash),
            "correct horse battery stapler"
        ));
        assert!(!verify_password(None, "anything"));
        assert_ne!(
            hash,
            hash_password("correct horse battery staple").unwrap(),
            "salted"
        );
    }

    #[test]
    fn new_passwords_are_judged_by_length_and_commonness_not_composition() {
        let amara: UserId = "amara".parse().unwrap();
        let check = |password: &str| check_new_password(&amara, password);
        assert_eq!(check("seven77"), Err(PasswordRefused::TooShort));
        assert_eq!(check("password"), Err(PasswordRefused::Common));
        assert_eq!(
            check("PASSWORD1"),
            Err(PasswordRefused::Common),
            "case folded"
        );
        assert_eq!(check("12345678"), Err(PasswordRefused::Common));
        assert_eq!(check("qwertyuiop"), Err(PasswordRefused::Common));
        assert_eq!(check("Doorstep"), Err(PasswordRefused::ContextSpecific));
        let named: UserId = "amara.okonkwo".parse().unwrap();
        assert_eq!(
            check_new_password(&named, "Amara.Okonkwo"),
            Err(PasswordRefused::ContextSpecific)
        );
        // No composition rules: lower-case words alone are fine, and so is any script.
        assert_eq!(check("kettle harbour violet"), Ok(()));
        assert_eq!(check("чайник гавань"), Ok(()));
        assert_eq!(check("eightchr"), Ok(()), "eight characters are enough");
        // At least 64 accepted, and passphrases well beyond.
        assert_eq!(check(&"long passphrase ".repeat(4)), Ok(()));
        assert_eq!(check(&"x".repeat(PASSWORD_MAX_CHARS)), Ok(()));
        assert_eq!(
            check(&"x".repeat(PASSWORD_MAX_CHARS + 1)),
            Err(PasswordRefused::TooLong)
        );
        // Counted in characters, not bytes: eight accented letters are eight.
        assert_eq!(check("éèêëàâäô"), Ok(()));
        assert_eq!(check("éèêëàâä"), Err(PasswordRefused::TooShort));
    }

    #[test]
    fn tokens_carry_256_random_bits_and_only_their_hash_is_kept() {
        let (token, hash) = new_token().unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(hash, token_hash(&token));
        assert_ne!(hash, token.as_bytes());
        assert_ne!(new_token().unwrap().0, token);
    }

    #[test]
    fn the_limiter_refuses_past_its_limit_until_the_window_moves() {
        let limiter = RateLimiter::new(3, Duration::from_secs(60));
        let start = Instant::now();
        assert!((0..3).all(|_| limiter.allow("user:amara", start)));
        assert!(!limiter.allow("user:amara", start));
        assert!(limiter.allow("user:ben", start), "keys are separate");
        assert!(limiter.allow("user:amara", start + Duration::from_secs(61)));
    }
}
