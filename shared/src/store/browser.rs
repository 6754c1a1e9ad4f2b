//! The store in a web browser: SQLCipher's pages kept in IndexedDB.
//!
//! A web page has no synchronous file system, and SQLite needs one (OPFS offers synchronous
//! handles only to workers). So a small SQLite VFS holds the database file in memory, in
//! chunks, and when a transaction commits it writes the chunks that transaction changed to
//! IndexedDB, in one IndexedDB transaction. IndexedDB applies a transaction entirely or not
//! at all, and runs one page's read-write transactions in the order they were made, so what
//! is stored is always the database as of some commit: a reload or a crash finds the last
//! commit that reached IndexedDB, never part of one. The pages are encrypted by SQLCipher
//! before the VFS sees them, so IndexedDB holds only ciphertext.
//!
//! A commit is recognised by SQLite releasing its write lock on the database file: SQLite
//! writes pages to the file only while it holds that lock, and releases it only once the
//! transaction has committed or rolled back. The journal is kept in memory and never
//! stored: a stored image is never mid-transaction, so there is nothing to roll back.
//!
//! Durability is therefore a moment behind the commit: the caller learns when its writes
//! reached IndexedDB from [`Persistence`], which the app shows as "Saved on this device".

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::rc::Rc;

use js_sys::{Array, Promise, Uint8Array};
use sqlite_wasm_rs::WasmOsCallback;
use sqlite_wasm_rs::vfs::{
    AccessMode, LockLevel, OpenOptions, OpenRequest, OpenedFile, SQLiteIoMethods, SQLiteVfs,
    SyncOptions, VfsError, VfsErrorCode, VfsFile, VfsResult, VfsStore,
};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbKeyRange, IdbRequest, IdbTransaction, IdbTransactionMode};

use super::chunked::{CHUNK, ChunkedFile};
use super::{Journal, Location, Passphrase, Store, StoreError};

/// The SQLite VFS name the browser store registers.
const VFS_NAME: &str = "doorstep-indexeddb";
/// The IndexedDB database holding every store file of this origin.
const IDB_NAME: &str = "doorstep";
const IDB_VERSION: u32 = 1;
/// Object store of file chunks, keyed by `[file name, chunk index]`.
const CHUNKS: &str = "chunks";
/// Object store of file lengths in bytes, keyed by file name.
const LENGTHS: &str = "lengths";

thread_local! {
    static VFS: RefCell<Option<Rc<Shared>>> = const { RefCell::new(None) };
}

/// Opens the store named `name` in this browser's IndexedDB, creating it if there is none.
///
/// A wrong passphrase is [`StoreError::WrongPassphrase`] and changes nothing.
pub async fn open(name: &str, passphrase: &Passphrase) -> Result<Store, StoreError> {
    let shared = install().await?;
    let file = match shared.file(name) {
        Some(file) => file,
        None => {
            let file = Rc::new(RefCell::new(load_file(&shared.idb, name).await?));
            shared
                .files
                .borrow_mut()
                .insert(name.to_owned(), file.clone());
            file
        }
    };
    shared.persisted.borrow_mut().insert(name.to_owned());
    let salt = file.borrow().salt();
    Store::open_at(
        Location {
            path: PathBuf::from(name),
            vfs: Some(VFS_NAME),
            journal: Journal::Memory,
        },
        salt,
        passphrase,
    )
}

/// Whether this browser holds a store named `name` (so the app asks to unlock it rather than
/// to choose a passphrase).
pub async fn exists(name: &str) -> Result<bool, StoreError> {
    let shared = install().await?;
    if let Some(file) = shared.file(name) {
        return Ok(file.borrow().len > 0);
    }
    Ok(stored_length(&shared.idb, name).await? > 0)
}

/// How far the browser store's writes have reached IndexedDB.
#[derive(Clone, Debug)]
pub struct Persistence(Rc<Progress>);

#[derive(Debug, Default)]
struct Progress {
    /// Why IndexedDB refused the last write it refused, until one succeeds again.
    failure: RefCell<Option<String>>,
    /// Completion of the newest write; earlier ones complete before it.
    newest: RefCell<Option<Promise>>,
}

impl Persistence {
    /// The browser store's persistence, once [`open`] has been called.
    pub fn get() -> Option<Persistence> {
        VFS.with(|vfs| {
            vfs.borrow()
                .as_ref()
                .map(|shared| Persistence(shared.progress.clone()))
        })
    }

