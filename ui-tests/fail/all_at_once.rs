//! Every mistake is reported in one run, and the function still exists (no error at the call).
use traced::traced;

#[traced(nmae = "x", skip(usr), level = "loud", kind = "rpc", ret, ret)]
fn load(user: u64) -> u64 {
    user
}

fn main() {
    let value: u64 = load(1);
    let _ = value;
}
