import type { ToolDefinition } from "../src/tool.js";
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

/** The flat registry: every MCP tool this server offers. */
export const tools: ToolDefinition[] = [
  list_providers,
  list_connectors,
  start_connector_oauth,
  get_connector_status,
  submit_connector_key,
  update_connector,
  set_primary_connector,
  resolve_connector,
  test_connector,
  refresh_connector,
  revoke_connector,
  disable_connector,
  enable_connector,
  delete_connector,
  wait_for_connector,
] as unknown as ToolDefinition[];
