//! `devauth admin`: users, clients and signing keys of the server, working
//! directly on its storage (same `--data-dir`/`--config` flags and
//! environment as `devauth serve`), whether or not a server is running.
//!
//! `admin migrate` applies pending migrations and exits (an upgrade step
//! before rolling new replicas out; `serve` also migrates on start).
//!
//! Secrets come in on stdin (`user add --password-stdin`) and go out once on
//! stdout (a confidential client's generated secret); only hashes are stored.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::Context as _;
use devauth_proto::{GrantType, Scope, Secret};
use devauth_server::clock::{Clock as _, SystemClock};
use devauth_server::model::{KeyAlgorithm, Resource, TokenHash};
use devauth_server::setup::{self, AddClientError, NewClient};
use devauth_server::store::StoreError;

use super::serve::StorageArgs;
use crate::exit::UsageError;

/// Flags of `devauth admin`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    storage: StorageArgs,
    /// Make a new, empty server database where none is found at the default
    /// place (with --data-dir, a missing one is always made).
    #[arg(long, global = true, help_heading = "Storage")]
    create: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// People who log in on the verification pages.
    #[command(subcommand)]
    User(UserCommand),
    /// OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Protected resources (RFC 8707): `resource=URL` gives tokens with `aud` = URL.
    #[command(subcommand)]
    Resource(ResourceCommand),
    /// Make an initial access token for `serve --registration token` (RFC 7591),
    /// printed once on stdout; only its hash is stored.
    ///
    /// A client that registers itself at /oauth/register sends it as
    /// `Authorization: Bearer TOKEN`, as many times as needed until it
    /// expires.
    #[command(after_long_help = "\
Examples:
  # Valid for a week; hand it to whoever sets up the MCP clients
  $ devauth admin registration-token --ttl 604800")]
    RegistrationToken {
        /// How long it may be used, seconds, at least 60.
        #[arg(long, value_name = "S", default_value_t = 86_400, value_parser = clap::value_parser!(u32).range(60..))]
        ttl: u32,
    },
    /// Apply pending schema migrations, then exit.
    ///
    /// Migrates the durable store (SQLite or PostgreSQL) and the flow store
    /// (nothing to do for Redis, whose keys carry their own TTLs). Safe while
    /// replicas run or start: PostgreSQL migrations take an advisory lock.
    Migrate,
}

#[derive(Debug, clap::Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from stdin.
    ///
    /// The user signs in with it on the verification pages to approve
    /// logins. Only a hash of the password is stored.
    #[command(after_long_help = "\
Examples:
  $ printf '%s\\n' \"$PASSWORD\" | devauth admin user add alice --password-stdin")]
    Add {
        /// Login name.
        name: String,
        /// Read the password from stdin (required: passwords are never flags).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Disable a user: no more logins, and its tokens stop working.
    Disable {
        /// Login name.
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// Login name.
        name: String,
    },
    /// Set a new password (a lost demo password, say), read from stdin.
    SetPassword {
        /// Login name.
        name: String,
        /// Read the password from stdin (required: passwords are never flags).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a user; its tokens stop working.
    Remove {
        /// Login name.
        name: String,
    },
}

#[derive(Debug, clap::Subcommand)]
enum ClientCommand {
    /// Add a client. Confidential by default: its secret is printed once on stdout.
    ///
    /// A confidential client gets a generated secret, printed once on stdout
    /// (only its hash is kept) and, unless --grant says otherwise, only the
    /// client credentials grant: a service account. --public makes a client
    /// without a secret, like a command-line tool, with the device grant and
    /// refresh tokens.
    #[command(after_long_help = "\
Examples:
  # A service account for CI; keep the secret it prints
  $ devauth admin client add ci-bot --name \"CI bot\" --grant client_credentials \\
      --scope api:read

  # A command-line tool of your own
  $ devauth admin client add my-cli --name \"My CLI\" --public

  # A resource server that may introspect tokens
  $ devauth admin client add api-gw --name \"API gateway\" --introspect")]
    Add {
        /// The client_id clients send.
        id: String,
        /// Name shown on the confirm page.
        #[arg(long)]
        name: String,
        /// A public client (no secret), like a command-line tool.
        #[arg(long)]
        public: bool,
        /// Allowed grant (device_code, refresh_token, authorization_code,
        /// client_credentials); repeatable [default: device_code + refresh_token
        /// for public clients, client_credentials otherwise].
        #[arg(long = "grant", value_name = "G")]
        grants: Vec<String>,
        /// Allowed redirect URI (loopback URIs match any port); repeatable.
        #[arg(long = "redirect-uri", value_name = "U")]
        redirect_uris: Vec<String>,
        /// Allowed scope; repeatable [default: any scope the server knows].
        #[arg(long = "scope", value_name = "S")]
        scopes: Vec<String>,
        /// May introspect tokens issued to other clients (a resource server).
        #[arg(long)]
        introspect: bool,
        /// Algorithm of its ID tokens (`id_token_signed_response_alg`).
        #[arg(long, value_name = "ALG", default_value = "RS256", value_parser = parse_alg)]
        id_token_alg: KeyAlgorithm,
    },
    /// Change a client: its name, the introspection right, the ID-token algorithm.
    ///
    /// A running server sees the change within 5 seconds. Grants, redirect
    /// URIs and scopes are not changed here.
    #[command(after_long_help = "\
