//! The blocking HTTP client every refresh call goes through.

use std::time::Duration;

/// A blocking HTTP client for refresh calls: bounded timeouts, and 4xx/5xx
/// answers read as data (their bodies carry the error codes).
#[derive(Debug, Clone)]
pub struct Http {
    agent: ureq::Agent,
}

impl Default for Http {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl Http {
    /// A client whose calls give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
            .max_idle_connections(64)
            .max_idle_connections_per_host(64)
            .user_agent(concat!("devauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent }
    }

    pub(crate) fn agent(&self) -> &ureq::Agent {
        &self.agent
    }
}
