//! Steal time: how much of the CPU the hypervisor gave to other guests while a table was
//! measured, from the `cpu` line of `/proc/stat`. On a shared virtual machine it is the one
//! kind of interference the guest cannot see in its own load average.

/// The machine's CPU time counters at one moment, in clock ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuTimes {
    /// Ticks stolen by the hypervisor.
    pub steal: u64,
    /// All ticks (user, nice, system, idle, iowait, irq, softirq, steal).
    pub total: u64,
}

/// Reads the counters now; `None` where `/proc/stat` is not there (not Linux).
pub fn now() -> Option<CpuTimes> {
    parse(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Parses the aggregate `cpu` line of `/proc/stat`.
///
/// ```
/// let times = traced_benches::steal::parse("cpu  10 0 5 80 1 0 1 3 0 0\ncpu0 1 2 3\n").unwrap();
/// assert_eq!((times.steal, times.total), (3, 100));
/// ```
pub fn parse(stat: &str) -> Option<CpuTimes> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    Some(CpuTimes {
        steal: *fields.get(7)?,
        total: fields.iter().sum(),
    })
}

/// The share of CPU time stolen between two readings, in percent.
pub fn percent(before: Option<CpuTimes>, after: Option<CpuTimes>) -> Option<f64> {
    let (before, after) = (before?, after?);
    let total = after.total.checked_sub(before.total)?;
    (total > 0).then(|| 100.0 * after.steal.saturating_sub(before.steal) as f64 / total as f64)
}
