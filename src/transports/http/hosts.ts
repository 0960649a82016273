import { isLoopbackHost } from "../../catalog/catalog.js";

/**
 * DNS-rebinding protection: the Host header (and the Origin header, when a browser sends
 * one) must name a host this server is known by. Port-agnostic, like the SDK's own
 * hostHeaderValidation: a rebinding attack changes the name, not the port.
 */
export class HostAllowList {
  private readonly names: Set<string>;

  constructor(names: Iterable<string>) {
    this.names = new Set([...names].map(normalizeHostName).filter((n): n is string => Boolean(n)));
  }

  /** Loopback names, the host of the public URL, the configured extra hosts, and a specific bind address. */
  static forServer(opts: { publicUrl?: string | undefined; allowedHosts?: string[]; bindHost?: string }): HostAllowList {
    const names = ["localhost", "127.0.0.1", "::1", ...(opts.allowedHosts ?? [])];
    if (opts.publicUrl) names.push(opts.publicUrl);
    if (opts.bindHost && !["0.0.0.0", "::", ""].includes(opts.bindHost)) names.push(opts.bindHost);
    return new HostAllowList(names);
  }

  list(): string[] {
    return [...this.names];
  }

  allowsName(hostname: string): boolean {
    const h = normalizeHostName(hostname);
    if (!h) return false;
    return this.names.has(h) || isLoopbackHost(h);
  }

  /** A Host header value such as `example.com:8080` or `[::1]:3000`. */
  allowsHostHeader(value: string | undefined): boolean {
    // A Host header is a name or address and an optional port: nothing else is parsed.
    if (!value || !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(value)) return false;
    const h = hostOf(`http://${value}`);
    return h !== null && this.allowsName(h);
  }

  /** An absent Origin is fine (not a browser); `null` or a foreign origin is not. */
  allowsOrigin(value: string | undefined): boolean {
    if (value === undefined) return true;
    const h = hostOf(value);
    return h !== null && this.allowsName(h);
  }
}

function hostOf(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") return null;
    if (u.username || u.password || (u.pathname !== "/" && u.pathname !== "")) return null;
    return u.hostname;
  } catch {
    return null;
  }
}

/** `Example.COM:8080`, `https://example.com/`, `[::1]` → `example.com`, `::1`. */
export function normalizeHostName(entry: string): string | null {
  const raw = entry.trim().toLowerCase();
  if (!raw) return null;
  if (/^[0-9a-f:]+$/.test(raw) && raw.includes(":") && raw.split(":").length > 2) return raw; // bare IPv6
  try {
    const u = new URL(raw.includes("://") ? raw : `http://${raw}`);
    return u.hostname.replace(/^\[|\]$/g, "") || null;
  } catch {
    return null;
  }
}
