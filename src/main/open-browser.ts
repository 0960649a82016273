import { spawn } from "node:child_process";
import type { Logger } from "../common/log.js";

export interface OpenCommand {
  command: string;
  args: string[];
}

/**
 * The command that opens `url` in the person's default browser on `platform`. On Windows,
 * `cmd /c start` would cut the URL at its first `&`, so the URL handler is called directly.
 * Only http(s) URLs are opened: a URL never reaches a shell.
 */
export function browserCommand(url: string, platform: NodeJS.Platform): OpenCommand {
  const u = new URL(url);
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error(`refusing to open a ${u.protocol} URL in the browser`);
  switch (platform) {
    case "darwin":
      return { command: "open", args: [u.href] };
    case "win32":
      return { command: "rundll32", args: ["url.dll,FileProtocolHandler", u.href] };
    default:
      return { command: "xdg-open", args: [u.href] };
  }
}

/**
 * Open `url` in the default browser without waiting: the opener runs detached with no stdio
 * (stdout belongs to JSON-RPC), and a failure is only logged (the URL is in the tool result).
 */
export function openInBrowser(url: string, log: Logger, platform: NodeJS.Platform = process.platform): void {
  let cmd: OpenCommand;
  try {
    cmd = browserCommand(url, platform);
  } catch (err) {
    log.warn("not opening the browser", { error: err });
    return;
  }
  try {
    const child = spawn(cmd.command, cmd.args, { detached: true, stdio: "ignore", windowsHide: true });
    child.once("error", (err) =>
      log.warn(`could not open the browser with ${cmd.command}; the authorization URL is in the tool result`, { error: err }),
    );
    // Success is only known when the opener says so: xdg-open without a desktop exits non-zero.
    child.once("exit", (code) => {
      if (code) log.warn(`${cmd.command} exited with code ${code}; the authorization URL is in the tool result`);
      else log.info("opened the authorization URL in the default browser", { command: cmd.command });
    });
    child.unref();
  } catch (err) {
    log.warn(`could not open the browser with ${cmd.command}; the authorization URL is in the tool result`, { error: err });
  }
}
