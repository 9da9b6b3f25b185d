/**
 * What `sure install` writes: a systemd unit that runs `sure serve` and an
 * environment file with the node's settings (the same SURE_* variables the
 * CLI reads), so the settings live in one file an operator edits. The node
 * logs JSON lines to stdout, which the journal keeps.
 */
export interface InstallSettings {
  /** How to run sure: the executable and the arguments before `serve`. */
  exec: string[];
  port: number;
  host: string;
  dataDir: string;
  /** The node's settings as the SURE_* variables serve reads, in the order written. */
  vars: [string, string][];
  /** Where the environment file goes (the unit names it). */
  configPath: string;
}

export const UNIT_PATH = "/etc/systemd/system/sure.service";
export const CONFIG_PATH = "/etc/sure/sure.env";
export const DATA_DIR = "/var/lib/sure";

/** A systemd word: quoted when it holds anything but safe characters. */
function word(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\\\])/g, "\\\\$1")}"`;
}

/** Whether the node's executable, checkout or data dir is under /tmp or /var/tmp. */
export function usesTmp(s: InstallSettings): boolean {
  return [...s.exec, s.dataDir].some((p) => /^\/(var\/)?tmp(\/|$)/.test(p));
}

export function unitFile(s: InstallSettings): string {
  return [
    "# Written by `sure install`; `sure uninstall` removes it.",
    "[Unit]",
    "Description=sure: serverless functions in KVM micro-VMs",
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `EnvironmentFile=${s.configPath}`,
    `ExecStart=${[...s.exec, "serve"].map(word).join(" ")}`,
    // The first SIGTERM drains (up to 5 s), so give it more than that.
    "KillSignal=SIGTERM",
    "TimeoutStopSec=20",
    "Restart=on-failure",
    "RestartSec=1",
    "StandardOutput=journal",
    "StandardError=journal",
    "LimitNOFILE=65536",
    "NoNewPrivileges=true",
    // A private /tmp hides the real one: not when sure itself or its data live there.
    ...(usesTmp(s) ? [] : ["PrivateTmp=true"]),
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/**
 * A value as systemd's EnvironmentFile reads it: bare when it holds only safe
 * characters, else double-quoted with \, ", $ and ` escaped. A line break
 * cannot be written (it would start another variable): install refuses it.
 */
export function envValue(v: string): string {
  if (/[\n\r]/.test(v)) throw new Error("a setting cannot hold a line break");
  return /^[A-Za-z0-9_@%+=:,./-]*$/.test(v) ? v : `"${v.replace(/(["\\$`])/g, "\\$1")}"`;
}

/** The variables of a settings file as configFile writes them (envValue undone). */
export function readConfigFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    const q = /^"((?:[^"\\]|\\.)*)"$/.exec(m[2]);
    vars[m[1]] = q ? q[1].replace(/\\(.)/g, "$1") : m[2];
  }
  return vars;
}

export function configFile(s: InstallSettings): string {
  return [
    "# sure node settings (read by sure.service; restart it after a change).",
    "# Each is the variable `sure serve --help` names for a flag. The admin token:",
    "# SURE_ADMIN_TOKEN below, else made at first start in $SURE_DATA_DIR/admin.token",
    "# (0600); the node writes it there either way.",
    ...s.vars.map(([k, v]) => `${k}=${envValue(v)}`),
  ].join("\n") + "\n";
}
