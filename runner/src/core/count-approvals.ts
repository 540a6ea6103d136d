/**
 * Which approvals of a plan count: each signature must verify over the plan
 * hash in the approval namespace, with a key the signers file (as of the run's
 * commit) allows at this moment; signers count once each, by principal, however
 * many of their keys signed.
 */
import { signerFor, type AllowedSigner } from "./allowed-signers.js";
import { fingerprint, SshSigError, verifySignature } from "./sshsig.js";

export const APPROVAL_NAMESPACE = "opsconductor-approval";

/** A signature that counted, as the run record keeps it. */
export interface ApprovalSignature {
  /** The principals field of the signers file's line (`alice@example.com`). */
  principal: string;
  /** `SHA256:...` of the signing key. */
  fingerprint: string;
  /** The armored SSH signature, verifiable with `ssh-keygen -Y verify`. */
  signature: string;
}

export interface FoundSignature {
  /** Where it was found (a ref name), for messages. */
  from: string;
  text: string;
}

export interface ApprovalCount {
  planHash: string;
  required: number;
  /** One per distinct signer that counted. */
  accepted: ApprovalSignature[];
  /** Signatures that did not count, and why. */
  refused: Array<{ from: string; fingerprint?: string; reason: string }>;
}

export function countApprovals(options: {
  planHash: string;
  required: number;
  signers: AllowedSigner[];
  found: FoundSignature[];
  now: Date;
}): ApprovalCount {
  const accepted: ApprovalSignature[] = [];
  const refused: ApprovalCount["refused"] = [];
  for (const sig of options.found) {
    let key: Buffer;
    try {
      key = verifySignature(sig.text, options.planHash, APPROVAL_NAMESPACE).publicKey;
    } catch (e) {
      const reason = e instanceof SshSigError ? e.message : "the signature does not parse";
      refused.push({ from: sig.from, reason });
      continue;
    }
    const fp = fingerprint(key);
    const match = signerFor(options.signers, key, APPROVAL_NAMESPACE, options.now);
    if ("refused" in match) {
      refused.push({ from: sig.from, fingerprint: fp, reason: match.refused });
      continue;
    }
    const principal = match.signer.principals;
    if (accepted.some((a) => a.principal === principal || a.fingerprint === fp)) {
      refused.push({ from: sig.from, fingerprint: fp, reason: `${principal} already counted` });
      continue;
    }
    accepted.push({ principal, fingerprint: fp, signature: sig.text.trim() + "\n" });
  }
  accepted.sort((a, b) => (a.principal < b.principal ? -1 : a.principal > b.principal ? 1 : 0));
  return { planHash: options.planHash, required: options.required, accepted, refused };
}
