//! The criterion suite; `cargo bench -p traced-benches -- d1/` filters as usual.

use std::time::Duration;

use criterion::Criterion;

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    traced_benches::suite::run(&mut criterion, &|_| true);
    criterion.final_summary();
}
