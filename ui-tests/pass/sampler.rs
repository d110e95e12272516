//! `sampler = …` in each of its spellings, on each shape, and with `parent`.

use traced::traced;

#[traced(sampler = "always")]
fn always() {}

#[traced(sampler = "never", level = "debug")]
fn never() -> Result<(), String> {
    Ok(())
}

#[traced(sampler = 0.25)]
async fn quarter(n: u64) -> u64 {
    n
}

#[traced(sampler = 1)]
fn whole(span: &tracing::Span) {
    let _ = span;
    let _ = tracing::Span::current();
}

#[traced(sampler = 0, parent = None)]
fn root_of_its_own() {}

#[traced(parent = &tracing::Span::none(), sampler = 0.5)]
fn under_a_parent() {}

fn main() {
    always();
    let _ = never();
    let _ = quarter(1);
    whole(&tracing::Span::none());
    root_of_its_own();
    under_a_parent();
}
