/**
 * Sanity (CMS). BYOK only: a project API token ("robot" token) sent as a Bearer token. Sanity's OAuth is an
 * experimental partner programme, and its remote MCP server is a different product, so neither is offered here.
 * Redirect URI: none (no OAuth).
 * Token role instead of scopes: Viewer to read, Editor (or Developer) to read and write drafts and documents.
 * Create the token (Manage → project → API → Tokens, or `sanity tokens add --role=editor`): https://www.sanity.io/manage
 * Quirks: the API host is per project (`https://{project_id}.api.sanity.io`), so project_id and dataset are
 * required settings; API versions are dates (`vYYYY-MM-DD`) and should be pinned. `GET /projects` on the global
 * host refuses project-scoped robot tokens, so the test read is a one-document GROQ query on the dataset.
 * Robot tokens have no documented expiry (treated as valid until deleted).
 * API version: the dated v2025-02-19 (overridable per connector with `api_version`); Sanity serves every dated
 * version and announces no end for them.
 */
import { z } from "zod";
import { type ConnectionView, defineProvider } from "../src/catalog/catalog.js";

const DEFAULT_API_VERSION = "v2025-02-19";
const PROJECT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/i;
const DATASET = /^~?[a-z0-9][-\w]{0,63}$/;
const API_VERSION = /^v\d{4}-\d{2}-\d{2}$/;

const setting = (c: ConnectionView, key: string, pattern: RegExp): string | null => {
  const v = c.settings[key];
  return typeof v === "string" && pattern.test(v) ? v : null;
};

export default defineProvider({
  id: "sanity",
  name: "Sanity",
  docs_url: "https://www.sanity.io/manage",
  setup:
    "No app: a project API token (Manage \u2192 project \u2192 API \u2192 Tokens) with the Viewer or Editor role, plus `project_id` and `dataset`.",
  auth_types: ["api_key"],
  roles: ["source", "sink"],
  api_key: {
    label: "Sanity project API token (robot token with the Viewer or Editor role)",
    required_settings: ["project_id", "dataset"],
  },
  api: {
    base_url: "https://api.sanity.io",
    docs_url: "https://www.sanity.io/docs/http-reference",
    // The project host ({project_id}.api.sanity.io) is the base (hooks.apiBaseUrl); the global host serves project-wide reads.
    extra_origins: ["https://api.sanity.io"],
  },
  settings: z
    .object({
      project_id: z.string().regex(PROJECT_ID, "letters, digits and dashes").describe("Sanity project ID (Manage → project → Project ID)"),
      dataset: z
        .string()
        .regex(DATASET, "lower-case letters, digits, underscores and dashes, at most 64 characters")
        .describe("Dataset to read from and write to (e.g. production)"),
      api_version: z
        .string()
        .regex(API_VERSION, "a dated version such as v2025-02-19")
        .describe(`Pinned API version date, vYYYY-MM-DD; default ${DEFAULT_API_VERSION}`)
        .optional(),
      perspective: z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,128}$/, "published, drafts, raw or a release ID")
        .describe("Query perspective: published, drafts, raw, or a release ID")
        .optional(),
    })
    .strict(),
  api_versions: [
    {
      version: DEFAULT_API_VERSION,
      ends: null,
      source: "https://www.sanity.io/docs/api-versioning (dated versions; no end announced)",
      confirmed: false,
      setting: "api_version",
    },
  ],
  test: {
    path: (c) => {
      const version = setting(c, "api_version", API_VERSION) ?? DEFAULT_API_VERSION;
      const dataset = setting(c, "dataset", DATASET) ?? "";
      return `/${version}/data/query/${encodeURIComponent(dataset)}?query=${encodeURIComponent("*[0]{_id}")}`;
    },
    account_fields: { project_id: "id", dataset: "id", api_version: "id" },
  },
  hooks: {
    apiBaseUrl: (c) => {
      const project = setting(c, "project_id", PROJECT_ID);
      return project ? `https://${project.toLowerCase()}.api.sanity.io` : "https://api.sanity.io";
    },
    extraApiOrigins: (c) => {
      const project = setting(c, "project_id", PROJECT_ID);
      return project ? [`https://${project.toLowerCase()}.apicdn.sanity.io`] : [];
    },
    accountFromTestRead: (_body, c) => ({
      project_id: setting(c, "project_id", PROJECT_ID),
      dataset: setting(c, "dataset", DATASET),
      api_version: setting(c, "api_version", API_VERSION) ?? DEFAULT_API_VERSION,
    }),
  },
});
