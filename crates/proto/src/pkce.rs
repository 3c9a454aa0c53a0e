//! PKCE with S256 only (RFC 7636). `plain` is refused on purpose (RFC 9700 §2.1.1).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Secret;

/// The only code challenge method devauth sends or accepts.
pub const S256: &str = "S256";

/// Why a code verifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// RFC 7636 §4.1: 43 to 128 characters.
    #[error("the code verifier must be 43 to 128 characters long")]
    BadLength,
    /// RFC 7636 §4.1: `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
    #[error("the code verifier contains characters outside the unreserved set")]
    BadCharacter,
}

/// Makes a code verifier from 32 random bytes (43 characters, RFC 7636 §4.1).
pub fn verifier_from_random(random: &[u8; 32]) -> Secret {
    Secret::new(URL_SAFE_NO_PAD.encode(random))
}

/// Checks the syntax of a code verifier.
pub fn validate_verifier(verifier: &str) -> Result<(), PkceError> {
    if !(43..=128).contains(&verifier.len()) {
        return Err(PkceError::BadLength);
    }
    if !verifier
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        return Err(PkceError::BadCharacter);
    }
    Ok(())
}

/// `BASE64URL(SHA256(verifier))`, the S256 code challenge (RFC 7636 §4.2).
pub fn challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` matches the S256 `challenge`, compared in constant time.
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    if validate_verifier(verifier).is_err() {
        return false;
    }
    challenge_s256(verifier)
        .as_bytes()
        .ct_eq(challenge.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            challenge_s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(verify_s256(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!verify_s256(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
    }

    #[test]
    fn verifier_syntax() {
        assert_eq!(validate_verifier("short"), Err(PkceError::BadLength));
        assert_eq!(
            validate_verifier(&"a".repeat(42)),
            Err(PkceError::BadLength)
        );
        assert_eq!(
            validate_verifier(&format!("{}!", "a".repeat(43))),
            Err(PkceError::BadCharacter)
        );
        let v = verifier_from_random(&[7; 32]);
        assert_eq!(v.expose().len(), 43);
        assert!(validate_verifier(v.expose()).is_ok());
    }
}
