//! A process's CPU time from its own counters, for the benches that measure
//! a server (`load.rs`) or a client (`redis_store.rs`) by its CPU per
//! request rather than by a generator's rate.

use std::process::Command;
use std::time::Duration;

/// CPU time (user and system, all threads) process `pid` has used so far,
/// from its counters in `/proc/<pid>/stat`; `None` where there is no such
/// file (not Linux).
pub(crate) fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may
    // hold spaces: the state (field 3) first, utime and stime are 14 and 15.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second()))
}

/// The unit of `/proc/<pid>/stat`'s times (`getconf CLK_TCK`, 100 almost
/// everywhere).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
