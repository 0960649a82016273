/**
 * Who may use a connect link in HTTP mode (DESIGN.md "People"): a signed-in member of the
 * connector's workspace. Not signed in: to /login, and back (the detour does not use the link
 * up). A member of another workspace: a refusal page, and nothing changes. A workspace without
 * members: a page saying an operator must add one. With TENEX_CONNECT_SIGNIN=optional anyone
 * holding the link may continue after the page (the browser binding still holds).
 */
import type http from "node:http";
import { hasMembers } from "../../store/members.js";
import type { ConnectGate } from "../callback/connect-page.js";
import { renderPage } from "../callback/html.js";
import { redirect, sendPage } from "./pages.js";
import { LOGIN_PATH, LOGOUT_PATH, type SignIn } from "./signin.js";

export type ConnectSignIn = "required" | "optional";

export function memberGate(signIn: SignIn, db: Parameters<typeof hasMembers>[0], mode: ConnectSignIn): ConnectGate {
  return {
    async check(req: http.IncomingMessage, res: http.ServerResponse, view, path) {
      if (mode === "optional") return "ok";
      const member = await signIn.member(req);
      if (member?.workspace_id === view.workspace_id) return "ok";
      if (member) {
        sendPage(
          res,
          403,
          renderPage({
            tone: "error",
            title: "Not your workspace",
            heading: "This link belongs to another workspace",
            paragraphs: [
              `You are signed in as ${member.email} in the workspace "${member.workspace_name}", but this ${view.provider} connection is for the workspace "${view.workspace_name}". Nothing was changed.`,
            ],
            next: [`If you are also a member of "${view.workspace_name}", sign out and sign in to it.`, "Otherwise, close this tab."],
            forms: `<p><a href="${LOGOUT_PATH}">Sign out</a></p>`,
          }),
        );
        return "answered";
      }
      if (!(await hasMembers(db, view.workspace_id))) {
        sendPage(
          res,
          403,
          renderPage({
            tone: "error",
            title: "No members yet",
            heading: "Nobody can approve this connection yet",
            paragraphs: [
              `The workspace "${view.workspace_name}" has no members, and only a signed-in member may connect an account to it. Nothing was changed.`,
            ],
            next: [
              `Ask the server's operator to add you: tenex-connectors members add --workspace ${view.workspace_name} --email YOU --password-stdin`,
              "Then open this link again (it lasts 10 minutes from when your assistant made it).",
            ],
          }),
        );
        return "answered";
      }
      redirect(res, `${LOGIN_PATH}?return_to=${encodeURIComponent(path)}`);
      return "answered";
    },
  };
}
