// gateway:startup hook: starts livestatus-watcher unless it already runs.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const BIN = process.env.LIVESTATUS_WATCHER_BIN || "livestatus-watcher";

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
