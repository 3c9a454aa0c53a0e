//! Randomness for the server, all from the operating system's CSPRNG
//! (`getrandom`): opaque secrets (device codes, refresh tokens, authorization
//! codes, client secrets, generated passwords), record ids and key ids.
//!
//! Secrets are 32 random bytes (256 bits, well above RFC 8628's 128-bit floor)
//! encoded base64url without padding; they leave this module wrapped in
//! [`Secret`] so they never reach a log line.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use devauth_proto::{Secret, UserCode};

use crate::model::Timestamp;

/// Fills `buf` from the OS CSPRNG. A failing CSPRNG leaves the server unable
/// to work safely, so it aborts the request with a panic rather than
/// continuing with weak values (getrandom fails only on broken systems).
pub fn fill(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random generator failed");
}

/// A fresh 256-bit opaque secret, base64url.
pub fn secret() -> Secret {
    let mut buf = [0u8; 32];
    fill(&mut buf);
    Secret::new(URL_SAFE_NO_PAD.encode(buf))
}

/// A fresh device code issued at `now`: the issue time in milliseconds as
/// 12 lowercase hex digits, a dot, then a fresh 256-bit [`secret`]
/// (56 characters in all, URL-safe). The prefix is not secret and carries
/// no entropy; it orders the stored hashes by issue time
/// ([`TokenHash::of_device_code`](crate::model::TokenHash::of_device_code)).
pub fn device_code(now: Timestamp) -> Secret {
    let ms = u64::try_from(now.millis()).unwrap_or(0) & 0xffff_ffff_ffff;
    let secret = secret();
    Secret::new(format!("{ms:012x}.{}", secret.expose()))
}

/// A fresh record id (128 bits, base64url): not secret, only unique.
pub fn id() -> String {
    let mut buf = [0u8; 16];
    fill(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A fresh user code (RFC 8628 §6.1).
pub fn user_code() -> UserCode {
    UserCode::generate(fill)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TokenHash;

    #[test]
    fn device_code_hashes_sort_by_issue_time() {
        let early = device_code(Timestamp::from_millis(1_700_000_000_000));
        let late = device_code(Timestamp::from_millis(1_700_000_000_001));
        let early = TokenHash::of_device_code(early.expose());
        let late = TokenHash::of_device_code(late.expose());
        assert!(early.as_str() < late.as_str());
    }

    #[test]
    fn secrets_are_long_and_distinct() {
        let a = secret();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a, secret());
        assert_ne!(id(), id());
        assert_eq!(user_code().as_str().len(), 8);
    }

    #[test]
    fn device_codes_are_issue_time_then_secret() {
        let now = Timestamp::from_millis(0x0193_a1b2_c3d4);
        let a = device_code(now);
        let (prefix, secret) = a.expose().split_once('.').unwrap();
        assert_eq!(prefix, "0193a1b2c3d4");
        assert_eq!(secret.len(), 43);
        assert!(
            secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(a, device_code(now));
    }
}
