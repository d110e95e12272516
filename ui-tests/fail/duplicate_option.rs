use traced::traced;

// Any pair of the same option is caught, whatever sits between them.
#[traced(target = "a", parent = None, target = "b")]
fn twice() {}

#[traced(ret, level = "debug", ret, skip_all, level = "warn")]
fn two_pairs(value: u8) -> u8 {
    value
}

fn main() {
    twice();
    two_pairs(1);
}
