//! WAL checkpoints: copying committed frames from the WAL into the database file, and
//! keeping the WAL small.
//!
//! Durability never depends on checkpoints (a commit is durable once its WAL frames are
//! fsync'd); they bound the WAL. Two parties share the work:
//!
//! - **The checkpointer thread** runs a PASSIVE checkpoint every few milliseconds. It never
//!   blocks the writer or readers, and it does the bulk of the copying and the database
//!   file's fsyncs, at idle I/O priority.
//! - **The writer** restarts the WAL. SQLite rewinds the WAL to its start only when a
//!   write transaction begins while every frame is already backfilled; under sustained
//!   writes a concurrent checkpoint never gets there (the writer always appends more while
//!   it copies), so the WAL would grow without bound. So once the WAL passes the
//!   store's `wal_restart_frames`, the writer itself runs a PASSIVE checkpoint between
//!   two batches, after answering the first. The checkpointer has already copied all but
//!   the last few milliseconds of frames, so this costs the writer a short copy and one
//!   fsync, and its next commit starts the WAL over.
//!
//! A blocking TRUNCATE remains as a safety net for a WAL that grew anyway (a long-lived
//! reader can stop restarts), and runs at shutdown.

use std::cell::Cell;
use std::ffi::c_int;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

/// Pause between two passive checkpoints of the checkpointer thread. Short, so that the
/// frames left for the writer's restart checkpoint are few.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(20);

/// WAL size (in frames, one per page written) past which the checkpointer truncates the
/// WAL. Truncating blocks the writer until the checkpoint and its fsync finish (hundreds of
/// ms on a busy disk); it happens only when restarts failed for about 512 MiB of WAL.
const WAL_TRUNCATE_FRAMES: i64 = 131_072;

/// Default WAL size (in frames) at which the writer restarts the WAL: 16 MiB of 4 KiB
/// pages. Larger costs disk and page cache; smaller makes the writer's checkpoints (and
/// their fsyncs) more frequent.
pub const DEFAULT_RESTART_FRAMES: i64 = 4096;

thread_local! {
    /// Frames in the WAL after the last commit on this thread's connection (the writer's).
    static WAL_FRAMES: Cell<i64> = const { Cell::new(0) };
}

fn record_wal_frames(_: &rusqlite::hooks::Wal, frames: c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.with(|f| f.set(i64::from(frames)));
    Ok(())
}

/// Makes the writer's connection report its WAL size after every commit, and turns off
/// SQLite's automatic checkpoint, which would run inside a commit that requests wait for.
pub(crate) fn prepare_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("PRAGMA wal_autocheckpoint=0;")?;
    // After the pragma: wal_autocheckpoint installs its own hook.
    conn.wal_hook(Some(record_wal_frames));
    Ok(())
}

/// Runs the writer's restart checkpoint if the WAL is due for one. Call between batches,
/// on the writer thread, with no transaction open. Returns whether a checkpoint ran and
/// backfilled every frame (the next commit then starts the WAL over).
pub(crate) fn restart_if_due(conn: &Connection, restart_frames: i64) -> bool {
    let frames = WAL_FRAMES.with(Cell::get);
    if frames < restart_frames {
        return false;
    }
    match checkpoint(conn, "PASSIVE") {
        Ok((busy, log, backfilled)) => {
            let complete = busy == 0 && log == backfilled;
            if complete {
                // Until the next commit reports again.
                WAL_FRAMES.with(|f| f.set(0));
            }
            tracing::debug!(frames, log, backfilled, complete, "writer's WAL restart checkpoint");
            complete
        }
        Err(e) => {
            tracing::warn!(error = %e, "writer's WAL checkpoint failed");
            false
        }
    }
}

fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
}

/// The checkpointer thread's loop: passive checkpoints until `stop` closes, then one
/// TRUNCATE checkpoint so a cleanly stopped database leaves an empty WAL.
pub(crate) fn run_checkpointer(conn: Connection, stop: Receiver<()>) {
    set_io_priority(true);
    loop {
        let stopping = !matches!(stop.recv_timeout(CHECKPOINT_INTERVAL), Err(RecvTimeoutError::Timeout));
        match checkpoint(&conn, if stopping { "TRUNCATE" } else { "PASSIVE" }) {
            Ok((_, wal_frames, _)) if wal_frames > WAL_TRUNCATE_FRAMES && !stopping => {
                tracing::warn!(wal_frames, "WAL did not restart; truncating it (blocks writes)");
                set_io_priority(false);
                if let Err(e) = checkpoint(&conn, "TRUNCATE") {
                    tracing::warn!(error = %e, "WAL truncate checkpoint failed");
                }
                set_io_priority(true);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
        if stopping {
            return;
        }
    }
}

/// Sets this thread's disk I/O priority class: idle for the checkpointer's passive work,
/// so a checkpoint's burst of database-file writes (and its fsync) yields the disk to the
/// writer's WAL fsyncs, which requests wait for; back to best-effort for a blocking
/// checkpoint, which the writer itself waits for. Schedulers without priorities ignore it;
/// idle-class I/O is still served when nothing else waits (mq-deadline ages it in), so
/// checkpoints progress.
fn set_io_priority(idle: bool) {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    const IOPRIO_CLASS_BE: libc::c_long = 2;
    const IOPRIO_CLASS_IDLE: libc::c_long = 3;
    const IOPRIO_CLASS_SHIFT: libc::c_long = 13;
    let class = if idle { IOPRIO_CLASS_IDLE } else { IOPRIO_CLASS_BE };
    // SAFETY: ioprio_set on the calling thread (who = 0) with a valid priority value.
    let result = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0 as libc::c_long,
            class << IOPRIO_CLASS_SHIFT,
        )
    };
    if result != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot set the checkpointer's I/O priority");
    }
}
