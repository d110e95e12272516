//! `#[traced]` above `#[tokio::main]`: the runtime attribute still sees an `async fn`.

use traced::traced;

#[traced(name = "main")]
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), std::io::Error> {
    tokio::task::yield_now().await;
    Ok(())
}
