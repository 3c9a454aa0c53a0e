//! The file backend: one 0600 JSON file per profile in a 0700 folder,
//! atomic replacement, and a sidecar lock file per profile.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::{Profile, StoreError, validate_name};

/// The profile folder.
#[derive(Debug, Clone)]
pub struct ProfileStore {
    dir: PathBuf,
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
        Ok(Self { dir })
    }

    /// Opens the store where the environment says: `DEVAUTH_STORE` is
    /// checked, then `DEVAUTH_HOME` or the XDG data folder is used.
    pub fn open_default() -> Result<Self, StoreError> {
        super::home::check_backend()?;
        Self::open(&super::home::data_home()?)
    }

    /// The store's location without creating anything (for read-only
    /// callers: `devauth token` on a machine where nobody logged in).
    pub fn at(home: &Path) -> Self {
        Self {
            dir: home.join("profiles"),
        }
    }

    /// The profiles folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Which backend this is (`file`), for `devauth status`.
    pub fn backend(&self) -> &'static str {
        "file"
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
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(path, e)),
        };
        parse(&path, &bytes).map(Some)
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
        let dir = &self.store.dir;
        let path = self.store.path_of(&self.name);
        let json = serde_json::to_vec_pretty(profile).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            detail: format!("cannot serialise: {}", e.classify_name()),
        })?;
        // NamedTempFile creates the file 0600 in the same folder (same
        // filesystem, so the rename is atomic).
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.", self.name))
            .suffix(".tmp")
            .permissions(fs::Permissions::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(|e| StoreError::io(dir, e))?;
        tmp.write_all(&json)
            .and_then(|()| tmp.write_all(b"\n"))
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| StoreError::io(tmp.path(), e))?;
        tmp.persist(&path)
            .map_err(|e| StoreError::io(&path, e.error))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Deletes the profile file; `Ok(false)` when there was none.
    pub fn delete(&self) -> Result<bool, StoreError> {
        let path = self.store.path_of(&self.name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
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

fn parse(path: &Path, bytes: &[u8]) -> Result<Profile, StoreError> {
    // Only the position and category: serde's message may quote a token.
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        path: path.to_owned(),
        detail: format!(
            "{} error at line {}, column {}",
            e.classify_name(),
            e.line(),
            e.column()
        ),
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
    fn a_lock_saves_only_its_own_profile() {
        let home = tempfile::tempdir().unwrap();
        let store = ProfileStore::open(home.path()).unwrap();
        let lock = store.lock("a").unwrap();
        assert!(lock.save(&sample("b", "x")).is_err());
    }
}
