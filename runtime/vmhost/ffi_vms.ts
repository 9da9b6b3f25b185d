/** The real VMs: libsure through ffi/. The only place runtime/ creates them for functions. */
import { Instance, Template } from "../../ffi/mod.ts";
import type { VmFactory } from "./vm.ts";

export const ffiVms: VmFactory = {
  boot: (image, opts) => Instance.create(image, opts),
  template: (image, opts) => Template.create(image, opts),
};
