//! Passwords and device tokens.
//!
//! Passwords are stored as Argon2id hashes (PHC strings). A device token is 32 random bytes
//! handed to the device once, as hex; the server keeps only its SHA-256, which is enough for
//! a secret of that entropy and lets every request be checked with one index lookup.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

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
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && hash.is_some()
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
