//! Adopting credentials that other tools already hold — kiro-cli's SQLite
//! database and the AWS SSO cache — and refreshing them with each tool's own
//! wire format (being built).
