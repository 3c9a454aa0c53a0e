//! Verification-page bodies and query strings: parsed into pairs or refused
//! with the readable 400, never a panic.
#![no_main]

use devauth_server::pages::form::pairs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = pairs(data) {
        // Every pair came from the input: at most one pair per `&`-separated part.
        assert!(pairs.len() <= data.split(|b| *b == b'&').count());
    }
});
