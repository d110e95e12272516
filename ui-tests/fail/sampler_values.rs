use traced::traced;

#[traced(sampler = "sometimes")]
fn sometimes() {}

#[traced(sampler = "alway")]
fn misspelt() {}

#[traced(sampler = 1.5)]
fn too_much() {}

#[traced(sampler = 2)]
fn whole_number() {}

#[traced(sampler = ratio())]
fn computed() {}

#[traced(sampler = true)]
fn boolean() {}

#[traced(sampler = "never", sampler = 0.5)]
fn twice() {}

fn ratio() -> f64 {
    0.5
}

fn main() {
    sometimes();
    misspelt();
    too_much();
    whole_number();
    computed();
    boolean();
    twice();
    let _ = ratio();
}
