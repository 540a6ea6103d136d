/**
 * SSH signatures (OpenSSH PROTOCOL.sshsig), the format of `ssh-keygen -Y sign`
 * and `-Y verify`, on node:crypto. No npm package implements the format and is
 * kept up (sshpk reads keys but not SSHSIG); key *files* are parsed by ssh2,
 * in the approvals adapter, not here. Verifies ssh-ed25519, ssh-rsa
 * (rsa-sha2-256/512) and ecdsa-sha2-nistp256/384/521 keys; signs with a
 * node:crypto private key of those kinds.
 */
import {
  createHash,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from "node:crypto";

const MAGIC = Buffer.from("SSHSIG");
const VERSION = 1;
const BEGIN = "-----BEGIN SSH SIGNATURE-----";
const END = "-----END SSH SIGNATURE-----";
/** ssh-keygen wraps the armored base64 at 70 columns. */
const LINE = 70;

const ECDSA_CURVES: Record<string, { jwk: string; hash: string; bytes: number }> = {
  nistp256: { jwk: "P-256", hash: "sha256", bytes: 32 },
  nistp384: { jwk: "P-384", hash: "sha384", bytes: 48 },
  nistp521: { jwk: "P-521", hash: "sha512", bytes: 66 },
};

/** A signature that is not in the format, or does not verify. The message says which. */
export class SshSigError extends Error {}

/** A parsed `-----BEGIN SSH SIGNATURE-----` block. */
export interface SshSignature {
  /** The signer's public key, SSH wire format. */
  publicKey: Buffer;
  namespace: string;
  hashAlgorithm: string;
  /** `ssh-ed25519`, `rsa-sha2-512`, `ecdsa-sha2-nistp256` ... */
  signatureAlgorithm: string;
  signature: Buffer;
}

// SSH wire encoding (RFC 4251): uint32 lengths before strings and mpints.

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  bytes(n: number): Buffer {
    if (this.at + n > this.buf.length) throw new SshSigError("truncated data");
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  uint32(): number {
    return this.bytes(4).readUInt32BE(0);
  }
  string(): Buffer {
    return this.bytes(this.uint32());
  }
  text(): string {
    return this.string().toString("utf8");
  }
  done(): boolean {
    return this.at === this.buf.length;
  }
}

function sshString(value: Buffer | string): Buffer {
  const body = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length, 0);
  return Buffer.concat([len, body]);
}

function mpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  let body = unsigned.subarray(i);
  if (body.length === 1 && body[0] === 0) body = Buffer.alloc(0);
  else if (body.length > 0 && (body[0]! & 0x80) !== 0) body = Buffer.concat([Buffer.from([0]), body]);
  return sshString(body);
}

function unsigned(m: Buffer): Buffer {
  let i = 0;
  while (i < m.length - 1 && m[i] === 0) i++;
  return m.subarray(i);
}

/** The type name a public key blob starts with (`ssh-ed25519`). */
export function keyType(publicKey: Buffer): string {
  return new Reader(publicKey).text();
}

/** `SHA256:...`, as `ssh-keygen -l` prints it. */
export function fingerprint(publicKey: Buffer): string {
  return `SHA256:${createHash("sha256").update(publicKey).digest("base64").replace(/=+$/, "")}`;
}

/** node:crypto's public key for an SSH public key blob. Throws SshSigError for unknown or broken keys. */
export function publicKeyObject(publicKey: Buffer): KeyObject {
  const r = new Reader(publicKey);
  const type = r.text();
  const b64url = (b: Buffer) => b.toString("base64url");
  try {
    if (type === "ssh-ed25519") {
      const pk = r.string();
      if (pk.length !== 32) throw new SshSigError("an ed25519 key is 32 bytes");
      return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: b64url(pk) }, format: "jwk" });
    }
    if (type === "ssh-rsa") {
      const e = unsigned(r.string());
      const n = unsigned(r.string());
      return createPublicKey({ key: { kty: "RSA", n: b64url(n), e: b64url(e) }, format: "jwk" });
    }
    const curve = /^ecdsa-sha2-(nistp\d+)$/.exec(type)?.[1];
    const spec = curve ? ECDSA_CURVES[curve] : undefined;
    if (curve && spec) {
      if (r.text() !== curve) throw new SshSigError(`the key's curve does not match ${type}`);
      const q = r.string();
      if (q.length !== 1 + 2 * spec.bytes || q[0] !== 4) {
        throw new SshSigError("only uncompressed ECDSA points are supported");
      }
      const x = q.subarray(1, 1 + spec.bytes);
      const y = q.subarray(1 + spec.bytes);
      return createPublicKey({
        key: { kty: "EC", crv: spec.jwk, x: b64url(x), y: b64url(y) },
        format: "jwk",
      });
    }
  } catch (e) {
    if (e instanceof SshSigError) throw e;
    throw new SshSigError(`the ${type} key does not parse: ${(e as Error).message}`);
  }
  throw new SshSigError(`key type ${type} is not supported (use ed25519, rsa or ecdsa keys)`);
}

/** What the signature actually covers (PROTOCOL.sshsig "signed data"). */
function signedData(namespace: string, hashAlgorithm: string, message: Buffer): Buffer {
  const digest = createHash(hashAlgorithm).update(message).digest();
  return Buffer.concat([
    MAGIC,
    sshString(namespace),
    sshString(""),
    sshString(hashAlgorithm),
    sshString(digest),
  ]);
}

