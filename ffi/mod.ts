/** The public surface of ffi/: everything runtime/ needs from libsure. */
export { Instance, type InstanceOptions, type InvokeResult, PLAIN_HEAD } from "./instance.ts";
export {
  type HeaderList,
  HeadTooLargeError,
  type RequestHead,
  requestHeadSize,
  takeResponseHead,
  writeRequestHead,
} from "./http_head.ts";
export { Template } from "./template.ts";
export {
  type Capabilities,
  checkImage,
  emptyVmsReady,
  keepEmptyVms,
  placeVcpus,
  probe,
  type Stats,
  stats,
  weighVcpus,
} from "./probe.ts";
export { decodeFault, type Fault, type FaultKind, hex } from "./fault.ts";
export { libsurePath } from "./libsure.ts";
export { forwardMac, type SignedInvoke } from "./forward_mac.ts";
export * from "./errors.ts";
export {
  Chain,
  type ChainLayout,
  type ChainStats,
  type Completion,
  type CompletionError,
  NODE_GW,
  type StepStats,
} from "./chain.ts";
export {
  addSidecarStats,
  type AnswerReason,
  emptySidecarStats,
  LATENCY_BOUNDS_SECONDS,
  type RequestRecord,
  type SidecarLimits,
  type SidecarStats,
} from "./sidecar.ts";
