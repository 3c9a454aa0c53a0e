//! Grant types (RFC 6749 §4, RFC 8628 §3.4) and response types.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `grant_type` URN of the device authorization grant (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A grant type as used in `grant_type` and `grant_types_supported`.
///
/// The implicit and password grants are deliberately absent (RFC 9700 §2.1.2,
/// §2.4): they parse into [`GrantType::Unknown`] and are refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    /// RFC 6749 §4.1, with PKCE (RFC 7636).
    AuthorizationCode,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 8628 §3.4: `urn:ietf:params:oauth:grant-type:device_code`.
    DeviceCode,
    /// Anything else, kept verbatim.
    Unknown(String),
}

impl GrantType {
    /// The grant type as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => DEVICE_CODE_GRANT,
            Self::Unknown(s) => s,
        }
    }

    /// Parses a wire value. Accepts `device_code` as a short alias of the URN
    /// (for configuration files and `devauth admin client add --grant`).
    pub fn parse(s: &str) -> Self {
        match s {
            "authorization_code" => Self::AuthorizationCode,
            "refresh_token" => Self::RefreshToken,
            "client_credentials" => Self::ClientCredentials,
            DEVICE_CODE_GRANT | "device_code" => Self::DeviceCode,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl std::fmt::Display for GrantType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for GrantType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for GrantType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urn_and_alias() {
        assert_eq!(GrantType::parse(DEVICE_CODE_GRANT), GrantType::DeviceCode);
        assert_eq!(GrantType::parse("device_code"), GrantType::DeviceCode);
        assert_eq!(GrantType::DeviceCode.as_str(), DEVICE_CODE_GRANT);
        assert_eq!(
            GrantType::parse("password"),
            GrantType::Unknown("password".into())
        );
    }
}
