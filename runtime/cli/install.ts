/**
 * `sure install` and `sure uninstall`: the node as a systemd service on an
 * edge machine (root). install writes the unit and the settings file, makes
 * the data dir (0700) and starts the node; uninstall stops it and removes
 * both, keeping the data unless --purge. --print shows what install would
 * write, for machines without systemd.
 */
import { type Command, type FlagValue, intFlag, UsageError } from "./command.ts";
import { CommandError } from "./command.ts";
import { parseTls } from "./serve.ts";
import {
  CONFIG_PATH,
  configFile,
  DATA_DIR,
  type InstallSettings,
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

export function installSettings(values: Record<string, FlagValue>): InstallSettings {
  const port = intFlag("port", values.port) ?? 8080;
  if (port < 1 || port > 65535) throw new UsageError("--port must be 1..65535");
  const budget = intFlag("memory-budget", values["memory-budget"]);
  if (budget === 0) throw new UsageError("--memory-budget must be at least 1 MiB");
  const dataplane = values.dataplane as string | undefined;
  if (dataplane !== undefined && !["sockets", "hono"].includes(dataplane)) {
    throw new UsageError("--dataplane: sockets or hono (af_xdp needs its flags: edit the unit)");
  }
  const dataDir = (values["data-dir"] as string | undefined) ?? DATA_DIR;
  if (!dataDir.startsWith("/")) throw new UsageError("--data-dir must be an absolute path");
  const tls = parseTls(values);
  const token = values.token as string | undefined;
  if (token !== undefined && !/^[0-9a-f]{64}$/.test(token)) {
    throw new UsageError("--token must be 64 hex digits (e.g. `openssl rand -hex 32`)");
  }
  return {
    exec: selfExec(),
    port,
    host: (values.host as string | undefined) ?? "127.0.0.1",
    dataDir,
    ...(budget === undefined ? {} : { memoryBudgetMib: budget }),
    ...(dataplane ? { dataplane } : {}),
    ...(tls ? { tlsCert: tls.cert, tlsKey: tls.key, adminPort: tls.port } : {}),
    insecure: values.insecure === true,
    ...(token ? { token } : {}),
    configPath: CONFIG_PATH,
  };
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

async function systemctl(...args: string[]): Promise<void> {
  const out = await new Deno.Command("systemctl", { args, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new CommandError(
      `systemctl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

const OPTIONS = {
  port: { type: "string", short: "p", arg: "PORT", help: "port to serve on (default 8080)" },
  host: { type: "string", arg: "HOST", help: "address to serve on (default 127.0.0.1)" },
  "data-dir": { type: "string", arg: "DIR", help: `the node's data (default ${DATA_DIR})` },
  "memory-budget": { type: "string", arg: "MIB", help: "memory all VMs together may use" },
  dataplane: { type: "string", arg: "KIND", help: "sockets (default) or hono" },
  "tls-cert": { type: "string", arg: "FILE", help: "PEM certificate for the TLS admin listener" },
  "tls-key": { type: "string", arg: "FILE", help: "its PEM key" },
  "admin-port": { type: "string", arg: "PORT", help: "port of the TLS admin listener" },
  insecure: { type: "boolean", help: "admin API over plain HTTP beyond loopback" },
  token: {
    type: "string",
    arg: "HEX",
    help: "the admin token (64 hex digits); default: the node makes one at first start",
  },
  print: { type: "boolean", help: "print the unit and the settings file; write nothing" },
} as const;

export const installCommand: Command = {
  name: "install",
  summary: "Install the node as a systemd service (root), or --print what it would write.",
  usage: "install [--port PORT] [--host HOST] [--data-dir DIR] [--memory-budget MIB] " +
    "[--dataplane sockets|hono] [--tls-cert FILE --tls-key FILE [--admin-port PORT]] " +
    "[--insecure] [--token HEX] [--print]",
  details: `Writes ${UNIT_PATH} and ${CONFIG_PATH}, makes the data dir (0700) and starts\n` +
    "the node, which restarts on failure and logs JSON lines to the journal.",
  options: { ...OPTIONS },
  positionals: [0, 0],
  async run(values) {
    const s = installSettings(values);
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
    await systemctl("enable", "--now", "sure.service");
    console.log(
      `installed: ${UNIT_PATH}, settings in ${CONFIG_PATH}, data in ${s.dataDir}; ` +
        `the node serves on ${s.host}:${s.port} (journalctl -u sure)`,
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
      const m = /^SURE_DATA_DIR=(.*)$/m.exec(await Deno.readTextFile(CONFIG_PATH));
      if (m) dataDir = m[1];
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