Examples:
  $ devauth admin client update api-gw --introspect false
  $ devauth admin client update my-cli --id-token-alg ES256")]
    Update {
        /// The client's client_id.
        id: String,
        /// Name shown on the confirm page.
        #[arg(long)]
        name: Option<String>,
        /// Allow (`true`) or withdraw (`false`) introspection of other clients' tokens.
        #[arg(long, value_name = "BOOL")]
        introspect: Option<bool>,
        /// Algorithm of its ID tokens: RS256 or ES256.
        #[arg(long, value_name = "ALG", value_parser = parse_alg)]
        id_token_alg: Option<KeyAlgorithm>,
    },
    /// List clients.
    List,
    /// Remove a client; its refresh tokens stop working (its access tokens
    /// run out on their own).
    Remove {
        /// The client's client_id.
        id: String,
    },
}

/// A grant as `--grant` takes it: `device_code`, not the URN.
fn grant_name(g: &GrantType) -> &str {
    match g {
        GrantType::DeviceCode => "device_code",
        other => other.as_str(),
    }
}

/// The password piped on stdin for `--password-stdin`.
fn password_from_stdin(password_stdin: bool) -> anyhow::Result<Secret> {
    if !password_stdin {
        return Err(UsageError("pass the password on stdin with --password-stdin".into()).into());
    }
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read the password from stdin")?;
    let password = Secret::new(input.trim_end_matches(['\r', '\n']));
    if password.is_empty() {
        return Err(UsageError("the password on stdin is empty".into()).into());
    }
    Ok(password)
}

fn parse_alg(s: &str) -> Result<KeyAlgorithm, String> {
    KeyAlgorithm::parse(&s.to_ascii_uppercase())
        .ok_or_else(|| format!("{s:?} is not RS256 or ES256"))
}

#[derive(Debug, clap::Subcommand)]
enum ResourceCommand {
    /// Register a protected resource, e.g. an MCP server's URL.
    ///
    /// A client that asks for a token with `resource=URL` (RFC 8707) then
    /// gets one whose `aud` is URL, the audience `devauth guard --resource
    /// URL` checks. A resource the server does not know is refused
    /// (`invalid_target`).
    #[command(after_long_help = "\
Examples:
  $ devauth admin resource add https://tools.example.com/mcp --scope mcp:tools")]
    Add {
        /// The resource URL (https, or http on a loopback host; no fragment).
        url: String,
        /// A scope of this resource that clients may ask for with it; repeatable.
        #[arg(long = "scope", value_name = "S")]
        scopes: Vec<String>,
    },
    /// List protected resources.
    List,
    /// Remove a protected resource; tokens already issued for it run out on their own.
    Remove {
        /// The resource URL.
        url: String,
    },
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Make new signing keys current; old ones stay published until their tokens expire.
    ///
    /// The new keys are published at once and sign from a minute later, once
    /// every running server lists them.
    Rotate,
    /// List signing keys.
    List,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(admin(args))?;
    Ok(ExitCode::SUCCESS)
}

