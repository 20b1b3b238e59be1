//! CPU time a process (and its child processes, such as nginx's workers) has used, from
//! `/proc/<pid>/stat` (`utime` + `stime`), for the CPU cost per request of a throughput run.

use std::time::Duration;

use anyhow::Context;

/// Clock ticks per second of `/proc`'s times (`getconf CLK_TCK`; 100 on Linux everywhere).
const TICKS_PER_SECOND: u64 = 100;

/// User plus system CPU time of `pid` and its direct children.
pub fn process_tree_time(pid: u32) -> anyhow::Result<Duration> {
    let mut ticks = ticks_of(pid)?;
    for child in children(pid) {
        // A child may have exited in between: it no longer counts.
        ticks += ticks_of(child).unwrap_or(0);
    }
    Ok(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
}

/// `utime + stime` of `pid`, in clock ticks.
fn ticks_of(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_ticks(&stat).with_context(|| format!("reading the CPU times in {path}"))
}

/// `utime` (field 14) plus `stime` (field 15) of a `stat` line; the fields are counted after the
/// command name, which is in parentheses and may hold spaces.
fn parse_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The process ids of `pid`'s children (from every thread's `children` list).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|id| id.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Field layout: proc(5), /proc/pid/stat.
    #[test]
    fn utime_and_stime_are_read_after_the_command_name() {
        let stat = "4242 (nginx: worker) S 1 4242 4242 0 -1 4194624 80 0 0 0 37 12 0 0 20 0 1 0";
        assert_eq!(parse_ticks(stat), Some(49));
        assert_eq!(parse_ticks("garbage"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() -> anyhow::Result<()> {
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(0u64);
        }
        assert!(process_tree_time(std::process::id())? > Duration::ZERO);
        Ok(())
    }
}
