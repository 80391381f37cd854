//! The few operating-system calls the generator needs beyond sockets:
//! CPU pinning, process CPU time and the descriptor limit.

use std::io;

/// Pins the calling thread (the whole generator) to core `cpu`.
pub fn pin_to_cpu(cpu: usize) -> Result<(), String> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(format!("--cpu {cpu} is beyond CPU_SETSIZE"));
    }
    // SAFETY: cpu_set_t is plain data for which all-zero is the empty set;
    // CPU_SET is given an index checked against CPU_SETSIZE above; the
    // pointer and size passed to sched_setaffinity describe that local set.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &raw const set)
    };
    if rc != 0 {
        return Err(format!(
            "cannot pin to core {cpu}: {}",
            io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Clock ticks per second used by /proc accounting.
pub fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Parses user + system ticks out of the text of `/proc/PID/stat`.
///
/// The command name (field 2) may contain spaces and parentheses, so the
/// fields are counted from the last `)`: utime and stime are fields 14 and
/// 15, i.e. the 12th and 13th after it.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU seconds (user + system) used so far by process `pid`, all threads.
pub fn process_cpu_seconds(pid: u32) -> Result<f64, String> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let ticks = parse_stat_ticks(&text).ok_or_else(|| format!("cannot parse {path}"))?;
    Ok(ticks as f64 / clock_ticks())
}

/// CPU seconds (user + system) used so far by this process.
pub fn self_cpu_seconds() -> f64 {
    // SAFETY: rusage is plain data; getrusage fills the struct we point at.
    let (rc, ru) = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        let rc = libc::getrusage(libc::RUSAGE_SELF, &raw mut ru);
        (rc, ru)
    };
    if rc != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Raises the soft descriptor limit to at least `wanted` if the hard limit
/// allows; returns the soft limit in force afterwards.
pub fn raise_nofile(wanted: u64) -> u64 {
    // SAFETY: rlimit is plain data; getrlimit/setrlimit read or fill the
    // struct we point at.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur >= wanted {
            return lim.rlim_cur;
        }
        let new = wanted.min(lim.rlim_max);
        let want = libc::rlimit {
            rlim_cur: new,
            rlim_max: lim.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raw const want) == 0 {
            new
        } else {
            lim.rlim_cur
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let line = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                    1234 567 0 0 20 0 3 0 100 1000 200 18446744073709551615";
        assert_eq!(parse_stat_ticks(line), Some(1234 + 567));
        assert_eq!(parse_stat_ticks("1 (x) S 1 2"), None);
        assert_eq!(parse_stat_ticks("no paren"), None);
    }

    #[test]
    fn own_cpu_time_is_readable_both_ways() {
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while self_cpu_seconds() < 0.05 && start.elapsed().as_secs() < 10 {
            for i in 0..100_000u64 {
                x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(i));
            }
        }
        std::hint::black_box(x);
        assert!(self_cpu_seconds() >= 0.05);
        let mine = process_cpu_seconds(std::process::id()).unwrap();
        assert!(mine >= 0.02, "{mine}");
        assert!(process_cpu_seconds(u32::MAX).is_err());
    }

    #[test]
    fn descriptor_limit_is_at_least_what_we_had() {
        assert!(raise_nofile(16) >= 16);
    }
}
