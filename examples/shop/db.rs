//! A SQLite database shared by one service's handlers.
//!
//! rusqlite is synchronous, so every query runs on tokio's blocking pool: a slow disk never
//! stalls the threads that answer requests. The connection sits behind a mutex because SQLite
//! connections are not `Sync`; one per service is plenty for an example.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use tracing::Span;

/// One service's database.
#[derive(Clone)]
pub struct Db {
    connection: Arc<Mutex<Connection>>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

/// A failed query (or a query that could not run at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError(pub String);

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(error: rusqlite::Error) -> DbError {
        DbError(error.to_string())
    }
}

impl Db {
    /// Opens (creating if needed) the database file at `path` and runs `schema` on it.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("traced-db-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let db = traced_examples::shop::db::Db::open(&dir.join("t.db"), "CREATE TABLE IF NOT EXISTS t (x)");
    /// assert!(db.is_ok());
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn open(path: &Path, schema: &str) -> Result<Db, DbError> {
        let connection = Connection::open(path)?;
        connection.execute_batch(schema)?;
        Ok(Db {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `query` on the blocking pool and waits for it without blocking the runtime.
    ///
    /// The current tracing span — the `#[traced]` database function's, which `Span::current()`
    /// names on traced's fast path too — is entered on the blocking thread, so anything the
    /// query logs lands under that span.
    pub async fn run<T, F>(&self, query: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let connection = self.connection.clone();
        let span = Span::current();
        let task = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            // A panic in an earlier query poisons the mutex but leaves the connection usable.
            let connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            query(&connection)
        });
        match task.await {
            Ok(result) => result.map_err(DbError::from),
            Err(error) => Err(DbError(format!("the query did not finish: {error}"))),
        }
    }
}
