use traced::traced;

#[traced(level = 6)]
fn six() {}

#[traced(level = 0)]
fn zero() {}

#[traced(err(level = "loud"))]
fn loud() -> Result<(), String> {
    Ok(())
}

#[traced(ret(Debug, Display))]
fn two_formats() -> u8 {
    1
}

#[traced(ret(level = "info", level = "warn"))]
fn two_levels() -> u8 {
    1
}

fn main() {
    six();
    zero();
    let _ = loud();
    let _ = two_formats();
    let _ = two_levels();
}