fn format_time(t: devauth_server::model::Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.secs())
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.secs().to_string())
}

async fn admin(args: Args) -> anyhow::Result<()> {
    let file = args.storage.file_config()?;
    // A data folder nobody named is where `serve` would look; a missing
    // database there usually means DEVAUTH_HOME or XDG_DATA_HOME differ from
    // the server's environment. Say so rather than make an empty one.
    let named = args.storage.data_dir.is_some() || file.data_dir().is_some();
    let sqlite = args.storage.database_url.is_none();
    let dir = args.storage.data_dir(&file)?;
    let db = dir.join("devauth.db");
    // Bad storage URLs are reported first, as `serve` reports them.
    devauth_server::store::open::Plan::resolve(
        &dir,
        args.storage.database_url.as_deref(),
        args.storage.redis_url.as_deref(),
    )
    .map_err(|e| UsageError(format!("{e}")))?;
    // `migrate` exists to prepare a database, so it may make one.
    let creates = args.create || matches!(args.command, Command::Migrate);
    if sqlite && !named && !creates && !db.exists() {
        return Err(UsageError(format!(
            "no server database at {}: `devauth serve` keeps it in $DEVAUTH_HOME/server, \
             else $XDG_DATA_HOME/devauth-server, else ~/.local/share/devauth-server — check \
             that this shell has the server's environment, or pass --data-dir DIR; \
             --create makes a new, empty one here",
            db.display()
        ))
        .into());
    }
    let (stores, data_dir) = args.storage.open(&file).await?;
    if sqlite {
        eprintln!("devauth admin: database {}", db.display());
    } else {
        eprintln!("devauth admin: database at --database-url (PostgreSQL)");
    }
    let store = stores.durable.as_ref();
    let now = SystemClock.now();
    // Migrating writes nothing but the schema.
    if !matches!(args.command, Command::Migrate) {
        devauth_server::setup::ensure_default_client(store, now).await?;
    }
    match args.command {
        Command::User(UserCommand::Add {
            name,
            password_stdin,
        }) => {
            let password = password_from_stdin(password_stdin)?;
            match devauth_server::setup::add_user(store, &name, &password, now).await {
                Ok(user) => eprintln!("added user {name} ({})", user.id),
                Err(devauth_server::setup::AddUserError::Store(StoreError::AlreadyExists(_))) => {
                    return Err(UsageError(format!("a user named {name} already exists")).into());
                }
                Err(e) => return Err(e).context("cannot add the user"),
            }
        }
        Command::User(UserCommand::SetPassword {
            name,
            password_stdin,
        }) => {
            let password = password_from_stdin(password_stdin)?;
            if !devauth_server::setup::set_password(store, &name, &password)
                .await
                .context("cannot set the password")?
            {
                return Err(UsageError(format!("no user named {name}")).into());
            }
            eprintln!("set a new password for {name}");
        }
        Command::User(UserCommand::Enable { name }) => {
            if !store.set_user_disabled(&name, false).await? {
                return Err(UsageError(format!("no user named {name}")).into());
            }
            eprintln!("enabled user {name}");
        }
        Command::User(UserCommand::Remove { name }) => {
            if !store.delete_user(&name).await? {
                return Err(UsageError(format!("no user named {name}")).into());
            }
            eprintln!("removed user {name}; its tokens no longer work");
        }
        Command::User(UserCommand::List) => {
            println!("NAME\tID\tSTATE\tCREATED");
            for u in store.list_users().await? {
                let state = if u.disabled { "disabled" } else { "active" };
                println!(
                    "{}\t{}\t{}\t{}",
                    u.username,
                    u.id,
                    state,
                    format_time(u.created_at)
                );
            }
        }
        Command::User(UserCommand::Disable { name }) => {
            if !store.set_user_disabled(&name, true).await? {
                return Err(UsageError(format!("no user named {name}")).into());
            }
            eprintln!("disabled user {name}");
        }
        Command::Client(ClientCommand::Add {
            id,
            name,
            public,
            grants,
            redirect_uris,
            scopes,
            introspect,
            id_token_alg,
        }) => {
            let allowed_scopes =
                Scope::parse(&scopes.join(" ")).map_err(|e| UsageError(format!("--scope: {e}")))?;
            let new = NewClient {
                id: id.clone(),
                name,
                public,
                grant_types: grants.iter().map(|g| GrantType::parse(g)).collect(),
                redirect_uris,
                allowed_scopes,
                may_introspect: introspect,
                id_token_alg,
            };
            let secret = match setup::add_client(store, new, now).await {
                Ok((_, secret)) => secret,
                Err(AddClientError::Store(e)) => return Err(e).context("cannot add the client"),
                Err(AddClientError::RedirectUri(u)) => {
                    return Err(UsageError(format!("--redirect-uri {u:?} is not a URL")).into());
                }
                Err(refused) => return Err(UsageError(refused.to_string()).into()),
            };
            eprintln!("added client {id}");
            if let Some(secret) = secret {
                eprintln!("its secret follows on stdout; it is shown only this once");
                // stdout is for data: the secret alone, for `| read` or a secret manager.
                println!("{}", secret.expose());
            }
        }
        Command::Client(ClientCommand::Update {
            id,
            name,
            introspect,
            id_token_alg,
        }) => {
            let Some(mut client) = store.client(&id).await? else {
                return Err(UsageError(format!("no client {id}")).into());
            };
            if name.is_none() && introspect.is_none() && id_token_alg.is_none() {
                return Err(UsageError(
                    "nothing to change: give --name, --introspect or --id-token-alg".into(),
                )
                .into());
            }
            if introspect == Some(true) && client.is_public() {
                return Err(UsageError(AddClientError::PublicIntrospect.to_string()).into());
            }
            client.name = name.unwrap_or(client.name);
            client.may_introspect = introspect.unwrap_or(client.may_introspect);
            client.id_token_alg = id_token_alg.unwrap_or(client.id_token_alg);
            if !store.update_client(&client).await? {
                return Err(UsageError(format!("no client {id}")).into());
            }
            eprintln!("updated client {id} (a running server sees it within 5 seconds)");
        }
        Command::Client(ClientCommand::Remove { id }) => {
            if !store.delete_client(&id).await? {
                return Err(UsageError(format!("no client {id}")).into());
            }
            eprintln!("removed client {id}");
            if id == devauth_server::config::DEFAULT_CLIENT_ID {
                eprintln!("(the server creates {id} again when it starts)");
            }
        }
        Command::Client(ClientCommand::List) => {
            println!("ID\tKIND\tGRANTS\tNAME\tRIGHTS\tID_TOKEN_ALG\tORIGIN\tFIRST_USED");
            for c in store.list_clients().await? {
                let kind = if c.is_public() {
                    "public"
                } else {
                    "confidential"
                };
                // As typed on the command line: device_code, not the URN.
                let grants: Vec<&str> = c.grant_types.iter().map(grant_name).collect();
                let rights = if c.may_introspect { "introspect" } else { "-" };
                let used = c.used_at.map_or_else(|| "-".to_owned(), format_time);
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    c.id,
                    kind,
                    grants.join(","),
                    c.name,
                    rights,
                    c.id_token_alg.as_str(),
                    c.origin.as_str(),
                    used
                );
            }
        }
        Command::Keys(KeysCommand::Rotate) => {
            devauth_server::keys::ensure_current(store, now).await?;
            let kids = devauth_server::keys::rotate(store, now).await?;
            eprintln!(
                "new signing keys: {} — published now, signing in {} s, once every \
                 running server lists them",
                kids.join(", "),
                devauth_server::keys::PUBLISH_AHEAD_SECS
            );
        }
        Command::Resource(ResourceCommand::Add { url, scopes }) => {
            if !Resource::valid_indicator(&url) {
                return Err(UsageError(format!(
                    "{url:?} is not a resource URL: use an absolute https URL \
                     (http only on 127.0.0.1/localhost), without a #fragment"
                ))
                .into());
            }
            let scopes =
                Scope::parse(&scopes.join(" ")).map_err(|e| UsageError(format!("--scope: {e}")))?;
            let resource = Resource {
                url: url.clone(),
                scopes,
                created_at: now,
            };
            match store.add_resource(&resource).await {
                Ok(()) => eprintln!("added resource {url}"),
                Err(StoreError::AlreadyExists(_)) => {
                    return Err(UsageError(format!("the resource {url} already exists")).into());
                }
                Err(e) => return Err(e).context("cannot add the resource"),
            }
        }
        Command::Resource(ResourceCommand::List) => {
            println!("URL\tSCOPES\tCREATED");
            for r in store.list_resources().await? {
                let scopes = if r.scopes.is_empty() {
                    "-".to_owned()
                } else {
                    r.scopes.to_string()
                };
                println!("{}\t{}\t{}", r.url, scopes, format_time(r.created_at));
            }
        }
        Command::Resource(ResourceCommand::Remove { url }) => {
            if !store.remove_resource(&url).await? {
                return Err(UsageError(format!("no resource {url}")).into());
            }
            eprintln!("removed resource {url}");
        }
        Command::RegistrationToken { ttl } => {
            let token = devauth_server::random::secret();
            let expires = now.plus_secs(i64::from(ttl));
            store
                .add_registration_token(&TokenHash::of(token.expose()), now, expires)
                .await
                .context("cannot store the registration token")?;
            eprintln!(
                "initial access token for client registration, valid until {}; \
                 it follows on stdout and is shown only this once",
                format_time(expires)
            );
            println!("{}", token.expose());
        }
        Command::Migrate => migrate(&args.storage, &stores, &data_dir).await?,
        Command::Keys(KeysCommand::List) => {
            // Same first-start provisioning as `serve`: never an empty list.
            devauth_server::keys::ensure_current(store, now).await?;
            println!("KID\tALG\tFROM\tSTATE");
            for k in store.list_keys().await? {
                // A rotated-in key is published before it signs (its
                // created_at is when it starts), and the key it replaces
                // signs until then.
                let state = match k.retired_at {
                    _ if k.created_at > now => {
                        format!("next, signs from {}", format_time(k.created_at))
                    }
                    None => "current".to_owned(),
                    Some(t) if t > now => format!("current, retires {}", format_time(t)),
                    Some(t) => format!("retired {}", format_time(t)),
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    k.kid,
                    k.alg.as_str(),
                    format_time(k.created_at),
                    state
                );
            }
        }
    }
    Ok(())
}

/// `admin migrate`: opening the stores already migrated them; run each
/// store's (idempotent) migration once more explicitly so the command's
/// success means "both stores are at the current schema", and say which
/// backends those were.
async fn migrate(
    storage: &StorageArgs,
    stores: &devauth_server::store::Stores,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let plan = devauth_server::store::open::Plan::resolve(
        data_dir,
        storage.database_url.as_deref(),
        storage.redis_url.as_deref(),
    )
    .map_err(|e| UsageError(format!("{e}")))?;
    stores
        .durable
        .migrate()
        .await
        .context("cannot migrate the durable store")?;
    stores
        .flow
        .migrate()
        .await
        .context("cannot migrate the flow store")?;
    eprintln!(
        "devauth admin migrate: up to date (durable={}, flow={})",
        plan.durable_name(),
        plan.flow_name()
    );
    Ok(())
}
