// An unused `#[traced]` function is reported as dead code, as it would be without the
// attribute, in every shape.
#![deny(dead_code)]

use traced::traced;

#[traced]
fn unused_sync(id: u64) -> u64 {
    id + 1
}

#[traced]
#[track_caller]
fn unused_track_caller(id: u64) -> u64 {
    id
}

#[traced]
async fn unused_async(id: u64) -> u64 {
    id
}

#[traced]
fn unused_future(id: u64) -> impl std::future::Future<Output = u64> {
    async move { id }
}

pub struct Service;

impl Service {
    #[traced]
    fn unused_method(&self) {}

    #[traced]
    async fn unused_async_method(&self) -> u8 {
        1
    }
}

fn main() {}
