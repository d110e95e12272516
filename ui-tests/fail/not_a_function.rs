use traced::traced;

#[traced]
struct Config {
    port: u16,
}

#[traced]
static LIMIT: usize = 10;

struct Server;

#[traced]
impl Server {
    fn run(&self) {}
}

trait Handler {
    #[traced]
    fn handle(&self, request: &str);
}

#[traced]
const fn constant() -> u8 {
    1
}

fn main() {
    let _ = Config { port: 1 }.port + LIMIT as u16 + u16::from(constant());
    Server.run();
}
