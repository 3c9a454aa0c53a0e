//! `devauth import kiro-cli` / `devauth import aws-sso`: adopt a login that
//! another tool already holds, as a devauth profile that `devauth agent`
//! keeps fresh.
//!
//! Nothing is written when the source looks wrong (missing, locked, unknown
//! schema, malformed JSON, expired registration): one sentence on stderr,
//! exit 3 when there is no usable login (log in with that tool first), 1
//! otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use devauth_client::clock::{Clock, SystemClock};
use devauth_client::store::{ProfileStore, validate_name};
use devauth_import::kiro::{self, KiroDb};
use devauth_import::{Credential, ImportError, Missing, Mode, aws_sso, profile};

use crate::exit::UsageError;

/// Flags of `devauth import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    source: Source,
}

#[derive(Debug, clap::Subcommand)]
enum Source {
    /// Adopt kiro-cli's login (or the older Amazon Q CLI's).
    ///
    /// Reads data.sqlite3 under ~/.local/share/kiro-cli (macOS: ~/Library/Application
    /// Support/kiro-cli; then amazon-q/ for the Amazon Q CLI) read-only, in one
    /// short read. With --mode follow (the default) devauth writes every refresh
    /// back into kiro-cli's database so both keep working; with --mode own it
    /// refreshes a copy, and kiro-cli will have to log in again.
    #[command(after_long_help = "\
Examples:
  $ devauth import kiro-cli --profile kiro
  # A database elsewhere, refreshed by devauth alone from now on
  $ devauth import kiro-cli --db ~/backup/data.sqlite3 --mode own")]
    KiroCli(KiroArgs),
    /// Adopt logins from the AWS CLI v2 SSO cache (~/.aws/sso/cache).
    ///
    /// Adopts what `aws sso login` left in the cache. With one login there,
    /// it becomes --profile; with several, pick one with --start-url, or
    /// import each with --all as profile aws-NAME, NAME from its start URL
    /// (https://corp.awsapps.com/start gives aws-corp).
    #[command(after_long_help = "\
Examples:
  $ devauth import aws-sso --profile work
  $ devauth import aws-sso --start-url https://corp.awsapps.com/start
  $ devauth import aws-sso --all")]
    AwsSso(AwsArgs),
}

/// Follow or own.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    /// Keep the other tool's copy in step: refresh into its database / file.
    Follow,
    /// Take a copy and refresh it alone (the other tool must log in again).
    Own,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Follow => Mode::Follow,
            ModeArg::Own => Mode::Own,
        }
    }
}

#[derive(Debug, clap::Args)]
struct KiroArgs {
    /// kiro-cli's database file [default: data.sqlite3 found under the
    /// local data folder, as above].
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Who refreshes the (rotating) refresh token from now on.
    #[arg(long, value_enum, default_value = "follow")]
    mode: ModeArg,
}

