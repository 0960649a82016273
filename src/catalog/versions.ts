/**
 * API versions as dated data: the version each provider pins, the day it stops working, and the
 * per-connector version settings (`api_version`, `linkedin_version`) checked against the same
 * calendar, so a version cannot expire under a connection unnoticed.
 */
import { ConnectorError } from "../common/errors.js";
import type { Provider, VersionEnd } from "./catalog.js";

const DAY_MS = 86_400_000;

/** True once `ends` (YYYY-MM-DD, UTC) has begun. */
export function hasEnded(ends: string | null, nowMs: number): boolean {
  return ends !== null && nowMs >= Date.parse(`${ends}T00:00:00Z`);
}

/** Whole days from now until `ends` (negative once it has passed); null when no end is published. */
export function daysLeft(ends: string | null, nowMs: number): number | null {
  return ends === null ? null : Math.floor((Date.parse(`${ends}T00:00:00Z`) - nowMs) / DAY_MS);
}

/** The version a provider uses by default and when it ends, for list_providers; nulls for an unversioned API. */
export function pinnedVersion(provider: Provider): { api_version: string | null; api_version_ends: string | null } {
  const v = provider.def.api_versions[0];
  return { api_version: v?.version ?? null, api_version_ends: v?.ends ?? null };
}

/** A per-connector version setting whose version has ended: which one, and its calendar entry. */
export interface EndedVersion {
  setting: string;
  version: string;
  end: VersionEnd;
  /** The version this server would use instead. */
  current: string;
}

/** The first version setting in `settings` (limited to `keys` when given) whose version has ended. */
export function endedVersionSetting(
  provider: Provider,
  settings: Record<string, unknown>,
  nowMs: number,
  keys?: readonly string[],
): EndedVersion | undefined {
  for (const v of provider.def.api_versions) {
    if (!v.setting || (keys && !keys.includes(v.setting))) continue;
    const value = settings[v.setting];
    if (typeof value !== "string") continue;
    const end = v.endOf?.(value);
    if (end && hasEnded(end.ends, nowMs)) return { setting: v.setting, version: value, end, current: v.version };
  }
  return undefined;
}

/** The sentence for an ended version setting: what ended when, per which source, and what to do. */
export function endedVersionText(provider: Provider, e: EndedVersion): string {
  const how = e.end.confirmed ? "per" : "estimated from";
  return (
    `${e.setting} ${e.version} of the ${provider.def.name} API stopped working on ${e.end.ends} (${how} ${e.end.source}). ` +
    `Use a current version (this server uses ${e.current}) or leave the setting out (update_connector removes it with settings { "${e.setting}": null }).`
  );
}

/** Refuse settings that pick a version that has ended (`invalid_input`); `keys` limits the check to the settings being changed. */
export function checkVersionSettings(provider: Provider, settings: Record<string, unknown>, nowMs: number, keys?: readonly string[]): void {
  const ended = endedVersionSetting(provider, settings, nowMs, keys);
  if (ended) throw new ConnectorError("invalid_input", `Invalid settings for ${provider.def.name}: ${endedVersionText(provider, ended)}`);
}

/** Pinned versions (every provider's, and the versions a connector may not outlive) that end within `days` of now. */
export function versionsEndingWithin(
  providers: readonly Provider[],
  nowMs: number,
  days: number,
): Array<{ provider: string; version: string; ends: string; days_left: number }> {
  return providers.flatMap((p) =>
    p.def.api_versions.flatMap((v) => {
      const left = daysLeft(v.ends, nowMs);
      return v.ends !== null && left !== null && left <= days
        ? [{ provider: p.id, version: v.version, ends: v.ends, days_left: left }]
        : [];
    }),
  );
}
