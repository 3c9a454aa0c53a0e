//! One file per verb. Each has a clap `Args` and a `run` returning the exit code.

pub mod admin;
pub mod agent;
pub mod completions;
pub mod import;
pub mod login;
pub mod logout;
pub mod profiles;
pub mod run;
pub mod serve;
pub mod status;
pub mod token;

/// Options every client command takes.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// Profile to use: each profile holds one issuer + account.
    #[arg(
        long,
        global = true,
        env = "DEVAUTH_PROFILE",
        default_value = "default"
    )]
    pub profile: String,
}
