use traced::traced;

#[traced(err)]
fn nothing() {}

#[traced(err)]
fn number() -> u32 {
    1
}

#[traced(err)]
async fn optional() -> Option<u32> {
    None
}

fn main() {
    nothing();
    number();
    drop(optional());
}
