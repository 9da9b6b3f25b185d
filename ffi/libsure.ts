/**
 * The one place that opens libsure.so: its typed symbol table and the rules
 * for finding the library. Everything else in ffi/ goes through `libsure()`.
 *
 * The calls that can block for long (creating a VM, running a request,
 * waiting for a chain's completions) are `nonblocking`, so they run on Deno's blocking thread pool and the event
 * loop keeps serving; everything else is a few nanoseconds and stays
 * synchronous.
 */
import { Errno, errorFromErrno, LibsureLoadError } from "./errors.ts";

/** Mirrors libsure/include/libsure.h one to one. */
export const SYMBOLS = {
  sure_kvm_probe: { parameters: ["buffer", "usize"], result: "i32" },
  sure_pku_probe: { parameters: [], result: "i32" },
  sure_guest_pku_probe: { parameters: [], result: "i32" },
  sure_afxdp_probe: { parameters: [], result: "i32" },
  sure_image_check: {
    parameters: ["buffer", "usize", "u32", "buffer", "usize"],
    result: "i32",
  },
  sure_instance_create: {
    // img, len, mem_mib, io_cap, init_timeout_ms, env (or null), env_len, out handle, err, errcap
    parameters: [
      "buffer",
      "usize",
      "u32",
      "u32",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "buffer",
      "usize",
    ],
    result: "i32",
    nonblocking: true,
  },
  // Joins the vCPU thread and tears the VM down: ~0.3 ms, over 1 ms with many VMs.
  sure_instance_destroy: { parameters: ["pointer"], result: "void", nonblocking: true },
  sure_instance_req_buf: { parameters: ["pointer"], result: "pointer" },
  sure_instance_resp_buf: { parameters: ["pointer"], result: "pointer" },
  sure_instance_req_head: { parameters: ["pointer"], result: "pointer" },
  sure_instance_resp_head: { parameters: ["pointer"], result: "pointer" },
  sure_instance_io_cap: { parameters: ["pointer"], result: "u32" },
  sure_instance_io_slots: { parameters: ["pointer"], result: "u32" },
  sure_io_slots: { parameters: ["u32"], result: "u32" },
  // HTTP head blocks (sure_http_abi.h)
  // blk, cap, method, mlen, path, plen, query, qlen
  sure_http_head_init: {
    parameters: ["buffer", "u32", "buffer", "usize", "buffer", "usize", "buffer", "usize"],
    result: "i32",
  },
  // blk, name, nlen, value, vlen
  sure_http_head_add: {
    parameters: ["buffer", "buffer", "usize", "buffer", "usize"],
    result: "i32",
  },
  // src (guest memory), dst, err, errcap
  sure_http_resp_head_take: {
    parameters: ["buffer", "buffer", "buffer", "usize"],
    result: "i32",
  },
  sure_instance_invoke: {
    parameters: ["pointer", "u32", "u32"],
    result: "i32",
    nonblocking: true,
  },
  sure_instance_status: { parameters: ["pointer"], result: "i32" },
  sure_instance_sleeping: { parameters: ["pointer"], result: "i32" },
  sure_instance_stop: { parameters: ["pointer"], result: "i32" },
  // inst, struct sure_fault_info *, its size
  sure_instance_fault: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  sure_instance_read_log: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  sure_instance_requests: { parameters: ["pointer"], result: "u64" },
  sure_instance_set_sidecar: {
    // inst, enabled, max_inflight, rate_per_sec, rate_burst, deadline_ms
    parameters: ["pointer", "u32", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  // inst, struct sure_sidecar_counters *, its size
  sure_instance_sidecar_stats: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  sure_instance_set_trace: { parameters: ["pointer", "buffer"], result: "i32" },
  sure_instance_sidecar_records: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  sure_instance_resp_reason: { parameters: ["pointer"], result: "i32" },
  sure_instance_resp_rc: { parameters: ["pointer"], result: "i32" },
  // struct sure_process_stats *, its size
  sure_stats: { parameters: ["buffer", "usize"], result: "i32" },
  sure_vm_shells: { parameters: ["u32"], result: "i32" },
  sure_vm_shells_ready: { parameters: [], result: "u32" },
  sure_vcpu_cpus: { parameters: ["buffer", "u32"], result: "i32" },
  sure_vcpu_nice: { parameters: ["i32"], result: "i32" },
  // templates
  sure_template_create: {
    // img, len, mem_mib, io_cap, init_timeout_ms, env (or null), env_len, out handle, err, errcap
    parameters: [
      "buffer",
      "usize",
      "u32",
      "u32",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "buffer",
      "usize",
    ],
    result: "i32",
    nonblocking: true,
  },
  sure_chain_template_create: {
    // chain, step, img, len, mem_mib, init_timeout_ms, env (or null), env_len, out handle, err,
    // errcap
    parameters: [
      "pointer",
      "u32",
      "buffer",
      "usize",
      "u32",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "buffer",
      "usize",
    ],
    result: "i32",
    nonblocking: true,
  },
  sure_template_destroy: { parameters: ["pointer"], result: "void" },
  sure_template_read_log: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  sure_template_resident: { parameters: ["pointer"], result: "u64" },
  sure_template_clones: { parameters: ["pointer"], result: "u32" },
  sure_instance_clone: {
    // template, start_timeout_ms, out handle, err, errcap
    parameters: ["pointer", "u32", "buffer", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
  // chains
  sure_chain_create: {
    // nsteps, names, routes, default_next, nbuf, buf_size, nslots, out handle, err, errcap
    parameters: [
      "u32",
      "buffer",
      "buffer",
      "buffer",
      "u32",
      "u32",
      "u32",
      "buffer",
      "buffer",
      "usize",
    ],
    result: "i32",
  },
  sure_chain_destroy: { parameters: ["pointer"], result: "i32" },
  sure_chain_isolate: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  sure_chain_colours: { parameters: ["pointer"], result: "u32" },
  sure_chain_alloc: { parameters: ["pointer", "u32", "buffer", "buffer"], result: "i32" },
  sure_chain_heads: { parameters: ["pointer"], result: "pointer" },
  sure_chain_heads_size: { parameters: ["pointer"], result: "u64" },
  // chain, step out (u32): 0, or -EDQUOT / -EBUSY naming the step over its limit
  sure_chain_admit: { parameters: ["pointer", "buffer"], result: "i32" },
  // chain: the steps stopped now as runaways (bit i: step i)
  sure_chain_runaways: { parameters: ["pointer"], result: "u32" },
  // chain, slot, body, len, trace (25 bytes or NULL): the body is copied in here
  sure_chain_submit: {
    parameters: ["pointer", "u32", "buffer", "u32", "buffer"],
    result: "i32",
  },
  sure_chain_wait: {
    parameters: ["pointer", "buffer", "u32", "u32"],
    result: "i32",
    nonblocking: true,
  },
  sure_chain_wake: { parameters: ["pointer"], result: "void" },
  // chain, slot, dst, cap: the answer is copied out here and the slot freed
  sure_chain_take: { parameters: ["pointer", "u32", "buffer", "u32"], result: "i32" },
  sure_chain_free: { parameters: ["pointer", "u32"], result: "i32" },
  sure_chain_locate: { parameters: ["pointer", "u32"], result: "i32" },
  // chain, slot, uint32_t *where
  sure_chain_take_back: { parameters: ["pointer", "u32", "buffer"], result: "i32" },
  // chain, struct sure_chain_counters *, its size
  sure_chain_stats: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  // chain, step, struct sure_step_counters *, its size
  sure_chain_step_stats: { parameters: ["pointer", "u32", "buffer", "usize"], result: "i32" },
  // the data plane (libsure.h): config, its size, out handle
  sure_dataplane_start: { parameters: ["buffer", "usize", "buffer"], result: "i32" },
  sure_dataplane_open: { parameters: ["pointer"], result: "i32" },
  sure_dataplane_port: { parameters: ["pointer"], result: "i32" },
  // Waits for requests in progress (up to grace_ms) and joins the server's thread.
  sure_dataplane_stop: { parameters: ["pointer", "u32"], result: "void", nonblocking: true },
  sure_dataplane_route: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  // dp, token (hex), its length
  sure_dataplane_set_token: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  sure_dataplane_set_hop_key: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  // dp, self, name, timeout_ms, flags (DP_FORWARD), targets
  sure_dataplane_forward: {
    parameters: ["pointer", "buffer", "buffer", "u32", "u32", "buffer"],
    result: "i32",
  },
  // key, its length, from, name, method, path, query, body length, out (65 bytes)
  sure_forward_mac: {
    parameters: [
      "buffer",
      "u32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "u64",
      "buffer",
    ],
    result: "i32",
  },
  sure_dataplane_forward_dead: { parameters: ["pointer", "buffer"], result: "i32" },
  sure_dataplane_unroute: { parameters: ["pointer", "u32"], result: "i32" },
  // dp, route, instance, tag, need
  sure_dataplane_lend: { parameters: ["pointer", "u32", "pointer", "u32", "u32"], result: "i32" },
  sure_dataplane_expect: { parameters: ["pointer", "u32"], result: "i32" },
  sure_dataplane_reclaim: { parameters: ["pointer", "u32", "u32"], result: "i32" },
  // dp, route, status, json, len, header lines (NUL-terminated)
  sure_dataplane_start_failed: {
    parameters: ["pointer", "u32", "u32", "buffer", "u32", "buffer"],
    result: "i32",
  },
  sure_dataplane_route_stats: {
    parameters: ["pointer", "u32", "buffer", "usize"],
    result: "i32",
  },
  // dp, events out, max, timeout_ms, linger_ms: waits for the first event,
  // then up to linger_ms for a batch of DONE events
  sure_dataplane_events: {
    parameters: ["pointer", "buffer", "u32", "u32", "u32"],
    result: "i32",
    nonblocking: true,
  },
  sure_dataplane_events_kick: { parameters: ["pointer"], result: "i32" },
  // dp, bucket bounds (u64 ns), their count (-1: off): DONE events come folded
  sure_dataplane_fold_done: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  // dp, out_fd, err_fd (-1, -1: off): the request log written in C
  sure_dataplane_request_log: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  sure_dataplane_request_log_flush: { parameters: ["pointer"], result: "i32" },
  // dp, token, status, json, len, header lines
  sure_dataplane_answer: {
    parameters: ["pointer", "u64", "u32", "buffer", "u32", "buffer"],
    result: "i32",
  },
  sure_dataplane_stats: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  // dp, chain, struct sure_chain_route_config *, its size: the attachment id
  sure_dataplane_attach_chain: {
    parameters: ["pointer", "pointer", "buffer", "usize"],
    result: "i32",
  },
  sure_dataplane_close_chain: { parameters: ["pointer", "u32"], result: "i32" },
  sure_dataplane_release_chain: { parameters: ["pointer", "u32"], result: "i32" },
  sure_dataplane_chain_refuse: {
    parameters: ["pointer", "u32", "u32", "buffer", "u32", "buffer"],
    result: "i32",
  },
  sure_dataplane_chain_stats: { parameters: ["pointer", "u32", "buffer", "usize"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

export type Libsure = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * Where libsure.so is: $SURE_LIBSURE, else libsure/build/libsure.so in this
 * repository (resolved from this file, so the working directory does not
 * matter).
 */
export function libsurePath(): string {
  const fromEnv = Deno.env.get("SURE_LIBSURE");
  if (fromEnv) return fromEnv;
  return new URL("../libsure/build/libsure.so", import.meta.url).pathname;
}

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** Opens libsure once per process and returns its symbols. */
export function libsure(): Libsure {
  if (lib) return lib.symbols;
  const path = libsurePath();
  try {
    Deno.statSync(path);
  } catch {
    throw new LibsureLoadError(
      `libsure not found at ${path}: run \`npm run setup\` to build it ` +
        `(or set SURE_LIBSURE to its path)`,
    );
  }
  try {
    lib = Deno.dlopen(path, SYMBOLS);
  } catch (e) {
    throw new LibsureLoadError(
      `cannot open ${path}: ${(e as Error).message}; ` +
        "rebuild it with `npm run setup`",
    );
  }
  return lib.symbols;
}

/** Reads a NUL-terminated C string out of an err buffer. */
export function cString(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(end < 0 ? buf : buf.subarray(0, end)).trim();
}

/** Size of the err buffers passed to libsure (one line of explanation). */
export const ERR_CAP = 512;

/**
 * The handle a create-style call stored in `out`, or its error: the errno it
 * returned with the line it wrote into `err`.
 */
export function takeHandle(
  op: string,
  rc: number,
  out: BigUint64Array,
  err: Uint8Array,
): Deno.PointerObject {
  if (rc < 0) throw errorFromErrno(op, rc, cString(err) || undefined);
  const handle = Deno.UnsafePointer.create(out[0]);
  if (!handle) throw errorFromErrno(op, -Errno.EFAULT, "returned a NULL handle");
  return handle;
}
