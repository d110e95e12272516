use traced::traced;

#[traced(fields(user.id = ))]
fn missing_value(id: u64) -> u64 {
    id
}

#[traced(fields(= 5))]
fn missing_name() {}

#[traced(fields(a = 1 b = 2))]
fn missing_comma() {}

#[traced(fields)]
fn no_list() {}

#[traced(kind = "client", fields(otel.kind = "server"))]
fn reserved() {}

fn main() {
    reserved();
    missing_value(1);
    missing_name();
    missing_comma();
    no_list();
}
