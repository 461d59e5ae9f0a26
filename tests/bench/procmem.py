"""procmem: a process's memory as the benchmarks report it, read from /proc.

status_kb(pid, field)  a field of /proc/PID/status in KiB: VmRSS, VmHWM (the
                       peak), RssFile (the pages of the binary and its shared
                       libraries); 0 when the process or the field is gone.
private_kb(pid)        what no other process maps: Private_Clean +
                       Private_Dirty of /proc/PID/smaps_rollup, in KiB.
"""


def status_kb(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def private_kb(pid):
    total = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total
