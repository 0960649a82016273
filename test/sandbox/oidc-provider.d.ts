// oidc-provider 9 ships no type declarations; the sandbox only needs it loosely typed.
declare module "oidc-provider" {
  const Provider: any;
  export default Provider;
  export const Provider: any;
  export const errors: any;
  export const interactionPolicy: any;
}
