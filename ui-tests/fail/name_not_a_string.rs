use traced::traced;

#[traced(name = load_user)]
fn load() {}

#[traced(name = 42, target = crate_name)]
fn save() {}

fn main() {
    load();
    save();
}
