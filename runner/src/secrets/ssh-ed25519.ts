/**
 * age's `ssh-ed25519` recipient type (FiloSottile/age `agessh`), which sops
 * >= 3.10 accepts and age-encryption lacks (typage issue #26). Built on its
 * Identity/Recipient interfaces with node:crypto only.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  randomBytes,
} from "node:crypto";
import { Stanza, type Identity, type Recipient } from "age-encryption";
import { userError } from "../core/errors.js";

const LABEL = "age-encryption.org/v1/ssh-ed25519";
const P = 2n ** 255n - 19n;
const X25519_PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");
const X25519_SPKI = Buffer.from("302a300506032b656e032100", "hex");

function b64(b: Uint8Array): string {
  return Buffer.from(b).toString("base64").replace(/=+$/, "");
}

function x25519(scalar: Uint8Array, point: Uint8Array): Buffer {
  const privateKey = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8, scalar]),
    format: "der",
    type: "pkcs8",
  });
  const publicKey = createPublicKey({
    key: Buffer.concat([X25519_SPKI, point]),
    format: "der",
    type: "spki",
  });
  return diffieHellman({ privateKey, publicKey });
}

function x25519Base(scalar: Uint8Array): Buffer {
  const base = Buffer.alloc(32);
  base[0] = 9;
  return x25519(scalar, base);
}

function modPow(b: bigint, e: bigint): bigint {
  let r = 1n;
  b %= P;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}

/** Edwards y -> Montgomery u = (1 + y) / (1 - y). */
function ed25519ToMontgomery(pub: Uint8Array): Buffer {
  const le = Buffer.from(pub);
  le[31] = (le[31] ?? 0) & 0x7f;
  const y = BigInt("0x" + Buffer.from(le).reverse().toString("hex"));
  const u = ((1n + y) * modPow((1n - y + P) % P, P - 2n)) % P;
  return Buffer.from(u.toString(16).padStart(64, "0"), "hex").reverse();
}

function sshString(b: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function wirePublicKey(pub: Uint8Array): Buffer {
  return Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(pub)]);
}

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", ikm, salt, info, 32));
}

function chacha(key: Uint8Array, data: Uint8Array, open: boolean): Buffer | null {
  const nonce = Buffer.alloc(12);
  if (!open) {
    const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
    return Buffer.concat([c.update(data), c.final(), c.getAuthTag()]);
  }
  if (data.length < 16) return null;
  try {
    const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
    d.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]);
  } catch {
    return null;
  }
}

class SshEd25519Recipient implements Recipient {
  private readonly wire: Buffer;
  private readonly mont: Buffer;
  constructor(pub: Uint8Array) {
    this.wire = wirePublicKey(pub);
    this.mont = ed25519ToMontgomery(pub);
  }
  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const eph = randomBytes(32);
    const ephShare = x25519Base(eph);
    const tweak = hkdf(new Uint8Array(0), this.wire, LABEL);
    const shared = x25519(tweak, x25519(eph, this.mont));
    const key = hkdf(shared, Buffer.concat([ephShare, this.mont]), LABEL);
    const tag = createHash("sha256").update(this.wire).digest().subarray(0, 4);
    return [
      new Stanza(["ssh-ed25519", b64(tag), b64(ephShare)], chacha(key, fileKey, false) ?? new Uint8Array(0)),
    ];
  }
}

class SshEd25519Identity implements Identity {
  private readonly wire: Buffer;
  private readonly mont: Buffer;
  private readonly scalar: Buffer;
  constructor(seed: Uint8Array, pub: Uint8Array) {
    this.wire = wirePublicKey(pub);
    this.mont = ed25519ToMontgomery(pub);
    this.scalar = createHash("sha512").update(seed).digest().subarray(0, 32);
  }
  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    const tag = b64(createHash("sha256").update(this.wire).digest().subarray(0, 4));
    for (const s of stanzas) {
      if (s.args[0] !== "ssh-ed25519" || s.args[1] !== tag || s.args.length !== 3) continue;
      const ephShare = Buffer.from(s.args[2] ?? "", "base64");
      if (ephShare.length !== 32) throw new Error("invalid ssh-ed25519 stanza");
      const tweak = hkdf(new Uint8Array(0), this.wire, LABEL);
      const shared = x25519(tweak, x25519(this.scalar, ephShare));
      const key = hkdf(shared, Buffer.concat([ephShare, this.mont]), LABEL);
      const fileKey = chacha(key, s.body, true);
      if (fileKey) return fileKey;
    }
    return null;
  }
}

export function isOpenSshPrivateKey(text: string): boolean {
  return text.includes("-----BEGIN OPENSSH PRIVATE KEY-----");
}

/** `ssh-ed25519 AAAA... comment` as an age recipient. */
export function parseSshEd25519Recipient(line: string): Recipient {
  const blob = Buffer.from(line.trim().split(/\s+/)[1] ?? "", "base64");
  const pub = readSshStrings(blob, 2)[1];
  if (!pub || pub.length !== 32 || readSshStrings(blob, 1)[0]?.toString() !== "ssh-ed25519") {
    throw userError("secrets.bad-recipient", "not an ssh-ed25519 public key", {
      hint: "use the line from id_ed25519.pub",
    });
  }
  return new SshEd25519Recipient(pub);
}

function readSshStrings(buf: Buffer, count: number, start = 0): Buffer[] {
  const out: Buffer[] = [];
  let at = start;
  for (let i = 0; i < count; i++) {
    if (at + 4 > buf.length) break;
    const len = buf.readUInt32BE(at);
    if (at + 4 + len > buf.length) break;
    out.push(buf.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return out;
}

/** An unencrypted OpenSSH ed25519 private key as an age identity. Never echoes key material. */
export function parseSshEd25519Identity(text: string, source: string): Identity {
  const bad = (why: string) =>
    userError("secrets.bad-identity", `${source} cannot be used as an age identity: ${why}`, {
      hint: "use an unencrypted OpenSSH ed25519 key, or an age identity from `opsc secrets keygen`",
    });
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!m) throw bad("it is not an OpenSSH private key");
  const raw = Buffer.from((m[1] ?? "").replace(/\s+/g, ""), "base64");
  const magic = "openssh-key-v1\0";
  if (raw.subarray(0, magic.length).toString("latin1") !== magic)
    throw bad("it is not an OpenSSH private key");
  const head = readSshStrings(raw, 3, magic.length);
  if (head.length !== 3) throw bad("the key is truncated");
  if (head[0]?.toString() !== "none") throw bad("it is passphrase-protected");
  let at = magic.length + head.reduce((n, b) => n + 4 + b.length, 0);
  const nkeys = raw.readUInt32BE(at);
  at += 4;
  if (nkeys !== 1) throw bad("it holds more than one key");
  const [, priv] = readSshStrings(raw, 2, at);
  if (!priv) throw bad("the key is truncated");
  // check1, check2, then keytype, public key, private key (seed || public), comment.
  const fields = readSshStrings(priv, 3, 8);
  if (fields[0]?.toString() !== "ssh-ed25519") throw bad("it is not an ed25519 key");
  const pub = fields[1];
  const secret = fields[2];
  if (!pub || pub.length !== 32 || !secret || secret.length !== 64) throw bad("the key is malformed");
  return new SshEd25519Identity(secret.subarray(0, 32), pub);
}
