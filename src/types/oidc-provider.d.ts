// oidc-provider ships no types. The authorization server (transports/http/authorization/provider.ts)
// describes the few parts it uses with its own interfaces; this only lets the module be imported.
declare module "oidc-provider" {
  const Provider: unknown;
  export default Provider;
  export const errors: Record<string, unknown>;
}
