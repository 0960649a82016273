import { EventEmitter } from "node:events";

/** Emitted whenever a connector's status changes in this process. */
export interface ConnectorChange {
  workspace_id: string;
  connector_id: string;
  status: string;
}

export class ConnectorEvents extends EventEmitter<{ change: [ConnectorChange] }> {}
