import type { ToolDefinition } from "../src/tool.js";
import get_connector_status from "./get_connector_status.js";
import list_connectors from "./list_connectors.js";
import list_providers from "./list_providers.js";
import start_connector_oauth from "./start_connector_oauth.js";
import wait_for_connector from "./wait_for_connector.js";

/** The flat registry: every MCP tool this server offers. */
export const tools: ToolDefinition[] = [list_providers, list_connectors, start_connector_oauth, get_connector_status, wait_for_connector] as unknown as ToolDefinition[];
