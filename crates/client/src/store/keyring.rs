//! The OS keyring backend: a profile's secrets as one JSON blob in the
//! Secret Service (service `devauth`, account = the profile name).
//!
//! Every call runs in a worker thread with a deadline: a session bus whose
//! Secret Service is absent, slow to activate or waiting for an unlock
//! prompt nobody will answer (a headless machine) gives an error instead of
//! a hang. A worker that misses its deadline is abandoned (it dies with the
//! process).

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use devauth_proto::Secret;
use keyring_core::api::CredentialStoreApi as _;
use serde::{Deserialize, Serialize};

use super::error::StoreError;

/// The keyring entries' service attribute.
pub const SERVICE: &str = "devauth";

/// How long the automatic choice waits for a Secret Service to answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// The environment variable that changes [`PROBE_TIMEOUT`] (milliseconds),
/// for a keyring that is slow to start (and for tests on a loaded machine).
pub const PROBE_ENV: &str = "DEVAUTH_KEYRING_PROBE_MS";

/// How long one read, write or delete may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The secrets of one profile, as kept in its keyring entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Secrets {
    pub access_token: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
}

/// Whether a Secret Service answers on the session bus within
/// [`PROBE_TIMEOUT`] (or `DEVAUTH_KEYRING_PROBE_MS`). `false` at once when `DBUS_SESSION_BUS_ADDRESS` is
/// unset (no session bus: a server, a container, CI).
pub fn answers() -> bool {
    probe().is_ok()
}

/// Like [`answers`], with the reason when it does not.
pub(crate) fn probe() -> Result<(), StoreError> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|a| a.is_empty()) {
        return Err(unavailable(
            "no session bus (DBUS_SESSION_BUS_ADDRESS is unset)",
        ));
    }
    let timeout = std::env::var(PROBE_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(PROBE_TIMEOUT, Duration::from_millis);
    call(timeout, |_| Ok(()))
}

/// Reads profile `name`'s secrets; `Ok(None)` when the entry is missing.
pub(crate) fn read(name: &str) -> Result<Option<Secrets>, StoreError> {
    let name = name.to_owned();
    let bytes = call(CALL_TIMEOUT, move |store| {
        match entry(store, &name)?.get_secret() {
            Ok(b) => Ok(Some(b)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        }
    })?;
    match bytes {
        None => Ok(None),
        // Never the serde message: it may quote a token.
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|_| unavailable("its devauth entry is not valid JSON")),
    }
}

/// Writes (creates or replaces) profile `name`'s secrets.
pub(crate) fn write(name: &str, secrets: &Secrets) -> Result<(), StoreError> {
    let blob = serde_json::to_vec(secrets).map_err(|_| unavailable("cannot serialise"))?;
    let name = name.to_owned();
    call(CALL_TIMEOUT, move |store| {
        entry(store, &name)?.set_secret(&blob)
    })
}

/// Deletes profile `name`'s entry; `Ok(false)` when there was none.
pub(crate) fn delete(name: &str) -> Result<bool, StoreError> {
    let name = name.to_owned();
    call(CALL_TIMEOUT, move |store| {
        match entry(store, &name)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(e),
        }
    })
}

type Store = zbus_secret_service_keyring_store::Store;

fn entry(store: &Store, name: &str) -> keyring_core::Result<keyring_core::Entry> {
    let label = format!("devauth profile {name}");
    let mods = HashMap::from([("label", label.as_str())]);
    store.build(SERVICE, name, Some(&mods))
}

/// Connects (a fresh Secret Service session) and runs `f` in a worker
/// thread, waiting at most `timeout`.
fn call<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce(&Store) -> keyring_core::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("devauth-keyring".into())
        .spawn(move || {
            let result = Store::new().and_then(|store| f(&store));
            let _ = tx.send(result);
        });
    if spawned.is_err() {
        return Err(unavailable("cannot start a thread"));
    }
    match rx.recv_timeout(timeout) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(unavailable(&describe(&e))),
        Err(_) => Err(unavailable(&format!(
            "no answer within {} ms",
            timeout.as_millis()
        ))),
    }
}

/// A short description of a keyring error: the platform's message for a
/// D-Bus failure, a fixed phrase otherwise (some variants carry the stored
/// bytes, which must never be shown).
fn describe(e: &keyring_core::Error) -> String {
    let text = match e {
        keyring_core::Error::PlatformFailure(inner) => inner.to_string(),
        keyring_core::Error::NoStorageAccess(_) => "the keyring is locked or refused access".into(),
        keyring_core::Error::NoEntry => "no such entry".into(),
        keyring_core::Error::Ambiguous(_) => "several entries match".into(),
        _ => "the keyring rejected the request".into(),
    };
    crate::safe_text::sanitize(&text)
}

fn unavailable(detail: &str) -> StoreError {
    StoreError::Keyring {
        detail: detail.to_owned(),
    }
}
