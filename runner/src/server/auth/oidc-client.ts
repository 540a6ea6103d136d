/**
 * The OpenID Connect relying party: authorization code with PKCE, through
 * openid-client. Discovery happens on the first login (and again after a
 * failure), so the runner starts while the provider is down.
 */
import { errorText } from "../../core/error-text.js";
import * as client from "openid-client";
import { environmentError } from "../../core/errors.js";

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where the runner is reached from browsers: the callback is `${publicUrl}/auth/callback`. */
  publicUrl: string;
}

export interface LoginStart {
  url: string;
  state: string;
  nonce: string;
  verifier: string;
}

/** What the runner takes from the ID token. */
export interface OidcUser {
  /** The verified email, else the subject. */
  user: string;
  groups: string[];
}

export class OidcClient {
  private config: Promise<client.Configuration> | undefined;

  constructor(private readonly s: OidcSettings) {}

  get redirectUri(): string {
    return `${this.s.publicUrl.replace(/\/$/, "")}/auth/callback`;
  }

  async start(): Promise<LoginStart> {
    const config = await this.configuration();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: "openid email profile",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    return { url: url.href, state, nonce, verifier };
  }

  /** Exchanges the code of the callback URL; throws for anything wrong (state, nonce, signature). */
  async finish(
    callbackUrl: URL,
    login: { state: string; nonce: string; verifier: string },
  ): Promise<OidcUser> {
    const config = await this.configuration();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: login.verifier,
      expectedState: login.state,
      expectedNonce: login.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    const email =
      typeof claims.email === "string" && claims.email_verified === true ? claims.email : undefined;
    const groups = Array.isArray(claims.groups) ? claims.groups.filter((g) => typeof g === "string") : [];
    return { user: email ?? claims.sub, groups };
  }

  private configuration(): Promise<client.Configuration> {
    this.config ??= (async () => {
      const issuer = new URL(this.s.issuer);
      // Plain HTTP only for a provider on this machine (development and tests).
      const loopback = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(issuer.hostname);
      try {
        return await client.discovery(
          issuer,
          this.s.clientId,
          this.s.clientSecret,
          undefined,
          issuer.protocol === "http:" && loopback ? { execute: [client.allowInsecureRequests] } : undefined,
        );
      } catch (e) {
        this.config = undefined;
        throw environmentError(
          "auth.oidc-discovery",
          `cannot read the OpenID configuration of ${this.s.issuer}: ${errorText(e)}`,
          { hint: "check OPSC_OIDC_ISSUER and that the provider is reachable", cause: e },
        );
      }
    })();
    return this.config;
  }
}
