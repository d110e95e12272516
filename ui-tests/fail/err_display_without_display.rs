use traced::traced;

#[derive(Debug)]
struct OnlyDebug;

#[traced(err(Display))]
fn fails() -> Result<(), OnlyDebug> {
    Err(OnlyDebug)
}

#[traced(err(Verbose))]
fn unknown_format() -> Result<(), OnlyDebug> {
    Err(OnlyDebug)
}

fn main() {
    let _ = fails();
    let _ = unknown_format();
}