    /// Why the browser refused to store the latest writes (for example, storage full), if
    /// it did. The writes are kept in memory and retried with the next commit.
    pub fn failure(&self) -> Option<String> {
        self.0.failure.borrow().clone()
    }

    /// Waits until every write committed so far has reached IndexedDB or been refused.
    pub async fn settled(&self) {
        let newest = self.0.newest.borrow().clone();
        if let Some(promise) = newest {
            // A refusal is recorded in `failure`; waiting is all this is for.
            let _ = JsFuture::from(promise).await;
        }
    }
}

// --- The VFS -------------------------------------------------------------------------------

/// State shared by the VFS's callbacks and its open files.
#[derive(Debug)]
struct Shared {
    idb: IdbDatabase,
    /// Every file SQLite has opened by name, stored or not.
    files: RefCell<HashMap<String, Rc<RefCell<ChunkedFile>>>>,
    /// Names of the files written to IndexedDB: the stores' database files.
    persisted: RefCell<BTreeSet<String>>,
    progress: Rc<Progress>,
    last_error: RefCell<Option<VfsError>>,
}

impl Shared {
    fn file(&self, name: &str) -> Option<Rc<RefCell<ChunkedFile>>> {
        self.files.borrow().get(name).cloned()
    }
}

/// Registers the VFS on first use and opens IndexedDB.
async fn install() -> Result<Rc<Shared>, StoreError> {
    if let Some(shared) = VFS.with(|vfs| vfs.borrow().clone()) {
        return Ok(shared);
    }
    let idb = open_idb().await?;
    // Another call may have finished installing while this one waited for IndexedDB.
    if let Some(shared) = VFS.with(|vfs| vfs.borrow().clone()) {
        return Ok(shared);
    }
    let shared = Rc::new(Shared {
        idb,
        files: RefCell::default(),
        persisted: RefCell::default(),
        progress: Rc::default(),
        last_error: RefCell::default(),
    });
    register(AppData(shared.clone()))?;
    VFS.with(|vfs| *vfs.borrow_mut() = Some(shared.clone()));
    Ok(shared)
}

#[allow(unsafe_code)]
fn register(data: AppData) -> Result<(), StoreError> {
    // SAFETY: `IndexedDbVfs` and `IndexedDbIo` use the crate's default constructor, method
    // table and file layout, agreeing on `AppData`. The registration is kept for the life of
    // the page (`into_raw`), so the data outlives every connection, and a browser page runs
    // SQLite on one thread only. `install` registers the name once per page.
    let registration = unsafe {
        sqlite_wasm_rs::vfs::register_vfs::<IndexedDbIo, IndexedDbVfs>(VFS_NAME, data, false)
    }
    .map_err(|error| StoreError::Browser(format!("registering the storage layer: {error}")))?;
    let _ = registration.into_raw();
    Ok(())
}

#[derive(Debug)]
struct AppData(Rc<Shared>);

struct IndexedDbVfs;

impl SQLiteVfs<IndexedDbIo> for IndexedDbVfs {
    type Os = WasmOsCallback;

    fn os(_: &AppData) -> &WasmOsCallback {
        static OS: WasmOsCallback = WasmOsCallback;
        &OS
    }
}

struct IndexedDbIo;

impl SQLiteIoMethods for IndexedDbIo {
    type Store = IndexedDbFiles;
}

struct IndexedDbFiles;

impl VfsStore for IndexedDbFiles {
    type File = OpenFile;
    type AppData = AppData;

    fn record_error(data: &AppData, error: VfsError) {
        data.0.last_error.replace(Some(error));
    }

    fn last_error(data: &AppData) -> Option<VfsError> {
        data.0.last_error.borrow().clone()
    }

