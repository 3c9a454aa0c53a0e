//! One file per verb (a folder for `login`, whose AWS flow is its own, and
//! for `mcp`, whose sub-verbs are one file each). Each has a clap `Args` and
//! a `run` returning the exit code; an error's code is decided in
//! [`crate::exit`].

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

/// `--profile NAME`, for the client commands that work on one profile
/// (`main.rs` flattens it into each of them; `agent` and `mcp` declare
/// their own, whose default differs; the server commands have none).
///
/// `global` makes it work after a nested verb too: `devauth import kiro-cli
/// --profile work`, `devauth git-credential get --profile work`.
#[derive(Debug, clap::Args)]
pub struct ProfileArg {
    /// Profile to use: each profile holds one issuer + account [default:
    /// default].
    #[arg(
        long = "profile",
        global = true,
        env = "DEVAUTH_PROFILE",
        value_name = "NAME"
    )]
    chosen_profile: Option<String>,
}

// A client command's own flags, then `--profile`. (No doc comment: clap
// would take it for the command's description.)
#[derive(Debug, clap::Args)]
pub struct WithProfile<A: clap::Args> {
    #[command(flatten)]
    pub args: A,
    #[command(flatten)]
    pub profile: ProfileArg,
}

impl ProfileArg {
    /// The profile a command works on: the one asked for, else `default`.
    pub fn name(&self) -> &str {
        self.chosen_profile.as_deref().unwrap_or("default")
    }
}
