//! `Authorization: Bearer` parsing (RFC 6750 §2.1): a token comes out only
//! for a well-formed credential, and it is a `b64token` taken from the input.
#![no_main]

use devauth_proto::bearer::{is_b64token, parse_authorization};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(token) = parse_authorization(value) {
        assert!(is_b64token(token));
        assert!(value.ends_with(token));
        assert!(value[..6].eq_ignore_ascii_case("bearer"));
    }
});
