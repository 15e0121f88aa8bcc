// Measurements of another process from /proc (Linux): resident memory, CPU time
// and open descriptors of the server under test, and a sampler that records the
// peak while an attack runs. Every wait here is bounded.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clockTicks = null;

/** Kernel clock ticks per second (the unit of utime/stime in /proc/<pid>/stat). */
function ticksPerSecond() {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;  // the value on every Linux architecture Node runs on
    }
  }
  return clockTicks;
}

/** Resident set size of pid in bytes (VmRSS in /proc/<pid>/status). */
export function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** CPU time (user + system) pid has used so far, in seconds. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);  // field 14 of the whole line
  const stime = Number(fields[12]);  // field 15
  return (utime + stime) / ticksPerSecond();
}

/** Number of open file descriptors of pid. */
export function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Megabytes with one decimal, for messages. */
export const mib = (bytes) => `${(bytes / (1 << 20)).toFixed(1)} MiB`;

/**
 * CPU share of pid between now and stop(): CPU seconds used divided by wall
 * seconds (1.0 is one core busy the whole time).
 */
export function cpuMeter(pid) {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  return {
    stop() {
      const cpu = cpuSeconds(pid) - cpu0;
      const wall = (performance.now() - t0) / 1000;
      return { cpu, wall, share: wall > 0 ? cpu / wall : 0 };
    },
  };
}

/**
 * Samples RSS (and descriptors) of pid every intervalMs until stop(). onSample
 * sees each sample, so an attack can stop itself as soon as a bound is broken
 * instead of eating the (shared) machine's memory. A process that has exited
 * ends the sampling.
 */
export function rssSampler(pid, { intervalMs = 100, onSample } = {}) {
  const stats = { peakRss: 0, peakFds: 0, samples: 0, last: null };
  const sample = () => {
    try {
      const s = { rss: rssBytes(pid), fds: fdCount(pid), at: performance.now() };
      stats.peakRss = Math.max(stats.peakRss, s.rss);
      stats.peakFds = Math.max(stats.peakFds, s.fds);
      stats.samples++;
      stats.last = s;
      onSample?.(s);
    } catch {
      clearInterval(timer);  // the process is gone
    }
  };
  const timer = setInterval(sample, intervalMs);
  sample();
  return {
    stats,
    stop() {
      clearInterval(timer);
      sample();
      return stats;
    },
  };
}

/**
 * Polls pid's RSS until it is at most maxBytes; resolves with the RSS, or
 * rejects after timeoutMs with the lowest value seen.
 */
export async function waitRssBelow(pid, maxBytes, { timeoutMs = 10000, intervalMs = 100, what = 'RSS' } = {}) {
  const deadline = performance.now() + timeoutMs;
  let lowest = Infinity;
  for (;;) {
    const rss = rssBytes(pid);
    lowest = Math.min(lowest, rss);
    if (rss <= maxBytes) return rss;
    if (performance.now() >= deadline) {
      throw new Error(`${what}: still ${mib(rss)} after ${timeoutMs} ms (lowest ${mib(lowest)}), bound ${mib(maxBytes)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Polls cond() (sync or async) every intervalMs until it returns a truthy value,
 * which is resolved; rejects after timeoutMs, with describe() in the message.
 */
export async function pollUntil(cond, { timeoutMs = 5000, intervalMs = 50, what = 'a condition', describe = () => '' } = {}) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (performance.now() >= deadline) {
      const d = describe();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${d ? `: ${d}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
