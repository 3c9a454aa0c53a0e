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
            // Decoded as the server decodes them: a value must not show up
            // in the error (a parameter's name may; a value that is also part
            // of some name proves nothing).
            if let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) {
                for (_, value) in &pairs {
                    // Names are echoed with everything but [A-Za-z0-9_] removed.
                    let in_a_name = pairs.iter().any(|(k, _)| {
                        let shown: String =
                            k.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                        shown.contains(value.as_str())
                    });
                    if value.len() >= 16
                        && !in_a_name
                        && value.bytes().all(|b| b.is_ascii_alphanumeric())
                    {
                        assert!(!shown.contains(value.as_str()), "an error echoed a value");
                    }
                }
            }
        }
    }
});