function parseSignature(armored: string): SshSignature {
  const text = armored.trim();
  if (!text.startsWith(BEGIN) || !text.endsWith(END)) {
    throw new SshSigError(`not an SSH signature (it must start with ${BEGIN})`);
  }
  const body = text.slice(BEGIN.length, text.length - END.length).replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new SshSigError("the signature's base64 is broken");
  const r = new Reader(Buffer.from(body, "base64"));
  if (!r.bytes(MAGIC.length).equals(MAGIC)) throw new SshSigError("the signature lacks the SSHSIG preamble");
  const version = r.uint32();
  if (version !== VERSION) throw new SshSigError(`signature version ${version} is not supported`);
  const publicKey = Buffer.from(r.string());
  const namespace = r.text();
  r.string(); // reserved
  const hashAlgorithm = r.text();
  const sig = new Reader(r.string());
  if (!r.done()) throw new SshSigError("trailing data after the signature");
  const signatureAlgorithm = sig.text();
  const signature = Buffer.from(sig.string());
  return { publicKey, namespace, hashAlgorithm, signatureAlgorithm, signature };
}

/**
 * Checks that `armored` is a valid signature of `message` in `namespace`;
 * returns the signer's public key blob. Who that key belongs to is the
 * allowed_signers file's business (allowed-signers.ts).
 */
export function verifySignature(armored: string, message: Buffer | string, namespace: string): SshSignature {
  const sig = parseSignature(armored);
  if (sig.namespace !== namespace) {
    throw new SshSigError(`signed for namespace "${sig.namespace}", not "${namespace}"`);
  }
  if (sig.hashAlgorithm !== "sha512" && sig.hashAlgorithm !== "sha256") {
    throw new SshSigError(`hash algorithm ${sig.hashAlgorithm} is not allowed (sha256 or sha512)`);
  }
  const data = signedData(sig.namespace, sig.hashAlgorithm, toBuffer(message));
  const type = keyType(sig.publicKey);
  const key = publicKeyObject(sig.publicKey);
  let ok: boolean;
  if (type === "ssh-ed25519") {
    if (sig.signatureAlgorithm !== type)
      throw new SshSigError(`${sig.signatureAlgorithm} signature from an ${type} key`);
    ok = cryptoVerify(null, data, key, sig.signature);
  } else if (type === "ssh-rsa") {
    // ssh-keygen refuses SHA-1 (`ssh-rsa`) signatures here too.
    const hash = { "rsa-sha2-512": "sha512", "rsa-sha2-256": "sha256" }[sig.signatureAlgorithm];
    if (!hash) throw new SshSigError(`RSA signature algorithm ${sig.signatureAlgorithm} is not allowed`);
    ok = cryptoVerify(hash, data, key, sig.signature);
  } else {
    if (sig.signatureAlgorithm !== type)
      throw new SshSigError(`${sig.signatureAlgorithm} signature from an ${type} key`);
    const spec = ECDSA_CURVES[type.replace("ecdsa-sha2-", "")]!;
    const rs = new Reader(sig.signature);
    const pad = (b: Buffer) => {
      const u = unsigned(b);
      if (u.length > spec.bytes) throw new SshSigError("ECDSA signature value out of range");
      return Buffer.concat([Buffer.alloc(spec.bytes - u.length), u]);
    };
    const raw = Buffer.concat([pad(rs.string()), pad(rs.string())]);
    ok = cryptoVerify(spec.hash, data, { key, dsaEncoding: "ieee-p1363" }, raw);
  }
  if (!ok) throw new SshSigError("the signature does not match the message and key");
  return sig;
}

/**
 * Signs `message` in `namespace` the way `ssh-keygen -Y sign` does (sha512,
 * rsa-sha2-512 for RSA keys); `publicKey` is the key's SSH wire blob.
 */
export function signMessage(
  privateKey: KeyObject,
  publicKey: Buffer,
  message: Buffer | string,
  namespace: string,
): string {
  const hashAlgorithm = "sha512";
  const data = signedData(namespace, hashAlgorithm, toBuffer(message));
  const type = keyType(publicKey);
  let algorithm: string;
  let blob: Buffer;
  if (type === "ssh-ed25519") {
    algorithm = type;
    blob = cryptoSign(null, data, privateKey);
  } else if (type === "ssh-rsa") {
    algorithm = "rsa-sha2-512";
    blob = cryptoSign("sha512", data, privateKey);
  } else if (type.startsWith("ecdsa-sha2-") && ECDSA_CURVES[type.slice("ecdsa-sha2-".length)]) {
    const spec = ECDSA_CURVES[type.slice("ecdsa-sha2-".length)]!;
    algorithm = type;
    const raw = cryptoSign(spec.hash, data, { key: privateKey, dsaEncoding: "ieee-p1363" });
    blob = Buffer.concat([mpint(raw.subarray(0, spec.bytes)), mpint(raw.subarray(spec.bytes))]);
  } else {
    throw new SshSigError(`key type ${type} cannot sign here (use an ed25519, rsa or ecdsa key)`);
  }
  const body = Buffer.concat([
    MAGIC,
    (() => {
      const v = Buffer.alloc(4);
      v.writeUInt32BE(VERSION, 0);
      return v;
    })(),
    sshString(publicKey),
    sshString(namespace),
    sshString(""),
    sshString(hashAlgorithm),
    sshString(Buffer.concat([sshString(algorithm), sshString(blob)])),
  ]).toString("base64");
  const lines = body.match(new RegExp(`.{1,${LINE}}`, "g")) ?? [];
  return `${BEGIN}\n${lines.join("\n")}\n${END}\n`;
}

function toBuffer(message: Buffer | string): Buffer {
  return typeof message === "string" ? Buffer.from(message, "utf8") : message;
}
