//! A discovery node's live index, which can be replaced whole without downtime.
//!
//! The index root holds generation directories (`gen-<millis>`, each a complete index) and a file
//! `CURRENT` naming the live one. A rebuild fills a new generation while readers keep serving the
//! old one, then [`switch_generation`] replaces `CURRENT` with one atomic rename; every
//! [`Replica`] that calls [`Replica::refresh`] (the gateways and the indexer do, about once a
//! second) then opens the new generation and swaps it in. Searches already running finish on the
//! generation they started on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::{Engine, EngineConfig, EngineError, Result};

const CURRENT: &str = "CURRENT";
const PREFIX: &str = "gen-";

/// The live generation of an index root, swapped when `CURRENT` changes.
pub struct Replica {
    root: PathBuf,
    config: EngineConfig,
    live: RwLock<(String, Arc<Engine>)>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica").field("root", &self.root).field("generation", &self.generation()).finish()
    }
}

impl Replica {
    /// Opens the generation `CURRENT` names, creating the root and a first generation if needed.
    pub fn open(root: impl AsRef<Path>, config: EngineConfig) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        std::fs::create_dir_all(&root)?;
        let name = match current_generation(&root)? {
            Some(name) => name,
            None => first_generation(&root)?,
        };
        let engine = Arc::new(Engine::open(root.join(&name), config.clone())?);
        Ok(Self { root, config, live: RwLock::new((name, engine)) })
    }

    /// The live engine; hold the `Arc` for the length of one request.
    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.live.read().unwrap_or_else(|poisoned| poisoned.into_inner()).1)
    }

    /// The live generation's name and engine, read together.
    pub fn live(&self) -> (String, Arc<Engine>) {
        let live = self.live.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        (live.0.clone(), Arc::clone(&live.1))
    }

    /// The live generation's directory name.
    pub fn generation(&self) -> String {
        self.live.read().unwrap_or_else(|poisoned| poisoned.into_inner()).0.clone()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Switches to the generation `CURRENT` names if it changed; true when it did.
    pub fn refresh(&self) -> Result<bool> {
        let Some(name) = current_generation(&self.root)? else { return Ok(false) };
        if name == self.generation() {
            return Ok(false);
        }
        let engine = Arc::new(Engine::open(self.root.join(&name), self.config.clone())?);
        *self.live.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = (name, engine);
        Ok(true)
    }
}

impl Replica {
    /// What a reader calls on its own cadence (tens of milliseconds): switch generations if a
    /// rebuild finished, and see the live generation's latest commit. Costs two small reads when
    /// nothing changed.
    pub fn sync(&self) -> Result<()> {
        self.refresh()?;
        self.engine().reload_if_changed()?;
        Ok(())
    }
}

