import type { CallbackOutcome } from "../../grants/callback.js";
import { grantTtlText } from "../../store/grants.js";
import { renderPage } from "./html.js";

const BACK = "Go back to your assistant (Claude, your IDE, or the app you were using): it sees the result on its own.";

type Page = { status: number; html: string };

function connectedPage(outcome: Extract<CallbackOutcome, { kind: "connected" }>): Page {
  const who = outcome.account_label ? ` as ${outcome.account_label}` : "";
  return {
    status: 200,
    html: renderPage({
      tone: outcome.warning ? "warning" : "success",
      title: `Connected ${outcome.provider}`,
      heading: `Connected ${outcome.provider}${who}`,
      paragraphs: [
        `Your assistant can use this ${outcome.provider} account now. Its tokens are stored encrypted by tenex-connectors and never shown.`,
        ...(outcome.warning ? [outcome.warning] : []),
      ],
      facts: [
        ["Provider", outcome.provider],
        ["Account", outcome.account_label ?? "connected (no account name reported)"],
        ["Connection", outcome.connector.label],
      ],
      next: ["Close this tab.", BACK],
    }),
  };
}

function deniedPage(outcome: Extract<CallbackOutcome, { kind: "denied" }>): Page {
  return {
    status: 200,
    html: renderPage({
      tone: "warning",
      title: `${outcome.provider} not connected`,
      heading: `${outcome.provider} was not connected`,
      paragraphs: [`You declined access at ${outcome.provider}, so nothing was connected and nothing was stored.`],
      facts: [["Provider", outcome.provider]],
      next: ["Close this tab.", "If that was a mistake, ask your assistant to start the connection again; you will get a new link."],
    }),
  };
}

function failedPage(outcome: Extract<CallbackOutcome, { kind: "failed" }>): Page {
  return {
    status: 502,
    html: renderPage({
      tone: "error",
      title: `${outcome.provider} connection failed`,
      heading: `Could not connect ${outcome.provider}`,
      paragraphs: [outcome.reason],
      facts: [["Provider", outcome.provider]],
      next: [
        "Close this tab.",
        "Ask your assistant to try again; if it keeps failing, the server's operator can find the details in its log.",
      ],
    }),
  };
}

function cancelledPage(outcome: Extract<CallbackOutcome, { kind: "cancelled" }>): Page {
  const revoked =
    outcome.provider_revocation === "revoked"
      ? `The access you just granted was revoked at ${outcome.provider} again.`
      : outcome.provider_revocation === "not_needed"
        ? "No access was kept."
        : `The access you just granted could not be revoked automatically; you can remove this app's access in your ${outcome.provider} account settings.`;
  return {
    status: 409,
    html: renderPage({
      tone: "warning",
      title: `${outcome.provider} connection cancelled`,
      heading: `${outcome.provider} was not connected`,
      paragraphs: [
        `This connection was cancelled (revoked, disabled or deleted) while you were signing in, so nothing was connected and nothing was stored.`,
        revoked,
      ],
      facts: [["Provider", outcome.provider]],
      next: ["Close this tab.", "If you still want to connect, ask your assistant to start the connection again; you will get a new link."],
    }),
  };
}

function refusedPage(outcome: Extract<CallbackOutcome, { kind: "refused" }>): Page {
  const expired = outcome.code === "state_expired";
  return {
    status: 400,
    html: renderPage({
      tone: "error",
      title: expired ? "Sign-in link expired" : "Sign-in link not valid",
      heading: expired
        ? `This ${outcome.provider ? `${outcome.provider} ` : ""}sign-in link has expired`
        : "This sign-in link is not valid",
      paragraphs: [outcome.reason, "Nothing was changed."],
      ...(outcome.provider ? { facts: [["Provider", outcome.provider]] as Array<[string, string]> } : {}),
      next: [
        "Close this tab.",
        expired ? `Ask your assistant to start the connection again; you will get a new link that works for ${grantTtlText()}.` : BACK,
      ],
    }),
  };
}

/** The page and HTTP status for a callback outcome. */
export function callbackPage(outcome: CallbackOutcome): Page {
  switch (outcome.kind) {
    case "connected":
      return connectedPage(outcome);
    case "denied":
      return deniedPage(outcome);
    case "failed":
      return failedPage(outcome);
    case "cancelled":
      return cancelledPage(outcome);
    case "refused":
      return refusedPage(outcome);
  }
}
