import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { checkEndpoint, PROVIDER_IDS, type ProviderConfig, type ProviderId } from "../catalog/catalog.js";
import type { LogLevel } from "../common/log.js";
import { isPostgresUrl } from "../store/dialect.js";
import type { Limits } from "../store/quotas.js";

export interface Config {
  /** TENEX_DB: a SQLite file path, or a postgres:// URL (which may carry a password: never log it, see store/dialect.ts redactDatabaseTarget). */
  db_path: string;
  /** Folder for generated files (master key) next to the default database. */
  data_dir: string;
  /** Base64 32-byte key from TENEX_MASTER_KEY, or undefined to use/generate data/master.key. */
  master_key?: string | undefined;
  /** Retired keys still accepted for decryption (TENEX_MASTER_KEY_PREVIOUS, comma-separated base64). */
  previous_master_keys: string[];
  api_key?: string | undefined;
  /** Base64 32-byte key signing MCP 2026-07-28 requestState tokens (TENEX_STATE_KEY); else one generated into the database. */
  state_key?: string | undefined;
  callback_host: string;
  callback_port: number;
  public_url?: string | undefined;
  /** HTTP mode: extra host names accepted in Host and Origin headers (TENEX_ALLOWED_HOSTS, comma-separated). */
  allowed_hosts: string[];
  open_browser: boolean;
  log_level: LogLevel;
  /** How long a token refresh may hold a connector's lease before another process may take over (TENEX_REFRESH_LEASE_SECONDS, default 30). */
  refresh_lease_ms: number;
  /** Accept a group-writable database or master key file (TENEX_ALLOW_GROUP_WRITABLE=1), for volumes shared with a group on purpose. */
  allow_group_writable: boolean;
  /** HTTP mode: requests per second per API key (per workspace without one), burst 4×; 0 turns the limit off (TENEX_RATE_LIMIT, default 50). */
  rate_limit: number;
  /** HTTP mode: open MCP sessions per workspace (TENEX_MAX_SESSIONS_PER_WORKSPACE, default 100; the global cap is 1000). */
  max_sessions_per_workspace: number;
  /** Concurrent proxied calls per connector (TENEX_PROXY_CONCURRENCY, default 8); more wait in line, up to four times as many. */
  proxy_concurrency: number;
  /** The raw REST proxy's ceiling on one response's bytes (TENEX_PROXY_STREAM_MAX_BYTES, default 100 MiB). */
  proxy_stream_max_bytes: number;
  /** HTTP mode: single sign-on for members through an OpenID Connect issuer (TENEX_LOGIN_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET). */
  login_oidc?: LoginOidcConfig | undefined;
  /** HTTP mode: whether the connect page requires a signed-in member (TENEX_CONNECT_SIGNIN, default `required`). */
  connect_signin: "required" | "optional";
  /** Per-workspace quotas (TENEX_MAX_PENDING_GRANTS, default 200; TENEX_MAX_CONNECTORS, default 5,000). */
  limits: Limits;
  providers: Partial<Record<ProviderId, ProviderConfig>>;
}

export interface LoginOidcConfig {
  issuer: string;
  client_id: string;
  client_secret?: string | undefined;
}

const STANDARD = ["CLIENT_ID", "CLIENT_SECRET", "AUTHORIZATION_URL", "TOKEN_URL", "REVOCATION_URL", "API_BASE_URL"] as const;

/** The package folder (the one holding package.json), from this file's place in src/ or dist/src/. */
function packageDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

