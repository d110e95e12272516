use traced::traced;

#[traced(nmae = "load")]
fn typo() {}

#[traced(instrument_everything)]
fn unknown() {}

fn main() {
    typo();
    unknown();
}
