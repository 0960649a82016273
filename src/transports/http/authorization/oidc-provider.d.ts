// oidc-provider ships no types. The authorization server (provider.ts, next to this file)
// describes the few parts it uses with its own interfaces; this only lets the module be imported.
declare module "oidc-provider" {
  const Provider: unknown;
  export default Provider;
  export const errors: Record<string, unknown>;
}
