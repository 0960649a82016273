import type { CallbackOutcome } from "./oauth.js";
import { renderPage } from "./pages.js";

/** The page and HTTP status for a callback outcome. */
export function callbackPage(outcome: CallbackOutcome): { status: number; html: string } {
  switch (outcome.kind) {
    case "connected": {
      const who = outcome.account_label ? ` as ${outcome.account_label}` : "";
      return {
        status: 200,
        html: renderPage({
          tone: outcome.warning ? "warning" : "success",
          title: `Connected ${outcome.provider}`,
          heading: `Connected ${outcome.provider}${who}`,
          paragraphs: [`Connected ${outcome.provider}${who}. You can close this tab and return to your assistant.`, ...(outcome.warning ? [outcome.warning] : [])],
        }),
      };
    }
    case "denied":
      return {
        status: 200,
        html: renderPage({
          tone: "warning",
          title: `${outcome.provider} not connected`,
          heading: `${outcome.provider} was not connected`,
          paragraphs: [`You declined access at ${outcome.provider}, so nothing was connected.`, "You can close this tab. If that was a mistake, ask your assistant to start the connection again."],
        }),
      };
    case "failed":
      return {
        status: 502,
        html: renderPage({
          tone: "error",
          title: `${outcome.provider} connection failed`,
          heading: `Could not connect ${outcome.provider}`,
          paragraphs: [outcome.reason.replace(/^[a-z_]+: /, ""), "You can close this tab and ask your assistant to try again."],
        }),
      };
    case "refused":
      return {
        status: 400,
        html: renderPage({
          tone: "error",
          title: outcome.code === "state_expired" ? "Sign-in link expired" : "Sign-in link not valid",
          heading: outcome.code === "state_expired" ? "This sign-in link has expired" : "This sign-in link is not valid",
          paragraphs: [outcome.reason, "Nothing was changed. You can close this tab."],
        }),
      };
  }
}