#[derive(Debug, clap::Args)]
struct AwsArgs {
    /// The AWS SSO cache folder [default: ~/.aws/sso/cache].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Import only the login for this start URL (the AWS access portal's).
    #[arg(long, value_name = "URL", conflicts_with = "all")]
    start_url: Option<String>,
    /// Import every login, each as profile aws-NAME (from its start URL);
    /// --profile is not used.
    #[arg(long)]
    all: bool,
    /// Who refreshes the (rotating) refresh token from now on.
    #[arg(long, value_enum, default_value = "follow")]
    mode: ModeArg,
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Runs the command.
pub fn run(args: Args, profile_arg: &super::ProfileArg) -> anyhow::Result<ExitCode> {
    let store = ProfileStore::open_default()?;
    let clock = SystemClock;
    let result = match args.source {
        Source::KiroCli(a) => import_kiro(&store, &clock, profile_arg.name(), a),
        Source::AwsSso(a) => import_aws(&store, &clock, profile_arg.name(), a),
    };
    match result {
        Ok(code) => Ok(code),
        Err(Failure::Source(error)) => Err(crate::exit::Explained {
            kind: error.kind(),
            message: not_imported(&error),
        }
        .into()),
        Err(Failure::Other(e)) => Err(e),
    }
}

/// Why the source held nothing to import, or could not be read: the
/// library's error, then what to do next, then that nothing was written. The
/// exit code comes from [`ImportError::kind`]: 3 when logging in with the
/// other tool helps, 1 otherwise.
fn not_imported(error: &ImportError) -> String {
    let next = match error {
        ImportError::NotFound {
            what: Missing::KiroDatabase,
            ..
        } => "; log in with kiro-cli first, or point --db at its data.sqlite3",
        ImportError::NotFound {
            what: Missing::AwsSsoCache | Missing::AwsSsoCacheFile,
            ..
        } => "; run `aws sso login` first, or point --cache-dir at the cache",
        _ => "",
    };
    format!("{error}{next}; nothing was imported")
}

enum Failure {
    Source(ImportError),
    Other(anyhow::Error),
}

impl From<ImportError> for Failure {
    fn from(e: ImportError) -> Self {
        Self::Source(e)
    }
}

impl From<devauth_client::StoreError> for Failure {
    fn from(e: devauth_client::StoreError) -> Self {
        Self::Other(e.into())
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Other(e)
    }
}

fn check_name(name: &str) -> Result<(), Failure> {
    validate_name(name).map_err(|e| Failure::Other(UsageError(e.to_string()).into()))
}

fn describe_expiry(cred: &Credential, clock: &dyn Clock) -> String {
    match cred.expires_in(clock.now()) {
        Some(s) if s > 0 => format!("access token valid for {} min", s / 60),
        Some(_) => "access token expired; the agent will refresh it".into(),
        None => "access token expiry unknown".into(),
    }
}

/// Stores `cred` as profile `name` under its lock. Refuses to replace a
/// login devauth made itself; replacing an earlier import is fine. Returns
/// whether a profile was replaced.
fn save(
    store: &ProfileStore,
    name: &str,
    cred: &Credential,
    clock: &dyn Clock,
) -> Result<bool, Failure> {
    let replaced = store.with_lock(name, |lock| -> Result<bool, Failure> {
        let now = clock.now();
        let previous = lock.load().map_err(anyhow::Error::from)?;
        let new = match previous {
            Some(p) if !profile::is_imported(&p) => {
                return Err(Failure::Other(
                    UsageError(format!(
                        "profile {name} holds a devauth login ({}); pick another --profile, or `devauth logout --profile {name}` first",
                        p.source.as_str()
                    ))
                    .into(),
                ));
            }
            Some(mut p) => {
                // a new login: the old state (needs-login) goes with the old tokens
                profile::apply(&mut p, cred, now);
                p.state = devauth_client::ProfileState::Active;
                p
            }
            None => profile::new_profile(name, cred, now),
        };
        let replaced = new.created_at != now;
        lock.save(&new).map_err(anyhow::Error::from)?;
        Ok(replaced)
    })?;
    devauth_agent::profiles::clear_record(store, name)
        .map_err(|e| Failure::Other(anyhow::Error::from(e)))?;
    Ok(replaced)
}

fn mode_note(mode: Mode, tool: &str) -> String {
    match mode {
        Mode::Follow => format!(
            "mode follow: devauth re-reads {tool}'s copy before each refresh and writes the result back, so {tool} keeps working"
        ),
        Mode::Own => format!(
            "mode own: devauth refreshes its own copy; once it rotates the refresh token, {tool} will have to log in again"
        ),
    }
}

fn import_kiro(
    store: &ProfileStore,
    clock: &dyn Clock,
    profile: &str,
    args: KiroArgs,
) -> Result<ExitCode, Failure> {
    check_name(profile)?;
    let db = args.db.unwrap_or_else(|| kiro::locate(&home()));
    let snapshot = KiroDb::new(&db).read()?;
    let cred = kiro::adopt(&db, &snapshot, args.mode.into(), clock.now())?;
    let replaced = save(store, profile, &cred, clock)?;
    eprintln!(
        "{} {} from {} as profile {profile} ({})",
        if replaced { "Re-imported" } else { "Imported" },
        cred.kind.describe(),
        db.display(),
        describe_expiry(&cred, clock),
    );
    eprintln!("{}", mode_note(cred.mode, "kiro-cli"));
    eprintln!("Keep it fresh with `devauth agent` (see docs/agent.md).");
    Ok(ExitCode::SUCCESS)
}

/// `aws-corp` for `https://corp.awsapps.com/start`.
fn aws_profile_name(entry: &aws_sso::CacheEntry) -> String {
    let label = entry
        .start_url
        .as_deref()
        .and_then(|u| u.split("://").nth(1))
        .and_then(|rest| rest.split(['/', '.', ':']).next())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            entry
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().chars().take(12).collect())
                .unwrap_or_else(|| "login".into())
        });
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("aws-{clean}")
}

