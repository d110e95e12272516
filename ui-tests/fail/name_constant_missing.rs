// `name = NAME` takes a constant, as `tracing::instrument` does; one that does not exist is
// the compiler's error, on the name as written.
use traced::traced;

#[traced(name = LOAD_USER)]
fn load() {}

fn main() {
    load();
}
