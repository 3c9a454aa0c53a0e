//! The profile files: one 0600 JSON file per profile in a 0700 folder,
//! atomic replacement, and a sidecar lock file per profile. A file holds the
//! secrets itself, or the marker `"secrets": "keyring"` when they are in the
//! OS keyring (see [`super::keyring`]).

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::backend::{self, Backend};
use super::error::StoreError;
use super::keyring::{self, Secrets};
use super::profile::{Profile, validate_name};

/// The file key that says where the secrets are.
const SECRETS_KEY: &str = "secrets";

/// The profile folder.
#[derive(Debug, Clone)]
pub struct ProfileStore {
    dir: PathBuf,
    placement: Placement,
}

/// Where saves put the secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// No choice made (a reader, or a store opened on a path): existing
    /// profiles keep their backend, new ones go to the file.
    Keep,
    /// Chosen automatically: new profiles go there, existing ones stay.
    Auto(Backend),
    /// Forced by `DEVAUTH_STORE`: every save goes there.
    Forced(Backend),
}

impl ProfileStore {
    /// Opens (creating it, mode 0700) the store under `home`: profiles live
    /// in `home/profiles`.
    pub fn open(home: &Path) -> Result<Self, StoreError> {
        let dir = home.join("profiles");
        for d in [home, dir.as_path()] {
            fs::create_dir_all(d).map_err(|e| StoreError::io(d, e))?;
            fs::set_permissions(d, fs::Permissions::from_mode(0o700))
                .map_err(|e| StoreError::io(d, e))?;
        }
        Ok(Self {
            dir,
            placement: Placement::Keep,
        })
    }

    /// Opens the store where the environment says and picks the backend
    /// for new profiles: `DEVAUTH_STORE=file|keyring` forces one
    /// (`keyring` fails with [`StoreError::Keyring`] when no Secret Service
    /// answers); unset, the keyring is used when one answers within
    /// [`keyring::PROBE_TIMEOUT`], else the file. `DEVAUTH_HOME` or the XDG
    /// data folder is used.
    pub fn open_default() -> Result<Self, StoreError> {
        let forced = backend::check_backend()?.is_some();
        let backend = backend::select_backend()?;
        let placement = if forced {
            Placement::Forced(backend)
        } else {
            Placement::Auto(backend)
        };
        let mut store = Self::open(&super::home::data_home()?)?;
        store.placement = placement;
        Ok(store)
    }

    /// The store's location without creating anything and without contacting
    /// the keyring (for readers: `devauth token`). Saves keep each profile's
    /// backend; new profiles go to the file.
    pub fn at(home: &Path) -> Self {
        Self {
            dir: home.join("profiles"),
            placement: Placement::Keep,
        }
    }

    /// The profiles folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The backend new profiles get (`file` or `keyring`), for `devauth
    /// status` and `profiles`.
    pub fn backend(&self) -> &'static str {
        self.new_backend().as_str()
    }

    fn new_backend(&self) -> Backend {
        match self.placement {
            Placement::Keep => Backend::File,
            Placement::Auto(b) | Placement::Forced(b) => b,
        }
    }

    /// Where profile `name`'s secrets are, read from its file alone (no
    /// keyring call); `Ok(None)` when there is no such profile.
    pub fn backend_of(&self, name: &str) -> Result<Option<Backend>, StoreError> {
        validate_name(name)?;
        let path = self.path_of(name);
        Ok(read_value(&path)?.map(|v| marker(&v)))
    }

    /// The file that holds profile `name`.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn lock_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.lock"))
    }

    /// Reads profile `name` without locking (safe: files are replaced
    /// atomically). `Ok(None)` when there is no such profile.
    pub fn load(&self, name: &str) -> Result<Option<Profile>, StoreError> {
        validate_name(name)?;
        let path = self.path_of(name);
        let Some(mut value) = read_value(&path)? else {
            return Ok(None);
        };
        if marker(&value) == Backend::Keyring {
            let secrets = keyring::read(name)?.ok_or_else(|| StoreError::Keyring {
                detail: format!("the entry of profile `{name}` is missing from the keyring"),
            })?;
            merge_secrets(&mut value, secrets);
        }
        parse(&path, value).map(Some)
    }

    /// Writes a profile atomically, taking its lock for the write.
    pub fn save(&self, profile: &Profile) -> Result<(), StoreError> {
        self.with_lock(&profile.name, |lock| lock.save(profile))
    }

    /// Deletes a profile; `Ok(false)` when it did not exist.
    pub fn delete(&self, name: &str) -> Result<bool, StoreError> {
        self.with_lock(name, |lock| lock.delete())
    }

    /// Every profile, sorted by name; a damaged file is an `Err` entry and
    /// does not hide the others.
    pub fn list(&self) -> Result<Vec<Result<Profile, StoreError>>, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&self.dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(&self.dir, e))?;
            let file = entry.file_name();
            let Some(file) = file.to_str() else { continue };
            if let Some(name) = file.strip_suffix(".json")
                && validate_name(name).is_ok()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names
            .into_iter()
            .filter_map(|n| self.load(&n).transpose())
            .collect())
    }

    /// Takes the exclusive lock of profile `name`, blocking until it is free.
    pub fn lock(&self, name: &str) -> Result<ProfileLock<'_>, StoreError> {
        validate_name(name)?;
        fs::create_dir_all(&self.dir).map_err(|e| StoreError::io(&self.dir, e))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| StoreError::io(&self.dir, e))?;
        let path = self.lock_path(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        file.lock().map_err(|e| StoreError::io(&path, e))?;
        Ok(ProfileLock {
            store: self,
            name: name.to_owned(),
            _file: file,
        })
    }

    /// Runs `f` while holding profile `name`'s lock. Inside, read with
    /// [`ProfileLock::load`] (never trust a copy read before the lock) and
    /// write with [`ProfileLock::save`].
    pub fn with_lock<T, E: From<StoreError>>(
        &self,
        name: &str,
        f: impl FnOnce(&ProfileLock<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let lock = self.lock(name)?;
        f(&lock)
    }
}

