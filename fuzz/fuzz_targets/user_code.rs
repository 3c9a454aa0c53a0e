//! User-code normalisation (RFC 8628 §6.1): whatever a person types either
//! becomes a canonical code — 8 letters of the base-20 alphabet, stable when
//! normalised again, shown as XXXX-XXXX — or is no code at all.
#![no_main]

use devauth_proto::UserCode;
use devauth_proto::user_code::{ALPHABET, LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(code) = UserCode::normalize(input) {
        let canonical = code.as_str();
        assert_eq!(canonical.len(), LEN);
        assert!(canonical.bytes().all(|b| ALPHABET.contains(&b)));
        assert_eq!(UserCode::normalize(canonical).as_ref().map(UserCode::as_str), Some(canonical));
        let shown = code.display();
        assert_eq!(UserCode::normalize(&shown).as_ref().map(UserCode::as_str), Some(canonical));
    }
});
