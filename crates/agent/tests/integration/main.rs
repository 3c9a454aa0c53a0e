//! The agent's integration tests, one binary (one link, one process; no
//! test here changes process-wide state such as the environment or the
//! working directory). A module per area:
//!
//! - `agent_lock`: the agent and `devauth token` share each profile's lock;
//! - `agent_native`: the client's own profiles kept fresh;
//! - `agent_thousand`: 1,000 adopted profiles, some failing.

mod agent_lock;
mod agent_native;
mod agent_thousand;