/// The first generation of a new root, `gen-0`. Several processes may open a new root at once (a
/// node's indexer and gateway start together): the one that creates the directory makes it live,
/// the others wait for `CURRENT` to name it.
fn first_generation(root: &Path) -> Result<String> {
    const FIRST: &str = "gen-0";
    match std::fs::create_dir(root.join(FIRST)) {
        Ok(()) => {
            switch_generation(root, FIRST)?;
            Ok(FIRST.to_owned())
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                if let Some(name) = current_generation(root)? {
                    return Ok(name);
                }
                if std::time::Instant::now() >= deadline {
                    // Its creator died before switching to it.
                    switch_generation(root, FIRST)?;
                    return Ok(FIRST.to_owned());
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        Err(error) => Err(error.into()),
    }
}

/// The generation `CURRENT` names, if any.
pub fn current_generation(root: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(root.join(CURRENT)) {
        Ok(text) => {
            let name = text.trim();
            if !is_generation_name(name) {
                return Err(EngineError::Io(std::io::Error::other(format!(
                    "{} names {name:?}, which is not a generation directory",
                    root.join(CURRENT).display()
                ))));
            }
            Ok(Some(name.to_owned()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Creates an empty generation directory for a rebuild; returns its name and path.
pub fn new_generation(root: &Path) -> Result<(String, PathBuf)> {
    let mut millis = chrono::Utc::now().timestamp_millis();
    loop {
        let name = format!("{PREFIX}{millis}");
        let path = root.join(&name);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok((name, path)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => millis += 1,
            Err(error) => return Err(error.into()),
        }
    }
}

/// Makes `name` the live generation (write, fsync, rename: readers see the old name or the new,
/// never a torn file), then removes generations older than the one it replaced. The one it
/// replaced stays, for readers that have not switched yet and as a way back.
pub fn switch_generation(root: &Path, name: &str) -> Result<()> {
    if !is_generation_name(name) || !root.join(name).is_dir() {
        return Err(EngineError::Io(std::io::Error::other(format!(
            "{name:?} is not a generation under {}",
            root.display()
        ))));
    }
    let previous = current_generation(root)?;
    let staged = root.join(format!("{CURRENT}.next"));
    {
        let mut file = std::fs::File::create(&staged)?;
        writeln!(file, "{name}")?;
        file.sync_all()?;
    }
    std::fs::rename(&staged, root.join(CURRENT))?;
    std::fs::File::open(root)?.sync_all()?;
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let Some(other) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if is_generation_name(&other) && other != name && Some(&other) != previous.as_ref() && entry.path().is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

fn is_generation_name(name: &str) -> bool {
    name.strip_prefix(PREFIX).is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SearchRequest, WriterConfig};
    use contracts::ContentSnapshot;

    fn program(title: &str) -> ContentSnapshot {
        serde_json::from_value(serde_json::json!({
            "kind": "program", "id": uuid::Uuid::now_v7(), "title": title, "category": "history",
            "language": "en", "status": "published", "version": 1,
            "created_at": "2026-11-26T00:00:00Z", "updated_at": "2026-11-26T00:00:00Z"
        }))
        .expect("snapshot")
    }

    fn total(engine: &Engine, q: &str) -> u64 {
        engine.reload().expect("reload");
        engine.search(&SearchRequest { text: Some(q.into()), ..Default::default() }).expect("search").total
    }

    #[test]
    fn a_new_generation_replaces_the_live_one_atomically() {
        let dir = tempfile::tempdir().expect("dir");
        let replica = Replica::open(dir.path(), EngineConfig::default()).expect("open");
        let first = replica.generation();
        let mut writer = replica.engine().writer(WriterConfig::default()).expect("writer");
        writer.upsert(&program("Old lighthouse")).expect("upsert");
        writer.commit(None).expect("commit");
        drop(writer);
        assert_eq!(total(&replica.engine(), "lighthouse"), 1);
        assert!(!replica.refresh().expect("refresh"), "nothing changed yet");

        let (name, path) = new_generation(dir.path()).expect("new generation");
        let rebuilt = Engine::open(&path, EngineConfig::default()).expect("open new");
        let mut writer = rebuilt.writer(WriterConfig::default()).expect("writer");
        writer.upsert(&program("Rebuilt harbour")).expect("upsert");
        writer.commit(None).expect("commit");
        drop(writer);
        let serving = replica.engine();
        switch_generation(dir.path(), &name).expect("switch");
        assert_eq!(total(&serving, "lighthouse"), 1, "a reader keeps the generation it holds");
        assert!(replica.refresh().expect("refresh"));
        assert_eq!(replica.generation(), name);
        assert_eq!(total(&replica.engine(), "harbour"), 1);
        assert_eq!(total(&replica.engine(), "lighthouse"), 0);
        assert!(dir.path().join(&first).is_dir(), "the previous generation stays");

        let (third, _) = new_generation(dir.path()).expect("third");
        switch_generation(dir.path(), &third).expect("switch again");
        assert!(!dir.path().join(&first).exists(), "older generations are removed");
        assert!(dir.path().join(&name).is_dir());
        assert!(switch_generation(dir.path(), "../elsewhere").is_err());
        std::fs::write(dir.path().join(CURRENT), "not-a-generation\n").expect("write");
        assert!(current_generation(dir.path()).is_err(), "a bad pointer is an error, not a new index");
    }

    #[test]
    fn processes_opening_a_new_root_at_once_agree_on_one_generation() {
        for _ in 0..10 {
            let dir = tempfile::tempdir().expect("dir");
            let barrier = std::sync::Barrier::new(4);
            let names: Vec<String> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..4)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            Replica::open(dir.path(), EngineConfig::default()).expect("open").generation()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("thread")).collect()
            });
            assert!(names.iter().all(|n| *n == names[0]), "{names:?}");
            assert_eq!(current_generation(dir.path()).expect("current"), Some(names[0].clone()));
        }
    }
}
