/** Environment variables a Git token for HTTPS remotes is read from, first set wins. Apart from remote-auth so masking can name them without loading Git. */
export const TOKEN_VARIABLES = ["OPSC_GIT_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"] as const;
