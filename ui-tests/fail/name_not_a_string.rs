use traced::traced;

#[traced(name = 42)]
fn load() {}

#[traced(name = "save", target = 7)]
fn save() {}

fn main() {
    load();
    save();
}
