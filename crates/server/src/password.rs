//! Password hashing for people who log in to the verification pages:
//! argon2id with the crate's default parameters, a fresh random salt per
//! hash, stored as a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
//!
//! Both functions are CPU-heavy by design: call them from async code through
//! `tokio::task::spawn_blocking`. Verification is constant-time inside argon2,
//! and a malformed stored hash simply fails to verify.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

/// Hashing a password failed (the system RNG or argon2 refused).
#[derive(Debug, thiserror::Error)]
#[error("could not hash the password: {0}")]
pub struct PasswordError(String);

/// Hashes `password` with argon2id and a random salt, as a PHC string.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError(e.to_string()))
}

/// Whether `password` matches the PHC string `phc`.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let phc = hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify("correct horse", &phc));
        assert!(!verify("wrong horse", &phc));
        assert!(!verify("correct horse", "not a phc string"));
        // A fresh salt every time.
        assert_ne!(phc, hash("correct horse").unwrap());
    }
}
