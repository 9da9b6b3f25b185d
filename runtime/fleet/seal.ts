/**
 * Secrets on the fleet's wire and at rest in JetStream: sealed with the fleet
 * key (AES-256-GCM, a fresh 96-bit nonce per seal, the function's name as
 * associated data so a sealed blob cannot be moved to another function).
 * Nodes without the key cannot deploy or serve functions that have secrets.
 */
import { keyFromHex } from "../dataplane/hop_key.ts";
import { ValidationError } from "../errors.ts";
import type { EnvVars } from "../settings/env.ts";

/** The fleet key from 64 hex digits (SURE_FLEET_KEY / --fleet-key-file). */
export async function importFleetKey(hex: string): Promise<CryptoKey> {
  const raw = keyFromHex(hex, "fleet key");
  return await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** "v1.<nonce>.<ciphertext>" in base64; {} seals to "" (nothing to hide, no key needed). */
export async function sealSecrets(
  key: CryptoKey | undefined,
  name: string,
  secrets: EnvVars,
): Promise<string> {
  if (Object.keys(secrets).length === 0) return "";
  if (!key) {
    throw new ValidationError(
      "secrets",
      "this node has no fleet key (SURE_FLEET_KEY): it cannot store secrets in the fleet",
    );
  }
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const plain = new TextEncoder().encode(JSON.stringify(secrets));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce, additionalData: new TextEncoder().encode(name) },
      key,
      plain,
    ),
  );
  return `v1.${b64(nonce)}.${b64(sealed)}`;
}

/** The secrets back; throws when there is no key, the blob is not one, or it does not open. */
export async function openSecrets(
  key: CryptoKey | undefined,
  name: string,
  sealed: string,
): Promise<EnvVars> {
  if (sealed === "") return {};
  if (!key) throw new Error("its secrets are sealed with the fleet key, which this node lacks");
  const m = /^v1\.([A-Za-z0-9+/=]+)\.([A-Za-z0-9+/=]+)$/.exec(sealed);
  if (!m) throw new Error("its sealed secrets are not in a form this node reads");
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: unb64(m[1]), additionalData: new TextEncoder().encode(name) },
      key,
      unb64(m[2]),
    );
  } catch {
    throw new Error("its secrets do not open with this node's fleet key");
  }
  const out = JSON.parse(new TextDecoder().decode(plain));
  if (typeof out !== "object" || out === null || Array.isArray(out)) {
    throw new Error("its sealed secrets are not a set of variables");
  }
  for (const v of Object.values(out)) {
    if (typeof v !== "string") throw new Error("its sealed secrets are not a set of variables");
  }
  return out as EnvVars;
}
