/**
 * `sure install` and `sure uninstall`: the node as a systemd service on an
 * edge machine (root). install writes the unit and the settings file, makes
 * the data dir (0700) and starts the node; uninstall stops it and removes
 * both, keeping the data unless --purge. --print shows what install would
 * write, for machines without systemd.
 */
import {
  type Command,
  CommandError,
  type FlagValue,
  intFlag,
  type OptionDoc,
  UsageError,
} from "./command.ts";
import {
  type KeyTexts,
  NODE_OPTIONS,
  noEnv,
  parseNodeSettings,
  readKeyHex,
} from "./node_settings.ts";
import {
  CONFIG_PATH,
  configFile,
  DATA_DIR,
  type InstallSettings,
  readConfigFile,
  UNIT_PATH,
  unitFile,
} from "../install/unit.ts";

/** How this sure runs: the executable itself, or deno with main.ts of this checkout. */
export function selfExec(): string[] {
  const main = new URL("../../main.ts", import.meta.url);
  if (main.protocol === "file:") {
    try {
      Deno.statSync(main);
      return [Deno.execPath(), "run", "-A", main.pathname];
    } catch {
      // not a checkout: a single executable
    }
  }
  return [Deno.execPath()];
}

/** The flags install writes as variables itself, or not at all. */
const OWN = new Set(["port", "host", "data-dir"]);

/**
 * What install writes, from its flags: serve's flags (node_settings.ts) each as
 * its variable, checked as serve checks them first, so a setting the node
 * would refuse at start is refused before anything is written. A key file's
 * key goes into the settings file (0600); other files are named by absolute
 * path, since the service does not run where install did, and must exist.
 */
export async function installSettings(values: Record<string, FlagValue>): Promise<InstallSettings> {
  const port = intFlag("port", values.port) ?? 8080;
  if (port < 1 || port > 65535) throw new UsageError("--port must be 1..65535");
  const dataDir = (values["data-dir"] as string | undefined) ?? DATA_DIR;
  if (!dataDir.startsWith("/")) throw new UsageError("--data-dir must be an absolute path");
  const host = (values.host as string | undefined) ?? "127.0.0.1";
  const token = values.token as string | undefined;
  if (token !== undefined && !/^[0-9a-f]{64}$/.test(token)) {
    throw new UsageError("--token must be 64 hex digits (e.g. `openssl rand -hex 32`)");
  }
  // Each key file is read once: the key checked is the key written.
  const texts: KeyTexts = new Map();
  await parseNodeSettings(
    { ...values, port: String(port), host, "data-dir": dataDir },
    noEnv,
    texts,
  );
  oneLine("host", host);
  oneLine("data-dir", dataDir);
  const vars: [string, string][] = [
    ["SURE_PORT", String(port)],
    ["SURE_HOST", host],
    ["SURE_DATA_DIR", dataDir],
  ];
  for (const [name, o] of Object.entries(NODE_OPTIONS)) {
    const v = values[name];
    if (v === undefined || v === false || OWN.has(name)) continue;
    let value: string;
    if (o.fileContent) value = (await readKeyHex(values, name, noEnv, texts))!.trim();
    else if (Array.isArray(v)) value = v.map((s) => s.trim()).join(",");
    else if (v === true) value = "1";
    else if (o.arg === "FILE") value = await existingFile(name, v);
    else value = v;
    vars.push([o.env!, oneLine(name, value)]);
  }
  if (token) vars.push(["SURE_ADMIN_TOKEN", token]);
  return { exec: selfExec(), port, host, dataDir, vars, configPath: CONFIG_PATH };
}

/** A setting is one line of the settings file: a line break would start another variable. */
function oneLine(flag: string, value: string): string {
  if (/[\n\r]/.test(value)) throw new UsageError(`--${flag}: a line break cannot be a setting`);
  return value;
}

/** A file flag's absolute path, or a UsageError when it names no readable file. */
async function existingFile(flag: string, path: string): Promise<string> {
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  try {
    if ((await Deno.stat(abs)).isFile) return abs;
  } catch (e) {
    throw new UsageError(`--${flag} ${path}: ${(e as Error).message}`);
  }
  throw new UsageError(`--${flag} ${path}: not a file`);
}

