//! The device authorization request and response (RFC 8628 §3.1, §3.2).

use serde::{Deserialize, Serialize};

use crate::Secret;

/// Default polling interval in seconds when the server sends none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL_SECS: u64 = 5;

/// Seconds added to the polling interval on every `slow_down` (RFC 8628 §3.5).
pub const SLOW_DOWN_INCREMENT_SECS: u64 = 5;

/// The form body of a device authorization request (RFC 8628 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuthorizationRequest {
    /// The client identifier; may be absent when the client authenticates with HTTP Basic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The device authorization response (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuthorizationResponse {
    /// The device verification code: a secret the device polls with.
    pub device_code: Secret,
    /// The end-user verification code, shown to the person.
    pub user_code: String,
    /// Where the person enters the code. Some providers (Google) send
    /// `verification_url`, which is accepted as an alias.
    #[serde(alias = "verification_url")]
    pub verification_uri: String,
    /// The verification URI with the code filled in, for a QR code or a link.
    #[serde(
        default,
        alias = "verification_url_complete",
        skip_serializing_if = "Option::is_none"
    )]
    pub verification_uri_complete: Option<String>,
    /// Lifetime of the device and user codes in seconds.
    pub expires_in: u64,
    /// Minimum seconds between polls; [`DEFAULT_INTERVAL_SECS`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    /// Instructions the provider wrote for the person (Microsoft Entra sends
    /// `message`); not part of RFC 8628, shown as the provider's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl DeviceAuthorizationResponse {
    /// The polling interval to use, applying the RFC default.
    pub fn interval_secs(&self) -> u64 {
        self.interval.unwrap_or(DEFAULT_INTERVAL_SECS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_defaults_to_five_and_aliases_parse() {
        let r: DeviceAuthorizationResponse = serde_json::from_str(
            r#"{"device_code":"d","user_code":"BCDF-GHJK","verification_url":"https://x/device","expires_in":600}"#,
        )
        .unwrap();
        assert_eq!(r.interval_secs(), 5);
        assert_eq!(r.verification_uri, "https://x/device");
        assert!(!format!("{r:?}").contains("\"d\""));
    }
}
