/** Who OpsConductor's own commits (records, claims, discovery proposals) are by, unless told otherwise. */
export interface Signature {
  name: string;
  email: string;
}

export const DEFAULT_AUTHOR: Signature = { name: "OpsConductor", email: "opsconductor@localhost" };
