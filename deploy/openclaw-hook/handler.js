// gateway:startup hook: starts livestatus-watcher unless it already runs.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const BIN = process.env.LIVESTATUS_WATCHER_BIN || "livestatus-watcher";
const UNIT = "livestatus-watcher";

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

function watcherEnv() {
  const env = { ...process.env };
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
