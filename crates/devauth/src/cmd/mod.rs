//! One file per verb. Each has a clap `Args` and a `run` returning the exit code.

pub mod admin;
pub mod agent;
pub mod completions;
pub mod git_credential;
pub mod guard;
pub mod import;
pub mod kubectl_credential;
pub mod login;
pub mod logout;
pub mod mcp;
pub mod profiles;
pub mod run;
pub mod serve;
pub mod status;
pub mod token;

/// Options every client command takes.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// Profile to use: each profile holds one issuer + account [default:
    /// default]. `devauth agent` keeps only this profile when it is given,
    /// every profile when not.
    #[arg(
        long = "profile",
        global = true,
        env = "DEVAUTH_PROFILE",
        value_name = "NAME"
    )]
    chosen_profile: Option<String>,
}

impl Global {
    /// The profile a command works on: the one asked for, else `default`.
    pub fn profile(&self) -> &str {
        self.chosen_profile.as_deref().unwrap_or("default")
    }

    /// The profile asked for with `--profile` or `DEVAUTH_PROFILE`, if any.
    pub fn chosen_profile(&self) -> Option<&str> {
        self.chosen_profile.as_deref()
    }
}
