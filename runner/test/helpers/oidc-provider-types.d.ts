// oidc-provider ships no types and @types/oidc-provider is not installed: only what the test helper uses.
declare module "oidc-provider" {
  export default class Provider {
    constructor(issuer: string, configuration: unknown);
    callback(): (req: unknown, res: unknown) => void;
  }
}
