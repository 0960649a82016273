// Types of scripts/pg-cluster.mjs, for the bench (TypeScript).
export interface Cluster {
  /** The admin URL: postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  version: string;
  stop(): void;
}
export function findPgBin(): string | undefined;
export function freePort(): Promise<number>;
export function startCluster(pgBin: string): Promise<Cluster>;