/// Proof of holding a profile's lock; released on drop.
#[derive(Debug)]
pub struct ProfileLock<'a> {
    store: &'a ProfileStore,
    name: String,
    _file: File,
}

impl ProfileLock<'_> {
    /// The locked profile's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads the profile (re-read after waiting for the lock).
    pub fn load(&self) -> Result<Option<Profile>, StoreError> {
        self.store.load(&self.name)
    }

    /// Replaces the profile atomically. The profile's name must be the
    /// locked one.
    pub fn save(&self, profile: &Profile) -> Result<(), StoreError> {
        if profile.name != self.name {
            return Err(StoreError::InvalidName(profile.name.clone()));
        }
        let path = self.store.path_of(&self.name);
        let mut value = serde_json::to_value(profile).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            detail: format!("cannot serialise: {}", e.classify_name()),
        })?;
        let current = self.current_backend()?;
        let target = match (self.store.placement, current) {
            (Placement::Forced(b), _) => b,
            (_, Some(b)) => b,
            (_, None) => self.store.new_backend(),
        };
        let target = match target {
            Backend::File => Backend::File,
            Backend::Keyring => match keyring::write(&self.name, &take_secrets(&mut value)) {
                Ok(()) => Backend::Keyring,
                // A new profile under the automatic choice: the keyring
                // answered the probe but refuses now (locked, gone); the
                // file still keeps the login.
                Err(_)
                    if current.is_none() && matches!(self.store.placement, Placement::Auto(_)) =>
                {
                    value = serde_json::to_value(profile).map_err(|e| StoreError::Corrupt {
                        path: path.clone(),
                        detail: format!("cannot serialise: {}", e.classify_name()),
                    })?;
                    Backend::File
                }
                Err(e) => return Err(e),
            },
        };
        if target == Backend::Keyring
            && let Some(obj) = value.as_object_mut()
        {
            obj.insert(SECRETS_KEY.into(), Backend::Keyring.as_str().into());
        }
        let json = serde_json::to_vec_pretty(&value).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            detail: format!("cannot serialise: {}", e.classify_name()),
        })?;
        let mut json = json;
        json.push(b'\n');
        crate::atomic_file::write(&path, &json).map_err(|e| StoreError::io(&e.path, e.source))?;
        if current == Some(Backend::Keyring) && target == Backend::File {
            // Moved to the file (DEVAUTH_STORE=file): drop the old copy.
            // Best effort: the move is what DEVAUTH_STORE=file is for when
            // the keyring stopped answering, and the file is written already.
            let _ = keyring::delete(&self.name);
        }
        Ok(())
    }

    /// Where the locked profile's secrets are now (its file's marker); a
    /// damaged file counts as none, so a new login can replace it.
    fn current_backend(&self) -> Result<Option<Backend>, StoreError> {
        match self.store.backend_of(&self.name) {
            Err(StoreError::Corrupt { .. }) => Ok(None),
            other => other,
        }
    }

    /// Deletes the profile: its keyring entry when it has one, then its
    /// file; `Ok(false)` when there was none. When the keyring does not
    /// answer, nothing is deleted (so the secret is not left behind unseen).
    pub fn delete(&self) -> Result<bool, StoreError> {
        if self.current_backend()? == Some(Backend::Keyring) {
            keyring::delete(&self.name)?;
        }
        let path = self.store.path_of(&self.name);
        match fs::remove_file(&path) {
            Ok(()) => {
                // The lock file goes too (logout leaves nothing behind). A
                // process already waiting on it gets the lock once we drop it
                // and finds no profile, which is the truth; one that opens the
                // name later makes a new lock file, as for a new profile.
                let _ = fs::remove_file(self.store.lock_path(&self.name));
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// Reads a profile file as JSON; `Ok(None)` when it does not exist.
fn read_value(path: &Path) -> Result<Option<serde_json::Value>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    // Only the position and category: serde's message may quote a token.
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StoreError::Corrupt {
            path: path.to_owned(),
            detail: format!(
                "{} error at line {}, column {}",
                e.classify_name(),
                e.line(),
                e.column()
            ),
        })
}

/// Where a profile file says its secrets are.
fn marker(value: &serde_json::Value) -> Backend {
    match value.get(SECRETS_KEY).and_then(|v| v.as_str()) {
        Some("keyring") => Backend::Keyring,
        _ => Backend::File,
    }
}

/// Removes the secrets from a serialised profile and returns them.
fn take_secrets(value: &mut serde_json::Value) -> Secrets {
    fn take(
        obj: Option<&mut serde_json::Map<String, serde_json::Value>>,
        key: &str,
    ) -> Option<devauth_proto::Secret> {
        obj.and_then(|o| o.remove(key))
            .and_then(|v| serde_json::from_value(v).ok())
    }
    let mut tokens = value.get_mut("tokens").and_then(|t| t.as_object_mut());
    let access = take(tokens.as_deref_mut(), "access_token");
    let refresh_token = take(tokens.as_deref_mut(), "refresh_token");
    let id_token = take(tokens, "id_token");
    let client_secret = take(value.as_object_mut(), "client_secret");
    Secrets {
        access_token: access.unwrap_or_else(|| devauth_proto::Secret::new("")),
        refresh_token,
        id_token,
        client_secret,
    }
}

/// Puts keyring secrets back into a serialised profile.
fn merge_secrets(value: &mut serde_json::Value, secrets: Secrets) {
    let to_value = |s: &devauth_proto::Secret| serde_json::to_value(s).unwrap_or_default();
    if let Some(obj) = value.as_object_mut() {
        obj.remove(SECRETS_KEY);
        if let Some(cs) = &secrets.client_secret {
            obj.insert("client_secret".into(), to_value(cs));
        }
        let tokens = obj
            .entry("tokens")
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let Some(t) = tokens.as_object_mut() {
            t.insert("access_token".into(), to_value(&secrets.access_token));
            if let Some(r) = &secrets.refresh_token {
                t.insert("refresh_token".into(), to_value(r));
            }
            if let Some(i) = &secrets.id_token {
                t.insert("id_token".into(), to_value(i));
            }
        }
    }
}

fn parse(path: &Path, value: serde_json::Value) -> Result<Profile, StoreError> {
    // Only the category: serde's message may quote a token.
    serde_json::from_value(value).map_err(|e| StoreError::Corrupt {
        path: path.to_owned(),
        detail: format!("{} error in its fields", e.classify_name()),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use devauth_proto::Secret;
    use time::OffsetDateTime;

    use super::*;
    use crate::store::{ProfileState, Source, Tokens};

    pub(crate) fn sample(name: &str, token: &str) -> Profile {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        Profile {
            version: 1,
            name: name.into(),
            issuer: Some("https://id.example".into()),
            client_id: Some("devauth-cli".into()),
            account: Some("alice".into()),
            subject: Some("u1".into()),
            scopes: vec!["openid".into()],
            source: Source::DeviceCode,
            endpoints: Default::default(),
            tokens: Tokens {
                access_token: Secret::new(token),
                token_type: "Bearer".into(),
                expires_at: Some(t),
                refresh_token: Some(Secret::new("r1")),
                id_token: None,
            },
            client_secret: None,
            state: ProfileState::Active,
            created_at: t,
            updated_at: t,
            extra: Default::default(),
        }
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn round_trip_modes_and_listing() {
        let home = tempfile::tempdir().unwrap();
        let store = ProfileStore::open(home.path()).unwrap();
        assert_eq!(store.load("default").unwrap(), None);
        store.save(&sample("default", "a1")).unwrap();
        store.save(&sample("work", "a2")).unwrap();
        assert_eq!(
            store
                .load("default")
                .unwrap()
                .unwrap()
                .tokens
                .access_token
                .expose(),
            "a1"
        );
        assert_eq!(mode(store.dir()), 0o700);
        assert_eq!(mode(home.path()), 0o700);
        assert_eq!(mode(&store.path_of("default")), 0o600);
        let names: Vec<String> = store
            .list()
            .unwrap()
            .into_iter()
            .map(|p| p.unwrap().name)
            .collect();
        assert_eq!(names, ["default", "work"]);
        assert!(store.delete("work").unwrap());
        assert!(!store.delete("work").unwrap());
        assert_eq!(store.list().unwrap().len(), 1);
    }

    #[test]
    fn damaged_file_names_no_content() {
        let home = tempfile::tempdir().unwrap();
        let store = ProfileStore::open(home.path()).unwrap();
        fs::write(store.path_of("bad"), br#"{"name": "secret-token-xyz""#).unwrap();
        let err = store.load("bad").unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }));
        assert!(!err.to_string().contains("secret-token-xyz"));
        // a damaged file does not hide the good ones
        store.save(&sample("good", "a")).unwrap();
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed[0].is_err() && listed[1].is_ok());
    }

    #[test]
    fn lock_serialises_read_modify_write() {
        let home = tempfile::tempdir().unwrap();
        let store = ProfileStore::open(home.path()).unwrap();
        let mut p = sample("n", "0");
        p.extra.insert("count".into(), 0.into());
        store.save(&p).unwrap();
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..10 {
                        store
                            .with_lock("n", |lock| {
                                let mut p = lock.load()?.unwrap();
                                let n = p.extra["count"].as_u64().unwrap();
                                p.extra.insert("count".into(), (n + 1).into());
                                lock.save(&p)
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.load("n").unwrap().unwrap().extra["count"], 80);
    }

    #[test]
    fn secrets_split_off_and_merge_back() {
        let mut p = sample("s", "acc-1");
        p.tokens.id_token = Some(Secret::new("id-1"));
        p.client_secret = Some(Secret::new("cs-1"));
        let mut v = serde_json::to_value(&p).unwrap();
        let secrets = take_secrets(&mut v);
        let text = v.to_string();
        for s in ["acc-1", "r1", "id-1", "cs-1"] {
            assert!(!text.contains(s), "{s} left in {text}");
        }
        assert_eq!(secrets.access_token.expose(), "acc-1");
        assert_eq!(secrets.refresh_token.as_ref().unwrap().expose(), "r1");
        v.as_object_mut()
            .unwrap()
            .insert(SECRETS_KEY.into(), "keyring".into());
        assert_eq!(marker(&v), Backend::Keyring);
        merge_secrets(&mut v, secrets);
        assert_eq!(marker(&v), Backend::File);
        assert_eq!(parse(Path::new("x"), v).unwrap(), p);
    }

    #[test]
    fn stores_opened_on_a_path_never_use_the_keyring() {
        // no D-Bus involved: `open`/`at` keep the file for new profiles
        let home = tempfile::tempdir().unwrap();
        let store = ProfileStore::open(home.path()).unwrap();
        assert_eq!(store.backend(), "file");
        store.save(&sample("p", "tok")).unwrap();
        assert_eq!(store.backend_of("p").unwrap(), Some(Backend::File));
        assert_eq!(store.backend_of("none").unwrap(), None);
        let on_disk = fs::read_to_string(store.path_of("p")).unwrap();
        assert!(on_disk.contains("tok") && !on_disk.contains("secrets"));
    }

    #[test]
    fn a_lock_saves_only_its_own_profile() {
        let home = tempfile::tempdir().unwrap();
        let store = ProfileStore::open(home.path()).unwrap();
        let lock = store.lock("a").unwrap();
        assert!(lock.save(&sample("b", "x")).is_err());
    }
}
