/**
 * One call to the fleet's JetStream from an admin request or the event sink,
 * with the fleet's waits: a 503 at once when the fleet was never reached, a
 * client reconnecting given RECONNECT_MS, and a cluster electing leaders
 * (requests time out or find no responders for seconds while the client is
 * connected to another server) waited out for ELECTION_MS.
 */
import { FleetUnavailableError, HttpError } from "../errors.ts";
import type { FleetLink } from "./link.ts";
import type { FleetMember } from "./member.ts";

/** How long a call waits out a cluster electing leaders, and a client reconnecting. */
export const ELECTION_MS = 30_000;
export const RECONNECT_MS = 3_000;

/**
 * Runs fn against the fleet. `final` turns an error that must not be tried
 * again (a conflict, say) into what to throw; HttpErrors are thrown as they are.
 */
export async function callFleet<T>(
  member: FleetMember,
  fn: (link: FleetLink) => Promise<T>,
  final: (e: Error) => Error | undefined = () => undefined,
): Promise<T> {
  let link: FleetLink;
  try {
    link = await member.link(5_000);
  } catch (e) {
    throw new FleetUnavailableError(`the fleet is out of reach: ${(e as Error).message}`);
  }
  const t0 = Date.now();
  for (;;) {
    const waited = Date.now() - t0;
    if (!member.connected && waited >= RECONNECT_MS) {
      throw new FleetUnavailableError("the fleet is out of reach: this node is reconnecting");
    }
    try {
      if (member.connected) return await fn(link);
    } catch (e) {
      if (e instanceof HttpError) throw e;
      const stop = final(e as Error);
      if (stop) throw stop;
      if (Date.now() - t0 >= ELECTION_MS) {
        throw new FleetUnavailableError(`the fleet did not answer: ${(e as Error).message}`);
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