fn import_aws(
    store: &ProfileStore,
    clock: &dyn Clock,
    profile: &str,
    args: AwsArgs,
) -> Result<ExitCode, Failure> {
    let dir = args
        .cache_dir
        .unwrap_or_else(|| aws_sso::default_cache_dir(&home()));
    let scan = aws_sso::scan(&dir)?;
    for skipped in &scan.skipped {
        eprintln!("warning: skipped {skipped}");
    }
    let mut entries: Vec<&aws_sso::CacheEntry> = scan
        .entries
        .iter()
        .filter(|e| {
            args.start_url
                .as_deref()
                .is_none_or(|u| e.start_url.as_deref() == Some(u))
        })
        .collect();
    if entries.is_empty() {
        return Err(ImportError::NoLogin {
            what: format!("the AWS SSO cache at {}", dir.display()),
            tool: "`aws sso login`",
        }
        .into());
    }
    if entries.len() > 1 && !args.all {
        let urls: Vec<&str> = entries
            .iter()
            .map(|e| e.start_url.as_deref().unwrap_or("?"))
            .collect();
        return Err(Failure::Other(
            UsageError(format!(
                "the AWS SSO cache holds {} logins ({}): pick one with --start-url URL, or import all with --all",
                entries.len(),
                urls.join(", ")
            ))
            .into(),
        ));
    }
    let mode: Mode = args.mode.into();
    // the newest login first, so a name collision keeps it
    entries.sort_by_key(|e| std::cmp::Reverse(e.expires_at));
    let mut used = std::collections::HashSet::new();
    let mut imported = 0;
    let mut failed = Vec::new();
    for entry in entries {
        let name = if args.all {
            let base = aws_profile_name(entry);
            let mut name = base.clone();
            let mut n = 2;
            while used.contains(&name) {
                name = format!("{base}-{n}");
                n += 1;
            }
            name
        } else {
            profile.to_owned()
        };
        check_name(&name)?;
        let cred = match entry.adopt(mode, clock.now()) {
            Ok(c) => c,
            Err(e) => {
                failed.push(e);
                continue;
            }
        };
        if !entry.refreshable() {
            eprintln!(
                "warning: {} has no refresh token; devauth can use it until it expires, not refresh it",
                entry.path.display()
            );
        }
        let replaced = save(store, &name, &cred, clock)?;
        used.insert(name.clone());
        imported += 1;
        eprintln!(
            "{} AWS SSO login for {} as profile {name} ({})",
            if replaced { "Re-imported" } else { "Imported" },
            entry.start_url.as_deref().unwrap_or("?"),
            describe_expiry(&cred, clock),
        );
    }
    if imported == 0 {
        return Err(failed.remove(0).into());
    }
    for e in failed {
        eprintln!("warning: not imported: {e}");
    }
    eprintln!("{}", mode_note(mode, "the AWS CLI"));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use devauth_client::ErrorKind;
    use devauth_import::{ImportError, Missing};

    use super::not_imported;

    #[test]
    fn a_missing_source_says_what_to_do_and_needs_a_login() {
        let not_found = |what| ImportError::NotFound {
            what,
            path: "/nowhere".into(),
        };
        let kiro = not_found(Missing::KiroDatabase);
        assert_eq!(kiro.kind(), ErrorKind::NeedsLogin);
        assert!(not_imported(&kiro).contains("log in with kiro-cli first"));
        assert!(not_imported(&kiro).ends_with("nothing was imported"));
        let aws = not_found(Missing::AwsSsoCache);
        assert_eq!(aws.kind(), ErrorKind::NeedsLogin);
        assert!(not_imported(&aws).contains("aws sso login"));
        let locked = ImportError::Locked { path: "/db".into() };
        assert_eq!(locked.kind(), ErrorKind::Other);
        assert!(not_imported(&locked).ends_with("; nothing was imported"));
    }
}
