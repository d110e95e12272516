use traced::traced;

#[traced(kind = "rpc")]
fn rpc() {}

#[traced(kind = "Server")]
fn capitalised() {}

#[traced(level = "verbose")]
fn verbose() {}

#[traced(level = "warning")]
fn warning() {}

fn main() {
    rpc();
    capitalised();
    verbose();
    warning();
}
