use traced::traced;

#[traced(parent = 5u32)]
fn child() {}

fn main() {
    child();
}
