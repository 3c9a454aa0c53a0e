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
                let pairs: Vec<(&str, &str)> =
                    text.split('&').filter_map(|p| p.split_once('=')).collect();
                for (_, value) in &pairs {
                    // A parameter's name may be echoed (sanitised); a value
                    // that is also part of some name proves nothing.
                    let in_a_name = pairs.iter().any(|(k, _)| k.contains(value));
                    if value.len() >= 16
                        && !in_a_name
                        && value.bytes().all(|b| b.is_ascii_alphanumeric())
                    {
                        assert!(!shown.contains(value), "an error echoed a value");
                    }
                }
            }
        }
    }
});
