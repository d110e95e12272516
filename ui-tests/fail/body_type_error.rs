//! A mistake in the body is reported at the body, not at the attribute.
use traced::traced;

#[traced]
fn sync_body(id: u64) -> String {
    id + 1
}

#[traced]
async fn async_body(id: u64) -> Result<String, std::io::Error> {
    let doubled: u64 = id * 2;
    Ok(doubled)
}

#[traced]
fn returns_early(id: u64) -> Option<String> {
    if id == 0 {
        return Some(id);
    }
    None
}

fn main() {
    sync_body(1);
    drop(async_body(1));
    returns_early(1);
}
