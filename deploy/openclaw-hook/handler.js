// gateway:startup hook: starts livestatus-watcher unless it already runs,
// with the env file the systemd unit reads (variables the gateway already
// has win).
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const BIN = process.env.LIVESTATUS_WATCHER_BIN || "livestatus-watcher";
const UNIT = "livestatus-watcher";
const ENV_FILE = process.env.LIVESTATUS_ENV_FILE || "/etc/livestatus/livestatus.env";

// True when systemd (the system or the user manager) runs the watcher's
// unit.  Its PID file is not the one `status` looks at by default, so
// `status` alone would not see it.  No systemctl, or no systemd: false.
function systemdRunsIt() {
  for (const args of [["is-active", "--quiet", UNIT], ["--user", "is-active", "--quiet", UNIT]]) {
    const r = spawnSync("systemctl", args, { stdio: "ignore", timeout: 5000 });
    if (!r.error && r.status === 0) return true;
  }
  return false;
}

// The KEY=VALUE lines of an env file as systemd's EnvironmentFile= reads
// them: blank lines and lines starting with # or ; are skipped, a value in
// single or double quotes loses them (\\, \" and \n are unescaped inside
// double quotes), other values are trimmed.  A leading "export " (dotenv
// files of v4.1) is accepted.  Lines that are not an assignment are skipped.
export function parseEnvFile(text) {
  const out = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\([\\"n])/g, (_, c) => (c === "n" ? "\n" : c));
    }
    out[m[1]] = value;
  }
  return out;
}

// The env file's variables under the gateway's own: a variable the gateway
// already has is kept.  No file: nothing added.  A file that exists but
// cannot be read (0640 root:livestatus and the gateway's user not in the
// group) is said once in the gateway's log.
function withEnvFile(env) {
  let text;
  try {
    text = readFileSync(ENV_FILE, "utf8");
  } catch (e) {
    if (e && e.code !== "ENOENT" && e.code !== "ENOTDIR") {
      console.error(`[livestatus-watcher] cannot read ${ENV_FILE}: ${e.message}; ` +
        "starting with the gateway's environment only");
    }
    return env;
  }
  for (const [k, v] of Object.entries(parseEnvFile(text))) {
    if (env[k] === undefined) env[k] = v;
  }
  return env;
}

function watcherEnv() {
  const env = withEnvFile({ ...process.env });
  const state = env.OPENCLAW_STATE_DIR || join(homedir(), ".openclaw");
  if (!env.TRANSCRIPT_DIR) env.TRANSCRIPT_DIR = join(state, "agents");
  if (!env.LOG_FILE) {
    const logs = join(state, "logs");
    try {
      mkdirSync(logs, { recursive: true });
      env.LOG_FILE = join(logs, "livestatus-watcher.log");
    } catch {
      // no log folder: the watcher logs nowhere
    }
  }
  return env;
}

export default async function livestatusWatcherHook(event) {
  if (event && event.type && !(event.type === "gateway" && event.action === "startup")) {
    return;
  }
  if (systemdRunsIt()) return; // never a second watcher next to the service
  const env = watcherEnv();
  const status = spawnSync(BIN, ["status"], { env, stdio: "ignore", timeout: 10000 });
  if (status.error) {
    console.error(`[livestatus-watcher] cannot run ${BIN}: ${status.error.message}`);
    return;
  }
  if (status.status === 0) return; // already running
  const start = spawnSync(BIN, ["start"], { env, encoding: "utf8", timeout: 20000 });
  if (start.status !== 0) {
    const why = (start.stderr || "").trim() || `exit ${start.status}`;
    console.error(`[livestatus-watcher] did not start: ${why}`);
  } else {
    console.log(`[livestatus-watcher] ${start.stdout.trim()}`);
  }
}
