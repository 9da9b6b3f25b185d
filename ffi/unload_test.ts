/**
 * libsure starts threads of its own (vCPUs, the empty-VM refill), so a
 * dlclose must not unmap it under them: Deno closes FFI libraries when an
 * isolate goes away. Run in a child process, since a failure is a crash.
 */
import assert from "node:assert/strict";
import { hasKvm } from "../tests/helpers.ts";
import { libsurePath } from "./libsure.ts";

Deno.test({
  name: "libsure survives being closed while its threads run",
  ignore: !hasKvm,
  async fn() {
    const script = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(
        script,
        `const lib = Deno.dlopen(${JSON.stringify(libsurePath())}, {
  sure_vm_shells: { parameters: ["u32"], result: "i32" },
});
if (lib.symbols.sure_vm_shells(2) !== 0) Deno.exit(3);
lib.close(); // the refill thread is asleep in libsure's code right now
await new Promise((r) => setTimeout(r, 200));
console.log("alive");
`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.equal(new TextDecoder().decode(out.stdout).trim(), "alive");
    } finally {
      await Deno.remove(script);
    }
  },
});
