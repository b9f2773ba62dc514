//! Whether the database can store what it is given: a write that fails for lack of space
//! (a full disk) marks the instance not ready (`/readyz`), so a load balancer sends traffic
//! elsewhere, and the mark goes by itself once there is room again.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::AppError;

/// SQLite: this much free space in the database's folder counts as room again. A signup with
/// its mail needs a few pages; a checkpoint of the write-ahead log may need more.
const SQLITE_ROOM: u64 = 1024 * 1024;

/// PostgreSQL, whose disk we cannot see: after this long without a failed write, writes are
/// let through again, and the next one that fails marks the instance again.
const POSTGRES_HOLD: Duration = Duration::from_secs(15);

pub struct StorageWatch {
    /// The folder of the SQLite database; none on PostgreSQL.
    sqlite_folder: Option<PathBuf>,
    failed_at: Mutex<Option<Instant>>,
}

impl StorageWatch {
    pub fn new(sqlite_folder: Option<PathBuf>) -> Self {
        Self {
            sqlite_folder,
            failed_at: Mutex::new(None),
        }
    }

    /// Notes the outcome of a write. Only a failure counts: a write transaction that changed
    /// nothing (the mail worker's empty claim) commits even on a full disk, so success proves
    /// nothing about room.
    pub fn saw<T>(&self, result: &Result<T, AppError>) {
        if let Err(AppError::StorageFull(why)) = result {
            let mut failed_at = self.failed_at.lock().unwrap_or_else(|p| p.into_inner());
            if failed_at.is_none() {
                tracing::error!(error = %why, "writes fail for lack of space: not ready until there is room");
            }
            *failed_at = Some(Instant::now());
        }
    }

    /// Ok when writes may be expected to work: none failed for lack of space, or there is
    /// room again since.
    pub fn check(&self) -> Result<(), AppError> {
        let mut failed_at = self.failed_at.lock().unwrap_or_else(|p| p.into_inner());
        let Some(when) = *failed_at else {
            return Ok(());
        };
        let room_again = match &self.sqlite_folder {
            Some(folder) => free_space(folder).is_some_and(|free| free >= SQLITE_ROOM),
            None => when.elapsed() >= POSTGRES_HOLD,
        };
        if room_again {
            tracing::info!("storage has room again: ready");
            *failed_at = None;
            return Ok(());
        }
        Err(AppError::StorageFull(
            "a recent write failed for lack of space".into(),
        ))
    }
}

/// The bytes an unprivileged writer may still use on the file system holding `folder`.
#[cfg(unix)]
fn free_space(folder: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(folder.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stats` is writable memory of the right
    // type; statvfs only fills it in, and it is read only after statvfs reported success.
    let stats = unsafe {
        if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

#[cfg(not(unix))]
fn free_space(_folder: &std::path::Path) -> Option<u64> {
    // Without a way to look, room is assumed: the next failed write marks the instance again.
    Some(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_marks_until_there_is_room() {
        let folder = tempfile::tempdir().unwrap();
        let watch = StorageWatch::new(Some(folder.path().to_path_buf()));
        assert!(watch.check().is_ok());
        watch.saw::<()>(&Err(AppError::Conflict("not about space".into())));
        assert!(watch.check().is_ok());
        watch.saw::<()>(&Err(AppError::StorageFull(
            "database or disk is full".into(),
        )));
        // The test machine's temporary folder has room, so the mark goes at the next look.
        assert!(watch.check().is_ok());

        let postgres = StorageWatch::new(None);
        postgres.saw::<()>(&Err(AppError::StorageFull("could not extend file".into())));
        assert!(matches!(postgres.check(), Err(AppError::StorageFull(_))));
        postgres.saw(&Ok(()));
        assert!(
            postgres.check().is_err(),
            "a success proves nothing about room"
        );
    }

    #[test]
    fn free_space_is_read() {
        assert!(free_space(std::path::Path::new("/")).is_some());
        assert!(free_space(std::path::Path::new("/no/such/folder")).is_none());
    }
}
