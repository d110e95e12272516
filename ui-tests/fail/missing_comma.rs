use traced::traced;

#[traced(name = "load" ret)]
fn load() -> u8 {
    1
}

fn main() {
    load();
}
