use traced::traced;

#[traced(skip(body, body))]
fn save(id: u64, body: &str) -> usize {
    id as usize + body.len()
}

#[traced(skip(id), record(id))]
fn load(id: u64) -> u64 {
    id
}

fn main() {
    save(1, "");
    load(1);
}
