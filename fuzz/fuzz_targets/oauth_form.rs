//! OAuth endpoint bodies: any bytes either parse into a form whose values
//! are exactly what was sent, or are refused with an error — never a panic,
//! and a refusal never echoes a value (values may be secrets).
#![no_main]

use devauth_server::routes::form::OAuthForm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match OAuthForm::parse(data) {
        Ok(form) => {
            for name in ["grant_type", "device_code", "client_id", "refresh_token", "scope"] {
                if let Some(v) = form.get(name) {
                    assert!(!v.is_empty(), "empty values are dropped");
                }
            }
        }
        Err(e) => {
            let shown = format!("{e:?}");
            if let Ok(text) = std::str::from_utf8(data) {
                for (_, value) in text.split('&').filter_map(|p| p.split_once('=')) {
                    if value.len() >= 16 && value.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        assert!(!shown.contains(value), "an error echoed a value");
                    }
                }
            }
        }
    }
});