function writable(dir: string): boolean {
  // A folder not made yet is writable when its parent is.
  const target = fs.existsSync(dir) ? dir : path.dirname(dir);
  try {
    fs.accessSync(target, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The data folder when TENEX_DB is not set: the package's `data/` when this user can write it,
 * else `$XDG_DATA_HOME/tenex-connectors` (`~/.local/share/tenex-connectors`). Never relative to
 * the working directory: clients start servers from anywhere (often `/`).
 */
export function defaultDataDir(env: NodeJS.ProcessEnv, pkgDir = packageDir()): string {
  const own = path.join(pkgDir, "data");
  if (writable(own)) return own;
  const xdg =
    env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(env.HOME || os.homedir(), ".local", "share");
  return path.join(xdg, "tenex-connectors");
}

/** Read configuration from an environment. The only place that reads env variables. */
export function loadConfig(env: NodeJS.ProcessEnv, cwd = process.cwd()): Config {
  const postgres = env.TENEX_DB !== undefined && isPostgresUrl(env.TENEX_DB);
  const dataDir = env.TENEX_DB && !postgres ? undefined : defaultDataDir(env);
  const dbPath = env.TENEX_DB ? (postgres ? env.TENEX_DB : path.resolve(cwd, env.TENEX_DB)) : path.join(dataDir!, "tenex.db");
  const port = env.TENEX_CALLBACK_PORT ? Number(env.TENEX_CALLBACK_PORT) : 8765;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`TENEX_CALLBACK_PORT must be a port number (0-65535), got "${env.TENEX_CALLBACK_PORT}"`);
  }
  const level = (env.TENEX_LOG_LEVEL ?? "info") as LogLevel;
  if (!["debug", "info", "warn", "error"].includes(level)) throw new Error("TENEX_LOG_LEVEL must be debug, info, warn or error");
  const lease = env.TENEX_REFRESH_LEASE_SECONDS ? Number(env.TENEX_REFRESH_LEASE_SECONDS) : 30;
  if (!Number.isInteger(lease) || lease < 1 || lease > 600)
    throw new Error("TENEX_REFRESH_LEASE_SECONDS must be a whole number of seconds, 1-600");
  if (env.TENEX_PUBLIC_URL && !/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/i.test(env.TENEX_PUBLIC_URL)) {
    throw new Error(`TENEX_PUBLIC_URL must be an http(s) base URL such as https://connectors.example.com, got "${env.TENEX_PUBLIC_URL}"`);
  }
  const limits: Limits = {
    max_pending_grants: positiveInt(env, "TENEX_MAX_PENDING_GRANTS", 200),
    max_connectors: positiveInt(env, "TENEX_MAX_CONNECTORS", 5_000),
  };
  const providers = providerConfigs(env);
  const signin = env.TENEX_CONNECT_SIGNIN || "required";
  if (signin !== "required" && signin !== "optional") throw new Error(`TENEX_CONNECT_SIGNIN must be required or optional, got "${signin}"`);
  return {
    db_path: dbPath,
    data_dir: dataDir ?? path.dirname(dbPath),
    master_key: env.TENEX_MASTER_KEY || undefined,
    previous_master_keys: list(env.TENEX_MASTER_KEY_PREVIOUS),
    api_key: env.TENEX_API_KEY || undefined,
    state_key: env.TENEX_STATE_KEY || undefined,
    callback_host: env.TENEX_CALLBACK_HOST || "127.0.0.1",
    callback_port: port,
    public_url: env.TENEX_PUBLIC_URL ? env.TENEX_PUBLIC_URL.replace(/\/+$/, "") : undefined,
    allowed_hosts: list(env.TENEX_ALLOWED_HOSTS),
    open_browser: env.TENEX_OPEN_BROWSER === "1" || env.TENEX_OPEN_BROWSER === "true",
    log_level: level,
    refresh_lease_ms: lease * 1000,
    allow_group_writable: env.TENEX_ALLOW_GROUP_WRITABLE === "1" || env.TENEX_ALLOW_GROUP_WRITABLE === "true",
    limits,
    login_oidc: loginOidc(env),
    connect_signin: signin,
    rate_limit: rateLimit(env),
    max_sessions_per_workspace: positiveInt(env, "TENEX_MAX_SESSIONS_PER_WORKSPACE", 100),
    proxy_concurrency: positiveInt(env, "TENEX_PROXY_CONCURRENCY", 8),
    proxy_stream_max_bytes: positiveInt(env, "TENEX_PROXY_STREAM_MAX_BYTES", 100 * 1024 * 1024),
    providers,
  };
}

/** Single sign-on for members: all of issuer and client id, or none; plain http only for loopback issuers. */
function loginOidc(env: NodeJS.ProcessEnv): LoginOidcConfig | undefined {
  const issuer = env.TENEX_LOGIN_OIDC_ISSUER || undefined;
  const clientId = env.TENEX_LOGIN_OIDC_CLIENT_ID || undefined;
  if (!issuer && !clientId) return undefined;
  if (!issuer || !clientId)
    throw new Error(
      "TENEX_LOGIN_OIDC_ISSUER and TENEX_LOGIN_OIDC_CLIENT_ID are set together (and TENEX_LOGIN_OIDC_CLIENT_SECRET for a confidential client)",
    );
  checkEndpoint(issuer, "TENEX_LOGIN_OIDC_ISSUER");
  return { issuer, client_id: clientId, client_secret: env.TENEX_LOGIN_OIDC_CLIENT_SECRET || undefined };
}

/** A comma-separated list from the environment, without blanks. */
function list(raw: string | undefined): string[] {
  return (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** OAuth app credentials, endpoint overrides and extra values per provider (`TENEX_<P>_…`). */
function providerConfigs(env: NodeJS.ProcessEnv): Partial<Record<ProviderId, ProviderConfig>> {
  const providers: Partial<Record<ProviderId, ProviderConfig>> = {};
  for (const id of PROVIDER_IDS) {
    const prefix = `TENEX_${id.toUpperCase()}_`;
    const extra: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) {
      if (!k.startsWith(prefix) || v === undefined || v === "") continue;
      const name = k.slice(prefix.length);
      if (!(STANDARD as readonly string[]).includes(name)) extra[name] = v;
    }
    const get = (n: (typeof STANDARD)[number]) => (env[prefix + n] ? env[prefix + n] : undefined);
    providers[id] = {
      client_id: get("CLIENT_ID"),
      client_secret: get("CLIENT_SECRET"),
      authorization_url: get("AUTHORIZATION_URL"),
      token_url: get("TOKEN_URL"),
      revocation_url: get("REVOCATION_URL"),
      api_base_url: get("API_BASE_URL"),
      extra,
    };
  }
  return providers;
}

/** A whole number of at least 1 from the environment, or the default when unset. */
function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, got "${raw}"`);
  return n;
}

/** TENEX_RATE_LIMIT: requests per second, a number of at least 0 (0: no limit); default 50. */
function rateLimit(env: NodeJS.ProcessEnv): number {
  const raw = env.TENEX_RATE_LIMIT;
  if (raw === undefined || raw === "") return 50;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`TENEX_RATE_LIMIT must be a number of requests per second, at least 0 (0 turns the limit off), got "${raw}"`);
  return n;
}
