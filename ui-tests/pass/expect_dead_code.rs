// `#[expect(dead_code)]` on an unused `#[traced]` function is fulfilled, in every shape: the
// attribute does not hide the lint.
#![deny(unfulfilled_lint_expectations)]

use traced::traced;

#[expect(dead_code)]
#[traced]
fn unused_sync(id: u64) -> u64 {
    id + 1
}

#[traced]
#[expect(dead_code)]
async fn unused_async(id: u64) -> u64 {
    id
}

#[expect(dead_code)]
#[traced]
fn unused_future(id: u64) -> impl std::future::Future<Output = u64> {
    async move { id }
}

pub struct Service;

impl Service {
    #[expect(dead_code)]
    #[traced]
    fn unused_method(&self) {}
}

fn main() {}
