import type { z } from "zod";
import type { AnyToolDefinition, ToolDefinition } from "../src/transports/tool.js";
import call_connector from "./call_connector.js";
import delete_connector from "./delete_connector.js";
import disable_connector from "./disable_connector.js";
import enable_connector from "./enable_connector.js";
import get_connector_status from "./get_connector_status.js";
import list_connectors from "./list_connectors.js";
import list_providers from "./list_providers.js";
import refresh_connector from "./refresh_connector.js";
import resolve_connector from "./resolve_connector.js";
import revoke_connector from "./revoke_connector.js";
import set_primary_connector from "./set_primary_connector.js";
import start_connector_oauth from "./start_connector_oauth.js";
import submit_connector_key from "./submit_connector_key.js";
import test_connector from "./test_connector.js";
import update_connector from "./update_connector.js";
import wait_for_connector from "./wait_for_connector.js";

/**
 * The registry, by name: every MCP tool this server offers. The object keeps each tool's own input
 * and output types (ToolName, ToolInput, ToolOutput); `tools` is the same list in listing order.
 */
export const toolRegistry = {
  list_providers,
  list_connectors,
  start_connector_oauth,
  get_connector_status,
  submit_connector_key,
  update_connector,
  set_primary_connector,
  resolve_connector,
  call_connector,
  test_connector,
  refresh_connector,
  revoke_connector,
  disable_connector,
  enable_connector,
  delete_connector,
  wait_for_connector,
} as const satisfies Record<string, AnyToolDefinition>;

export type ToolName = keyof typeof toolRegistry;
export type ToolInput<N extends ToolName> = z.input<(typeof toolRegistry)[N]["inputSchema"]>;
export type ToolOutput<N extends ToolName> = z.output<(typeof toolRegistry)[N]["outputSchema"]>;

export const tools: ToolDefinition[] = Object.values(toolRegistry);