    fn open_file(data: &AppData, request: OpenRequest<'_>) -> VfsResult<OpenedFile<OpenFile>> {
        let access = request.options.access();
        let Some(filename) = request.filename else {
            return Ok(OpenedFile {
                file: OpenFile {
                    file: Rc::default(),
                    stored_as: None,
                    shared: data.0.clone(),
                },
                access,
            });
        };
        let name = filename.path();
        let existing = data.0.file(name);
        let file = match existing {
            Some(_) if request.options.exclusive() => {
                return Err(VfsError::new(
                    VfsErrorCode::CantOpen,
                    format!("{name} already exists").into(),
                ));
            }
            Some(file) => file,
            None if request.options.create() => {
                let file = Rc::<RefCell<ChunkedFile>>::default();
                data.0.files.borrow_mut().insert(name.into(), file.clone());
                file
            }
            None => {
                return Err(VfsError::new(
                    VfsErrorCode::CantOpen,
                    format!("{name} not found").into(),
                ));
            }
        };
        let stored_as = data
            .0
            .persisted
            .borrow()
            .contains(name)
            .then(|| name.to_owned());
        Ok(OpenedFile {
            file: OpenFile {
                file,
                stored_as,
                shared: data.0.clone(),
            },
            access,
        })
    }

    fn close_file(
        data: &AppData,
        name: Option<&str>,
        file: OpenFile,
        options: OpenOptions,
    ) -> VfsResult<()> {
        if let Some(name) = name
            && options.delete_on_close()
        {
            let mut files = data.0.files.borrow_mut();
            if files
                .get(name)
                .is_some_and(|open| Rc::ptr_eq(open, &file.file))
            {
                files.remove(name);
            }
        }
        Ok(())
    }

    fn access(data: &AppData, name: &str, _mode: AccessMode) -> VfsResult<bool> {
        Ok(data.0.files.borrow().contains_key(name))
    }

    fn full_pathname(_: &AppData, name: &str) -> VfsResult<String> {
        Ok(name.into())
    }

    fn delete_file(data: &AppData, name: &str, _sync_dir: bool) -> VfsResult<()> {
        if data.0.persisted.borrow().contains(name) {
            // Only journals are deleted by SQLite; a store's file is never.
            return Err(VfsError::new(
                VfsErrorCode::IoDelete,
                "a store's database file is not deleted through SQLite".into(),
            ));
        }
        data.0.files.borrow_mut().remove(name);
        Ok(())
    }
}

/// One handle SQLite holds on a file.
struct OpenFile {
    file: Rc<RefCell<ChunkedFile>>,
    /// The file's name in IndexedDB, for the files that are stored.
    stored_as: Option<String>,
    shared: Rc<Shared>,
}

impl VfsFile for OpenFile {
    fn read(&mut self, buf: &mut [u8], offset: u64) -> VfsResult<usize> {
        Ok(self.file.borrow().read(buf, offset))
    }

    fn write(&mut self, buf: &[u8], offset: u64) -> VfsResult<()> {
        self.file
            .borrow_mut()
            .write(buf, offset)
            .map_err(|error| VfsError::new(VfsErrorCode::Full, error.to_string().into()))
    }

    fn truncate(&mut self, size: u64) -> VfsResult<()> {
        self.file.borrow_mut().truncate(size);
        Ok(())
    }

    // Durability comes from writing each commit to IndexedDB when the write lock is
    // released; there is nothing more to flush here.
    fn sync(&mut self, _options: SyncOptions) -> VfsResult<()> {
        Ok(())
    }

    fn size(&self) -> VfsResult<u64> {
        Ok(self.file.borrow().len)
    }

    // One connection per store, on one thread: there is nobody to exclude.
    fn lock(&mut self, _level: LockLevel) -> VfsResult<()> {
        Ok(())
    }

    fn unlock(&mut self, level: LockLevel) -> VfsResult<()> {
        if level <= LockLevel::Shared
            && let Some(name) = &self.stored_as
            && self.file.borrow().is_dirty()
        {
            write_commit(&self.shared, name, &self.file);
        }
        Ok(())
    }

    fn check_reserved_lock(&self) -> VfsResult<bool> {
        Ok(false)
    }
}

