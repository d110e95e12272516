use traced::traced;

#[traced(skip(usr_id))]
fn load(user_id: u64, body: &str) -> usize {
    user_id as usize + body.len()
}

#[traced(record(pasword, xyz))]
fn login(user: &str, password: &str) -> bool {
    user == password
}

fn main() {
    load(1, "");
    login("a", "b");
}