/** Root on a machine that runs systemd, or a CommandError that says what to do. */
function needSystemd(what: string): void {
  if (Deno.uid() !== 0) {
    throw new CommandError(`${what} needs root (it writes /etc and manages a service): use sudo`);
  }
  try {
    Deno.statSync("/run/systemd/system");
  } catch {
    throw new CommandError(
      `this machine does not run systemd: \`sure install --print\` shows the unit and the ` +
        `settings file to install by hand`,
    );
  }
}

/** Whether sure.service runs now. */
async function isActive(): Promise<boolean> {
  const out = await new Deno.Command("systemctl", {
    args: ["is-active", "--quiet", "sure.service"],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

async function systemctl(...args: string[]): Promise<void> {
  const out = await new Deno.Command("systemctl", { args, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new CommandError(
      `systemctl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

const OPTIONS: Record<string, OptionDoc> = {
  ...NODE_OPTIONS,
  "data-dir": {
    type: "string",
    short: "d",
    arg: "DIR",
    env: "SURE_DATA_DIR",
    help: `the node's data (default ${DATA_DIR})`,
  },
  token: {
    type: "string",
    arg: "HEX",
    env: "SURE_ADMIN_TOKEN",
    help: "the admin token (64 hex digits); default: the node makes one at first start",
  },
  print: { type: "boolean", help: "print the unit and the settings file; write nothing" },
};

export const installCommand: Command = {
  name: "install",
  summary: "Install the node as a systemd service (root), or --print what it would write.",
  usage: "install [--port PORT] [--host HOST] [--data-dir DIR] [--token HEX] [--print] " +
    "[any other flag of serve]",
  details: `Writes ${UNIT_PATH} and ${CONFIG_PATH}, makes the data dir (0700) and starts\n` +
    "the node, which restarts on failure and logs JSON lines to the journal. Every flag\n" +
    "of serve is checked as serve checks it and written as the variable it names; a key\n" +
    "file's key is copied into the settings file (0600), other files are named by path.",
  options: { ...OPTIONS },
  positionals: [0, 0],
  async run(values) {
    const s = await installSettings(values);
    if (values.print === true) {
      console.log(`# ${UNIT_PATH}\n${unitFile(s)}\n# ${CONFIG_PATH}\n${configFile(s)}`);
      return 0;
    }
    needSystemd("sure install");
    await Deno.mkdir(s.dataDir, { recursive: true, mode: 0o700 });
    await Deno.chmod(s.dataDir, 0o700);
    await Deno.mkdir(CONFIG_PATH.slice(0, CONFIG_PATH.lastIndexOf("/")), { recursive: true });
    // It may hold the admin token: root's alone.
    await Deno.writeTextFile(CONFIG_PATH, configFile(s), { mode: 0o600 });
    await Deno.chmod(CONFIG_PATH, 0o600);
    await Deno.writeTextFile(UNIT_PATH, unitFile(s), { mode: 0o644 });
    await systemctl("daemon-reload");
    // Installed over a running node: it restarts (draining) with the new settings,
    // which `enable --now` would leave unread until its next start.
    const running = await isActive();
    await systemctl("enable", "sure.service");
    await systemctl(running ? "restart" : "start", "sure.service");
    console.log(
      `installed: ${UNIT_PATH}, settings in ${CONFIG_PATH}, data in ${s.dataDir}; ` +
        `the node ${running ? "restarted and " : ""}serves on ${s.host}:${s.port} ` +
        `(journalctl -u sure)`,
    );
    return 0;
  },
};

export const uninstallCommand: Command = {
  name: "uninstall",
  summary: "Stop and remove the systemd service; keeps the data unless --purge.",
  usage: "uninstall [--purge]",
  options: {
    purge: { type: "boolean", help: "also remove the data dir (deployments, images, token)" },
  },
  positionals: [0, 0],
  async run(values) {
    needSystemd("sure uninstall");
    let dataDir = DATA_DIR;
    try {
      dataDir = readConfigFile(await Deno.readTextFile(CONFIG_PATH)).SURE_DATA_DIR ?? dataDir;
    } catch {
      // no settings file: the default place
    }
    await systemctl("disable", "--now", "sure.service").catch(() => {});
    for (const f of [UNIT_PATH, CONFIG_PATH]) await Deno.remove(f).catch(() => {});
    await systemctl("daemon-reload");
    if (values.purge === true) {
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      console.log(`uninstalled; removed ${dataDir}`);
    } else {
      console.log(`uninstalled; kept the data in ${dataDir} (--purge removes it)`);
    }
    return 0;
  },
};
