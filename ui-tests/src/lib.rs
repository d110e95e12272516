//! Every option of `#[traced]` at once, in a crate that denies all warnings and clippy's default
//! lints: the expansion must add none. `cargo clippy --workspace` checks it; tests/ui.rs holds
//! the compile-pass and compile-fail cases.

#![deny(warnings, clippy::all)]

use std::fmt;

use traced::traced;

/// An error with `Display` and `Debug`.
#[derive(Debug)]
pub struct Failure(pub u32);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failure {}", self.0)
    }
}

impl std::error::Error for Failure {}

/// Every option but `skip_all` and `parent`/`follows_from` (see below).
#[traced(
    name = "everything",
    skip(ignored),
    fields(user.id = id, shown = %id, debugged = ?id, later),
    ret,
    err(Display),
    level = "debug",
    target = "traced_ui_tests::options",
    kind = "client"
)]
pub fn everything(id: u64, ignored: &str, password: &str) -> Result<u64, Failure> {
    if ignored.len() + password.len() > 100 {
        return Err(Failure(1));
    }
    Ok(id)
}

/// `skip_all` with a local parent and a follows-from link.
#[traced(skip_all, parent = parent, follows_from = [cause], err(Debug), level = "trace")]
pub fn linked(parent: &tracing::Span, cause: &tracing::Span) -> Result<(), Failure> {
    let _ = (parent, cause);
    Ok(())
}

/// A remote parent, `record(...)` and `err` on an `async fn`.
#[traced(record(id), parent = remote, kind = "server", err, level = "warn")]
pub async fn handle(
    id: u64,
    remote: Option<traced::model::Remote>,
    token: &str,
) -> Result<u64, Failure> {
    let _ = (remote, token);
    Ok(id)
}

/// A root span (`parent = None`) with `ret(Debug)` and `level = "error"`.
#[traced(parent = None, ret(Debug), level = "error")]
pub fn root(values: &[u8]) -> Vec<u8> {
    values.to_vec()
}

/// `ret(Display)` and `level = "info"` on a method, with every receiver form nearby.
pub struct Counter {
    count: u32,
}

impl Counter {
    /// `&mut self`, returning a borrow of `self`.
    #[traced(ret(Display), level = "info")]
    pub fn bump(&mut self) -> &u32 {
        self.count += 1;
        &self.count
    }

    /// An async method.
    #[traced(kind = "producer")]
    pub async fn send(&self, message: String) -> usize {
        message.len() + self.count as usize
    }

    /// A future built in a plain function.
    #[traced(kind = "consumer")]
    pub fn receive(&self) -> impl std::future::Future<Output = u32> + '_ {
        async move { self.count }
    }
}

/// An `#[async_trait]` trait and impl.
#[async_trait::async_trait]
pub trait Repository {
    /// Loads a row.
    async fn load(&self, id: u64) -> Result<String, Failure>;
}

/// An in-memory repository.
pub struct Memory;

#[async_trait::async_trait]
impl Repository for Memory {
    #[traced(err)]
    async fn load(&self, id: u64) -> Result<String, Failure> {
        if id == 0 {
            return Err(Failure(0));
        }
        Ok(id.to_string())
    }
}

/// A function that returns nothing and one that never returns.
#[traced]
pub fn nothing(count: usize) {
    if count == 0 {
        return;
    }
    let _ = count;
}

/// Never returns.
#[traced]
pub fn forever() -> ! {
    loop {
        std::thread::park();
    }
}

/// `#[track_caller]` keeps the body inline; both ways out of it compile cleanly.
#[traced(err)]
#[track_caller]
pub fn checked(value: Option<u32>) -> Result<u32, Failure> {
    if value == Some(0) {
        return Err(Failure(0));
    }
    Ok(value.expect("a value"))
}

/// A `#[track_caller]` body that always leaves by `return`.
#[allow(clippy::needless_return)]
#[traced]
#[track_caller]
pub fn always_returns(value: u32) -> u32 {
    return value + 1;
}