/// Writes the chunks of `file` that changed since its last write to IndexedDB, with its
/// length, in one IndexedDB transaction. Called when SQLite has just committed.
fn write_commit(shared: &Rc<Shared>, name: &str, file: &Rc<RefCell<ChunkedFile>>) {
    let (chunks, deleted, len) = {
        let mut file = file.borrow_mut();
        let dirty = std::mem::take(&mut file.dirty);
        let chunks: Vec<(usize, Uint8Array)> = dirty
            .into_iter()
            .map(|index| (index, Uint8Array::from(&file.chunks[index][..])))
            .collect();
        let deleted = file.chunks.len()..file.stored_chunks.max(file.chunks.len());
        file.stored_chunks = file.chunks.len();
        (chunks, deleted, file.len)
    };
    let progress = shared.progress.clone();
    let written: Vec<usize> = chunks.iter().map(|(index, _)| *index).collect();
    let result = (|| -> Result<IdbTransaction, JsValue> {
        let transaction = shared.idb.transaction_with_str_sequence_and_mode(
            &Array::of2(&CHUNKS.into(), &LENGTHS.into()),
            IdbTransactionMode::Readwrite,
        )?;
        let chunk_store = transaction.object_store(CHUNKS)?;
        for (index, bytes) in &chunks {
            chunk_store.put_with_key(bytes, &chunk_key(name, *index))?;
        }
        for index in deleted {
            chunk_store.delete(&chunk_key(name, index))?;
        }
        transaction
            .object_store(LENGTHS)?
            .put_with_key(&JsValue::from_f64(len as f64), &JsValue::from_str(name))?;
        // Commit now rather than when this task ends: a commit made as the page is being
        // closed (the last words of a field, saved on `pagehide`) must not wait for a task
        // that never comes. (web-sys marks `commit` deprecated, but it is standard IndexedDB
        // 3.0 and in every current browser.)
        #[allow(deprecated)]
        transaction.commit()?;
        Ok(transaction)
    })();
    let completion = match result {
        Ok(transaction) => transaction_done(&transaction),
        Err(error) => Promise::reject(&error),
    };
    let settled = {
        let progress = progress.clone();
        let file = file.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            match JsFuture::from(completion).await {
                Ok(_) => {
                    progress.failure.replace(None);
                }
                Err(error) => {
                    // Keep the commit's chunks in memory, marked as changed, so the next
                    // commit writes them again; say why, so the app can tell the worker.
                    file.borrow_mut().dirty.extend(written);
                    progress.failure.replace(Some(describe(&error)));
                }
            }
            Ok(JsValue::UNDEFINED)
        })
    };
    progress.newest.replace(Some(settled));
}

fn chunk_key(name: &str, index: usize) -> JsValue {
    Array::of2(&JsValue::from_str(name), &JsValue::from_f64(index as f64)).into()
}

// --- IndexedDB -----------------------------------------------------------------------------

async fn open_idb() -> Result<IdbDatabase, StoreError> {
    let factory = web_sys::window()
        .ok_or_else(|| StoreError::Browser("no window: not running in a web page".into()))?
        .indexed_db()
        .map_err(|error| browser_error("opening IndexedDB", &error))?
        .ok_or_else(|| StoreError::Browser("this browser offers no IndexedDB".into()))?;
    let request = factory
        .open_with_u32(IDB_NAME, IDB_VERSION)
        .map_err(|error| browser_error("opening IndexedDB", &error))?;
    let upgrade = {
        let request = request.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_event| {
            if let Ok(result) = request.result()
                && let Ok(db) = result.dyn_into::<IdbDatabase>()
            {
                // Version 1: the two object stores. A failure here aborts the open, which
                // the awaited request then reports.
                let _ = db.create_object_store(CHUNKS);
                let _ = db.create_object_store(LENGTHS);
            }
        })
    };
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let db = request_done(&request)
        .await
        .map_err(|error| browser_error("opening IndexedDB", &error))?;
    request.set_onupgradeneeded(None);
    drop(upgrade);
    db.dyn_into::<IdbDatabase>()
        .map_err(|error| browser_error("opening IndexedDB", &error))
}

async fn stored_length(idb: &IdbDatabase, name: &str) -> Result<u64, StoreError> {
    let read = || -> Result<IdbRequest, JsValue> {
        idb.transaction_with_str(LENGTHS)?
            .object_store(LENGTHS)?
            .get(&JsValue::from_str(name))
    };
    let request = read().map_err(|error| browser_error("reading the store", &error))?;
    let value = request_done(&request)
        .await
        .map_err(|error| browser_error("reading the store", &error))?;
    Ok(value.as_f64().map_or(0, |len| len as u64))
}

/// Reads a stored file back into memory.
async fn load_file(idb: &IdbDatabase, name: &str) -> Result<ChunkedFile, StoreError> {
    let len = stored_length(idb, name).await?;
    if len == 0 {
        return Ok(ChunkedFile::default());
    }
    let corrupt = || StoreError::Corrupt(format!("the browser's copy of {name} is incomplete"));
    let chunk_count = usize::try_from(len).map_err(|_| corrupt())?.div_ceil(CHUNK);
    let read = || -> Result<(IdbRequest, IdbRequest), JsValue> {
        // Only the chunks within the stored length: a refused truncation may have left
        // chunks beyond it.
        let range = IdbKeyRange::bound(&chunk_key(name, 0), &chunk_key(name, chunk_count - 1))?;
        let store = idb.transaction_with_str(CHUNKS)?.object_store(CHUNKS)?;
        Ok((
            store.get_all_keys_with_key(&range)?,
            store.get_all_with_key(&range)?,
        ))
    };
    let (keys, values) = read().map_err(|error| browser_error("reading the store", &error))?;
    let keys: Array = request_done(&keys)
        .await
        .and_then(|keys| keys.dyn_into())
        .map_err(|error| browser_error("reading the store", &error))?;
    let values: Array = request_done(&values)
        .await
        .and_then(|values| values.dyn_into())
        .map_err(|error| browser_error("reading the store", &error))?;
    if keys.length() as usize != chunk_count || values.length() as usize != chunk_count {
        return Err(corrupt());
    }
    let mut chunks = Vec::with_capacity(chunk_count);
    for (position, (key, value)) in keys.iter().zip(values.iter()).enumerate() {
        let index = Array::from(&key).get(1).as_f64();
        let bytes = value.dyn_into::<Uint8Array>().map_err(|_| corrupt())?;
        if index != Some(position as f64) || bytes.length() as usize != CHUNK {
            return Err(corrupt());
        }
        chunks.push(bytes.to_vec().into_boxed_slice());
    }
    Ok(ChunkedFile {
        stored_chunks: chunks.len(),
        chunks,
        len,
        dirty: BTreeSet::new(),
    })
}

/// The result of an IndexedDB request, once it succeeds.
async fn request_done(request: &IdbRequest) -> Result<JsValue, JsValue> {
    let promise = {
        let request = request.clone();
        Promise::new(&mut |resolve, reject| {
            let on_success = {
                let request = request.clone();
                Closure::once_into_js(move |_event: web_sys::Event| {
                    let result = request.result().unwrap_or(JsValue::UNDEFINED);
                    let _ = resolve.call1(&JsValue::UNDEFINED, &result);
                })
            };
            let on_error = {
                let request = request.clone();
                Closure::once_into_js(move |_event: web_sys::Event| {
                    let error = request
                        .error()
                        .ok()
                        .flatten()
                        .map_or(JsValue::UNDEFINED, JsValue::from);
                    let _ = reject.call1(&JsValue::UNDEFINED, &error);
                })
            };
            request.set_onsuccess(Some(on_success.unchecked_ref()));
            request.set_onerror(Some(on_error.unchecked_ref()));
        })
    };
    JsFuture::from(promise).await
}

/// A promise settled when `transaction` commits (resolved) or aborts (rejected).
fn transaction_done(transaction: &IdbTransaction) -> Promise {
    let transaction = transaction.clone();
    Promise::new(&mut |resolve, reject| {
        let on_complete = Closure::once_into_js(move |_event: web_sys::Event| {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        });
        let on_abort = {
            let transaction = transaction.clone();
            Closure::once_into_js(move |_event: web_sys::Event| {
                let error = transaction
                    .error()
                    .map_or(JsValue::from_str("aborted"), JsValue::from);
                let _ = reject.call1(&JsValue::UNDEFINED, &error);
            })
        };
        transaction.set_oncomplete(Some(on_complete.unchecked_ref()));
        // An error in a request aborts the transaction; `abort` fires either way.
        transaction.set_onabort(Some(on_abort.unchecked_ref()));
    })
}

fn describe(error: &JsValue) -> String {
    if let Some(exception) = error.dyn_ref::<web_sys::DomException>() {
        format!("{}: {}", exception.name(), exception.message())
    } else if let Some(error) = error.dyn_ref::<js_sys::Error>() {
        String::from(error.message())
    } else {
        error.as_string().unwrap_or_else(|| "unknown error".into())
    }
}

fn browser_error(doing: &str, error: &JsValue) -> StoreError {
    StoreError::Browser(format!("{doing}: {}", describe(error)))
}
